"""What this run is expected to send: the total the progress line counts towards.

``--plan`` (:mod:`tap_knowbe4.plan`) reads every parent list first and prices each fan-out
from it. A sync may not read the lists twice, so :class:`RunPlan` prices the fan-outs as the
sync lists their parents, page by page, with the same pricing (``planned_requests``: one
request per owner for risk histories, the pages of each test that can still change for
recipients, nothing for what the state or an interrupted run already settled). Each stream's
expected requests are then:

- a list (no parent) whose last page was seen: the requests it sent;
- a list not finished yet: what it sent last run (its page count hardly changes), or one page
  more than it has sent so far, whichever is more;
- a fan-out whose parents were all listed: what the plan priced for them, until its parent's
  listing is over (children are read as their parents are listed): then what it sent;
- a fan-out whose parents are still being listed: what is priced so far, scaled up to the
  number of parents expected when that number is known (users: the account's licensed seats,
  on a first run); otherwise what is priced so far.

A stream never expects fewer requests than it already sent, so the total is never below the
requests done, and it equals them when the run ends. The previous run's figures are used
only for the page count of lists not yet read, never for fan-outs (a full first run's
thousand recipient requests say nothing about the incremental run after it).
"""

from __future__ import annotations

import math
import typing as t


class RunPlan:
    """A run's expected requests per stream, refined as lists are read."""

    def __init__(self, last_run: t.Mapping[str, int] | None = None) -> None:
        """Plan a run; ``last_run`` holds the previous run's requests per stream."""
        self.last_run = dict(last_run or {})
        #: The streams read in this run: name -> parent's name (None for lists).
        self.streams: dict[str, str | None] = {}
        #: Requests priced for the children of the parents listed so far.
        self.priced: dict[str, int] = {}
        #: Parents listed so far, per parent stream.
        self.parents_listed: dict[str, int] = {}
        #: Records a list is expected to hold, when something says so (users: seats).
        self.expected_records: dict[str, int] = {}
        #: Lists whose last page was seen (a short page: more is not expected).
        self.ended: set[str] = set()
        #: Lists that are over, their fan-outs included (depth first: children are read
        #: as their parents are listed).
        self.over: set[str] = set()

    def track(self, streams: t.Iterable[tuple[str, str | None]]) -> None:
        """The streams this run reads, each with its parent's name (or None)."""
        self.streams.update(streams)

    def page_listed(
        self, stream: str, parents: int, costs: t.Mapping[str, int], *, last: bool
    ) -> None:
        """A page of ``stream`` was read: ``parents`` records, their children's ``costs``."""
        self.parents_listed[stream] = self.parents_listed.get(stream, 0) + parents
        for child, cost in costs.items():
            self.priced[child] = self.priced.get(child, 0) + cost
        if last:
            self.ended.add(stream)

    def listing_ended(self, stream: str) -> None:
        """``stream``'s listing is over (to its end, or stopped), its fan-outs with it."""
        self.ended.add(stream)
        self.over.add(stream)

    def expect_records(self, stream: str, count: int) -> None:
        """``stream``'s list is expected to hold about ``count`` records."""
        self.expected_records[stream] = count

    def expected(self, stream: str, sent: int) -> int:
        """Requests ``stream`` is expected to send in this run, having sent ``sent``."""
        parent = self.streams.get(stream)
        if parent is None:
            if stream in self.ended:
                return sent
            return max(sent + 1, self.last_run.get(stream, 1))
        if parent in self.over:
            return sent
        priced = self.priced.get(stream, 0)
        listed = self.parents_listed.get(parent, 0)
        expected = self.expected_records.get(parent)
        if parent not in self.ended and listed and expected and expected > listed:
            priced = math.ceil(priced * expected / listed)
        return max(sent, priced)

    def total(self, sent: t.Callable[[str], int]) -> int:
        """Requests this run is expected to send; ``sent(stream)`` says how many it has."""
        return sum(self.expected(name, sent(name)) for name in self.streams)
