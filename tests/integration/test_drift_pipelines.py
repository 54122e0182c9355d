"""The API as it drifts, loaded by real targets: nothing the server sent is missing.

The sandbox's ``drift`` profile pages every list by cursor (``page`` ignored, the cursor in a
header, a link or one of three envelopes), adds fields no client knows to the second half of
every list (they appear mid-sync), sends fields the API dropped years ago, lists some
enrollments again with other content, and sends every timestamp at an offset from UTC
(``-05:00``, ``+05:30``, ``+14:00``...). ``meltano run tap-knowbe4 target-duckdb`` and
``target-postgres`` must load every row, the unknown fields in ``_extra_fields`` of exactly the
rows that carried them, the old fields in their columns, and, for a key listed twice, the
version listed last (what an upserting target keeps).
"""

from __future__ import annotations

import json
import typing as t

import duckdb
import psycopg
import pytest

from tap_knowbe4.sandbox.drift import NEW_FIELDS, NEW_STUB_FIELD
from tests.ground_truth import expected_records
from tests.integration.checks import (
    assert_matches_ground_truth,
    date_time_properties,
    key_properties,
    norm,
    read_tables,
    utc_naive,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tap_knowbe4.sandbox import Sandbox
    from tests.integration.conftest import Meltano
    from tests.integration.pgcluster import PostgresCluster

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("drift_pipelines")]

STREAMS = ("users", "phishing_security_tests", "training_enrollments")
SELECT = json.dumps([f"{s}.*" for s in STREAMS])
Query = t.Callable[[str], list[tuple]]
TIMESTAMPS = {"timestamp", "timestamp with time zone", "timestamp without time zone"}


@pytest.fixture(scope="module")
def drift_sandbox() -> Iterator[Sandbox]:
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - integration tests only
    from tests.integration.conftest import PIPELINE_ORG  # noqa: PLC0415

    with Sandbox(profile="drift", **PIPELINE_ORG, limits=False) as sb:
        yield sb


def _json(value: t.Any) -> t.Any:
    return json.loads(value) if isinstance(value, str) else value


def check_warehouse(query: Query, schema: str, sb: Sandbox) -> None:
    """Every row; unknown fields kept on exactly the rows that had them; old fields loaded."""
    users = {
        row[0]: _json(row[1]) for row in query(f'SELECT id, _extra_fields FROM "{schema}".users')
    }
    truth = {u["id"]: u for u in expected_records(sb.org, "users")}
    assert set(users) == set(truth)
    for user_id, extras in users.items():
        wanted = truth[user_id].get("_extra_fields")
        assert (extras or None) == wanted, user_id
    late = [u for u, extras in users.items() if extras]
    assert late, "the new fields reached the warehouse"
    assert len(late) < len(users), "they appear mid-sync, not everywhere"
    assert all(users[u]["drift_note"] == NEW_FIELDS["drift_note"] for u in late)

    columns = "enrollment_id, status, campaign_name, _extra_fields"
    rows = query(f'SELECT {columns} FROM "{schema}".training_enrollments')
    loaded = {row[0]: row for row in rows}
    expected = {e["enrollment_id"]: e for e in expected_records(sb.org, "training_enrollments")}
    assert set(loaded) == set(expected)
    assert len(rows) == len(loaded)  # one row per key: the target upserted
    again = [e for e in expected.values() if str(e["campaign_name"]).endswith("(again)")]
    assert again, "the drift lists some enrollments again with other content"
    for enrollment in again:  # the version listed last is the row kept
        _, status, campaign, _ = loaded[enrollment["enrollment_id"]]
        assert (status, campaign) == (enrollment["status"], enrollment["campaign_name"])
    stub_field = f"user.{NEW_STUB_FIELD[0]}"
    assert any((_json(row[3]) or {}).get(stub_field) == NEW_STUB_FIELD[1] for row in rows)

    counts = query(f'SELECT pst_id, exploited_count FROM "{schema}".phishing_security_tests')
    assert counts
    assert all(count == pst % 3 for pst, count in counts)  # the drift's legacy field


def check_instants(query: Query, schema: str, sb: Sandbox, catalog: dict[str, t.Any]) -> None:
    """Every date-time of every row is the instant the API sent, although it sent an offset.

    Regression (marts8's M8-2): target-duckdb stored ``2026-12-03T23:30:00-05:00`` as 23:30,
    the wall time, 5 h before the instant; every mart keyed on a day or an interval moved.
    """
    assert not sb.org.users()[0]["joined_on"].endswith("Z"), "the drift sends offsets"
    compared, wrong = 0, []
    for stream in STREAMS:
        key = key_properties(catalog, stream)
        columns = date_time_properties(catalog[stream]["schema"])
        truth = {tuple(norm(k, r.get(k)) for k in key): r for r in expected_records(sb.org, stream)}
        selected = ", ".join(f'"{c}"' for c in [*key, *columns])
        for row in query(f'SELECT {selected} FROM "{schema}"."{stream}"'):
            want = truth[tuple(norm(k, v) for k, v in zip(key, row, strict=False))]
            for column, value in zip(columns, row[len(key) :], strict=True):
                compared += value is not None
                if utc_naive(value) != utc_naive(want.get(column)):
                    wrong.append((stream, column, value, want.get(column)))
    assert compared > 100, compared
    assert not wrong, f"{len(wrong)} of {compared} timestamps moved, e.g. {wrong[:3]}"


def _run(meltano: Meltano, env: dict[str, str], target: str) -> None:
    meltano("run", "tap-knowbe4", target, env={**env, "TAP_KNOWBE4__SELECT": SELECT})


def test_drift_into_duckdb(
    meltano: Meltano, drift_sandbox: Sandbox, catalog: dict[str, t.Any], tmp_path: Path
) -> None:
    from tests.integration.conftest import base_env  # noqa: PLC0415

    env = base_env(drift_sandbox, tmp_path)
    _run(meltano, env, "target-duckdb")
    with duckdb.connect(env["TARGET_DUCKDB_FILEPATH"], read_only=True) as con:
        tables = read_tables(lambda sql, p: con.execute(sql, p).fetchall(), "knowbe4", catalog, "?")
        assert_matches_ground_truth(tables, drift_sandbox.org, catalog, STREAMS, TIMESTAMPS)
        check_warehouse(lambda sql: con.execute(sql).fetchall(), "knowbe4", drift_sandbox)
        check_instants(lambda sql: con.execute(sql).fetchall(), "knowbe4", drift_sandbox, catalog)


def test_drift_into_postgres(
    meltano: Meltano,
    drift_sandbox: Sandbox,
    postgres: PostgresCluster,
    catalog: dict[str, t.Any],
    tmp_path: Path,
) -> None:
    from tests.integration.conftest import base_env  # noqa: PLC0415

    schema = "knowbe4_drift"
    env = {
        **base_env(drift_sandbox, tmp_path),
        "TARGET_POSTGRES_SQLALCHEMY_URL": postgres.sqlalchemy_url,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }
    _run(meltano, env, "target-postgres")
    with psycopg.connect(postgres.dsn) as con:
        tables = read_tables(lambda sql, p: con.execute(sql, p).fetchall(), schema, catalog, "%s")
        assert_matches_ground_truth(tables, drift_sandbox.org, catalog, STREAMS, TIMESTAMPS)
        check_warehouse(lambda sql: con.execute(sql).fetchall(), schema, drift_sandbox)
        check_instants(lambda sql: con.execute(sql).fetchall(), schema, drift_sandbox, catalog)
