"""How long ``make test`` takes and where its time goes: one run, measured.

    .venv/bin/python bench/suite_time.py [--fresh-tools] [--top N] [--out DIR]

Runs ``make test`` as it is (ruff, mypy, ``meltano-install``, ``pytest -n 2 --dist loadgroup``)
with pytest's junit XML added through ``PYTEST_ADDOPTS`` (``-o junit_duration_report=total``:
each test's setup, call and teardown), then prints the wall clock, the CPU (user + sys) of
every process of the run that was waited for (``RUSAGE_CHILDREN``: the PostgreSQL servers the
tests start detach and are not counted), the one-minute load average before and after, pytest's
summary line, the sum of test times of the integration modules (``tests/integration/``, one
xdist group each) and of the rest, and the modules that took longest.

``--fresh-tools`` first deletes ``.tools/pyairbyte`` and ``.tools/dagster``: a clean clone (CI)
installs them during ``make test``, a second run on a working copy does not. On a 2-core
machine the CPU seconds move less with the load than the wall clock does, but they move too
(with both cores contended). Run it by hand (under
``/work/tools/heavy`` on a shared machine), never in the tests.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load() -> float:
    """The one-minute load average."""
    return os.getloadavg()[0]


def module_of(classname: str) -> str:
    """``tests.integration.test_dbt`` (or ``tests.test_x.TestClass``) -> its file."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        path = "/".join(parts[:end]) + ".py"
        if (ROOT / path).exists():
            return path
    return classname


def module_times(junit: Path) -> dict[str, float]:
    """Seconds per test module (each test's setup + call + teardown), longest first."""
    times: dict[str, float] = collections.defaultdict(float)
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - pytest's own file
        times[module_of(case.get("classname", ""))] += float(case.get("time") or 0)
    return dict(sorted(times.items(), key=lambda item: -item[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fresh-tools", action="store_true", help="delete .tools/pyairbyte, dagster"
    )
    parser.add_argument("--top", type=int, default=25, help="modules to list (default 25)")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "suite_time", help="logs, XML"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.fresh_tools:
        for name in ("pyairbyte", "dagster"):
            shutil.rmtree(ROOT / ".tools" / name, ignore_errors=True)
    junit = args.out / "make-test.xml"
    log = args.out / "make-test.log"
    env = {
        **os.environ,
        "PYTEST_ADDOPTS": f"--junitxml={junit} -o junit_duration_report=total",
    }
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    before = load()
    started_at = time.strftime("%H:%M:%S", time.gmtime())
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(
            ["make", "test"], cwd=ROOT, env=env, stdout=out, stderr=out, check=False
        ).returncode
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = load()
    summary = [line for line in log.read_text().splitlines() if re.search(r"\d+ passed", line)]
    times = module_times(junit) if junit.exists() else {}
    integration = sum(v for k, v in times.items() if k.startswith("tests/integration/"))
    rest = sum(times.values()) - integration
    print(f"make test at {commit}, {started_at} UTC, load {before:.2f} -> {after:.2f}: exit {code}")
    print(f"wall {wall:.0f} s, CPU {usage.ru_utime:.0f} + {usage.ru_stime:.0f} s (user + sys)")
    print(summary[-1].strip("= ") if summary else "(no pytest summary)")
    total = sum(times.values())
    print(f"sum of test times {total:.0f} s: integration {integration:.0f} s, rest {rest:.0f} s")
    print("\n| module | seconds |\n|---|---|")
    for module, seconds in list(times.items())[: args.top]:
        print(f"| {module} | {seconds:.1f} |")
    return code


if __name__ == "__main__":
    sys.exit(main())
