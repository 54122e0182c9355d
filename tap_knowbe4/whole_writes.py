"""Every byte of a block reaches the output, or the write fails: never a part, silently.

A binary stdout is not always Python's buffered writer. Under ``PYTHONUNBUFFERED=1`` (set in
most container images and CI runners) ``sys.stdout.buffer`` is the raw file, whose
``write`` may write only part of what it is given: when a signal interrupts a write into a
full pipe, and always when the pipe is non-blocking (then it may also write nothing and
return ``None``). A caller that ignores the count drops the rest of the block, and the next
block follows a cut line, under a STATE that claims the records in between. A non-blocking
stdout (a parent process may leave its pipe so) makes the buffered writer raise
``BlockingIOError`` instead, which is no failure of the target either.

:func:`write_whole` writes until every byte is written, waiting for the output to take more
when it says it would block; :func:`flush_whole` flushes the same way. A signal handler that
raises (the writer's grace after SIGTERM, ``writer.py``) still ends the wait.
"""

from __future__ import annotations

import select
import typing as t


def write_whole(stream: t.BinaryIO, data: bytes | bytearray) -> None:
    """Write all of ``data`` to ``stream``, however many ``write`` calls that takes."""
    view = memoryview(data)
    while view:
        try:
            written = stream.write(view)
        except BlockingIOError as exc:  # the buffered writer took this much, then would block
            written = exc.characters_written
        if written is None or written < len(view):  # a raw file: a part, or nothing (None)
            _wait_writable(stream)
        view = view[written or 0 :]


def flush_whole(stream: t.IO[t.Any]) -> None:
    """Flush ``stream``, waiting for a non-blocking output to take what it holds."""
    while True:
        try:
            stream.flush()
        except BlockingIOError:
            _wait_writable(stream)
        else:
            return


def _wait_writable(stream: t.IO[t.Any]) -> None:
    """Wait until the descriptor under ``stream`` takes more bytes (or reports an error)."""
    poller = select.poll()
    poller.register(stream.fileno(), select.POLLOUT)
    poller.poll()
