"""A key the API rejects writes no state of its own (session 9; left by session 8's note).

A state names the account it describes: the API address and a fingerprint of the key
(``state.account_identity``). A run under a key the API rejects (401, or a 200 whose body
says ``Invalid Token``) used to write its STATE under that key's identity: Meltano stores a
failed run's state too, so the stored state of the right key was displaced (or merged with a
second account) and the next run under the right key found a stranger's state and read
everything again. Nothing was lost, but a typo cost a full read.

Now a run writes state under its identity only with positive evidence that the identity is
an account's: the API answered it with a readable page, or the state it was given was written
under it already. Until then the state it was given passes through unchanged.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlparse

import pytest

from tap_knowbe4.airbyte.state import stream_part
from tap_knowbe4.errors import AuthenticationError
from tap_knowbe4.streams import endpoints
from tests.airbyte_output import Source, configured_catalog
from tests.conftest import sandbox, tap_config
from tests.singer_output import run_tap
from tests.test_incremental import incremental_minimum

pytestmark = pytest.mark.slow  # whole syncs, in-process and Airbyte: `make test`

if t.TYPE_CHECKING:
    from tests.singer_output import SingerRun

#: Streams whose state saves requests on the next run (settled tests are not read again).
STREAMS = ("groups", "phishing_security_tests", "phishing_security_test_recipients")
WRONG_KEY = "kb4-a-key-no-account-has-000000000000000000"
INCREMENTAL = {e.name for e in endpoints() if e.incremental}


def _states(run: SingerRun) -> list[dict]:
    return [m["value"] for m in run.messages if m["type"] == "STATE"]


@pytest.mark.parametrize("quirk", [False, True], ids=["401", "invalid-token-200"])
def test_a_rejected_key_passes_the_given_state_on_unchanged(quirk):
    """Every STATE of the rejected run is the given one, and the next good run applies it."""
    with sandbox(invalid_token_200=quirk) as sb:
        first = run_tap(tap_config(sb), streams=STREAMS)
        assert first.error is None, first.error
        full_read = sb.stats()["requests"]
        given = first.final_state
        assert given["tap_knowbe4"]["streams"]["phishing_security_test_recipients"]["settled"]

        rejected = run_tap(tap_config(sb, api_key=WRONG_KEY), streams=STREAMS, state=given)
        assert isinstance(rejected.error, AuthenticationError), rejected.error
        states = _states(rejected)
        assert states, "the SDK emits state even for a failed run"
        assert [s.get("tap_knowbe4") for s in states] == [given["tap_knowbe4"]] * len(states)

        before = sb.stats()["requests"]
        after = run_tap(tap_config(sb), streams=STREAMS, state=states[-1])
        assert after.error is None, after.error
        # applied: the settled tests' recipients are not read again
        assert sb.stats()["requests"] - before < full_read


def test_a_rejected_key_with_no_state_writes_none():
    """A first run under a mistyped key leaves no state behind (not one of its own)."""
    with sandbox() as sb:
        rejected = run_tap(tap_config(sb, api_key=WRONG_KEY), streams=STREAMS)
        assert isinstance(rejected.error, AuthenticationError), rejected.error
        states = _states(rejected)
        assert states
        assert all("tap_knowbe4" not in s for s in states), states[-1]


def test_a_key_accepted_before_keeps_writing_its_state_when_rejected():
    """A revoked key whose state is its own still records the request it spent (budget)."""
    revoked_key = "kb4-sandbox-key-revoked-between-runs-000000"
    with sandbox(api_key=revoked_key) as a:
        port = urlparse(a.base_url).port
        first = run_tap(tap_config(a), streams=STREAMS)
        assert first.error is None, first.error
        given = first.final_state
    with sandbox(port=port) as b:  # the same address now refuses that key
        rejected = run_tap(tap_config(b, api_key=revoked_key), streams=STREAMS, state=given)
        assert isinstance(rejected.error, AuthenticationError), rejected.error
        own = rejected.final_state["tap_knowbe4"]
        assert own["account"] == given["tap_knowbe4"]["account"]
        assert own["budget"]["used"] == given["tap_knowbe4"]["budget"]["used"] + 1
        assert own["streams"] == given["tap_knowbe4"]["streams"]


def test_the_airbyte_source_under_a_rejected_key_keeps_the_stored_states(tmp_path):
    """The Airbyte source speaks the tap's state: a rejected read hands back what it was
    given (per stream), so the next good read is the incremental minimum, not a full read."""
    with sandbox() as sb:
        config = tap_config(sb)
        source = Source(tmp_path, config)
        catalog = configured_catalog(source.discover().catalog)
        first = source.read(catalog)
        assert first.code == 0, first.errors
        given = {s["stream"]["stream_descriptor"]["name"]: s for s in first.states}

        elsewhere = tmp_path / "rejected"  # a Source keeps its files in its directory
        elsewhere.mkdir()
        rejected = Source(elsewhere, {**config, "api_key": WRONG_KEY}).read(catalog, first.states)
        assert rejected.code == 1
        account = first.states[-1]["stream"]["stream_state"]["tap_state"]["tap_knowbe4"]["account"]
        for state in rejected.states:  # what Airbyte would store over the given states
            name = state["stream"]["stream_descriptor"]["name"]
            written = state["stream"]["stream_state"]["tap_state"]
            kept = given[name]["stream"]["stream_state"]["tap_state"]
            assert written["tap_knowbe4"]["account"] == account, name
            if name in INCREMENTAL:  # a full-refresh stream's part is not handed to the tap
                assert stream_part(written, name) == stream_part(kept, name), name
        stored = {**given, **{s["stream"]["stream_descriptor"]["name"]: s for s in rejected.states}}

        sb.reset()
        second = source.read(catalog, list(stored.values()))
        assert second.code == 0, second.errors
        assert sb.stats()["requests"] == incremental_minimum(sb, config["page_size"])
