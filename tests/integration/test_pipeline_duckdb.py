"""`meltano run tap-knowbe4 target-duckdb` against the sandbox, checked against its ground truth."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import duckdb
import pytest

from tests.integration.checks import (
    DEFAULT_STREAMS,
    Table,
    assert_matches_ground_truth,
    read_tables,
)

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox
    from tests.integration.conftest import Meltano

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pipeline_duckdb")]

SCHEMA = "knowbe4"  # load_schema of tap-knowbe4 in meltano.yml
DUCKDB_TIMESTAMPS = {"timestamp", "timestamp with time zone"}
STATE_ID = "dev:tap-knowbe4-to-target-duckdb"


def read_duckdb(path: Path, catalog: dict[str, t.Any], schema: str = SCHEMA) -> dict[str, Table]:
    """Read every table of ``schema``: column types, key tuples, sampled timestamps."""
    with duckdb.connect(str(path), read_only=True) as con:
        return read_tables(
            lambda sql, params: con.execute(sql, params).fetchall(), schema, catalog, "?"
        )


def test_full_then_incremental_run_into_duckdb(
    meltano: Meltano,
    meltano_env: dict[str, str],
    pipeline_sandbox: Sandbox,
    catalog: dict[str, t.Any],
    tmp_path: Path,
) -> None:
    sb = pipeline_sandbox
    database = tmp_path / "warehouse.duckdb"

    before = sb.stats()["requests"]
    meltano("run", "tap-knowbe4", "target-duckdb", env=meltano_env)
    first = sb.stats()["requests"] - before

    tables = read_duckdb(database, catalog)
    assert set(tables) == set(DEFAULT_STREAMS), "meltano.yml's select decides the tables"
    assert_matches_ground_truth(tables, sb.org, catalog, DEFAULT_STREAMS, DUCKDB_TIMESTAMPS)
    assert tables["users"].columns["id"] in {"hugeint", "bigint", "integer"}

    state = json.loads(meltano("state", "get", STATE_ID, env=meltano_env).stdout)
    assert state["singer_state"], "Meltano kept no state after the first run"

    before = sb.stats()["requests"]
    meltano("run", "tap-knowbe4", "target-duckdb", env=meltano_env)
    second = sb.stats()["requests"] - before
    assert second < first, f"the incremental run sent {second} requests, the full one {first}"

    again = read_duckdb(database, catalog)
    assert_matches_ground_truth(again, sb.org, catalog, DEFAULT_STREAMS, DUCKDB_TIMESTAMPS)
