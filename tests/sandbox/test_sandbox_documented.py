"""The documented and hostile readings over HTTP: paging, 429s, lockout, the Date header."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tap_knowbe4.sandbox import Sandbox
from tap_knowbe4.sandbox.limits import RateLimiter

ENROLLMENTS = "/v1/training/enrollments"


@pytest.fixture(scope="module")
def hostile() -> Iterator[Sandbox]:
    """A hostile sandbox, big enough for the groups cap (100) to bind; limits off."""
    with Sandbox(profile="hostile", users=150, seed=3, groups=130, limits=False) as sb:
        yield sb


def test_cursors_only_on_enrollments(sandbox: Sandbox, session: requests.Session, api: str) -> None:
    assert sandbox.profile == "documented"
    users = sandbox.org.users()
    for cursor in ("true", "0", "not-a-cursor", str(users[10]["id"])):
        resp = session.get(api + "/users", params={"cursor": cursor, "per_page": "50"})
        assert resp.status_code == 200
        assert "X-Next-Cursor" not in resp.headers
        assert resp.json() == users[:50]  # cursor ignored: page 1
    page2 = session.get(api + "/users", params={"cursor": "true", "per_page": "50", "page": "2"})
    assert page2.json() == users[50:100]
    history = session.get(api + "/account/risk_score_history", params={"cursor": "true"})
    assert history.json() == sandbox.org.account_risk_score_history()


def test_enrollments_envelope(sandbox: Sandbox, session: requests.Session, api: str) -> None:
    expected = sandbox.org.enrollments()
    url = api + "/training/enrollments"
    first = session.get(url, params={"cursor": "true", "per_page": "300"})
    body = first.json()
    assert list(body) == ["data", "pagination"]
    assert body["pagination"] == {
        "per_page": 300,
        "next_cursor": str(expected[299]["enrollment_id"]),
    }
    assert "X-Next-Cursor" not in first.headers
    got, cursor, calls = body["data"], body["pagination"]["next_cursor"], 1
    while cursor is not None:
        body = session.get(url, params={"cursor": cursor, "per_page": 300}).json()
        got += body["data"]
        cursor = body["pagination"]["next_cursor"]
        calls += 1
    assert got == expected
    assert calls == -(-len(expected) // 300)
    assert len(body["data"]) == len(expected) - 300 * (calls - 1)  # last page: data, null cursor
    # a cursor at the end, and a cursor request matching nothing: a bare []
    last = str(expected[-1]["enrollment_id"])
    assert session.get(url, params={"cursor": last}).json() == []
    assert session.get(url, params={"cursor": "true", "campaign_id": "1"}).json() == []
    # without a cursor parameter, enrollments page by number with bare arrays
    assert session.get(url, params={"page": 2, "per_page": 300}).json() == expected[300:600]
    bad = session.get(url, params={"cursor": "abc"})
    assert bad.status_code == 400
    assert "cursor" in bad.json()["message"].lower()


def test_unpaginated_user_risk_history(
    hostile: Sandbox, make_session: Callable[[Sandbox], requests.Session]
) -> None:
    user = next(u for u in hostile.org.users() if u["status"] == "active")["id"]
    path = f"/v1/users/{user}/risk_score_history"
    assert hostile.paging.is_unpaginated(path)
    full = hostile.org.user_risk_score_history(user, full=True)
    assert len(full) > 100
    with make_session(hostile) as s:
        url = hostile.base_url + path
        answers = [
            s.get(url, params={"full": "true", **extra}).json()
            for extra in ({}, {"per_page": "10"}, {"per_page": "10", "page": "2"},
                          {"page": "99"}, {"cursor": "true", "per_page": "5"})
        ]  # fmt: skip
        assert all(answer == full for answer in answers)  # page 2 repeats everything
        recent = s.get(url, params={"per_page": "10"}).json()
        assert recent == hostile.org.user_risk_score_history(user)
        assert len(recent) > 10
        assert recent[0]["date"].endswith("T00:00:00.000Z")  # hostile: timestamp dates
        # account and group histories still page
        group = hostile.org.groups()[0]["id"]
        rows = s.get(hostile.base_url + f"/v1/groups/{group}/risk_score_history",
                     params={"per_page": 10}).json()  # fmt: skip
        assert len(rows) == 10


def test_per_page_cap_is_silent(
    hostile: Sandbox, make_session: Callable[[Sandbox], requests.Session]
) -> None:
    groups = hostile.org.groups()
    assert len(groups) == 130
    assert hostile.paging.cap("/v1/groups") == 100
    with make_session(hostile) as s:
        url = hostile.base_url + "/v1/groups"
        first = s.get(url, params={"per_page": 500}).json()
        assert first == groups[:100]  # a client stopping on len < per_page would stop here
        assert s.get(url, params={"per_page": 500, "page": 2}).json() == groups[100:]
        assert s.get(url, params={"per_page": 500, "page": 3}).json() == []
        assert s.get(url, params={"per_page": 40, "page": 2}).json() == groups[40:80]
        pst = max(hostile.org.security_tests(), key=lambda p: p["scheduled_count"] or 0)
        assert hostile.paging.cap(f"/v1/phishing/security_tests/{pst['pst_id']}/recipients") == 250
        users = s.get(hostile.base_url + "/v1/users", params={"per_page": 500}).json()
        assert len(users) == 150  # not capped


def test_hostile_token_and_by_id_shapes(
    hostile: Sandbox, make_session: Callable[[Sandbox], requests.Session]
) -> None:
    bad = requests.get(
        hostile.base_url + "/v1/users", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert (bad.status_code, bad.json()) == (200, {"message": "Invalid Token"})
    with make_session(hostile) as s:
        user = hostile.org.users()[0]["id"]
        assert s.get(f"{hostile.base_url}/v1/users/{user}").json() == [hostile.org.user(user)]
        pst = hostile.org.security_tests()[0]
        assert "landing-page" in pst
        campaign = hostile.org.training_campaigns()[0]
        assert isinstance(campaign["content"][0], list)


def test_429_without_retry_after_by_default(
    make_session: Callable[[Sandbox], requests.Session],
) -> None:
    with Sandbox(users=20, per_second=0, per_minute=3) as sb, make_session(sb) as s:
        statuses = [s.get(sb.base_url + "/v1/account") for _ in range(5)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
        assert statuses[3].json() == {"message": "Too many requests"}
        assert all("Retry-After" not in r.headers for r in statuses)
    with (
        Sandbox(users=20, per_second=0, per_minute=3, retry_after=True) as sb,
        make_session(sb) as s,
    ):
        statuses = [s.get(sb.base_url + "/v1/account") for _ in range(4)]
        assert 55 <= int(statuses[3].headers["Retry-After"]) <= 60
        # an injected 429 with an explicit retry_after still carries it
    with Sandbox(users=20, limits=False) as sb, make_session(sb) as s:
        sb.inject("429", retry_after=3)
        assert s.get(sb.base_url + "/v1/account").headers["Retry-After"] == "3"


class FakeClock:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t


def test_burst_lockout_with_a_fake_clock() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0, 5, 0, clock=clock, wall=lambda: 0.0, lockout=300)
    assert [limiter.admit() for _ in range(5)] == [None] * 5
    burst = limiter.admit()
    assert burst is not None
    assert (burst.limit, burst.retry_after) == ("per_minute", 300)
    clock.t += 61  # the minute window has cleared, the lockout has not
    locked = limiter.admit()
    assert locked is not None
    assert (locked.limit, locked.retry_after) == ("lockout", 239)
    clock.t += 239
    assert limiter.admit() is None
    limiter.reset()
    assert [limiter.admit() for _ in range(5)] == [None] * 5


def test_burst_lockout_over_http(make_session: Callable[[Sandbox], requests.Session]) -> None:
    with (
        Sandbox(users=20, per_second=0, per_minute=3, lockout_seconds=2, retry_after=True) as sb,
        make_session(sb) as s,
    ):
        statuses = [s.get(sb.base_url + "/v1/groups") for _ in range(6)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429, 429]
        assert [r.headers["Retry-After"] for r in statuses[3:]] == ["2", "2", "2"]
        assert sb.stats()["rate_limited"] == {
            "per_second": 0,
            "per_minute": 1,
            "daily": 0,
            "lockout": 2,
        }
        assert sb.paging.min_requests("/v1/groups", 3) == 1  # limits do not change paging
    with Sandbox(profile="hostile", users=20) as sb:
        assert sb.app.limiter.lockout == 300


def test_date_header_follows_the_sandbox_clock(
    make_session: Callable[[Sandbox], requests.Session],
) -> None:
    with Sandbox(users=20, limits=False) as sb, make_session(sb) as s:
        first = s.get(sb.base_url + "/v1/account").headers["Date"]
        assert first == "Sun, 01 Nov 2026 12:00:00 GMT"
        assert email.utils.parsedate_to_datetime(first) == sb.now
        sb.advance(days=3.25)
        later = s.get(sb.base_url + "/v1/users/1").headers["Date"]  # also on errors
        assert later == "Wed, 04 Nov 2026 18:00:00 GMT"
    with Sandbox(profile="tidy", users=20, limits=False) as sb, make_session(sb) as s:
        before = time.time()
        wall = email.utils.parsedate_to_datetime(s.get(sb.base_url + "/v1/account").headers["Date"])
        after = time.time()
        # the clock read while answering (the header has whole seconds)
        assert int(before) <= wall.timestamp() <= after
