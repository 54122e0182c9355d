"""Run seeds for a time budget; print the seed of every failure and how to replay it.

Usage::

    python -m tests.simulation --seconds 3600 --jobs 2  # seeds from a random first one
    python -m tests.simulation --seed 1234              # replay one seed exactly (verbose)
    python -m tests.simulation --first-seed 1 --seconds 30 --runs 40

(``make simulate SECONDS=3600``, ``make simulate SEED=1234``; by hand, under
``/work/tools/heavy``.) The summary gives sequences, runs, runs per minute and every failing
seed with the invariant it broke. Exit 1 when any seed failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import itertools
import os
import pathlib
import random
import re
import sys
import tempfile
import time
import typing as t

from tests.simulation import plan
from tests.simulation.runner import run_seed

SEQUENCE_LINE = re.compile(r"seed \d+: ")


@dataclasses.dataclass
class SeedSummary:
    """What a campaign keeps of one sequence."""

    seed: int
    runs: int
    violations: list[tuple[int, str]]
    workdir: pathlib.Path

    @property
    def failed(self) -> bool:
        """True when an invariant broke."""
        return bool(self.violations)


@dataclasses.dataclass
class CampaignResult:
    """Figures of a campaign."""

    sequences: int = 0
    runs: int = 0
    seconds: float = 0.0
    failures: list[SeedSummary] = dataclasses.field(default_factory=list)

    @property
    def runs_per_minute(self) -> float:
        """Simulated runs per minute of wall time."""
        return 60.0 * self.runs / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """The closing lines."""
        lines = [
            f"{self.sequences} sequences, {self.runs} runs in {self.seconds:.0f} s "
            f"({self.runs_per_minute:.1f} runs/minute), {len(self.failures)} failing seeds"
        ]
        for failure in self.failures:
            index, violation = failure.violations[0]
            lines.append(
                f"  seed {failure.seed} (run {index}): {violation}  "
                f"-> make simulate SEED={failure.seed}"
            )
        return "\n".join(lines)


def one_seed(
    seed: int,
    workdir: pathlib.Path,
    verbose: bool,
    chaos_runs: int | None,
    quarantine: frozenset[str],
) -> SeedSummary:
    """Run one seed (in a worker process); its lines go to stdout as they come."""
    plan.quarantined.clear()
    plan.quarantined.update(quarantine)

    def log(line: str) -> None:
        print(line, flush=True)

    sequence = run_seed(
        seed, workdir, log if verbose else _failures_only(log), chaos_runs=chaos_runs
    )
    violations = [(index, str(v)) for index, v in sequence.violations]
    return SeedSummary(seed, len(sequence.runs), violations, sequence.workdir)


def campaign(
    first_seed: int,
    *,
    seconds: float,
    max_runs: int | None = None,
    workdir: pathlib.Path,
    log: t.Callable[[str], None] = print,
    verbose: bool = False,
    chaos_runs: int | None = None,
    jobs: int = 1,
) -> CampaignResult:
    """Run seeds ``first_seed``, ``first_seed + 1``, ... while the budget lasts.

    ``jobs`` sequences run at once, each in a process of its own (its own sandbox, port,
    pipelines and directories); a sequence started before the budget ran out is finished.
    """
    result = CampaignResult()
    started = time.monotonic()
    seeds = itertools.count(first_seed)
    quarantine = frozenset(plan.quarantined)

    def budget_left() -> bool:
        within = time.monotonic() - started < seconds
        return within and (max_runs is None or result.runs < max_runs)

    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        running: set[concurrent.futures.Future[SeedSummary]] = set()
        while True:
            while budget_left() and len(running) < jobs:
                args = (next(seeds), workdir, verbose, chaos_runs, quarantine)
                running.add(pool.submit(one_seed, *args))
            if not running:
                break
            done, running = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                summary = future.result()
                result.sequences += 1
                result.runs += summary.runs
                if summary.failed:
                    result.failures.append(summary)
                    log(f"seed {summary.seed} FAILED; its runs are in {summary.workdir}")
    result.seconds = time.monotonic() - started
    return result


def _failures_only(log: t.Callable[[str], None]) -> t.Callable[[str], None]:
    """Pass on failing runs, their violations and the one line per sequence."""

    def write(line: str) -> None:
        if line.startswith(("FAIL", "    [")) or SEQUENCE_LINE.match(line):
            log(line)

    return write


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.simulation", description=__doc__)
    parser.add_argument("--seed", type=int, help="replay this one seed, verbosely")
    parser.add_argument("--first-seed", type=int, help="first seed of a campaign")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget")
    parser.add_argument("--runs", type=int, help="stop after this many runs")
    parser.add_argument(
        "--chaos-runs", type=int, help="chaotic runs per sequence (default: drawn, 5-13)"
    )
    parser.add_argument("--workdir", type=pathlib.Path, help="where runs keep their files")
    parser.add_argument("--verbose", action="store_true", help="one line per run")
    parser.add_argument("--jobs", type=int, default=1, help="sequences run at once")
    parser.add_argument(
        "--everything",
        action="store_true",
        help="draw the quarantined features too (plan.QUARANTINE: open defects they trigger)",
    )
    parser.add_argument(
        "--quarantine",
        action="append",
        default=[],
        metavar="FEATURE",
        help="leave this feature out too (plan.OPEN_FINDINGS, plan.EXTRA_DRAWS, "
        "plan.SESSION_5_DRAWS, plan.SESSION_7_DRAWS, plan.SESSION_8_DRAWS or "
        "plan.SESSION_9_DRAWS or plan.SESSION_10_DRAWS; 'extras': every draw since session 4, "
        "'session-5', 'session-7', 'session-8', 'session-9' or 'session-10': that session's, "
        "to replay a seed as it ran before them)",
    )
    args = parser.parse_args(argv)
    if args.everything:
        plan.quarantined.clear()
    groups = {
        "extras": {
            *plan.EXTRA_DRAWS,
            *plan.SESSION_5_DRAWS,
            *plan.SESSION_7_DRAWS,
            *plan.SESSION_8_DRAWS,
            *plan.SESSION_9_DRAWS,
            *plan.SESSION_10_DRAWS,
        },
        "session-5": set(plan.SESSION_5_DRAWS),
        "session-7": set(plan.SESSION_7_DRAWS),
        "session-8": set(plan.SESSION_8_DRAWS),
        "session-9": set(plan.SESSION_9_DRAWS),
        "session-10": set(plan.SESSION_10_DRAWS),
    }
    for feature in args.quarantine:
        plan.quarantined.update(groups.get(feature, {feature}))
    if plan.quarantined:
        print(f"quarantined (open defects): {', '.join(sorted(plan.quarantined))}", flush=True)
    workdir = args.workdir or pathlib.Path(tempfile.gettempdir()) / f"tap-sim-{os.getpid()}"

    def log(line: str) -> None:
        print(line, flush=True)

    if args.seed is not None:
        sequence = run_seed(args.seed, workdir, log, keep=True, chaos_runs=args.chaos_runs)
        for index, violation in sequence.violations:
            log(f"seed {args.seed} run {index}: {violation}")
        log(f"plan of seed {args.seed}:\n{sequence.plan.to_json()}")
        return 1 if sequence.failed else 0
    first = args.first_seed if args.first_seed is not None else random.randrange(1, 10**6)
    log(f"campaign from seed {first} for {args.seconds:.0f} s (workdir {workdir})")
    result = campaign(
        first,
        seconds=args.seconds,
        max_runs=args.runs,
        workdir=workdir,
        log=log,
        verbose=args.verbose,
        chaos_runs=args.chaos_runs,
        jobs=args.jobs,
    )
    log(result.summary())
    return 1 if result.failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
