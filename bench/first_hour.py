"""The figures a new user meets in the first hour, measured, into README's ``first-hour`` block.

    .venv/bin/python bench/first_hour.py [--demo-runs N] [--write]

Rows (each measured in this run, on this machine; README shows the date and the machine):

- the requests of the demo's runs (the sandbox ``make demo`` starts: 250 users, seed 1, every
  stream selected as Meltano selects them): a first, full run; the same with
  ``include_user_risk_score_history``; and a second run a week later with the first's state, as
  the next ``make demo`` does. Counted by the sandbox, so they do not depend on the machine;
- ``make demo`` run ``--demo-runs`` times (default 2; 0 skips it) as it is, from whatever
  ``output/`` holds (a first run without ``output/`` is full, later ones incremental): its own
  timings of the extraction (``meltano run tap-knowbe4 target-duckdb``) and of
  ``meltano run dbt-duckdb:build``, Meltano's start-up included, and the whole command;
- ``make test-fast`` run ``--test-fast-runs`` times (default 5; 0 or ``--no-test-fast`` leaves
  it out): the median and range of its wall clock and of the CPU of all its processes.

The block names the one-minute load average before and after: the times depend on it.

Without ``--write`` it prints the block; with it, the block replaces README's
``<!-- first-hour:start -->`` ... ``<!-- first-hour:end -->``. Run it by hand (under
``/work/tools/heavy`` on a shared machine), never in the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_knowbe4.sandbox import Sandbox
from tap_knowbe4.tap import TapKnowBe4
from tests.singer_output import catalog_selecting

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- first-hour:start -->", "<!-- first-hour:end -->"
DEMO_USERS, DEMO_SEED, DEMO_DAYS_PER_RUN = 250, 1, 7  # scripts/demo.py's defaults
#: The line ``make demo`` ends with, and the line naming the kind of run.
DEMO_DONE = re.compile(r"Done in (\d+)s \(setup (\d+)s, extract (\d+)s, dbt (\d+)s\)")
DEMO_KIND = re.compile(r"extraction took [\d.]+s \((full|incremental) run\)")


def _sync(config: dict[str, t.Any], state: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """One run of every stream to /dev/null; returns its final state."""
    tap = TapKnowBe4(config=config, catalog=catalog_selecting(), state=state)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        tap.sync_all()
    return dict(tap.state)


def demo_requests() -> dict[str, int]:
    """Requests of the demo's first run, with the per-user history, and a week later."""
    counts = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Sandbox(users=DEMO_USERS, seed=DEMO_SEED, limits=False) as sb,
    ):
        config = {
            "api_key": sb.api_key,
            "api_url": sb.base_url,
            "requests_per_second": 0,
            "requests_per_minute": 0,
            "budget_ledger_path": str(Path(tmp) / "ledger.json"),
        }
        _sync({**config, "include_user_risk_score_history": True}, None)
        counts["first_with_history"] = sb.stats()["requests"]
        sb.reset()
        state = _sync(config, None)
        counts["first"] = sb.stats()["requests"]
        sb.advance(days=DEMO_DAYS_PER_RUN)
        sb.reset()
        _sync(config, state)
        counts["second"] = sb.stats()["requests"]
    return counts


def _timed(target: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``make -s target`` here: its process, wall seconds and CPU seconds.

    The CPU is every process the command started and waited for (user + system, from
    ``RUSAGE_CHILDREN`` before and after): pytest's workers, Meltano's plugins, dbt.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        ["make", "-s", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, wall, cpu


def run_demo() -> dict[str, t.Any]:
    """One ``make demo`` as it is; its kind of run and its own timings."""
    proc, wall, _ = _timed("demo")
    done, kind = DEMO_DONE.search(proc.stdout), DEMO_KIND.search(proc.stdout)
    if proc.returncode != 0 or not done or not kind:
        msg = f"make demo exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    return {
        "kind": kind.group(1),
        "wall": wall,
        "extract": int(done.group(3)),
        "dbt": int(done.group(4)),
    }


def time_test_fast(runs: int) -> dict[str, float]:
    """``make test-fast`` ``runs`` times (each must pass): median and range of wall and CPU."""
    walls, cpus = [], []
    for _ in range(runs):
        proc, wall, cpu = _timed("test-fast")
        if proc.returncode != 0:
            msg = f"make test-fast failed:\n{proc.stdout[-3000:]}"
            raise RuntimeError(msg)
        walls.append(wall)
        cpus.append(cpu)
    return {
        "runs": runs,
        "wall": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "cpu": statistics.median(cpus),
        "cpu_min": min(cpus),
        "cpu_max": max(cpus),
    }


def block(
    requests: dict[str, int],
    demos: list[dict[str, t.Any]],
    test_fast: dict[str, float] | None,
    load: tuple[float, float] = (0.0, 0.0),
) -> str:
    """The README block: the date, machine and load, then one row per figure."""
    rows = [
        (
            f"requests of the demo's first, full run ({DEMO_USERS} users)",
            f"{requests['first']:,}",
        ),
        (
            "the same with `include_user_risk_score_history` (one request per user)",
            f"{requests['first_with_history']:,}",
        ),
        (
            f"requests of the next run, {DEMO_DAYS_PER_RUN} days later (incremental)",
            f"{requests['second']:,}",
        ),
    ]
    for number, demo in enumerate(demos, 1):
        rows.append(
            (
                f"`make demo` #{number} ({demo['kind']} run): extraction / dbt build / all",
                f"{demo['extract']} s / {demo['dbt']} s / {demo['wall']:.0f} s",
            )
        )
    if test_fast is not None:
        rows.append(
            (
                f"`make test-fast`, median of {test_fast['runs']:.0f} runs (range): wall / CPU "
                "of all its processes",
                f"{test_fast['wall']:.0f} s ({test_fast['wall_min']:.0f}-"
                f"{test_fast['wall_max']:.0f} s) / {test_fast['cpu']:.0f} s "
                f"({test_fast['cpu_min']:.0f}-{test_fast['cpu_max']:.0f} s)",
            )
        )
    lines = [
        START,
        "<!-- Written by bench/first_hour.py --write; do not edit by hand. -->",
        f"Measured {dt.date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load[0]:.1f} before and "
        f"{load[1]:.1f} after (`bench/first_hour.py`; request counts come from the sandbox and "
        "do not depend on the machine; times do, and on the machine's other load):",
        "",
        "| figure | measured |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        END,
    ]
    return "\n".join(lines)


def write(text: str, readme: Path = README) -> None:
    """Replace the README's block with ``text``."""
    current = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), flags=re.DOTALL)
    if len(pattern.findall(current)) != 1:
        msg = f"{readme.name} needs exactly one {START} ... {END} block"
        raise LookupError(msg)
    readme.write_text(pattern.sub(lambda _: text, current))


def main() -> int:
    """Measure, then print the block or write it into README."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-runs", type=int, default=2)
    parser.add_argument("--test-fast-runs", type=int, default=5, help="0 leaves it out")
    parser.add_argument("--no-test-fast", action="store_true", help="leave out make test-fast")
    parser.add_argument("--write", action="store_true", help="update README.md's block")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    requests = demo_requests()
    demos = [run_demo() for _ in range(args.demo_runs)]
    runs = 0 if args.no_test_fast else args.test_fast_runs
    test_fast = time_test_fast(runs) if runs > 0 else None
    text = block(requests, demos, test_fast, (load_before, os.getloadavg()[0]))
    if args.write:
        write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
