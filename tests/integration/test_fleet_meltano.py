"""A fleet from one file, run by the real Meltano: two accounts, two sandboxes, two schemas.

The generated ``fleet.meltano.yml`` is included by this repo's ``meltano.yml`` (a copy, in a
project of the test's own); ``meltano run`` of both accounts loads each into its schema with
its own state ID and budget-ledger entry, and the keys stay in the environment.
"""

from __future__ import annotations

import json
import typing as t

import duckdb
import pytest

from tests.ground_truth import expected_records
from tests.integration.fleet_project import FleetAccount, files_under, leaked, make_project

if t.TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.conftest import Meltano

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fleet_meltano")]


def _sandbox(**options: t.Any):
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - integration tests only

    return Sandbox(limits=False, **options)


TABLES = ("users", "groups")


def _ids(path: Path, schema: str) -> dict[str, set[int]]:
    with duckdb.connect(str(path), read_only=True) as db:
        return {
            table: {row[0] for row in db.execute(f'select id from "{schema}"."{table}"').fetchall()}
            for table in TABLES
        }


def _truth(sb: t.Any) -> dict[str, set[int]]:
    return {table: {r["id"] for r in expected_records(sb.org, table)} for table in TABLES}


def test_two_accounts_from_one_file_load_two_schemas_with_their_own_state(
    meltano: Meltano, tmp_path: Path
) -> None:
    with (
        _sandbox(users=30, seed=3, api_key="kb4-fleet-north-0000000000000001") as north,
        _sandbox(users=45, seed=4, api_key="kb4-fleet-south-0000000000000002") as south,
    ):
        accounts = [
            FleetAccount("north", north, north.api_key),
            FleetAccount("south", south, south.api_key),
        ]
        project, env = make_project(tmp_path, accounts, loader="target-duckdb")
        run = meltano(
            "run", "tap-knowbe4--north", "target-duckdb", "tap-knowbe4--south", "target-duckdb",
            env=env,
        )  # fmt: skip
        listed, north_state_text = meltano.in_one_process(
            [["state", "list"], ["state", "get", "dev:tap-knowbe4--north-to-target-duckdb"]], env
        )
        states = listed.split()
        north_state = json.loads(north_state_text)
        truth = {"north": _truth(north), "south": _truth(south)}
        hosts = {
            name: sb.base_url.split("://")[1] for name, sb in (("north", north), ("south", south))
        }

    assert set(states) >= {
        "dev:tap-knowbe4--north-to-target-duckdb",
        "dev:tap-knowbe4--south-to-target-duckdb",
    }
    assert north_state
    warehouse = tmp_path / "warehouse.duckdb"
    assert _ids(warehouse, "knowbe4_north") == truth["north"]
    assert _ids(warehouse, "knowbe4_south") == truth["south"]
    assert truth["north"]["users"] != truth["south"]["users"]
    # one ledger entry per account: API host and a digest of the key
    ledger = json.loads((tmp_path / "budget-ledger.json").read_text())["accounts"]
    assert sorted(entry.split("|")[0] for entry in ledger) == sorted(hosts.values())
    # each account's lines are labelled with its name
    assert "[north] Run summary of account north" in run.stderr
    assert "[south] Run summary of account south" in run.stderr
    # the keys: only ever in the environment
    generated = (project / "fleet.meltano.yml").read_text()
    assert "${FLEET_TEST_NORTH_KEY}" in generated
    keys = [north.api_key, south.api_key]
    where = leaked(
        keys,
        [run.stdout, run.stderr, json.dumps(north_state)],
        files_under(project, tmp_path / "meltano-sys", tmp_path / "budget-ledger.json"),
    )
    assert not where


def test_an_account_whose_key_variable_is_unset_sends_nothing(
    meltano: Meltano, tmp_path: Path
) -> None:
    """No fallback to TAP_KNOWBE4_API_KEY: it would read another account into this schema."""
    with _sandbox(users=10, seed=5, api_key="kb4-fleet-lost-00000000000000003") as sb:
        _, env = make_project(tmp_path, [FleetAccount("lost", sb, None)], "target-duckdb")
        env["TAP_KNOWBE4_API_KEY"] = sb.api_key  # the parent's key, valid for this sandbox
        run = meltano("run", "tap-knowbe4--lost", "target-duckdb", env=env, check=False)
        served = sb.stats()["requests"]
    assert run.returncode != 0
    assert "api_key" in run.stderr
    assert served == 0
