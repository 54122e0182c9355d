"""A warehouse that applies Singer as a version-aware target does.

The model, message by message, in the order the target reads them:

* ``SCHEMA``: the stream's table now has these ``key_properties``.
* ``RECORD``: upsert by primary key (the whole row is replaced); the row remembers the
  ``version`` the message carried (``None`` when it carried none) and the run that wrote it.
* ``BATCH``: every file of the manifest (``file://`` URLs; JSON lines, gzip or not) is read
  and each record upserted like a ``RECORD`` without a version. A file that cannot be read,
  or holds fields the stream's SCHEMA does not declare (a SQL target has no column for them),
  is a protocol violation.
* ``ACTIVATE_VERSION``: hard delete of the stream's rows whose version is older than the
  message's. Rows that carry no version (from BATCH files) are never deleted: that is what
  the SDK's SQL targets do (``DELETE ... WHERE _sdc_table_version < :version``); every
  deletion is kept in :attr:`Warehouse.deletions` for the oracle.
* ``STATE``: acknowledged at once, since everything before it was applied.

An Airbyte run (:meth:`Warehouse.begin_run` given the catalog's keys) is applied as a
destination that deduplicates by key (PyAirbyte's merge; the platform's ``append_dedup``):
``RECORD`` upserts
``record.data``, a ``STREAM`` ``STATE`` is acknowledged (the message, for the runner to keep
per stream), ``TRACE`` and ``LOG`` are kept for the oracle in :attr:`Warehouse.traces`. A
PyAirbyte read that fails loads nothing: the runner puts the tables back
(:meth:`Warehouse.snapshot`, :meth:`Warehouse.restore`). A platform sync that succeeded
replaces each ``full_refresh`` stream's table by the rows it sent (:meth:`Warehouse.overwrite`,
kept in :attr:`Warehouse.deletions` like an ACTIVATE_VERSION's); PyAirbyte deletes nothing.

A stream map's ``__alias__`` needs nothing special: the target sees the alias as the stream.
Anything that is not a Singer message (a line that is not JSON, a RECORD before its SCHEMA,
a record without its key) is kept in :attr:`Warehouse.problems`.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import typing as t
from urllib.parse import urlsplit


@dataclasses.dataclass
class Row:
    """One row: the record as loaded, the version it carried, the run that wrote it."""

    record: dict
    version: int | None
    run: int


@dataclasses.dataclass
class Deletion:
    """Rows an ACTIVATE_VERSION deleted."""

    run: int
    stream: str
    version: int
    keys: list[tuple]
    #: ``ACTIVATE_VERSION``, or ``overwrite`` (an Airbyte full-refresh table replaced).
    kind: str = "ACTIVATE_VERSION"


class Warehouse:
    """Tables by stream name, keyed by primary key."""

    def __init__(self) -> None:
        """An empty warehouse."""
        self.tables: dict[str, dict[tuple, Row]] = {}
        self.key_properties: dict[str, tuple[str, ...]] = {}
        #: The columns each stream's SCHEMA declares.
        self.columns: dict[str, set[str]] = {}
        self.deletions: list[Deletion] = []
        self.problems: list[str] = []
        self.run = 0
        #: Streams activated in the current run.
        self.activated: set[str] = set()
        #: Files the BATCH messages named (the oracle searches them for the key).
        self.batch_files: list[str] = []
        #: ``singer``, or ``airbyte`` for the current run.
        self.protocol = "singer"
        #: The current Airbyte run's TRACE messages.
        self.traces: list[dict] = []
        #: The newest table version any message carried (``table_clock``).
        self.newest_version = 0

    def begin_run(self, run: int, airbyte_keys: dict[str, tuple[str, ...]] | None = None) -> None:
        """Messages from now on belong to run ``run`` (an Airbyte run's, given its keys)."""
        self.run = run
        self.activated = set()
        self.traces = []
        self.protocol = "singer" if airbyte_keys is None else "airbyte"
        if airbyte_keys is not None:
            self.key_properties.update(airbyte_keys)

    def snapshot(self) -> dict[str, dict[tuple, Row]]:
        """The tables as they are (rows are replaced, never changed, so a shallow copy)."""
        return {name: dict(rows) for name, rows in self.tables.items()}

    def restore(self, tables: dict[str, dict[tuple, Row]]) -> None:
        """Put back the tables of :meth:`snapshot` (a runner that loaded nothing of a run)."""
        self.tables = {name: dict(rows) for name, rows in tables.items()}

    def apply_line(self, line: bytes) -> dict | None:
        """Apply one line of the tap's output; the STATE value when it was a STATE."""
        text = line.strip()
        if not text:
            return None
        try:
            message = json.loads(text)
        except ValueError:
            self.problems.append(f"not a JSON line: {text[:80]!r}")
            return None
        if not isinstance(message, dict):
            self.problems.append(f"not a message: {text[:80]!r}")
            return None
        return self.apply(message)

    def apply(self, message: dict) -> dict | None:
        """Apply one Singer message; the STATE value when it was a STATE."""
        if self.protocol == "airbyte":
            return self._airbyte(message)
        kind = message.get("type")
        stream = message.get("stream")
        if kind == "SCHEMA":
            self.key_properties[str(stream)] = tuple(message.get("key_properties") or ())
            schema = message.get("schema")
            properties = schema.get("properties") if isinstance(schema, dict) else None
            self.columns[str(stream)] = set(properties or ())
            self.tables.setdefault(str(stream), {})
        elif kind == "RECORD":
            self._upsert(str(stream), message.get("record"), message.get("version"))
        elif kind == "BATCH":
            self._batch(str(stream), message)
        elif kind == "ACTIVATE_VERSION":
            self._activate(str(stream), message.get("version"))
        elif kind == "STATE":
            value = message.get("value")
            if not isinstance(value, dict):
                self.problems.append("a STATE whose value is not an object")
                return None
            return value
        else:
            self.problems.append(f"unknown message type {kind!r}")
        return None

    def _airbyte(self, message: dict) -> dict | None:
        """Apply one Airbyte message; the state message when it was a STATE."""
        kind = message.get("type")
        if kind == "RECORD":
            record = message.get("record")
            if not isinstance(record, dict):
                self.problems.append("an Airbyte RECORD without its record")
                return None
            self._upsert(str(record.get("stream")), record.get("data"), None)
        elif kind == "STATE":
            state = message.get("state")
            if not isinstance(state, dict) or not isinstance(state.get("stream"), dict):
                self.problems.append(f"an Airbyte STATE that is not a STREAM state: {state}")
                return None
            return state
        elif kind == "TRACE":
            self.traces.append(message.get("trace") or {})
        elif kind != "LOG":
            self.problems.append(f"unknown Airbyte message type {kind!r}")
        return None

    def _upsert(self, stream: str, record: object, version: object) -> None:
        keys = self.key_properties.get(stream)
        if keys is None:
            self.problems.append(f"RECORD of {stream} before its SCHEMA")
            return
        if not isinstance(record, dict):
            self.problems.append(f"RECORD of {stream} whose record is not an object")
            return
        if not keys or any(record.get(k) is None for k in keys):
            self.problems.append(f"RECORD of {stream} without its key {keys}")
            return
        number = version if isinstance(version, int) and not isinstance(version, bool) else None
        if number is not None and number > self.newest_version:
            self.newest_version = number
        key = tuple(record[k] for k in keys)
        self.tables.setdefault(stream, {})[key] = Row(record, number, self.run)

    def _batch(self, stream: str, message: dict) -> None:
        manifest = message.get("manifest")
        if not isinstance(manifest, list):
            self.problems.append(f"BATCH of {stream} without a manifest list")
            return
        for url in manifest:
            path = urlsplit(str(url)).path
            self.batch_files.append(path)
            try:
                with open(path, "rb") as raw:
                    data = raw.read()
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
            except OSError as exc:
                self.problems.append(f"BATCH file of {stream} cannot be read: {exc}")
                continue
            undeclared: set[str] = set()
            for line in data.splitlines():
                if line.strip():
                    record = json.loads(line)
                    if isinstance(record, dict):
                        undeclared |= set(record) - self.columns.get(stream, set(record))
                    self._upsert(stream, record, None)
            if undeclared:  # a SQL target has no column for them: their values are lost
                self.problems.append(
                    f"BATCH file of {stream} holds fields its SCHEMA does not declare: "
                    f"{sorted(undeclared)[:4]}"
                )

    def _activate(self, stream: str, version: object) -> None:
        if not isinstance(version, int) or isinstance(version, bool):
            self.problems.append(f"ACTIVATE_VERSION of {stream} without a version")
            return
        self.newest_version = max(self.newest_version, version)
        table = self.tables.get(stream, {})
        gone = [k for k, row in table.items() if row.version is not None and row.version < version]
        for key in gone:
            del table[key]
        self.deletions.append(Deletion(self.run, stream, version, gone))
        self.activated.add(stream)

    def overwrite(self, stream: str) -> None:
        """Replace ``stream``'s table by the rows this run wrote (an Airbyte platform sync that
        succeeded, for a stream configured ``full_refresh`` / ``overwrite``)."""
        table = self.tables.get(stream, {})
        gone = [k for k, row in table.items() if row.run != self.run]
        for key in gone:
            del table[key]
        self.deletions.append(Deletion(self.run, stream, 0, gone, kind="overwrite"))

    def keys(self, stream: str) -> set[tuple]:
        """Primary keys of the rows of ``stream``."""
        return set(self.tables.get(stream, {}))

    def rows(self, stream: str) -> dict[tuple, Row]:
        """The rows of ``stream`` by key."""
        return self.tables.get(stream, {})

    def written_in(self, run: int) -> t.Iterator[tuple[str, tuple, Row]]:
        """Every row last written by run ``run``."""
        for stream, table in self.tables.items():
            for key, row in table.items():
                if row.run == run:
                    yield stream, key, row
