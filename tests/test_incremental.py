"""Incremental syncs: state saves requests, and nothing is lost across runs and time."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import sandbox, tap_config
from tests.ground_truth import (
    canonical,
    endpoint_table,
    listing_requests,
    minimum_requests,
)
from tests.singer_output import ALL_STREAMS, check_singer, run_tap
from tests.test_full_sync import KEYS, assert_matches_ground_truth

pytestmark = pytest.mark.slow  # runs of a sandbox across months: `make test`, not `make test-fast`

RISK_WINDOW_SAFE = dt.timedelta(days=150)


def can_still_change(pst: dict, lookback_days: int = 14) -> bool:
    """The tap's rule for re-reading a test's recipients on an unchanged sandbox."""
    if pst.get("scheduled_count") is None:
        return False  # errored: never has recipients
    if pst["status"] != "Closed" or not pst.get("started_at"):
        return True
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=lookback_days)
    return pst["started_at"] >= cutoff.strftime("%Y-%m-%dT%H:%M:%S")


def _risk_owner(sb, path: str, full: list[dict], window: list[dict], page_size: int) -> int:
    """An owner's second read: its six-month window while its bookmark sits inside it."""
    newest = max((p["date"][:10] for p in full), default=None)
    cutoff = (dt.datetime.now(dt.timezone.utc) - RISK_WINDOW_SAFE).strftime("%Y-%m-%d")
    rows = window if newest is not None and newest >= cutoff else full
    return listing_requests(sb, path, len(rows), page_size, cursor=True)


def incremental_minimum(sb, page_size: int) -> int:
    """A second, unchanged run: the full-table lists, one window per risk owner, and the
    recipients of the tests that can still change."""
    org = canonical(sb.org)
    table = endpoint_table()
    total = 0
    for endpoint in table.values():
        if endpoint.parent is None and not endpoint.incremental:
            total += minimum_requests(sb, [endpoint.name], page_size, cursor=True)
    total += _risk_owner(
        sb,
        "/v1/account/risk_score_history",
        org.account_risk_score_history(full=True),
        org.account_risk_score_history(),
        page_size,
    )
    owners = (
        ("groups", org.groups(), org.group_risk_score_history),
        ("users", org.users(), org.user_risk_score_history),
    )
    for kind, owned, history in owners:
        for row in owned:
            path = f"/v1/{kind}/{row['id']}/risk_score_history"
            full, window = history(row["id"], full=True), history(row["id"])
            total += _risk_owner(sb, path, full, window, page_size)
    for pst in org.security_tests():
        if can_still_change(pst):
            path = f"/v1/phishing/security_tests/{pst['pst_id']}/recipients"
            rows = len(org.recipients(pst["pst_id"]))
            total += listing_requests(sb, path, rows, page_size, cursor=True)
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
        assert sb.stats()["requests"] == incremental_minimum(sb, config["page_size"])
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
        # incremental streams never ask the target to drop rows: the history of a user
        # deleted since stays in the warehouse, everything else equals one fresh sync
        incremental = {e.name for e in endpoint_table().values() if e.incremental}
        assert not incremental & {
            m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"
        }
        listed = {u["id"] for u in fresh.records("users")}
        for stream in ALL_STREAMS:
            expected = {tuple(r[k] for k in KEYS[stream]): r for r in fresh.records(stream)}
            loaded = tables[stream]
            if stream == "user_risk_score_history":
                gone = {k: r for k, r in loaded.items() if r["user_id"] not in listed}
                assert gone, "the sandbox deletes users over time"
                loaded = {k: r for k, r in loaded.items() if k not in gone}
            if stream == "phishing_security_test_recipients":
                # a settled test is not read again: a user deleted after it settled keeps
                # the stub the test recorded, where a fresh read now says `user: null`
                for key, record in expected.items():
                    kept = loaded.get(key, {}).get("user")
                    if record["user"] is None and kept and kept.get("id") not in listed:
                        loaded[key] = {**loaded[key], "user": None}
            assert loaded == expected, stream


@pytest.mark.parametrize("source", ["users", "endpoint"])
def test_group_members_are_the_same_from_users_or_the_endpoint(shared_sandbox, source):
    sb = shared_sandbox
    before = sb.stats()["requests"]
    run = run_tap(tap_config(sb, group_members_source=source), streams=["group_members"])
    assert_matches_ground_truth(run, sb.org, ["group_members"])
    sent = sb.stats()["requests"] - before
    assert sent == minimum_requests(sb, ["group_members"], 25, cursor=True, members_from=source)
    if source == "users":  # nothing but the users list
        assert sent == minimum_requests(sb, ["users"], 25, cursor=True)


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
