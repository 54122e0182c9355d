"""Print a short report from the demo's DuckDB file, to show the data is usable.

    python scripts/demo_report.py output/knowbe4.duckdb knowbe4

Run by ``scripts/demo.py`` with target-duckdb's own Python (so the reader is the same DuckDB
version as the writer). Needs only the ``duckdb`` package.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import duckdb

QUESTIONS: list[tuple[str, str, set[str]]] = [
    (
        "Phish-prone % by department (active users, average of users' Phish-prone Percentage)",
        """
        SELECT coalesce(nullif(trim(department), ''), '(none)') AS department,
               count(*) AS users,
               round(avg(phish_prone_percentage), 1) AS phish_prone_pct,
               round(max(phish_prone_percentage), 1) AS worst_user_pct
        FROM users
        WHERE status = 'active' AND phish_prone_percentage IS NOT NULL
        GROUP BY 1
        ORDER BY phish_prone_pct DESC, department
        LIMIT 10
        """,
        {"users"},
    ),
    (
        "Training completion by campaign (enrollments Completed or Passed)",
        """
        SELECT coalesce(c.name, e.campaign_name, '(no campaign)') AS campaign,
               count(*) AS enrollments,
               count(*) FILTER (WHERE e.status IN ('Completed', 'Passed')) AS completed,
               round(100.0 * count(*) FILTER (WHERE e.status IN ('Completed', 'Passed'))
                     / count(*), 1) AS completion_pct,
               count(*) FILTER (WHERE e.status = 'Past Due') AS past_due
        FROM training_enrollments AS e
        LEFT JOIN training_campaigns AS c ON c.campaign_id = e.campaign_id
        GROUP BY 1
        ORDER BY completion_pct, campaign
        LIMIT 10
        """,
        {"training_enrollments", "training_campaigns"},
    ),
    (
        "Latest account risk score (and 30 days before)",
        """
        WITH h AS (
            SELECT CAST(date AS DATE) AS day, risk_score FROM account_risk_score_history
        ), latest AS (SELECT max(day) AS day FROM h)
        SELECT strftime(h.day, '%Y-%m-%d') AS day, h.risk_score,
               (SELECT current_risk_score FROM account LIMIT 1) AS account_current_risk_score,
               (SELECT risk_score FROM h AS p WHERE p.day <= latest.day - INTERVAL 30 DAY
                ORDER BY p.day DESC LIMIT 1) AS risk_score_30_days_before
        FROM h, latest WHERE h.day = latest.day
        """,
        {"account_risk_score_history", "account"},
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


def main(argv: list[str]) -> int:
    """Print the report for ``argv = [database, schema]``."""
    database, schema = argv[0], argv[1]
    con = duckdb.connect(database, read_only=True)
    con.execute(f'SET schema = "{schema}"')
    tables = [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "ORDER BY table_name",
            [schema],
        ).fetchall()
    ]
    counts = [
        (name, con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # noqa: S608
        for name in tables
    ]
    print(f"Rows per table ({database}, schema {schema})")
    print(table(["table", "rows"], counts))
    for title, sql, needs in QUESTIONS:
        print()
        print(title)
        missing = needs - set(tables)
        if missing:
            print(f"  (skipped: table {', '.join(sorted(missing))} not loaded)")
            continue
        cursor = con.execute(sql)
        headers = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        print(table(headers, rows) if rows else "  (no rows)")
    print()
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
