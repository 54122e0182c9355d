"""The Singer SDK built-ins, through Meltano: selection, stream maps, flattening, config test."""

from __future__ import annotations

import csv
import hashlib
import json
import typing as t
from pathlib import Path

import duckdb
import pytest

from tests.ground_truth import expected_records
from tests.integration.checks import expected_keys, key_properties
from tests.integration.test_pipeline_duckdb import SCHEMA, read_duckdb

PER_USER = "/v1/users/{user_id}/risk_score_history"

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox
    from tests.integration.conftest import Meltano

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sdk_builtins")]


def _query(path: Path, sql: str) -> list[tuple[t.Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_catalog_selection_with_opt_in_stream_and_excluded_column(
    meltano: Meltano,
    meltano_env: dict[str, str],
    pipeline_sandbox: Sandbox,
    catalog: dict[str, t.Any],
    tmp_path: Path,
) -> None:
    env = {
        **meltano_env,
        "TAP_KNOWBE4__SELECT": json.dumps(
            ["groups.*", "group_members.*", "user_risk_score_history.*", "!groups.name"]
        ),
        "TAP_KNOWBE4_INCLUDE_USER_RISK_SCORE_HISTORY": "true",
    }
    meltano("run", "tap-knowbe4", "target-duckdb", env=env)

    tables = read_duckdb(tmp_path / "warehouse.duckdb", catalog)
    assert set(tables) == {"groups", "group_members", "user_risk_score_history"}
    assert "name" not in tables["groups"].columns
    assert "id" in tables["groups"].columns
    org = pipeline_sandbox.org
    for stream in tables:
        key = key_properties(catalog, stream)
        assert set(tables[stream].keys) == expected_keys(org, stream, key), stream
    assert len(tables["user_risk_score_history"].keys) > 0


def test_user_risk_score_history_is_read_only_when_opted_in(
    meltano: Meltano, meltano_env: dict[str, str], pipeline_sandbox: Sandbox, tmp_path: Path
) -> None:
    env = {**meltano_env, "TAP_KNOWBE4__SELECT": json.dumps(["user_risk_score_history.*"])}
    before = pipeline_sandbox.stats()["by_endpoint"].get(PER_USER, {})
    proc = meltano("run", "tap-knowbe4", "target-jsonl", env=env)
    after = pipeline_sandbox.stats()["by_endpoint"].get(PER_USER, {})
    assert after == before  # selected, but not read: no per-user request
    said = [line for line in proc.stderr.splitlines() if "user_risk_score_history" in line]
    assert len([line for line in said if "was not read" in line]) == 1, said
    assert not [line for line in said if "Skipping deselected stream" in line], said


def test_stream_map_hashes_email_in_users(
    meltano: Meltano,
    meltano_env: dict[str, str],
    pipeline_sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    env = {
        **meltano_env,
        "TAP_KNOWBE4__SELECT": json.dumps(["users.*"]),
        "TAP_KNOWBE4_STREAM_MAPS": json.dumps({"users": {"email": "md5(email)"}}),
    }
    meltano("run", "tap-knowbe4", "target-duckdb", env=env)

    sql = f'SELECT id, email FROM "{SCHEMA}".users'
    rows = dict(_query(tmp_path / "warehouse.duckdb", sql))
    truth = {u["id"]: u["email"] for u in expected_records(pipeline_sandbox.org, "users")}
    assert set(rows) == set(truth)
    for user_id, email in truth.items():
        assert email
        assert rows[user_id] == hashlib.md5(email.encode()).hexdigest(), user_id  # noqa: S324
    assert not any("@" in (value or "") for value in rows.values())


def test_meltano_config_test(meltano: Meltano, meltano_env: dict[str, str]) -> None:
    proc = meltano("config", "test", "tap-knowbe4", env=meltano_env)
    assert "Plugin configuration is valid" in proc.stdout + proc.stderr


def test_meltano_config_test_rejects_a_wrong_key(
    meltano: Meltano, meltano_env: dict[str, str]
) -> None:
    env = {**meltano_env, "TAP_KNOWBE4_API_KEY": "not-the-key", "TAP_KNOWBE4_MAX_RETRIES": "0"}
    proc = meltano("config", "test", "tap-knowbe4", env=env, check=False)
    assert proc.returncode != 0
    assert "Plugin configuration is invalid" in proc.stdout + proc.stderr


def test_flattening_expands_nested_user_and_fits_the_schema_in_target_csv(
    meltano: Meltano, meltano_env: dict[str, str], pipeline_sandbox: Sandbox, tmp_path: Path
) -> None:
    """Flattening to depth 1 turns ``user`` into ``user__id``, ``user__email``, ... with the
    nested values; and target-csv, which refuses a record with a column its SCHEMA lacks, gets
    no null ``user`` as ``user`` when the SCHEMA has ``user__id`` ... (deleted users' rows).

    (One run for both claims: a second run into DuckDB only to read the same columns cost a
    Meltano start, a tap and a target.)"""
    streams = ["training_enrollments", "phishing_security_test_recipients"]
    env = {
        **meltano_env,
        "TAP_KNOWBE4__SELECT": json.dumps([f"{s}.*" for s in streams]),
        "TAP_KNOWBE4_FLATTENING_ENABLED": "true",
        "TAP_KNOWBE4_FLATTENING_MAX_DEPTH": "1",
        "TARGET_CSV_OUTPUT_PATH": str(tmp_path / "csv"),
    }
    (tmp_path / "csv").mkdir()
    meltano("run", "tap-knowbe4", "target-csv", env=env)
    for stream in streams:
        with (tmp_path / "csv" / f"{stream}.csv").open() as file:
            rows = list(csv.DictReader(file))
        truth = expected_records(pipeline_sandbox.org, stream)
        assert len(rows) == len(truth), stream
        assert "user__id" in rows[0]
        assert "user" not in rows[0]
        nulls = [r for r in truth if r.get("user") is None]
        assert nulls, f"the sandbox has {stream} without a user"
        assert sum(1 for r in rows if not r["user__id"]) == len(nulls)
        assert {"user__id", "user__email", "user__first_name"} <= set(rows[0]), stream
    with (tmp_path / "csv" / "training_enrollments.csv").open() as file:
        loaded = {
            int(r["enrollment_id"]): int(r["user__id"]) if r["user__id"] else None
            for r in csv.DictReader(file)
        }
    users = {
        e["enrollment_id"]: (e.get("user") or {}).get("id")
        for e in expected_records(pipeline_sandbox.org, "training_enrollments")
    }
    assert loaded == users
