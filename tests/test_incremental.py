"""Incremental syncs: state saves requests, and nothing is lost across runs and time."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import ALL_STREAMS, check_singer, run_tap
from tests.test_full_sync import KEYS, assert_matches_ground_truth

FULL_TABLE_LISTS = (
    "users",
    "groups",
    "phishing_campaigns",
    "phishing_security_tests",
    "store_purchases",
    "policies",
    "training_campaigns",
    "training_enrollments",
)


def _pages(count: int, page_size: int) -> int:
    return max(1, -(-count // page_size))  # cursor mode: ceil, at least one


def can_still_change(pst: dict, lookback_days: int = 14) -> bool:
    """The tap's rule for re-reading a test's recipients on an unchanged sandbox."""
    if pst.get("scheduled_count") is None:
        return False  # errored: never has recipients
    if pst["status"] != "Closed" or not pst.get("started_at"):
        return True
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=lookback_days)
    return pst["started_at"] >= cutoff.strftime("%Y-%m-%dT%H:%M:%S")


def incremental_minimum(org, page_size: int) -> int:
    """List pages of full-table streams, one per risk-history owner, changeable PSTs."""
    total = 1  # account
    total += sum(_pages(len(expected_records(org, s)), page_size) for s in FULL_TABLE_LISTS)
    # one request (or more, at small page sizes) per risk-history owner: the 6-month window
    total += _pages(len(org.account_risk_score_history()), page_size)
    total += sum(
        _pages(len(org.group_risk_score_history(g["id"])), page_size) for g in org.groups()
    )
    total += sum(_pages(len(org.user_risk_score_history(u["id"])), page_size) for u in org.users())
    total += sum(
        _pages(len(org.recipients(p["pst_id"])), page_size)
        for p in org.security_tests()
        if can_still_change(p)
    )
    return total


def test_second_unchanged_run_sends_only_the_incremental_minimum():
    with sandbox() as sb:
        config = tap_config(sb)
        first = run_tap(config)
        assert_matches_ground_truth(first, sb.org)
        first_requests = sb.stats()["requests"]
        sb.reset()
        second = run_tap(config, state=first.final_state)
        assert second.error is None
        check_singer(second)
        assert sb.stats()["requests"] == incremental_minimum(sb.org, config["page_size"])
        assert sb.stats()["requests"] < first_requests
        # risk histories only re-send points from the bookmark on
        for stream in ("group_risk_score_history", "user_risk_score_history"):
            assert len(second.records(stream)) < len(first.records(stream))


def load(tables: dict[str, dict], run) -> None:
    """Load a run like a version-aware target: ACTIVATE_VERSION replaces, records upsert."""
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    for stream in ALL_STREAMS:
        if stream in activated:
            tables[stream] = {}
        table = tables.setdefault(stream, {})
        for record in run.records(stream):
            table[tuple(record[k] for k in KEYS[stream])] = record


def test_runs_across_time_add_up_to_one_full_sync():
    with sandbox() as sb:
        config = tap_config(sb, emit_activate_version_messages=True)
        tables: dict[str, dict] = {}
        state = None
        for days in (0, 7, 30):
            if days:
                sb.advance(days=days)
            run = run_tap(config, state=state)
            assert run.error is None, run.error
            check_singer(run)
            load(tables, run)
            state = run.final_state
        fresh = run_tap(config)
        assert_matches_ground_truth(fresh, sb.org)
        # incremental streams never ask the target to drop rows
        incremental = {"phishing_security_test_recipients", "user_risk_score_history"}
        assert not incremental & {
            m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"
        }
        for stream in ALL_STREAMS:
            expected = {tuple(r[k] for k in KEYS[stream]): r for r in fresh.records(stream)}
            assert tables[stream] == expected, stream


@pytest.mark.parametrize("source", ["users", "endpoint"])
def test_group_members_are_the_same_from_users_or_the_endpoint(shared_sandbox, source):
    sb = shared_sandbox
    before = sb.stats()["requests"]
    run = run_tap(tap_config(sb, group_members_source=source), streams=["group_members"])
    assert_matches_ground_truth(run, sb.org, ["group_members"])
    sent = sb.stats()["requests"] - before
    users_pages = _pages(len(sb.org.users()), 25)
    groups_pages = _pages(len(sb.org.groups()), 25)
    if source == "users":
        assert sent == users_pages  # nothing but the users list
    else:
        assert sent == groups_pages + len(sb.org.groups())


def test_start_date_bounds_risk_history_and_phishing_tests(shared_sandbox):
    sb = shared_sandbox
    start = "2026-06-01T00:00:00Z"
    streams = ["account_risk_score_history", "phishing_security_tests"]
    run = run_tap(tap_config(sb, start_date=start), streams=streams)
    check_singer(run)
    points = run.records("account_risk_score_history")
    assert points
    assert all(p["date"] >= "2026-06-01" for p in points)
    expected_points = [
        p for p in sb.org.account_risk_score_history(full=True) if p["date"] >= "2026-06-01"
    ]
    assert len(points) == len(expected_points)
    tests = run.records("phishing_security_tests")
    assert tests
    assert all(t["started_at"] is None or t["started_at"] >= start[:19] for t in tests)
