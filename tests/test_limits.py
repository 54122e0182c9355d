"""Living within the API's limits: pacing, Retry-After, faults, the daily budget, the plan."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json

import pytest

from tap_knowbe4.tap import TapKnowBe4
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import ALL_STREAMS, catalog_selecting, check_singer, run_tap
from tests.tap_waits import recorded_waits
from tests.test_errors import SECRET, assert_no_secret
from tests.test_full_sync import KEYS, assert_matches_ground_truth

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

DEFAULT_STREAMS = [s for s in ALL_STREAMS if s != "user_risk_score_history"]


def test_paced_at_the_servers_limits_gets_no_429():
    limits = {"limits": True, "per_second": 20, "per_minute": 300, "daily_quota": 0}
    with sandbox(**limits, users=20) as sb:
        config = tap_config(sb, requests_per_second=20, requests_per_minute=300)
        run = run_tap(config, streams=DEFAULT_STREAMS)
        assert_matches_ground_truth(run, sb.org, DEFAULT_STREAMS)
        stats = sb.stats()
        assert stats["by_status"].get("429", 0) == 0
        assert sum(stats["rate_limited"].values()) == 0


def test_retry_after_is_waited_out_exactly(caplog, monkeypatch):
    waits = recorded_waits(monkeypatch)
    with sandbox(api_key=SECRET) as sb:
        sb.inject("429", path_prefix="/v1/users", count=1, retry_after=3)
        run = run_tap(tap_config(sb), streams=["users"])
        assert_matches_ground_truth(run, sb.org, ["users"])
        assert waits == [3.0]  # what the server asked for, once
        assert "HTTP 429 on /v1/users, retry 1 in 3.0 s" in caplog.text
        assert run.tap.run.report.stream("users").throttled == 1
        assert_no_secret(caplog.text, json.dumps(run.messages))


def test_ten_percent_faults_of_every_kind_still_give_the_exact_ground_truth(caplog):
    with sandbox(fault_rate=0.1, api_key=SECRET) as sb:
        config = tap_config(sb, max_retries=6, max_retry_wait_seconds=0.05)
        run = run_tap(config, streams=DEFAULT_STREAMS)
        assert_matches_ground_truth(run, sb.org, DEFAULT_STREAMS)
        faults = sb.stats()["faults"]
        assert sum(v for k, v in faults.items() if k != "injected") > 5
        assert_no_secret(caplog.text, json.dumps(run.messages))


def _next_day(state: dict) -> dict:
    """The same state, as if the daily window had reset since."""
    state = json.loads(json.dumps(state))
    state["tap_knowbe4"]["budget"] = {"window_start": "2000-01-01T00:00:00Z", "used": 0}
    return state


def _union(*runs) -> dict[str, dict]:
    tables: dict[str, dict] = {}
    for run in runs:
        for stream in DEFAULT_STREAMS:
            table = tables.setdefault(stream, {})
            for record in run.records(stream):
                table[tuple(record[k] for k in KEYS[stream])] = record
    return tables


def _assert_union_is_ground_truth(org, *runs) -> None:
    tables = _union(*runs)
    for stream in DEFAULT_STREAMS:
        expected = {tuple(r[k] for k in KEYS[stream]): r for r in expected_records(org, stream)}
        assert tables[stream] == expected, stream


def _stop_and_resume(sb, config: dict, caplog, full_requests: int) -> dict:
    """Run 1 stops cleanly, run 2 resumes from its state; returns run 1's sandbox stats."""
    first = run_tap(config, streams=DEFAULT_STREAMS)
    assert first.error is None  # a clean stop is not an error (exit 0)
    check_singer(first)
    assert "Stopped early" in caplog.text
    state = first.final_state
    done = set(state["tap_knowbe4"]["interrupted"]["streams_done"])
    assert done  # some streams finished
    first_stats = sb.stats()
    first_requests = first_stats["requests"]
    sb.reset()
    second = run_tap(config, streams=DEFAULT_STREAMS, state=_next_day(state))
    assert second.error is None
    check_singer(second)
    assert second.final_state["tap_knowbe4"]["interrupted"] is None  # complete
    _assert_union_is_ground_truth(sb.org, first, second)
    # streams finished in run 1 send nothing again
    for stream in done:
        assert not second.records(stream), stream
    assert sb.stats()["requests"] < full_requests  # run 2 only does what was left
    assert first_requests + sb.stats()["requests"] < full_requests * 1.25
    assert_no_secret(caplog.text, json.dumps(first.messages), json.dumps(second.messages))
    return first_stats


def test_tap_budget_stops_cleanly_and_the_next_run_resumes(caplog):
    with sandbox(api_key=SECRET) as sb:
        full = run_tap(tap_config(sb, budget_ledger=False), streams=DEFAULT_STREAMS)
        full_requests = sb.stats()["requests"]
        assert full.error is None
        sb.reset()
        config = tap_config(sb, daily_request_limit=full_requests * 6 // 10, budget_ledger=False)
        _stop_and_resume(sb, config, caplog, full_requests)


@pytest.mark.parametrize(
    ("profile", "most_429s"),
    [("tidy", 1), ("documented", 4)],
    ids=["429-with-retry-after", "429-without-retry-after"],
)
def test_server_daily_quota_stops_cleanly_and_the_next_run_resumes(caplog, profile, most_429s):
    with sandbox(api_key=SECRET, profile=profile) as sb:
        run_tap(tap_config(sb, budget_ledger=False), streams=DEFAULT_STREAMS)
        full_requests = sb.stats()["requests"]
    daily = full_requests * 6 // 10  # run 1 stops; a fresh day's quota is enough for run 2
    quota = {"limits": True, "per_second": 0, "per_minute": 0, "daily_quota": daily}
    with sandbox(api_key=SECRET, profile=profile, **quota) as sb:
        config = tap_config(sb, budget_ledger=False, quota_wait_seconds=2)
        first_stats = _stop_and_resume(sb, config, caplog, full_requests)
        # Retry-After of hours is the quota at once; without it, 429s that persist for
        # quota_wait_seconds while the tap paces itself are the quota too
        assert 1 <= first_stats["rate_limited"]["daily"] <= most_429s
        assert "daily quota" in caplog.text
        assert "resets around" in caplog.text


def test_a_run_inside_the_quota_window_spends_one_probe(caplog):
    quota = {"limits": True, "per_second": 0, "per_minute": 0, "daily_quota": 30}
    with sandbox(api_key=SECRET, **quota) as sb:
        config = tap_config(sb, budget_ledger=False, quota_wait_seconds=1)
        first = run_tap(config, streams=DEFAULT_STREAMS)
        assert first.error is None  # a clean stop
        verdict = first.final_state["tap_knowbe4"]["budget"]
        assert verdict["quota_spent_at"]
        assert verdict["quota_resets_at"]
        before = sb.stats()["requests"]
        second = run_tap(config, streams=DEFAULT_STREAMS, state=first.final_state)
        assert second.error is None
        assert sb.stats()["requests"] - before == 1  # one probe, refused: stop
        check_singer(second)
        assert not second.records("users")
        # the tap's own budget never asks for more than a day's wait
        resets = dt.datetime.fromisoformat(verdict["quota_resets_at"].replace("Z", "+00:00"))
        assert resets - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(hours=24)


def test_budget_exhausted_can_fail_the_run(caplog):
    with sandbox() as sb:
        run = run_tap(
            tap_config(sb, max_requests_per_run=5, fail_when_budget_exhausted=True),
            streams=DEFAULT_STREAMS,
        )
        assert run.error is not None
        assert "max_requests_per_run (5)" in str(run.error)
        assert sb.stats()["requests"] == 5


def test_plan_is_within_five_percent_of_the_sync():
    streams = ALL_STREAMS  # including the per-user risk history
    with sandbox() as sb:
        config = tap_config(sb, page_size=500)  # the default: a risk history fits one page
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            tap = TapKnowBe4(config=config, catalog=catalog_selecting(streams), plan_only=True)
            tap.sync_all()
        text = out.getvalue()
        total = int(next(line.split()[1] for line in text.splitlines() if line.startswith("total")))
        assert "requests left today" in text
        sb.reset()
        run = run_tap(config, streams=streams)
        assert run.error is None
        actual = sb.stats()["requests"]
        assert abs(total - actual) <= 0.05 * actual, (total, actual, text)


def test_a_per_run_cap_names_no_reset_time(caplog):
    with sandbox() as sb:
        run = run_tap(tap_config(sb, max_requests_per_run=5), streams=DEFAULT_STREAMS)
    assert run.error is None
    assert "max_requests_per_run (5) is reached" in caplog.text
    assert "resets at" not in caplog.text  # the next run may continue at once


def test_the_tap_daily_budget_names_its_reset_time(caplog):
    with sandbox() as sb:
        run = run_tap(tap_config(sb, daily_request_limit=5), streams=DEFAULT_STREAMS)
    assert run.error is None
    assert "daily request budget (5) is used up" in caplog.text
    assert "the daily window resets at" in caplog.text
