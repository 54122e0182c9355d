"""CPU of one read of users and enrollments: the tap, a raw floor, an SDK floor, a plain SDK tap.

Run by hand:  .venv/bin/python bench/cpu_per_record.py [--users 7000] [--repeat 5]

The sandbox (limits off, page numbers) serves an organization of ``--users`` users and their
enrollments (about 45,000 records at 7,000 users). Three programs read the same two lists,
each in its own process from a cold start (imports included), stdout to /dev/null:

* the raw floor: ``requests`` GETs every page, ``json`` parses it and dumps one RECORD line
  per record; nothing else;
* a plain Singer SDK tap (``bench/plain_sdk_tap.py``): the SDK template's REST streams with
  the tap's schemas;
* the SDK floor (``bench/sdk_floor_tap.py``): the raw floor's reading inside the SDK's
  record loop, with what a tap can turn off turned off: the least any tap on the SDK's
  record loop costs;
* the tap: ``tap-knowbe4`` with ``users`` and ``training_enrollments`` selected.

For each: the median over ``--repeat`` runs (each run's figure printed too) of the process's
CPU seconds (user + system, from ``wait4``: what the machine's other load does not change much)
and of its wall seconds (the sandbox serves from this process, so the server's time is in the
wall figure and not in the CPU one). The ratios are throughputs: ``floor CPU / tap CPU`` (1.0 =
the tap costs what the floor does) and ``plain CPU / tap CPU`` (2.0 = the tap needs half the
plain tap's CPU); ``floor CPU / SDK floor CPU`` is the most ``floor / tap`` can be for a tap
whose records pass through the SDK's record loop.
A start-up line gives the CPU of ``--version`` of each (the imports).

Every program runs from bytecode, as an installed tap does (pip compiles a wheel's modules):
the tap's package and ``bench/`` are compiled first, since with ``PYTHONDONTWRITEBYTECODE``
set (as on the machine of the 2026-12-04 figures) an editable install recompiles the tap's
modules in every process (about 0.1 CPU-s of each run, none of it the tap's work).
"""

from __future__ import annotations

import argparse
import compileall
import importlib.metadata
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from unpaced import selecting, unpaced_config

import tap_knowbe4
from tap_knowbe4.sandbox import Sandbox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STREAMS = ("users", "training_enrollments")

RAW_FLOOR = r"""
import json, sys, requests
base, key, per_page = sys.argv[1], sys.argv[2], 500
s = requests.Session()
s.headers["Authorization"] = "Bearer " + key
write = sys.stdout.write
flags = {"include_campaign_id": "true", "include_store_purchase_id": "true",
         "include_employee_number": "true"}
for stream, path, extra in (("users", "/v1/users", {}),
                            ("training_enrollments", "/v1/training/enrollments", flags)):
    page = 1
    while True:
        rows = s.get(base + path, params={"page": page, "per_page": per_page, **extra}).json()
        for r in rows:
            write(json.dumps({"type": "RECORD", "stream": stream, "record": r}) + "\n")
        if len(rows) < per_page:
            break
        page += 1
"""


def measured(command: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``command``, waited for with ``wait4``."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull, tempfile.TemporaryFile() as err:
        pid = os.posix_spawn(
            command[0],
            command,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
        )
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            msg = f"{command} failed:\n{err.read().decode()[-2000:]}"
            raise RuntimeError(msg)
    return usage.ru_utime + usage.ru_stime, wall


def installed_as_declared() -> None:
    """Stop when the venv's console scripts are not those ``pyproject.toml`` declares.

    A venv installed before an entry point changed runs the old one (``tap-knowbe4`` went
    through ``tap_knowbe4.console`` from session 8: the collector set before the imports);
    its figures would not be the tap's. ``make install`` installs it again.
    """
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    installed = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")}
    stale = {
        name: installed.get(name) for name in declared if installed.get(name) != declared[name]
    }
    if stale:
        msg = f"console scripts installed before pyproject.toml changed: {stale}; run make install"
        raise SystemExit(msg)


def compiled() -> None:
    """Bytecode for the tap's modules and the bench's (see the module docstring)."""
    installed_as_declared()
    for folder in (Path(tap_knowbe4.__file__).parent, ROOT / "bench"):
        compileall.compile_dir(folder, quiet=1)


def measure(users: int = 7000, repeat: int = 5) -> dict:
    """Median CPU and wall seconds of the floor, the SDK floor, the plain SDK tap and the tap."""
    compiled()
    with Sandbox(users=users, limits=False) as sb, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        records = len(sb.org.users()) + len(sb.org.enrollments())
        config = tmpdir / "config.json"
        config.write_text(json.dumps(unpaced_config(sb, pagination="page", budget_ledger=False)))
        plain_config = tmpdir / "plain.json"
        plain_config.write_text(json.dumps({"api_key": sb.api_key, "api_url": sb.base_url}))
        (tmpdir / "catalog.json").write_text(json.dumps(selecting(STREAMS)))
        raw = tmpdir / "raw.py"
        raw.write_text(RAW_FLOOR)
        python = sys.executable
        programs = {
            "floor": [python, str(raw), sb.base_url, sb.api_key],
            "plain": [python, str(ROOT / "bench/plain_sdk_tap.py"), "--config", str(plain_config)],
            "sdk_floor": [
                python,
                str(ROOT / "bench/sdk_floor_tap.py"),
                "--config",
                str(plain_config),
            ],
            "tap": [
                str(BIN / "tap-knowbe4"),
                "--config",
                str(config),
                "--catalog",
                str(tmpdir / "catalog.json"),
            ],
        }
        start_up = {
            "floor": [python, "-c", "import json, requests"],
            "plain": [python, str(ROOT / "bench/plain_sdk_tap.py"), "--version"],
            "sdk_floor": [python, str(ROOT / "bench/sdk_floor_tap.py"), "--version"],
            "tap": [str(BIN / "tap-knowbe4"), "--version"],
        }
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in programs}
        starts: dict[str, list[float]] = {name: [] for name in programs}
        for _ in range(repeat):
            for name, command in programs.items():  # interleaved: load shifts hit all four
                runs[name].append(measured(command))
                starts[name].append(measured(start_up[name])[0])
    out: dict = {"records": records, "users": users}
    # the plain tap's CPU over the tap's, round by round (each round runs both, interleaved)
    out["tap_vs_plain_rounds"] = sorted(
        plain[0] / tap[0] for plain, tap in zip(runs["plain"], runs["tap"], strict=True)
    )
    for name in programs:
        out[name] = {
            "cpu": statistics.median(r[0] for r in runs[name]),
            "wall": statistics.median(r[1] for r in runs[name]),
            "start_cpu": statistics.median(starts[name]),
            "cpu_runs": sorted(r[0] for r in runs[name]),
        }
    return out


def ratios(result: dict) -> dict[str, float]:
    """The throughput ratios of the module docstring."""
    tap = result["tap"]["cpu"]
    return {
        "tap_vs_floor": result["floor"]["cpu"] / tap,
        "tap_vs_plain": result["plain"]["cpu"] / tap,
        "sdk_floor_vs_floor": result["floor"]["cpu"] / result["sdk_floor"]["cpu"],
        "tap_vs_floor_wall": result["floor"]["wall"] / result["tap"]["wall"],
        "tap_vs_plain_wall": result["plain"]["wall"] / result["tap"]["wall"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=7000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    result = measure(args.users, args.repeat)
    r = ratios(result)
    print(f"{result['records']:,} records ({result['users']:,} users and their enrollments)")
    print("| program | CPU s | CPU s, each run | wall s | start-up CPU s | records per CPU s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in ("floor", "sdk_floor", "plain", "tap"):
        x = result[name]
        each = ", ".join(f"{c:.2f}" for c in x["cpu_runs"])
        print(
            f"| {name} | {x['cpu']:.2f} | {each} | {x['wall']:.2f} | {x['start_cpu']:.2f} | "
            f"{result['records'] / x['cpu']:,.0f} |"
        )
    print(
        f"tap/floor {r['tap_vs_floor']:.2f}x (wall {r['tap_vs_floor_wall']:.2f}x); "
        f"tap/plain SDK tap {r['tap_vs_plain']:.2f}x (wall {r['tap_vs_plain_wall']:.2f}x); "
        f"SDK floor/floor {r['sdk_floor_vs_floor']:.2f}x (the most tap/floor can be)"
    )
    rounds = ", ".join(f"{x:.2f}" for x in result["tap_vs_plain_rounds"])
    print(f"tap/plain SDK tap in each round: {rounds}")


if __name__ == "__main__":
    main()
