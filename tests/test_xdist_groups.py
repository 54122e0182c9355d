"""``make test`` keeps an ``xdist_group`` on one worker (``-n 2 --dist loadgroup``).

The integration modules share expensive module fixtures (Meltano pipelines, dbt builds) and
count on their group's tests running on one worker. pytest 9.2 with pytest-xdist 3.8 dropped
the grouping without a word (pytest-xdist#1386): each worker set the fixtures up again. This
runs a throwaway suite the way ``make test`` does and asks where each test ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t

import pytest

if t.TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

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
