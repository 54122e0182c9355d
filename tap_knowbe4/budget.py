"""The daily request budget, remembered in state so a second run the same day knows what is left.

The API allows 2,000 + licensed seats requests per 24 hours, the window starting at the
first request (reference §5). The budget counts every request this tap sends, stores
``{"window_start", "used"}`` under ``request_budget`` in the Singer state, and says when
the next request would exceed the daily limit or the per-run cap.
"""

from __future__ import annotations

import datetime as dt
import typing as t

BASE_DAILY_LIMIT = 2000
WINDOW = dt.timedelta(hours=24)
STATE_KEY = "request_budget"


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


class RequestBudget:
    """Counts requests against the daily limit and an optional per-run cap."""

    def __init__(
        self,
        state: dict,
        *,
        daily_limit: int | None = None,
        max_per_run: int | None = None,
        clock: t.Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        """Read the window from ``state`` (the tap's state dict, updated in place)."""
        self._state = state
        self._configured_limit = daily_limit
        self.max_per_run = max_per_run
        self.seats: int | None = None
        self.used_this_run = 0
        self._clock = clock
        saved = state.get(STATE_KEY)
        if not isinstance(saved, dict):
            saved = {}
        self.window_start = _parse(saved.get("window_start"))
        self.used = int(saved.get("used") or 0)
        self._roll_window(self._clock())

    @property
    def daily_limit(self) -> int:
        """The configured limit, else 2,000 + seats (2,000 until the account is read)."""
        if self._configured_limit is not None:
            return self._configured_limit
        return BASE_DAILY_LIMIT + (self.seats or 0)

    @property
    def resets_at(self) -> dt.datetime | None:
        """When the current 24-hour window ends."""
        return self.window_start + WINDOW if self.window_start else None

    @property
    def remaining_today(self) -> int:
        """Requests left in the current window."""
        return max(0, self.daily_limit - self.used)

    def _roll_window(self, now: dt.datetime) -> None:
        if self.window_start is not None and now >= self.window_start + WINDOW:
            self.window_start, self.used = None, 0

    def exhausted(self) -> str | None:
        """Why the next request may not be sent, or None when it may."""
        self._roll_window(self._clock())
        if self.max_per_run is not None and self.used_this_run >= self.max_per_run:
            return f"max_requests_per_run ({self.max_per_run}) reached"
        if self.used >= self.daily_limit:
            return f"the daily request budget ({self.daily_limit}) is used up"
        return None

    def count(self) -> None:
        """Record one request sent now."""
        now = self._clock()
        self._roll_window(now)
        if self.window_start is None:
            self.window_start = now
        self.used += 1
        self.used_this_run += 1
        self._state[STATE_KEY] = {"window_start": _iso(self.window_start), "used": self.used}

    def exhaust(self, retry_after: float | None) -> None:
        """The server said the quota is gone: trust it for the rest of the window."""
        self.used = max(self.used, self.daily_limit)
        if retry_after is not None:
            self.window_start = self._clock() + dt.timedelta(seconds=retry_after) - WINDOW
        elif self.window_start is None:
            self.window_start = self._clock()
        self._state[STATE_KEY] = {"window_start": _iso(self.window_start), "used": self.used}
