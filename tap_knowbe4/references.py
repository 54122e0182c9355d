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
        #: Per reference, how many records named each id (a plain dict: a ``Counter``'s
        #: ``+=`` costs twice as much per record).
        self._named: dict[tuple[str, Reference], dict[t.Any, int]] = {}
        self._ids: dict[str, set[t.Any]] = collections.defaultdict(set)
        self._observers: dict[str, tuple[t.Sequence[Reference], t.Callable[[dict], None]]] = {}

    def observe(self, stream: str, references: t.Sequence[Reference], record: dict) -> None:
        """Note what ``record`` of ``stream`` refers to."""
        self.observer(stream, references)(record)

    def observer(self, stream: str, references: t.Sequence[Reference]) -> t.Callable[[dict], None]:
        """What :meth:`observe` does for ``stream``, as one function of the record."""
        observer = self._observers.get(stream)
        if observer is None or observer[0] is not references:
            observer = self._observers[stream] = (references, self._observer(stream, references))
        return observer[1]

    def _observer(self, stream: str, references: t.Sequence[Reference]) -> t.Callable[[dict], None]:
        """One function noting what a record of ``stream`` refers to: compiled once per stream.

        For each reference in turn: the value at its path (None when a level is missing or
        not an object), counted under the id it names, or as a null where nulls count. The
        paths are the tap's own (``Reference.path``), written as literals.
        """
        scope: dict[str, t.Any] = {"nulls": self._nulls}
        lines = ["def observe(record):"]
        for number, ref in enumerate(references):
            named = self._named.setdefault((stream, ref), {})
            scope[f"named{number}"], scope[f"get{number}"] = named, named.get
            scope[f"key{number}"] = (stream, ref)
            first, *rest = ref.parts
            lines.append(f"    value = record.get({first!r})")  # a record is a dict
            for part in rest:  # ``user.id``: ``id`` of ``user``
                lines.append(
                    f"    value = value.get({part!r}) if isinstance(value, dict) else None"
                )
            lines += [
                "    if value is not None:",
                f"        named{number}[value] = get{number}(value, 0) + 1",
            ]
            if ref.count_nulls:
                lines += ["    else:", f"        nulls[key{number}] += 1"]
        lines.append("    return None")
        exec("\n".join(lines), scope)  # noqa: S102 (the paths are the tap's, as literals)
        return t.cast("t.Callable[[dict], None]", scope["observe"])

    def seen(self, stream: str, record: dict, keys: t.Sequence[str]) -> None:
        """Note the id of a record of a referenced stream."""
        if len(keys) == 1:
            self._ids[stream].add(record.get(keys[0]))

    def seer(self, stream: str, keys: t.Sequence[str]) -> t.Callable[[dict], None] | None:
        """What :meth:`seen` does for ``stream``, as one function of the record (None: nothing).

        Only the streams a reference names keep their ids, and only one-field keys.
        """
        if stream not in self.targets or len(keys) != 1:
            return None
        add, (field,) = self._ids[stream].add, keys
        return lambda record: add(record.get(field))

    def naming(self, target: str) -> tuple[int, str]:
        """How many records of this run name a record of ``target``, and which ("3 enrollments")."""
        counts = {
            ref.records: sum(named.values())
            for (_, ref), named in self._named.items()
            if ref.target == target and named
        }
        text = ", ".join(f"{n:,} {records}" for records, n in sorted(counts.items()))
        return sum(counts.values()), text

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
