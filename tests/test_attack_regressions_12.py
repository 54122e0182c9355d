"""Regression tests for the twelfth adversarial review (/work/notes/attack-12.md).

Each test is one finding (its number in the name). The property: exit 0 means the data is
there, and a setting is either honoured as documented or refused in one line before any
request.
"""

from __future__ import annotations

import pytest

from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import catalog_selecting

RISK = "account_risk_score_history"
PSTS = "phishing_security_tests"


# -- 1: a start_date before the year 1000 dropped every risk point ---------------------


@pytest.mark.parametrize("start", ["0999-06-01", "0024-01-01T00:00:00Z"])
def test_1_a_start_date_of_three_digit_year_bounds_points_as_a_date(tmp_path, start):
    """The risk histories compared each point's date with ``start_date`` formatted by
    ``strftime("%Y-%m-%d")``, which writes the year 999 as ``999`` (glibc pads nothing):
    ``"2025-02-27" < "999-06-01"`` as text, so every point was dropped, 0 of 157, exit 0,
    no line, while the phishing tests (compared as instants) were all read. Formatted as an
    ISO date (``0999-06-01``) every point is on or after it."""
    with sandbox(users=8) as sb:
        config = tap_config(sb, start_date=start)
        run = run_cli(tmp_path, config, catalog=catalog_selecting([RISK, PSTS]))
        truth = expected_records(sb.org, RISK)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records(RISK)) == len(truth) > 0
