"""``--test`` with no route to the API: at once, one line naming the host, nothing counted.

A connection that cannot be made (a refused port here; a name that does not resolve or a
network that is unreachable alike) never reached a server: it is not a request spent
against the quota, in ``--test`` or in a sync, and the shared budget ledger does not count
it. A connection test does not retry it (a sync does, its waits bounded). No test here
measures time: the attempts are counted from the log (one line per retry), and a generous
subprocess timeout only guards against a hang.
"""

from __future__ import annotations

import json
import socket

from tests.cli import run_cli

RETRY = "retry "


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path, **extra) -> dict:
    return {
        "api_key": "kb4-unreachable-test-key",
        "api_url": f"http://127.0.0.1:{_closed_port()}",
        "budget_ledger_path": str(tmp_path / "ledger.json"),
        **extra,
    }


def _ledger(tmp_path) -> list[dict]:
    accounts = json.loads((tmp_path / "ledger.json").read_text())["accounts"]
    return list(accounts.values())


def test_an_unreachable_api_fails_the_connection_test_at_once(tmp_path):
    config = _config(tmp_path)
    result = run_cli(tmp_path, config, "--test", timeout=60)
    assert result.returncode == 1
    host = config["api_url"].removeprefix("http://")
    assert result.error_lines == [result.error_lines[0]], result.stderr  # one line
    line = result.error_lines[0]
    assert f"Could not connect to {host}" in line
    assert "api_url" in line
    assert "next run" not in line  # a test has no next run
    assert not [x for x in result.stderr.splitlines() if RETRY in x], "a test does not retry"
    assert "Stream '" not in result.stderr  # no line per stream: the one line says it all
    assert [(a["used"], a["window_start"]) for a in _ledger(tmp_path)] == [(0, None)]


def test_a_sync_that_cannot_connect_retries_and_spends_nothing(tmp_path):
    config = _config(tmp_path, max_retries=2, max_retry_wait_seconds=0)
    result = run_cli(tmp_path, config, timeout=60)
    assert result.returncode == 1
    retries = [x for x in result.stderr.splitlines() if RETRY in x]
    assert len(retries) == 2, result.stderr[-3000:]
    [line] = result.error_lines
    assert "still failing after 2 retries" in line
    assert config["api_url"].removeprefix("http://") in line  # names the host
    assert [(a["used"], a["window_start"]) for a in _ledger(tmp_path)] == [(0, None)]
    budget = result.final_state["tap_knowbe4"]["budget"]
    assert budget["used"] == 0
