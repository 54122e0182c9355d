"""Records reach the target in blocks; a STATE never before the records it covers."""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_knowbe4.writer import BufferedRecordWriter, record_line_into, state_line_into
from tests.property_examples import examples

CHILD = r"""
import sys
from singer_sdk.singerlib import RecordMessage, StateMessage
from tap_knowbe4.writer import BufferedRecordWriter

def step(name):  # tell the parent what is written, wait until it has looked at stdout
    print(name, file=sys.stderr, flush=True)
    sys.stdin.readline()

writer = BufferedRecordWriter()
for i in range(3):
    writer.write_message(RecordMessage(stream="users", record={"id": i}))
step("records")
writer.write_message(StateMessage(value={"bookmarks": {"users": {"n": 3}}}))
step("state")
writer.write_message(RecordMessage(stream="users", record={"id": 3}))
"""

#: Generous: a loaded machine's import of the SDK; the test waits for events, not time.
EVENT_TIMEOUT = 120


def _pending(fd: int) -> bytes:
    """What the pipe holds right now (everything written before the child's last step)."""
    out = b""
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        out += chunk
    return out


def _kinds(out: bytes) -> list[str]:
    return [json.loads(line)["type"] for line in out.splitlines()]


@pytest.mark.slow  # a cold interpreter importing the SDK: `make test`, not `make test-fast`
def test_records_wait_in_a_block_and_a_state_writes_them_first():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the block is the writer's own
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    assert child.stderr is not None
    fd = child.stdout.fileno()

    def reached(step: str) -> None:
        assert select.select([child.stderr], [], [], EVENT_TIMEOUT)[0], f"no {step!r} step"
        line = child.stderr.readline().decode()
        assert line == f"{step}\n", line + child.stderr.read().decode()

    def go_on() -> None:
        child.stdin.write(b"\n")
        child.stdin.flush()

    reached("records")
    assert _pending(fd) == b""  # three records written to the writer, none to stdout
    go_on()
    reached("state")
    out = _pending(fd)
    assert _kinds(out) == ["RECORD", "RECORD", "RECORD", "STATE"]  # the block, then the state
    go_on()
    child.stdin.close()
    out += child.stdout.read()  # the last record, written at exit
    assert child.wait(timeout=EVENT_TIMEOUT) == 0, child.stderr.read()
    child.stdout.close()
    child.stderr.close()
    assert _kinds(out) == ["RECORD", "RECORD", "RECORD", "STATE", "RECORD"]


# -- a RECORD's line, encoded straight into the block ---------------------------------------

_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.text()
    | st.datetimes(timezones=st.just(dt.timezone.utc))
)
_RECORDS = st.dictionaries(
    st.text(),
    st.recursive(
        _JSON_LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    ),
    max_size=6,
)


@settings(max_examples=examples(40), deadline=None)
@given(
    records=st.lists(_RECORDS, min_size=1, max_size=4),
    version=st.none() | st.integers(min_value=0, max_value=2**40),
    extracted=st.none() | st.datetimes(timezones=st.just(dt.timezone.utc)),
)
def test_a_record_line_is_the_bytes_the_sdk_s_writer_formats(records, version, extracted):
    """Lines appended to a block by ``record_line_into`` are what the SDK's msgspec writer
    formats for the same messages, one after another."""
    sdk = MsgSpecWriter()
    block = bytearray(b"earlier\n")
    expected = bytes(block)
    for record in records:
        message = RecordMessage(
            stream="users", record=record, version=version, time_extracted=extracted
        )
        expected += bytes(sdk.format_message(message))
        record_line_into(message, block)
    assert bytes(block) == expected


@settings(max_examples=examples(40), deadline=None)
@given(
    records=st.lists(_RECORDS, min_size=1, max_size=4),
    stream=st.text(min_size=1),
    version=st.none() | st.integers(min_value=0, max_value=2**40),
    extracted=st.datetimes(timezones=st.just(dt.timezone.utc)),
)
def test_write_record_writes_the_bytes_the_sdk_s_writer_formats(
    records, stream, version, extracted
):
    """Seam 14: ``write_record`` appends what the SDK's msgspec writer formats for the
    ``RecordMessage`` of the same stream, record, version and time, with no message made."""
    sdk = MsgSpecWriter()
    writer = BufferedRecordWriter()
    expected = b""
    for record in records:
        message = RecordMessage(
            stream=stream, record=record, version=version, time_extracted=extracted
        )
        expected += bytes(sdk.format_message(message))
        writer.write_record(stream, record, version, extracted)
    assert bytes(writer._block) == expected
    writer._block = bytearray()  # nothing for the exit hook to write


def test_write_record_writes_each_record_s_own_time():
    """Seam 14 gives one datetime again within a millisecond: the writer keeps its JSON for
    that datetime only, and writes each record the time it was given."""
    writer = BufferedRecordWriter()
    first = dt.datetime(2026, 12, 5, 12, 0, 0, 157000, tzinfo=dt.timezone.utc)
    second = first + dt.timedelta(microseconds=1)
    for when in (first, first, second, first):
        writer.write_record("users", {"id": 1}, None, when)
    lines = [json.loads(line) for line in bytes(writer._block).splitlines()]
    writer._block = bytearray()  # nothing for the exit hook to write
    assert [line["time_extracted"] for line in lines] == [
        "2026-12-05T12:00:00.157000Z",
        "2026-12-05T12:00:00.157000Z",
        "2026-12-05T12:00:00.157001Z",
        "2026-12-05T12:00:00.157000Z",
    ]


def test_a_record_that_cannot_be_encoded_leaves_no_part_of_its_line():
    """An unencodable value raises, and the block holds only the lines before it."""
    writer = BufferedRecordWriter()
    now = dt.datetime.now(dt.timezone.utc)
    writer.write_record("users", {"id": 1}, None, now)
    before = bytes(writer._block)
    looped: dict = {"id": 2}
    looped["self"] = looped  # msgspec encodes nearly anything (enc_hook), but not a loop
    with pytest.raises(RecursionError):
        writer.write_record("users", looped, None, now)
    assert bytes(writer._block) == before
    writer._block = bytearray()


@settings(max_examples=examples(40), deadline=None)
@given(values=st.lists(_RECORDS, min_size=1, max_size=4))
def test_a_state_line_is_the_bytes_the_sdk_s_writer_formats(values):
    """A STATE line, written without the SDK's deep copy of its value (``dataclasses.asdict``),
    holds what the SDK's msgspec writer formats for the message: nulls inside the value kept."""
    sdk = MsgSpecWriter()
    block = bytearray(b"earlier\n")
    expected = bytes(block)
    for value in values:
        message = StateMessage(value=value)
        expected += bytes(sdk.format_message(message))
        state_line_into(message, block)
    assert bytes(block) == expected


def test_write_message_writes_a_state_as_the_sdk_s_writer_formats_it():
    """Through ``write_message``: a state with nested nulls, lists and a time, as the SDK's."""
    value = {
        "bookmarks": {"users": {}},
        "tap_knowbe4": {"interrupted": None, "streams": {"a": [1, None, {"b": None}]}},
        "at": dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.timezone.utc),
    }
    writer = BufferedRecordWriter()
    writer.flush = lambda: None  # keep the block to read it
    writer.write_message(StateMessage(value=value))
    assert bytes(writer._block) == bytes(MsgSpecWriter().format_message(StateMessage(value=value)))
    writer._block = bytearray()  # nothing for the exit hook to write
