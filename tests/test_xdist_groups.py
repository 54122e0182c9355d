"""``make test`` keeps an ``xdist_group`` on one worker (``-n 2 --dist loadgroup``).

The integration modules share expensive module fixtures (Meltano pipelines, dbt builds) and
count on their group's tests running on one worker. pytest 9.2 with pytest-xdist 3.8 dropped
the grouping without a word (pytest-xdist#1386): each worker set the fixtures up again. This
runs a throwaway suite the way ``make test`` does and asks where each test ran.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

GROUPED = """
import os, pathlib, pytest
pytestmark = pytest.mark.xdist_group("{group}")
@pytest.mark.parametrize("i", range(4))
def test_where(i):
    out = pathlib.Path(os.environ["WHERE"]) / "{group}-{{}}".format(i)
    out.write_text(os.environ["PYTEST_XDIST_WORKER"])
"""


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    for group in ("one", "two"):
        (suite / f"test_{group}.py").write_text(GROUPED.format(group=group))
    where = tmp_path / "where"
    where.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-q",
            "-p",
            "no:cacheprovider",
            str(suite),
        ],
        cwd=suite,
        env={**os.environ, "WHERE": str(where)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    for group in ("one", "two"):
        workers = {f.read_text() for f in where.glob(f"{group}-*")}
        assert len(list(where.glob(f"{group}-*"))) == 4
        assert len(workers) == 1, f"group {group} ran on {sorted(workers)}"


def _group_of(module: Path) -> str | None:
    """The ``xdist_group`` a module's ``pytestmark`` names, if any."""
    for node in ast.walk(ast.parse(module.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "xdist_group"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return str(node.args[0].value)
    return None


def test_every_integration_module_with_module_fixtures_is_a_group_of_its_own() -> None:
    modules = sorted((ROOT / "tests" / "integration").glob("test_*.py"))
    groups = {m.name: _group_of(m) for m in modules}
    ungrouped = [
        m.name for m in modules if 'scope="module"' in m.read_text() and groups[m.name] is None
    ]
    assert not ungrouped, f"module fixtures would be built on both workers: {ungrouped}"
    named = [g for g in groups.values() if g is not None]
    shared = {g for g in named if named.count(g) > 1}
    assert not shared, f"modules sharing a group run one after another on one worker: {shared}"
