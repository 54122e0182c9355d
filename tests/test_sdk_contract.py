"""What the tap assumes of the SDK where the SDK gives no hook: these fail if an upgrade changes it.

The tap overrides three things the SDK does not offer as hooks:

* ``Tap.sync_all`` (marked final) is extended, to settle the run once after every stream;
* ``Stream._write_schema_message``, to send SCHEMA once per stream, not once per parent;
* ``Stream._write_activate_version_message``, to hold ACTIVATE_VERSION back until a stream
  was read completely (the SDK sends it when a stream starts).

Each is checked twice: that the SDK still calls it the way the override expects (its
source), and that the override has the effect it is there for (the Singer output).
"""

from __future__ import annotations

import inspect
import logging

from singer_sdk import RESTStream, Stream, Tap

from tap_knowbe4.fanout import _RETRIED, KnowBe4Stream
from tap_knowbe4.logs import DemoteRetryChatter
from tap_knowbe4.tap import TapKnowBe4
from tests.conftest import tap_config
from tests.singer_output import ALL_STREAMS, run_tap


def test_the_sdk_still_calls_what_the_tap_overrides():
    sync = inspect.getsource(Stream.sync)
    assert "self._write_schema_message()" in sync
    assert "self._write_activate_version_message(self._stream_version)" in sync
    assert sync.index("_write_activate_version_message") < sync.index("_sync_records")
    sync_all = inspect.getsource(Tap.sync_all)
    assert "stream.sync()" in sync_all
    assert "finalize_state_progress_markers" in sync_all
    assert getattr(Tap.sync_all, "__final__", False)  # still final: extended, not replaced
    assert inspect.signature(Stream._write_activate_version_message).parameters.keys() == {
        "self",
        "full_table_version",
    }


def test_the_tap_knows_what_the_sdk_retries_and_the_line_it_demotes():
    """``fanout._RETRIED`` copies the SDK's retried exceptions (an error outside it is
    reported as "not retried"); the SDK's per-stream error line is demoted by its text."""
    decorator = inspect.getsource(RESTStream.request_decorator)
    start = decorator.index("on_exception(")
    listed = decorator[start : decorator.index("max_tries=", start)]
    for exc in _RETRIED:
        assert exc.__name__ in listed, exc
    assert listed.count("Error") + listed.count("Timeout") == len(_RETRIED)
    demoted = DemoteRetryChatter().prefixes
    assert any(p in inspect.getsource(Stream.sync) for p in demoted if p.startswith("An "))


def test_the_overrides_are_the_tap_s_own():
    assert TapKnowBe4.sync_all is not Tap.sync_all
    assert KnowBe4Stream._write_schema_message is not Stream._write_schema_message
    assert (
        KnowBe4Stream._write_activate_version_message is not Stream._write_activate_version_message
    )


def test_their_effect_schema_once_activation_last_summary_at_the_end(shared_sandbox, caplog):
    caplog.set_level(logging.INFO)
    run = run_tap(tap_config(shared_sandbox, emit_activate_version_messages=True))
    assert run.error is None
    schemas = [m["stream"] for m in run.messages if m["type"] == "SCHEMA"]
    assert sorted(schemas) == sorted(ALL_STREAMS)
    kinds = [m["type"] for m in run.messages if m.get("stream") == "users"]
    assert kinds[0] == "SCHEMA"
    assert kinds[-1] == "ACTIVATE_VERSION"
    assert caplog.text.rindex("Run summary") > caplog.text.rindex("Stream 'users':")
