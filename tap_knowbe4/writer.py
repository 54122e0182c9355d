"""Singer output: msgspec lines, records written in blocks, every other message at once.

The SDK's ``MsgSpecWriter`` writes and flushes stdout for every message: one ``write``
system call per record, 15 % of a recipients sync (``bench/throughput.py``), whatever
``PYTHONUNBUFFERED`` says. Here records collect in a block of up to 64 KiB; a block is
written when it is full, and before any other message (SCHEMA, STATE, ACTIVATE_VERSION,
BATCH), which is written and flushed at once. So a STATE never reaches the target before the
records it covers, and a killed run loses only records that no STATE claimed (the next run
reads them again). What is left at exit is written by an ``atexit`` hook.

The output is the target's: when it cannot be written (the target stopped reading, a full
disk, stdout closed) the writer raises :class:`~tap_knowbe4.errors.OutputError` once and
*abandons* the output: nothing is written to it again, not even at exit, so the last STATE
the target received is the one the next run resumes from. After a signal
(:meth:`BufferedRecordWriter.bound`) a write may take at most :data:`SIGNAL_GRACE_SECONDS`:
a target that does not read does not hold the tap (:class:`~tap_knowbe4.errors.
OutputStalledError`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import SingerMessageType

from tap_knowbe4.errors import OutputError, OutputStalledError
from tap_knowbe4.sdk_seams import override
from tap_knowbe4.whole_writes import flush_whole, write_whole

if t.TYPE_CHECKING:
    import datetime as dt
    from types import FrameType

    from singer_sdk.singerlib import Message, StateMessage

#: Bytes of records held before they are written.
BLOCK_BYTES = 64 * 1024
#: After SIGTERM/SIGINT, how long one write may wait for the target to read.
SIGNAL_GRACE_SECONDS = 1.0
#: The shortest wait a write gets after a signal, however late in the grace it starts.
_LEAST_WAIT = 0.2


def record_line_into(message: Message, block: bytearray) -> None:
    """Append ``message``'s line to ``block``: the bytes of the SDK's ``format_message``.

    The SDK's msgspec writer encodes into a buffer of its own and returns it, and the
    block copies it; here the SDK's encoder writes the message's dict into the block.
    """
    encoder.encode_into(message.to_dict(), block, -1)
    block += b"\n"


def state_line_into(message: StateMessage, block: bytearray) -> None:
    """Append ``message``'s line to ``block``: the bytes of the SDK's ``format_message``.

    The SDK makes the line from ``dataclasses.asdict`` of the message, which copies the
    whole state value, deeply, once per page; its dict factory leaves out only the message's
    own fields that are None (a STATE's value never is), not values inside the state.
    """
    encoder.encode_into({"type": "STATE", "value": message.value}, block, -1)
    block += b"\n"


def record_head(stream: str) -> bytes:
    """The bytes of a RECORD line of ``stream`` up to its record (``format_message``'s)."""
    return b'{"type":"RECORD","stream":' + encoder.encode(stream) + b',"record":'


def version_part(version: int | None) -> bytes:
    """The bytes of a RECORD line's version (none without one), as ``format_message``."""
    return b"" if version is None else b',"version":' + encoder.encode(version)


class BufferedRecordWriter(MsgSpecWriter):
    """The SDK's msgspec writer, writing records in blocks (see the module docstring)."""

    def __init__(self) -> None:
        """Start with an empty block; whatever is left in it at exit is written then."""
        self._block = bytearray()
        #: The start of a RECORD line per stream, and its version part per version.
        self._heads: dict[str, bytes] = {}
        self._versions: dict[int | None, bytes] = {}
        #: The last ``time_extracted`` written and its JSON (seam 14 repeats one per ms).
        self._extracted: dt.datetime | None = None
        self._extracted_json = b""
        #: Why the output was given up (then nothing is written to it again).
        self.abandoned: BaseException | None = None
        self.grace = SignalGrace()
        atexit.register(self._flush_at_exit)

    @override
    def write_message(self, message: Message) -> None:
        """Add a RECORD to the block; write the block and any other message at once."""
        if self.abandoned is not None:
            return
        if message.type == SingerMessageType.RECORD:
            block = self._block
            record_line_into(message, block)
            if len(block) < BLOCK_BYTES:
                return
        elif message.type == SingerMessageType.STATE:
            state_line_into(t.cast("StateMessage", message), self._block)
        else:
            self._block += self.format_message(message)
        self.flush()

    def write_record(
        self, stream: str, record: dict, version: int | None, time_extracted: dt.datetime
    ) -> None:
        """Add the line of ``RecordMessage(stream, record, version, time_extracted)`` to the block.

        The bytes :meth:`write_message` writes for that message (``time_extracted`` in UTC),
        without the message: the line's parts around the record are encoded once per stream
        and version, the time once for the records it is given to (seam 14 of
        ``sdk_seams.py``: one per millisecond).
        """
        if self.abandoned is not None:
            return
        head = self._heads.get(stream)
        if head is None:
            head = self._heads[stream] = record_head(stream)
        tail = self._versions.get(version)
        if tail is None:
            tail = self._versions[version] = version_part(version) + b',"time_extracted":'
        if time_extracted is not self._extracted:
            self._extracted_json = encoder.encode(time_extracted)
            self._extracted = time_extracted
        block = self._block
        start = len(block)
        block += head
        try:
            encoder.encode_into(record, block, -1)
        except BaseException:
            del block[start:]  # no part of a line that could not be encoded
            raise
        block += tail
        block += self._extracted_json
        block += b"}\n"
        if len(block) >= BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what the block holds and flush stdout (the block is emptied either way).

        Raises :class:`OutputError` (once) when the output cannot be written.
        """
        block, self._block = self._block, bytearray()
        if self.abandoned is not None:
            return
        try:
            out = sys.stdout
            if out is None:
                raise OutputError.closed()
            with self.grace.write():
                binary = getattr(out, "buffer", None)
                if binary is None:  # a text-only stream (a test's StringIO)
                    out.write(block.decode())
                else:  # every byte, or a failure (``whole_writes.py``)
                    write_whole(binary, block)
                flush_whole(out)
        except OutputStalledError as exc:
            self.abandon(exc)
            raise
        except (OSError, ValueError) as exc:  # ValueError: a closed file
            error = OutputError.from_exception(exc)
            self.abandon(error)
            raise error from None

    def abandon(self, error: BaseException) -> None:
        """Write nothing more to the output; at exit, flush what is pending into nothing."""
        self.abandoned = error
        self._block = bytearray()
        discard_stdout()

    # -- signals ---------------------------------------------------------------------

    def bound(self, signal_name: str, exit_code: int) -> None:
        """A signal arrived: from now on a write waits for the target at most about a second."""
        self.grace.bound(signal_name, exit_code)

    def write_text(self, text: str) -> None:
        """Write ``text`` (a plan, say) after what is pending, under the same rules."""
        if self.abandoned is None:
            self._block += text.encode()
            self.flush()

    def _flush_at_exit(self) -> None:
        # Reported already when it failed; nothing at exit, no traceback.
        with contextlib.suppress(OutputError, OutputStalledError):
            self.flush()


class SignalGrace:
    """After SIGTERM/SIGINT, how long a write to an output the target reads may wait.

    Shared by the Singer writer and the Airbyte source's output: a target that does not
    read does not hold the process past the grace (:class:`OutputStalledError`).
    """

    def __init__(self) -> None:
        """No signal yet: writes wait for the target as long as it takes."""
        self.writing = False
        self._deadline: float | None = None
        self._signal: tuple[str, int] = ("SIGTERM", 143)

    def bound(self, signal_name: str, exit_code: int) -> None:
        """A signal arrived: from now on a write waits for the target at most about a second.

        A write under way (the target not reading right now) gets
        :data:`SIGNAL_GRACE_SECONDS` from now; then it is abandoned.
        """
        self._signal = (signal_name, exit_code)
        if self._deadline is None:
            self._deadline = time.monotonic() + SIGNAL_GRACE_SECONDS
        if self.writing:
            _alarm_in(SIGNAL_GRACE_SECONDS, self._on_alarm)

    @contextlib.contextmanager
    def write(self) -> t.Iterator[None]:
        """One write to the output, cut short (OutputStalledError) past the grace."""
        armed = False
        if self._deadline is not None:
            armed = _alarm_in(max(self._deadline - time.monotonic(), _LEAST_WAIT), self._on_alarm)
        self.writing = True
        try:
            yield
        finally:
            self.writing = False
            if armed:
                signal.setitimer(signal.ITIMER_REAL, 0)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.writing:  # blocked on a target that does not read: give up the output
            raise OutputStalledError(*self._signal)


def _alarm_in(seconds: float, handler: t.Callable[[int, FrameType | None], None]) -> bool:
    """SIGALRM to ``handler`` in ``seconds`` (main thread only); True when armed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return True


def discard_stdout() -> None:
    """Point stdout's descriptor at /dev/null: nothing (at exit, say) writes to it again.

    A stdout without a descriptor (a test's buffer) is left alone.
    """
    try:
        fd = sys.stdout.fileno() if sys.stdout is not None else -1
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return
    if fd < 0:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()  # what the buffers held goes nowhere now


def require_output() -> None:
    """Raise :class:`OutputError` when stdout is closed (before any request is sent)."""
    out = sys.stdout
    if out is None or out.closed:
        raise OutputError.closed()
    try:
        fd = out.fileno()
    except (OSError, ValueError):  # no descriptor: a test's buffer
        return
    try:
        os.fstat(fd)
    except OSError:
        raise OutputError.closed() from None
