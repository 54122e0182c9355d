"""The dbt project (transform/) on DuckDB and on PostgreSQL, checked against the sandbox.

One sandbox organization, in the default ``documented`` profile, which serves the real API's
mess itself: users deleted over time (gone from /v1/users while their recipients and
enrollments keep ``user: null`` or a dangling stub), users without ``groups``, campaign groups
without a ``group_id``, store purchases and policies missing from their lists, repeated modules,
``Enrolling``/``Closed`` statuses, integer employee numbers and Phish-prone percentages.
``test_the_organization_is_messy`` asserts that every one of those occurs in it.

Both pipelines read it side by side:

    meltano run tap-knowbe4 <loader> dbt-<loader>:build

twice: the second run after a month of sandbox time (incremental, new tests, more users
deleted). After each run the marts are compared with what they must hold, computed here from the
sandbox's ground truth (``sb.org``, through ``tests.ground_truth.expected_records``: what each
stream emits): failures per phishing test; people and enrollments per training campaign and
department; repeat clickers (a half-open window); per active user phishing counts, and those
of everyone else (archived, deleted) apart; the department summary; row counts; and the users
snapshot accumulating versions dated by the extraction that saw them and closing those of
deleted users. The people marts count active users only and agree with each other (dbt's
singular tests in ``transform/tests/`` run in each build; the unit tests at the edges run in the
second, ``FIRST_BUILD_ENV`` says why). The build's warnings are all dangling references, as the
demo's one line about them says (``scripts/dbt_warnings.py``), and the demo's report reads every
mart it names.

Rows that disappeared upstream leave staging in both ways the project supports: on PostgreSQL
the tap sends ACTIVATE_VERSION after complete reads and target-postgres marks them
(``_sdc_deleted_at``); on DuckDB (target-duckdb ignores ACTIVATE_VERSION) staging keeps each
table's latest sync. PostgreSQL's staging views are also probed, inside rolled-back
transactions, as a loader without versions and after a run that re-read a table only partly.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import io
import json
import re
import typing as t
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.integration.conftest import base_env
from tests.integration.marts_truth import Query, Truth, as_of, check_marts, guarded, stub_id
from tests.project_scripts import load_script

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tap_knowbe4.sandbox import Sandbox
    from tests.integration.conftest import Meltano
    from tests.integration.pgcluster import PostgresCluster

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dbt")]

#: The organization both pipelines read: small enough to be quick, and chosen (seed and start
#: clock) so that the messy cases all occur, a training campaign starts between the two runs
#: (``Enrolling`` at the second), and two users are deleted between the runs, one scrubbed
#: (``user: null``) and one leaving dangling stubs (``test_the_organization_is_messy``).
DBT_ORG: dict[str, t.Any] = {"users": 60, "seed": 17, "now": "2027-08-04T12:00:00Z"}
#: Sandbox days between the two runs.
ADVANCE_DAYS = 30
#: The first build leaves out dbt's unit tests (models/marts/_knowbe4__unit_tests.yml): they
#: read the rows their fixtures give, not the warehouse's, so the second build, with the same
#: SQL on the same adapter and vars, makes the same claims; each costs seconds of CPU.
FIRST_BUILD_ENV = {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}

dbt_warnings = load_script("dbt_warnings")
demo_report = load_script("demo_report")


# ------------------------------------------------------------------------------ the warehouse
def extraction_times(query: Query, schema: str) -> dict[int, t.Any]:
    """User id -> when the tap read the user (the loader's ``_sdc_extracted_at``), for the
    users the loader holds as current."""
    columns = {
        r[0]
        for r in query(
            f"select column_name from information_schema.columns "
            f"where table_schema = '{schema}' and table_name = 'users'"
        )
    }
    where = " where _sdc_deleted_at is null" if "_sdc_deleted_at" in columns else ""
    rows = query(f"select id, _sdc_extracted_at from {schema}.users{where}")
    return {int(uid): extracted for uid, extracted in rows}


def check_snapshot(
    query: Query, schema: str, truth: Truth, deleted: set[int], extracted: list[dict[int, t.Any]]
) -> list[str]:
    """The users snapshot after two runs: versions accumulated, deleted users closed, and
    every version dated by the extraction that saw it (``extracted``: per run, user id ->
    ``_sdc_extracted_at``), not by when dbt ran."""
    rows = query(
        f"select user_id, count(*), count(*) - count(dbt_valid_to) "
        f"from {schema}_snapshots.knowbe4__users_snapshot group by user_id"
    )
    problems = []
    current = {int(uid) for uid, _, open_versions in rows if open_versions}
    if current != set(truth.users):
        problems.append(f"snapshot: open versions for {len(current)} users, not the current ones")
    if any(open_versions > 1 for _, _, open_versions in rows):
        problems.append("snapshot: a user with more than one open version")
    closed = {int(uid) for uid, _, open_versions in rows if not open_versions}
    if not deleted <= closed:
        problems.append(f"snapshot: deleted users {sorted(deleted - closed)} not closed")
    if sum(int(versions) for _, versions, _ in rows) <= len(rows):
        problems.append("snapshot: no version accumulated")

    first, second = extracted
    versions = query(
        f"select user_id, dbt_valid_from, dbt_valid_to "
        f"from {schema}_snapshots.knowbe4__users_snapshot"
    )
    misdated: list[tuple[int, str, t.Any, t.Any]] = []
    for uid, valid_from, valid_to in versions:
        reads = {first.get(int(uid)), second.get(int(uid))} - {None}
        if valid_from not in reads:
            misdated.append((int(uid), "from", valid_from, reads))
        if valid_to is not None and int(uid) not in deleted and valid_to != second.get(int(uid)):
            misdated.append((int(uid), "to", valid_to, second.get(int(uid))))
    if misdated:
        problems.append(f"snapshot: versions not dated by the extraction: {misdated[:3]}")
    if not any(
        valid_from == second.get(int(uid)) and valid_to is None and int(uid) in first
        for uid, valid_from, valid_to in versions
    ):
        problems.append("snapshot: no version dated by the second run's extraction")
    return problems


def kept_stubs(query: Query, schema: str, truth: Truth) -> set[tuple[int, int]]:
    """Recipients loaded with a user stub where the API now sends ``user: null``.

    The tap did not re-read their (settled) test after the user was deleted; the marts must
    count them as unknown all the same.
    """
    rows = query(
        f"select pst_id, recipient_id from {schema}_staging.stg_knowbe4__phishing_recipients "
        f"where user_id is not null"
    )
    now_null = {(r["pst_id"], r["recipient_id"]) for r in truth.recipients if not r.get("user")}
    return {(int(p), int(r)) for p, r in rows} & now_null


def check_postgres_deletions(dsn: str, schema: str, truth: Truth, deleted: set[int]) -> list[str]:
    """How deleted rows leave staging on PostgreSQL, probed in rolled-back transactions."""
    problems = []
    users, staged = f"{schema}.users", f"{schema}_staging.stg_knowbe4__users"
    current = set(truth.users)
    with psycopg.connect(dsn) as con:
        # The tap sent ACTIVATE_VERSION after reading users whole; target-postgres marked the
        # rows it did not re-send.
        marked = {
            int(r[0])
            for r in con.execute(
                f"select id from {users} where _sdc_deleted_at is not null"
            ).fetchall()
        }
        if marked != deleted:
            problems.append(f"_sdc_deleted_at set on {sorted(marked)}, deleted {sorted(deleted)}")

        def staged_ids() -> set[int]:
            return {int(r[0]) for r in con.execute(f"select user_id from {staged}").fetchall()}

        # A run that re-read users only partly (stopped by the request budget): a newer sync
        # and version on some rows, no ACTIVATE_VERSION. The loader deleted nothing, so
        # staging must still hold every user.
        with con.transaction(force_rollback=True):
            half = sorted(current)[: len(current) // 2]
            con.execute(
                f"update {users} set _sdc_sync_started_at = _sdc_sync_started_at + 1000, "
                f"_sdc_table_version = _sdc_table_version + 1 where id = any(%s)",
                [half],
            )
            if (got := staged_ids()) != current:
                problems.append(f"after a partial run staging has {len(got)} of {len(current)}")
        # A loader that ignores versions (no ACTIVATE_VERSION, no _sdc_table_version): staging
        # falls back to the latest sync (_sdc_sync_started_at).
        with con.transaction(force_rollback=True):
            con.execute(f"update {users} set _sdc_deleted_at = null, _sdc_table_version = null")
            if (got := staged_ids()) != current:
                problems.append(f"latest sync without versions: {sorted(got ^ current)[:5]} differ")
    return problems


def check_warnings(w: Warehouse) -> list[str]:
    """The build passed with warnings, and the demo's one line (scripts/dbt_warnings.py) names
    each of them as a dangling reference the API returns: nothing else may warn."""
    output = w.outputs[-1]
    done = re.search(r"PASS=\d+ WARN=(\d+) ERROR=0", output)
    if not done or not int(done.group(1)):
        return ["dbt build should pass with warnings (dangling references):\n" + output[-3000:]]
    line = dbt_warnings.explain(Path(w.env["DBT_TARGET_PATH"])) or ""
    named = re.search(r"dbt warnings: (\d+) warn as expected, [^:]+: (.*)", line)
    if not named or int(named.group(1)) != int(done.group(1)) or "; " in named.group(2):
        return [f"WARN={done.group(1)}, but the demo's line says: {line!r}"]
    return []


def check_unit_tests(w: Warehouse) -> list[str]:
    """The build ran dbt's unit tests (the second build: ``FIRST_BUILD_ENV``)."""
    ran = re.search(r"Finished running .*?(\d+) unit tests?\b", w.outputs[-1])
    if not ran or not int(ran.group(1)):
        return ["the second build ran no unit tests"]
    return []


def check_demo_report(database: Path, schema: str) -> list[str]:
    """The demo's report reads every mart it names, and says what each number counts."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        demo_report.main([str(database), schema])
    text = out.getvalue()
    problems = [f"demo report: {line.strip()}" for line in text.splitlines() if "skipped" in line]
    for title, legend, _, _ in demo_report.QUESTIONS:
        if title not in text or " ".join(legend.split()[:4]) not in " ".join(text.split()):
            problems.append(f"demo report: {title!r} or its legend missing")
    return problems


# ----------------------------------------------------------------------------------- the runs
@dataclasses.dataclass
class Warehouse:
    """One pipeline: the Meltano command, how to query the result, what it found wrong."""

    name: str
    schema: str
    env: dict[str, str]
    loader: str
    query: Callable[[], contextlib.AbstractContextManager[Query]]
    with_user_risk: bool
    dsn: str | None = None
    #: The DuckDB file (the demo report reads it).
    database: Path | None = None
    problems: list[str] = dataclasses.field(default_factory=list)
    outputs: list[str] = dataclasses.field(default_factory=list)
    #: Per run, user id -> when the tap read the user (``_sdc_extracted_at``).
    extracted: list[dict[int, t.Any]] = dataclasses.field(default_factory=list)

    def run(self, meltano: Meltano, extra: dict[str, str]) -> None:
        """``meltano run tap-knowbe4 <loader> dbt-<loader>:build`` with ``extra`` variables;
        a failure is a problem."""
        env = {**self.env, **extra}
        proc = meltano(
            "run", "tap-knowbe4", self.loader, f"dbt-{self.name}:build", env=env, check=False
        )
        output = proc.stdout + proc.stderr
        self.outputs.append(output)
        if proc.returncode != 0:
            self.problems.append(
                f"run {len(self.outputs)} exited {proc.returncode}:\n{output[-6000:]}"
            )


def pipeline_env(sb: Sandbox, tmp: Path) -> dict[str, str]:
    """Meltano's environment for one pipeline, apart from the other's.

    Its own system database, dbt files (target/, logs/) in ``tmp`` rather than transform/,
    and its own Meltano ``run`` directory (``MELTANO_SYS_DIR_ROOT``: the project's installed
    plugins linked in), so the two pipelines can run at the same time.
    """
    return {
        **base_env(sb, tmp),
        "DBT_TARGET_PATH": str(tmp / "dbt-target"),
        "DBT_LOG_PATH": str(tmp / "dbt-logs"),
    }


def duckdb_warehouse(sb: Sandbox, tmp: Path) -> Warehouse:
    """target-duckdb (ignores ACTIVATE_VERSION: staging keeps the latest sync)."""
    database = tmp / "warehouse.duckdb"
    env = pipeline_env(sb, tmp)
    env.update(
        {
            "TARGET_DUCKDB_FILEPATH": str(database),
            "DBT_DUCKDB_PATH": str(database),
            # The two runs are seconds apart: a shorter gap tells them apart (default 600 s).
            "DBT_KNOWBE4_SYNC_GAP_SECONDS": "5",
        }
    )

    @contextlib.contextmanager
    def query() -> Iterator[Query]:
        with duckdb.connect(str(database), read_only=True) as con:
            yield lambda sql: con.execute(sql).fetchall()

    return Warehouse(
        "duckdb", "knowbe4", env, "target-duckdb", query, with_user_risk=False, database=database
    )


def postgres_warehouse(sb: Sandbox, tmp: Path, postgres: PostgresCluster) -> Warehouse:
    """target-postgres with ACTIVATE_VERSION (soft delete), every stream selected."""
    schema = "knowbe4_dbt"
    env = pipeline_env(sb, tmp)
    env.update(
        {
            # Every stream, the opt-in user_risk_score_history included.
            "TAP_KNOWBE4__SELECT": json.dumps(["*.*"]),
            "TAP_KNOWBE4_INCLUDE_USER_RISK_SCORE_HISTORY": "true",
            "TAP_KNOWBE4_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
            "TARGET_POSTGRES_ACTIVATE_VERSION": "true",
            "TARGET_POSTGRES_HARD_DELETE": "false",
            "TARGET_POSTGRES_SQLALCHEMY_URL": postgres.sqlalchemy_url,
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
            "DBT_KNOWBE4_SOURCE_SCHEMA": schema,
            "DBT_KNOWBE4_SCHEMA": schema,
            "DBT_POSTGRES_HOST": "127.0.0.1",
            "DBT_POSTGRES_PORT": str(postgres.port),
            "DBT_POSTGRES_USER": postgres.user,
            "DBT_POSTGRES_DBNAME": postgres.database,
        }
    )

    @contextlib.contextmanager
    def query() -> Iterator[Query]:
        with psycopg.connect(postgres.dsn, autocommit=True) as con:
            yield lambda sql: con.execute(sql).fetchall()

    return Warehouse(
        "postgres", schema, env, "target-postgres", query, with_user_risk=True, dsn=postgres.dsn
    )


@dataclasses.dataclass
class Pipelines:
    """Both pipelines after their two runs."""

    warehouses: dict[str, Warehouse]
    #: Per warehouse, the recipients loaded with a stub the API now sends as ``user: null``.
    kept_stubs: dict[str, set[tuple[int, int]]]


def _run_all(
    meltano: Meltano, warehouses: list[Warehouse], extra: dict[str, str] | None = None
) -> None:
    """Run every pipeline once, side by side (they read the same sandbox clock)."""
    if not warehouses:
        return
    with concurrent.futures.ThreadPoolExecutor(len(warehouses)) as pool:
        for future in [pool.submit(w.run, meltano, extra or {}) for w in warehouses]:
            future.result()


@pytest.fixture(scope="module")
def pipelines(
    request: pytest.FixtureRequest, meltano: Meltano, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipelines]:
    """One sandbox, both pipelines, two runs each; every check's findings per warehouse."""
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - integration tests only

    with Sandbox(**DBT_ORG, limits=False) as sb:
        warehouses = [duckdb_warehouse(sb, tmp_path_factory.mktemp("dbt-duckdb"))]
        with contextlib.suppress(pytest.skip.Exception, pytest.fail.Exception):
            # test_dbt_on_postgres asks for the cluster itself: it skips (or fails in CI) there.
            cluster = request.getfixturevalue("postgres")
            warehouses.append(postgres_warehouse(sb, tmp_path_factory.mktemp("dbt-pg"), cluster))

        # The repeat-clicker window ends when the tests were read: the sandbox's clock, not the
        # tap's wall clock in _sdc_extracted_at (marts_truth.REPEAT_DAYS).
        _run_all(meltano, warehouses, {**FIRST_BUILD_ENV, "DBT_KNOWBE4_AS_OF": as_of(sb.org.now)})
        first = Truth.of(sb.org)
        for w in warehouses:
            if w.problems:
                continue
            w.problems += [f"run 1: {p}" for p in check_warnings(w)]
            with w.query() as raw_query:
                q = guarded(raw_query, w.problems)
                w.problems += [
                    f"run 1: {p}" for p in check_marts(q, w.schema, first, w.with_user_risk)
                ]
                w.extracted.append(extraction_times(q, w.schema))

        sb.advance(days=ADVANCE_DAYS)
        _run_all(
            meltano,
            [w for w in warehouses if not w.problems],
            {"DBT_KNOWBE4_AS_OF": as_of(sb.org.now)},
        )
        second = Truth.of(sb.org, earlier=first)
        deleted = set(first.users) - set(second.users)
        stubs: dict[str, set[tuple[int, int]]] = {}
        for w in warehouses:
            if w.problems:
                continue
            w.problems += [f"run 2: {p}" for p in check_warnings(w)]
            w.problems += check_unit_tests(w)
            with w.query() as raw_query:
                q = guarded(raw_query, w.problems)
                w.problems += [
                    f"run 2: {p}" for p in check_marts(q, w.schema, second, w.with_user_risk)
                ]
                w.extracted.append(extraction_times(q, w.schema))
                w.problems += check_snapshot(q, w.schema, second, deleted, w.extracted)
                stubs[w.name] = kept_stubs(q, w.schema, second)
            if w.dsn is not None:
                w.problems += check_postgres_deletions(w.dsn, w.schema, second, deleted)
            if w.database is not None:
                w.problems += check_demo_report(w.database, w.schema)
        yield Pipelines({w.name: w for w in warehouses}, stubs)


def _assert_warehouse(pipelines: Pipelines, name: str) -> None:
    warehouse = pipelines.warehouses[name]
    if warehouse.problems:
        pytest.fail("\n".join(warehouse.problems), pytrace=False)
    # A user deleted after their test settled: the warehouse keeps the stub the API no
    # longer sends (the marts checked above count those rows as unknown all the same).
    assert pipelines.kept_stubs[name], "no recipient kept a deleted user's stub"


# ------------------------------------------------------------------------------------ the tests
def test_the_organization_is_messy() -> None:
    """Every kind of mess the marts handle occurs in the organization the pipelines read.

    The same organization (it is a function of its options), read at the clocks of the two
    runs without a server, so this runs in a second.
    """
    from tap_knowbe4.sandbox import Organization  # noqa: PLC0415 - integration tests only

    org = Organization(**DBT_ORG)
    first = Truth.of(org)
    org.advance(days=ADVANCE_DAYS)
    second = Truth.of(org, earlier=first)
    missing: list[str] = []

    def expect(condition: object, what: str) -> None:
        if not condition:
            missing.append(what)

    both = (first, second)
    expect(
        any(not r.get("user") for t_ in both for r in t_.recipients),
        "recipients with user null",
    )
    expect(
        any(uid not in t_.users for t_ in both for r in t_.recipients if (uid := stub_id(r))),
        "recipients naming a deleted user (dangling stub)",
    )
    expect(
        any(not e.get("user") for t_ in both for e in t_.enrollments),
        "enrollments with user null",
    )
    expect(
        any(uid not in t_.users for t_ in both for e in t_.enrollments if (uid := stub_id(e))),
        "enrollments naming a deleted user",
    )
    for truth, run in ((first, "run 1"), (second, "run 2")):
        enrollments = truth.enrollments
        raw = truth.raw
        expect(any("groups" not in u for u in raw["users"]), f"{run}: users without groups")
        expect(
            any(isinstance(u.get("employee_number"), int) for u in raw["users"]),
            f"{run}: integer employee numbers on users",
        )
        expect(
            any(
                isinstance((e.get("user") or {}).get("employee_number"), int)
                for e in raw["enrollments"]
            ),
            f"{run}: integer employee numbers on enrollments",
        )
        expect(
            any(isinstance(u.get("phish_prone_percentage"), int) for u in raw["users"]),
            f"{run}: integer Phish-prone percentages",
        )
        for kind in ("training_campaigns", "phishing_campaigns"):
            expect(
                any("group_id" not in g for c in raw[kind] for g in (c.get("groups") or [])),
                f"{run}: {kind} groups without group_id",
            )
        expect(
            any(c.get("completion_percentage") == -1 for c in raw["training_campaigns"]),
            f"{run}: completion_percentage -1 (the tap excludes percentages)",
        )
        purchases = {s["store_purchase_id"] for s in raw["store_purchases"]}
        policies = {p["policy_id"] for p in raw["policies"]}
        expect(
            any(e.get("store_purchase_id") not in purchases for e in enrollments),
            f"{run}: enrollments of a store purchase the list does not have",
        )
        content = [i for c in raw["training_campaigns"] for i in (c.get("content") or [])]
        expect(
            any(i.get("policy_id") is not None and i["policy_id"] not in policies for i in content),
            f"{run}: campaign content naming a policy the list does not have",
        )
        modules = collections.Counter(
            (stub_id(e), e.get("store_purchase_id"), e.get("module_name"))
            for e in enrollments
            if stub_id(e) is not None
        )
        expect(any(n > 1 for n in modules.values()), f"{run}: repeated modules")
        expect(
            any(p.get("scheduled_count") is None for p in truth.tests),
            f"{run}: a phishing test in error (no recipients)",
        )
        expect(
            any(u["status"] == "active" for u in truth.users.values())
            and any(u["status"] == "archived" for u in truth.users.values()),
            f"{run}: active and archived users",
        )
        former = truth.former_phishing()
        expect("deleted" in former, f"{run}: recipients of unknown or deleted users")
        expect("archived" in former, f"{run}: recipients who are archived users")
        expect(
            any(truth.known(e) and truth.active(e) is None for e in truth.enrollments),
            f"{run}: enrollments of archived users",
        )
        clickers = {v[4] for v in truth.user_phishing().values()}
        expect(clickers == {True, False}, f"{run}: repeat clickers and others")
        expect(
            any(
                n > 1
                for n in collections.Counter(
                    (e.get("campaign_id"), truth.active(e)) for e in enrollments if truth.active(e)
                ).values()
            ),
            f"{run}: people with several enrollments in one campaign",
        )

    statuses = {c["status"] for t_ in (first, second) for c in t_.raw["training_campaigns"]}
    expect({"Enrolling", "Closed"} <= statuses, f"Enrolling and Closed campaigns ({statuses})")

    # Users deleted between the runs: one scrubbed (its rows now say user null), one leaving
    # a dangling stub; both with recipients and enrollments.
    deleted = set(first.users) - set(second.users)
    was = {(r["pst_id"], r["recipient_id"]): stub_id(r) for r in first.recipients}
    now = {(r["pst_id"], r["recipient_id"]): stub_id(r) for r in second.recipients}
    scrubbed = {uid for key, uid in was.items() if uid in deleted and now.get(key) is None}
    dangling = {uid for key, uid in was.items() if uid in deleted and now.get(key) == uid}
    expect(scrubbed, "a user deleted between the runs whose rows now show user null")
    expect(dangling, "a user deleted between the runs whose rows keep a dangling stub")
    enrolled = {stub_id(e) for e in first.enrollments}
    expect(deleted <= enrolled, "the users deleted between the runs had enrollments")
    assert not missing, "the organization lacks: " + "; ".join(missing)


def test_dbt_on_duckdb(pipelines: Pipelines) -> None:
    _assert_warehouse(pipelines, "duckdb")


def test_dbt_on_postgres(pipelines: Pipelines, postgres: PostgresCluster) -> None:
    assert postgres.dsn
    _assert_warehouse(pipelines, "postgres")
