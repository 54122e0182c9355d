"""The command-line face: ``tap-knowbe4-sandbox --port N [options]``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from tap_knowbe4.sandbox.harness import Sandbox
from tap_knowbe4.sandbox.options import (
    DEFAULT_NOW,
    DEFAULT_PROFILE,
    DEMO_API_KEY,
    LIST_TEMPLATES,
    PROFILES,
    QUIRKS,
)

DEFAULT_CLI_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every ``Sandbox`` keyword option as a ``--flag``)."""
    p = argparse.ArgumentParser(
        prog="tap-knowbe4-sandbox",
        description="Serve a local, stateful emulator of the KnowBe4 Reporting API.",
    )
    p.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default=DEFAULT_PROFILE,
        help="bundle of behaviours; flags given explicitly override it (default %(default)s)",
    )
    on_off = argparse.BooleanOptionalAction
    org = p.add_argument_group("organization (sizes default to values derived from --users)")
    org.add_argument("--seed", type=int, default=1)
    org.add_argument("--users", type=int, default=250)
    for name in (
        "groups",
        "phishing-campaigns",
        "psts-per-campaign",
        "store-purchases",
        "policies",
        "training-campaigns",
        "risk-years",
    ):
        org.add_argument(f"--{name}", type=int, default=None)
    org.add_argument("--enrollments-per-user", type=float, default=None)
    org.add_argument("--now", default=DEFAULT_NOW, help="start clock (default %(default)s)")
    org.add_argument("--horizon-days", type=int, default=730, help="how far the clock may advance")
    org.add_argument(
        "--quirks", nargs="*", default=None, choices=sorted(QUIRKS), help="reference quirk modes"
    )
    for name in ("deleted-users", "broken-refs", "odd-values", "coherent-numbers"):
        org.add_argument(f"--{name}", action=on_off, default=None, help="messy data (profile)")
    srv = p.add_argument_group("server")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=DEFAULT_CLI_PORT, help="0 picks a free port")
    srv.add_argument("--api-key", default=DEMO_API_KEY)
    srv.add_argument("--pagination", choices=("both", "page", "cursor"), default=None)
    srv.add_argument("--cursor-style", choices=("header", "envelope"), default=None)
    srv.add_argument("--cursor-scope", choices=("all", "enrollments"), default=None)
    srv.add_argument(
        "--per-page-caps",
        nargs="*",
        default=None,
        metavar="TEMPLATE=N",
        help=f"silent per_page caps, e.g. /v1/groups=100; templates: {sorted(LIST_TEMPLATES)}",
    )
    srv.add_argument("--unpaginated", nargs="*", default=None, metavar="TEMPLATE")
    srv.add_argument("--invalid-token-200", action=on_off, default=None)
    srv.add_argument("--forbidden-prefixes", nargs="*", default=[], metavar="PATH_PREFIX")
    srv.add_argument("--limits", action=on_off, default=True)
    srv.add_argument("--per-second", type=int, default=4)
    srv.add_argument("--per-minute", type=int, default=50)
    srv.add_argument("--daily-quota", type=int, default=None, help="default 2000 + seats; 0 = off")
    srv.add_argument("--retry-after", action=on_off, default=None, help="Retry-After on 429")
    srv.add_argument("--lockout-seconds", type=int, default=None, help="429s after a burst")
    srv.add_argument("--date-header", choices=("clock", "wall"), default=None)
    srv.add_argument("--latency-ms", type=int, default=0)
    srv.add_argument("--fault-rate", type=float, default=0.0)
    srv.add_argument("--log-level", default="WARNING", help="DEBUG logs one line per request")
    return p


def sandbox_options(argv: Sequence[str] | None = None) -> tuple[dict[str, Any], str]:
    """The ``Sandbox`` keyword options (``profile`` included) the flags ask for, and the log level.

    Profile-controlled flags that were not given are left out, so the profile decides them.
    """
    args = vars(build_parser().parse_args(argv))
    log_level = str(args.pop("log_level"))
    args["forbidden_prefixes"] = tuple(args["forbidden_prefixes"])
    for name in set(PROFILES[DEFAULT_PROFILE]) | {"pagination"}:
        if args.get(name) is None:
            args.pop(name, None)
    return args, log_level


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted; returns the process exit code."""
    args, log_level = sandbox_options(argv)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(message)s")
    started = time.perf_counter()
    try:
        sandbox = Sandbox(**args)
    except (TypeError, ValueError) as exc:
        print(f"tap-knowbe4-sandbox: {exc}", file=sys.stderr)
        return 2
    built = time.perf_counter() - started
    try:
        sandbox.start()
    except OSError as exc:
        print(f"tap-knowbe4-sandbox: cannot listen: {exc}", file=sys.stderr)
        return 1
    print(f"KnowBe4 sandbox serving {sandbox.base_url}", flush=True)
    print(f"API key: {sandbox.api_key}", flush=True)
    print(f"profile: {sandbox.profile}", flush=True)
    print(f"organization built in {built:.2f}s: {json.dumps(sandbox.org.summary())}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
