"""The dbt project (transform/) on DuckDB and on PostgreSQL, checked against the sandbox.

Each test serves a sandbox organization through a small proxy that adds the real API's mess
(``Mess``: null and unknown users on recipients and enrollments, users without groups, blank
departments, integer Phish-prone %, repeated modules, content missing from the store
purchases, campaign groups without a group_id and the "All Users" pseudo-group, the Enrolling
and Closed campaign statuses, users deleted between runs). It runs

    meltano run tap-knowbe4 <loader> dbt-<loader>:build

twice (the second after a month of sandbox time, incremental, with more users deleted), and
after each run compares the marts with what they must hold, computed here from the sandbox's
ground truth (``sb.org``) with the same mess applied: failures per phishing test, completion per
training campaign and department, repeat clickers, the department summary, row counts, and
the users snapshot accumulating versions and closing those of deleted users.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import http.server
import json
import math
import re
import threading
import typing as t
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import psycopg
import pytest

from tests.ground_truth import ENROLLMENT_FLAGS
from tests.integration.conftest import PIPELINE_ORG, base_env

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tap_knowbe4.sandbox import Organization, Sandbox
    from tests.integration.conftest import Meltano
    from tests.integration.pgcluster import PostgresCluster

pytestmark = pytest.mark.integration

#: Sandbox days between the two runs.
ADVANCE_DAYS = 30
#: Repeat clickers: failures in tests started within this many days up to the latest test.
REPEAT_DAYS = 365
GHOST_USER = 900_000_000  # ids of users the users stream never has
MISSING_CONTENT = 999_999  # a store purchase id the store-purchase list does not have
DUPLICATE_OFFSET = 500_000_000  # enrollment ids of repeated modules

Rows = list[dict[str, t.Any]]


# --------------------------------------------------------------------------------------- mess
@dataclasses.dataclass
class Mess:
    """Deterministic mess added to API responses (and, identically, to the ground truth)."""

    #: users the API no longer returns (deleted); grows between runs.
    deleted: set[int] = dataclasses.field(default_factory=set)

    def apply(self, path: str, rows: Rows) -> Rows:
        """The rows of ``path`` (an API list endpoint) with the mess added."""
        if path == "/v1/users":
            return [self._user(dict(u)) for u in rows if u["id"] not in self.deleted]
        if re.fullmatch(r"/v1/phishing/security_tests/\d+/recipients", path):
            return [self._recipient(dict(r)) for r in rows]
        if path == "/v1/training/enrollments":
            out: Rows = []
            for original in rows:
                row = self._enrollment(dict(original))
                out.append(row)
                if row["enrollment_id"] % 10 == 3:  # the same module once more
                    out.append({**row, "enrollment_id": row["enrollment_id"] + DUPLICATE_OFFSET})
            return out
        if path == "/v1/training/campaigns":
            return [self._training_campaign(dict(c)) for c in rows]
        if path == "/v1/phishing/campaigns":
            return [self._campaign_groups(dict(c)) for c in rows]
        if path == "/v1/training/store_purchases":
            return rows[1:]  # the first purchase is gone: campaigns and enrollments keep it
        return rows

    @staticmethod
    def _user(user: dict) -> dict:
        uid = user["id"]
        if uid % 7 == 3:
            user.pop("groups", None)
        elif uid % 7 == 4:
            user["groups"] = None
        if uid % 5 == 0 and user.get("phish_prone_percentage") is not None:
            user["phish_prone_percentage"] = round(user["phish_prone_percentage"])
        if uid % 9 == 0:
            user["department"] = "  "
        elif uid % 9 == 1:
            user["department"] = None
        return user

    @staticmethod
    def _recipient(row: dict) -> dict:
        rid = row["recipient_id"]
        if rid % 11 == 0:
            row["user"] = None
        elif rid % 11 == 1 and row.get("user"):
            row["user"] = {**row["user"], "id": GHOST_USER + rid % 3}
        return row

    def _enrollment(self, row: dict) -> dict:
        eid, stub = row["enrollment_id"], row.get("user")
        if eid % 10 == 0 or (stub and stub.get("id") in self.deleted and eid % 2 == 0):
            row["user"] = None
        elif eid % 10 == 1 and stub:
            row["user"] = {**stub, "employee_number": 10_000 + eid % 1000}
        if eid % 10 == 2:
            row["store_purchase_id"] = MISSING_CONTENT
        return row

    @staticmethod
    def _campaign_groups(campaign: dict) -> dict:
        campaign["groups"] = [
            *(campaign.get("groups") or []),
            {"name": "Legacy group without id"},
            {"group_id": 0, "name": "All Users"},
        ]
        return campaign

    def _training_campaign(self, campaign: dict) -> dict:
        campaign = self._campaign_groups(campaign)
        status = {0: "Enrolling", 1: "Closed"}.get(campaign["campaign_id"] % 3)
        campaign["status"] = status or campaign.get("status")
        campaign["content"] = [
            *(campaign.get("content") or []),
            {"content_type": "Store Purchase", "store_purchase_id": MISSING_CONTENT, "name": "?"},
        ]
        return campaign


class _MessyHandler(http.server.BaseHTTPRequestHandler):
    server: _MessyServer

    def do_GET(self) -> None:
        server = self.server
        headers = {
            k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept")
        }
        request = urllib.request.Request(server.upstream + self.path, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                status, reply_headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as err:
            status, reply_headers, body = err.code, err.headers, err.read()
        if status == 200:
            body = server.rewrite(urlsplit(self.path).path, body)
        self.send_response(status)
        for key, value in reply_headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: t.Any) -> None:
        pass


class _MessyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, mess: Mess) -> None:
        super().__init__(("127.0.0.1", 0), _MessyHandler)
        self.upstream = upstream
        self.mess = mess

    def rewrite(self, path: str, body: bytes) -> bytes:
        data = json.loads(body)
        if isinstance(data, list):
            data = self.mess.apply(path, data)
        elif isinstance(data, dict) and isinstance(data.get("data"), list):
            data["data"] = self.mess.apply(path, data["data"])  # cursor envelope
        return json.dumps(data).encode()


@dataclasses.dataclass
class MessyApi:
    """A sandbox behind the mess-adding proxy."""

    sb: Sandbox
    mess: Mess
    url: str


@pytest.fixture
def messy_api() -> Iterator[MessyApi]:
    """A sandbox of its own (the tests move its clock) behind the mess-adding proxy."""
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - integration tests only

    with Sandbox(**PIPELINE_ORG, limits=False) as sb:
        mess = Mess()
        server = _MessyServer(sb.base_url, mess)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield MessyApi(sb, mess, f"http://127.0.0.1:{server.server_address[1]}")
        finally:
            server.shutdown()
            server.server_close()


# ------------------------------------------------------------------------------ ground truth
def failed(row: dict) -> bool:
    """The recipient failed the test (reference §4.7, the marts' definition)."""
    events = (
        "clicked_at",
        "replied_at",
        "attachment_opened_at",
        "macro_enabled_at",
        "data_entered_at",
        "qr_code_scanned",
    )
    return any(row.get(e) for e in events)


def when(value: str | None) -> dt.datetime | None:
    """An API timestamp as a naive UTC datetime."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)


def department(user: dict | None) -> str:
    """The marts' department: blank, missing or unknown user is 'Unknown'."""
    name = ((user or {}).get("department") or "").strip()
    return name or "Unknown"


@dataclasses.dataclass
class Truth:
    """What the marts must hold, from the sandbox's ground truth with the mess applied."""

    users: dict[int, dict]
    tests: Rows
    recipients: Rows
    enrollments: Rows
    #: (entity type, entity id, date) of every risk-score point loaded so far.
    risk_points: set[tuple[str, t.Any, str]]

    @classmethod
    def of(
        cls, org: Organization, mess: Mess, with_user_risk: bool, earlier: Truth | None = None
    ) -> Truth:
        """Read the organization as the API (through the proxy) serves it now.

        Risk-score histories are incremental: points loaded by an ``earlier`` run stay
        (those of users deleted since, too).
        """
        users = {u["id"]: u for u in mess.apply("/v1/users", org.users())}
        tests = org.security_tests()
        recipients = [
            row
            for pst in tests
            for row in mess.apply(
                f"/v1/phishing/security_tests/{pst['pst_id']}/recipients",
                org.recipients(pst["pst_id"]),
            )
        ]
        enrollments = mess.apply("/v1/training/enrollments", org.enrollments(**ENROLLMENT_FLAGS))
        points = {("account", None, p["date"]) for p in org.account_risk_score_history(full=True)}
        for g in org.groups():
            history = org.group_risk_score_history(g["id"], full=True)
            points |= {("group", g["id"], p["date"]) for p in history}
        if with_user_risk:
            for uid in users:
                history = org.user_risk_score_history(uid, full=True)
                points |= {("user", uid, p["date"]) for p in history}
        if earlier is not None:
            points |= earlier.risk_points
        return cls(users, tests, recipients, enrollments, points)

    def phishing_tests(self) -> dict[int, tuple]:
        """pst_id -> (recipients, delivered, failed, reported)."""
        out = {p["pst_id"]: [0, 0, 0, 0] for p in self.tests}
        for row in self.recipients:
            counts = out[row["pst_id"]]
            counts[0] += 1
            counts[1] += bool(row.get("delivered_at"))
            counts[2] += failed(row)
            counts[3] += bool(row.get("reported_at"))
        return {k: tuple(v) for k, v in out.items()}

    def training(self) -> dict[tuple[int | None, str], tuple]:
        """(campaign_id, department) -> (enrolled, completed, past_due)."""
        out: dict[tuple[int | None, str], list[int]] = collections.defaultdict(lambda: [0, 0, 0])
        for row in self.enrollments:
            stub = row.get("user")
            user = self.users.get(stub["id"]) if stub else None
            counts = out[(row.get("campaign_id"), department(user))]
            counts[0] += 1
            counts[1] += row["status"] in ("Passed", "Completed")
            counts[2] += row["status"] == "Past Due"
        return {k: tuple(v) for k, v in out.items()}

    def user_phishing(self) -> dict[int, tuple]:
        """user_id -> (delivered, failures, reports, is_repeat_clicker)."""
        started = {p["pst_id"]: when(p.get("started_at")) for p in self.tests}
        latest = max(s for s in started.values() if s)
        since = latest - dt.timedelta(days=REPEAT_DAYS)
        out: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0])
        for row in self.recipients:
            if not (row.get("user") and row["user"].get("id") is not None):
                continue
            counts = out[row["user"]["id"]]
            counts[0] += bool(row.get("delivered_at"))
            counts[1] += failed(row)
            counts[2] += bool(row.get("reported_at"))
            test_start = started.get(row["pst_id"])
            counts[3] += failed(row) and test_start is not None and since <= test_start <= latest
        return {uid: (d, f, r, recent >= 2) for uid, (d, f, r, recent) in out.items()}

    def departments(self) -> dict[str, tuple]:
        """department -> (active users, average Phish-prone %, completion, failure rate)."""
        active = {uid: u for uid, u in self.users.items() if u.get("status") == "active"}
        by_user_training: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0])
        for row in self.enrollments:
            if row.get("user"):
                counts = by_user_training[row["user"]["id"]]
                counts[0] += 1
                counts[1] += row["status"] in ("Passed", "Completed")
        phishing = self.user_phishing()
        grouped: dict[str, list[dict]] = collections.defaultdict(list)
        for user in active.values():
            grouped[department(user)].append(user)
        out = {}
        for name, members in grouped.items():
            ppp = [u["phish_prone_percentage"] for u in members]
            ppp = [p for p in ppp if p is not None]
            enrolled = sum(by_user_training[u["id"]][0] for u in members)
            completed = sum(by_user_training[u["id"]][1] for u in members)
            delivered = sum(phishing.get(u["id"], (0, 0))[0] for u in members)
            fails = sum(phishing.get(u["id"], (0, 0))[1] for u in members)
            out[name] = (
                len(members),
                sum(ppp) / len(ppp) if ppp else None,
                completed / enrolled if enrolled else None,
                fails / delivered if delivered else None,
            )
        return out


# ------------------------------------------------------------------------------ the warehouse
Query = t.Callable[[str], list[tuple]]


def close(a: float | None, b: float | None) -> bool:
    """Equal rates (both null, or within float noise)."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def check_marts(query: Query, schema: str, truth: Truth) -> None:
    """Every mart against the truth; one assertion listing every difference."""
    problems: list[str] = []
    marts, staging = f"{schema}_marts", f"{schema}_staging"

    def count(relation: str) -> int:
        return int(query(f"select count(*) from {relation}")[0][0])

    # Staging keeps only what the API still returns (deleted users drop out).
    expected_counts = {
        f"{staging}.stg_knowbe4__users": len(truth.users),
        f"{staging}.stg_knowbe4__phishing_recipients": len(truth.recipients),
        f"{staging}.stg_knowbe4__training_enrollments": len(truth.enrollments),
        f"{marts}.knowbe4__phishing_tests": len(truth.tests),
        f"{marts}.knowbe4__risk_score_trend": len(truth.risk_points),
    }
    for relation, rows_expected in expected_counts.items():
        if (got := count(relation)) != rows_expected:
            problems.append(f"{relation}: {got} rows, expected {rows_expected}")

    expected_tests = truth.phishing_tests()
    rows = query(
        f"select pst_id, recipients, delivered, failed, reported, failure_rate, report_rate "
        f"from {marts}.knowbe4__phishing_tests"
    )
    got_tests = {int(r[0]): tuple(int(v) for v in r[1:5]) for r in rows}
    if got_tests != expected_tests:
        differ = [
            (k, v, expected_tests.get(k))
            for k, v in got_tests.items()
            if v != expected_tests.get(k)
        ]
        problems.append(f"phishing_tests differ (got, expected): {differ[:5]}")
    for pst_id, *_, failure_rate, report_rate in rows:
        _, delivered, fails, reported = expected_tests.get(int(pst_id), (0, 0, 0, 0))
        if not close(failure_rate, fails / delivered if delivered else None) or not close(
            report_rate, reported / delivered if delivered else None
        ):
            problems.append(f"phishing_tests {pst_id}: rates {failure_rate}, {report_rate}")

    expected_training = truth.training()
    rows = query(
        f"select campaign_id, department, enrolled, completed, past_due, completion_rate "
        f"from {marts}.knowbe4__training_compliance"
    )
    got_training = {
        (None if r[0] is None else int(r[0]), r[1]): tuple(int(v) for v in r[2:5]) for r in rows
    }
    if got_training != expected_training:
        missing = sorted(set(expected_training) - set(got_training), key=str)
        extra = sorted(set(got_training) - set(expected_training), key=str)
        changed = [k for k in got_training if got_training[k] != expected_training.get(k)]
        problems.append(
            f"training_compliance: missing {missing[:5]}, unexpected "
            f"{extra[:5]}, different {[(k, got_training[k]) for k in changed[:5]]}"
        )
    for campaign, dept, enrolled, completed, _, rate in rows:
        if not close(rate, completed / enrolled):
            problems.append(f"training_compliance {campaign}/{dept}: rate {rate}")

    expected_users = truth.user_phishing()
    rows = query(
        f"select user_id, tests_delivered, failures, reports, is_repeat_clicker, is_known_user "
        f"from {marts}.knowbe4__user_phishing"
    )
    got_users = {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), bool(r[4])) for r in rows}
    if got_users != expected_users:
        everyone = set(got_users) | set(expected_users)
        users_differ = [u for u in everyone if got_users.get(u) != expected_users.get(u)]
        problems.append(
            "user_phishing (got, expected): "
            f"{[(u, got_users.get(u), expected_users.get(u)) for u in users_differ[:5]]}"
        )
    unknown = {int(r[0]) for r in rows if not r[5]}
    if unknown != set(expected_users) - set(truth.users):
        problems.append(f"user_phishing: unknown users {sorted(unknown)[:5]}")

    expected_departments = truth.departments()
    rows = query(
        f"select department, users, avg_phish_prone_percentage, training_completion_rate, "
        f"phishing_failure_rate from {marts}.knowbe4__department_summary"
    )
    got_departments = {r[0]: r[1:] for r in rows}
    if set(got_departments) != set(expected_departments):
        problems.append(
            f"department_summary: {sorted(got_departments)} != {sorted(expected_departments)}"
        )
    for name, (users, ppp, completion, failure) in expected_departments.items():
        summary = got_departments.get(name)
        if summary is None:
            continue
        if int(summary[0]) != users or not all(
            close(a, b) for a, b in zip(summary[1:], (ppp, completion, failure), strict=True)
        ):
            expected = (users, ppp, completion, failure)
            problems.append(f"department_summary {name}: {tuple(summary)} != {expected}")

    assert not problems, "\n".join(problems)


def check_snapshot(query: Query, schema: str, truth: Truth, deleted: set[int]) -> None:
    """The users snapshot after two runs: versions accumulated, deleted users closed."""
    rows = query(
        f"select user_id, count(*), count(*) - count(dbt_valid_to) "
        f"from {schema}_snapshots.knowbe4__users_snapshot group by user_id"
    )
    current = {int(uid) for uid, _, open_versions in rows if open_versions}
    assert current == set(truth.users), "one open version per user the API still returns"
    assert all(open_versions <= 1 for _, _, open_versions in rows)
    closed = {int(uid) for uid, _, open_versions in rows if not open_versions}
    assert deleted <= closed, "deleted users have their last version closed"
    assert sum(int(versions) for _, versions, _ in rows) > len(rows), "no version accumulated"


# ----------------------------------------------------------------------------------- the runs
def dbt_env(env: dict[str, str], tmp: Path) -> dict[str, str]:
    """dbt's own files (target/, logs/) in the test's directory, not in transform/."""
    return {
        **env,
        "DBT_TARGET_PATH": str(tmp / "dbt-target"),
        "DBT_LOG_PATH": str(tmp / "dbt-logs"),
    }


def two_runs(
    api: MessyApi,
    run: Callable[[], str],
    query: Callable[[], contextlib.AbstractContextManager[Query]],
    schema: str,
    with_user_risk: bool,
) -> None:
    """Run, check, delete users and move a month on, run again (incremental), check."""
    sb, mess = api.sb, api.mess
    output = run()
    truth = Truth.of(sb.org, mess, with_user_risk)
    assert re.search(r"PASS=\d+ WARN=[1-9]\d* ERROR=0", output), (
        "dbt build should pass with warnings (dangling references):\n" + output[-3000:]
    )
    with query() as q:
        check_marts(q, schema, truth)

    # Users deleted between the runs: active users with enrollments and phishing results.
    enrolled = {e["user"]["id"] for e in truth.enrollments if e.get("user")}
    phished = {r["user"]["id"] for r in truth.recipients if r.get("user")}
    candidates = sorted(u for u in truth.users if u in enrolled and u in phished)
    mess.deleted.update(candidates[:4])
    sb.advance(days=ADVANCE_DAYS)
    run()
    truth = Truth.of(sb.org, mess, with_user_risk, earlier=truth)
    with query() as q:
        check_marts(q, schema, truth)
        check_snapshot(q, schema, truth, mess.deleted)


def test_dbt_on_duckdb(meltano: Meltano, messy_api: MessyApi, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    env = dbt_env(base_env(messy_api.sb, tmp_path), tmp_path)
    env.update(
        {
            "TAP_KNOWBE4_API_URL": messy_api.url,
            "DBT_DUCKDB_PATH": str(database),
            # The two runs are seconds apart: a shorter gap tells them apart (default 600 s).
            "DBT_KNOWBE4_SYNC_GAP_SECONDS": "2",
        }
    )

    def run() -> str:
        proc = meltano("run", "tap-knowbe4", "target-duckdb", "dbt-duckdb:build", env=env)
        return proc.stdout + proc.stderr

    @contextlib.contextmanager
    def query() -> Iterator[Query]:
        with duckdb.connect(str(database), read_only=True) as con:
            yield lambda sql: con.execute(sql).fetchall()

    two_runs(messy_api, run, query, "knowbe4", with_user_risk=False)


def test_dbt_on_postgres(
    meltano: Meltano, messy_api: MessyApi, postgres: PostgresCluster, tmp_path: Path
) -> None:
    schema = "knowbe4_dbt"
    env = dbt_env(base_env(messy_api.sb, tmp_path), tmp_path)
    env.update(
        {
            "TAP_KNOWBE4_API_URL": messy_api.url,
            # Every stream, the opt-in user_risk_score_history included.
            "TAP_KNOWBE4__SELECT": json.dumps(["*.*"]),
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

    def run() -> str:
        proc = meltano("run", "tap-knowbe4", "target-postgres", "dbt-postgres:build", env=env)
        return proc.stdout + proc.stderr

    @contextlib.contextmanager
    def query() -> Iterator[Query]:
        with psycopg.connect(postgres.dsn) as con:
            yield lambda sql: con.execute(sql).fetchall()

    two_runs(messy_api, run, query, schema, with_user_risk=True)
