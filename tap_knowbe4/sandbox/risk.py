"""Risk-score history: weekly, date-only points for the account, every group and every user.

A point's value is a pure function of (seed, owner kind, owner id, week), so histories never need
to be stored and stay identical however the clock was advanced.
"""

from __future__ import annotations

import math

from tap_knowbe4.sandbox.rand import SALT_RISK, unit
from tap_knowbe4.sandbox.times import DAY, add_months, day_str

KIND_ACCOUNT = 1
KIND_GROUP = 2
KIND_USER = 3


class RiskModel:
    """Computes risk-score points and histories on demand."""

    def __init__(self, seed: int, anchor_day: int, span_days: int, timestamp_dates: bool) -> None:
        self.seed = seed
        self.anchor_day = anchor_day
        self.span_weeks = max(52, span_days // 7)
        self.timestamp_dates = timestamp_dates

    def _curve(self, kind: int, owner: int) -> tuple[float, float]:
        base = 15.0 + 55.0 * unit(self.seed, SALT_RISK, kind, owner)
        phase = 2.0 * math.pi * unit(self.seed, SALT_RISK, kind, owner, 1)
        return base, phase

    def _value(self, kind: int, owner: int, week: int, base: float, phase: float) -> float:
        trend = -10.0 * week / self.span_weeks
        season = 4.0 * math.sin(2.0 * math.pi * week / 26.0 + phase)
        noise = 4.0 * (unit(self.seed, SALT_RISK, kind, owner, week + 7) - 0.5)
        return round(min(99.5, max(0.5, base + trend + season + noise)), 3)

    def _first_week(self, first_day: int) -> int:
        return max(0, -(-(first_day - self.anchor_day) // 7))

    def current(self, kind: int, owner: int, first_day: int, last_day: int) -> float:
        """Value of the latest point on or before ``last_day`` (the owner's current score)."""
        week = max(self._first_week(first_day), (last_day - self.anchor_day) // 7)
        return self._value(kind, owner, week, *self._curve(kind, owner))

    def history(
        self, kind: int, owner: int, *, first_day: int, last_day: int, now_day: int, full: bool
    ) -> list[dict[str, object]]:
        """Points between ``first_day`` and ``last_day`` (inclusive), oldest first.

        Without ``full`` only points on or after the same calendar day six months before
        ``now_day`` are returned (the API's default window).
        """
        start = self._first_week(first_day)
        if not full:
            window_day = add_months(now_day * DAY, -6) // DAY
            start = max(start, self._first_week(window_day))
        stop = (last_day - self.anchor_day) // 7
        base, phase = self._curve(kind, owner)
        suffix = "T00:00:00.000Z" if self.timestamp_dates else ""
        return [
            {
                "risk_score": self._value(kind, owner, week, base, phase),
                "date": day_str(self.anchor_day + 7 * week) + suffix,
            }
            for week in range(start, stop + 1)
        ]
