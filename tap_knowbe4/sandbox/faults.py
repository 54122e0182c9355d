"""Faults on demand: a seeded random share of failing requests, and scheduled one-off faults."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tap_knowbe4.sandbox.rand import SALT_FAULTS, mix, unit

RANDOM_KINDS = ("500", "502", "503", "drop", "truncate")
KINDS = (
    "429",
    "500",
    "502",
    "503",
    "drop",
    "truncate",
    "slow",
    "401",
    "403",
    "404",
    "forget-cursor",
)
#: Faults applied to an answer, not a request: ``forget-cursor`` takes the next cursor out of the
#: next 200 under its path that names one (the page stays; it names nothing, as a proxy
#: stripping ``X-Next-Cursor`` or a server's slip would send it). Requests that name no cursor
#: do not consume it.
ON_ANSWER = ("forget-cursor",)
#: Faults applied to a request before it is answered (every other kind).
ON_REQUEST = tuple(kind for kind in KINDS if kind not in ON_ANSWER)


@dataclass
class ScheduledFault:
    """The next ``remaining`` API requests under ``path_prefix`` (any if ``None``) get ``kind``."""

    kind: str
    path_prefix: str | None
    remaining: int
    retry_after: float | None

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly view."""
        return {
            "kind": self.kind,
            "path_prefix": self.path_prefix,
            "count": self.remaining,
            "retry_after": self.retry_after,
        }


class Faults:
    """Decides which requests fail. Random faults are a pure function of (seed, request number)."""

    def __init__(self, seed: int, rate: float) -> None:
        self.seed = seed
        self.rate = rate
        self._lock = threading.Lock()
        self._scheduled: list[ScheduledFault] = []

    def inject(
        self,
        kind: str,
        path_prefix: str | None = None,
        count: int = 1,
        retry_after: float | None = None,
    ) -> ScheduledFault:
        """Schedule ``kind`` for the next ``count`` matching API requests."""
        kind = str(kind)
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        if int(count) < 1:
            raise ValueError("count must be at least 1")
        if retry_after is not None and float(retry_after) < 0:
            raise ValueError("retry_after must not be negative")
        fault = ScheduledFault(
            kind, path_prefix, int(count), None if retry_after is None else float(retry_after)
        )
        with self._lock:
            self._scheduled.append(fault)
        return fault

    def take(self, path: str, kinds: tuple[str, ...] = ON_REQUEST) -> ScheduledFault | None:
        """Consume one scheduled fault of ``kinds`` matching ``path`` (oldest first), if any."""
        with self._lock:
            if not self._scheduled:
                return None
            for fault in self._scheduled:
                if fault.kind not in kinds:
                    continue
                if fault.path_prefix is None or path.startswith(fault.path_prefix):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._scheduled.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, object]]:
        """Scheduled faults not yet consumed."""
        with self._lock:
            return [f.to_dict() for f in self._scheduled]

    def clear(self) -> None:
        """Drop every scheduled fault."""
        with self._lock:
            self._scheduled.clear()

    def random_fault(self, request_number: int) -> str | None:
        """The random fault (if any) for the n-th API request."""
        if self.rate <= 0.0 or unit(self.seed, SALT_FAULTS, request_number) >= self.rate:
            return None
        return RANDOM_KINDS[mix(self.seed, SALT_FAULTS, request_number, 1) % len(RANDOM_KINDS)]
