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

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pipeline_postgres")]

SCHEMA = "knowbe4_it"
PG_TIMESTAMPS = {"timestamp without time zone", "timestamp with time zone"}


def read_postgres(dsn: str, catalog: dict[str, t.Any], schema: str) -> dict[str, Table]:
    """Read every table of ``schema``: column types, key tuples, sampled timestamps."""
    with psycopg.connect(dsn) as con:
        return read_tables(
            lambda sql, params: con.execute(sql, params).fetchall(),
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


def _user_ids(dsn: str, schema: str) -> set[int]:
    with psycopg.connect(dsn) as con:
        return {row[0] for row in con.execute(f'SELECT id FROM "{schema}".users').fetchall()}


def test_activate_version_with_hard_delete_keeps_rows_of_a_partial_run(
    meltano: Meltano, postgres: PostgresCluster, tmp_path
) -> None:
    """An interrupted run keeps every old row; a complete one removes upstream-deleted users."""
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415
    from tests.integration.conftest import PIPELINE_ORG, base_env  # noqa: PLC0415

    schema = "knowbe4_versions"
    with Sandbox(**PIPELINE_ORG, limits=False) as sb:
        env = {
            **base_env(sb, tmp_path),
            "TAP_KNOWBE4__SELECT": '["users.*"]',
            "TAP_KNOWBE4_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
            "TARGET_POSTGRES_SQLALCHEMY_URL": postgres.sqlalchemy_url,
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
            "TARGET_POSTGRES_ACTIVATE_VERSION": "true",
            "TARGET_POSTGRES_HARD_DELETE": "true",
        }
        meltano("run", "tap-knowbe4", "target-postgres", env=env)
        before = _user_ids(postgres.dsn, schema)
        assert before == {u["id"] for u in sb.org.users()}

        sb.advance(days=60)  # users are deleted upstream meanwhile
        now = {u["id"] for u in sb.org.users()}
        assert before - now, "the sandbox deletes users over time"

        # stopped after two of the three pages of users (the smallest cap that makes
        # progress: a cap of 1 is refused, exit 1): the run exits 0 and nothing is deleted
        partial = {**env, "TAP_KNOWBE4_MAX_REQUESTS_PER_RUN": "2"}
        stopped = meltano("run", "--full-refresh", "tap-knowbe4", "target-postgres", env=partial)
        assert "users   partial" in stopped.stderr
        assert _user_ids(postgres.dsn, schema) >= before

        # complete: the deleted users go, everyone else stays
        meltano("run", "--full-refresh", "tap-knowbe4", "target-postgres", env=env)
        assert _user_ids(postgres.dsn, schema) == now
