"""The protocol layer: lines written from the published models read back into them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_knowbe4.airbyte import state as airbyte_state
from tap_knowbe4.airbyte.protocol import (
    ProtocolError,
    RecordLines,
    StateBlob,
    dump_line,
    load,
    models,
)
from tap_knowbe4.state import BudgetState, Interrupted, StreamState, TapState

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
records = st.dictionaries(st.text(), json_values, max_size=6)


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
@given(stream=st.text(min_size=1), data=records, emitted_at=st.integers(0, 2**50))
def test_record_lines_equal_the_models_line(stream, data, emitted_at):
    model = models.AirbyteMessage(
        type=models.Type.RECORD,
        record=models.AirbyteRecordMessage(stream=stream, data=data, emitted_at=emitted_at),
    )
    line = RecordLines(stream).line(data, emitted_at)
    assert line == dump_line(model)
    assert load(models.AirbyteMessage, json.loads(line)) == model
    block = bytearray(b"before\n")
    RecordLines(stream).line_into(block, data, emitted_at)
    assert block == b"before\n" + line


class _Unwritable:
    def __str__(self) -> str:
        raise ValueError("no text")


def test_a_record_that_cannot_be_encoded_leaves_no_part_of_its_line():
    block = bytearray(b"before\n")
    with pytest.raises(ValueError, match="no text"):
        RecordLines("users").line_into(block, {"id": 1, "x": _Unwritable()}, 5)
    assert block == b"before\n"


def _messages() -> list[models.AirbyteMessage]:
    stream = models.AirbyteStream(
        name="users",
        json_schema={"type": "object"},
        supported_sync_modes=[models.SyncMode.full_refresh],
        source_defined_primary_key=[["id"]],
    )
    state = models.AirbyteStateMessage(
        type=models.AirbyteStateType.STREAM,
        stream=models.AirbyteStreamState(
            stream_descriptor=models.StreamDescriptor(name="users"),
            stream_state=StateBlob({"tap_state": {"x": [1, {"y": None}]}}),
        ),
        sourceStats=models.AirbyteStateStats(recordCount=3.0),
    )
    trace = models.AirbyteTraceMessage(
        type=models.TraceType.ERROR,
        emitted_at=1.5,
        error=models.AirbyteErrorTraceMessage(
            message="one line", failure_type=models.FailureType.config_error
        ),
    )
    return [
        models.AirbyteMessage(type=models.Type.CATALOG, catalog=models.AirbyteCatalog([stream])),
        models.AirbyteMessage(type=models.Type.STATE, state=state),
        models.AirbyteMessage(type=models.Type.TRACE, trace=trace),
        models.AirbyteMessage(
            type=models.Type.LOG,
            log=models.AirbyteLogMessage(level=models.Level.WARN, message="careful"),
        ),
    ]


@pytest.mark.parametrize("message", _messages(), ids=lambda m: m.type.value)
def test_messages_round_trip_and_leave_out_what_is_unset(message):
    line = dump_line(message)
    assert b"null" not in line.replace(b'{"y":null}', b"")
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert load(models.AirbyteMessage, json.loads(line)) == message


def test_global_is_written_and_read_under_its_protocol_name():
    message = models.AirbyteStateMessage(
        type=models.AirbyteStateType.GLOBAL,
        global_=models.AirbyteGlobalState(stream_states=[], shared_state=StateBlob({"a": 1})),
    )
    written = json.loads(dump_line(models.AirbyteMessage(type=models.Type.STATE, state=message)))
    assert written["state"]["global"] == {"stream_states": [], "shared_state": {"a": 1}}
    assert load(models.AirbyteStateMessage, written["state"]) == message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"streams": {}}, "streams must be a list"),
        ({"streams": [{"stream": 3}]}, "streams[0].stream must be an object"),
        (
            {"streams": [{"stream": {"name": 1, "json_schema": {}, "supported_sync_modes": []}}]},
            "streams[0].stream.name: expected str, got 1",
        ),
    ],
)
def test_load_names_where_a_value_is_wrong(value, says):
    with pytest.raises(ProtocolError, match=None) as caught:
        load(models.ConfiguredAirbyteCatalog, value)
    assert says in str(caught.value)


# -- the tap's state as per-stream states ---------------------------------------------------

names = st.sampled_from(["users", "groups", "phishing_security_test_recipients", "x"])


@st.composite
def tap_states(draw) -> TapState:
    streams = {
        name: StreamState(
            settled=draw(st.dictionaries(st.integers(1, 99), st.integers(0, 9), max_size=3)),
            dates=draw(st.dictionaries(st.integers(0, 9), st.just("2026-01-02"), max_size=3)),
        )
        for name in draw(st.sets(names))
    }
    interrupted = None
    if draw(st.booleans()):
        interrupted = Interrupted(
            draw(st.sets(names)),
            draw(st.dictionaries(names, st.integers(1, 999))),
            stalled_runs=draw(st.integers(0, 5)),
        )
    return TapState(
        budget=BudgetState(used=draw(st.integers(0, 9))),
        interrupted=interrupted,
        streams=streams,
    )


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
@given(state=tap_states(), incremental=st.sets(names))
def test_per_stream_states_reassemble_the_tap_state(state, incremental):
    """Split per stream and read back, the tap's state is whole again for the streams read
    incrementally, and keeps nothing of the others."""
    singer = {"tap_knowbe4": state.dump()}
    everything = {"users", "groups", "phishing_security_test_recipients", "x"}
    stored = [
        load(
            models.AirbyteStateMessage,
            json.loads(dump_line(airbyte_state.state_message(singer, name, (1, i), 0)))["state"],
        )
        for i, name in enumerate(sorted(everything))
    ]
    back = airbyte_state.tap_state_from(stored, incremental, warn=pytest.fail)
    assert back is not None
    again = TapState.load(back)
    expected = TapState.load(singer)
    assert again.budget == expected.budget
    assert again.streams == {n: s for n, s in expected.streams.items() if n in incremental}
    # an interrupted record without entries means what none means: nothing to resume
    done = expected.interrupted or Interrupted()
    kept = again.interrupted or Interrupted()
    assert kept.streams_done == done.streams_done & incremental
    assert kept.parents_done == {n: p for n, p in done.parents_done.items() if n in incremental}
    if kept.streams_done or kept.parents_done:  # runs the quota stopped in vain (attack 12 #3)
        assert kept.stalled_runs == done.stalled_runs


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
@given(
    state=tap_states(),
    name=names,
    checkpoint=st.tuples(st.integers(0, 2**45), st.integers(0, 2**20)),
    records=st.integers(0, 2**40),
)
def test_state_lines_equal_the_models_line(state, name, checkpoint, records):
    """A STATE line written into a block from its stream's layout is the model's line."""
    singer = {"tap_knowbe4": state.dump()}
    expected = dump_line(airbyte_state.state_message(singer, name, checkpoint, records))
    value = airbyte_state.stream_state_of(
        airbyte_state.shared_part(singer), name, airbyte_state.stream_part(singer, name), checkpoint
    )
    block = bytearray(b"before\n")
    airbyte_state.StateLines(name).line_into(block, value, records)
    assert block == b"before\n" + expected


@pytest.mark.parametrize("name", ["users", 'a "quoted" \\ name', "ünï"])
def test_state_lines_of_a_few_states(name):
    """As above, without hypothesis (the fast suite): the stand-ins cut the line right."""
    state = TapState(budget=BudgetState(used=3), streams={name: StreamState(settled={7: 1})})
    singer = {"tap_knowbe4": state.dump()}
    for records in (0, 1, 96_793):
        expected = dump_line(airbyte_state.state_message(singer, name, (1796471499157, 9), records))
        block = bytearray()
        value = airbyte_state.stream_state(singer, name, (1796471499157, 9))
        airbyte_state.StateLines(name).line_into(block, value, records)
        assert block == expected


def test_the_shared_parts_come_from_the_newest_state():
    old = {"tap_knowbe4": TapState(budget=BudgetState(used=5)).dump()}
    new = {"tap_knowbe4": TapState(budget=BudgetState(used=9)).dump()}
    stored = [
        airbyte_state.state_message(new, "users", (2, 1), 0).state,
        airbyte_state.state_message(old, "groups", (1, 7), 0).state,
    ]
    back = airbyte_state.tap_state_from(stored, {"users", "groups"}, warn=pytest.fail)
    assert back is not None
    assert back["tap_knowbe4"]["budget"]["used"] == 9


def test_a_stream_state_of_another_account_is_not_merged_into_this_one():
    """The newest state says whose the state is; a stream's part written for another
    account (another key or API address) is dropped with a warning: that stream is read
    in full, never resumed from a stranger's position."""
    ours = TapState(account="api.eu.knowbe4.com|aaaa", streams={"users": StreamState()})
    theirs = TapState(
        account="api.knowbe4.com|bbbb",
        streams={"phishing_security_test_recipients": StreamState(settled={9: 1})},
    )
    stored = [
        airbyte_state.state_message({"tap_knowbe4": ours.dump()}, "users", (5, 1), 0).state,
        airbyte_state.state_message(
            {"tap_knowbe4": theirs.dump()}, "phishing_security_test_recipients", (4, 9), 0
        ).state,
    ]
    warnings: list[str] = []
    back = airbyte_state.tap_state_from(
        stored, {"users", "phishing_security_test_recipients"}, warn=warnings.append
    )
    assert back is not None
    assert back["tap_knowbe4"]["account"] == "api.eu.knowbe4.com|aaaa"
    assert back["tap_knowbe4"]["streams"] == {}
    assert warnings == [
        "the state of phishing_security_test_recipients is another account's or version's: "
        "phishing_security_test_recipients is read in full"
    ]
