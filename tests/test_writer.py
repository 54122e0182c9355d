"""Records reach the target in blocks; a STATE never before the records it covers."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys

CHILD = r"""
import sys, time
from singer_sdk.singerlib import RecordMessage, StateMessage
from tap_knowbe4.writer import BufferedRecordWriter

writer = BufferedRecordWriter()
for i in range(3):
    writer.write_message(RecordMessage(stream="users", record={"id": i}))
time.sleep(1.5)  # the parent looks at the pipe: nothing yet
writer.write_message(StateMessage(value={"bookmarks": {"users": {"n": 3}}}))
time.sleep(1.5)  # the parent reads the records and the state
writer.write_message(RecordMessage(stream="users", record={"id": 3}))
"""


def _readable(fd: int, seconds: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], seconds)
    return os.read(fd, 1 << 16) if ready else b""


def _kinds(out: bytes) -> list[str]:
    return [json.loads(line)["type"] for line in out.splitlines()]


def test_records_wait_in_a_block_and_a_state_writes_them_first():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the block is the writer's own
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    with child.stdout as stdout:
        fd = stdout.fileno()
        assert _readable(fd, 0.7) == b""  # three records, nothing written
        out = b""
        while out.count(b"\n") < 4:
            chunk = _readable(fd, 5)
            assert chunk, out
            out += chunk
        assert _kinds(out)[:4] == ["RECORD", "RECORD", "RECORD", "STATE"]
        out += stdout.read()  # the last record, written at exit
    assert child.wait(timeout=30) == 0
    assert _kinds(out) == ["RECORD", "RECORD", "RECORD", "STATE", "RECORD"]
