"""Leaving out the modules ``-m`` cannot select (tests/module_marks.py) loses no test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COLLECT_ALL
from tests.module_marks import may_select, module_marks

FAST = "not integration and not slow"


def test_the_marks_of_a_module_are_read_from_its_pytestmark(tmp_path: Path) -> None:
    module = tmp_path / "test_x.py"
    module.write_text(
        "import pytest\n"
        'pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("meltano")]\n'
        "@pytest.mark.slow\n"
        "def test_a(): pass\n"
    )
    assert module_marks(module) == {"integration", "xdist_group"}  # not test_a's own
    (tmp_path / "test_y.py").write_text("pytestmark: object = pytest.mark.slow  # a note\n")
    assert module_marks(tmp_path / "test_y.py") == {"slow"}
    (tmp_path / "test_z.py").write_text("def broken(:\n")
    assert module_marks(tmp_path / "test_z.py") == frozenset()


def test_only_top_level_statements_give_marks(tmp_path: Path) -> None:
    """Read line by line, a ``pytestmark`` line inside a string, a call or a function is no
    mark; one spread over lines is read whole, one assigned with another name too is read."""
    module = tmp_path / "test_x.py"
    module.write_text(
        '"""An example:\n'
        "pytestmark = pytest.mark.slow\n"
        '"""\n'
        "import pytest\n"
        "print(\n"
        "pytestmark := pytest.mark.integration)\n"
        "def f():\n"
        "    pytestmark = pytest.mark.integration\n"
        "pytestmark = [\n"
        "    pytest.mark.xdist_group('a'),\n"
        "]\n"
        "other = pytestmark = pytest.mark.smoke\n"
    )
    assert module_marks(module) == {"xdist_group", "smoke"}


@pytest.mark.parametrize(
    ("expression", "marks", "selectable"),
    [
        (FAST, {"slow"}, False),
        (FAST, {"integration", "xdist_group"}, False),
        (FAST, set(), True),
        (FAST, {"xdist_group"}, True),
        ("slow", set(), True),  # a test may add the mark itself
        ("not slow", {"slow"}, False),
        ("a and not b", set(), True),  # true for a test marked a alone
        ("(a or slow) and not integration", {"integration"}, False),
        ("slow and", {"slow"}, True),  # not an expression it reads: collected
        ("foo(bar=1)", {"slow"}, True),
    ],
)
def test_a_module_is_left_out_only_when_no_test_of_it_can_match(
    expression: str, marks: set[str], selectable: bool
) -> None:
    assert may_select(expression, frozenset(marks)) is selectable


def _selected(*env: tuple[str, str]) -> list[str]:
    """The node ids ``make test-fast`` selects (with a fault matrix file of its own, and none
    of the outer run's ``PYTEST_ADDOPTS``: ``-v`` there turned the list into a tree)."""
    outer = {
        k: v for k, v in os.environ.items() if k not in ("KNOWBE4_FAULT_MATRIX", "PYTEST_ADDOPTS")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", FAST, "-p", "no:xdist"],
        capture_output=True,
        text=True,
        check=True,
        env={**outer, **dict(env)},
        cwd=Path(__file__).parents[1],
    )
    return sorted(line for line in proc.stdout.splitlines() if "::" in line)


@pytest.mark.slow  # two collections of the whole suite
def test_make_test_fast_selects_the_same_tests_as_collecting_every_module() -> None:
    every, left_out = _selected((COLLECT_ALL, "1")), _selected()
    assert len(every) > 500
    assert left_out == every
