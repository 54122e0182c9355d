"""`meltano run tap-knowbe4 target-postgres` into a throwaway PostgreSQL cluster."""

from __future__ import annotations

import typing as t

import psycopg
import pytest

from tests.integration.checks import (
    DEFAULT_STREAMS,
    Table,
    assert_matches_ground_truth,
    key_properties,
    read_tables,
)

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox
    from tests.integration.conftest import Meltano
    from tests.integration.pgcluster import PostgresCluster

pytestmark = pytest.mark.integration

SCHEMA = "knowbe4_it"
PG_TIMESTAMPS = {"timestamp without time zone", "timestamp with time zone"}


def read_postgres(dsn: str, catalog: dict[str, t.Any], schema: str) -> dict[str, Table]:
    """Read every table of ``schema``: column types, key tuples, sampled timestamps."""
    with psycopg.connect(dsn) as con:
        return read_tables(
            lambda sql, params: con.execute(sql, params).fetchall(),  # type: ignore[call-overload]
            schema,
            catalog,
            "%s",
        )


def primary_keys(dsn: str, schema: str) -> dict[str, list[str]]:
    """The primary key columns PostgreSQL enforces, per table of ``schema``."""
    query = """
        SELECT tc.table_name, kcu.column_name
        FROM information_schema.table_constraints AS tc
        JOIN information_schema.key_column_usage AS kcu
          ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
        WHERE tc.table_schema = %s AND tc.constraint_type = 'PRIMARY KEY'
        ORDER BY tc.table_name, kcu.ordinal_position
    """
    found: dict[str, list[str]] = {}
    with psycopg.connect(dsn) as con:
        for table, column in con.execute(query, [schema]).fetchall():
            found.setdefault(table, []).append(column)
    return found


def test_run_into_postgres_twice(
    meltano: Meltano,
    meltano_env: dict[str, str],
    postgres: PostgresCluster,
    pipeline_sandbox: Sandbox,
    catalog: dict[str, t.Any],
) -> None:
    env = {
        **meltano_env,
        "TARGET_POSTGRES_SQLALCHEMY_URL": postgres.sqlalchemy_url,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": SCHEMA,
    }
    meltano("run", "tap-knowbe4", "target-postgres", env=env)

    tables = read_postgres(postgres.dsn, catalog, SCHEMA)
    assert set(tables) == set(DEFAULT_STREAMS)
    sb = pipeline_sandbox
    assert_matches_ground_truth(tables, sb.org, catalog, DEFAULT_STREAMS, PG_TIMESTAMPS)

    enforced = primary_keys(postgres.dsn, SCHEMA)
    for stream in DEFAULT_STREAMS:  # (target-postgres does not keep the key's column order)
        assert sorted(enforced.get(stream, [])) == sorted(key_properties(catalog, stream)), stream
    assert sorted(enforced["group_members"]) == ["group_id", "user_id"]
    assert sorted(enforced["phishing_security_test_recipients"]) == ["pst_id", "recipient_id"]

    # Incremental second run: upserts on the keys, so nothing is duplicated.
    meltano("run", "tap-knowbe4", "target-postgres", env=env)
    again = read_postgres(postgres.dsn, catalog, SCHEMA)
    assert_matches_ground_truth(again, sb.org, catalog, DEFAULT_STREAMS, PG_TIMESTAMPS)
