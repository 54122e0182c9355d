"""Progress on a real timer, and the summary at the end of a run.

:class:`ProgressLog` writes one line every ``progress_interval_seconds`` (30 by default)
from a background thread, whatever the streams are doing (at 50 requests a minute, a line
per request would be far apart): records so far, requests done of those this run is
expected to send, % done, records per second, an ETA and the quota left. The expected total
is this run's own plan (:class:`~tap_knowbe4.run_plan.RunPlan`, refined as the parents of
each fan-out are listed), so a first run has one too and an incremental run is not measured
against the full run before it. The ETA divides the requests left by the rate the tap paces
itself to (``requests_per_second``, ``requests_per_minute``), or by the rate seen so far
when that is slower (a slow server, 429s) or when pacing is off: requests that go out in
bursts of 50 a minute do not make it swing.

:func:`summary_table` and :func:`summary_records` render the run report for people and for
structured (JSON) logs.
"""

from __future__ import annotations

import threading
import typing as t

if t.TYPE_CHECKING:
    from tap_knowbe4.outcome import RunReport
    from tap_knowbe4.run import RunControl

PROGRESS_SECONDS = 30.0


class ProgressLog:
    """A daemon thread logging the run's progress every ``interval`` seconds."""

    def __init__(self, run: RunControl, interval: float = PROGRESS_SECONDS) -> None:
        """Report on ``run``."""
        self.run = run
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start logging (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop logging."""
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run.logger.info("Progress: %s", self.line())

    def expected_requests(self) -> int:
        """Requests this run is expected to send, from this run's plan so far."""
        run = self.run
        return run.plan.total(lambda name: run.report.stream(name).requests)

    def requests_per_second(self) -> float | None:
        """The rate the ETA assumes: the paced rate, or the rate seen when that is slower."""
        run = self.run
        settings = run.settings
        limits = [settings.requests_per_second, settings.requests_per_minute / 60]
        paced = min((limit for limit in limits if limit > 0), default=None)
        done, elapsed = run.total_requests, run.elapsed
        seen = done / elapsed if done and elapsed > 0 else None
        if paced is None or seen is None:
            return paced or seen
        return min(paced, seen)

    def line(self) -> str:
        """One line: records, requests of expected, % done, records/s, ETA, quota left."""
        run = self.run
        elapsed = max(run.elapsed, 1e-6)
        records, requests = run.total_records, run.total_requests
        expected = max(self.expected_requests(), requests, 1)
        parts = [
            f"{records:,} records",
            f"{requests:,} of ~{expected:,} requests ({requests / expected:.0%})",
            f"{records / elapsed:,.0f} records/s",
        ]
        rate = self.requests_per_second()
        if rate:
            parts.append(f"ETA {_duration((expected - requests) / rate)}")
        parts.append(f"{run.budget.remaining_today:,} requests left in today's quota")
        return ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def summary_table(report: RunReport) -> str:
    """A table of outcome, records, requests, retries and 429s per stream, plus totals."""
    header = ("stream", "outcome", "records", "requests", "retries", "429s")
    rows: list[tuple[str, ...]] = [header]
    selected = [r for r in report.streams.values() if r.selected or r.requests]
    for r in sorted(selected, key=lambda r: r.name):
        rows.append(
            (
                r.name,
                r.final.value,
                str(r.records),
                str(r.requests),
                str(r.retries),
                str(r.throttled),
            )
        )
    fields = ("records", "requests", "retries", "throttled")
    totals = [sum(getattr(r, f) for r in selected) for f in fields]
    rows.append(("total", "", *(str(v) for v in totals)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    for r in sorted(selected, key=lambda r: r.name):
        details = []
        if r.reason:
            details.append(r.reason)
        details.extend(f"{n:,} {text}" for text, n in sorted(r.anomalies.items()))
        if details:
            lines.append(f"  {r.name}: " + "; ".join(details))
    return "\n".join(lines)


def summary_records(report: RunReport) -> list[dict[str, t.Any]]:
    """One JSON-able record per selected stream (for structured logs)."""
    return [
        r.as_dict()
        for r in sorted(report.streams.values(), key=lambda r: r.name)
        if r.selected or r.requests
    ]
