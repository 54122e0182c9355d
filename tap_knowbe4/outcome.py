"""How each stream (and each parent of a fan-out) ended: a fact, not a flag.

Every stream of a run ends with one :class:`Outcome`, and every parent of a fan-out
(a phishing test for its recipients, a user for its risk history) too. What the tap does
at the end is derived from these facts alone:

* ACTIVATE_VERSION only for a full-table stream that is ``complete`` with every record
  sent in its read, which may span runs under one table version
  (:attr:`StreamReport.emitted_everything`);
* a bookmark or a "settled" mark only for a parent that is ``complete``;
* the exit code from the worst outcome (:meth:`RunReport.exit_code`);
* the run summary from all of them.
"""

from __future__ import annotations

import dataclasses
import enum
import typing as t


class Outcome(enum.Enum):
    """How a stream, or one parent of a fan-out, ended."""

    #: Every record was read to the end.
    COMPLETE = "complete"
    #: Nothing needed reading: the state says it cannot have changed (settled parents).
    UNCHANGED = "unchanged"
    #: Some records were read, then the run stopped (budget, quota, signal, test limit).
    PARTIAL = "partial"
    #: Not read at all: forbidden (403), vanished (404), or the run stopped first. A
    #: vanished parent does not make its stream incomplete (there is nothing left to read).
    SKIPPED = "skipped"
    #: An error ended it (retries exhausted, an unreadable answer).
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """True when nothing is left to read."""
        return self in (Outcome.COMPLETE, Outcome.UNCHANGED)


#: Worst first: a stream is as bad as its worst parent.
_SEVERITY = {
    Outcome.FAILED: 4,
    Outcome.PARTIAL: 3,
    Outcome.SKIPPED: 2,
    Outcome.UNCHANGED: 1,
    Outcome.COMPLETE: 0,
}


def worst(*outcomes: Outcome) -> Outcome:
    """The most severe of ``outcomes`` (complete when there are none)."""
    return max(outcomes, key=_SEVERITY.__getitem__, default=Outcome.COMPLETE)


@dataclasses.dataclass
class StreamReport:
    """What happened to one stream in this run."""

    name: str
    selected: bool = True
    #: The stream's own reading (the list, or every fan-out parent taken together).
    outcome: Outcome | None = None
    reason: str = ""
    records: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    #: Parents of a fan-out by outcome (child streams only).
    parents: dict[Outcome, int] = dataclasses.field(default_factory=dict)
    #: Parents an interrupted run had finished (not read again in this one).
    parents_resumed: int = 0
    #: Records dropped because their key could not be read, and other anomalies, by text.
    anomalies: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Records read but not sent (their primary key could not be read).
    dropped: int = 0
    #: Parents whose children answered none, twice, while the parent's own fields say it
    #: has some (``KnowBe4Stream.children_missing``): their rows may exist upstream.
    contradicted: int = 0
    #: Finished by the interrupted run this one resumes: none of its records are sent now.
    carried: bool = False
    #: Its list was read from where an interrupted run stopped, not from its first page.
    resumed_list: bool = False
    #: This run continues a read an interrupted run began: its rows carry that read's
    #: table version, so rows the earlier runs sent count as sent in this read.
    continued: bool = False
    #: True once ACTIVATE_VERSION was sent for this stream.
    activated: bool = False
    #: True when the API key may not read the stream (HTTP 403).
    forbidden: bool = False

    def parent_ended(self, outcome: Outcome) -> None:
        """Count one fan-out parent's outcome."""
        self.parents[outcome] = self.parents.get(outcome, 0) + 1

    def note(self, anomaly: str, count: int = 1) -> None:
        """Count an anomaly (``"recipients without a user"``) for the summary."""
        self.anomalies[anomaly] = self.anomalies.get(anomaly, 0) + count

    def end(self, outcome: Outcome, reason: str = "") -> None:
        """Record how the stream ended; a worse outcome is never overwritten by a better."""
        if self.outcome is None or worst(self.outcome, outcome) is outcome:
            self.outcome = outcome
            if reason or not self.reason:
                self.reason = reason

    @property
    def final(self) -> Outcome:
        """The stream's outcome, its parents' included (skipped when it never ran)."""
        own = self.outcome if self.outcome is not None else Outcome.SKIPPED
        unfinished = [o for o in self.parents if o in (Outcome.PARTIAL, Outcome.FAILED)]
        return worst(own, *unfinished)

    @property
    def clean_so_far(self) -> bool:
        """Every record of the read (which may span runs) was sent, or will be when it ends.

        A parent whose children were not re-read (unchanged, vanished), a record dropped
        because its key could not be read, or rows an earlier run sent under another table
        version (a resumed list or fan-out that does not continue its read) mean some rows
        are not part of the read: a version-aware target must not delete them.
        """
        tainted = sum(
            n for o, n in self.parents.items() if o in (Outcome.UNCHANGED, Outcome.SKIPPED)
        )
        tainted += self.dropped + self.contradicted
        if not self.continued:
            tainted += self.parents_resumed + self.resumed_list
        return not tainted

    @property
    def emitted_everything(self) -> bool:
        """Complete, and every record of the stream was sent in its read (:attr:`clean_so_far`).

        A stream the interrupted run finished sends nothing now: references to its records
        cannot be checked and there is nothing to activate.
        """
        return self.final is Outcome.COMPLETE and self.clean_so_far and not self.carried

    @property
    def sent_whole_in_this_run(self) -> bool:
        """Complete, and every record of the stream was sent by this very run.

        Then every id it has was seen, and references to it can be checked.
        """
        not_sent = sum(n for o, n in self.parents.items() if o is not Outcome.COMPLETE)
        not_sent += self.parents_resumed + self.resumed_list + self.dropped + self.contradicted
        return self.final is Outcome.COMPLETE and not not_sent and not self.carried

    def as_dict(self) -> dict[str, t.Any]:
        """A JSON-able record for structured logs."""
        return {
            "stream": self.name,
            "outcome": self.final.value,
            "reason": self.reason,
            "records": self.records,
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "parents": {o.value: n for o, n in sorted(self.parents.items(), key=_by_value)},
            "parents_resumed": self.parents_resumed,
            "anomalies": dict(sorted(self.anomalies.items())),
            "activated_version": self.activated,
        }


def _by_value(item: tuple[Outcome, int]) -> str:
    return item[0].value


class StopKind(enum.Enum):
    """Why a run stopped before its end, when it did."""

    #: The daily budget, the API's quota or max_requests_per_run: a clean stop.
    BUDGET = "budget"
    #: SIGTERM or SIGINT.
    SIGNAL = "signal"
    #: An error that makes every further request pointless (a rejected key).
    ERROR = "error"


@dataclasses.dataclass
class RunReport:
    """Every stream's report, and why the run stopped (if it did)."""

    streams: dict[str, StreamReport] = dataclasses.field(default_factory=dict)
    stop_kind: StopKind | None = None
    stop_reason: BaseException | None = None
    #: Streams whose listing is under way, innermost last (a fan-out child above its
    #: parent). A listing left here when the run ended was cut short by something outside
    #: the reading: a stream map, the output.
    listings: list[str] = dataclasses.field(default_factory=list)

    def stream(self, name: str) -> StreamReport:
        """The report of ``name`` (created on first use)."""
        report = self.streams.get(name)
        if report is None:
            report = self.streams[name] = StreamReport(name)
        return report

    def stop(self, kind: StopKind, reason: BaseException) -> None:
        """Stop the run; the first reason is kept."""
        if self.stop_kind is None:
            self.stop_kind, self.stop_reason = kind, reason

    @property
    def stopped(self) -> bool:
        """True once the run was stopped."""
        return self.stop_kind is not None

    @property
    def listed_anything(self) -> bool:
        """True when some stream of the run listed a record: the API sees the account.

        A run whose every list answered empty is no evidence that the account is empty: a
        wrong region may answer empty lists with 200 (the reference), as may a proxy. Its
        empty reads delete nothing (attack 10 #5): no ACTIVATE_VERSION, no Airbyte COMPLETE.
        """
        return any(report.records for report in self.streams.values())

    def interrupted(self, exc: BaseException) -> list[str]:
        """``exc`` ended the run from outside any reading: settle every stream it cut short.

        A stream whose listing was under way failed; a selected stream that had not begun
        is "not started". Returns the names of the streams cut short, children first.
        """
        cut = list(dict.fromkeys(reversed(self.listings)))
        self.listings.clear()
        for name in cut:
            reason = f"stopped by {type(exc).__name__} while writing records"
            self.stream(name).end(Outcome.FAILED, reason)
        for report in self.streams.values():
            if report.selected and report.outcome is None and not report.parents:
                report.end(Outcome.SKIPPED, "not started: the run had stopped")
        return cut

    def exit_code(self, *, fail_on_budget: bool) -> int:
        """0 when the run may be called a success, else the code to exit with.

        A clean budget stop is a success unless ``fail_on_budget``; a signal is 143
        (128 + SIGTERM) or 130 (SIGINT); a failed or partial stream, a stopping error, or a
        selected stream the key may not read (403: the other streams are still read) is 1.
        """
        if self.stop_kind is StopKind.SIGNAL:
            return int(getattr(self.stop_reason, "exit_code", 143))
        if self.stop_kind is StopKind.ERROR:
            return 1
        selected = [r for r in self.streams.values() if r.selected]
        if any(r.final is Outcome.FAILED for r in selected):
            return 1
        if self.stop_kind is StopKind.BUDGET:
            return 1 if fail_on_budget else 0
        if any(r.final is Outcome.PARTIAL or r.forbidden for r in selected):
            return 1
        return 0
