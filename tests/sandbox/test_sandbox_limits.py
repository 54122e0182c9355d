"""Per-second, per-minute and daily limits: 429 with a JSON message (and, tidy, Retry-After)."""

from __future__ import annotations

from collections.abc import Callable

import requests

from tap_knowbe4.sandbox import Sandbox
from tap_knowbe4.sandbox.limits import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_rolling_windows_with_a_fake_clock() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4, 50, 0, clock=clock, wall=lambda: 0.0)
    assert all(limiter.admit() is None for _ in range(4))
    rejected = limiter.admit()
    assert rejected is not None
    assert rejected.limit == "per_second"
    assert rejected.retry_after == 1
    clock.t += 0.5
    assert limiter.admit() is not None  # still within the second; rejections use no slot
    clock.t += 0.51
    assert limiter.admit() is None
    # 5 accepted so far; 44 more at 4 per second, then the 50th
    for _ in range(11):
        clock.t += 1.0
        assert [limiter.admit() for _ in range(4)] == [None] * 4
    clock.t += 1.0
    assert limiter.admit() is None
    clock.t += 1.0
    minute = limiter.admit()
    assert minute is not None
    assert minute.limit == "per_minute"
    assert minute.retry_after == 46  # the first request (t=1000) leaves the window at t=1060


def test_daily_window_resets_after_24_hours() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0, 0, 3, clock=clock, wall=lambda: 0.0)
    assert [limiter.admit() for _ in range(3)] == [None, None, None]
    clock.t += 3600
    rejected = limiter.admit()
    assert rejected is not None
    assert rejected.limit == "daily"
    assert rejected.retry_after == 86400 - 3600
    assert rejected.message == "Daily request limit exceeded"
    clock.t += 86400 - 3600
    assert limiter.admit() is None


def test_per_second_limit_over_http(make_session: Callable[[Sandbox], requests.Session]) -> None:
    """Over HTTP: the fourth request within a second is a 429 (body, Retry-After, counted);
    a second later the window is open again. The limiter's clock is one the test moves, so
    no assertion depends on how fast the requests go out."""
    clock = FakeClock()
    with (
        Sandbox(profile="tidy", users=20, per_second=3, per_minute=0, daily_quota=0) as sb,
        make_session(sb) as s,
    ):
        sb.app.limiter = RateLimiter(3, 0, 0, clock=clock, wall=lambda: 0.0)
        statuses: list[int] = []
        for _ in range(6):
            resp = s.get(sb.base_url + "/v1/groups")
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                assert resp.json() == {"message": "Too many requests"}
                assert resp.headers["Retry-After"] == "1"
        assert statuses == [200, 200, 200, 429, 429, 429]
        assert sb.stats()["rate_limited"]["per_second"] == 3
        assert sb.stats()["by_status"].get("429", 0) == 3
        clock.t += 0.5
        assert s.get(sb.base_url + "/v1/groups").status_code == 429  # still the same second
        clock.t += 0.5
        assert s.get(sb.base_url + "/v1/groups").status_code == 200


def test_per_minute_limit_over_http(make_session: Callable[[Sandbox], requests.Session]) -> None:
    with Sandbox(profile="tidy", users=20, per_second=0, per_minute=5) as sb, make_session(sb) as s:
        statuses = [s.get(sb.base_url + "/v1/account").status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        resp = s.get(sb.base_url + "/v1/account")
        assert 55 <= int(resp.headers["Retry-After"]) <= 60
        stats = sb.stats()
        assert stats["rate_limited"] == {"per_second": 0, "per_minute": 3, "daily": 0, "lockout": 0}
        # the sandbox's own endpoints are never limited or counted
        for _ in range(5):
            assert s.get(sb.base_url + "/_sandbox/stats").status_code == 200
        assert sb.stats()["requests"] == 8
        sb.reset()
        assert s.get(sb.base_url + "/v1/account").status_code == 200


def test_daily_quota_over_http(make_session: Callable[[Sandbox], requests.Session]) -> None:
    with (
        Sandbox(profile="tidy", users=20, per_second=0, per_minute=0, daily_quota=4) as sb,
        make_session(sb) as s,
    ):
        statuses = [s.get(sb.base_url + "/v1/account").status_code for _ in range(4)]
        assert statuses == [200] * 4
        resp = s.get(sb.base_url + "/v1/account")
        assert resp.status_code == 429
        assert resp.json() == {"message": "Daily request limit exceeded"}
        assert 86300 <= int(resp.headers["Retry-After"]) <= 86400
        quota = sb.stats()["quota"]
        assert quota["limit"] == 4
        assert quota["used"] == 5
        assert quota["window_start"] < quota["resets_at"]
        assert sb.stats()["rate_limited"]["daily"] == 1
        s.post(sb.base_url + "/_sandbox/reset")
        assert s.get(sb.base_url + "/v1/account").status_code == 200


def test_default_limits_are_the_documented_ones() -> None:
    sb = Sandbox(users=250)
    limiter = sb.app.limiter
    assert (limiter.per_second, limiter.per_minute) == (4, 50)
    assert limiter.daily_quota == 2000 + sb.org.account()["number_of_seats"]
    off = Sandbox(users=250, limits=False).app.limiter
    assert (off.per_second, off.per_minute, off.daily_quota) == (0, 0, 0)
