"""Run seeds for a time budget; print the seed of every failure and how to replay it.

Usage::

    python -m tests.simulation --seconds 3600           # seeds from a random first one
    python -m tests.simulation --seed 1234              # replay one seed exactly (verbose)
    python -m tests.simulation --first-seed 1 --seconds 30 --runs 40

(``make simulate SECONDS=3600``, ``make simulate SEED=1234``; by hand, under
``/work/tools/heavy``.) The summary gives sequences, runs, runs per minute and every failing
seed with the invariant it broke. Exit 1 when any seed failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import random
import re
import sys
import tempfile
import time
import typing as t

from tests.simulation import plan
from tests.simulation.runner import SequenceResult, run_seed

SEQUENCE_LINE = re.compile(r"seed \d+: ")


@dataclasses.dataclass
class CampaignResult:
    """Figures of a campaign."""

    sequences: int = 0
    runs: int = 0
    seconds: float = 0.0
    failures: list[SequenceResult] = dataclasses.field(default_factory=list)

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
                f"  seed {failure.plan.seed} (run {index}): {violation}  "
                f"-> make simulate SEED={failure.plan.seed}"
            )
        return "\n".join(lines)


def campaign(
    first_seed: int,
    *,
    seconds: float,
    max_runs: int | None = None,
    workdir: pathlib.Path,
    log: t.Callable[[str], None] = print,
    verbose: bool = False,
    stop_on_failure: bool = False,
    chaos_runs: int | None = None,
) -> CampaignResult:
    """Run seeds ``first_seed``, ``first_seed + 1``, ... while the budget lasts."""
    result = CampaignResult()
    started = time.monotonic()
    seed = first_seed
    quiet: t.Callable[[str], None] = log if verbose else _failures_only(log)
    while time.monotonic() - started < seconds and (max_runs is None or result.runs < max_runs):
        sequence = run_seed(seed, workdir, quiet, chaos_runs=chaos_runs)
        result.sequences += 1
        result.runs += len(sequence.runs)
        if sequence.failed:
            result.failures.append(sequence)
            log(f"seed {seed} FAILED; its runs are in {sequence.workdir}")
            if stop_on_failure:
                break
        seed += 1
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
    parser.add_argument(
        "--everything",
        action="store_true",
        help="draw the quarantined features too (plan.QUARANTINE: open defects they trigger)",
    )
    args = parser.parse_args(argv)
    if args.everything:
        plan.quarantined.clear()
    elif plan.quarantined:
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
    )
    log(result.summary())
    return 1 if result.failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
