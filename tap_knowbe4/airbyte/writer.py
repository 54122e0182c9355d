"""The tap's messages as Airbyte messages: the message writer the source gives the tap.

The tap runs as it does for Singer; only what it writes changes:

* RECORD becomes an Airbyte RECORD (``emitted_at`` from the record's extraction time,
  the line laid out by the model once per stream: :class:`~.protocol.RecordLines`);
  the first record of a stream is preceded by its RUNNING status. The SDK's stream hands
  records to :meth:`AirbyteWriter.write_record` without a ``RecordMessage`` (seam 14 of
  ``sdk_seams.py``, as for the Singer writer);
* SCHEMA marks the start of a stream: its STARTED status (the schema itself is in the
  catalog);
* STATE becomes one STREAM state per configured stream whose own part changed or that sent
  records since its last state (:mod:`tap_knowbe4.airbyte.state`), each with the number of
  records it covers, its line laid out once per stream (:class:`~.state.StateLines`), the
  states of one Singer STATE written together;
* ACTIVATE_VERSION has no Airbyte counterpart: Airbyte replaces a full-refresh table once a
  stream is COMPLETE, which the source says only of a stream the tap read to its end.

In a connection check (``data=False``) records, states and schemas are not sent at all.
"""

from __future__ import annotations

import typing as t

from singer_sdk.singerlib import SingerMessageType
from singer_sdk.singerlib.encoding.base import GenericSingerWriter

from tap_knowbe4.airbyte.output import Output, now_ms
from tap_knowbe4.airbyte.protocol import RecordLines, models
from tap_knowbe4.airbyte.state import StateLines, shared_part, stream_parts, stream_state_of

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.singerlib import Message

STARTED = models.AirbyteStreamStatus.STARTED
RUNNING = models.AirbyteStreamStatus.RUNNING


class AirbyteWriter(GenericSingerWriter):
    """Writes the tap's Singer messages to ``output`` as Airbyte messages."""

    def __init__(
        self,
        output: Output,
        streams: t.Sequence[str],
        *,
        run_started_ms: int,
        data: bool = True,
    ) -> None:
        """Translate for the configured ``streams``; ``data=False`` sends no data at all."""
        self.output = output
        self.streams = list(streams)
        self.data = data
        self.started: set[str] = set()
        self.running: set[str] = set()
        #: Records sent per stream since that stream's last state.
        self.pending: dict[str, int] = dict.fromkeys(self.streams, 0)
        self._sent: dict[str, tuple[t.Any, t.Any]] = {}
        self._lines: dict[str, RecordLines] = {}
        self._state_lines: dict[str, StateLines] = {}
        #: The last ``time_extracted`` given to :meth:`write_record`, in ms.
        self._extracted: dt.datetime | None = None
        self._emitted_at = 0
        self._run = run_started_ms
        self._sequence = 0

    def bound(self, signal_name: str, exit_code: int) -> None:
        """A signal arrived: the destination gets about a second to read (the output's grace)."""
        self.output.bound(signal_name, exit_code)

    def abandon(self, error: BaseException) -> None:
        """Write nothing more (a second signal: the source exits at once)."""
        self.output.abandon(error)

    def serialize_message(self, message: Message) -> bytes:
        """Not used: every message is translated in :meth:`write_message`."""
        raise NotImplementedError

    def write_message(self, message: Message) -> None:
        """Send the Airbyte counterpart of one Singer message (if it has one)."""
        if not self.data:
            return
        kind = message.type
        if kind == SingerMessageType.RECORD:
            self._record(t.cast("t.Any", message))
        elif kind == SingerMessageType.STATE:
            self.checkpoint(t.cast("t.Any", message).value)
        elif kind == SingerMessageType.SCHEMA:
            self.start(t.cast("t.Any", message).stream)

    def _record(self, message: t.Any) -> None:
        extracted = message.time_extracted
        emitted_at = int(extracted.timestamp() * 1000) if extracted else int(now_ms())
        self.output.record(self._lines_of(message.stream), message.record, emitted_at)
        pending = self.pending
        pending[message.stream] = pending.get(message.stream, 0) + 1

    def write_record(
        self,
        stream: str,
        record: dict[str, t.Any],
        version: int | None,  # Airbyte has no table versions
        time_extracted: dt.datetime,
    ) -> None:
        """Send the RECORD of ``RecordMessage(stream, record, version, time_extracted)``.

        The bytes :meth:`write_message` sends for that message, without the message:
        the SDK's stream hands each record here when the writer can take it (seam 14 of
        ``sdk_seams.py``), as it does to the Singer writer.
        """
        if not self.data:
            return
        lines = self._lines.get(stream)
        if lines is None:
            lines = self._lines_of(stream)
        if time_extracted is not self._extracted:  # seam 14 repeats one per millisecond
            self._emitted_at = int(time_extracted.timestamp() * 1000)
            self._extracted = time_extracted
        self.output.record(lines, record, self._emitted_at)
        pending = self.pending
        pending[stream] = pending.get(stream, 0) + 1

    def _lines_of(self, stream: str) -> RecordLines:
        """The RECORD lines of ``stream``; its RUNNING status before its first record."""
        lines = self._lines.get(stream)
        if lines is None:
            if stream not in self.running:
                self.start(stream)
                self.running.add(stream)
                self.output.stream_status(stream, RUNNING)
            lines = self._lines[stream] = RecordLines(stream)
        return lines

    def start(self, stream: str) -> None:
        """Send STARTED for ``stream`` (once)."""
        if stream not in self.started:
            self.started.add(stream)
            self.output.stream_status(stream, STARTED)

    def checkpoint(self, tap_state: t.Mapping[str, t.Any], *, final: bool = False) -> None:
        """STREAM states for the streams this state says something new about.

        ``final`` also sends those whose shared parts (budget, last run) changed, so every
        stream's state ends with the run's last word.
        """
        shared = shared_part(tap_state)
        pending = self.pending
        block = bytearray()
        for name, part in stream_parts(tap_state, self.streams).items():
            sent = self._sent.get(name)
            changed = sent is None or sent[0] != part or (final and sent[1] != shared)
            if not changed and not pending.get(name):
                continue
            self._sequence += 1
            lines = self._state_lines.get(name)
            if lines is None:
                lines = self._state_lines[name] = StateLines(name)
            value = stream_state_of(shared, name, part, (self._run, self._sequence))
            lines.line_into(block, value, pending.get(name, 0))
            self._sent[name] = (part, shared)
            pending[name] = 0
        if block:  # the states of one checkpoint in one write, after the records they cover
            self.output.lines(block)

    def flush(self) -> None:
        """Write the records still held."""
        self.output.flush()
