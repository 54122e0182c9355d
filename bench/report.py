"""Every benchmark in one markdown table (run by hand; takes about ten minutes).

    .venv/bin/python bench/report.py [--quick]

Rows: requests of a full sync against the theoretical minimum; requests of a second,
unchanged sync as a share of the first; achieved request rate against the limits (429s
counted); tap records/s against a raw ``requests`` + ``json.dumps`` floor measured in the
same run; the CPU of one read of users and enrollments against the raw floor and a plain
SDK tap (``bench/cpu_per_record.py``); the tap's record cleaning against the SDK's type
conformance; the tap's peak memory at 100k and 1M recipients; the CPU of a full read
through the Airbyte entry point against the Singer tap's. Medians and ratios, because the
machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import airbyte_cpu
import conformance
import cpu_per_record
import incremental_savings
import pacing_rate
import throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller orgs, no 1M run")
    args = parser.parse_args()
    cpu_per_record.compiled()  # every tap process runs from bytecode, as an installed tap does
    rows: list[tuple[str, str, str]] = []

    inc = incremental_savings.measure(2000 if args.quick else 5000, 156)
    rows.append(
        (
            f"requests per full sync ({inc['users']:,} users, {inc['recipients']:,} recipients)",
            f"{inc['first']:,} vs minimum {inc['minimum']:,}: {inc['first'] / inc['minimum']:.2f}",
            "1.00",
        )
    )
    rows.append(
        (
            "requests of a second, unchanged sync",
            f"{inc['second']:,} = {inc['second'] / inc['first']:.1%} of the first",
            "≤ 15 %",
        )
    )

    scaled = pacing_rate.scenario("scaled", 20, 300, 100, 600 if args.quick else 900)
    rows.append(
        (
            "request rate at 20/s, 300/min, 100 ms latency",
            f"{scaled['share']:.0%} of the limit, {scaled['429s']} responses 429",
            "≥ 90 %, 0",
        )
    )
    if not args.quick:
        real = pacing_rate.scenario("real", 4, 50, 100, 150)
        rows.append(
            (
                "request rate at the real defaults 4/s, 50/min, 100 ms latency",
                f"{real['share']:.0%} of the limit, {real['429s']} responses 429",
                "≥ 95 %, 0",
            )
        )

    small = {"users": 3000, "phishing_campaigns": 40, "seed": 7}
    tp = throughput.measure(small, repeat=1 if args.quick else 3)
    rows.append(
        (
            f"records/s, {tp['records']:,} recipients (tap / raw floor)",
            f"{tp['tap']:,.0f} / {tp['floor']:,.0f} = {tp['tap'] / tp['floor']:.2f}",
            "≥ 0.5",
        )
    )
    rows.append((f"tap peak memory at {tp['records']:,} recipients", f"{tp['rss_mb']:.0f} MB", ""))
    conf = conformance.measure(20_000 if args.quick else 100_000)
    rows.append(
        (
            "record cleaning, µs per recipient (tap's cleaner / SDK ROOT_ONLY conformance)",
            f"{conf['cleaner']:.1f} / {conf['root_only']:.1f} = "
            f"{conf['cleaner'] / conf['root_only']:.2f}",
            "≤ 1",
        )
    )
    ab = airbyte_cpu.measure(200 if args.quick else 600, repeat=1 if args.quick else 3)
    rows.append(
        (
            f"CPU of a full read, {ab['records']:,} records (Airbyte source / Singer tap)",
            f"{ab['airbyte']:.2f} s / {ab['singer']:.2f} s = {ab['ratio']:.2f}",
            "≤ 1.15",
        )
    )
    cpu = cpu_per_record.measure(2000 if args.quick else 7000, repeat=1 if args.quick else 5)
    cpu_ratios = cpu_per_record.ratios(cpu)
    rows.append(
        (
            f"CPU of one read, {cpu['records']:,} users and enrollments, start-up included "
            "(raw floor / tap)",
            f"{cpu['floor']['cpu']:.2f} s / {cpu['tap']['cpu']:.2f} s = "
            f"{cpu_ratios['tap_vs_floor']:.2f}",
            "≥ 0.7",
        )
    )
    rows.append(
        (
            "the same read, the SDK's record loop alone (raw floor / SDK floor): the most the "
            "row above can be",
            f"{cpu['floor']['cpu']:.2f} s / {cpu['sdk_floor']['cpu']:.2f} s = "
            f"{cpu_ratios['sdk_floor_vs_floor']:.2f}",
            "",
        )
    )
    rows.append(
        (
            "the same read (plain Singer SDK tap / tap)",
            f"{cpu['plain']['cpu']:.2f} s / {cpu['tap']['cpu']:.2f} s = "
            f"{cpu_ratios['tap_vs_plain']:.2f} (each round: "
            f"{min(cpu['tap_vs_plain_rounds']):.2f} to {max(cpu['tap_vs_plain_rounds']):.2f})",
            "≥ 2",
        )
    )
    if not args.quick:
        big = {"users": 6500, "phishing_campaigns": 1, "psts_per_campaign": 156, "seed": 7}
        large = throughput.measure(big, repeat=1)
        rows.append(
            (
                f"tap peak memory at {large['records']:,} recipients",
                f"{large['rss_mb']:.0f} MB ({large['tap']:,.0f} rec/s)",
                "flat, ≤ 200 MB",
            )
        )

    print(
        f"Measured {dt.date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}:\n"
    )
    print("| measure | result | goal |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
