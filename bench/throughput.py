"""Records per second of the tap against a raw floor, and peak memory, on a big phishing org.

Run by hand:  .venv/bin/python bench/throughput.py [--users 3000 --campaigns 40] [--repeat 3]

The sandbox (limits off) serves an organization with ≥100,000 recipient records. Two
programs read the same pages, each in its own process with stdout to /dev/null:

* the raw floor: a minimal script that GETs the PST list and every PST's recipient pages
  with ``requests`` and writes one ``json.dumps`` RECORD line per record;
* the tap: ``tap-knowbe4`` with only ``phishing_security_test_recipients`` selected.

It prints records/s of each (median of ``--repeat`` runs), the tap/floor ratio, and the
tap's peak RSS from ``/usr/bin/time -v`` (or ``resource`` when that is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unpaced import selecting, unpaced_config

from tap_knowbe4.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent

RAW_FLOOR = r"""
import json, sys, requests
base, key, per_page = sys.argv[1], sys.argv[2], 500
s = requests.Session()
s.headers["Authorization"] = "Bearer " + key
out = sys.stdout
def pages(path):
    page = 1
    while True:
        rows = s.get(base + path, params={"page": page, "per_page": per_page}).json()
        yield rows
        if len(rows) < per_page:
            return
        page += 1
n = 0
for psts in pages("/v1/phishing/security_tests"):
    for pst in psts:
        if pst.get("scheduled_count") is None:
            continue
        for rows in pages(f"/v1/phishing/security_tests/{pst['pst_id']}/recipients"):
            for r in rows:
                out.write(json.dumps({"type": "RECORD",
                    "stream": "phishing_security_test_recipients", "record": r}) + "\n")
                n += 1
print(n, file=sys.stderr)
"""


def timed(cmd: list[str]) -> tuple[float, int]:
    """Run ``cmd`` with stdout to /dev/null; return (seconds, peak RSS in KiB)."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    use_time = os.path.exists(time_bin)
    full = [time_bin, "-v", *cmd] if use_time else cmd
    started = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        proc = subprocess.run(full, stdout=devnull, stderr=subprocess.PIPE, text=True, check=True)
    seconds = time.perf_counter() - started
    rss = 0
    if use_time:
        for line in proc.stderr.splitlines():
            if "Maximum resident set size" in line:
                rss = int(line.split(":")[1])
    else:
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, rss


def measure(options: dict, repeat: int = 3) -> dict:
    """Median records/s of the raw floor and of the tap, and the tap's peak RSS (MB)."""
    with Sandbox(limits=False, **options) as sb, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        records = sum(
            len(sb.org.recipients(p["pst_id"]))
            for p in sb.org.security_tests()
            if p.get("scheduled_count") is not None
        )
        config = tmpdir / "config.json"
        config.write_text(json.dumps(unpaced_config(sb, pagination="page")))
        catalog = selecting({"phishing_security_test_recipients"})
        (tmpdir / "catalog.json").write_text(json.dumps(catalog))
        raw = tmpdir / "raw.py"
        raw.write_text(RAW_FLOOR)
        floor_runs, tap_runs, rss = [], [], []
        for _ in range(repeat):
            seconds, _ = timed([sys.executable, str(raw), sb.base_url, sb.api_key])
            floor_runs.append(records / seconds)
            seconds, peak = timed(
                [
                    str(ROOT / ".venv/bin/tap-knowbe4"),
                    "--config",
                    str(config),
                    "--catalog",
                    str(tmpdir / "catalog.json"),
                ]
            )
            tap_runs.append(records / seconds)
            rss.append(peak)
    floor, tap = statistics.median(floor_runs), statistics.median(tap_runs)
    return {"records": records, "floor": floor, "tap": tap, "rss_mb": max(rss) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--campaigns", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    r = measure({"users": args.users, "phishing_campaigns": args.campaigns, "seed": 7}, args.repeat)
    print("| recipients | raw floor rec/s | tap rec/s | tap/floor | tap peak RSS |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {r['records']:,} | {r['floor']:,.0f} | {r['tap']:,.0f} | "
        f"{r['tap'] / r['floor']:.2f} | {r['rss_mb']:.0f} MB |"
    )


if __name__ == "__main__":
    main()
