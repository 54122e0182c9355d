"""Print a short report from the demo's DuckDB file: the dbt marts, to show the data is usable.

    python scripts/demo_report.py output/knowbe4.duckdb knowbe4

The second argument is the schema the loader wrote (``knowbe4``); dbt wrote the models to
``<it>_staging``, ``<it>_marts`` and ``<it>_snapshots`` (see transform/ and the README's
"Models" section). Every answer below is a plain read of one mart: the logic lives in dbt.
Run by ``scripts/demo.py`` with the dbt plugin's Python (the DuckDB version that wrote last).
Needs only the ``duckdb`` package.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from typing import Any

import duckdb

#: (title, what each number counts, SQL over the marts with {marts} and {snapshots} for the
#: schemas, the mart it reads). People are active users unless a line says otherwise.
QUESTIONS: list[tuple[str, str, str, str]] = [
    (
        "At a glance",
        "active_users: people in the account now; phishing_tests: tests sent; "
        "phish_failed_pct: failed / delivered over every recipient of every test; "
        "repeat_clickers: active users with 2+ failures in tests started in the 365 days up "
        "to the latest test; people_trained_pct: active users who completed every training "
        "enrollment / active users enrolled; account_risk_score: the latest point.",
        """
        SELECT (SELECT sum(users) FROM {marts}.knowbe4__department_summary) AS active_users,
               count(*) AS phishing_tests,
               round(100.0 * sum(failed) / nullif(sum(delivered), 0), 1) AS phish_failed_pct,
               (SELECT count(*) FILTER (WHERE is_repeat_clicker)
                FROM {marts}.knowbe4__user_phishing) AS repeat_clickers,
               (SELECT round(100.0 * sum(users_completed) / nullif(sum(users_enrolled), 0), 1)
                FROM {marts}.knowbe4__department_summary) AS people_trained_pct,
               (SELECT risk_score FROM {marts}.knowbe4__risk_score_trend
                WHERE entity_type = 'account' ORDER BY score_date DESC LIMIT 1)
                   AS account_risk_score
        FROM {marts}.knowbe4__phishing_tests
        """,
        "knowbe4__phishing_tests",
    ),
    (
        "Departments (active users)",
        "users: people; phish_prone_pct, risk_score: their averages (0-100); "
        "people_trained_pct: people who completed every training enrollment / people "
        "enrolled; people_past_due: people with an enrollment past due; phish_failed_pct: "
        "phishing tests they failed / tests delivered to them.",
        """
        SELECT department, users,
               round(avg_phish_prone_percentage, 1) AS phish_prone_pct,
               round(avg_risk_score, 1) AS risk_score,
               round(100 * user_completion_rate, 1) AS people_trained_pct,
               users_past_due AS people_past_due,
               round(100 * phishing_failure_rate, 1) AS phish_failed_pct
        FROM {marts}.knowbe4__department_summary
        ORDER BY avg_phish_prone_percentage DESC NULLS LAST, department
        LIMIT 10
        """,
        "knowbe4__department_summary",
    ),
    (
        "Latest phishing tests",
        "recipients: everyone the test was sent to, people who left since included; "
        "delivered, failed (clicked, replied, opened the attachment, enabled macros, entered "
        "data or scanned the QR code), reported: of them; the percentages are of delivered.",
        """
        SELECT strftime(started_at, '%Y-%m-%d') AS started, name, status, recipients,
               delivered, failed, reported,
               round(100 * failure_rate, 1) AS failed_pct,
               round(100 * report_rate, 1) AS reported_pct
        FROM {marts}.knowbe4__phishing_tests
        WHERE started_at IS NOT NULL
        ORDER BY started_at DESC, pst_id DESC
        LIMIT 8
        """,
        "knowbe4__phishing_tests",
    ),
    (
        "Repeat clickers, worst first",
        "Active users with 2+ failures in tests started in the 365 days up to the latest test "
        "(a test exactly 365 days before it is outside); recent_failures: those failures; "
        "failures, tests_delivered: all time.",
        """
        SELECT email, department, recent_failures, failures, tests_delivered,
               strftime(last_failure_at, '%Y-%m-%d') AS last_failure
        FROM {marts}.knowbe4__user_phishing
        WHERE is_repeat_clicker
        ORDER BY recent_failures DESC, last_failure_at DESC, user_id
        LIMIT 8
        """,
        "knowbe4__user_phishing",
    ),
    (
        "Phishing results of people who are not active users (not in the people above)",
        "archived: people who left (users: how many); deleted: users the API no longer "
        "lists, or rows without a user (not countable as people); tests_received etc.: their "
        "recipient rows, which the tests above include.",
        """
        SELECT user_kind, users, tests_received, tests_delivered, failures, reports
        FROM {marts}.knowbe4__former_user_phishing
        ORDER BY user_kind
        """,
        "knowbe4__former_user_phishing",
    ),
    (
        "Training furthest behind (campaign x department, 5+ people)",
        "people: active users enrolled; done: of them, people who completed every module of "
        "the campaign; past_due: people with a module past due; enrollments, "
        "enrollments_done: the module enrollments behind those people (two per person in a "
        "two-module campaign).",
        """
        SELECT campaign_name AS campaign, campaign_status AS status, department,
               users_enrolled AS people, users_completed AS done,
               users_past_due AS past_due,
               round(100 * user_completion_rate, 1) AS done_pct,
               enrollments, enrollments_completed AS enrollments_done
        FROM {marts}.knowbe4__training_compliance
        WHERE users_enrolled >= 5
        ORDER BY user_completion_rate, users_past_due DESC, campaign_name, department
        LIMIT 8
        """,
        "knowbe4__training_compliance",
    ),
    (
        "Account risk score: the latest points and their change",
        "One point per day of the account's risk-score history (0-100, higher is riskier).",
        """
        SELECT strftime(score_date, '%Y-%m-%d') AS day, risk_score,
               round(risk_score_change, 3) AS change
        FROM {marts}.knowbe4__risk_score_trend
        WHERE entity_type = 'account'
        ORDER BY score_date DESC
        LIMIT 4
        """,
        "knowbe4__risk_score_trend",
    ),
    (
        "Users snapshot: the history the API does not keep",
        "A version per change of a user's Phish-prone %, risk score, status or department, "
        "dated by when the tap read it (the loader's _sdc_extracted_at, UTC), not by when dbt "
        "ran; users_changed_or_deleted: users with a closed version.",
        """
        SELECT count(DISTINCT user_id) AS users_seen,
               count(*) AS versions,
               count(*) FILTER (WHERE dbt_valid_to IS NULL) AS current_versions,
               count(DISTINCT user_id) FILTER (WHERE dbt_valid_to IS NOT NULL)
                   AS users_changed_or_deleted,
               strftime(min(dbt_valid_from), '%Y-%m-%d %H:%M') AS first_read,
               strftime(max(dbt_valid_from), '%Y-%m-%d %H:%M') AS latest_change_read
        FROM {snapshots}.knowbe4__users_snapshot
        """,
        "knowbe4__users_snapshot",
    ),
]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Format rows as a plain aligned text table."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if i and all(_numeric(r[i]) for r in body) else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in body]
    return "\n".join("  " + x for x in out)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "-"
    return True


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "ORDER BY table_name",
            [schema],
        ).fetchall()
    ]


def _counts(con: duckdb.DuckDBPyConnection, schema: str, names: list[str]) -> list[tuple]:
    # Catalog-qualified: in knowbe4.duckdb, "knowbe4.users" could be the catalog or the schema.
    counts = []
    for name in names:
        row = con.execute(f"SELECT count(*) FROM {_qualified(con, schema)}.{name}").fetchone()  # noqa: S608
        counts.append((name, row[0] if row else 0))
    return counts


def _qualified(con: duckdb.DuckDBPyConnection, schema: str) -> str:
    (catalog,) = con.execute("SELECT current_database()").fetchone() or ("",)
    return f'"{catalog}"."{schema}"'


def main(argv: list[str]) -> int:
    """Print the report for ``argv = [database, schema]``."""
    database, schema = argv[0], argv[1]
    marts, snapshots = f"{schema}_marts", f"{schema}_snapshots"
    con = duckdb.connect(database, read_only=True)
    raw = _tables(con, schema)
    built = _tables(con, marts) + _tables(con, snapshots)
    print(f"Rows per table ({database})")
    rows = [(f"{schema}.{n}", c) for n, c in _counts(con, schema, raw)]
    rows += [(f"{marts}.{n}", c) for n, c in _counts(con, marts, _tables(con, marts))]
    rows += [(f"{snapshots}.{n}", c) for n, c in _counts(con, snapshots, _tables(con, snapshots))]
    print(table(["table", "rows"], rows))
    for title, legend, sql, needs in QUESTIONS:
        print()
        print(title)
        print(textwrap.fill(legend, width=96, initial_indent="  ", subsequent_indent="  "))
        if needs not in built:
            print(f"  (skipped: {needs} was not built; see the dbt log)")
            continue
        query = sql.format(marts=_qualified(con, marts), snapshots=_qualified(con, snapshots))
        cursor = con.execute(query)
        headers = [d[0] for d in cursor.description]
        result = cursor.fetchall()
        print(table(headers, result) if result else "  (no rows)")
    print()
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
