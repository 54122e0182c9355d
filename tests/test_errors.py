"""Bad keys, bad config, forbidden and vanished endpoints: one clear line, nothing leaked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests import warm_tap
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import check_singer, run_tap

SECRET = "kb4-ZX81-distinctive-secret-7f3a9c"


def run_cli(config: dict, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m tap_knowbe4`` as a user would, with no TAP_KNOWBE4_* in the env."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_KNOWBE4")}
    return warm_tap.run(
        [sys.executable, "-m", "tap_knowbe4", "--config", str(path), *args], env=env, timeout=120
    )


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        assert SECRET[:8] not in text


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or "CRITICAL" in line]


@pytest.mark.parametrize("quirk", [False, True], ids=["401", "200-invalid-token"])
def test_rejected_key_is_one_line_naming_the_host_and_what_chose_it(tmp_path, quirk):
    with sandbox(invalid_token_200=quirk) as sb:
        result = run_cli(tap_config(sb, api_key=SECRET, region="eu"), tmp_path)
        assert result.returncode == 1
        lines = error_lines(result.stderr)
        assert len(lines) == 1, result.stderr
        assert "rejected by 127.0.0.1" in lines[0]
        assert "(set by api_url)" in lines[0]  # api_url chose the host, not the region
        assert "region" not in lines[0]
        assert "Traceback" not in result.stderr
        assert '"type": "RECORD"' not in result.stdout
        assert_no_secret(result.stdout, result.stderr)
        # The first request failed, so nothing else was tried.
        assert sb.stats()["requests"] == 1


BAD_CONFIGS = [
    pytest.param({}, "api_key", id="missing-key"),
    pytest.param({"api_key": "  "}, "api_key", id="empty-key"),
    pytest.param({"api_key": SECRET, "region": "apac"}, "us, eu, ca, uk, de", id="bad-region"),
    pytest.param({"api_key": SECRET, "api_url": "http://kb4.example.com"}, "https", id="http"),
    pytest.param({"api_key": SECRET, "page_size": 0}, "page_size", id="page-size-0"),
    pytest.param({"api_key": SECRET, "page_size": 1000}, "page_size", id="page-size-1000"),
    pytest.param({"api_key": SECRET, "start_date": "last tuesday"}, "start_date", id="bad-date"),
    pytest.param({"api_key": SECRET, "regoin": "eu"}, "regoin", id="unknown-setting"),
    pytest.param({"api_key": SECRET, "ca_bundle": "/nonexistent.pem"}, "ca_bundle", id="ca-bundle"),
    pytest.param({"api_key": SECRET, "pagination": "offset"}, "pagination", id="bad-pagination"),
]


@pytest.mark.parametrize(("config", "mentions"), BAD_CONFIGS)
def test_bad_config_is_one_line_before_any_request(tmp_path, config, mentions):
    result = run_cli(config, tmp_path)
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert mentions in lines[0]
    assert "Traceback" not in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_forbidden_endpoint_skips_that_stream_only(caplog):
    with sandbox(forbidden_prefixes=("/v1/training/enrollments",), api_key=SECRET) as sb:
        run = run_tap(tap_config(sb), streams=["users", "training_enrollments", "policies"])
        assert "training_enrollments (skipped: the API key may not read it (403))" in str(
            run.error
        )  # the other streams are read, and the exit code says not everything was
        check_singer(run)
        assert run.records("users")
        assert run.records("policies")
        assert not run.records("training_enrollments")
        assert "Skipping stream 'training_enrollments'" in caplog.text
        assert_no_secret(caplog.text, json.dumps(run.messages))


def test_child_whose_parent_vanished_is_skipped(caplog):
    with sandbox(api_key=SECRET) as sb:
        groups = sb.org.groups()
        gone = groups[0]["id"]
        # its members answer 404, and so does the group itself: it vanished
        sb.inject("404", path_prefix=f"/v1/groups/{gone}", count=2)
        config = tap_config(sb, group_members_source="endpoint")
        run = run_tap(config, streams=["groups", "group_members"])
        assert run.error is None
        members = run.records("group_members")
        assert {m["group_id"] for m in members} == {
            g["id"] for g in groups[1:] if sb.org.group_members(g["id"])
        }
        assert "vanished" in caplog.text
        assert sb.stats()["faults"]["injected"] == 2


def test_a_404_on_children_of_a_parent_that_still_exists_fails_it_not_skips_it(caplog):
    """SIM-2: a 404 on a group's members is no proof the group vanished; the group answering
    200 by id says it did not. The parent fails (read again next run), the run exits 1,
    rather than load its members as none and exit 0."""
    streams = ["groups", "group_members"]
    with sandbox() as sb:
        kept = sb.org.groups()[0]["id"]
        sb.inject("404", path_prefix=f"/v1/groups/{kept}/members")
        config = tap_config(sb, group_members_source="endpoint")
        first = run_tap(config, streams=streams)
        assert "group_members" in str(first.error)
        assert f"/v1/groups/{kept} answered 200" in caplog.text
        second = run_tap(config, streams=streams, state=first.final_state)
        expected = {
            (m["group_id"], m["user_id"]) for m in expected_records(sb.org, "group_members")
        }
    assert second.error is None, second.error
    got = {(m["group_id"], m["user_id"]) for m in first.records("group_members")}
    got |= {(m["group_id"], m["user_id"]) for m in second.records("group_members")}
    assert got == expected


def test_discovery_and_about_need_no_config(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_KNOWBE4")}
    about = warm_tap.run(
        [sys.executable, "-m", "tap_knowbe4", "--about", "--format=json"], env=env, check=True
    )
    settings = json.loads(about.stdout)["settings"]
    assert settings["properties"]["api_key"]["writeOnly"] is True
    assert "api_key" in settings["required"]


@pytest.mark.parametrize(
    ("parent", "children", "settings"),
    [
        ("/v1/phishing/security_tests", ["phishing_security_test_recipients"], {}),
        ("/v1/groups", ["group_risk_score_history", "group_members"], {}),
        (
            "/v1/users",
            ["user_risk_score_history", "group_members"],
            {"include_user_risk_score_history": True},
        ),
    ],
)
def test_sim_22_a_forbidden_parent_read_only_for_its_children_fails_them(
    parent, children, settings
):
    """SIM-22 (seed 644031, silent loss, exit 0): a parent stream not selected but read for
    its selected children answered 403; the tap skipped it ("the other streams go on"),
    never read the children and exited 0 with every one of their rows missing. A selected
    parent's 403 already exited 1. Now the children are "not read" and the run exits 1
    naming them; nothing is activated."""
    if parent == "/v1/groups":
        settings = {"group_members_source": "endpoint"}
    with sandbox(forbidden_prefixes=(parent,), api_key=SECRET) as sb:
        config = tap_config(sb, emit_activate_version_messages=True, **settings)
        run = run_tap(config, streams=children)
    check_singer(run)
    assert run.error is not None, "exit 0 with the children never read"
    for child in children:
        assert f"{child} (not read: " in str(run.error)
        assert not run.records(child)
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
