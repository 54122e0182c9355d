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
import typing as t

import pytest

from tap_knowbe4 import ledger
from tests.cli import run_cli
from tests.singer_output import run_tap

RETRY = "retry "


@pytest.fixture
def closed_port() -> t.Iterator[int]:
    """A loopback port bound for the whole test and never listening: connecting is refused.

    (Bound and then released, the port could be taken meanwhile by a sandbox another test
    starts, and the "unreachable" API would answer.)
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def unreachable(tmp_path, closed_port) -> dict:
    """A config whose API is on ``closed_port``, with a shared ledger in ``tmp_path``."""
    return {
        "api_key": "kb4-unreachable-test-key",
        "api_url": f"http://127.0.0.1:{closed_port}",
        "budget_ledger_path": str(tmp_path / "ledger.json"),
    }


def _ledger(tmp_path) -> list[dict]:
    accounts = json.loads((tmp_path / "ledger.json").read_text())["accounts"]
    return list(accounts.values())


def test_an_unreachable_api_fails_the_connection_test_at_once(tmp_path, unreachable):
    config = unreachable
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


def test_a_sync_that_cannot_connect_retries_and_spends_nothing(tmp_path, unreachable):
    config = {**unreachable, "max_retries": 2, "max_retry_wait_seconds": 0}
    result = run_cli(tmp_path, config, timeout=60)
    assert result.returncode == 1
    retries = [x for x in result.stderr.splitlines() if RETRY in x]
    assert len(retries) == 2, result.stderr[-3000:]
    [line] = result.error_lines
    assert "still failing after 2 retries" in line
    assert config["api_url"].removeprefix("http://") in line  # names the host
    assert [(a["used"], a["window_start"]) for a in _ledger(tmp_path)] == [(0, None)]
    # no answer vouched for the key: no state of its own (tests/test_rejected_key_state.py)
    assert "tap_knowbe4" not in result.final_state


def test_a_connection_never_made_opens_no_window_in_the_shared_ledger_whenever_it_writes(
    tmp_path, unreachable, monkeypatch
):
    """The ledger is written at most once a second, at the next request: under load a write
    fell due between counting a request and refunding it as never sent, and the shared file
    kept a window opened by no request (test_a_sync_that_cannot_connect... failed so). Here a
    write is due at every request (FLUSH_SECONDS 0): the refund comes first all the same."""
    monkeypatch.setattr(ledger, "FLUSH_SECONDS", 0)
    config = {**unreachable, "max_retries": 2, "max_retry_wait_seconds": 0}
    run = run_tap(config, streams=["users"])
    assert run.error is not None
    assert [(a["used"], a["window_start"]) for a in _ledger(tmp_path)] == [(0, None)]
    assert run.tap.run.budget.state.used == 0
