"""The tap's state: one typed, versioned object, validated when loaded, written in one place.

The Singer state the tap emits has two parts::

    {
      "tap_knowbe4": {           # everything the tap decides with: TapState.dump()
        "version": 3,
        "account": "api.eu.knowbe4.com|9f86d081884c7d65",   # API address | key fingerprint
        "budget": {"window_start": "2026-11-01T08:00:00Z", "used": 66,
                   "quota_spent_at": null, "quota_resets_at": null},
        "interrupted": null | {"streams_done": ["users", ...],
                               "parents_done": {"phishing_security_test_recipients": 9123},
                               ..., "seal": "5be3a1c29c0f7e42"},
        "streams": {
          "phishing_security_test_recipients": {"settled": {"9001": 3920214, ...}},
          "group_risk_score_history": {"dates": {"2026-11-01": "3-14,18"}},
          "account_risk_score_history@5d1c0a7e2b9f4c31": {...},  # under a shape: part_key
          ...
        },
        "last_run": {"requests": 66, "records": 18211, "seconds": 21.4,
                     "requests_by_stream": {...}},
        "shapes": {"groups": "5d1c0a7e2b9f4c31", "users": "", ...}   # maps, flattening,
                                                                     # fields left out
        "accounts": {"api.eu.knowbe4.com|9f86d081884c7d65": true}   # who wrote into it
      }
    }

:meth:`TapState.load` applies a state only to the account it describes: ``account`` is the
API address and a fingerprint of the key (never the key), as the budget ledger keys accounts.
A state written for another key, ``api_url`` or ``region``, and a state that does not say
(written by a release before version 3), is not applied, with one warning: applying a
stranger's position, bookmarks or settled tests would skip data, while ignoring our own
costs one full read. The record of an interrupted sync is sealed (:func:`seal_of`): one
that two states were merged into (Meltano's merge strategies write a new state onto the
stored one key by key, so a position the newer run dropped, or another account's run wrote,
survives) is not applied, with one warning, and the interrupted sync starts over. A merge
keeps every key, so ``accounts`` (the accounts whose runs wrote into the state, as keys)
names two accounts after another account's state was merged in: then neither its
bookmarks, settled tests nor positions are applied (another account's owner ids would skip
this one's rows). Within a state that is ours, whatever is implausible is repaired or
ignored with a warning: a budget window in the future, negative counts, values of the
wrong type, dates that do not parse or lie after tomorrow. State is never trusted more than
the server's own answers are. The SDK's own ``bookmarks`` are never read. What it keeps
for a stream whose output was shaped otherwise when it was written (another ``__alias__``,
stream map, flattening or field selection: ``shapes.py``) is not applied either.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import re
import time
import typing as t

#: Version 3 carries the account's identity; earlier states are not applied (see above).
VERSION = 3
STATE_KEY = "tap_knowbe4"
#: The key of a part's :func:`seal_of`.
SEAL = "seal"
#: A daily quota window: nothing the state says may reach further than this.
WINDOW = dt.timedelta(hours=24)
#: Slack for clocks that disagree by a little.
CLOCK_SLACK = dt.timedelta(minutes=5)
#: More requests than any account's daily quota (2,000 + seats) could allow.
MOST_PLAUSIBLE_USED = 10_000_000
#: More risk-history owners (users and groups) than any account has.
MOST_PLAUSIBLE_OWNERS = 1_000_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

logger = logging.getLogger("tap-knowbe4.state")


def account_identity(base_url: str, api_key: str) -> str:
    """``address|<16 hex>``: the API address (host, port and path) and a key fingerprint.

    The fingerprint is the start of the key's SHA-256: it tells two keys apart and cannot
    be turned back into the key.
    """
    address = base_url.split("://", 1)[-1].rstrip("/")
    return f"{address}|{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"


def seal_of(account: str | None, part: t.Mapping[str, t.Any]) -> str:
    """16 hex digits that bind ``part`` (without its ``seal``) to ``account``.

    A part is applied only when its seal is the one this tap computes for it: a part that
    two states were merged into (Meltano's ``--state-strategy merge``, and ``--full-refresh``,
    merge the new state onto the stored one key by key, so keys the new state no longer
    has survive from the old one), or that was edited, no longer matches.
    """
    body = {k: _entries(v) if k in KEYED_PARTS else v for k, v in part.items() if k != SEAL}
    text = json.dumps([account, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The parts of an interrupted-sync record keyed by stream. A key a newer record no longer
#: has is written as null (see :meth:`TapState.dump`): Meltano's merge strategy keeps every
#: key the new state leaves out, so a dropped position would survive the merge.
KEYED_PARTS = ("parents_done", "lists", "versions", "parents_of")


def _entries(part: object) -> object:
    """``part`` without its null entries (keys a record dropped; see :data:`KEYED_PARTS`)."""
    if not isinstance(part, dict):
        return part
    return {k: v for k, v in part.items() if v is not None}


def written_keys(raw: object) -> dict[str, set[str]]:
    """The stream keys of a stored interrupted-sync record's keyed parts, nulls included."""
    if not isinstance(raw, dict):
        return {}
    return {
        part: set(map(str, raw[part])) for part in KEYED_PARTS if isinstance(raw.get(part), dict)
    }


def sealed(account: str | None, part: dict[str, t.Any]) -> dict[str, t.Any]:
    """``part`` with its :func:`seal_of`."""
    return {**part, SEAL: seal_of(account, part)}


def unsealed(account: str | None, part: object) -> bool:
    """True when ``part`` carries a seal that is not its own (see :func:`seal_of`).

    A part with no seal (written by hand, or by a release before seals) is not refused.
    """
    return isinstance(part, dict) and SEAL in part and part[SEAL] != seal_of(account, part)


def utcnow() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


def iso(value: dt.datetime | None) -> str | None:
    """``2026-11-01T08:00:00Z`` (None stays None)."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def aware_instant(value: object) -> dt.datetime | None:
    """An aware datetime from ISO 8601 text, in its own offset (UTC when it names none).

    None when it does not parse, or has no UTC form: the edges of the calendar (year 1 at
    +01:00, 9999-12-31 at -05:00) cannot be converted, and everything downstream converts.
    """
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        parsed.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        return None
    return parsed


def parse_instant(value: object) -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601 text, or None (see :func:`aware_instant`)."""
    parsed = aware_instant(value)
    return None if parsed is None else parsed.astimezone(dt.timezone.utc)


def plausible_date(value: object, *, now: dt.datetime | None = None) -> str | None:
    """``YYYY-MM-DD`` when ``value`` is a real date no later than tomorrow, else None."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    tomorrow = ((now or utcnow()) + dt.timedelta(days=1)).date()
    if day > tomorrow or day.year < 1990:
        return None
    return value


# -- compact sets of owner ids ---------------------------------------------------------


def ranges_of(ids: t.Iterable[int]) -> str:
    """``"3-14,18"`` for ``{3, 4, ..., 14, 18}``."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    start = prev = None
    for value in ordered:
        if start is None:
            start = prev = value
        elif value == t.cast("int", prev) + 1:
            prev = value
        else:
            parts.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = value
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else str(start))
    return ",".join(parts)


def _is_id(text: str) -> bool:
    """ASCII digits, at most 20 (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    return text.isascii() and text.isdigit() and len(text) <= 20


def ids_of(text: object, limit: int = MOST_PLAUSIBLE_OWNERS) -> list[int] | None:
    """The ids of a :func:`ranges_of` string, or None when it is malformed or too large."""
    if not isinstance(text, str):
        return None
    ids: list[int] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        if not _is_id(low) or (high and not _is_id(high)):
            return None
        first, last = int(low), int(high or low)
        if last < first or len(ids) + last - first + 1 > limit:
            return None
        ids.extend(range(first, last + 1))
    return ids


# -- the parts -------------------------------------------------------------------------


@dataclasses.dataclass
class BudgetState:
    """Requests counted in the current 24-hour window, and the server's own verdict."""

    window_start: dt.datetime | None = None
    used: int = 0
    #: When the server last declared the daily quota spent (persistent 429s).
    quota_spent_at: dt.datetime | None = None
    #: When that quota is expected to reset.
    quota_resets_at: dt.datetime | None = None

    def dump(self) -> dict[str, t.Any]:
        """JSON-able form."""
        return {
            "window_start": iso(self.window_start),
            "used": self.used,
            "quota_spent_at": iso(self.quota_spent_at),
            "quota_resets_at": iso(self.quota_resets_at),
        }

    @classmethod
    def load(cls, raw: object, now: dt.datetime, warn: t.Callable[[str], None]) -> BudgetState:
        """Read and check a dumped budget; implausible parts are dropped with a warning."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            warn("budget is not an object: ignored")
            return cls()
        state = cls()
        start = parse_instant(raw.get("window_start"))
        used = raw.get("used", 0)
        if raw.get("window_start") is not None and start is None:
            warn("budget window_start does not parse: ignored")
        elif start is not None and start > now + CLOCK_SLACK:
            warn(f"budget window starts in the future ({iso(start)}): ignored")
        elif start is not None and now - start < WINDOW:
            if isinstance(used, bool) or not isinstance(used, int) or used < 0:
                warn("budget used is not a count: counted as 0")
                used = 0
            elif used > MOST_PLAUSIBLE_USED:
                warn("budget used is more than any quota allows: counted as 0")
                used = 0
            state.window_start, state.used = start, used
        spent = parse_instant(raw.get("quota_spent_at"))
        resets = parse_instant(raw.get("quota_resets_at"))
        if spent is not None and resets is not None:
            if spent > now + CLOCK_SLACK or resets < spent or resets - spent > WINDOW:
                warn("the recorded quota verdict is implausible: ignored")
            elif resets > now:
                state.quota_spent_at, state.quota_resets_at = spent, resets
        return state


#: The most a stored page number, page size or cursor may be (larger is not a position).
MOST_PLAUSIBLE_PAGE = 10_000_000
#: (A server's opaque cursor may be a signed token of several hundred characters: attack 7 #5.)
MOST_PLAUSIBLE_CURSOR = 4_096
#: Table versions are the start of a run in seconds: none before this (2020-01-01).
EARLIEST_VERSION = 1_577_836_800


@dataclasses.dataclass(frozen=True)
class ListPosition:
    """Where the reading of a list stopped, and the evidence to resume it.

    ``page`` or ``cursor`` (with ``per_page``) asks for the page that held ``after``, the
    key of the last record that counts as read; ``page_size`` and ``params`` are the
    settings and query the list was read with (another value is another list). A list is
    resumed at that page only when the page answered there proves it is the page it was:
    the same records in the same order (``page_keys``, a fingerprint of their ids), or, in
    a list read in ascending key order (``ordered``), a page that still begins at or before
    ``after``, so no record can have moved to a page before it (``fanout.py``).
    """

    page: int | None
    cursor: str | None
    per_page: int
    page_size: int
    params: tuple[tuple[str, str], ...]
    after: tuple[int | str, ...]
    #: Runs in a row that had to read the list from its first page again (it changed, or
    #: the server refused the position): a list that never settles is reported.
    restarts: int = 0
    #: For one parent's children (a child stream's listing): the parent's id.
    parent: int | None = None
    #: The page's fingerprint (``pagination.page_fingerprint``; "" when none was taken).
    page_keys: str = ""
    #: True when the list came in ascending key order (``after`` proves the page too).
    ordered: bool = True
    #: The page's place in the list (1: its first page), however it is asked for.
    nth: int = 1
    #: The key of the page's first record when it was kept (empty: not recorded).
    first: tuple[int | str, ...] = ()

    def dump(self) -> dict[str, t.Any]:
        """JSON-able form."""
        return {
            "page": self.page,
            "cursor": self.cursor,
            "per_page": self.per_page,
            "page_size": self.page_size,
            # pairs, not an object: a merge replaces a list whole (keys of an older query
            # would survive in an object)
            "params": [list(pair) for pair in self.params],
            "after": list(self.after),
            "restarts": self.restarts,
            "parent": self.parent,  # null too: a merge must not keep an older one
            "page_keys": self.page_keys,
            "ordered": self.ordered,
            "nth": self.nth,
            "first": list(self.first),
        }

    def reached(self) -> tuple:
        """How far the reading got, comparable between positions of one stream.

        The parent, then the page's place in the list, then (in a list in key order) the
        last key read.
        """
        parent = -1 if self.parent is None else self.parent
        return (parent, self.nth, *(self.after if self.ordered else ()))

    @classmethod
    def load(cls, raw: object) -> ListPosition | None:
        """Read a dumped position; None when anything in it is implausible."""
        if not isinstance(raw, dict):
            return None
        page, cursor = raw.get("page"), raw.get("cursor")
        per_page, page_size = raw.get("per_page"), raw.get("page_size")
        params, after = raw.get("params"), raw.get("after")
        if page is not None and cursor is not None:
            return None  # (neither: the first page, asked as a list's first request is)
        if page is not None and not _whole(page, 1, MOST_PLAUSIBLE_PAGE):
            return None
        if cursor is not None and not (
            isinstance(cursor, str) and 0 < len(cursor) <= MOST_PLAUSIBLE_CURSOR
        ):
            return None
        if not (_whole(per_page, 1, MOST_PLAUSIBLE_PAGE) and _whole(page_size, 1, 10_000)):
            return None
        if isinstance(params, dict):  # written before params were pairs
            params = [[k, v] for k, v in params.items()]
        if not isinstance(params, list) or not all(
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(v, str) for v in pair)
            and len(pair[0]) + len(pair[1]) < 200
            for pair in params
        ):
            return None
        if not (
            isinstance(after, list)
            and 0 < len(after) <= 4
            and all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in after)
            and all(len(str(v)) <= 100 for v in after)
        ):
            return None
        restarts = raw.get("restarts", 0)
        if not _whole(restarts, 0, 1_000):
            return None
        parent = raw.get("parent")
        if parent is not None and not _whole(parent, 0, 2**63):
            return None
        page_keys, ordered = raw.get("page_keys", ""), raw.get("ordered", True)
        nth = raw.get("nth", page or 1)
        if not (isinstance(page_keys, str) and len(page_keys) <= 16 and isinstance(ordered, bool)):
            return None
        if not _whole(nth, 1, MOST_PLAUSIBLE_PAGE) or not (ordered or page_keys):
            return None
        first = raw.get("first", [])
        if not (
            isinstance(first, list)
            and len(first) <= 4
            and all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in first)
            and all(len(str(v)) <= 100 for v in first)
        ):
            return None
        return cls(
            page,
            cursor,
            t.cast("int", per_page),
            t.cast("int", page_size),
            tuple(sorted((k, v) for k, v in params)),
            tuple(after),
            restarts,
            parent,
            page_keys,
            ordered,
            t.cast("int", nth),
            tuple(first),
        )


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclasses.dataclass
class Interrupted:
    """Where an interrupted sync stopped: finished streams, fan-out and list positions."""

    streams_done: set[str] = dataclasses.field(default_factory=set)
    #: Child stream -> every parent up to this id is done.
    parents_done: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Stream -> where the reading of its list stopped (full tables, fan-out parents, and
    #: the children of the parent a child stream stopped in).
    lists: dict[str, ListPosition] = dataclasses.field(default_factory=dict)
    #: Full-table stream -> the table version its rows carry in a read spanning runs.
    versions: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Child stream -> the parent stream whose ids its ``parents_done`` counts (a setting
    #: such as ``group_members_source`` chooses it; ids of another parent mean nothing).
    parents_of: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Runs in a row that the API's quota stopped after requests that moved no position
    #: (attack 12 #3): a quota leaving the tap only the pages it reads again as proof.
    stalled_runs: int = 0

    def dump(self) -> dict[str, t.Any]:
        """JSON-able form."""
        dumped: dict[str, t.Any] = {
            "streams_done": sorted(self.streams_done),
            "parents_done": dict(sorted(self.parents_done.items())),
            "lists": {name: p.dump() for name, p in sorted(self.lists.items())},
            "versions": dict(sorted(self.versions.items())),
        }
        dumped["parents_of"] = {
            c: p for c, p in sorted(self.parents_of.items()) if c in self.parents_done
        }
        # Always written, 0 too: Meltano's merge keeps a key the new state leaves out, so a
        # count the run ended would survive it (and break the record's seal).
        dumped["stalled_runs"] = self.stalled_runs
        return dumped

    @classmethod
    def load(
        cls, raw: object, warn: t.Callable[[str], None], now: dt.datetime | None = None
    ) -> Interrupted | None:
        """Read and check a dumped position (None when there is none)."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            warn("the interrupted-sync record is not an object: ignored")
            return None
        done = raw.get("streams_done", [])
        parents = raw.get("parents_done", {})
        if not isinstance(done, list) or not all(isinstance(s, str) for s in done):
            warn("streams_done is not a list of names: the interrupted sync restarts")
            return None
        clean: dict[str, int] = {}
        for key, value in (parents if isinstance(parents, dict) else {}).items():
            if value is None:  # dropped by a newer record (KEYED_PARTS)
                continue
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                clean[str(key)] = value
            else:
                warn(f"parents_done for {key!r} is not an id: that fan-out restarts")
        lists: dict[str, ListPosition] = {}
        raw_lists = raw.get("lists") or {}
        for key, value in (raw_lists if isinstance(raw_lists, dict) else {}).items():
            if value is None:  # dropped by a newer record (KEYED_PARTS)
                continue
            position = ListPosition.load(value)
            if position is None:
                warn(f"the list position of {str(key)[:60]!r} is implausible: that list restarts")
            else:
                lists[str(key)] = position
        latest = ((now or utcnow()) + CLOCK_SLACK).timestamp()
        versions: dict[str, int] = {}
        raw_versions = raw.get("versions") or {}
        for key, value in (raw_versions if isinstance(raw_versions, dict) else {}).items():
            if value is None:  # dropped by a newer record (KEYED_PARTS)
                continue
            if _whole(value, EARLIEST_VERSION, int(latest)):
                versions[str(key)] = t.cast("int", value)
            else:
                warn(f"the table version of {str(key)[:60]!r} is implausible: not continued")
        raw_parents_of = raw.get("parents_of") or {}
        parents_of = {
            str(child): parent
            for child, parent in (
                raw_parents_of if isinstance(raw_parents_of, dict) else {}
            ).items()
            if isinstance(parent, str)
        }
        stalled = raw.get("stalled_runs", 0)
        if not _whole(stalled, 0, 1_000):
            warn("stalled_runs is not a count of runs: counted from 0")
            stalled = 0
        return cls(set(done), clean, lists, versions, parents_of, t.cast("int", stalled))


@dataclasses.dataclass
class StreamState:
    """What one stream keeps between runs."""

    #: Phishing tests whose recipients cannot change: pst_id -> counters checksum.
    settled: dict[int, int] = dataclasses.field(default_factory=dict)
    #: Risk histories: owner id (0 for the account) -> newest date emitted.
    dates: dict[int, str] = dataclasses.field(default_factory=dict)

    def dump(self) -> dict[str, t.Any]:
        """JSON-able form (owner dates grouped by date, ids as ranges)."""
        out: dict[str, t.Any] = {}
        if self.settled:
            out["settled"] = {str(k): v for k, v in sorted(self.settled.items())}
        if self.dates:
            by_date: dict[str, list[int]] = {}
            for owner, day in self.dates.items():
                if owner >= 0:  # (a negative id could not be read back: read in full)
                    by_date.setdefault(day, []).append(owner)
            out["dates"] = {day: ranges_of(ids) for day, ids in sorted(by_date.items())}
        return out

    @classmethod
    def load(
        cls, raw: object, now: dt.datetime, warn: t.Callable[[str], None], name: str
    ) -> StreamState:
        """Read and check a dumped stream state; bad entries are dropped with a warning."""
        state = cls()
        if not isinstance(raw, dict):
            warn(f"state of {name} is not an object: ignored")
            return state
        settled = raw.get("settled", {})
        dropped = 0
        for key, value in (settled if isinstance(settled, dict) else {}).items():
            if value is None:  # voided (see voided_part): not settled
                continue
            if _is_id(str(key)) and isinstance(value, int) and not isinstance(value, bool):
                state.settled[int(key)] = value
            else:
                dropped += 1
        dates = raw.get("dates", {})
        budget = MOST_PLAUSIBLE_OWNERS
        for day, ranges in (dates if isinstance(dates, dict) else {}).items():
            owners = ids_of(ranges, limit=budget)
            if plausible_date(day, now=now) is None or owners is None:
                dropped += 1
                continue
            budget -= len(owners)
            for owner in owners:
                state.dates[owner] = max(day, state.dates.get(owner, day))
        if dropped:
            warn(f"{dropped} unreadable entries in the state of {name} dropped (re-read)")
        return state


@dataclasses.dataclass
class LastRun:
    """Figures of the previous run, for estimates (progress ETA, plans)."""

    requests: int = 0
    records: int = 0
    seconds: float = 0.0
    requests_by_stream: dict[str, int] = dataclasses.field(default_factory=dict)

    def dump(self) -> dict[str, t.Any]:
        """JSON-able form."""
        return {
            "requests": self.requests,
            "records": self.records,
            # whole seconds: SDK targets read numbers as Decimal and cannot write those back
            "seconds": round(self.seconds),
            "requests_by_stream": dict(sorted(self.requests_by_stream.items())),
        }

    @classmethod
    def load(cls, raw: object) -> LastRun | None:
        """Read a dumped figure set; anything odd is simply not used."""
        if not isinstance(raw, dict):
            return None
        try:
            by_stream = {
                str(k): int(v)
                for k, v in (raw.get("requests_by_stream") or {}).items()
                if isinstance(v, int) and v >= 0
            }
            seconds = float(raw.get("seconds", 0.0))
            if not math.isfinite(seconds):  # Infinity, NaN, "inf": not a duration
                return None
            return cls(
                requests=max(0, int(raw.get("requests", 0))),
                records=max(0, int(raw.get("records", 0))),
                seconds=max(0.0, seconds),
                requests_by_stream=by_stream,
            )
        except (TypeError, ValueError, OverflowError, AttributeError):
            return None


# -- the whole ---------------------------------------------------------------------------


@dataclasses.dataclass
class TapState:
    """Everything the tap remembers between runs (see the module docstring for the shape)."""

    version: int = VERSION
    #: Which account the state describes (:func:`account_identity`); None without settings.
    account: str | None = None
    budget: BudgetState = dataclasses.field(default_factory=BudgetState)
    interrupted: Interrupted | None = None
    streams: dict[str, StreamState] = dataclasses.field(default_factory=dict)
    last_run: LastRun | None = None
    #: Stream -> the shape of its output the state describes (``shapes.py``; none: "").
    shapes: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Stream -> entries of its stored part this run does not apply, written back voided
    #: (:func:`voided_part`) so that a key-by-key merge cannot bring them back.
    voided: dict[str, dict[str, dict[str, t.Any]]] = dataclasses.field(default_factory=dict)
    #: Keys the stored interrupted-sync record and this run's records had (see
    #: :data:`KEYED_PARTS`): each one no longer held is written as null.
    interrupted_keys: dict[str, set[str]] = dataclasses.field(default_factory=dict, repr=False)
    #: The streams' parts as loaded, by :func:`part_key` (what :attr:`voided` is made from).
    loaded_streams: dict[str, t.Any] = dataclasses.field(default_factory=dict, repr=False)
    #: The streams this run sends records of (their part is written under their shape).
    own_shapes: set[str] = dataclasses.field(default_factory=set, repr=False)

    def stream(self, name: str) -> StreamState:
        """The state of stream ``name`` (created empty on first use)."""
        found = self.streams.get(name)
        if found is None:
            found = self.streams[name] = StreamState()
        return found

    def dump_streams(self) -> dict[str, t.Any]:
        """The streams' parts (the large ones), each under its :func:`part_key`.

        A stream this run sends is written under its shape; one it does not, as it was kept
        (its shape's own parts passed on). Empty parts are left out, but for a shape of this
        run's own (``name@<shape>``): that key, even empty, says which part is that shape's.
        Voided entries (see :func:`voided_part`) go under the plain name they were kept by.
        """
        keyed: dict[str, t.Any] = {
            key: part
            for key, part in self.loaded_streams.items()
            if SHAPED in key and key.split(SHAPED, 1)[0] not in self.own_shapes
        }
        for name, state in self.streams.items():
            part = state.dump()
            shape = self.shapes.get(name, "") if name in self.own_shapes else ""
            if part or shape:
                keyed[part_key(name, shape)] = part
        for name in self.own_shapes:
            if self.shapes.get(name):
                keyed.setdefault(part_key(name, self.shapes[name]), {})
        for name, void in self.voided.items():
            part = keyed.get(name, {})
            keyed[name] = {
                **part,
                **{kind: {**entries, **part.get(kind, {})} for kind, entries in void.items()},
            }
        return dict(sorted(keyed.items()))

    def void(self, name: str) -> None:
        """Write stream ``name``'s stored entries back voided (see :func:`voided_part`)."""
        void = voided_part(self.loaded_streams.get(name))
        if void:
            self.voided[name] = void

    def dump(self, streams: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        """The JSON-able form written under ``tap_knowbe4`` in the Singer state.

        ``streams`` may pass an earlier :meth:`dump_streams` to save dumping them again.
        """
        return {
            "version": self.version,
            "account": self.account,
            "budget": self.budget.dump(),
            "interrupted": self._dump_interrupted(),
            "streams": self.dump_streams() if streams is None else streams,
            "last_run": None if self.last_run is None else self.last_run.dump(),
            # every stream's, "" too: a merge (see ``seal_of``) must not bring back a shape
            # a newer run no longer had
            "shapes": dict(sorted(self.shapes.items())),
            # a set, as keys: a merge keeps every account that wrote into the state
            "accounts": {} if self.account is None else {self.account: True},
        }

    def _dump_interrupted(self) -> dict[str, t.Any] | None:
        """The sealed interrupted-sync record, null for each key it dropped (KEYED_PARTS)."""
        if self.interrupted is None:
            self.interrupted_keys = {}  # null replaces the stored record whole
            return None
        record = self.interrupted.dump()
        for part in KEYED_PARTS:
            entries = record.setdefault(part, {})
            for name in sorted(self.interrupted_keys.get(part, ())):
                entries.setdefault(name, None)
            self.interrupted_keys.setdefault(part, set()).update(entries)
        return sealed(self.account, record)

    def forget_reshaped(self, shapes: t.Mapping[str, str], warn: t.Callable[[str], None]) -> None:
        """Apply nothing kept for a stream whose output was shaped otherwise; adopt ``shapes``.

        ``shapes``: each stream this run sends records of -> its shape in this run
        (:func:`~tap_knowbe4.shapes.stream_shape`). Positions, bookmarks and settled tests of
        a stream written under another alias, map, flattening or field selection describe
        what another table received. A stream this run does not send keeps what it has,
        shape included (a run that leaves recipients out does not forget their tests).
        """
        interrupted = self.interrupted
        changed = []
        for name in sorted(shapes):
            shape, recorded = shapes[name], self.shapes.get(name, "")
            plain = self.streams.pop(name, None)  # what the plain name keeps
            own = self.loaded_streams.get(part_key(name, shape)) if shape else None
            if own is not None:  # the part this shape's runs wrote, whatever lies beside it
                self.streams[name] = StreamState.load(own, utcnow(), _quiet, name)
            elif shape == recorded and plain is not None:
                self.streams[name] = plain
                if shape:  # written before parts were keyed by shape: moved to its key
                    self.void(name)
            if shape == recorded:
                continue
            kept = plain is not None and bool(plain.settled or plain.dates)
            if not shape:
                self.void(name)  # a merge must not bring them back beside the new shape
            if interrupted is not None:
                kept = name in interrupted.streams_done or kept
                interrupted.streams_done.discard(name)
                for part in (interrupted.parents_done, interrupted.lists, interrupted.versions):
                    kept = part.pop(name, None) is not None or kept
                interrupted.parents_of.pop(name, None)
            if kept:
                changed.append(name)
        self.shapes = {**self.shapes, **shapes}
        self.own_shapes = set(shapes)
        if changed:
            warn(
                f"{', '.join(changed)}: written with other stream maps, flattening or field "
                "selection than this run's, so what the state kept for "
                f"{'it' if len(changed) == 1 else 'them'} describes what another table or "
                "column received: not applied (read in full)"
            )

    @classmethod
    def load(
        cls,
        singer_state: t.Mapping[str, t.Any] | None,
        *,
        account: str | None = None,
        now: dt.datetime | None = None,
        warn: t.Callable[[str], None] | None = None,
    ) -> TapState:
        """Parse and check the state of ``account``; never raises on bad content.

        A state that describes another account, or does not say which, is not applied:
        one warning, and the run starts afresh.
        """
        now = now or utcnow()
        say = warn or (lambda text: logger.warning("State: %s.", text))
        fresh = cls(account=account)
        if not isinstance(singer_state, t.Mapping):
            if singer_state is not None:
                say("the state is not a JSON object: starting afresh")
            return fresh
        raw = singer_state.get(STATE_KEY)
        if raw is None:
            if any(singer_state.get(k) for k in _EARLIER_KEYS):
                say(_NOT_OURS.format(_EARLIER))
            return fresh
        if not isinstance(raw, dict):
            say(f"{STATE_KEY} is not an object: starting afresh")
            return fresh
        version = raw.get("version")
        if version in _EARLIER_VERSIONS:
            say(_NOT_OURS.format(_EARLIER))
            return fresh
        if version != VERSION:
            say(f"unknown state version {version!r}: starting afresh")
            return fresh
        if raw.get("account") != account:
            say(_NOT_OURS.format(_whose(raw.get("account"), account)))
            return fresh
        streams_raw = raw.get("streams") or {}
        if not isinstance(streams_raw, dict):
            say("streams is not an object: ignored")
            streams_raw = {}
        interrupted = raw.get("interrupted")
        if _strangers(raw.get("accounts"), account):
            say(_MERGED_ACCOUNTS)
            streams_raw, interrupted = {}, None
        elif unsealed(account, interrupted):
            say(_MIXED)
            interrupted = None
        return cls(
            account=account,
            budget=BudgetState.load(raw.get("budget"), now, say),
            interrupted=Interrupted.load(interrupted, say, now),
            streams={
                str(name): StreamState.load(value, now, say, str(name))
                for name, value in streams_raw.items()
                if SHAPED not in str(name)  # a shape's own part: see forget_reshaped
            },
            last_run=LastRun.load(raw.get("last_run")),
            shapes=_shapes(raw.get("shapes")),
            loaded_streams=streams_raw,
            interrupted_keys=written_keys(raw.get("interrupted")),
        )


#: Between a stream's name and its shape in :func:`part_key`.
SHAPED = "@"


def part_key(name: str, shape: str) -> str:
    """Where the state keeps stream ``name``'s part for ``shape``: ``name@<shape>``.

    The plain ``name`` for the default shape (none: ``""``), as states always kept it.
    Keyed by shape, a merge (Meltano's merge strategies and ``--full-refresh`` write the new
    state onto the stored one key by key) cannot pair the bookmarks or settled tests one
    shape's run wrote with another's: each describes what its own table received.
    """
    return f"{name}{SHAPED}{shape}" if shape else name


def _quiet(text: str) -> None:
    logger.warning("State: %s.", text)


def voided_part(raw: object) -> dict[str, dict[str, t.Any]]:
    """A stored stream part's entries, voided: each date with no owners, each test unsettled.

    Meltano's merge strategies write a new state onto the stored one key by key: an entry
    the new state leaves out survives. A part this run does not apply (kept for another
    shape of the stream's output) is written back with every entry voided, so the merge
    overwrites each one with nothing (read back as nothing, without a warning).
    """
    if not isinstance(raw, dict):
        return {}
    void: dict[str, dict[str, t.Any]] = {}
    for kind, blank in (("dates", ""), ("settled", None)):
        entries = raw.get(kind)
        if isinstance(entries, dict) and entries:
            void[kind] = dict.fromkeys(map(str, entries), blank)
    return void


def _strangers(raw: object, account: str | None) -> bool:
    """True when ``accounts`` names an account other than ``account`` (see ``TapState``)."""
    return isinstance(raw, dict) and any(k != account and v for k, v in raw.items())


def _shapes(raw: object) -> dict[str, str]:
    """Recorded shapes; an entry that is not a short text is kept as an unknown shape."""
    if not isinstance(raw, dict):
        return {}
    return {
        str(name)[:100]: shape if isinstance(shape, str) and len(shape) <= 64 else "?"
        for name, shape in raw.items()
    }


#: Top-level keys of states written before version 2 (``bookmarks`` is the SDK's part).
_EARLIER_KEYS = ("bookmarks", "request_budget", "sync_progress")
_EARLIER_VERSIONS = (1, 2)
_EARLIER = "written by an earlier release, it does not say which account it describes"
_NOT_OURS = (
    "{}: not applied (its positions, bookmarks, settled tests and budget count are ignored); "
    "this run reads every stream in full"
)

_MERGED_ACCOUNTS = (
    "it holds parts another account's runs wrote (two accounts' states were merged into it, "
    "e.g. by Meltano's --state-strategy merge or --full-refresh under one state ID): its "
    "positions, bookmarks and settled tests are not applied and every stream is read in full, "
    "in every run while the stored state holds them (clear it: meltano state clear)"
)
_MIXED = (
    "the record of the interrupted sync is not the one this tap wrote (two states were merged "
    "into it, e.g. by Meltano's --state-strategy merge or --full-refresh, or it was edited): "
    "not applied; the interrupted sync starts over"
)


def _whose(theirs: object, ours: str | None) -> str:
    """Whose state it is, in words (never a fingerprint)."""
    if not isinstance(theirs, str) or "|" not in theirs:
        return "it does not say which account it describes"
    their_address = theirs.rsplit("|", 1)[0]
    our_address = (ours or "").rsplit("|", 1)[0]
    if their_address != our_address:
        return f"it was written for the API at {their_address[:80]!r}, not this run's"
    return "it was written with another API key (another account)"


def written_for(given: object, account: str | None) -> bool:
    """True when the Singer state ``given`` was written under ``account`` (its ``account``)."""
    part = given.get(STATE_KEY) if isinstance(given, dict) else None
    return account is not None and isinstance(part, dict) and part.get("account") == account


def vouched_for(
    given: object, account: str | None, key_accepted: t.Callable[[], bool]
) -> t.Callable[[], bool]:
    """When a run may write state under ``account``: positive evidence that it is an account's.

    A key the API rejects names no account: a state written under it (the identity of a
    rejected or mistyped key) would displace the stored one, and the next run under the
    right key would find a stranger's state and read everything again. So a run writes its
    state under ``account`` only once the API has answered it with a readable page
    (``key_accepted``), or when the state it was given was already written under it (an
    identity accepted before: its budget must not be forgotten because this run failed).
    Until then the state it was given is passed on unchanged.
    """
    already = written_for(given, account)
    return lambda: already or key_accepted()


class StatePublisher:
    """Writes the typed state into the Singer state dict: the one place it is written.

    The SDK emits STATE messages from that dict (after each parent, each stream, and at
    the end). Small parts are rewritten on every publish; streams' parts, which can hold
    thousands of owners, at most every ``heavy_seconds`` unless forced. A part that lags
    is only older, never wrong: an owner whose new bookmark is not yet published is read
    again from its previous bookmark.
    """

    def __init__(
        self,
        state: TapState,
        target: dict,
        heavy_seconds: float = 2.0,
        *,
        vouched: t.Callable[[], bool] = lambda: True,
        given: object = None,
    ) -> None:
        """Publish ``state`` into ``target`` (the tap's Singer state dict).

        ``vouched`` says whether ``state.account`` may be written: until it does, the state
        the run was given (``given``, the whole Singer state) is passed on as it came, its
        ``tap_knowbe4`` part unchanged (or none, if it had none). See :func:`vouched_for`.
        """
        self.state = state
        self.target = target
        self.heavy_seconds = heavy_seconds
        self.vouched = vouched
        given_part = given.get(STATE_KEY) if isinstance(given, dict) else None
        self._given = given_part if isinstance(given_part, dict) else None
        self._streams: dict[str, t.Any] = {}
        self._last_heavy = float("-inf")

    def publish(self, *, force: bool = False) -> None:
        """Refresh ``target[STATE_KEY]``."""
        if not self.vouched():
            if self._given is None:
                self.target.pop(STATE_KEY, None)
            else:
                self.target[STATE_KEY] = self._given
            return
        now = time.monotonic()
        if force or now - self._last_heavy >= self.heavy_seconds:
            self._streams = self.state.dump_streams()
            self._last_heavy = now
        self.target[STATE_KEY] = self.state.dump(self._streams)
