"""A stream is complete only when everything it must emit was written (issue 18, defect 2).

Records, BATCH files and their BATCH message come first; only then, and only for a stream
that ended complete, ACTIVATE_VERSION, its bookmarks and settled marks, and "done" in the
resume position. The end of a stream is a step of its own (issue 23, knot 2), after the SDK
wrote what the stream read, never the tail of a generator. An output error fails the stream
and the run: exit 1, one line, nothing activated, nothing marked.
"""

from __future__ import annotations

import gzip
import json
import re
import typing as t
from urllib.parse import urlparse

import pytest

from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import PRIMARY_KEYS, catalog_selecting, check_singer, run_tap

pytestmark = pytest.mark.slow  # whole syncs with BATCH files: `make test`, not `make test-fast`

if t.TYPE_CHECKING:
    from pathlib import Path

STREAMS = ("users", "group_members", "user_risk_score_history", "account_risk_score_history")


def batch_config(root: Path, size: int = 10_000) -> dict:
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{root}", "prefix": "batch-"},
        "batch_size": size,
    }


def read_batch(message: dict) -> list[dict]:
    """The records of the files a BATCH message names."""
    records: list[dict] = []
    for url in message["manifest"]:
        with gzip.open(urlparse(url).path, "rt") as file:
            records.extend(json.loads(line) for line in file if line.strip())
    return records


def unwritable_root(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return blocker / "batches"  # a directory under a file: NotADirectoryError


def _keys(records: t.Iterable[dict], stream: str) -> set[tuple]:
    return {tuple(r[k] for k in PRIMARY_KEYS[stream]) for r in records}


def test_a_batch_file_that_cannot_be_written_activates_nothing_and_marks_nothing(tmp_path):
    """Defect 2 as reported: ACTIVATE_VERSION went out, then NotADirectoryError; the summary
    said "users complete", the state listed users as done, and the next run skipped them."""
    catalog = catalog_selecting(STREAMS)
    with sandbox() as sb:
        config = tap_config(sb, emit_activate_version_messages=True, budget_ledger=False)
        broken = {**config, "batch_config": batch_config(unwritable_root(tmp_path))}
        first = run_cli(tmp_path, broken, catalog=catalog)
        assert not [m for m in first.messages if m["type"] in ("ACTIVATE_VERSION", "BATCH")]
        own = first.final_state["tap_knowbe4"]
        assert not own["interrupted"]["streams_done"]
        assert not own["interrupted"]["parents_done"]
        assert not own["streams"]  # no bookmark moved: nothing was written
        summary = first.stderr[first.stderr.index("Run summary") :]
        assert not re.search(r"\n\w+ +complete ", summary), summary
        line = first.assert_one_clear_line(code=1)
        assert "BATCH file" in line
        assert "batch_config" in line

        out = tmp_path / "out"
        fixed = {**config, "batch_config": batch_config(out)}
        second = run_cli(tmp_path, fixed, catalog=catalog, state=first.final_state)
        assert second.returncode == 0, second.stderr[-3000:]
        for stream in STREAMS:
            batches = [m for m in second.messages if m["type"] == "BATCH" and m["stream"] == stream]
            written = [r for m in batches for r in read_batch(m)]
            assert _keys(written, stream) == _keys(expected_records(sb.org, stream), stream)
    # none with BATCH files at all (attack 5 #4: test_no_activate_version_goes_out_with_...)
    assert not [m for m in second.messages if m["type"] == "ACTIVATE_VERSION"]


def test_no_activate_version_goes_out_with_batch_files(tmp_path):
    """The SDK sent ACTIVATE_VERSION of a top-level stream before the BATCH message of its
    records; then the tap sent it after (a run that failed halfway deleted nothing). But rows
    loaded from BATCH files carry no table version, and target-postgres deletes the rows
    without one on ACTIVATE_VERSION: every row the files loaded (attack 5 #4). With
    ``batch_config`` no ACTIVATE_VERSION goes out (one line says so: test_attack_regressions_5)."""
    with sandbox() as sb:
        config = tap_config(
            sb, emit_activate_version_messages=True, batch_config=batch_config(tmp_path)
        )
        run = run_tap(config, streams=STREAMS)
    assert run.error is None, run.error
    check_singer(run)
    for stream in ("users", "group_members"):
        kinds = [m["type"] for m in run.messages if m.get("stream") == stream]
        assert kinds[-1] == "BATCH", (stream, kinds)
        assert kinds.count("BATCH") == 1
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


def test_a_child_stream_whose_batch_cannot_be_written_fails_before_any_mark(tmp_path):
    """The children's records wait in memory for their batch; a parent they belong to is
    not marked done, nor their risk bookmarks moved, until the file holding them exists."""
    streams = ("group_members", "user_risk_score_history")
    with sandbox() as sb:
        config = tap_config(
            sb,
            budget_ledger=False,
            batch_config=batch_config(unwritable_root(tmp_path), size=7),
        )
        result = run_cli(tmp_path, config, catalog=catalog_selecting(streams))
    line = result.assert_one_clear_line(code=1)
    assert "could not be written to a BATCH file" in line
    own = result.final_state["tap_knowbe4"]
    assert not own["interrupted"]["parents_done"]
    assert not own["streams"]
    assert not own["interrupted"]["streams_done"]


def _claims_hold(messages: list[dict], truth: dict[str, list[dict]]) -> int:
    """Every STATE claims only records already in a BATCH file announced before it.

    A fan-out position "every parent up to N is done" claims every child record of those
    parents; a risk bookmark claims the owner's points up to its date. Returns how many
    STATE messages made a claim.
    """
    written: dict[str, set[tuple]] = {}
    claiming = 0
    for message in messages:
        if message["type"] == "BATCH":
            written.setdefault(message["stream"], set()).update(
                _keys(read_batch(message), message["stream"])
            )
        if message["type"] != "STATE":
            continue
        own = message["value"]["tap_knowbe4"]
        done = (own.get("interrupted") or {}).get("parents_done", {})
        parent_of = {"group_members": "user_id", "user_risk_score_history": "user_id"}
        for stream, through in done.items():
            claimed = [r for r in truth[stream] if r[parent_of[stream]] <= through]
            missing = _keys(claimed, stream) - written.get(stream, set())
            assert not missing, (stream, through, sorted(missing)[:3])
            claiming += bool(claimed)
        dates = own["streams"].get("user_risk_score_history", {}).get("dates", {})
        for day, owners in dates.items():
            ids = {int(i) for i in _expand(owners)}
            claimed = [
                r
                for r in truth["user_risk_score_history"]
                if r["user_id"] in ids and r["date"] <= day
            ]
            missing = _keys(claimed, "user_risk_score_history") - written.get(
                "user_risk_score_history", set()
            )
            assert not missing, (day, sorted(missing)[:3])
            claiming += bool(claimed)
    return claiming


def _expand(ranges: str) -> t.Iterator[int]:
    for part in filter(None, ranges.split(",")):
        low, _, high = part.partition("-")
        yield from range(int(low), int(high or low) + 1)


def test_a_state_never_claims_records_still_waiting_for_their_batch(tmp_path):
    """Sibling of defect 2: with BATCH on, one child stream's batch (and the STATE after it)
    went out while another child's finished parents were still only in memory: killed then,
    the next run skipped those parents. A run stopped by its cap checks every STATE."""
    streams = ("users", "group_members", "user_risk_score_history")
    with sandbox() as sb:
        config = tap_config(sb, batch_config=batch_config(tmp_path, size=7))
        run = run_tap({**config, "max_requests_per_run": 30}, streams=streams)
        truth = {s: expected_records(sb.org, s) for s in streams}
    assert run.error is None, run.error
    assert run.final_state["tap_knowbe4"]["interrupted"]["parents_done"]
    assert _claims_hold(run.messages, truth) >= 2
