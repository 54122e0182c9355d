"""Where the source's Airbyte messages go: one channel for records, states, traces and logs.

Records collect in blocks of up to 64 KiB, as on the Singer path (``writer.py``); any other
message first writes the block, then itself, and flushes, so a STATE never reaches Airbyte
before the records it covers. Log lines come from any thread (the progress line has its own),
so every write holds one lock, and a line is never cut by another.

When the output cannot be written (the destination stopped reading, a full disk), or after
SIGTERM/SIGINT the destination does not read within the grace (:class:`~tap_knowbe4.writer.
SignalGrace`), the output is *abandoned*, as the Singer writer's: the failure is raised once
to the run, records and messages after it raise it again (the run must not go on as if they
were sent), log lines are dropped (no "Logging error" traceback for each), and the source's
one last line goes to stderr (:func:`~tap_knowbe4.airbyte.source.fail`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
import typing as t

from tap_knowbe4 import redact
from tap_knowbe4.airbyte.protocol import RecordLines, dump_line, encode_into, models
from tap_knowbe4.errors import OutputStalledError
from tap_knowbe4.whole_writes import flush_whole, write_whole
from tap_knowbe4.writer import SignalGrace, discard_stdout

#: Bytes of records held before they are written.
BLOCK_BYTES = 64 * 1024

_LEVELS = {
    logging.CRITICAL: models.Level.FATAL,
    logging.ERROR: models.Level.ERROR,
    logging.WARNING: models.Level.WARN,
    logging.INFO: models.Level.INFO,
    logging.DEBUG: models.Level.DEBUG,
}


def now_ms() -> float:
    """Milliseconds since the epoch (the protocol's ``emitted_at``)."""
    return time.time() * 1000


class Output:
    """Writes Airbyte messages as JSON lines to a binary stream."""

    def __init__(self, stream: t.BinaryIO) -> None:
        """Write to ``stream`` (the process's stdout, or a buffer in tests)."""
        self.stream = stream
        self._block = bytearray()
        self._lock = threading.Lock()
        #: Why the output was given up (then nothing is written to it again).
        self.abandoned: BaseException | None = None
        self.grace = SignalGrace()

    def record(self, lines: RecordLines, data: dict[str, t.Any], emitted_at: int) -> None:
        """Add the RECORD line of ``data`` (``lines.line``); the block is written when full.

        ``lines.line_into``, written out here: a record that cannot be encoded leaves no
        part of its line.
        """
        with self._lock:
            block = self._block
            start = len(block)
            block += lines.head
            try:
                encode_into(data, block)
            except BaseException:
                del block[start:]
                raise
            block += lines.middle
            block += b"%d" % emitted_at
            block += lines.tail
            if len(block) >= BLOCK_BYTES:
                self._write()

    def message(self, message: models.AirbyteMessage) -> None:
        """Write the pending records, then ``message``, and flush."""
        line = dump_line(message)
        with self._lock:
            self._block += line
            self._write()

    def lines(self, lines: bytes | bytearray) -> None:
        """Write the pending records, then ``lines`` (whole messages' lines), and flush."""
        with self._lock:
            self._block += lines
            self._write()

    def flush(self) -> None:
        """Write whatever records are pending (nothing once the output was abandoned)."""
        with self._lock:
            if self.abandoned is None:
                self._write()

    def bound(self, signal_name: str, exit_code: int) -> None:
        """A signal arrived: from now on a write waits for the destination about a second."""
        self.grace.bound(signal_name, exit_code)

    def abandon(self, error: BaseException) -> None:
        """Write nothing more to the output (its descriptor now points at /dev/null)."""
        self.abandoned = error
        self._block = bytearray()
        if self.stream is getattr(sys.stdout, "buffer", None):
            discard_stdout()

    def _write(self) -> None:
        block, self._block = self._block, bytearray()
        if self.abandoned is not None:
            raise self.abandoned
        try:
            with self.grace.write():
                write_whole(self.stream, block)  # every byte, or a failure (``whole_writes.py``)
                flush_whole(self.stream)
        except (OSError, ValueError, OutputStalledError) as exc:  # ValueError: a closed file
            self.abandon(exc)
            raise

    # -- the message kinds the source sends besides records and states -----------------

    def log(self, level: models.Level, text: str, stack_trace: str | None = None) -> None:
        """A LOG message."""
        self.message(
            models.AirbyteMessage(
                type=models.Type.LOG,
                log=models.AirbyteLogMessage(level=level, message=text, stack_trace=stack_trace),
            )
        )

    def stream_status(
        self,
        stream: str,
        status: models.AirbyteStreamStatus,
        reasons: list[models.AirbyteStreamStatusReason] | None = None,
    ) -> None:
        """A stream status TRACE."""
        self.message(
            models.AirbyteMessage(
                type=models.Type.TRACE,
                trace=models.AirbyteTraceMessage(
                    type=models.TraceType.STREAM_STATUS,
                    emitted_at=now_ms(),
                    stream_status=models.AirbyteStreamStatusTraceMessage(
                        stream_descriptor=models.StreamDescriptor(name=stream),
                        status=status,
                        reasons=reasons,
                    ),
                ),
            )
        )

    def error(
        self,
        text: str,
        failure: models.FailureType,
        internal: str | None = None,
        stack_trace: str | None = None,
    ) -> None:
        """An error TRACE: ``text`` is the one line a person reads."""
        self.message(
            models.AirbyteMessage(
                type=models.Type.TRACE,
                trace=models.AirbyteTraceMessage(
                    type=models.TraceType.ERROR,
                    emitted_at=now_ms(),
                    error=models.AirbyteErrorTraceMessage(
                        message=text,
                        internal_message=internal,
                        stack_trace=stack_trace,
                        failure_type=failure,
                    ),
                ),
            )
        )


class LogHandler(logging.Handler):
    """Every log record as an Airbyte LOG message, redacted (key, bearer, URL userinfo)."""

    def __init__(self, output: Output, level: int = logging.INFO) -> None:
        """Send records at ``level`` or above to ``output``."""
        super().__init__(level)
        self.output = output
        self.addFilter(redact.RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` as a LOG message (its traceback as ``stack_trace``).

        Dropped once the output is abandoned: the run's one last line says why.
        """
        if self.output.abandoned is not None:
            return
        try:
            text = redact.REDACTOR(record.getMessage())
            trace = record.exc_text
            if trace is None and record.exc_info and record.exc_info[1] is not None:
                trace = redact.REDACTOR("".join(traceback.format_exception(*record.exc_info)))
            level = _LEVELS.get(record.levelno, models.Level.INFO)
            self.output.log(level, text, trace)
        except Exception:  # a log line must never end the run
            if self.output.abandoned is None:  # pragma: no cover - a fault of the handler
                self.handleError(record)
