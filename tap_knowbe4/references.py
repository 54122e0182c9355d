"""Counting dangling references, for the run summary (records load as they are).

The API returns records that name other records which are gone: recipients and
enrollments of deleted users (``user`` null, or an id ``/v1/users`` no longer lists),
enrollments of content that was removed from the store. The tap loads them unchanged (the
warehouse decides what they mean) and counts them per stream: "12 recipients without a
user", "3 enrollments name a user that users does not list". Ids are compared at the end of
the run, once the referenced stream was read completely.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import typing as t

if t.TYPE_CHECKING:
    from tap_knowbe4.outcome import RunReport


@dataclasses.dataclass(frozen=True)
class Reference:
    """A field naming a record of another stream (``user.id`` -> ``users``)."""

    path: str
    target: str
    #: What the field names, for the summary ("user").
    noun: str
    #: What the records of the referencing stream are called ("recipients").
    records: str
    #: Count records where the field is null ("recipients without a user").
    count_nulls: bool = True

    @functools.cached_property
    def parts(self) -> tuple[str, ...]:
        """The names along :attr:`path`."""
        return tuple(self.path.split("."))

    def value(self, record: dict) -> t.Any:
        """The referenced id in ``record`` (None when any level is missing)."""
        value: t.Any = record
        for part in self.parts:
            value = value.get(part) if isinstance(value, dict) else None
        return value


class ReferenceTracker:
    """Counts, per referencing stream, null and dangling references."""

    def __init__(self, references: t.Iterable[tuple[str, Reference]]) -> None:
        """Track ``(stream, reference)`` pairs."""
        self.pairs = list(references)
        self.targets = frozenset(ref.target for _, ref in self.pairs)
        self._nulls: collections.Counter[tuple[str, Reference]] = collections.Counter()
        self._named: dict[tuple[str, Reference], collections.Counter[t.Any]] = (
            collections.defaultdict(collections.Counter)
        )
        self._ids: dict[str, set[t.Any]] = collections.defaultdict(set)
        self._slots: dict[str, tuple[t.Sequence[Reference], list]] = {}

    def observe(self, stream: str, references: t.Sequence[Reference], record: dict) -> None:
        """Note what ``record`` of ``stream`` refers to."""
        slots = self._slots.get(stream)
        if slots is None or slots[0] is not references:
            slots = self._slots[stream] = (references, [self._slot(stream, r) for r in references])
        for ref, first, rest, named in slots[1]:
            value = record.get(first)  # a record is a dict
            for part in rest:  # ``user.id``: ``id`` of ``user``
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                named[value] += 1
            elif ref.count_nulls:
                self._nulls[stream, ref] += 1

    def _slot(
        self, stream: str, ref: Reference
    ) -> tuple[Reference, str, tuple[str, ...], collections.Counter[t.Any]]:
        """What :meth:`observe` needs of ``ref``, looked up once per stream."""
        return ref, ref.parts[0], ref.parts[1:], self._named[stream, ref]

    def seen(self, stream: str, record: dict, keys: t.Sequence[str]) -> None:
        """Note the id of a record of a referenced stream."""
        if len(keys) == 1:
            self._ids[stream].add(record.get(keys[0]))

    def summarize(self, report: RunReport) -> None:
        """Add the counts to the stream reports.

        A reference dangles only when its target sent every one of its records in this run
        (not one finished by an interrupted run, not one that dropped records).
        """
        for (stream, ref), count in self._nulls.items():
            report.stream(stream).note(f"{ref.records} without a {ref.noun}", count)
        for (stream, ref), named in self._named.items():
            target = report.streams.get(ref.target)
            if target is None or not target.selected or not target.sent_whole_in_this_run:
                continue
            known = self._ids[ref.target]
            missing = sum(n for value, n in named.items() if value not in known)
            if missing:
                report.stream(stream).note(
                    f"{ref.records} name a {ref.noun} that {ref.target} does not list", missing
                )
