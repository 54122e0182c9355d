"""A state is applied only to the account it describes (issue 18, defect 1).

The state names its account: the API address and a fingerprint of the key (never the key).
A state written for another key, another ``api_url`` or ``region``, or by a release that did
not say, is not applied: one warning line, and every stream is read in full. Applying a
stranger's interrupted-sync position, risk bookmarks, settled tests or budget count would
skip data (exit 0); ignoring our own costs one full read.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlparse

import pytest

from tap_knowbe4.tap import TapKnowBe4
from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import PRIMARY_KEYS, catalog_selecting, run_tap, state_of

pytestmark = pytest.mark.slow  # whole syncs, CLI and in-process: `make test`, not `make test-fast`

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox

#: Streams whose state could skip data: finished streams, risk bookmarks, settled tests.
STREAMS = (
    "account",
    "groups",
    "account_risk_score_history",
    "group_risk_score_history",
    "phishing_security_tests",
    "phishing_security_test_recipients",
)
B_KEY = "kb4-sandbox-key-of-account-b-0000000000000"


def _keys(records: list[dict], stream: str) -> set[tuple]:
    return {tuple(r[k] for k in PRIMARY_KEYS[stream]) for r in records}


def _state_a(sb: Sandbox) -> dict:
    """Account A's state after a full run, then a run stopped by its cap: every part set."""
    config = tap_config(sb, budget_ledger=False)
    full = run_tap(config, streams=STREAMS)
    assert full.error is None, full.error
    capped = run_tap({**config, "max_requests_per_run": 3}, streams=STREAMS, state=full.final_state)
    assert capped.error is None, capped.error
    own = capped.final_state["tap_knowbe4"]
    assert own["interrupted"]["streams_done"]
    assert own["streams"]["account_risk_score_history"]["dates"]
    assert own["streams"]["phishing_security_test_recipients"]["settled"]
    return capped.final_state


def _state_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "State: " in line]


def _assert_read_in_full(result, sb: Sandbox) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    for stream in STREAMS:
        want = _keys(expected_records(sb.org, stream), stream)
        assert _keys(result.records(stream), stream) == want, stream


def test_a_state_written_with_another_key_is_not_applied(tmp_path):
    """Account A's position, bookmarks, settled tests and budget count mean nothing for B,
    even at the same API address (a rotated or swapped key, a reused Meltano state ID)."""
    with sandbox() as a:
        state = _state_a(a)
        port = urlparse(a.base_url).port
        used = state["tap_knowbe4"]["budget"]["used"]
    with sandbox(api_key=B_KEY, seed=12, port=port) as b:  # A's address, B's account
        # B's daily limit is what A's state says is used: applied, it would stop B at once
        config = tap_config(b, budget_ledger=False, daily_request_limit=used)
        result = run_cli(tmp_path, config, state=state, catalog=catalog_selecting(STREAMS))
        _assert_read_in_full(result, b)
    (warning,) = _state_warnings(result.stderr)
    assert "another API key" in warning
    assert "not applied" in warning
    own = result.final_state["tap_knowbe4"]
    assert own["account"] != state["tap_knowbe4"]["account"]
    assert B_KEY not in result.stdout + result.stderr


def test_a_state_written_for_another_api_address_is_not_applied(tmp_path):
    """The same key against another ``api_url`` (another account, or another region's API)."""
    with sandbox() as a, sandbox(seed=12) as b:
        state = _state_a(a)
        result = run_cli(
            tmp_path,
            tap_config(b, budget_ledger=False),
            state=state,
            catalog=catalog_selecting(STREAMS),
        )
        _assert_read_in_full(result, b)
        a_address = a.base_url.split("://")[1]
    (warning,) = _state_warnings(result.stderr)
    assert f"written for the API at '{a_address}'" in warning


def test_a_state_written_for_another_region_is_not_applied():
    """``region`` picks the API address: a state of the EU account is not the US account's.
    (Built only: no request reaches a real region.)"""
    key = "kb4-test-key-0000000000000000000000000000"
    eu = {"api_key": key, "region": "eu"}
    state = state_of(eu, interrupted={"streams_done": ["users"], "parents_done": {}})
    same = TapKnowBe4(config=eu, state=state, parse_env_config=False)
    assert same.resume.stream_done_before("users")  # the control: its own state applies
    other = TapKnowBe4(config={**eu, "region": "us"}, state=state, parse_env_config=False)
    assert not other.resume.stream_done_before("users")
    assert other.typed_state.account != same.typed_state.account


def test_the_account_is_a_fingerprint_never_the_key():
    key = "kb4-test-key-0000000000000000000000000000"
    state = state_of({"api_key": key, "region": "eu"})
    account = state["tap_knowbe4"]["account"]
    assert key not in account
    assert account.startswith("eu.api.knowbe4.com|")
    assert len(account.rsplit("|", 1)[1]) == 16


def test_a_state_of_an_earlier_release_is_not_applied_and_read_in_full_once(tmp_path):
    """Version 2 states do not say whose they are: proof over guesses. They are not applied
    (one warning, one full read); the state written then says whose it is, and the next
    run applies it."""
    with sandbox() as sb:
        config = tap_config(sb, budget_ledger=False)
        state = _state_a(sb)
        own = state["tap_knowbe4"]
        del own["account"]
        own["version"] = 2  # what the previous release wrote
        state["bookmarks"] = {"account_risk_score_history": {"replication_key_value": "2099"}}
        first = run_cli(tmp_path, config, state=state, catalog=catalog_selecting(STREAMS))
        _assert_read_in_full(first, sb)
        (warning,) = _state_warnings(first.stderr)
        assert "earlier release" in warning
        sb.reset()
        second = run_cli(
            tmp_path, config, state=first.final_state, catalog=catalog_selecting(STREAMS)
        )
        again = sb.stats()["requests"]
    assert second.returncode == 0, second.stderr[-3000:]
    assert not _state_warnings(second.stderr)
    assert first.final_state["tap_knowbe4"]["account"]
    # the state applied: settled tests are not read again, risk bookmarks shorten the reads
    assert len(second.records("phishing_security_test_recipients")) < len(
        first.records("phishing_security_test_recipients")
    )
    assert again < first.final_state["tap_knowbe4"]["last_run"]["requests"]
