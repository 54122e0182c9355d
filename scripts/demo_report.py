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
from collections.abc import Sequence
from typing import Any

import duckdb

#: (title, SQL over the marts with {marts} and {snapshots} for the schemas, mart it reads)
QUESTIONS: list[tuple[str, str, str]] = [
    (
        "At a glance",
        """
        SELECT (SELECT sum(users) FROM {marts}.knowbe4__department_summary) AS active_users,
               count(*) AS phishing_tests,
               round(100.0 * sum(failed) / nullif(sum(delivered), 0), 1) AS phish_failed_pct,
               (SELECT count(*) FILTER (WHERE is_repeat_clicker)
                FROM {marts}.knowbe4__user_phishing) AS repeat_clickers,
               (SELECT round(100.0 * sum(completed) / nullif(sum(enrolled), 0), 1)
                FROM {marts}.knowbe4__training_compliance) AS training_done_pct,
               (SELECT risk_score FROM {marts}.knowbe4__risk_score_trend
                WHERE entity_type = 'account' ORDER BY score_date DESC LIMIT 1)
                   AS account_risk_score
        FROM {marts}.knowbe4__phishing_tests
        """,
        "knowbe4__phishing_tests",
    ),
    (
        "Departments (active users): Phish-prone %, risk, training completion, phishing failures",
        """
        SELECT department, users,
               round(avg_phish_prone_percentage, 1) AS phish_prone_pct,
               round(avg_risk_score, 1) AS risk_score,
               round(100 * training_completion_rate, 1) AS training_done_pct,
               round(100 * phishing_failure_rate, 1) AS phish_failed_pct
        FROM {marts}.knowbe4__department_summary
        ORDER BY avg_phish_prone_percentage DESC NULLS LAST, department
        LIMIT 10
        """,
        "knowbe4__department_summary",
    ),
    (
        "Latest phishing tests (failed = clicked, replied, opened the attachment, ...)",
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
        "Repeat clickers (2+ failures in tests of the last 365 days), worst first",
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
        "Training furthest behind (campaign x department, 5+ enrollments)",
        """
        SELECT campaign_name AS campaign, campaign_status AS status, department, enrolled,
               completed, past_due, round(100 * completion_rate, 1) AS completion_pct
        FROM {marts}.knowbe4__training_compliance
        WHERE enrolled >= 5
        ORDER BY completion_rate, past_due DESC, campaign_name, department
        LIMIT 8
        """,
        "knowbe4__training_compliance",
    ),
    (
        "Account risk score: the latest points and their change",
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
        "Users snapshot: the history the API does not keep, one version per change and run",
        """
        SELECT count(DISTINCT user_id) AS users_seen,
               count(*) AS versions,
               count(*) FILTER (WHERE dbt_valid_to IS NULL) AS current_versions,
               count(DISTINCT user_id) FILTER (WHERE dbt_valid_to IS NOT NULL)
                   AS users_changed_or_deleted,
               count(DISTINCT dbt_valid_from) AS snapshot_runs_with_changes
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
    for title, sql, needs in QUESTIONS:
        print()
        print(title)
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
