"""Pacing shared by every stream and every retry: requests per second and per minute.

The Reporting API allows 4 requests/second and 50/minute (reference §5) and answers 429
past either. One :class:`RequestPacer` per process spaces requests so that no rolling
window holds more than the configured rate. A rate below 1 means one request per 1/rate
windows (0.5 per second is one request in any two seconds); a fractional rate above 1 is
rounded down (2.5 per second is at most two in any second), so no window ever holds more.

A request's slot starts when it is let through and moves to when it ended
(:meth:`RequestPacer.finished`): the server counted it at some moment in between, so spacing
the next requests from its end keeps every server-side window within the rate however long
the request took to leave this process or to reach the server (a request delayed on its way,
then a fast one, must not land two in one of the server's windows).
"""

from __future__ import annotations

import collections
import math
import threading
import time
import typing as t

# Windows a little longer than a second and a minute absorb network jitter between the
# moment a request leaves here and the moment the server counts it.
SECOND_WINDOW = 1.05
MINUTE_WINDOW = 60.5


def _window(rate: float, span: float) -> tuple[int, float] | None:
    """``(n, seconds)``: at most ``n`` requests in any ``seconds``, for ``rate`` per ``span``."""
    if not rate or rate <= 0:
        return None
    if rate < 1:
        return 1, span / rate
    return math.floor(rate), span


class RequestPacer:
    """Blocks until one more request fits the per-second and per-minute limits (0 = off)."""

    def __init__(
        self,
        per_second: float = 4,
        per_minute: float = 50,
        *,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        """Create a pacer; ``clock`` and ``sleep`` are injectable (tests, interruptions)."""
        self._windows = [
            w for w in (_window(per_second, SECOND_WINDOW), _window(per_minute, MINUTE_WINDOW)) if w
        ]
        self._longest = max((seconds for _, seconds in self._windows), default=0.0)
        self._clock = clock
        self.sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    @property
    def enabled(self) -> bool:
        """False when both limits are off."""
        return bool(self._windows)

    def _delay(self, now: float) -> float:
        sent = self._sent
        while sent and now - sent[0] >= self._longest:
            sent.popleft()
        delay = 0.0
        for count, seconds in self._windows:
            if len(sent) >= count:
                delay = max(delay, sent[-count] + seconds - now)
        return delay

    def acquire(self) -> float:
        """Wait until a request may be sent, record it, and return the seconds waited."""
        if not self._windows:
            return 0.0
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._sent.append(now)
                    break
                self.sleep(delay)
                waited += delay
        self.waited_seconds += waited
        return waited

    def finished(self) -> None:
        """The request last let through has ended (answered, failed, or never sent).

        Its slot moves to now: the server counted it no later than this, so the next
        requests are spaced from an instant at or after the server's.
        """
        if not self._windows:
            return
        with self._lock:
            if self._sent:
                self._sent[-1] = max(self._sent[-1], self._clock())
