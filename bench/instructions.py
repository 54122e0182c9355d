"""Instructions of one read of users and enrollments: the tap and the plain SDK tap (cachegrind).

Run by hand:  .venv/bin/python bench/instructions.py [--users 1500]   (needs ``valgrind``)

The CPU seconds of ``bench/cpu_per_record.py`` move with the machine's other load (the plain
SDK tap's by a third over a day on a shared machine). The number of instructions a process
executes does not: each program here runs once under ``valgrind --tool=cachegrind
--cache-sim=no`` (about 30 times slower) against one sandbox (limits off, page numbers),
start-up included, and again for ``--version`` (the start-up alone). The ratio ``plain / tap``
is the instruction count's counterpart of the CPU ratio (2.0 = the tap executes half the
plain tap's instructions). An instruction is not a fixed time (the interpreter's and msgspec's
differ), so this ratio is a check on a change, not the CPU figure itself.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cpu_per_record import BIN, ROOT, STREAMS, compiled
from unpaced import selecting, unpaced_config

from tap_knowbe4.sandbox import Sandbox

_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]


def instructions(command: list[str]) -> int:
    """The instructions ``command`` executed (its process, start-up included)."""
    proc = subprocess.run(
        [*VALGRIND, *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    found = _REFS.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        msg = f"{command[:2]} failed:\n{proc.stderr[-2000:]}"
        raise RuntimeError(msg)
    return int(found.group(1).replace(",", ""))


def measure(users: int = 1500) -> dict:
    """Instructions of the tap's and the plain SDK tap's read and start-up."""
    if shutil.which("valgrind") is None:
        msg = "valgrind is not installed (apt-get install valgrind)"
        raise SystemExit(msg)
    compiled()
    with Sandbox(users=users, limits=False) as sb, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        records = len(sb.org.users()) + len(sb.org.enrollments())
        config = tmpdir / "config.json"
        config.write_text(json.dumps(unpaced_config(sb, pagination="page", budget_ledger=False)))
        plain_config = tmpdir / "plain.json"
        plain_config.write_text(json.dumps({"api_key": sb.api_key, "api_url": sb.base_url}))
        catalog = tmpdir / "catalog.json"
        catalog.write_text(json.dumps(selecting(STREAMS)))
        plain = [sys.executable, str(ROOT / "bench/plain_sdk_tap.py")]
        tap = [str(BIN / "tap-knowbe4")]
        return {
            "users": users,
            "records": records,
            "tap": instructions([*tap, "--config", str(config), "--catalog", str(catalog)]),
            "plain": instructions([*plain, "--config", str(plain_config)]),
            "tap_start": instructions([*tap, "--version"]),
            "plain_start": instructions([*plain, "--version"]),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1500)
    args = parser.parse_args()
    r = measure(args.users)
    print(f"{r['records']:,} records ({r['users']:,} users and their enrollments)")
    print("| program | instructions | start-up (--version) | per record above start-up |")
    print("| --- | --- | --- | --- |")
    for name in ("plain", "tap"):
        whole, start = r[name], r[f"{name}_start"]
        print(
            f"| {name} | {whole / 1e9:.3f} G | {start / 1e9:.3f} G | "
            f"{(whole - start) / r['records']:,.0f} |"
        )
    print(f"plain / tap: {r['plain'] / r['tap']:.2f}x")


if __name__ == "__main__":
    main()
