"""Achieved request rate vs the configured limits, and 429s, against the sandbox.

Run by hand:  .venv/bin/python bench/pacing_rate.py [--quick]

For each scenario the sandbox enforces the limits and the tap is configured with the same
values; the tap syncs until ``max_requests_per_run`` stops it cleanly. The achieved rate is
requests / elapsed seconds as a share of the binding limit (min(per_second,
per_minute/60) over the run's length), and every 429 the sandbox sent is counted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_knowbe4.sandbox import Sandbox
from tap_knowbe4.tap import TapKnowBe4
from tests.singer_output import catalog_selecting

STREAMS = ("users", "groups", "group_risk_score_history", "user_risk_score_history")


def allowed_requests(seconds: float, per_second: float, per_minute: float) -> float:
    """Most requests the server's rolling windows allow in ``seconds`` (burst included)."""
    by_second = per_second * seconds if per_second else float("inf")
    by_minute = per_minute * (seconds // 60 + 1) if per_minute else float("inf")
    return min(by_second + per_second, by_minute)


def scenario(name: str, per_second: int, per_minute: int, latency_ms: int, requests: int) -> dict:
    with Sandbox(
        users=2000,
        seed=5,
        limits=True,
        per_second=per_second,
        per_minute=per_minute,
        daily_quota=0,
        latency_ms=latency_ms,
    ) as sb:
        config = {
            "api_key": sb.api_key,
            "api_url": sb.base_url,
            "requests_per_second": per_second,
            "requests_per_minute": per_minute,
            "max_requests_per_run": requests,
            "include_user_risk_score_history": True,  # one request per user: a long run
        }
        tap = TapKnowBe4(config=config, catalog=catalog_selecting(STREAMS))
        started = time.monotonic()
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            tap.sync_all()
        elapsed = time.monotonic() - started
        stats = sb.stats()
    sent = stats["requests"]
    rate = sent / elapsed
    limit_rate = allowed_requests(elapsed, per_second, per_minute) / elapsed
    return {
        "scenario": name,
        "requests": sent,
        "seconds": elapsed,
        "rate": rate,
        "share": rate / limit_rate,
        "429s": stats["by_status"].get("429", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the real-defaults run")
    args = parser.parse_args()
    rows = [scenario("scaled 20/s, 300/min, 0 ms", 20, 300, 0, 900)]
    rows.append(scenario("scaled 20/s, 300/min, 100 ms", 20, 300, 100, 900))
    if not args.quick:
        rows.append(scenario("real 4/s, 50/min, 100 ms", 4, 50, 100, 150))
    print("| scenario | requests | seconds | req/s | share of limit | 429s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['requests']} | {r['seconds']:.1f} | {r['rate']:.2f} "
            f"| {r['share']:.0%} | {r['429s']} |"
        )


if __name__ == "__main__":
    main()
