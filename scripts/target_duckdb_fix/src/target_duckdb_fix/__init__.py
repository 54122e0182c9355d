r"""target-duckdb 0.8.0 with two fixes, then target-duckdb's own ``main``.

1. **No lost rows.** target-duckdb writes each batch to a header-less CSV file and loads it
   with ``COPY <table> FROM '<file>' WITH (new_line '\r\n')``. DuckDB's CSV sniffer then
   decides by itself whether the first line is a header, and for many batches it decides that
   it is: one record per stream per batch disappears without an error (duckdb/duckdb#21653).
   The fix, ``HEADER 0``, is merged upstream (jwills/target-duckdb#58) but not released on
   PyPI (0.8.0 is the latest); it is applied here, and changes nothing once released.
2. **No flush per repeated SCHEMA.** target-duckdb flushes every stream (a temp table, a COPY,
   an UPDATE and an INSERT each) whenever a SCHEMA message arrives for a stream with pending
   rows. Singer SDK taps send a child stream's SCHEMA again for every parent record, so a
   KnowBe4 run caused ~300 flushes: 17.6 s instead of 1.7 s for 8,500 records. A SCHEMA
   message identical to the last one of its stream changes nothing and is skipped.
"""

from __future__ import annotations

import json
import typing as t

import target_duckdb
from target_duckdb import db_sync
from target_duckdb import main as _target_main


class _HeaderlessCopy:
    """A DuckDB connection proxy that makes ``COPY ... FROM`` treat every line as data."""

    def __init__(self, conn: t.Any) -> None:
        self._conn = conn

    def execute(self, query: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        text = query.lstrip()
        if (
            text[:5].upper() == "COPY "
            and " FROM " in text.upper()
            and "HEADER" not in text.upper()
        ):
            query = query.replace("WITH (", "WITH (HEADER 0, ", 1)
        return self._conn.execute(query, *args, **kwargs)

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._conn, name)


_load_rows = db_sync.DbSync.load_rows


def _load_rows_headerless(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
    conn = self.conn
    self.conn = _HeaderlessCopy(conn)
    try:
        return _load_rows(self, *args, **kwargs)
    finally:
        self.conn = conn


db_sync.DbSync.load_rows = _load_rows_headerless  # type: ignore[method-assign]


_persist_lines = target_duckdb.persist_lines


def skip_repeated_schemas(lines: t.Iterable[str]) -> t.Iterator[str]:
    """Yield ``lines`` without SCHEMA messages identical to their stream's previous one."""
    last: dict[str, t.Any] = {}
    for line in lines:
        if '"SCHEMA"' in line:
            try:
                message = json.loads(line)
            except ValueError:
                yield line  # target-duckdb reports the bad line itself
                continue
            if message.get("type") == "SCHEMA":
                stream = message.get("stream")
                if last.get(stream) == message:
                    continue
                last[stream] = message
        yield line


def _persist_lines_once_per_schema(connection: t.Any, config: t.Any, lines: t.Any) -> t.Any:
    return _persist_lines(connection, config, skip_repeated_schemas(lines))


target_duckdb.persist_lines = _persist_lines_once_per_schema


def main() -> None:
    """Run target-duckdb with the fixes applied."""
    _target_main()
