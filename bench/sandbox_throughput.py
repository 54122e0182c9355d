"""Measure the sandbox: org build time for 10,000 users and records/s served at per_page=500.

Run by hand: ``.venv/bin/python bench/sandbox_throughput.py [--users 10000] [--records 150000]
[--profiles tidy documented]``. Limits are off. Per profile, one ``requests.Session`` pages (by
page number) through users, enrollments and PST recipients until at least ``--records`` records
arrived, twice (first read builds, second is cached), with the sandbox in a thread of this
process (client and server share the GIL) and in its own process (as when benchmarking the tap
against ``tap-knowbe4-sandbox``). The first read of users under ``documented`` includes folding
every PST's recipients into per-user results (coherent phish-prone percentages).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tap_knowbe4.sandbox import DEMO_API_KEY, Organization, Sandbox


@contextmanager
def in_thread(users: int, profile: str) -> Iterator[str]:
    """Serve from a thread of this process; yields the base URL."""
    with Sandbox(profile=profile, users=users, limits=False) as sb:
        yield sb.base_url


@contextmanager
def in_process(users: int, profile: str) -> Iterator[str]:
    """Serve from ``python -m tap_knowbe4.sandbox``; yields the base URL."""
    cmd = [sys.executable, "-m", "tap_knowbe4.sandbox", "--port", "0", "--no-limits"]
    cmd += ["--profile", profile, "--users", str(users)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout is None:
            raise RuntimeError("no stdout from the sandbox process")
        yield proc.stdout.readline().split()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def fetch_all(session: requests.Session, url: str) -> tuple[int, int]:
    """Page through one list endpoint; returns (records, requests)."""
    records = calls = 0
    page = 1
    while True:
        resp = session.get(url, params={"page": page, "per_page": 500}, timeout=60)
        calls += 1
        resp.raise_for_status()
        rows = resp.json()
        if not rows:
            return records, calls
        records += len(rows)
        page += 1


def run(base: str, wanted: int, label: str) -> None:
    """Fetch ``wanted`` records twice and print the rates."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {DEMO_API_KEY}"
        api = base + "/v1"
        psts = session.get(api + "/phishing/security_tests", params={"per_page": 500}).json()
        psts.sort(key=lambda p: -(p["scheduled_count"] or 0))
        paths = ["/users", "/training/enrollments"]
        paths += [f"/phishing/security_tests/{p['pst_id']}/recipients" for p in psts]
        for when in ("first read", "cached"):
            total = calls = 0
            started = time.perf_counter()
            for path in paths:
                n, c = fetch_all(session, api + path)
                total, calls = total + n, calls + c
                if total >= wanted:
                    break
            elapsed = time.perf_counter() - started
            print(
                f"{label:28s} {when:10s} {total:>9,} records {calls:>5} requests "
                f"{elapsed:6.2f} s  {total / elapsed:>9,.0f} records/s"
            )


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=150_000)
    parser.add_argument("--profiles", nargs="+", default=["tidy", "documented"])
    args = parser.parse_args()

    for profile in args.profiles:
        started = time.perf_counter()
        Organization(users=args.users, profile=profile)
        elapsed = time.perf_counter() - started
        print(f"{profile}: org build, {args.users:,} users: {elapsed:.2f} s")
    for profile in args.profiles:
        with in_thread(args.users, profile) as base:
            run(base, args.records, f"{profile}, thread (shared)")
        with in_process(args.users, profile) as base:
            run(base, args.records, f"{profile}, own process")


if __name__ == "__main__":
    main()
