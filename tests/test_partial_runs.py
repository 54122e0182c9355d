"""A partial run never looks complete: not to the target, the orchestrator or the next run.

ACTIVATE_VERSION tells a version-aware target to delete every row not re-sent; it may only
follow a full-table stream that was read completely in this run. A fan-out parent is marked
done (settled, bookmarked) only when its children were read to the end.
"""

from __future__ import annotations

import re

import pytest

from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import endpoint_table, expected_records
from tests.singer_output import ALL_STREAMS, catalog_selecting, check_singer, run_tap
from tests.test_full_sync import KEYS

FULL_TABLE = [e.name for e in endpoint_table().values() if not e.incremental]
INCREMENTAL = [e.name for e in endpoint_table().values() if e.incremental]


def activated(run) -> list[str]:
    return [m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


def assert_activation_follows_every_record(run) -> None:
    """Each ACTIVATE_VERSION comes once, after the stream's last RECORD, same version."""
    last_record: dict[str, int] = {}
    versions: dict[str, set] = {}
    for index, message in enumerate(run.messages):
        if message["type"] == "RECORD":
            last_record[message["stream"]] = index
            versions.setdefault(message["stream"], set()).add(message.get("version"))
    for index, message in enumerate(run.messages):
        if message["type"] == "ACTIVATE_VERSION":
            stream = message["stream"]
            assert index > last_record.get(stream, -1), stream
            assert versions.get(stream, {message["version"]}) == {message["version"]}, stream
    assert len(activated(run)) == len(set(activated(run)))


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_a_complete_run_activates_every_full_table_stream_after_its_records():
    with sandbox() as sb:
        run = run_tap(tap_config(sb, emit_activate_version_messages=True))
    assert run.error is None
    check_singer(run)
    assert_activation_follows_every_record(run)
    assert sorted(activated(run)) == sorted(FULL_TABLE)
    assert not set(activated(run)) & set(INCREMENTAL)


@pytest.mark.parametrize(  # one variant in `make test-fast`, every variant in `make test`
    "cap", [pytest.param(3, marks=pytest.mark.slow), 12, pytest.param(40, marks=pytest.mark.slow)]
)
def test_a_run_stopped_by_the_budget_activates_only_what_it_finished(cap):
    with sandbox() as sb:
        config = tap_config(sb, emit_activate_version_messages=True, max_requests_per_run=cap)
        run = run_tap(config)
    assert run.error is None  # a clean stop: exit 0
    check_singer(run)
    assert_activation_follows_every_record(run)
    report = run.tap.run.report
    finished = {n for n, r in report.streams.items() if r.final.value == "complete"}
    assert set(activated(run)) <= finished
    unfinished = set(ALL_STREAMS) - finished
    assert unfinished, "the cap must stop the run"
    assert not set(activated(run)) & unfinished
    assert run.final_state["tap_knowbe4"]["interrupted"] is not None


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_a_forbidden_stream_and_an_exhausted_one_are_not_activated():
    with sandbox(forbidden_prefixes=("/v1/training/policies",)) as sb:
        sb.inject("503", path_prefix="/v1/training/store_purchases", count=99)
        config = tap_config(sb, emit_activate_version_messages=True, max_retries=1)
        run = run_tap(config)
    check_singer(run)
    assert "store_purchases" in str(run.error)  # retries exhausted: exit 1
    assert "policies" not in activated(run)
    assert "store_purchases" not in activated(run)
    assert_activation_follows_every_record(run)


@pytest.mark.parametrize(  # one variant in `make test-fast`, every variant in `make test`
    "fault",
    [
        pytest.param("404", marks=pytest.mark.slow),
        pytest.param("403", marks=pytest.mark.slow),
        "503",
    ],
)
def test_a_parent_whose_children_failed_is_not_settled(fault):
    streams = ["phishing_security_tests", "phishing_security_test_recipients"]
    with sandbox() as sb:
        closed = [
            p
            for p in sb.org.security_tests()
            if p["status"] == "Closed" and p.get("scheduled_count") is not None
        ]
        target = closed[0]["pst_id"]
        sb.inject(fault, path_prefix=f"/v1/phishing/security_tests/{target}/", count=9)
        # (no wait before the retry: what is checked is the state, not the backoff)
        first = run_tap(tap_config(sb, max_retries=1, max_retry_wait_seconds=0), streams=streams)
        settled = (
            first.final_state["tap_knowbe4"]["streams"]
            .get("phishing_security_test_recipients", {})
            .get("settled", {})
        )
        assert str(target) not in settled
        if fault == "404":  # a vanished test is skipped; the others go on and settle
            assert settled
        # (a 403 skips the whole stream; retries exhausted stop the run)
        sb.clear_faults()
        second = run_tap(tap_config(sb), streams=streams, state=first.final_state)
    assert second.error is None
    read_again = {r["pst_id"] for r in second.records("phishing_security_test_recipients")}
    assert target in read_again


def test_a_resumed_fan_out_is_activated_under_the_version_its_read_began_with():
    """A fan-out read across two runs keeps the table version of the first: every row of
    both runs carries it, so the ACTIVATE_VERSION that ends the read deletes none of them."""
    with sandbox(latency_ms=0) as sb:
        config = tap_config(
            sb, emit_activate_version_messages=True, group_members_source="endpoint"
        )
        first = run_tap({**config, "max_requests_per_run": 6}, streams=["groups", "group_members"])
        assert first.final_state["tap_knowbe4"]["interrupted"]["parents_done"]
        second = run_tap(config, streams=["groups", "group_members"], state=first.final_state)
    assert second.error is None
    assert "group_members" not in activated(first)
    (version,) = [
        m["version"]
        for m in second.messages
        if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "group_members"
    ]
    rows = [
        m
        for m in first.messages + second.messages
        if m["type"] == "RECORD" and m["stream"] == "group_members"
    ]
    assert {m["version"] for m in rows} == {version}
    assert {(m["record"]["group_id"], m["record"]["user_id"]) for m in rows} == {
        (r["group_id"], r["user_id"]) for r in expected_records(sb.org, "group_members", "endpoint")
    }


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_batch_messages_are_per_stream_not_per_parent(tmp_path):
    batch = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "batch-"},
        "batch_size": 10_000,
    }
    with sandbox() as sb:
        config = tap_config(sb, batch_config=batch, emit_activate_version_messages=True)
        run = run_tap(config, streams=["users", "group_members", "user_risk_score_history"])
    assert run.error is None, run.error
    batches: dict[str, int] = {}
    for message in run.messages:
        if message["type"] == "BATCH":
            batches[message["stream"]] = batches.get(message["stream"], 0) + 1
    assert batches == {"users": 1, "group_members": 1, "user_risk_score_history": 1}
    order = [(m["type"], m["stream"]) for m in run.messages if m.get("stream") == "group_members"]
    assert order[-1] == ("BATCH", "group_members")  # no ACTIVATE_VERSION with BATCH (attack 5 #4)
    files = list(tmp_path.glob("batch-*"))
    assert len(files) == 3


@pytest.mark.parametrize(  # one variant in `make test-fast`, every variant in `make test`
    "failing", ["users", pytest.param("group_members", marks=pytest.mark.slow)]
)
def test_an_error_while_writing_records_fails_that_stream_and_resumes(tmp_path, failing):
    """Something outside the reading raises (here a stream map's expression): the stream
    cut short is named, fails, is not activated, and the next run reads it all."""
    streams = ["groups", "users", "group_members"]
    with sandbox(latency_ms=0) as sb:
        config = tap_config(sb, emit_activate_version_messages=True)
        broken = {**config, "stream_maps": {failing: {"oops": "1/0"}}}
        first = run_cli(tmp_path, broken, catalog=catalog_selecting(streams))
        line = first.assert_one_clear_line(code=1)
        assert f"Unexpected error in stream '{failing}': ZeroDivisionError" in line
        assert "Traceback" not in first.stderr
        assert not {"users", "group_members"} & set(activated(first))
        summary = first.stderr[first.stderr.index("Run summary") :]
        assert re.search(rf"\n{failing} +failed ", summary), summary
        second = run_tap(config, streams=streams, state=first.final_state)
    assert second.error is None
    for stream in ("users", "group_members"):  # what the target holds after both runs
        keys = KEYS[stream]
        read = {tuple(r[k] for k in keys) for r in first.records(stream) + second.records(stream)}
        assert read == {tuple(r[k] for k in keys) for r in expected_records(sb.org, stream)}
    # users is read whole again; so is group_members: the first run's version of it was not
    # kept (its read was cut short), and a fan-out position is never kept without the version
    # of the rows before it (SIM-21), so every member is sent again and activated.
    assert "users" in activated(second)
    assert "group_members" in activated(second)
