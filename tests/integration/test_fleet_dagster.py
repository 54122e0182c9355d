"""The fleet under Dagster: two accounts, two partitions, run at once; a bad key fails its own.

Each partition is materialised by Dagster's own command (``dagster asset materialize
--partition <account>``, executed in that process, no daemon), both at once, sharing one
Dagster instance configured by ``orchestrate/dagster.yaml`` (its storage created first by
``dagster instance migrate``: README "Many accounts"). The two sandboxes meet at a rendezvous:
each holds its first API request until both have one, so the test passes only if the two
accounts' runs were in flight together, whatever the machine's speed. One account's key is
wrong: its partition fails, alone, and the other loads its schema in PostgreSQL with exactly its
sandbox's users (the accounts select ``users`` only: what is checked; two accounts loading
schemas of their own from one fleet file is tests/integration/test_fleet_meltano.py's claim).
Dagster runs from ``.tools/dagster`` (``scripts/dagster_install.py``; the project's virtualenv
has none), and so does the reading of its instance (``dagster_runs.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import psycopg
import pytest

from tests.ground_truth import expected_records
from tests.integration.conftest import ROOT
from tests.integration.fleet_project import FleetAccount, files_under, leaked, make_project
from tests.project_scripts import load_script

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox
    from tests.integration.conftest import Meltano
    from tests.integration.pgcluster import PostgresCluster

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fleet_dagster")]

DEFINITIONS = ROOT / "orchestrate" / "definitions.py"
ASSET = "knowbe4_account_tables"
#: How long a sandbox holds its first request waiting for the others (the runs start together;
#: serial runs would wait here in vain and fail the test).
RENDEZVOUS_SECONDS = 150

dagster_install = load_script("dagster_install")


class Rendezvous:
    """Holds each sandbox's first API request until every sandbox has received one."""

    def __init__(self, sandboxes: list[Sandbox]) -> None:
        self.barrier = threading.Barrier(len(sandboxes), timeout=RENDEZVOUS_SECONDS)
        self.broken = False
        for sb in sandboxes:
            self._hold_first_request(sb)

    def _hold_first_request(self, sb: Sandbox) -> None:
        answer = sb.app.api
        first = threading.Event()

        def api(*args: t.Any, **kwargs: t.Any) -> t.Any:
            if not first.is_set():
                first.set()
                try:
                    self.barrier.wait()
                except threading.BrokenBarrierError:
                    self.broken = True
            return answer(*args, **kwargs)

        sb.app.api = api  # type: ignore[method-assign]


def _sandbox(**options: t.Any) -> Sandbox:
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - integration tests only

    return Sandbox(limits=False, **options)


def _user_ids(dsn: str, schema: str) -> set[int] | None:
    with psycopg.connect(dsn) as db:
        exists = db.execute(
            "select 1 from information_schema.tables where table_schema = %s and table_name = %s",
            (schema, "users"),
        ).fetchone()
        if not exists:
            return None
        return {row[0] for row in db.execute(f'select id from "{schema}"."users"').fetchall()}


def _materialized_partitions(dagster_bin: Path, home: Path) -> tuple[set[str], dict[str, str]]:
    """Partitions Dagster recorded as materialised, and each failed run's failure message."""
    found = subprocess.run(
        [
            str(dagster_bin / "python"),
            str(Path(__file__).with_name("dagster_runs.py")),
            str(home),
            ASSET,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(found.stdout)
    return set(answer["materialized"]), answer["failures"]


@pytest.fixture(scope="session")
def dagster_bin() -> Path:
    """The bin directory of ``.tools/dagster`` (installed once, then reused)."""
    return dagster_install.ensure(sys.executable)


def test_two_partitions_run_at_once_and_a_bad_key_fails_only_its_own(
    meltano: Meltano, postgres: PostgresCluster, dagster_bin: Path, tmp_path: Path
) -> None:
    wrong_key = "kb4-fleet-wrong-0000000000000009"
    with (
        _sandbox(users=20, seed=21, api_key="kb4-fleet-alpha-0000000000000001") as alpha,
        _sandbox(users=35, seed=23, api_key="kb4-fleet-gamma-0000000000000003") as gamma,
    ):
        rendezvous = Rendezvous([alpha, gamma])
        accounts = [
            FleetAccount("alpha", alpha, alpha.api_key),
            FleetAccount("gamma", gamma, wrong_key),
        ]
        project, env = make_project(
            tmp_path, accounts, loader="target-postgres", streams=("users",)
        )
        home = tmp_path / "dagster"
        home.mkdir()
        shutil.copy(ROOT / "orchestrate" / "dagster.yaml", home / "dagster.yaml")
        env.update(
            {
                "DAGSTER_HOME": str(home),
                "KNOWBE4_MELTANO": str(meltano.executable),
                "TARGET_POSTGRES_SQLALCHEMY_URL": postgres.sqlalchemy_url,
            }
        )
        dagster = str(dagster_bin / "dagster")
        # A fresh instance's SQLite storage is created by whichever process opens it first:
        # two at once race on its schema (alembic: "more than one head"), so create it once.
        subprocess.run(
            [dagster, "instance", "migrate"], env=env, cwd=tmp_path, capture_output=True, check=True
        )
        # Meltano's fresh SQLite system database likewise ("table job already exists"): a real
        # project has it from `meltano install`; this one creates it with one command.
        meltano("state", "list", env=env)
        runs = {
            a.name: subprocess.Popen(
                [
                    dagster,
                    "asset",
                    "materialize",
                    "-f",
                    str(DEFINITIONS),
                    "--select",
                    ASSET,
                    "--partition",
                    a.name,
                ],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for a in accounts
        }
        outputs = {name: proc.communicate(timeout=900)[0] for name, proc in runs.items()}
        codes = {name: proc.returncode for name, proc in runs.items()}
        truth = {r["id"] for r in expected_records(alpha.org, "users")}
        gamma_served = gamma.stats()["by_status"]

    tails = "\n".join(f"--- {name}:\n{out[-2500:]}" for name, out in outputs.items())
    assert not rendezvous.broken, f"the two accounts' runs were not in flight together\n{tails}"
    assert codes["alpha"] == 0, outputs["alpha"][-4000:]
    assert codes["gamma"] != 0, outputs["gamma"][-4000:]
    assert {str(status) for status in gamma_served} == {"401"}, gamma_served

    assert truth
    assert _user_ids(postgres.dsn, "knowbe4_alpha") == truth
    assert not _user_ids(postgres.dsn, "knowbe4_gamma")  # at most an empty table from SCHEMA

    done, failures = _materialized_partitions(dagster_bin, home)
    assert done == {"alpha"}
    assert set(failures) == {"gamma"}
    assert "account gamma: meltano run exited" in failures["gamma"]

    keys = [alpha.api_key, gamma.api_key, wrong_key]
    where = leaked(
        keys, outputs.values(), files_under(home, project / "output", tmp_path / "meltano-sys")
    )
    assert not where
