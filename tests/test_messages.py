"""Messages name what was involved, and say one true thing once.

- A rejected key names ``api_url`` when that chose the host (the region played no part),
  the region otherwise.
- An opt-in stream that is selected but not switched on is said once, at the end of a sync,
  instead of the SDK's "Skipping deselected stream"; not in ``--discover``.
"""

from __future__ import annotations

import logging

from tap_knowbe4.client import rejected_key_message
from tap_knowbe4.settings import Settings
from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.singer_output import catalog_selecting, run_tap

OPT_IN = "user_risk_score_history"


def test_a_rejected_key_names_what_chose_the_host():
    by_region = rejected_key_message(Settings.from_config({"api_key": "k", "region": "eu"}))
    assert "eu.api.knowbe4.com (region 'eu')" in by_region
    assert "us, eu, ca, uk, de" in by_region
    proxied = rejected_key_message(
        Settings.from_config({"api_key": "k", "region": "eu", "api_url": "https://kb4.corp"})
    )
    assert "kb4.corp (set by api_url)" in proxied
    assert "region" not in proxied


def test_an_opt_in_stream_left_out_is_said_once(caplog):
    caplog.set_level(logging.INFO)
    with sandbox() as sb:
        config = tap_config(sb, include_user_risk_score_history=False)
        run = run_tap(config, streams=["users", OPT_IN])
    assert run.error is None, run.error
    said = [r.getMessage() for r in caplog.records if OPT_IN in r.getMessage()]
    assert [m for m in said if "was not read" in m] == [
        f"{OPT_IN} was not read: it is selected, but include_{OPT_IN} is false (set it to "
        "true to read it; `--plan` shows what it costs)."
    ]
    assert not [m for m in said if "Skipping deselected" in m or "Not reading" in m], said


def test_discovery_does_not_talk_about_opt_ins(tmp_path):
    with sandbox() as sb:
        config = tap_config(sb, include_user_risk_score_history=False)
        result = run_cli(tmp_path, config, "--discover", catalog=catalog_selecting())
    assert result.returncode == 0, result.stderr[-2000:]
    assert "was not read" not in result.stderr
    assert "Not reading" not in result.stderr
