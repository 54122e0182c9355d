"""account_label: a fleet's logs say which account each line is about."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tap_knowbe4.errors import ConfigError
from tap_knowbe4.settings import Settings
from tests.cli import clean_env, run_cli
from tests.conftest import tap_config
from tests.singer_output import catalog_selecting

pytestmark = pytest.mark.slow  # tap runs; `make test-fast` leaves this module out

LABEL_SHAPE = re.compile(r"[A-Za-z0-9._@-]{1,40}")


def _console_lines(stderr: str) -> list[tuple[str, str]]:
    """(logger name, message) of each formatted log line (``time | level | name | message``)."""
    out = []
    for line in stderr.splitlines():
        parts = line.split(" | ", 3)
        if len(parts) == 4:
            out.append((parts[2].strip(), parts[3]))
    return out


def test_every_tap_line_and_the_summary_name_the_account(tmp_path, shared_sandbox):
    config = tap_config(shared_sandbox, account_label="acme-emea")
    result = run_cli(tmp_path, config, catalog=catalog_selecting(["users", "groups"]))
    assert result.returncode == 0, result.stderr[-2000:]
    tap_lines = [(n, m) for n, m in _console_lines(result.stderr) if n.startswith("tap-knowbe4")]
    assert tap_lines, result.stderr[-2000:]
    # Only the version banner comes before the settings are read.
    unlabelled = [m for _, m in tap_lines[1:] if not m.startswith("[acme-emea] ")]
    assert tap_lines[0][1].startswith("tap-knowbe4 v")
    assert not unlabelled, unlabelled
    assert any(m.startswith("[acme-emea] Run summary of account acme-emea:") for _, m in tap_lines)
    # labelled once, however many handlers a record passes
    assert "[acme-emea] [acme-emea]" not in result.stderr


def test_without_a_label_nothing_changes(tmp_path, shared_sandbox):
    result = run_cli(tmp_path, tap_config(shared_sandbox), catalog=catalog_selecting(["groups"]))
    assert result.returncode == 0, result.stderr[-2000:]
    messages = [m for n, m in _console_lines(result.stderr) if n.startswith("tap-knowbe4")]
    assert any(m.startswith("Run summary:") for m in messages), messages
    assert not [m for m in messages if m.startswith("[")]


def test_json_logs_carry_the_account_as_a_field(tmp_path, shared_sandbox):
    logging_config = tmp_path / "logging.json"
    logging_config.write_text(
        json.dumps(
            {
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
        )
    )
    result = run_cli(
        tmp_path,
        tap_config(shared_sandbox, account_label="globex"),
        catalog=catalog_selecting(["groups"]),
        env=clean_env(SINGER_SDK_LOG_CONFIG=str(logging_config)),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    ours = [e for e in entries if e["logger_name"].startswith("tap-knowbe4")]
    assert ours
    assert all(e["extra"].get("account") == "globex" for e in ours[1:]), ours[:3]
    assert ours[0]["message"].startswith("tap-knowbe4 v")
    summary = next(e for e in ours if "Run summary" in e["message"])
    assert summary["extra"]["run_summary"]


# Which labels are refused is the property below (in-process); the tap's command line is run
# for the two that matter most there: one that would split a log line, one that looks like a key.
@pytest.mark.parametrize("label", ["a\nb", "eyJhbGciOiJIUzI1NiJ9.e30"])
def test_a_label_that_could_garble_a_log_line_is_refused_in_one_line(tmp_path, label):
    result = run_cli(
        tmp_path,
        {"api_key": "k", "api_url": "http://127.0.0.1:9", "account_label": label},
        catalog=catalog_selecting(["groups"]),
    )
    line = result.assert_one_clear_line()
    assert "account_label" in line
    assert label not in result.stderr


@given(st.text(max_size=70))
@example("two words")
@example("50%")
@example("x" * 41)
@example("naïve")
@example("acme-emea")
def test_labels_are_taken_exactly_when_they_are_plain(text):
    stripped = text.strip()
    if stripped and (not LABEL_SHAPE.fullmatch(stripped) or stripped.startswith("eyJ")):
        with pytest.raises(ConfigError, match="account_label"):
            Settings.from_config({"api_key": "k", "account_label": text})
        return
    parsed = Settings.from_config({"api_key": "k", "account_label": text})
    assert parsed.account_label == (stripped or None)
    assert parsed.account_label is None or LABEL_SHAPE.fullmatch(parsed.account_label)
