"""A run killed with SIGKILL and restarted from its last STATE loses nothing."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.cli import clean_env, tap_command
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import ALL_STREAMS, catalog_selecting, check_singer, run_tap
from tests.test_full_sync import KEYS

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out


def _kill_when(sb, tmp_path, should_kill) -> tuple[list[dict], int]:
    """Run the tap CLI, SIGKILL it when ``should_kill(messages)`` says so."""
    command = tap_command(tmp_path, tap_config(sb), catalog=catalog_selecting())
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
        # the fan-out's parent list it reads again to reach its position (a kill inside a
        # list keeps no list position), and nothing when the kill was in a top-level list.
        covered = states[-1]["tap_knowbe4"]["budget"]["used"]
        repeated = covered + resumed_requests - full
        parent_pages = sum(resumed_stats["by_endpoint"].get(parent_list, {}).values())
        print(
            f"killed after {killed_requests} of {full} requests, {covered} covered by the last "
            f"STATE; restart repeated {repeated} (parent list pages read again: {parent_pages})"
        )
        assert 0 <= repeated <= parent_pages
