"""What one run of the tap shares across streams: the pacer, counters and the stop flag."""

from __future__ import annotations

import collections
import dataclasses

from tap_knowbe4.limits import RequestPacer


class StopRunError(Exception):
    """Raised inside a request when the run has been stopped; streams end quietly."""


@dataclasses.dataclass
class StreamCounters:
    """Requests and outcomes of one stream in this run."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0


class RunControl:
    """One per tap process: every request of every stream passes through it."""

    def __init__(self, pacer: RequestPacer | None = None) -> None:
        """Create the run's shared state."""
        self.pacer = pacer or RequestPacer(0, 0)
        self.counters: dict[str, StreamCounters] = collections.defaultdict(StreamCounters)
        self.error: Exception | None = None

    @property
    def stopped(self) -> bool:
        """True once a fatal error stopped the run."""
        return self.error is not None

    def stop(self, error: Exception) -> None:
        """Stop the run: no further request is sent; the first error is kept."""
        if self.error is None:
            self.error = error

    def before_request(self, stream_name: str) -> None:
        """Pace, count, and refuse when the run has stopped."""
        if self.stopped:
            raise StopRunError
        self.pacer.acquire()
        self.counters[stream_name].requests += 1

    @property
    def total_requests(self) -> int:
        """Requests sent by all streams so far."""
        return sum(c.requests for c in self.counters.values())
