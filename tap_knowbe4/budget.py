"""The daily request budget: counted across runs, and the server's verdict respected.

The API allows 2,000 + licensed seats requests per 24 hours, the window starting at the
first request (reference §5). :class:`RequestBudget` counts every request against that
limit (in the state's :class:`~tap_knowbe4.state.BudgetState`, and in the shared
:class:`~tap_knowbe4.ledger.BudgetLedger` when enabled) and against an optional per-run cap.

When the server itself says the quota is spent (429s that persist while the tap paces
within the limits), the budget records when, and until when it expects that to last. A
later run inside that window sends exactly one probe request: if the server answers, the
verdict is lifted and the run goes on; if not, the run stops at once.
"""

from __future__ import annotations

import datetime as dt
import math
import typing as t

from tap_knowbe4.state import WINDOW, BudgetState, utcnow

if t.TYPE_CHECKING:
    from tap_knowbe4.ledger import BudgetLedger

BASE_DAILY_LIMIT = 2000


class RequestBudget:
    """Counts requests against the daily limit and an optional per-run cap."""

    def __init__(
        self,
        state: BudgetState,
        *,
        daily_limit: int | None = None,
        max_per_run: int | None = None,
        ledger: BudgetLedger | None = None,
        clock: t.Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """Budget over ``state`` (updated in place), shared through ``ledger`` if given."""
        self.state = state
        self._configured_limit = daily_limit
        self.max_per_run = max_per_run
        self.ledger = ledger
        self.seats: int | None = None
        self.used_this_run = 0
        self._clock = clock
        self._probed = False
        self._opened_window = False
        if ledger is not None:
            ledger.merge(state, force=True, adopt=True)
        self._roll(clock())

    # -- what is left ----------------------------------------------------------------

    @property
    def daily_limit(self) -> int:
        """The configured limit, else 2,000 + seats (2,000 until the account is read)."""
        if self._configured_limit is not None:
            return self._configured_limit
        return BASE_DAILY_LIMIT + (self.seats or 0)

    @property
    def verdict_holds(self) -> bool:
        """True while the server's "quota spent" verdict is expected to hold."""
        resets = self.state.quota_resets_at
        return resets is not None and self._clock() < resets

    @property
    def resets_at(self) -> dt.datetime | None:
        """When requests are expected to be allowed again (or the window ends)."""
        if self.verdict_holds:
            return self.state.quota_resets_at
        start = self.state.window_start
        return start + WINDOW if start else None

    @property
    def remaining_today(self) -> int:
        """Requests left in the current window."""
        if self.verdict_holds:
            return 0
        return max(0, self.daily_limit - self.state.used)

    def _roll(self, now: dt.datetime) -> None:
        start = self.state.window_start
        if start is not None and now >= start + WINDOW:
            self.state.window_start, self.state.used = None, 0

    @property
    def run_cap_reached(self) -> bool:
        """True when this run's own cap (``max_requests_per_run``) is what stops it."""
        return self.max_per_run is not None and self.used_this_run >= self.max_per_run

    def exhausted(self) -> str | None:
        """Why the next request may not be sent, or None when it may."""
        self._roll(self._clock())
        if self.run_cap_reached:
            return f"max_requests_per_run ({self.max_per_run}) is reached"
        if self.verdict_holds and self._probed:
            resets = self.state.quota_resets_at
            return (
                f"the API's daily quota ({self.daily_limit} requests) is spent, as it said "
                f"at {_hm(self.state.quota_spent_at)}; it resets around {_hm(resets)}"
            )
        if self.state.used >= self.daily_limit and not self.verdict_holds:
            return f"the daily request budget ({self.daily_limit}) is used up"
        return None

    # -- events --------------------------------------------------------------------------

    def count(self) -> None:
        """Record one request sent now."""
        now = self._clock()
        self._roll(now)
        if self.state.window_start is None:
            self.state.window_start = now
            self._opened_window = True
        self.state.used += 1
        self.used_this_run += 1
        if self.verdict_holds:
            self._probed = True
        if self.ledger is not None:
            self.ledger.pending += 1

    def publish(self) -> None:
        """The request last counted has ended: share the count through the ledger.

        Not at :meth:`count`: a request that never reached a server is refunded first, so
        the shared ledger never opens a window or counts a request for it (whenever its
        next write falls due).
        """
        if self.ledger is not None:
            self.ledger.merge(self.state)

    def refund(self) -> None:
        """The request last counted never reached a server: it is not counted after all.

        A window this run opened with it is closed again (the API's window starts at the
        first request it receives).
        """
        self.state.used = max(0, self.state.used - 1)
        self.used_this_run = max(0, self.used_this_run - 1)
        if self.used_this_run == 0 and self._opened_window:
            self.state.window_start = None
            self._opened_window = False
        if self.ledger is not None:
            self.ledger.pending -= 1

    def answered(self) -> None:
        """A request was answered (not 429): a standing quota verdict no longer holds."""
        if self.state.quota_spent_at is not None:
            self.state.quota_spent_at = self.state.quota_resets_at = None
            self._probed = False
            if self.ledger is not None:
                self.ledger.clear_verdict = True
                self.ledger.merge(self.state, force=True)

    def declare_quota_spent(self, retry_after: float | None) -> dt.datetime:
        """The server says the daily quota is spent; returns when it should reset.

        A plausible ``Retry-After`` (at most 24 hours) sets the reset time; otherwise the
        window this tap has counted since its first request is assumed, or 24 hours.
        """
        now = self._clock()
        if retry_after is not None and 0 <= retry_after <= WINDOW.total_seconds():
            resets = now + dt.timedelta(seconds=math.ceil(retry_after))
        elif self.state.window_start is not None and self.state.window_start + WINDOW > now:
            resets = self.state.window_start + WINDOW
        else:
            resets = now + WINDOW
        self.state.quota_spent_at, self.state.quota_resets_at = now, resets
        self._probed = True
        if self.ledger is not None:
            self.ledger.merge(self.state, force=True)
        return resets

    def flush(self) -> None:
        """Write what is pending to the shared ledger."""
        if self.ledger is not None:
            self.ledger.merge(self.state, force=True)


def _hm(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "an unknown time"
