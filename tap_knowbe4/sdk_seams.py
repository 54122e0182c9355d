"""Every place the tap relies on the Singer SDK beyond its public API, in one file.

The SDK (singer-sdk 0.54) has no public hook for a few things the tap must do. Each of them
is here, under a public name the rest of the tap uses, with the reason, and a test of its
*behaviour* in ``tests/test_sdk_seams.py`` (named after the seam) that fails when an SDK
upgrade changes what the seam assumes. Upgrading the SDK is then a change to this file.
No other module of the tap imports a private SDK module, calls or overrides a private SDK
method, or reads a private SDK attribute (``test_no_other_module_reaches_into_the_sdk``).

The seams:

1. :func:`environment_settings` -- the SDK's reader of its *own* settings (stream maps,
   flattening, batch) from ``TAP_KNOWBE4_*`` variables, a private module; the tap reads
   its own settings itself (``tap.py``).
2. :meth:`SeamedStream._write_schema_message` -- SCHEMA once per stream: the SDK sends it
   at every ``sync(context)``, i.e. once per parent record of a child stream.
3. :meth:`SeamedStream._write_activate_version_message` -- the SDK sends ACTIVATE_VERSION
   when a stream *starts*; the tap holds it (:meth:`SeamedStream.hold_activate_version`)
   and sends it itself (:meth:`SeamedStream.send_activate_version`) once the stream is
   complete, since a version-aware target deletes every row not re-sent after it.
   The version records carry is :meth:`SeamedStream.table_version`: a read that spans
   runs keeps the version it began with, so the ACTIVATE_VERSION that ends it keeps the
   rows the earlier runs sent.
4. :meth:`SeamedStream.records_without_messages`, :meth:`SeamedStream.send_batch`,
   :meth:`SeamedStream.send_state` -- a child stream's BATCH files span its parents, which
   needs the SDK's record loop without messages and its BATCH and STATE writers.
5. :meth:`SeamedTap.sync_all` -- marked final by the SDK; extended (not replaced) so the
   run is settled once, after every stream (:meth:`SeamedTap.sync_and_settle`).
   :meth:`SeamedStream.sync` likewise, so a stream ends as a step of its own after the SDK
   wrote what it read (:meth:`SeamedStream.sync_then_end`), not in the tail of a generator.
6. :func:`signals_taken_over` -- the SDK's constructor installs a SIGTERM/SIGINT handler
   that writes the state and exits 0 (an orchestrator would record a complete run); the
   tap replaces it with its own, with the signals held while the SDK's is in place.
7. :data:`SDK_RETRIED` -- what the SDK's ``request_decorator`` retries, so that an error
   outside it is reported as "not retried".
8. :data:`SDK_LINES_DEMOTED` -- SDK log lines the tap demotes to DEBUG by their text.
9. :meth:`SeamedStream._increment_stream_state` and
   :meth:`SeamedStream._write_starting_replication_value` -- a stream with a replication key
   (the risk histories, incremental on ``date``: the catalog says so, for Meltano and
   Airbyte) would have the SDK keep bookmarks of its own in the state, per record, that
   nothing reads; the tap's state (:class:`tap_knowbe4.state.TapState`) is the one owner,
   so the SDK keeps none (its ``bookmarks`` stay empty).
10. :meth:`SeamedStream.records_as_written` -- BATCH files hold what RECORD messages would
    have held: the SDK shapes a record (catalog selection, type conformance, each stream
    map: its filter, properties, alias, flattening) only as it writes RECORD messages, in
    ``_generate_record_messages``; the tap's BATCH files take the records from there.
    :meth:`SeamedStream.send_batch` then names one stream map's alias per BATCH message
    (the SDK names every alias of the stream, with the same files, in each).
11. :meth:`SeamedStream._generate_record_messages` -- the SDK walks every record for
    deselected properties and for type conformance before it makes the RECORD message, even
    when the catalog deselects nothing and conformance is off (the tap's cleaner makes
    records fit, :mod:`tap_knowbe4.records`): a tenth of the CPU of a read. Then the walks
    are skipped; the messages are the SDK's (its stream maps, version, ``time_extracted``).
    The SDK's default map (no stream map, no flattening) returns the record it is given,
    through three calls per record: it is not called.
12. :meth:`SeamedStream._process_record` -- the SDK syncs a record's child streams only when
    the parent stream's first map keeps the record: a ``__filter__`` on ``users`` (or a map
    removing ``users``) left the risk histories of the users it filtered out unread, and the
    child stream ended complete without them (SIM-12). A map shapes what its own stream
    sends; the children of every parent record are read.
13. :func:`written_encoding` -- the SDK's JSON Lines batcher gzips every file (``.json.gz``)
    whatever ``batch_config.encoding.compression`` says, and its BATCH message repeats the
    setting: with ``none`` (or none given) a target read gzip bytes as JSON lines and failed
    (attack 5 #2). :meth:`SeamedStream.send_batch` names the compression the files have.
14. :meth:`SeamedStream._write_record_message` -- the SDK makes a ``RecordMessage`` per
    record (a dataclass, its ``time_extracted`` converted to UTC again), hands it to the
    tap's writer, which makes a dict of it to encode: about a tenth of a read's CPU. When
    the walks of seam 11 are skipped and the writer can write a record line itself
    (``write_record``, :class:`tap_knowbe4.writer.BufferedRecordWriter`), it gets each
    map's alias, record, version and ``time_extracted`` instead: the same bytes
    (``tests/test_sdk_seams.py``), no message object. ``time_extracted`` is read from
    :data:`EXTRACTION_CLOCK`: one datetime per millisecond, not one per record.
15. :meth:`SeamedTap.setup_mapper` -- the SDK's mapper takes ``__else__`` out of the
    ``stream_maps`` it is given, the config's own dict: the config then no longer said that
    ``__else__: null`` removes every stream no map names, and the state kept what such a
    stream's run read (bookmarks, settled tests) under the shape of the stream sent whole
    (attack 10 #1). The mapper gets a copy; the config keeps what it was given.
16. :meth:`SeamedTap.load_streams` -- marked final by the SDK, which orders the streams by
    name, the order ``sync_all`` reads them in; extended (not replaced): the SDK's list,
    sorted again by :meth:`SeamedTap.stream_order` (the callback phishing streams right
    after their email siblings, whose endpoint they share).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import signal
import sys
import threading
import time
import typing as t

import requests
from singer_sdk import RESTStream, Tap
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers._batch import (
    BaseBatchFileEncoding,
    BatchConfig,
    BatchFileFormat,
    SDKBatchMessage,
)
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform, StreamMap
from singer_sdk.singerlib import RecordMessage

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams import Stream

__all__ = [
    "SDK_LINES_DEMOTED",
    "SDK_RETRIED",
    "BaseBatchFileEncoding",
    "BatchConfig",
    "SeamedStream",
    "SeamedTap",
    "environment_settings",
    "override",
    "signals_taken_over",
]

_TToken = t.TypeVar("_TToken")

#: 7. What ``RESTStream.request_decorator`` retries (its ``backoff.on_exception`` list).
SDK_RETRIED: tuple[type[BaseException], ...] = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

#: 8. SDK lines the tap demotes to DEBUG, by their first words: the per-stream error line
#: (the tap ends a stopped run with one line that says why); "Skipping parse of env var
#: settings" (the tap reads them itself, and says so). (The SDK's warning that an unsorted
#: stream's "progress is not resumable" is not said at all since it keeps no bookmarks: 9.)
SDK_LINES_DEMOTED: dict[str, str] = {
    "stream error": "An unhandled error occurred while syncing",
    "environment": "Skipping parse of env var settings",
}


def environment_settings(schema: dict[str, t.Any], prefix: str) -> dict[str, t.Any]:
    """1. The SDK's settings in ``schema`` from ``<prefix><NAME>`` variables, as it reads them.

    Like the SDK, this first loads a ``.env`` file (searched from the working directory up)
    into the environment. Raises ``ValueError`` for a value it cannot read.
    """
    return parse_environment_config(schema, prefix)


@contextlib.contextmanager
def signals_taken_over(handler: t.Callable[[int, t.Any], None]) -> t.Iterator[None]:
    """6. Build the tap inside this block; afterwards SIGTERM and SIGINT go to ``handler``.

    The SDK installs its own handler while the tap is built (``PluginBase.__init__``); the
    signals are held (blocked, never lost) until ``handler`` replaces it. Only the main
    thread handles signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = {signal.SIGTERM, signal.SIGINT}
    held = signal.pthread_sigmask(signal.SIG_BLOCK, caught)
    try:
        yield
        for signum in caught:
            signal.signal(signum, handler)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _passes_records_unchanged(stream_map: StreamMap) -> bool:
    """11. True for the SDK's default map without flattening (it sends records as they are).

    Its ``transform`` returns the record it is given: ``SameRecordTransform`` →
    ``flatten_record`` → the record.
    """
    return type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled


class MillisecondClock:
    """``datetime.now(UTC)`` for records' ``time_extracted``, read once per millisecond.

    The SDK reads the clock and builds a datetime for every record (about 0.4 µs of a
    record's 14 µs in ``bench/cpu_per_record.py``'s read); records of one page are
    extracted together, so within one millisecond (by ``clock``, seconds) the same datetime
    is given again, and a writer may keep what it made of it (seam 14).
    """

    def __init__(self, clock: t.Callable[[], float] = time.time) -> None:
        """Read ``clock`` (seconds since the epoch) for every record, the datetime per ms."""
        self._clock = clock
        self._ms = -1
        self._now = datetime.datetime.fromtimestamp(0, datetime.timezone.utc)

    def now(self) -> datetime.datetime:
        """The time, in UTC, to the microsecond at the start of this millisecond's reads."""
        seconds = self._clock()
        ms = int(seconds * 1000)
        if ms != self._ms:
            self._ms = ms
            self._now = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
        return self._now


#: The one clock of records written through seam 14.
EXTRACTION_CLOCK = MillisecondClock()


class SeamedStream(RESTStream[_TToken]):
    """The SDK's REST stream, its private message writers behind public names (seams 2-4)."""

    _schema_sent = False
    #: 11. The selection mask found to select every property (conformance off).
    _mask_selecting_all: object = None
    #: 11. Each stream map's alias, whether it sends records as they are, and the map.
    _record_maps: list[tuple[str, bool, StreamMap]]

    @override
    def _write_schema_message(self) -> None:
        """2. SCHEMA once per stream per run (the SDK: at every ``sync(context)``)."""
        if not self._schema_sent:
            super()._write_schema_message()
            self._schema_sent = True

    @override
    def _write_activate_version_message(self, full_table_version: int) -> None:
        """3. The SDK wants ACTIVATE_VERSION out now, as the stream starts: held instead.

        The stream's records carry :meth:`table_version` (the SDK's: when this run started).
        """
        version = self.table_version(full_table_version)
        self._stream_version = version
        self.hold_activate_version(version)

    def table_version(self, version: int) -> int:
        """3. The version this sync's records carry (override: a read that spans runs)."""
        return version

    def own_table_version(self) -> None:
        """3. From now on records carry this run's own version, and ACTIVATE_VERSION ends it.

        For a read that began in an earlier run and starts over in this one: every row is
        sent again, so rows an earlier run sent that are gone upstream must not be kept.
        """
        if self._stream_version is None:
            return
        self._stream_version = self._initialized_at // 1000
        self.hold_activate_version(self._stream_version)

    def hold_activate_version(self, version: int) -> None:
        """3. The SDK's ACTIVATE_VERSION for ``version``, held (override to keep it)."""

    def send_activate_version(self, version: int) -> None:
        """3. Send ACTIVATE_VERSION for ``version`` now (once per stream map, as the SDK does)."""
        super()._write_activate_version_message(version)

    def records_without_messages(self, context: Context | None) -> t.Iterator[dict]:
        """4. The stream's records as the SDK's loop yields them, writing no message."""
        return iter(self._sync_records(context, write_messages=False))

    def records_as_written(self, record: dict[str, t.Any]) -> t.Iterator[tuple[str, dict]]:
        """10. What the RECORD messages for ``record`` would hold: ``(stream, record)`` each.

        One pair per stream map that keeps the record (none when a map filters it out or
        removes the stream), under the map's alias, shaped as the SDK shapes a RECORD:
        deselected properties left out (in place), types conformed, the map's properties and
        flattening applied. The SDK's own code, so BATCH files cannot drift from RECORDs.
        """
        for message in self._generate_record_messages(record):
            yield message.stream, message.record

    @override
    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> t.Generator[RecordMessage, None, None]:
        """11. The SDK's RECORD messages of ``record``, without walks that change nothing.

        When the catalog selects every property of the stream and type conformance is off,
        the SDK's pruning and conformance would return the record as it is; the messages are
        made as the SDK makes them (one per stream map, unless the map filters the record).
        """
        record_maps = self._unwalked_maps()
        if record_maps is None:
            yield from super()._generate_record_messages(record)
            return
        version = self._stream_version
        for alias, unchanged, stream_map in record_maps:
            mapped = record if unchanged else stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=alias,
                    record=mapped,
                    version=version,
                    time_extracted=datetime.datetime.now(datetime.timezone.utc),
                )

    def _unwalked_maps(self) -> list[tuple[str, bool, StreamMap]] | None:
        """11. Each stream map's alias, whether it sends records as they are, and the map.

        None when the SDK's walks are needed: a property deselected, or conformance on.
        """
        mask = self.mask
        if mask is not self._mask_selecting_all:  # decided once per mask
            if self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE or not all(mask.values()):
                return None
            self._mask_selecting_all = mask
            self._record_maps = [
                (stream_map.stream_alias, _passes_records_unchanged(stream_map), stream_map)
                for stream_map in self.stream_maps
            ]
        return self._record_maps

    @override
    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        """14. The RECORD messages of ``record`` written, as lines when the writer can.

        What each line holds is what :meth:`_generate_record_messages` makes (seam 11);
        a writer with ``write_record`` writes it without a message object.
        """
        mask = self._mask  # the SDK's mask as resolved; decided for it already: no call
        record_maps = (
            self._record_maps
            if mask is not None and mask is self._mask_selecting_all
            else self._unwalked_maps()
        )
        write_record = getattr(self._tap.message_writer, "write_record", None)
        if record_maps is None or write_record is None:
            super()._write_record_message(record)
            return
        version = self._stream_version
        extracted = EXTRACTION_CLOCK.now()
        for alias, unchanged, stream_map in record_maps:
            mapped = record if unchanged else stream_map.transform(record)
            if mapped is not None:
                write_record(alias, mapped, version, extracted)
        self.state_manager.is_flushed = False  # as the SDK's: a STATE may follow

    def send_batch(self, stream: str, encoding: BaseBatchFileEncoding, manifest: list[str]) -> None:
        """4, 10, 13. Send a BATCH message naming ``manifest`` for ``stream`` (one map's alias).

        The message names the encoding the files have (:func:`written_encoding`).
        """
        self._tap.write_message(
            SDKBatchMessage(stream=stream, encoding=written_encoding(encoding), manifest=manifest)
        )
        self.state_manager.is_flushed = False  # as the SDK's writer: a STATE may follow

    @override
    def _process_record(
        self,
        record: dict[str, t.Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        """12. The SDK's processing of a read record, its children synced whatever maps say.

        As the SDK: the partition's keys are added to the record where missing, and each
        child context it gives is synced; unlike it, also when the stream map filters the
        record out of this stream's own output.
        """
        if partition_context:
            for key, value in partition_context.items():
                record.setdefault(key, value)
        if not self.child_streams:  # nothing to sync (the SDK's ``_sync_children`` loop)
            return
        for context in self.generate_child_contexts(record=record, context=child_context):
            self._sync_children(copy.copy(context))

    def send_state(self) -> None:
        """4. Send the state as a STATE message, if anything changed since the last one."""
        self._write_state_message()

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Context | None = None
    ) -> None:
        """9. The SDK's bookmark, advanced per record: not kept (the tap's state is)."""

    @override
    def _write_starting_replication_value(self, context: Context | None) -> None:
        """9. The SDK's record of the value a stream starts from: not kept either."""

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """9. No signpost (the SDK's cap on its own bookmarks; the tap keeps none)."""
        return

    @override  # type: ignore[misc]  # final in the SDK: extended, not replaced
    def sync(self, context: Context | None = None) -> None:
        """5. Sync the stream (the SDK's ``sync``: records, BATCH files), then end it."""
        self.sync_then_end(super().sync, context)

    def sync_then_end(
        self, sync: t.Callable[[Context | None], None], context: Context | None
    ) -> None:
        """Run ``sync`` (the SDK's sync of this stream) and end the stream (override)."""
        sync(context)


def written_encoding(encoding: BaseBatchFileEncoding) -> BaseBatchFileEncoding:
    """13. The encoding of the files the SDK's batcher wrote for ``encoding`` (the setting).

    Its JSON Lines batcher gzips every file, whatever the compression setting says.
    """
    if encoding.format == BatchFileFormat.JSONL and encoding.compression != "gzip":
        return BaseBatchFileEncoding(format=encoding.format, compression="gzip")
    return encoding


class SeamedTap(Tap):
    """The SDK's tap, its final ``sync_all`` extended through one method (seam 5)."""

    @override
    def setup_mapper(self) -> None:
        """15. The SDK's mapper, made from a copy of ``stream_maps`` (it pops ``__else__``)."""
        maps = self.config.get("stream_maps")
        if not isinstance(maps, dict):
            super().setup_mapper()
            return
        self._config["stream_maps"] = copy.deepcopy(maps)
        try:
            super().setup_mapper()
        finally:
            self._config["stream_maps"] = maps

    @override  # type: ignore[misc]  # final in the SDK: extended, not replaced
    def load_streams(self) -> list[Stream]:
        """16. The SDK's streams (ordered by name), sorted again by :meth:`stream_order`."""
        return sorted(super().load_streams(), key=self.stream_order)

    def stream_order(self, stream: Stream) -> t.Any:
        """The key the streams are read in: the SDK's, by name (override to move some)."""
        return stream.name

    @override  # type: ignore[misc]  # final in the SDK: extended, not replaced
    def sync_all(self) -> None:
        """5. Sync every selected stream (the SDK's loop), then settle the run."""
        self.sync_and_settle(super().sync_all)

    def sync_and_settle(self, sync_streams: t.Callable[[], None]) -> None:
        """Run ``sync_streams`` (the SDK's loop over the streams) and settle the run."""
        sync_streams()
