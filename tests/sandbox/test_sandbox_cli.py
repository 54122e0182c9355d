"""The console face: ``python -m tap_knowbe4.sandbox`` prints its URL and key and serves."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest
import requests

from tap_knowbe4.sandbox import DEMO_API_KEY
from tap_knowbe4.sandbox.cli import build_parser, main
from tap_knowbe4.sandbox.options import OrgOptions, ServerOptions


def test_cli_serves_until_stopped() -> None:
    command = [sys.executable, "-m", "tap_knowbe4.sandbox", "--port", "0", "--users", "40"]
    command += ["--no-limits", "--seed", "4"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("KnowBe4 sandbox serving http://127.0.0.1:")
        base_url = first.split()[-1]
        assert proc.stdout.readline().strip() == f"API key: {DEMO_API_KEY}"
        resp = requests.get(
            base_url + "/v1/users", headers={"Authorization": f"Bearer {DEMO_API_KEY}"}, timeout=10
        )
        assert resp.status_code == 200
        assert len(resp.json()) == 40
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_every_keyword_option_is_a_flag() -> None:
    flags = {a.dest for a in build_parser()._actions}
    keywords = {
        "seed", "users", "groups", "phishing_campaigns", "psts_per_campaign", "store_purchases",
        "policies", "training_campaigns", "enrollments_per_user", "risk_years", "now", "api_key",
        "pagination", "cursor_style", "invalid_token_200", "forbidden_prefixes", "limits",
        "per_second", "per_minute", "daily_quota", "latency_ms", "fault_rate", "host", "port",
        "profile", "deleted_users", "broken_refs", "odd_values", "coherent_numbers",
        "cursor_scope", "per_page_caps", "unpaginated", "retry_after", "lockout_seconds",
        "date_header", "quirks", "horizon_days",
    }  # fmt: skip
    assert keywords <= flags
    every = {f.name for f in fields(OrgOptions)} | {f.name for f in fields(ServerOptions)}
    assert every <= flags


def test_bad_options_exit_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--users", "0", "--port", "0"]) == 2
    assert "users" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--pagination", "sideways"])
