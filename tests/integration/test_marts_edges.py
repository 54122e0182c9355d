"""The marts at their edges: generated accounts against the independent recomputation.

``test_dbt.py`` compares every mart with ``tests.integration.marts_truth`` (numbers computed
here, not by SQL) on one sandbox organization, whose data is realistic and therefore rarely at
an edge. This module tries the same property, mart = recomputation (``check_marts``, the same
function), on two accounts Hypothesis generates at the edges, read as one union by source
(``knowbe4_a``, ``knowbe4_b``: the same ids in both, so a number mixing accounts shows):

- a user delivered nothing (null rates, never 0 %), users in no test and no enrollment, archived
  users (any case of the status), rows naming deleted users or no user, blank departments;
- phishing tests scheduled after the read (``started_at`` ahead of ``_sdc_extracted_at``),
  errored (no start), started exactly 365 days before the read or a second later, the read
  itself; recipients never delivered, failures without a delivery, failures and reports alike;
- enrollments completed, past due and neither, in any case, without a campaign, of a campaign
  the list does not have; a person with several enrollments in a campaign;
- risk-score histories of one point, null scores, groups no longer listed, no account row.

The window of the repeat clickers is the default one: the latest ``_sdc_extracted_at`` of each
source's tests (no ``DBT_KNOWBE4_AS_OF``), which the generated rows carry.

How: dbt compiles the project once (``dbt compile``, unit tests left out)
over empty source tables shaped as target-duckdb writes them; each example loads its rows into
an in-memory DuckDB and runs the compiled staging models and marts in dependency order, then
dbt's error-severity tests of them (keys, not null, the singular tests of ``transform/tests/``:
the marts agree, every recipient row counted once, the roll-ups add up): a row is a failure. A
``dbt build`` per example would cost seconds of start-up; the SQL is the same.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import os
import subprocess
import typing as t

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import ROOT
from tests.integration.marts_truth import Truth, check_marts, guarded, reached, slice_views
from tests.property_examples import examples

if t.TYPE_CHECKING:
    from tests.integration.conftest import Meltano

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("marts_edges")]

#: The two sources (union schemas) and the prefix of the schemas dbt writes.
SOURCES = ("knowbe4_a", "knowbe4_b")
PREFIX = "edges"
#: The DuckDB catalog the compiled SQL names (the compile database's file name).
CATALOG = "edges"
DBT = ROOT / ".meltano" / "utilities" / "dbt-duckdb" / "venv" / "bin" / "dbt"
SCHEMAS = ROOT / "tap_knowbe4" / "schemas"
DAY = dt.timedelta(days=1)
#: What check_marts says of a warehouse where no user's rate could be set beside the API's
#: Phish-prone % (a sanity check of the sandbox's data; generated accounts may have none).
NOT_AN_EDGE = "no user's failure rate compared"


# ------------------------------------------------------------------------------ the warehouse
def column_type(spec: dict[str, t.Any]) -> str:
    """The DuckDB type target-duckdb gives a JSON-schema property."""
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    if "object" in types or "array" in types:
        return "JSON"
    if "integer" in types:
        return "HUGEINT"
    if "number" in types:
        return "DOUBLE"
    if "boolean" in types:
        return "BOOLEAN"
    if spec.get("format") == "date-time":
        return "TIMESTAMP"
    return "VARCHAR"


def table_columns() -> dict[str, dict[str, str]]:
    """Per stream table, column -> type, as target-duckdb writes them (metadata included)."""
    tables = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        columns = {
            name: column_type(spec)
            for name, spec in json.loads(path.read_text())["properties"].items()
        }
        columns.update(
            {"_sdc_extracted_at": "TIMESTAMP", "_sdc_batched_at": "TIMESTAMP"}
            | {"_sdc_deleted_at": "VARCHAR"}
        )
        tables[path.stem] = columns
    return tables


def create_sources(con: duckdb.DuckDBPyConnection, tables: dict[str, dict[str, str]]) -> None:
    for schema in SOURCES:
        con.execute(f"create schema {schema}")
        for table, columns in tables.items():
            body = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
            con.execute(f'create table {schema}."{table}" ({body})')


def when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def cell(value: t.Any, kind: str) -> t.Any:
    """A record's value as the loader stores it."""
    if value is None:
        return None
    if kind == "JSON":
        return json.dumps(value)
    if kind == "TIMESTAMP":
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
    return value


class Compiled(t.NamedTuple):
    """The project's compiled SQL: models in dependency order, and the error-severity tests."""

    tables: dict[str, dict[str, str]]
    models: list[tuple[str, str]]
    tests: list[tuple[str, str]]


@pytest.fixture(scope="module")
def compiled(meltano: Meltano, tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """``dbt compile`` of the marts and everything upstream, over empty sources."""
    assert meltano  # the dbt-duckdb plugin is installed
    tmp = tmp_path_factory.mktemp("marts-edges")
    tables = table_columns()
    with duckdb.connect(str(tmp / f"{CATALOG}.duckdb")) as con:
        create_sources(con, tables)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update(
        {
            "DBT_PROFILES_DIR": str(ROOT / "transform" / "profiles"),
            "DBT_DUCKDB_PATH": str(tmp / f"{CATALOG}.duckdb"),
            "DBT_KNOWBE4_SCHEMA": PREFIX,
            "DBT_KNOWBE4_UNION_SCHEMAS": ",".join(SOURCES),
            "DBT_TARGET_PATH": str(tmp / "target"),
            "DBT_LOG_PATH": str(tmp / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_THREADS": "1",
        }
    )
    proc = subprocess.run(
        [
            str(DBT),
            "compile",
            "--select",
            "+path:models/marts",
            "--exclude",
            "resource_type:unit_test",
        ],
        cwd=ROOT / "transform",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"]
    models = {
        k: n for k, n in nodes.items() if n["resource_type"] == "model" and n.get("compiled_code")
    }
    ordered: list[str] = []

    def visit(key: str) -> None:
        if key in ordered or key not in models:
            return
        for parent in models[key]["depends_on"]["nodes"]:
            visit(parent)
        ordered.append(key)

    for key in sorted(models):
        visit(key)
    tests = [
        (n["name"], n["compiled_code"])
        for n in nodes.values()
        if n["resource_type"] == "test"
        and str(n["config"].get("severity", "error")).lower() == "error"
        and n.get("compiled_code")
        and set(n["depends_on"]["nodes"]) <= set(models)
    ]
    return Compiled(
        tables,
        [(models[k]["relation_name"], models[k]["compiled_code"]) for k in ordered],
        tests,
    )


# ----------------------------------------------------------------------------- the accounts
@dataclasses.dataclass
class Account:
    """One generated account: the stream records the tap would emit, and its truth."""

    label: str
    records: dict[str, list[dict[str, t.Any]]]
    truth: Truth = dataclasses.field(repr=False)

    def __repr__(self) -> str:
        """The records without their extraction times (a failing example, short enough)."""
        shown = {
            table: [{k: v for k, v in row.items() if k != "_sdc_extracted_at"} for row in rows]
            for table, rows in self.records.items()
            if rows
        }
        return f"Account({self.label!r}, read {self.truth.as_of}, {shown!r})"


STATUSES = ("active", "Active", " ACTIVE ", "archived")
DEPARTMENTS = (None, "", "   ", "Sales", " Sales ", "IT")
ENROLLMENT_STATUSES = (
    "Passed", "passed", " COMPLETED ", "Past Due", "past due", "In Progress", "Not Started", None,
)  # fmt: skip
#: When a test started, relative to the read (T): the edges of the repeat-clicker window.
STARTS = ("error", "future", "read", "edge", "inside_edge", "recent", "old")
FAILURE_EVENTS = (
    "clicked_at", "replied_at", "attachment_opened_at", "macro_enabled_at", "data_entered_at",
    "qr_code_scanned",
)  # fmt: skip
SCORES = st.one_of(st.none(), st.integers(0, 100_000).map(lambda n: n / 1000))
DATES = ("2026-01-01", "2026-01-08", "2026-01-15", "2026-02-01")


@st.composite
def accounts(draw: st.DrawFn, label: str) -> Account:
    read = dt.datetime(2026, 12, 1, 8) + dt.timedelta(seconds=draw(st.integers(0, 90 * 86400)))
    n_users = draw(st.integers(0, 5))
    ids = list(range(1, n_users + 3))  # the last two: users the users stream no longer has

    def stub(uid: int | None) -> dict[str, t.Any] | None:
        return None if uid is None else {"id": uid, "email": f"u{uid}@{label}.example"}

    def extracted() -> dt.datetime:
        return read - dt.timedelta(seconds=draw(st.integers(1, 50)))

    users = {
        uid: {
            "id": uid,
            "email": f"u{uid}@{label}.example",
            "first_name": f"F{uid}",
            "last_name": f"L{uid}",
            "department": draw(st.sampled_from(DEPARTMENTS)),
            "status": draw(st.sampled_from(STATUSES)),
            "employee_number": draw(st.sampled_from((None, "", " 12 ", "A7"))),
            "current_risk_score": draw(SCORES),
            "_sdc_extracted_at": when(extracted()),
        }
        for uid in ids[:n_users]
    }
    tests: list[dict[str, t.Any]] = []
    recipients: list[dict[str, t.Any]] = []
    for pst_id in range(1, draw(st.integers(0, 5)) + 1):
        kind = draw(st.sampled_from(STARTS))
        start = {
            "error": None,
            "future": read + draw(st.integers(1, 200 * 86400)) * dt.timedelta(seconds=1),
            "read": read,
            "edge": read - 365 * DAY,
            "inside_edge": read - 365 * DAY + dt.timedelta(seconds=1),
            "recent": read - draw(st.integers(1, 364 * 86400)) * dt.timedelta(seconds=1),
            "old": read - draw(st.integers(366, 900)) * DAY,
        }[kind]
        status = {"error": "Error", "future": "Open"}.get(
            kind, draw(st.sampled_from(("Open", "Closed")))
        )
        tests.append(
            {
                "pst_id": pst_id,
                "campaign_id": draw(st.sampled_from((1, 2, 3))),
                "name": f"Test {pst_id}",
                "status": status,
                "started_at": when(start),
                # the read: the first test's extraction is the source's latest
                "_sdc_extracted_at": when(read if pst_id == 1 else extracted()),
            }
        )
        if kind == "error":
            continue
        who = draw(st.lists(st.sampled_from([*ids, None]), max_size=6))
        for recipient_id, uid in enumerate(who, 1):
            row: dict[str, t.Any] = {"pst_id": pst_id, "recipient_id": recipient_id}
            row["user"] = stub(uid)
            row["scheduled_at"] = when(start)
            assert start is not None
            if kind != "future":  # nothing happens in a test that has not started
                if draw(st.booleans()):
                    row["delivered_at"] = when(start + dt.timedelta(hours=1))
                for hours, event in enumerate(FAILURE_EVENTS, 2):
                    # failures of delivered rows mostly; one without a delivery at times
                    if draw(st.integers(0, 9)) < (3 if "delivered_at" in row else 1):
                        row[event] = when(start + dt.timedelta(hours=hours))
                if draw(st.booleans()):
                    row["reported_at"] = when(start + dt.timedelta(hours=9))
                if "delivered_at" not in row and draw(st.booleans()):
                    row["bounced_at"] = when(start + dt.timedelta(minutes=5))
            row["_sdc_extracted_at"] = when(extracted())
            recipients.append(row)
    # Phish-prone % as the API computes it from every test of the user (coherent numbers);
    # a user delivered nothing: 0.0 or null.
    for uid, user in users.items():
        mine = [r for r in recipients if (r["user"] or {}).get("id") == uid]
        delivered = sum(reached(r) for r in mine)
        fails = sum(any(r.get(e) for e in FAILURE_EVENTS) for r in mine)
        user["phish_prone_percentage"] = (
            round(100 * fails / delivered, 3) if delivered else draw(st.sampled_from((0.0, None)))
        )
    enrollments: list[dict[str, t.Any]] = [
        {
            "enrollment_id": eid,
            "user": stub(draw(st.sampled_from([*ids, None]))),
            "campaign_id": (campaign := draw(st.sampled_from((1, 2, 3, None)))),
            "campaign_name": None if campaign is None else f"Training {campaign}",
            "status": draw(st.sampled_from(ENROLLMENT_STATUSES)),
            "_sdc_extracted_at": when(extracted()),
        }
        for eid in range(1, draw(st.integers(0, 8)) + 1)
    ]
    group_ids = list(range(1, draw(st.integers(0, 3)) + 1))
    groups: list[dict[str, t.Any]] = [
        {"id": gid, "name": f"Group {gid}", "_sdc_extracted_at": when(extracted())}
        for gid in group_ids
    ]
    scores: dict[tuple[str, t.Any, str], float | None] = {}
    history: dict[str, list[dict[str, t.Any]]] = collections.defaultdict(list)
    owners = [("account", None)] + [("group", g) for g in [*group_ids, len(group_ids) + 1]]
    owners += [("user", u) for u in ids]
    for kind, owner in owners:
        for day in draw(st.lists(st.sampled_from(DATES), unique=True, max_size=3)):
            score = draw(SCORES)
            scores[(kind, owner, day)] = score
            point: dict[str, t.Any] = {"date": day, "risk_score": score}
            if kind != "account":
                point[f"{kind}_id"] = owner
            point["_sdc_extracted_at"] = when(extracted())
            history[f"{kind}_risk_score_history"].append(point)
    account_name = draw(st.sampled_from(("Acme", None)))
    records: dict[str, list[dict[str, t.Any]]] = {
        "users": list(users.values()),
        "phishing_security_tests": tests,
        "phishing_security_test_recipients": recipients,
        "phishing_campaigns": [
            {"campaign_id": c, "name": f"Campaign {c}", "_sdc_extracted_at": when(extracted())}
            for c in (1, 2)
        ],
        "training_enrollments": enrollments,
        "training_campaigns": [
            {"campaign_id": 1, "name": "Training 1", "status": "In Progress"},
            {"campaign_id": 2, "name": "Training 2", "status": "Closed"},
        ],
        "groups": groups,
        "account": [] if account_name is None else [{"name": account_name}],
        **history,
    }
    for table in ("training_campaigns", "account"):
        for record in records[table]:
            record["_sdc_extracted_at"] = when(extracted())
    truth = Truth(
        users=users,
        tests=tests,
        recipients=recipients,
        enrollments=enrollments,
        risk_points={k for k in scores if k[0] != "user"},
        user_risk_points={k for k in scores if k[0] == "user"},
        raw={},
        risk_scores=scores,
        account_name=account_name,
        group_names={g["id"]: g["name"] for g in groups},
        as_of=read,
    )
    return Account(label, records, truth)


# ------------------------------------------------------------------------------- the checks
def build(compiled: Compiled, found: list[Account]) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse: the accounts loaded, the compiled models built."""
    con = duckdb.connect()
    con.execute(f"attach ':memory:' as {CATALOG}")
    con.execute(f"use {CATALOG}")
    create_sources(con, compiled.tables)
    for account in found:
        for table, rows in account.records.items():
            columns = compiled.tables[table]
            for row in rows:
                names = [name for name in row if name in columns]
                assert names == list(row), set(row) - set(columns)
                quoted = ", ".join(f'"{n}"' for n in names)
                con.execute(
                    f'insert into {account.label}."{table}" ({quoted}) '
                    f"values ({', '.join('?' for _ in names)})",
                    [cell(row[n], columns[n]) for n in names],
                )
    for layer in ("staging", "marts"):
        con.execute(f"create schema {PREFIX}_{layer}")
    for relation, sql in compiled.models:
        con.execute(f"create table {relation} as {sql}")
    return con


def problems_of(compiled: Compiled, found: list[Account]) -> list[str]:
    """Every mart of every source against its truth, the roll-ups, dbt's tests."""
    problems: list[str] = []
    with build(compiled, found) as con:
        query = guarded(lambda sql: con.execute(sql).fetchall(), problems)
        for account in found:
            alias = f"slice_{account.label}"
            slice_views(query, account.label, alias, PREFIX)
            problems += [
                f"{account.label}: {p}"
                for p in check_marts(query, alias, account.truth, with_user_risk=True)
                if NOT_AN_EDGE not in p
            ]
        users: collections.Counter[str] = collections.Counter()
        for account in found:
            for department, figures in account.truth.departments().items():
                users[department] += figures[0]
        rows = query(
            f"select department, users from {PREFIX}_marts.knowbe4__department_summary_rollup"
        )
        if {d: int(n) for d, n in rows} != dict(users):
            problems.append(f"department_summary_rollup users {rows} != {dict(users)}")
        for name, sql in compiled.tests:
            failing = query(f"select count(*) from ({sql}) as failures")
            if failing and failing[0][0]:
                problems.append(f"dbt test {name}: {failing[0][0]} failing rows")
    return problems


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow])
@given(a=accounts(SOURCES[0]), b=accounts(SOURCES[1]))
def test_marts_equal_the_recomputation_at_the_edges(
    compiled: Compiled, a: Account, b: Account
) -> None:
    problems = problems_of(compiled, [a, b])
    assert not problems, "\n".join(problems)


def test_the_compiled_project_covers_the_marts(compiled: Compiled) -> None:
    """Every mart is built and dbt's singular tests of the marts run on each example."""
    built = {relation.split(".")[-1].strip('"') for relation, _ in compiled.models}
    marts = {p.stem for p in (ROOT / "transform" / "models" / "marts").glob("*.sql")}
    assert marts <= built, marts - built
    singular = {p.stem for p in (ROOT / "transform" / "tests").glob("*.sql")}
    assert {n for n, _ in compiled.tests} & singular, "no singular test compiled"
