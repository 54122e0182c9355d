"""Requests of a full sync under every paging style of the sandbox, against two floors.

Run by hand:  .venv/bin/python bench/drift_requests.py [--write]

For each sandbox profile (and tap ``pagination``): the requests the tap sent for every stream
(40 users, ``page_size`` 25), the tap's own protocol as modelled in ``tests/ground_truth.py``
(what ``tests/test_full_sync.py`` asserts), and the floor: the fewest any client that knew the
server's rules in advance would need (``sb.paging.min_requests``; it never probes). ``--write``
puts the table into the README between its ``drift-requests`` markers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_knowbe4.sandbox import Sandbox
from tap_knowbe4.tap import TapKnowBe4
from tests.ground_truth import minimum_requests
from tests.singer_output import ALL_STREAMS, catalog_selecting

ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 25
MODES: tuple[tuple[str, dict[str, str], str], ...] = (
    ("documented", {}, "auto"),
    ("hostile", {}, "auto"),
    ("tidy", {}, "auto"),
    ("drift", {}, "auto"),
    ("drift", {}, "cursor"),
    ("drift", {"cursor_style": "header"}, "auto"),
)


def measure() -> list[tuple[str, int, int, int]]:
    """(mode, requests sent, the tap's protocol, the floor) for every mode."""
    rows = []
    for profile, options, paging in MODES:
        with Sandbox(profile=profile, users=40, seed=11, limits=False, **options) as sb:
            config = {
                "api_key": sb.api_key,
                "api_url": sb.base_url,
                "page_size": PAGE_SIZE,
                "pagination": paging,
                "requests_per_second": 0,
                "requests_per_minute": 0,
                "include_user_risk_score_history": True,
                "budget_ledger": False,
            }
            tap = TapKnowBe4(config=config, catalog=catalog_selecting(ALL_STREAMS))
            with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
                tap.sync_all()
            sent = sb.stats()["requests"]
            cursor, only = paging != "page", paging == "cursor"
            model = minimum_requests(sb, ALL_STREAMS, PAGE_SIZE, cursor=cursor, cursor_only=only)
            floor = minimum_requests(
                sb, ALL_STREAMS, PAGE_SIZE, cursor=cursor, cursor_only=only, floor=True
            )
            extra = ", cursor_style header" if options else ""
            rows.append((f"`{profile}`{extra} (`{paging}`)", sent, model, floor))
    return rows


def table(rows: list[tuple[str, int, int, int]]) -> str:
    """The README table."""
    lines = [
        "| sandbox profile (tap `pagination`) | requests | the tap's protocol | floor "
        "| over the floor |",
        "|---|---|---|---|---|",
    ]
    for mode, sent, model, floor in rows:
        lines.append(f"| {mode} | {sent:,} | {model:,} | {floor:,} | {sent / floor - 1:+.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update the README's table")
    args = parser.parse_args()
    text = table(measure())
    print(text)
    if args.write:
        readme = ROOT / "README.md"
        pattern = re.compile(
            r"(<!-- drift-requests:start -->\n).*?(<!-- drift-requests:end -->)", re.S
        )
        readme.write_text(
            pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), readme.read_text())
        )


if __name__ == "__main__":
    main()
