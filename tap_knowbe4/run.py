"""What one run of the tap shares across streams: pacing, budget, outcomes, stopping.

Every request of every stream passes :meth:`RunControl.before_request`, which refuses it
once the run is stopped, waits for the pacer, and counts it against the daily budget. A
429 goes through :meth:`RunControl.on_throttled`, which decides between waiting (as the
server asks, or with backoff) and concluding that the daily quota is spent: when 429s
persist for ``quota_wait_seconds`` although the tap paces itself within the limits, or
when the server asks to wait longer than ``max_retry_wait_seconds``.

SIGTERM and SIGINT stop the run: inside a request or a wait the run unwinds at once
(:meth:`RunControl.interruptible`), elsewhere at the next request; the state is written
and the tap exits non-zero (143 or 130), so an orchestrator never records a complete run.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import typing as t

from tap_knowbe4.budget import RequestBudget
from tap_knowbe4.errors import BudgetExhaustedError, StopRunError, TerminationRequestedError
from tap_knowbe4.limits import RequestPacer
from tap_knowbe4.outcome import RunReport, StopKind
from tap_knowbe4.references import ReferenceTracker
from tap_knowbe4.run_plan import RunPlan

if t.TYPE_CHECKING:
    from types import FrameType

    from tap_knowbe4.ledger import BudgetLedger
    from tap_knowbe4.settings import Settings
    from tap_knowbe4.state import TapState


#: After a signal, how long the shared ledger's lock is waited for (then the state counts).
SIGNAL_LOCK_SECONDS = 0.5


class RunControl:
    """One per tap process: the shared pacer, budget, report, and the stop switch."""

    def __init__(
        self,
        settings: Settings,
        state: TapState,
        *,
        ledger: BudgetLedger | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        """Create the run's shared parts from the settings and the loaded state."""
        self.settings = settings
        self.state = state
        self.logger = logger or logging.getLogger("tap-knowbe4")
        self.report = RunReport()
        self._wake = threading.Event()
        self.pacer = RequestPacer(
            settings.requests_per_second, settings.requests_per_minute, sleep=self.sleep
        )
        self.budget = RequestBudget(
            state.budget,
            daily_limit=settings.daily_request_limit,
            max_per_run=settings.max_requests_per_run,
            ledger=ledger,
        )
        last_run = state.last_run
        #: What this run is expected to send (the progress line's total).
        self.plan = RunPlan(last_run.requests_by_stream if last_run is not None else None)
        self.started = time.monotonic()
        #: True in ``--test``: a connection that fails is not retried, and no run resumes.
        self.connection_test = False
        #: Facts the request plan learns from the lists it reads.
        self.plan_hints: dict[str, int] = {}
        #: Endpoints (path templates) that answered ``cursor=true`` with records in this
        #: run, by any stream: an empty answer there is believed (attack 8 #1's check is for
        #: servers that do not read ``cursor``; the callback variant is the same endpoint).
        self.cursor_paths: set[str] = set()
        #: Requests answered with anything but 429 (the quota's refusals are not counted).
        self.answered_requests = 0
        #: The same learned by a plan's pricing (``listing_pages``): endpoint -> streams
        #: that priced a listing of it with records.
        self.priced_paths: dict[str, set[str]] = {}
        #: Lists whose records summarize another's (campaigns: their tests), read in this
        #: run: True while every record read says it has none (``kinds.CampaignsStream``).
        self.summaries: dict[str, bool] = {}
        #: Dangling references, counted for the summary (the tap sets the streams').
        self.references = ReferenceTracker(())
        #: True once the API answered this run with a readable page: positive evidence that
        #: the key is one an account accepts (until then no state is written under it).
        self.key_accepted = False
        #: Full-table streams read whole but empty, whose ACTIVATE_VERSION waits for the end
        #: of the run: sent only when some stream listed a record (attack 10 #5).
        self.empty_reads: list[tuple[t.Any, int]] = []
        #: Each group's ``member_count`` as ``/v1/groups`` listed it in this run (whole
        #: numbers only): what derived memberships are checked against.
        self.member_counts: dict[int, int] = {}
        #: Group ids the users read in this run name (noted when a child of users is read).
        self.named_groups: set[int] = set()
        #: Campaigns (by stream) read in this run that say they have tests.
        self.campaigns_with_tests: dict[str, int] = {}
        self._throttled_since: float | None = None
        self._throttle_attempt = 0
        self._interruptible = 0
        self._signals = 0

    # -- stopping ---------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """True once the run was stopped."""
        return self.report.stopped

    def stop(self, kind: StopKind, reason: BaseException) -> None:
        """Stop the run: no further request is sent; the first reason is kept."""
        self.report.stop(kind, reason)
        self._wake.set()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the run is stopped meanwhile (then StopRunError)."""
        if seconds > 0 and self._wake.wait(seconds):
            raise StopRunError
        if self.stopped:
            raise StopRunError

    @contextlib.contextmanager
    def interruptible(self) -> t.Iterator[None]:
        """A stretch (a request, a wait) that a signal may cut short at once."""
        self._interruptible += 1
        try:
            yield
        finally:
            self._interruptible -= 1

    def handle_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: stop the run; unwind now when it is safe, else at the next request.

        A second signal exits at once.
        """
        name = signal.Signals(signum).name
        code = 128 + signum
        error = TerminationRequestedError(name, code)
        self._signals += 1
        self.stop(StopKind.SIGNAL, error)
        if self.budget.ledger is not None:  # another run's lock must not hold the exit
            self.budget.ledger.hurry(SIGNAL_LOCK_SECONDS)
        if self._signals > 1:
            raise SystemExit(code)
        if self._interruptible:
            raise error

    # -- requests ---------------------------------------------------------------------

    def before_request(self, stream: str) -> None:
        """Refuse when stopped or out of budget; otherwise pace and count the request."""
        if self.stopped:
            raise StopRunError
        reason = self.budget.exhausted()
        if reason:
            self.stop(StopKind.BUDGET, BudgetExhaustedError(reason))
            raise StopRunError
        self.pacer.acquire()
        if self.stopped:
            raise StopRunError
        self.budget.count()
        self.report.stream(stream).requests += 1

    def request_ended(self) -> None:
        """The request let through by :meth:`before_request` is over (or refunded).

        Answered, failed, or never sent: the pacer spaces the next requests from now (the
        server counted this one no later), and the shared ledger learns of it now, after
        any refund.
        """
        self.pacer.finished()
        self.budget.publish()

    def refund(self, stream: str) -> None:
        """A request counted by :meth:`before_request` never reached a server."""
        self.budget.refund()
        report = self.report.stream(stream)
        report.requests = max(0, report.requests - 1)

    def answered(self, status: int) -> None:
        """A response arrived; anything but a 429 ends a streak of them."""
        if status != 429:
            self.answered_requests += 1
            self._throttled_since = None
            self._throttle_attempt = 0
            self.budget.answered()

    def on_throttled(self, stream: str, path: str, retry_after: float | None) -> float:
        """A 429: how long to wait before trying again, or BudgetExhaustedError.

        The daily quota is taken as spent (a clean stop, recorded in the state) when the
        server asks for a longer wait than ``max_retry_wait_seconds``, when 429s went on for
        ``quota_wait_seconds``, or when the one probe of a run started under a standing
        "quota spent" verdict is refused.
        """
        settings = self.settings
        report = self.report.stream(stream)
        report.throttled += 1
        now = time.monotonic()
        if self._throttled_since is None:
            self._throttled_since = now
            self._throttle_attempt = 0
        persisted = now - self._throttled_since
        why = ""
        if self.budget.verdict_holds:
            why = "it still refuses requests"
        elif retry_after is not None and retry_after > settings.max_retry_wait_seconds:
            why = f"it asked to wait {retry_after / 3600:.1f} h"
        elif persisted >= settings.quota_wait_seconds:
            why = (
                f"it answered 429 for {persisted:.0f} s although this tap stayed within "
                f"{settings.requests_per_second:g}/s and {settings.requests_per_minute:g}/min"
            )
        if why:
            resets = self.budget.declare_quota_spent(retry_after)
            msg = (
                f"the API's daily quota ({self.budget.daily_limit} requests for this account) "
                f"is spent: {why}; it resets around {resets:%Y-%m-%d %H:%M} UTC"
            )
            raise BudgetExhaustedError(msg)
        cap = settings.max_retry_wait_seconds
        backoff = min(cap, 2.0**self._throttle_attempt)
        # the server's wait when it gives one, but never faster than backoff: a storm of
        # "Retry-After: 0" must not spend the day's quota in seconds
        wait = backoff if retry_after is None else max(retry_after, backoff)
        wait = min(wait, max(0.0, settings.quota_wait_seconds - persisted) + 0.5)
        self._throttle_attempt += 1
        report.retries += 1
        self.logger.warning(
            "%s: HTTP 429 on %s, retry %d in %.1f s", stream, path, self._throttle_attempt, wait
        )
        return wait

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    @property
    def total_requests(self) -> int:
        """Requests sent by all streams so far."""
        return sum(r.requests for r in self.report.streams.values())

    @property
    def total_records(self) -> int:
        """Records emitted by all streams so far."""
        return sum(r.records for r in self.report.streams.values())
