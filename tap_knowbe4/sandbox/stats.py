"""Request counters behind ``GET /_sandbox/stats``."""

from __future__ import annotations

import threading
from typing import Any

from tap_knowbe4.sandbox.faults import RANDOM_KINDS


class Stats:
    """Counts API requests by endpoint template and status, 429s by limit, and faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self.requests = 0
            self.by_endpoint: dict[str, dict[str, int]] = {}
            self.by_status: dict[str, int] = {}
            self.rate_limited = {"per_second": 0, "per_minute": 0, "daily": 0, "lockout": 0}
            self.faults = dict.fromkeys((*RANDOM_KINDS, "injected"), 0)

    def record(self, template: str, status: str) -> None:
        """Count one answered (or dropped) API request."""
        with self._lock:
            self.requests += 1
            per = self.by_endpoint.setdefault(template, {})
            per[status] = per.get(status, 0) + 1
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def limited(self, limit: str) -> None:
        """Count a 429 caused by ``limit`` (per_second, per_minute, daily or lockout)."""
        with self._lock:
            self.rate_limited[limit] += 1

    def fault(self, kind: str) -> None:
        """Count a random fault by kind, or a scheduled one as ``injected``."""
        with self._lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1

    def snapshot(self, quota: dict[str, object], clock: str) -> dict[str, Any]:
        """The stats document (deep copies; safe to mutate)."""
        with self._lock:
            return {
                "requests": self.requests,
                "by_endpoint": {
                    k: dict(sorted(v.items())) for k, v in sorted(self.by_endpoint.items())
                },
                "by_status": dict(sorted(self.by_status.items())),
                "rate_limited": dict(self.rate_limited),
                "faults": dict(self.faults),
                "quota": quota,
                "clock": clock,
            }
