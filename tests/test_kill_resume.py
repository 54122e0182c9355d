"""A run killed with SIGKILL and restarted from its last STATE loses nothing."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tap_knowbe4.sandbox.options import USER_RISK
from tests.cli import clean_env, tap_command
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import ALL_STREAMS, catalog_selecting, check_singer, run_tap
from tests.test_full_sync import KEYS
from tests.test_stream_end import batch_config, read_batch

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out


def _kill_when(
    sb, tmp_path, should_kill, config: dict | None = None, streams: list[str] | None = None
) -> tuple[list[dict], int]:
    """Run the tap CLI, SIGKILL it when ``should_kill(messages)`` says so."""
    command = tap_command(tmp_path, config or tap_config(sb), catalog=catalog_selecting(streams))
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=clean_env(), text=True
    )
    messages: list[dict] = []
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            messages.append(json.loads(line))
            if should_kill(messages):
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the sync ended before the kill point"
    sb.wait_closed()  # the request it died in is counted here, not in the next run's count
    return messages, sb.stats()["requests"]


def _records(messages: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def _in_fanout(messages: list[dict]) -> bool:
    return len(_records(messages, "phishing_security_test_recipients")) >= 60


def _in_big_stream(messages: list[dict]) -> bool:
    return len(_records(messages, "training_enrollments")) >= 60


def _in_risk_history(messages: list[dict]) -> bool:
    return len(_records(messages, "user_risk_score_history")) >= 500


@pytest.mark.parametrize(
    ("kill_point", "parent_list"),
    [
        (_in_fanout, "/v1/phishing/security_tests"),
        (_in_big_stream, None),
        (_in_risk_history, "/v1/users"),
    ],
    ids=["recipients-fanout", "big-list", "user-risk-fanout"],
)
def test_sigkill_then_resume_from_last_state_loses_nothing(tmp_path, kill_point, parent_list):
    with sandbox(latency_ms=2) as sb:
        killed, killed_requests = _kill_when(sb, tmp_path, kill_point)
        states = [m["value"] for m in killed if m["type"] == "STATE"]
        assert states, "no STATE before the kill"
        sb.reset()
        resumed = run_tap(tap_config(sb), state=states[-1])
        resumed_stats = sb.stats()
        resumed_requests = resumed_stats["requests"]
        assert resumed.error is None
        check_singer(resumed)
        for stream in ALL_STREAMS:
            keys = KEYS[stream]
            union = {tuple(r[k] for k in keys): r for r in _records(killed, stream)}
            union.update({tuple(r[k] for k in keys): r for r in resumed.records(stream)})
            expected = {tuple(r[k] for k in keys): r for r in expected_records(sb.org, stream)}
            assert union == expected, stream
        sb.reset()
        run_tap(tap_config(sb))
        full = sb.stats()["requests"]
        # Requests the killed run sent after its last STATE reached the reader are lost work
        # however fast the reader is (the output is buffered): what the state covers is the
        # count it carries, not the server's count at the kill. Every count here is exact
        # (the killed run's last request is counted before the reset), so the bound does not
        # depend on timing: of what the state covers, the restart repeats only the pages of
        # the fan-out's parent list it reads again to reach its position, and in a list
        # resumed at the position its STATE named, that page (read again as proof) and the
        # next (asked for before that STATE went out).
        covered = states[-1]["tap_knowbe4"]["budget"]["used"]
        repeated = covered + resumed_requests - full
        parent_pages = sum(resumed_stats["by_endpoint"].get(parent_list, {}).values())
        lists = sum(r.resumed_list for r in resumed.tap.run.report.streams.values())
        print(
            f"killed after {killed_requests} of {full} requests, {covered} covered by the last "
            f"STATE; restart repeated {repeated} (parent list pages read again: {parent_pages}, "
            f"lists resumed mid-list: {lists})"
        )
        assert 0 <= repeated <= (parent_pages if parent_list else 2 * lists)


@pytest.mark.parametrize("batch", [False, True], ids=["records", "batch"])
def test_a_run_killed_mid_list_resumes_at_the_page_its_last_state_names(tmp_path, batch):
    """A list position used to be written only when the list ended, so a run killed in the
    middle of a long list (SIGKILL: it never ends) left its successor to read it all again.
    Now each page's position goes out with the STATE that follows its records: the next run
    reads again only the page named as proof and what the STATE did not cover, and misses
    no record (in BATCH mode the position waits for the file holding the records)."""
    streams = ["users", "user_risk_score_history"]
    with sandbox(users=120, unpaginated=(USER_RISK,)) as sb:
        config = tap_config(sb, page_size=15, include_user_risk_score_history=True)
        if batch:
            config["batch_config"] = batch_config(tmp_path / "batches", size=20)

        seen: set[str] = set()

        def past_the_middle(messages: list[dict]) -> bool:
            """The newest message is a STATE naming the fifth users position."""
            if messages[-1]["type"] != "STATE":
                return False
            position = _interrupted(messages[-1]["value"]).get("lists", {}).get("users")
            seen.add(json.dumps(position))
            return position is not None and len(seen - {"null"}) >= 5

        killed, _ = _kill_when(sb, tmp_path, past_the_middle, config=config, streams=streams)
        state = killed[-1]["value"]
        after = tuple(_interrupted(state)["lists"]["users"]["after"])
        sb.reset()
        resumed = run_tap(config, streams=streams, state=state)
        users_pages = sum(sb.stats()["by_endpoint"]["/v1/users"].values())
        truth = {s: expected_records(sb.org, s) for s in streams}
    assert resumed.error is None, resumed.error
    assert resumed.tap.run.report.streams["users"].resumed_list
    total_pages = -(-len(truth["users"]) // 15)
    covered = sum(1 for r in truth["users"] if (r["id"],) <= after)
    print(f"{covered} users covered by the last STATE; {users_pages} of {total_pages} pages read")
    assert covered >= 45
    # the page named as proof, and the empty page after the last
    assert users_pages <= total_pages - covered // 15 + 2
    for stream in streams:
        keys = KEYS[stream]
        sent = _sent(killed, stream) | _sent(resumed.messages, stream)
        assert sent == {tuple(r[k] for k in keys) for r in truth[stream]}, stream


def _interrupted(state: dict) -> dict:
    return (state.get("tap_knowbe4") or {}).get("interrupted") or {}


def _sent(messages: list[dict], stream: str) -> set[tuple]:
    """Keys of ``stream``'s records in RECORD messages and the BATCH files named."""
    keys = KEYS[stream]
    batches = [m for m in messages if m["type"] == "BATCH" and m["stream"] == stream]
    records = _records(messages, stream) + [r for m in batches for r in read_batch(m)]
    return {tuple(r[k] for k in keys) for r in records}
