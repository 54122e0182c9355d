"""The README's fault matrix and hostile-input table name real tests and real rows.

The tables are prose for users, so they are written by hand; these checks keep them from
drifting away from the tests that back every row.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_fault_matrix import FAULTS

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


def _section(name: str) -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    body = text.split(f"<!-- {name}:start -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]
    rows = [line for line in body.strip().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def test_the_fault_matrix_lists_every_fault_with_its_outcome() -> None:
    rows = _section("fault-matrix")
    assert [(row[0], row[1]) for row in rows] == [(f[0], f[-1]) for f in FAULTS]
    for row in rows:
        fault, outcome, exit_code = row[0], row[1], row[2]
        assert exit_code == ("0" if outcome in ("completes", "skips the parent") else "1"), fault
        assert row[4:] == ["0", "0"], fault  # nothing lost, nothing leaked


def test_every_hostile_input_row_names_tests_that_exist() -> None:
    rows = _section("hostile-input")
    assert len(rows) >= 25
    for row in rows:
        refs = re.findall(r"`([\w/]+\.py)::(\w+)`", row[2])
        assert refs, row
        for module, name in refs:
            source = (TESTS / module).read_text()
            assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{module}::{name}"
