"""Moving the sandbox clock changes what the endpoints return, consistently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tap_knowbe4.sandbox import Organization, Sandbox
from tap_knowbe4.sandbox.times import DAY, gmtime_ts, ts


def test_advance_over_http_and_python(make_session: Callable[[Sandbox], requests.Session]) -> None:
    with Sandbox(users=120, seed=9, limits=False) as sb, make_session(sb) as s:
        start = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
        assert sb.now == start
        resp = s.post(sb.base_url + "/_sandbox/advance", params={"days": 2})
        assert resp.json() == {"clock": "2026-11-03T12:00:00Z"}
        assert sb.advance(days=0.5) == start + timedelta(days=2.5)
        assert sb.stats()["clock"] == "2026-11-04T00:00:00Z"
        assert s.post(sb.base_url + "/_sandbox/advance", params={"days": -1}).status_code == 400
        assert s.post(sb.base_url + "/_sandbox/advance", params={"days": 5000}).status_code == 400
        assert s.get(sb.base_url + "/_sandbox/clock").json()["clock"] == "2026-11-04T00:00:00Z"


def test_start_clock_option() -> None:
    org = Organization(users=30, now="2025-03-10T08:30:00Z")
    assert org.now == datetime(2025, 3, 10, 8, 30, tzinfo=timezone.utc)
    assert max(u["joined_on"] for u in org.users()) <= "2025-03-10T08:30:00.000Z"


def test_advance_moves_everything_forward(
    make_session: Callable[[Sandbox], requests.Session],
) -> None:
    with Sandbox(users=150, seed=9, limits=False) as sb, make_session(sb) as s:
        api = sb.base_url + "/v1"
        before_psts = s.get(api + "/phishing/security_tests", params={"per_page": 500}).json()
        before_users = {u["id"]: u for u in sb.org.users()}
        before_enrollments = {e["enrollment_id"]: e for e in sb.org.enrollments()}
        before_risk = s.get(api + "/account/risk_score_history").json()
        open_before = [p for p in before_psts if p["status"] == "Open"]
        assert open_before

        s.post(sb.base_url + "/_sandbox/advance", params={"days": 30})

        after_psts = s.get(api + "/phishing/security_tests", params={"per_page": 500}).json()
        after_by_id = {p["pst_id"]: p for p in after_psts}
        assert len(after_psts) > len(before_psts)
        new_ids = set(after_by_id) - {p["pst_id"] for p in before_psts}
        assert min(new_ids) > max(p["pst_id"] for p in before_psts)  # ids ascend with time
        for p in open_before:
            later = after_by_id[p["pst_id"]]
            assert later["status"] == "Closed"
            for counter in ("delivered_count", "opened_count", "clicked_count", "reported_count"):
                assert later[counter] >= p[counter]
        fresh = next(p for p in after_psts if p["pst_id"] in new_ids and p["scheduled_count"])
        recipients = s.get(api + f"/phishing/security_tests/{fresh['pst_id']}/recipients",
                           params={"per_page": 500}).json()  # fmt: skip
        assert len(recipients) == fresh["scheduled_count"]
        assert fresh["clicked_count"] == sum(1 for r in recipients if r["clicked_at"])

        after_users = {u["id"]: u for u in sb.org.users()}
        assert set(after_users) - set(before_users)  # someone joined

        after_enrollments = {e["enrollment_id"]: e for e in sb.org.enrollments()}
        assert len(after_enrollments) > len(before_enrollments)
        progressed = [
            eid for eid, e in before_enrollments.items()
            if e["status"] != after_enrollments[eid]["status"]
        ]  # fmt: skip
        assert progressed

        after_risk = s.get(api + "/account/risk_score_history").json()
        assert after_risk[-1]["date"] > before_risk[-1]["date"]
        full = s.get(
            api + "/account/risk_score_history", params={"full": "true", "per_page": "500"}
        )
        assert full.json() == sb.org.account_risk_score_history(full=True)
        assert len(full.json()) == 161  # three years and 30 days of weekly points

        campaigns = s.get(api + "/phishing/campaigns").json()
        assert sum(c["psts_count"] for c in campaigns) == len(
            [p for p in after_psts if p["campaign_id"] in {c["campaign_id"] for c in campaigns}]
        )


def test_cannot_advance_past_horizon() -> None:
    org = Organization(users=10, horizon_days=30)
    org.advance(days=30)
    with pytest.raises(ValueError, match="horizon"):
        org.advance(days=1)


def test_users_are_archived_then_deleted_over_time() -> None:
    org = Organization(users=150, seed=9, profile="tidy")
    before = {u["id"]: u for u in org.users()}
    org.advance(days=240)
    after = {u["id"]: u for u in org.users()}
    archived = [
        uid for uid, u in after.items()
        if u["status"] == "archived" and before.get(uid, {}).get("status") == "active"
    ]  # fmt: skip
    assert archived
    for uid in archived:
        assert after[uid]["archived_at"] > "2026-11-01"
        assert after[uid]["groups"] is None
    assert all(org.user(uid)["status"] == "archived" for uid in archived)
    enrolled_users = {e["user"]["id"] for e in org.enrollments() if e["user"]}
    assert not enrolled_users - set(after)


def test_timestamps_are_formatted_as_gmtime_formats_them() -> None:
    """``ts`` (a date prefix per day, the time of day from a table) writes what
    ``time.gmtime`` gives for every second: day and year ends, leap days, before 1970,
    past 2038 and 9999, a float."""
    seconds = [0, -1, 1, DAY - 1, DAY, -DAY, -DAY - 1, 2**31 - 1, 2**31, -(2**31), 253402300800]
    for year_end in (951_868_799, 1_709_251_199, 1_798_761_599, 4_107_542_399):  # leap, ends
        seconds += range(year_end - 2 * DAY, year_end + 2 * DAY, 3_599)
    seconds += range(-400 * DAY, 400 * DAY * 30, 86_413)  # every day's offset drifts by 13 s
    for epoch in seconds:
        assert ts(epoch) == gmtime_ts(epoch), epoch
        assert ts(epoch) == ts(epoch)  # a cached day gives the same text again
    assert ts(1.5) == gmtime_ts(1.5) == "1970-01-01T00:00:01.000Z"  # type: ignore[arg-type]
