"""Unions by source: three accounts loaded into three schemas, one dbt build over them all.

Three sandbox accounts of different sizes and seeds, each a server of its own on its own port
(and so, to the tap and its budget ledger, an account of its own), are loaded through Meltano
and the real loaders into ``knowbe4_<name>``, in DuckDB and in PostgreSQL side by side, the way
README "Many accounts" does it: a fleet file makes each account an extractor
``tap-knowbe4--<name>`` with that schema (``tests/integration/fleet_project.py``), and one
``meltano run tap-knowbe4--acme <loader> ... dbt-<loader>:build`` loads them one after the
other and builds the project once with ``union_schemas`` set (env ``DBT_KNOWBE4_UNION_SCHEMAS``,
the dbt var ``knowbe4_union_schemas``): one Meltano start per warehouse, not four. On
PostgreSQL only the first account loads the opt-in ``user_risk_score_history``, so one
stream's table exists in some sources and not others.

Each account's slice of the marts (``where source_relation = 'knowbe4_<name>'``, through
views made for the check and rolled back) must equal that account's truth computed here from
its sandbox alone (``tests.integration.marts_truth``): the same comparison the one-account
test makes. Keys are unique per source while some key values (group ids, dates) occur in
several sources; the roll-ups across sources equal the sums of the accounts' truths; the users
snapshot keys versions by (source, user).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import re
import typing as t
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.integration.conftest import ROOT
from tests.integration.fleet_project import FleetAccount, make_project
from tests.integration.marts_truth import Truth, as_of, check_marts, guarded, slice_views

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_knowbe4.sandbox import Sandbox
    from tests.integration.conftest import Meltano
    from tests.integration.marts_truth import Query
    from tests.integration.pgcluster import PostgresCluster

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dbt_union")]

#: The accounts: name -> sandbox options (different sizes and seeds; every sandbox serves on a
#: port of its own). Small, so that six loads and two builds stay quick.
ACCOUNTS: dict[str, dict[str, t.Any]] = {
    "acme": {"users": 10, "seed": 3},
    "globex": {"users": 16, "seed": 11},
    "initech": {"users": 24, "seed": 29},
}
#: The account whose opt-in user_risk_score_history is loaded (PostgreSQL only).
WITH_USER_RISK = "acme"
#: The prefix of the schemas dbt writes (fleet_staging, fleet_marts, fleet_snapshots).
PREFIX = "fleet"
#: Per staging model, its key: unique per source, not across sources.
STAGING_KEYS = {
    "stg_knowbe4__users": "user_id",
    "stg_knowbe4__groups": "group_id",
    "stg_knowbe4__account_risk_score_history": "score_date",
    "stg_knowbe4__phishing_security_tests": "pst_id",
    "stg_knowbe4__training_enrollments": "enrollment_id",
}


def schema_of(name: str) -> str:
    """Where an account is loaded: ``knowbe4_<name>``."""
    return f"knowbe4_{name}"


@dataclasses.dataclass
class Fleet:
    """One warehouse holding the three accounts: how to load them, how to look at the result."""

    name: str
    loader: str
    env: dict[str, str]
    #: A read-write connection's ``query`` whose statements roll back at the end.
    scratch: t.Callable[[], contextlib.AbstractContextManager[Query]]
    problems: list[str] = dataclasses.field(default_factory=list)
    outputs: list[str] = dataclasses.field(default_factory=list)

    def load_and_build(self, meltano: Meltano) -> None:
        """Each account into its schema, one after the other (one DuckDB file), then dbt: one
        ``meltano run`` (every Meltano start costs about 2 s of CPU)."""
        blocks = [b for name in ACCOUNTS for b in (f"tap-knowbe4--{name}", self.loader)]
        proc = meltano("run", *blocks, f"dbt-{self.name}:build", env=self.env, check=False)
        self.outputs.append(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            self.problems.append(
                f"meltano run {' '.join(blocks)} dbt-{self.name}:build exited "
                f"{proc.returncode}:\n{self.outputs[-1][-5000:]}"
            )


def fleet_env(tmp: Path, sandboxes: dict[str, Sandbox], loader: str) -> dict[str, str]:
    """A project of the warehouse's own whose fleet file names the three accounts (each an
    extractor ``tap-knowbe4--<name>`` loading ``knowbe4_<name>``: README "Many accounts");
    dbt reads the three schemas as one."""
    accounts = [FleetAccount(name, sb, sb.api_key) for name, sb in sandboxes.items()]
    project, env = make_project(tmp, accounts, loader, streams=("*",))
    (project / "transform").symlink_to(ROOT / "transform", target_is_directory=True)
    # The repeat-clicker window ends when the tests were read: the sandboxes' clock (one for
    # all three), not the tap's wall clock in _sdc_extracted_at (marts_truth.REPEAT_DAYS).
    (clock,) = {sb.org.now for sb in sandboxes.values()}
    env.update(
        {
            "DBT_TARGET_PATH": str(tmp / "dbt-target"),
            "DBT_LOG_PATH": str(tmp / "dbt-logs"),
            "DBT_KNOWBE4_UNION_SCHEMAS": ",".join(schema_of(n) for n in ACCOUNTS),
            "DBT_KNOWBE4_SCHEMA": PREFIX,
            "DBT_KNOWBE4_AS_OF": as_of(clock),
        }
    )
    return env


def duckdb_fleet(tmp: Path, sandboxes: dict[str, Sandbox]) -> Fleet:
    """The three accounts in one DuckDB file (target-duckdb)."""
    database = tmp / "fleet.duckdb"
    env = fleet_env(tmp, sandboxes, "target-duckdb")
    env.update({"TARGET_DUCKDB_FILEPATH": str(database), "DBT_DUCKDB_PATH": str(database)})

    @contextlib.contextmanager
    def scratch() -> Iterator[Query]:
        with duckdb.connect(str(database)) as con:
            con.begin()
            try:
                yield lambda sql: con.execute(sql).fetchall()
            finally:
                con.rollback()

    return Fleet("duckdb", "target-duckdb", env, scratch)


def postgres_fleet(tmp: Path, sandboxes: dict[str, Sandbox], postgres: PostgresCluster) -> Fleet:
    """The three accounts in three schemas of one PostgreSQL database (target-postgres); the
    first also reads the opt-in user_risk_score_history."""
    env = fleet_env(tmp, sandboxes, "target-postgres")
    env.update(
        {
            f"TAP_KNOWBE4__{WITH_USER_RISK.upper()}_INCLUDE_USER_RISK_SCORE_HISTORY": "true",
            "TARGET_POSTGRES_SQLALCHEMY_URL": postgres.sqlalchemy_url,
            "DBT_TARGET": "postgres",
            "DBT_POSTGRES_HOST": "127.0.0.1",
            "DBT_POSTGRES_PORT": str(postgres.port),
            "DBT_POSTGRES_USER": postgres.user,
            "DBT_POSTGRES_DBNAME": postgres.database,
        }
    )

    @contextlib.contextmanager
    def scratch() -> Iterator[Query]:
        with psycopg.connect(postgres.dsn) as con, con.transaction(force_rollback=True):

            def query(sql: str) -> list[tuple]:
                cursor = con.execute(sql)
                return cursor.fetchall() if cursor.description else []  # DDL: no rows

            yield query

    return Fleet("postgres", "target-postgres", env, scratch)


# ------------------------------------------------------------------------------------ checks
def check_fleet(fleet: Fleet, truths: dict[str, Truth]) -> list[str]:
    """Every account's slice against its truth, keys per source, the roll-ups, the snapshot."""
    problems: list[str] = []
    with fleet.scratch() as raw:
        query = guarded(raw, problems)
        labels = {
            r[0]
            for r in query(
                f"select distinct source_relation from {PREFIX}_marts.knowbe4__phishing_tests"
            )
        }
        if labels != {schema_of(n) for n in ACCOUNTS}:
            problems.append(f"source_relation values {sorted(labels)}")
        for name, truth in truths.items():
            alias = f"slice_{name}"
            slice_views(query, schema_of(name), alias, PREFIX)
            with_user_risk = fleet.name == "postgres" and name == WITH_USER_RISK
            problems += [f"{name}: {p}" for p in check_marts(query, alias, truth, with_user_risk)]
        problems += check_keys(query)
        problems += check_rollups(query, truths)
        problems += check_union_snapshot(query, truths)
    return problems


def check_keys(query: Query) -> list[str]:
    """Staging keys unique per source, and some key value shared by two sources (so that a
    key unique only across sources would have failed)."""
    problems = []
    shared = []
    for model, key in STAGING_KEYS.items():
        rows = query(
            f"select source_relation, {key}, count(*) from {PREFIX}_staging.{model} "
            f"group by source_relation, {key} having count(*) > 1"
        )
        if rows:
            problems.append(f"{model}: {key} repeated within a source: {rows[:3]}")
        across = query(
            f"select {key} from {PREFIX}_staging.{model} group by {key} "
            f"having count(distinct source_relation) > 1"
        )
        if across:
            shared.append(model)
    if not {"stg_knowbe4__groups", "stg_knowbe4__account_risk_score_history"} <= set(shared):
        problems.append(f"no group id and no date shared by two sources ({shared})")
    return problems


def check_rollups(query: Query, truths: dict[str, Truth]) -> list[str]:
    """The roll-ups hold every account together: people per department, account points."""
    problems = []
    users: collections.Counter[str] = collections.Counter()
    for truth in truths.values():
        for dept, figures in truth.departments().items():
            users[dept] += figures[0]
    rows = query(
        f"select department, users, sources from {PREFIX}_marts.knowbe4__department_summary_rollup"
    )
    got = {dept: int(n) for dept, n, _ in rows}
    if got != dict(users):
        problems.append(f"department_summary_rollup users {got} != {dict(users)}")
    points: collections.Counter[str] = collections.Counter()
    for truth in truths.values():
        points.update(date for kind, _, date in truth.risk_points if kind == "account")
    rows = query(
        f"select cast(score_date as varchar(10)), entities, sources "
        f"from {PREFIX}_marts.knowbe4__risk_score_trend_rollup where entity_type = 'account'"
    )
    got_points = {str(day)[:10]: int(n) for day, n, _ in rows}
    if got_points != dict(points):
        diff = {
            d: (got_points.get(d), points.get(d))
            for d in set(points) | set(got_points)
            if got_points.get(d) != points.get(d)
        }
        problems.append(f"risk_score_trend_rollup account points differ: {list(diff.items())[:3]}")
    if not any(int(n) > 1 for _, n, _ in rows):
        problems.append("risk_score_trend_rollup: no day with points from several accounts")
    return problems


def check_union_snapshot(query: Query, truths: dict[str, Truth]) -> list[str]:
    """One open snapshot version per (source, user), for every account's users."""
    rows = query(
        f"select source_relation, user_id from {PREFIX}_snapshots.knowbe4__users_snapshot "
        f"where dbt_valid_to is null"
    )
    got = collections.Counter((label, int(uid)) for label, uid in rows)
    expected = {(schema_of(n), uid) for n, truth in truths.items() for uid in truth.users}
    if set(got) != expected or any(n > 1 for n in got.values()):
        return [f"snapshot: {len(got)} open (source, user) versions, {len(expected)} expected"]
    return []


# ------------------------------------------------------------------------------------- the run
@dataclasses.dataclass
class Fleets:
    """Both warehouses after their loads and build."""

    fleets: dict[str, Fleet]


@pytest.fixture(scope="module")
def fleets(
    request: pytest.FixtureRequest, meltano: Meltano, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleets]:
    """Three sandboxes; both warehouses loaded and built side by side; their findings."""
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - integration tests only

    with contextlib.ExitStack() as stack:
        sandboxes = {
            name: stack.enter_context(Sandbox(**options, limits=False))
            for name, options in ACCOUNTS.items()
        }
        found = [duckdb_fleet(tmp_path_factory.mktemp("union-duckdb"), sandboxes)]
        with contextlib.suppress(pytest.skip.Exception, pytest.fail.Exception):
            cluster = request.getfixturevalue("postgres")
            found.append(postgres_fleet(tmp_path_factory.mktemp("union-pg"), sandboxes, cluster))
        with concurrent.futures.ThreadPoolExecutor(len(found)) as pool:
            for future in [pool.submit(f.load_and_build, meltano) for f in found]:
                future.result()
        truths = {name: Truth.of(sb.org) for name, sb in sandboxes.items()}
        for fleet in found:
            if fleet.problems:
                continue
            if not re.search(r"PASS=\d+ WARN=\d+ ERROR=0", fleet.outputs[-1]):
                fleet.problems.append("dbt build failed:\n" + fleet.outputs[-1][-5000:])
                continue
            fleet.problems += check_fleet(fleet, truths)
        yield Fleets({f.name: f for f in found})


def _assert_fleet(fleets: Fleets, name: str) -> None:
    if fleets.fleets[name].problems:
        pytest.fail("\n".join(fleets.fleets[name].problems), pytrace=False)


def test_union_by_source_on_duckdb(fleets: Fleets) -> None:
    _assert_fleet(fleets, "duckdb")


def test_union_by_source_on_postgres(fleets: Fleets, postgres: PostgresCluster) -> None:
    assert postgres.dsn
    _assert_fleet(fleets, "postgres")
