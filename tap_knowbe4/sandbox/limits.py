"""The API's request limits: per second, per minute (rolling windows) and a daily quota.

Rate windows use ``time.monotonic`` (real time, not the sandbox clock). A rejected request does not
consume the per-second or per-minute windows. Every API request counts towards the daily quota,
whose 24-hour window starts with the first request after a reset. With a ``lockout`` (seconds),
the request that exceeds the per-minute burst starts a lockout during which every request is
rejected (limit ``lockout``); the reference's "burst limits will start around five (5) minutes".
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tap_knowbe4.sandbox.times import iso_z

DAILY_WINDOW = 86400.0
TOO_MANY = "Too many requests"
DAILY_EXCEEDED = "Daily request limit exceeded"


@dataclass(frozen=True)
class Rejection:
    """Why a request was refused and how many whole seconds to wait (``Retry-After``)."""

    limit: str
    retry_after: int
    message: str


class RateLimiter:
    """Admits or rejects requests; a limit of 0 disables that limit."""

    def __init__(
        self,
        per_second: int,
        per_minute: int,
        daily_quota: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        lockout: float = 0,
    ) -> None:
        self.per_second = per_second
        self.per_minute = per_minute
        self.daily_quota = daily_quota
        self.lockout = lockout
        self._locked_until = 0.0
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._second: deque[float] = deque()
        self._minute: deque[float] = deque()
        self._used = 0
        self._window_start: float | None = None
        self._window_wall: float | None = None

    def reset(self) -> None:
        """Forget every window and the quota usage."""
        with self._lock:
            self._second.clear()
            self._minute.clear()
            self._used = 0
            self._window_start = self._window_wall = None
            self._locked_until = 0.0

    def admit(self, enforce: bool = True) -> Rejection | None:
        """Count one API request; return a ``Rejection`` if a limit refuses it."""
        with self._lock:
            now = self._clock()
            if self._window_start is None or now - self._window_start >= DAILY_WINDOW:
                self._window_start, self._window_wall, self._used = now, self._wall(), 0
            self._used += 1
            if not enforce:
                return None
            if self.daily_quota and self._used > self.daily_quota:
                wait = self._window_start + DAILY_WINDOW - now
                return Rejection("daily", max(1, math.ceil(wait)), DAILY_EXCEEDED)
            if now < self._locked_until:
                wait = self._locked_until - now
                return Rejection("lockout", max(1, math.ceil(wait)), TOO_MANY)
            for window, limit, span, name in (
                (self._second, self.per_second, 1.0, "per_second"),
                (self._minute, self.per_minute, 60.0, "per_minute"),
            ):
                if not limit:
                    continue
                while window and window[0] <= now - span:
                    window.popleft()
                if len(window) >= limit:
                    wait = window[len(window) - limit] + span - now
                    if name == "per_minute" and self.lockout:
                        self._locked_until = now + self.lockout
                        wait = self.lockout
                    return Rejection(name, max(1, math.ceil(wait)), TOO_MANY)
            if self.per_second:
                self._second.append(now)
            if self.per_minute:
                self._minute.append(now)
            return None

    def quota(self) -> dict[str, object]:
        """The ``quota`` part of the stats: limit, used, window start and reset instants."""
        with self._lock:
            start = self._window_wall
            return {
                "limit": self.daily_quota or None,
                "used": self._used,
                "window_start": None if start is None else iso_z(start),
                "resets_at": None if start is None else iso_z(start + DAILY_WINDOW),
            }
