"""A run never starts in the last seconds of a "quota spent" verdict.

A 429 whose ``Retry-After`` (1 s, 30 s: drawn) exceeds ``max_retry_wait_seconds`` makes the tap
record that the daily quota is spent until then, in the state and the shared ledger. A run
that starts while that verdict holds sends one request as a probe and stops if it is refused;
a run that starts after it retries as usual. Which of the two a run was depended on how fast
the box was when the verdict ends a second or so after the run starts (a 1 s ``Retry-After``
nearly always did).

Made exact here: before each run, a verdict that ends within :data:`SOON` seconds (in the state
handed or in the ledger file, whatever the tap will read) is waited out. A verdict ending later
holds for the run's first request (sent within a second of its start), and only the first
request reads it (answered, it is cleared; refused, the run stops). Real runs are minutes
apart, so a short verdict has passed by the next run, as here.
"""

from __future__ import annotations

import json
import pathlib
import time
import typing as t

from tap_knowbe4.sandbox.times import parse_instant

#: A verdict ending within this many seconds of a run's start is waited out.
SOON = 5.0
#: Margin past the verdict's end (the tap compares it to its own clock, later).
MARGIN = 0.05


def resets_in(value: object) -> t.Iterator[float]:
    """Every ``quota_resets_at`` instant anywhere in a JSON value (epoch seconds)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "quota_resets_at" and isinstance(item, str):
                try:
                    yield float(parse_instant(item))
                except (ValueError, TypeError):
                    continue
            else:
                yield from resets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from resets_in(item)


def ledger_value(path: pathlib.Path) -> object:
    """The ledger file's JSON (None when there is none, or it is not JSON)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def wait_out_short_verdicts(
    state: object,
    ledger: pathlib.Path,
    now: t.Callable[[], float] = time.time,
    sleep: t.Callable[[float], None] = time.sleep,
) -> float:
    """Sleep past every verdict that ends within :data:`SOON` seconds; the seconds slept."""
    current = now()
    soon = [
        at
        for at in (*resets_in(state), *resets_in(ledger_value(ledger)))
        if current < at < current + SOON
    ]
    if not soon:
        return 0.0
    left = max(soon) + MARGIN - current
    sleep(left)
    return left
