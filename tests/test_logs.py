"""Logs people can read: volume grows with streams, not parents; progress on a timer; JSON."""

from __future__ import annotations

import json

import pytest

from tests.cli import clean_env, run_cli
from tests.conftest import sandbox, tap_config
from tests.singer_output import catalog_selecting

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out


def _lines(tmp_path, users: int) -> list[str]:
    with sandbox(users=users) as sb:
        result = run_cli(tmp_path, tap_config(sb, page_size=500), catalog=catalog_selecting())
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr.splitlines()


def test_log_volume_grows_with_streams_not_with_parents(tmp_path):
    small, large = _lines(tmp_path, 40), _lines(tmp_path, 600)
    assert len(large) <= 110, "\n".join(large[:40])
    assert abs(len(large) - len(small)) <= 5  # 15 times the users, the same log
    assert not [line for line in large if "Beginning sync of 'user_risk_score_history'" in line]


def test_progress_is_logged_on_a_timer_with_an_eta_once_a_run_is_known(tmp_path):
    with sandbox(latency_ms=25) as sb:
        config = tap_config(sb, progress_interval_seconds=1, page_size=25)
        first = run_cli(tmp_path, config, catalog=catalog_selecting())
        second = run_cli(tmp_path, config, catalog=catalog_selecting(), state=first.final_state)
    progress = [line for line in first.stderr.splitlines() if "Progress:" in line]
    assert len(progress) >= 2, first.stderr[-3000:]
    assert all("records/s" in line and "left in today's quota" in line for line in progress)
    known = [line for line in second.stderr.splitlines() if "Progress:" in line]
    assert known
    assert any(" of ~" in line and "ETA" in line for line in known), known


@pytest.fixture
def json_logging(tmp_path):
    """What Meltano passes SDK taps for structured logs (SINGER_SDK_LOG_CONFIG)."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "singer_sdk.logging.StructuredFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["console"], "level": "INFO"},
    }
    path = tmp_path / "logging.json"
    path.write_text(json.dumps(config))
    return path


def test_the_run_summary_is_structured_in_json_logs(tmp_path, json_logging):
    with sandbox() as sb:
        env = clean_env(SINGER_SDK_LOG_CONFIG=str(json_logging))
        result = run_cli(
            tmp_path, tap_config(sb), catalog=catalog_selecting(["users", "groups"]), env=env
        )
    assert result.returncode == 0, result.stderr[-2000:]
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    summary = next(e for e in entries if e["message"].startswith("Run summary"))
    streams = {s["stream"]: s for s in summary["extra"]["run_summary"]}
    assert set(streams) == {"users", "groups"}
    assert streams["users"]["outcome"] == "complete"
    assert streams["users"]["records"] == len(sb.org.users())
    assert streams["users"]["requests"] >= 1
