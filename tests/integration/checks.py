"""Compare what a loader wrote with the sandbox's ground truth, loader-independently.

Both the DuckDB and the PostgreSQL tests read their database into :class:`Table` objects
(column types plus key tuples) and hand them to the same assertions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from tests.ground_truth import endpoint_table, expected_records
from tests.singer_output import ALL_STREAMS

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Organization

#: Streams a default run extracts (every stream selected, the opt-in ones left out).
DEFAULT_STREAMS = tuple(s for s in ALL_STREAMS if not endpoint_table()[s].opt_in)
#: The opt-in streams: selected by default, read only when their setting is on.
OPT_IN_STREAMS = tuple(s for s in ALL_STREAMS if endpoint_table()[s].opt_in)

#: Timestamps whose values are compared with the ground truth, per stream.
TIMESTAMP_SAMPLES = {
    "users": "joined_on",
    "phishing_security_tests": "started_at",
    "training_enrollments": "enrollment_date",
}


@dataclasses.dataclass
class Table:
    """What a loader created for one stream."""

    name: str
    #: column name -> the database's type name, lower case.
    columns: dict[str, str]
    #: the stream's key columns, one tuple per row (normalized with :func:`norm`).
    keys: list[tuple[t.Any, ...]]
    #: key tuple -> value of the sampled timestamp column (naive UTC datetime), if any.
    sample: dict[tuple[t.Any, ...], t.Any] = dataclasses.field(default_factory=dict)


def read_tables(
    query: t.Callable[[str, list], list[tuple]],
    schema: str,
    catalog: dict[str, t.Any],
    placeholder: str,
) -> dict[str, Table]:
    """Read every table of ``schema`` through a DB-API ``query(sql, params) -> rows``.

    Column types, the stream's key tuples, and the sampled timestamp per key. Rows a
    version-aware target soft-deleted (``_sdc_deleted_at`` set) are not current rows.
    """
    tables: dict[str, Table] = {}
    p = placeholder
    tables_sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = " + p
    columns_sql = (
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = " + p + " AND table_name = " + p
    )
    names = [row[0] for row in query(tables_sql, [schema])]
    for name in names:
        columns = {col: kind.lower() for col, kind in query(columns_sql, [schema, name])}
        key = [k for k in key_properties(catalog, name) if k in columns] if name in catalog else []
        keys: list[tuple[t.Any, ...]] = []
        sample: dict[tuple[t.Any, ...], t.Any] = {}
        stamp = TIMESTAMP_SAMPLES.get(name)
        stamp = stamp if stamp in columns else None
        if key:
            selected = ", ".join(f'"{c}"' for c in [*key, *([stamp] if stamp else [])])
            sql = f'SELECT {selected} FROM "{schema}"."{name}"'
            if "_sdc_deleted_at" in columns:
                sql += " WHERE _sdc_deleted_at IS NULL"
            for row in query(sql, []):
                k = tuple(norm(c, v) for c, v in zip(key, row, strict=False))
                keys.append(k)
                if stamp:
                    sample[k] = row[-1]
        tables[name] = Table(name, columns, keys, sample)
    return tables


def norm(column: str, value: t.Any) -> t.Any:
    """Normalize a key value so database rows and ground-truth records compare equal."""
    if value is None:
        return None
    if column == "date" or isinstance(value, dt.date):
        return str(value)[:10]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return str(value)


def utc_naive(value: t.Any) -> dt.datetime | None:
    """A timestamp from the API (ISO string) or a database (datetime) as naive UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert isinstance(value, dt.datetime), value
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def expected_keys(org: Organization, stream: str, key: t.Sequence[str]) -> set[tuple]:
    """The distinct key tuples of ``stream``'s ground-truth records."""
    return {tuple(norm(k, rec.get(k)) for k in key) for rec in expected_records(org, stream)}


def date_time_properties(schema: dict[str, t.Any]) -> list[str]:
    """Top-level properties declared ``format: date-time``."""
    return [
        name
        for name, prop in schema.get("properties", {}).items()
        if prop.get("format") == "date-time"
    ]


def assert_matches_ground_truth(
    tables: dict[str, Table],
    org: Organization,
    catalog: dict[str, t.Any],
    streams: t.Iterable[str],
    timestamp_types: set[str],
) -> None:
    """Every stream landed whole: row count, keys, key uniqueness, timestamp types."""
    problems: list[str] = []
    for stream in streams:
        entry = catalog[stream]
        key = list(_key_properties(entry))
        table = tables.get(stream)
        if table is None:
            problems.append(f"{stream}: no table")
            continue
        expected = expected_keys(org, stream, key)
        got = set(table.keys)
        if len(table.keys) != len(got):
            problems.append(f"{stream}: duplicate keys {key} ({len(table.keys)} rows)")
        if got != expected:
            problems.append(
                f"{stream}: {len(got)} distinct {key} in the table, {len(expected)} expected; "
                f"missing {sorted(expected - got, key=str)[:5]}, "
                f"unexpected {sorted(got - expected, key=str)[:5]}"
            )
        for column in key:
            if column not in table.columns:
                problems.append(f"{stream}: key column {column} missing")
        for column in date_time_properties(entry["schema"]):
            kind = table.columns.get(column)
            if kind is None:
                problems.append(f"{stream}.{column}: missing")
            elif kind not in timestamp_types:
                problems.append(f"{stream}.{column}: {kind}, not a timestamp type")
        sampled = TIMESTAMP_SAMPLES.get(stream)
        if sampled and table.sample:
            truth = {
                tuple(norm(k, rec.get(k)) for k in key): utc_naive(rec.get(sampled))
                for rec in expected_records(org, stream)
            }
            wrong = [
                (k, v, truth.get(k))
                for k, v in table.sample.items()
                if utc_naive(v) != truth.get(k)
            ]
            if wrong:
                problems.append(f"{stream}.{sampled}: values differ, e.g. {wrong[:3]}")
    assert not problems, "\n".join(problems)


def _key_properties(entry: dict[str, t.Any]) -> t.Sequence[str]:
    if entry.get("key_properties"):
        return entry["key_properties"]
    for item in entry.get("metadata", []):
        if not item.get("breadcrumb"):
            return item.get("metadata", {}).get("table-key-properties", [])
    return []


def key_properties(catalog: dict[str, t.Any], stream: str) -> list[str]:
    """The key properties of ``stream`` in the discovered catalog."""
    return list(_key_properties(catalog[stream]))
