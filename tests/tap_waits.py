"""The waits an in-process tap run asks for, recorded: what a test bounds instead of a clock.

A run waits in two places: a 429 is waited out through ``RunControl.sleep``
(``tap_knowbe4/run.py``), and a failed request is retried after the SDK's backoff, whose wait
the tap's ``backoff_handler`` is told (``tap_knowbe4/client.py``). :func:`recorded_waits` wraps
both (the waits still happen) and lists the seconds each asked for, so that a test says how
long a run may wait by what the run decided, not by a clock that a loaded machine stretches.
"""

from __future__ import annotations

import typing as t

from tap_knowbe4.client import KnowBe4HTTPStream
from tap_knowbe4.run import RunControl

if t.TYPE_CHECKING:
    import pytest


def recorded_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds of every wait longer than zero the runs ask for while ``monkeypatch``
    holds (a 429's, then each retry's backoff), in order."""
    waits: list[float] = []
    sleep = RunControl.sleep
    handler = KnowBe4HTTPStream.backoff_handler

    def recorded_sleep(self: RunControl, seconds: float) -> None:
        if seconds > 0:
            waits.append(seconds)
        sleep(self, seconds)

    def recorded_handler(self: KnowBe4HTTPStream, details: t.Any) -> None:
        if details.get("wait", 0.0) > 0:
            waits.append(float(details["wait"]))
        handler(self, details)

    monkeypatch.setattr(RunControl, "sleep", recorded_sleep)
    monkeypatch.setattr(KnowBe4HTTPStream, "backoff_handler", recorded_handler)
    return waits
