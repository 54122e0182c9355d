"""The marts' truth, computed from the sandbox, and the comparison of a warehouse with it.

``Truth`` reads an organization as the tap reads it (``tests.ground_truth``) and says what
every mart must hold; ``check_marts`` compares the marts of one warehouse (schemas
``<schema>_staging`` and ``<schema>_marts``) with it and returns the differences as text.
``tests/integration/test_dbt.py`` (one account, two runs) and ``test_dbt_union.py`` (three
accounts read as one, one source at a time) use them.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import math
import typing as t

import duckdb
import psycopg

from tests.ground_truth import ENROLLMENT_FLAGS, PHISHING_FAILURE_EVENTS, expected_records

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Organization

#: Repeat clickers: failures in tests started within this many days up to when the tests were
#: read (the sandbox's clock at the run: the marts are given it as DBT_KNOWBE4_AS_OF, since the
#: tap stamps _sdc_extracted_at with the wall clock and the sandbox keeps a clock of its own).
REPEAT_DAYS = 365

Rows = list[dict[str, t.Any]]
Query = t.Callable[[str], list[tuple]]


# ------------------------------------------------------------------------------ ground truth
def failed(row: dict) -> bool:
    """The recipient failed the test (reference §4.7, the marts' definition)."""
    return any(row.get(e) for e in PHISHING_FAILURE_EVENTS)


def reached(row: dict) -> bool:
    """The email reached the recipient: delivered_at, or an event only a delivered email allows
    (opened, a failure, a report), as the marts count deliveries."""
    return bool(row.get("delivered_at") or row.get("opened_at") or row.get("reported_at")) or (
        failed(row)
    )


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


def as_of(clock: dt.datetime) -> str:
    """A clock as the marts' var knowbe4_as_of (env DBT_KNOWBE4_AS_OF) takes it: ISO 8601, UTC."""
    return clock.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_is(value: str | None, *words: str) -> bool:
    """A status read as the staging models read it: any case, surrounding spaces ignored."""
    return (value or "").strip().lower() in words


def is_active(user: dict | None) -> bool:
    """The user is active (status ``active`` in any case)."""
    return status_is((user or {}).get("status"), "active")


def is_completed(row: dict) -> bool:
    """The enrollment is completed (``Passed`` or ``Completed``, any case)."""
    return status_is(row.get("status"), "passed", "completed")


def is_past_due(row: dict) -> bool:
    """The enrollment is past due (``Past Due``, any case)."""
    return status_is(row.get("status"), "past due")


def stub_id(row: dict) -> int | None:
    """The id in a recipient's or enrollment's ``user`` stub (None when the user is null)."""
    return (row.get("user") or {}).get("id")


@dataclasses.dataclass
class Truth:
    """The organization at one clock: what the tap loads, and the API's raw answers."""

    users: dict[int, dict]
    tests: Rows
    recipients: Rows
    enrollments: Rows
    #: (entity type, entity id, date) of the account's and groups' risk-score points so far.
    risk_points: set[tuple[str, t.Any, str]]
    #: The same for users (the opt-in stream user_risk_score_history).
    user_risk_points: set[tuple[str, t.Any, str]]
    #: The API's answers as sent (integers where the tap loads text, completion percentages).
    raw: dict[str, Rows]
    #: (entity type, entity id, date) -> the risk score of that point, users' points too.
    risk_scores: dict[tuple[str, t.Any, str], float | None] = dataclasses.field(
        default_factory=dict
    )
    #: The account's name (the trend mart's entity id of the account's points).
    account_name: str | None = None
    #: Group id -> name (the trend mart's entity name of a group's points).
    group_names: dict[int, str | None] = dataclasses.field(default_factory=dict)
    #: When the tests were read: the sandbox's clock (naive UTC), the repeat-clicker window's end.
    as_of: dt.datetime | None = None

    @classmethod
    def of(cls, org: Organization, earlier: Truth | None = None) -> Truth:
        """Read the organization as the tap reads it now.

        Full-table streams are what the API returns now. Recipients are too: the tap does not
        re-read a test that settled in an earlier run, so a user deleted since keeps the stub
        there where a fresh read shows ``user: null``; the marts treat both alike (a user the
        users stream does not have is unknown), so the fresh read is the truth for them.
        Risk-score histories are incremental: points loaded by an ``earlier`` run stay (those
        of users deleted since, too).
        """
        users = {u["id"]: u for u in expected_records(org, "users")}
        scores: dict[tuple[str, t.Any, str], float | None] = {}
        for p in org.account_risk_score_history(full=True):
            scores[("account", None, p["date"])] = p.get("risk_score")
        for g in org.groups():
            for p in org.group_risk_score_history(g["id"], full=True):
                scores[("group", g["id"], p["date"])] = p.get("risk_score")
        points = set(scores)
        for uid in users:
            for p in org.user_risk_score_history(uid, full=True):
                scores[("user", uid, p["date"])] = p.get("risk_score")
        user_points = {k for k in scores if k[0] == "user"}
        if earlier is not None:
            points |= earlier.risk_points
            user_points |= earlier.user_risk_points
            scores = {**earlier.risk_scores, **scores}
        raw = {
            "users": org.users(),
            "enrollments": org.enrollments(**ENROLLMENT_FLAGS),
            "training_campaigns": org.training_campaigns(),
            "phishing_campaigns": org.phishing_campaigns(),
            "store_purchases": org.store_purchases(),
            "policies": org.policies(),
        }
        return cls(
            users=users,
            # email and callback (voice) tests alike: the marts union them (campaign_type)
            tests=[
                *expected_records(org, "phishing_security_tests"),
                *expected_records(org, "callback_phishing_security_tests"),
            ],
            recipients=[
                *expected_records(org, "phishing_security_test_recipients"),
                *expected_records(org, "callback_phishing_security_test_recipients"),
            ],
            enrollments=expected_records(org, "training_enrollments"),
            risk_points=points,
            user_risk_points=user_points,
            raw=raw,
            risk_scores=scores,
            account_name=org.account().get("name"),
            group_names={g["id"]: g.get("name") for g in expected_records(org, "groups")},
            as_of=org.now.astimezone(dt.timezone.utc).replace(tzinfo=None),
        )

    def known(self, row: dict) -> int | None:
        """The id of the row's user when the users stream has it, else None (unknown)."""
        uid = stub_id(row)
        return uid if uid in self.users else None

    def active(self, row: dict) -> int | None:
        """The id of the row's user when it is an active user, else None (the people marts
        count active users only)."""
        uid = self.known(row)
        return uid if uid is not None and is_active(self.users[uid]) else None

    def phishing_tests(self) -> dict[int, tuple]:
        """pst_id -> (recipients, delivered, failed, reported)."""
        out = {p["pst_id"]: [0, 0, 0, 0] for p in self.tests}
        for row in self.recipients:
            counts = out[row["pst_id"]]
            counts[0] += 1
            counts[1] += reached(row)
            counts[2] += failed(row)
            counts[3] += bool(row.get("reported_at"))
        return {k: tuple(v) for k, v in out.items()}

    def phishing_test_details(self) -> dict[int, tuple]:
        """pst_id -> (status, started_at, opened, clicked, bounced, campaign_id)."""
        out = {
            p["pst_id"]: [p.get("status"), when(p.get("started_at")), 0, 0, 0, p["campaign_id"]]
            for p in self.tests
        }
        for row in self.recipients:
            counts = out[row["pst_id"]]
            counts[2] += bool(row.get("opened_at"))
            counts[3] += bool(row.get("clicked_at"))
            counts[4] += bool(row.get("bounced_at"))
        return {k: tuple(v) for k, v in out.items()}

    def last_failures(self, *, active: bool = True) -> dict[t.Any, dt.datetime]:
        """Per active user (or, ``active=False``, per 'archived'/'deleted'): the latest of
        their failed recipient rows' first failure event."""
        out: dict[t.Any, dt.datetime] = {}
        for row in self.recipients:
            events = [when(row.get(e)) for e in PHISHING_FAILURE_EVENTS if row.get(e)]
            if not events:
                continue
            uid = self.active(row)
            if active != (uid is not None):
                continue
            who: t.Any = uid if active else "deleted" if self.known(row) is None else "archived"
            first = min(t_ for t_ in events if t_ is not None)
            out[who] = max(out.get(who, first), first)
        return out

    def trend(self, with_user_risk: bool) -> dict[tuple[str, t.Any, str], tuple]:
        """(entity type, entity id as the mart writes it, date) -> (entity name, risk score,
        previous date, previous score, change): each entity's points in date order."""
        by_entity: dict[tuple[str, t.Any], list[str]] = collections.defaultdict(list)
        for kind, entity, day in self.risk_scores:
            if kind != "user" or with_user_risk:
                by_entity[(kind, entity)].append(day)
        out = {}
        for (kind, entity), days in by_entity.items():
            if kind == "account":
                mart_id, name = self.account_name or "account", self.account_name
            elif kind == "group":
                mart_id, name = str(entity), self.group_names.get(entity)
            else:
                mart_id = str(entity)
                name = (self.users.get(entity) or {}).get("email")
            previous: tuple[str | None, float | None] = (None, None)
            for day in sorted(days):
                score = self.risk_scores[(kind, entity, day)]
                change = None if score is None or previous[1] is None else score - previous[1]
                out[(kind, mart_id, day)] = (name, score, *previous, change)
                previous = (day, score)
        return out

    def training(self) -> dict[tuple[int | None, str], tuple]:
        """(campaign_id, department) of active users -> (users enrolled, users completed (every
        enrollment), users past due (any), enrollments, completed, past due)."""
        per_user: dict[tuple, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
        for row in self.enrollments:
            if (uid := self.active(row)) is None:
                continue
            counts = per_user[(row.get("campaign_id"), department(self.users[uid]), uid)]
            counts[0] += 1
            counts[1] += is_completed(row)
            counts[2] += is_past_due(row)
        out: dict[tuple[int | None, str], list[int]] = collections.defaultdict(lambda: [0] * 6)
        for (campaign, dept, _), (enrolled, completed, past_due) in per_user.items():
            counts = out[(campaign, dept)]
            counts[0] += 1
            counts[1] += completed == enrolled
            counts[2] += past_due > 0
            counts[3] += enrolled
            counts[4] += completed
            counts[5] += past_due
        return {k: tuple(v) for k, v in out.items()}

    def latest_window(self) -> tuple[dict[int, dt.datetime | None], dt.datetime, dt.datetime]:
        """Test starts, and the repeat-clicker window (since, as_of]: half-open, ending when the
        tests were read (a test scheduled after that is outside)."""
        started = {p["pst_id"]: when(p.get("started_at")) for p in self.tests}
        assert self.as_of is not None, "the truth needs the clock the tests were read at"
        return started, self.as_of - dt.timedelta(days=REPEAT_DAYS), self.as_of

    def user_phishing(self) -> dict[int, tuple]:
        """Active user id -> (received, delivered, failures, reports, is_repeat_clicker,
        recent failures: in tests started in the window)."""
        started, since, latest = self.latest_window()
        out: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
        for row in self.recipients:
            if (uid := self.active(row)) is None:
                continue
            counts = out[uid]
            counts[0] += 1
            counts[1] += reached(row)
            counts[2] += failed(row)
            counts[3] += bool(row.get("reported_at"))
            test_start = started.get(row["pst_id"])
            counts[4] += failed(row) and test_start is not None and since < test_start <= latest
        return {uid: (*counts[:4], counts[4] >= 2, counts[4]) for uid, counts in out.items()}

    def former_phishing(self) -> dict[str, tuple]:
        """'archived' / 'deleted' -> (people (None for deleted), received, delivered, failures,
        reports): the recipient rows of everyone but active users."""
        out: dict[str, list] = collections.defaultdict(lambda: [set(), 0, 0, 0, 0])
        for row in self.recipients:
            if self.active(row) is not None:
                continue
            uid = self.known(row)
            counts = out["deleted" if uid is None else "archived"]
            if uid is not None:
                counts[0].add(uid)
            counts[1] += 1
            counts[2] += reached(row)
            counts[3] += failed(row)
            counts[4] += bool(row.get("reported_at"))
        return {
            kind: (len(v[0]) if kind == "archived" else None, *v[1:]) for kind, v in out.items()
        }

    def departments(self) -> dict[str, tuple]:
        """department -> (active users, average Phish-prone %, users enrolled, users completed,
        users past due, enrollments, enrollments completed, completion, failure rate)."""
        training: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
        for row in self.enrollments:
            if (uid := self.active(row)) is not None:
                training[uid][0] += 1
                training[uid][1] += is_completed(row)
                training[uid][2] += is_past_due(row)
        phishing = self.user_phishing()
        grouped: dict[str, list[dict]] = collections.defaultdict(list)
        for user in self.users.values():
            if is_active(user):
                grouped[department(user)].append(user)
        out = {}
        for name, members in grouped.items():
            ppp = [u["phish_prone_percentage"] for u in members]
            ppp = [p for p in ppp if p is not None]
            mine = [training[u["id"]] for u in members if u["id"] in training]
            enrolled = sum(t_[0] for t_ in mine)
            completed = sum(t_[1] for t_ in mine)
            delivered = sum(phishing.get(u["id"], (0, 0, 0))[1] for u in members)
            fails = sum(phishing.get(u["id"], (0, 0, 0))[2] for u in members)
            out[name] = (
                len(members),
                sum(ppp) / len(ppp) if ppp else None,
                len(mine),
                sum(t_[1] == t_[0] for t_ in mine),
                sum(t_[2] > 0 for t_ in mine),
                enrolled,
                completed,
                completed / enrolled if enrolled else None,
                fails / delivered if delivered else None,
            )
        return out


# ------------------------------------------------------------------------------ the warehouse
def close(a: float | None, b: float | None) -> bool:
    """Equal rates (both null, or within float noise)."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def guarded(query: Query, problems: list[str]) -> Query:
    """``query``, with a failing statement (a mart or column missing) noted as a problem and
    answered with no rows, so that every other check still runs and reports."""

    def run(sql: str) -> list[tuple]:
        try:
            return query(sql)
        except (duckdb.Error, psycopg.Error) as exc:
            problems.append(f"query failed: {str(exc).splitlines()[0]} in: {sql[:100]}")
            return []

    return run


def _differences(got: dict, expected: dict, limit: int = 5) -> list[tuple]:
    keys = sorted(set(got) | set(expected), key=str)
    return [(k, got.get(k), expected.get(k)) for k in keys if got.get(k) != expected.get(k)][:limit]


def check_marts(query: Query, schema: str, truth: Truth, with_user_risk: bool) -> list[str]:
    """Every mart against the truth; the differences, as text (none when all is well)."""
    problems: list[str] = []
    marts, staging = f"{schema}_marts", f"{schema}_staging"

    def count(relation: str) -> int:
        rows = query(f"select count(*) from {relation}")
        return int(rows[0][0]) if rows else -1

    # Staging keeps only what the API still returns (deleted users drop out).
    points = truth.risk_points | (truth.user_risk_points if with_user_risk else set())
    expected_counts = {
        f"{staging}.stg_knowbe4__users": len(truth.users),
        f"{staging}.stg_knowbe4__phishing_recipients": len(truth.recipients),
        f"{staging}.stg_knowbe4__training_enrollments": len(truth.enrollments),
        f"{marts}.knowbe4__phishing_tests": len(truth.tests),
        f"{marts}.knowbe4__risk_score_trend": len(points),
    }
    for relation, rows_expected in expected_counts.items():
        if (got := count(relation)) != rows_expected:
            problems.append(f"{relation}: {got} rows, expected {rows_expected}")

    # Employee numbers are text (the API sends integers on some users).
    rows = query(f"select user_id, employee_number from {staging}.stg_knowbe4__users")
    numbers = {int(uid): number for uid, number in rows}
    expected_numbers = {
        uid: (str(u.get("employee_number") or "").strip() or None) for uid, u in truth.users.items()
    }
    if numbers != expected_numbers:
        problems.append(f"employee numbers: {_differences(numbers, expected_numbers)}")

    expected_tests = truth.phishing_tests()
    rows = query(
        f"select pst_id, recipients, delivered, failed, reported, failure_rate, report_rate, "
        f"api_phish_prone_rate from {marts}.knowbe4__phishing_tests"
    )
    got_tests = {int(r[0]): tuple(int(v) for v in r[1:5]) for r in rows}
    if got_tests != expected_tests:
        problems.append(
            f"phishing_tests (got, expected): {_differences(got_tests, expected_tests)}"
        )
    for pst_id, *_, failure_rate, report_rate, api_rate in rows:
        _, delivered, fails, reported = expected_tests.get(int(pst_id), (0, 0, 0, 0))
        if not close(failure_rate, fails / delivered if delivered else None) or not close(
            report_rate, reported / delivered if delivered else None
        ):
            problems.append(f"phishing_tests {pst_id}: rates {failure_rate}, {report_rate}")
        # The failure rate is KnowBe4's phish-prone fraction (the sandbox's coherent numbers).
        if api_rate is not None and not close(
            round(float(failure_rate), 3) if failure_rate is not None else 0.0, api_rate
        ):
            problems.append(f"phishing_tests {pst_id}: failure rate {failure_rate}, API {api_rate}")

    expected_training = truth.training()
    rows = query(
        f"select campaign_id, department, users_enrolled, users_completed, users_past_due, "
        f"enrollments, enrollments_completed, enrollments_past_due, user_completion_rate, "
        f"enrollment_completion_rate from {marts}.knowbe4__training_compliance"
    )
    got_training = {
        (None if r[0] is None else int(r[0]), r[1]): tuple(int(v) for v in r[2:8]) for r in rows
    }
    if got_training != expected_training:
        problems.append(
            f"training_compliance (got, expected): {_differences(got_training, expected_training)}"
        )
    for campaign, dept, users, users_done, _, enrolled, completed, _, user_rate, rate in rows:
        if not close(rate, completed / enrolled) or not close(user_rate, users_done / users):
            problems.append(f"training_compliance {campaign}/{dept}: rates {user_rate}, {rate}")

    expected_users = truth.user_phishing()
    rows = query(
        f"select user_id, tests_received, tests_delivered, failures, reports, is_repeat_clicker, "
        f"recent_failures, department, failure_rate from {marts}.knowbe4__user_phishing"
    )
    got_users = {
        # (a row without a user, the pool of earlier versions, is a finding, not a crash)
        None if r[0] is None else int(r[0]): (
            *(int(v) for v in r[1:5]),
            None if r[5] is None else bool(r[5]),
            None if r[6] is None else int(r[6]),
        )
        for r in rows
    }
    if got_users != expected_users:
        problems.append(f"user_phishing (got, expected): {_differences(got_users, expected_users)}")
    compared = 0
    for uid, *_, dept, rate in rows:
        user = truth.users.get(int(uid)) if uid is not None else None
        if user is None or department(user) != dept:
            problems.append(f"user_phishing {uid}: department {dept}")
        # A user's Phish-prone % is the failure rate over all their tests, email and callback
        # (coherent numbers): every user's is compared (callback tests are read since #6).
        ppp = user["phish_prone_percentage"] if user else None
        if user and rate is not None and not close(round(100 * float(rate), 3), ppp):
            problems.append(f"user_phishing {uid}: failure rate {rate}, Phish-prone % {ppp}")
        compared += bool(user and rate is not None)
    if not compared:
        problems.append("user_phishing: no user's failure rate compared with the API's")

    expected_former = truth.former_phishing()
    rows = query(
        f"select user_kind, users, tests_received, tests_delivered, failures, reports "
        f"from {marts}.knowbe4__former_user_phishing"
    )
    got_former = {
        r[0]: (None if r[1] is None else int(r[1]), *(int(v) for v in r[2:])) for r in rows
    }
    if got_former != expected_former:
        problems.append(f"former_user_phishing (got, expected): {got_former} != {expected_former}")

    expected_departments = truth.departments()
    rows = query(
        f"select department, users, avg_phish_prone_percentage, users_enrolled, users_completed, "
        f"users_past_due, enrollments, enrollments_completed, enrollment_completion_rate, "
        f"phishing_failure_rate from {marts}.knowbe4__department_summary"
    )
    got_departments = {r[0]: r[1:] for r in rows}
    if set(got_departments) != set(expected_departments):
        problems.append(
            f"department_summary: {sorted(got_departments)} != {sorted(expected_departments)}"
        )
    for name, expected in expected_departments.items():
        summary = got_departments.get(name)
        if summary is None:
            continue
        counts = (0, 2, 3, 4, 5, 6)
        if any(int(summary[i]) != expected[i] for i in counts) or not all(
            close(summary[i], expected[i]) for i in (1, 7, 8)
        ):
            problems.append(f"department_summary {name}: {tuple(summary)} != {expected}")
    problems += check_more_columns(query, schema, truth, with_user_risk)
    return problems


def _same_time(a: t.Any, b: dt.datetime | None) -> bool:
    """A warehouse timestamp (naive UTC, or aware) equals a naive UTC datetime."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str):
        a = dt.datetime.fromisoformat(a)
    if a.tzinfo is not None:
        a = a.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return a == b


def check_more_columns(query: Query, schema: str, truth: Truth, with_user_risk: bool) -> list[str]:
    """The columns check_marts' counts leave out: each test's status, start and opened,
    clicked and bounced counts; each user's last failure; the former users' last failure and
    rate; each department's average risk score; every risk-score point's name, score,
    previous point and change."""
    problems: list[str] = []
    marts = f"{schema}_marts"

    details = truth.phishing_test_details()
    rows = query(
        f"select pst_id, status, started_at, opened, clicked, bounced, campaign_id "
        f"from {marts}.knowbe4__phishing_tests"
    )
    for pst_id, status, started, *counts in rows:
        want = details.get(int(pst_id))
        got = (status, started, *(None if c is None else int(c) for c in counts))
        if (
            want is None
            or got[:1] + got[2:] != want[:1] + want[2:]
            or not _same_time(started, want[1])
        ):
            problems.append(f"phishing_tests {pst_id}: {got} != {want}")

    last = truth.last_failures()
    rows = query(f"select user_id, last_failure_at from {marts}.knowbe4__user_phishing")
    wrong = [(u, v, last.get(int(u))) for u, v in rows if not _same_time(v, last.get(int(u)))]
    if wrong:
        problems.append(f"user_phishing last_failure_at (got, expected): {wrong[:3]}")

    former = truth.former_phishing()
    former_last = truth.last_failures(active=False)
    rows = query(
        f"select user_kind, last_failure_at, failure_rate "
        f"from {marts}.knowbe4__former_user_phishing"
    )
    for kind, last_at, rate in rows:
        _, _, delivered, fails, _ = former[kind]
        if not _same_time(last_at, former_last.get(kind)) or not close(
            rate, fails / delivered if delivered else None
        ):
            problems.append(f"former_user_phishing {kind}: {last_at}, {rate}")

    scores: dict[str, list[float]] = collections.defaultdict(list)
    for user in truth.users.values():
        if is_active(user) and user.get("current_risk_score") is not None:
            scores[department(user)].append(user["current_risk_score"])
    rows = query(f"select department, avg_risk_score from {marts}.knowbe4__department_summary")
    for name, avg in rows:
        mine = scores.get(name)
        if not close(avg, sum(mine) / len(mine) if mine else None):
            problems.append(f"department_summary {name}: avg_risk_score {avg}, {mine}")

    trend = truth.trend(with_user_risk)
    rows = query(
        f"select entity_type, entity_id, cast(score_date as varchar), entity_name, risk_score, "
        f"cast(previous_score_date as varchar), previous_risk_score, risk_score_change "
        f"from {marts}.knowbe4__risk_score_trend"
    )
    got_trend = {(r[0], r[1], r[2]): r[3:] for r in rows}
    if set(got_trend) != set(trend):
        problems.append(
            f"risk_score_trend points: {len(got_trend)} != {len(trend)}, e.g. "
            f"{sorted(set(got_trend) ^ set(trend), key=str)[:3]}"
        )
    mismatched = []
    for key, (name, score, before, before_score, change) in trend.items():
        got_point = got_trend.get(key)
        if got_point is None:
            continue
        got = got_point
        if (
            got[0] != name
            or not close(got[1], score)
            or got[2] != before
            or not close(got[3], before_score)
            or not close(got[4], change)
        ):
            mismatched.append((key, got, (name, score, before, before_score, change)))
    if mismatched:
        problems.append(
            f"risk_score_trend (got, expected): {mismatched[:3]} ({len(mismatched)} points)"
        )
    return problems


def slice_views(query: Query, label: str, alias: str, prefix: str) -> None:
    """Views ``<alias>_staging.*`` and ``<alias>_marts.*`` over ``<prefix>_<layer>``: the
    models' rows where source_relation is ``label`` (one account, as :func:`check_marts`
    reads a warehouse); the roll-ups, which span the sources, have no such column and no
    view."""
    for layer in ("staging", "marts"):
        query(f"create schema {alias}_{layer}")
        names = query(
            f"select table_name from information_schema.columns "
            f"where table_schema = '{prefix}_{layer}' and column_name = 'source_relation'"
        )
        for (table,) in names:
            query(
                f"create view {alias}_{layer}.{table} as select * from {prefix}_{layer}.{table} "
                f"where source_relation = '{label}'"
            )
