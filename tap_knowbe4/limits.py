"""Pacing shared by every stream and every retry: requests per second and per minute.

The Reporting API allows 4 requests/second and 50/minute (reference §5) and answers 429
past either. One :class:`RequestPacer` per process spaces requests out so that no rolling
one-second or sixty-second window ever holds more than the configured number.
"""

from __future__ import annotations

import collections
import threading
import time
import typing as t

# Windows a little longer than a second and a minute absorb network jitter between the
# moment a request leaves here and the moment the server counts it.
SECOND_WINDOW = 1.05
MINUTE_WINDOW = 60.5


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
        """Create a pacer; ``clock`` and ``sleep`` are injectable for tests."""
        self.per_second = int(per_second or 0)
        self.per_minute = int(per_minute or 0)
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    @property
    def enabled(self) -> bool:
        """False when both limits are off."""
        return bool(self.per_second or self.per_minute)

    def _delay(self, now: float) -> float:
        sent = self._sent
        while sent and now - sent[0] >= MINUTE_WINDOW:
            sent.popleft()
        delay = 0.0
        if self.per_minute and len(sent) >= self.per_minute:
            delay = sent[-self.per_minute] + MINUTE_WINDOW - now
        if self.per_second and len(sent) >= self.per_second:
            delay = max(delay, sent[-self.per_second] + SECOND_WINDOW - now)
        return delay

    def acquire(self) -> float:
        """Wait until a request may be sent, record it, and return the seconds waited."""
        if not self.enabled:
            return 0.0
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._sent.append(now)
                    break
                self._sleep(delay)
                waited += delay
        self.waited_seconds += waited
        return waited
