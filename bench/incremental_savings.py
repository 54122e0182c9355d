"""Requests of a second, unchanged sync as a share of the first, on a long-time customer.

Run by hand:  .venv/bin/python bench/incremental_savings.py [--users 5000 --weeks 156]

The organization: 5,000 users, three years of weekly phishing tests sent to everyone
(~780,000 recipients), everything else at the sandbox's defaults. Every stream is
selected except ``user_risk_score_history``. Also prints the requests of a full sync
against the theoretical minimum computed from the sandbox's ground truth.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_knowbe4.sandbox import Sandbox
from tap_knowbe4.tap import TapKnowBe4
from tests.ground_truth import minimum_requests
from tests.singer_output import ALL_STREAMS, catalog_selecting

STREAMS = [s for s in ALL_STREAMS if s != "user_risk_score_history"]


def sync(config: dict, state: dict | None) -> tuple[dict, float]:
    """One sync to /dev/null; returns the final state and the seconds it took."""
    tap = TapKnowBe4(config=config, catalog=catalog_selecting(STREAMS), state=state)
    started = time.perf_counter()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        tap.sync_all()
    return dict(tap.state), time.perf_counter() - started


def measure(users: int = 5000, weeks: int = 156) -> dict:
    """Requests of a full sync, its minimum, and of a second unchanged sync with state."""
    options: dict[str, t.Any] = {
        "users": users,
        "phishing_campaigns": 1,
        "psts_per_campaign": weeks,
    }
    with Sandbox(limits=False, seed=3, **options) as sb:
        config = {
            "api_key": sb.api_key,
            "api_url": sb.base_url,
            "requests_per_second": 0,
            "requests_per_minute": 0,
        }
        recipients = sum(len(sb.org.recipients(p["pst_id"])) for p in sb.org.security_tests())
        state, first_seconds = sync(config, None)
        first = sb.stats()["requests"]
        floor = minimum_requests(sb, STREAMS, 500, cursor=True)
        sb.reset()
        _, second_seconds = sync(config, state)
        second = sb.stats()["requests"]
    return {
        "users": users,
        "weeks": weeks,
        "recipients": recipients,
        "first": first,
        "minimum": floor,
        "second": second,
        "first_seconds": first_seconds,
        "second_seconds": second_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=156)
    args = parser.parse_args()
    r = measure(args.users, args.weeks)
    print(f"org: {r['users']:,} users, {r['recipients']:,} recipients in {r['weeks']} weekly tests")
    print("| sync | requests | seconds | note |")
    print("|---|---:|---:|---|")
    print(
        f"| first (full) | {r['first']:,} | {r['first_seconds']:.1f} | minimum {r['minimum']:,}: "
        f"ratio {r['first'] / r['minimum']:.2f} |"
    )
    print(
        f"| second (unchanged, with state) | {r['second']:,} | {r['second_seconds']:.1f} | "
        f"{r['second'] / r['first']:.1%} of the first |"
    )
    print(
        f"at 50 requests/min the first sync takes {math.ceil(r['first'] / 50)} min of "
        f"quota-paced time, the second {math.ceil(r['second'] / 50)} min"
    )


if __name__ == "__main__":
    main()
