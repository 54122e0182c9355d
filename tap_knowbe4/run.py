"""What one run of the tap shares across streams: pacer, budget, progress, counters, stop flag.

Every request of every stream passes :meth:`RunControl.before_request`, which refuses it
once the run is stopped (a rejected key, or the budget used up), waits for the pacer, and
counts it against the daily budget.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time

from tap_knowbe4.budget import RequestBudget
from tap_knowbe4.errors import KnowBe4Error
from tap_knowbe4.limits import RequestPacer
from tap_knowbe4.progress import SyncProgress

PROGRESS_LOG_SECONDS = 30.0


class StopRunError(Exception):
    """Raised inside a request when the run has been stopped; streams end quietly."""


class BudgetExhaustedError(KnowBe4Error):
    """The daily quota (or the per-run cap) is used up: stop cleanly, resume next run."""


@dataclasses.dataclass
class StreamCounters:
    """Requests and outcomes of one stream in this run."""

    records: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0


class RunControl:
    """One per tap process: the shared pacer, budget, progress and counters."""

    def __init__(
        self,
        pacer: RequestPacer | None = None,
        budget: RequestBudget | None = None,
        progress: SyncProgress | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        """Create the run's shared state (defaults: no pacing, no budget, no state)."""
        self.pacer = pacer or RequestPacer(0, 0)
        self.budget = budget or RequestBudget({})
        self.progress = progress or SyncProgress({})
        self.logger = logger or logging.getLogger("tap-knowbe4")
        self.counters: dict[str, StreamCounters] = collections.defaultdict(StreamCounters)
        self.error: Exception | None = None
        #: Facts the request plan learns from the lists it reads.
        self.plan_hints: dict[str, int] = {}
        self.started = time.monotonic()
        self._last_progress_log = self.started

    @property
    def stopped(self) -> bool:
        """True once the run was stopped."""
        return self.error is not None

    @property
    def stopped_cleanly(self) -> bool:
        """True when the run stopped because the budget ran out (not an error)."""
        return isinstance(self.error, BudgetExhaustedError)

    def stop(self, error: Exception) -> None:
        """Stop the run: no further request is sent; the first reason is kept."""
        if self.error is None:
            self.error = error

    def before_request(self, stream_name: str) -> None:
        """Refuse when stopped or out of budget; otherwise pace and count the request."""
        if self.stopped:
            raise StopRunError
        reason = self.budget.exhausted()
        if reason:
            self.stop(BudgetExhaustedError(reason))
            raise StopRunError
        self.pacer.acquire()
        self.budget.count()
        self.counters[stream_name].requests += 1
        self._maybe_log_progress(stream_name)

    def _maybe_log_progress(self, stream_name: str) -> None:
        now = time.monotonic()
        if now - self._last_progress_log < PROGRESS_LOG_SECONDS:
            return
        self._last_progress_log = now
        counters = self.counters[stream_name]
        self.logger.info(
            "Progress: %s has %d records from %d requests; %d requests this run, %d left "
            "in today's budget.",
            stream_name,
            counters.records,
            counters.requests,
            self.total_requests,
            self.budget.remaining_today,
        )

    @property
    def total_requests(self) -> int:
        """Requests sent by all streams so far."""
        return sum(c.requests for c in self.counters.values())

    def summary(self) -> str:
        """A table of records, requests, retries and 429s per stream, plus totals."""
        rows: list[tuple[str, ...]] = [("stream", "records", "requests", "retries", "429s")]
        for name in sorted(self.counters):
            c = self.counters[name]
            rows.append((name, str(c.records), str(c.requests), str(c.retries), str(c.throttled)))
        totals = [
            sum(getattr(c, f) for c in self.counters.values())
            for f in ("records", "requests", "retries", "throttled")
        ]
        rows.append(("total", *(str(v) for v in totals)))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        budget = self.budget
        lines.append(
            f"waited {self.pacer.waited_seconds:.1f} s for pacing; "
            f"{budget.remaining_today} of {budget.daily_limit} requests left today"
            + (
                f" (window resets {budget.resets_at:%Y-%m-%d %H:%M} UTC)"
                if budget.resets_at
                else ""
            )
        )
        return "\n".join(lines)
