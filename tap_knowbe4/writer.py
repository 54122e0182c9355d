"""Singer output: msgspec lines, records written in blocks, every other message at once.

The SDK's ``MsgSpecWriter`` writes and flushes stdout for every message: one ``write``
system call per record, 15 % of a recipients sync (``bench/throughput.py``), whatever
``PYTHONUNBUFFERED`` says. Here records collect in a block of up to 64 KiB; a block is
written when it is full, and before any other message (SCHEMA, STATE, ACTIVATE_VERSION,
BATCH), which is written and flushed at once. So a STATE never reaches the target before the
records it covers, and a killed run loses only records that no STATE claimed (the next run
reads them again). What is left at exit is written by an ``atexit`` hook.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import SingerMessageType

from tap_knowbe4.sdk_seams import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib import Message

#: Bytes of records held before they are written.
BLOCK_BYTES = 64 * 1024


class BufferedRecordWriter(MsgSpecWriter):
    """The SDK's msgspec writer, writing records in blocks (see the module docstring)."""

    def __init__(self) -> None:
        """Start with an empty block; whatever is left in it at exit is written then."""
        self._block = bytearray()
        atexit.register(self._flush_at_exit)

    @override
    def write_message(self, message: Message) -> None:
        """Add a RECORD to the block; write the block and any other message at once."""
        self._block += self.format_message(message)
        if message.type == SingerMessageType.RECORD and len(self._block) < BLOCK_BYTES:
            return
        self.flush()

    def flush(self) -> None:
        """Write what the block holds and flush stdout (the block is emptied either way)."""
        block, self._block = self._block, bytearray()
        if block:
            sys.stdout.buffer.write(block)
        sys.stdout.flush()

    def _flush_at_exit(self) -> None:
        # A target that went away has been reported already; no traceback at exit for it.
        with contextlib.suppress(OSError, ValueError):
            self.flush()
