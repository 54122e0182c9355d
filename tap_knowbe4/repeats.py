"""The same key twice in one listing: exact repeats are dropped, every other version is kept.

A listing can name one primary key more than once: a page repeated by a server that ignores
``page``, rows shifting between pages while data changes, or the API listing one enrollment
three times with different campaigns and statuses (a public fixture does). Only an **exact**
repeat of a version already sent in this listing says nothing new: it is dropped and counted.
A version with other content is sent too, in the order the API listed it, so a target that
upserts on the key keeps the last one listed (and an append-only target keeps all of them);
those keys are counted and named in the run summary.

For risk-score histories this decides the day's value when the API lists several scores on
one date: the last one listed.

To compare without encoding every record, the versions of at least the last :data:`WINDOW`
keys are kept (two generations of up to that many keys each: the older one is let go as a
new one fills); a key that comes back after more others is sent again (it may be identical)
and counted with the changed ones: never dropped on a guess.
"""

from __future__ import annotations

import typing as t

#: How many recent keys keep their versions for comparison.
WINDOW = 2000


class ListingRepeats:
    """Which records of one listing to send (see the module docstring)."""

    def __init__(self, window: int = WINDOW) -> None:
        """A fresh listing."""
        self._window = window
        self._keys: set[t.Hashable] = set()
        #: The versions sent of recent keys: a copy of the record, or a list of copies
        #: once a key had several. Filled up to ``window`` keys, then made the older one.
        self._recent: dict[t.Hashable, dict | list[dict]] = {}
        self._older: dict[t.Hashable, dict | list[dict]] = {}
        #: Records dropped because the same version was already sent.
        self.exact = 0
        #: Keys sent again with other content (or too far apart to compare), and how often.
        self.changed: dict[t.Hashable, int] = {}

    def admit(self, key: t.Hashable, record: dict) -> bool:
        """True when ``record`` is to be sent; False for an exact repeat."""
        keys = self._keys
        if key not in keys:  # the common case, kept short
            keys.add(key)
            recent = self._recent
            recent[key] = record.copy()  # a copy: what is written may be trimmed later
            if len(recent) >= self._window:
                self._older, self._recent = recent, {}
            return True
        kept = self._recent.get(key)
        if kept is None:
            kept = self._older.get(key)
        versions: list[dict] = [] if kept is None else [kept] if isinstance(kept, dict) else kept
        if record in versions:
            self.exact += 1
            return False
        self.changed[key] = self.changed.get(key, 0) + 1
        self._remember(key, record, versions)
        return True

    def _remember(self, key: t.Hashable, record: dict, versions: list[dict]) -> None:
        versions = [*versions, dict(record)]  # a copy: what is written may be trimmed later
        self._older.pop(key, None)
        recent = self._recent
        recent.pop(key, None)
        recent[key] = versions  # the most recent key again
        if len(recent) >= self._window:
            self._older, self._recent = recent, {}


def describe_key(names: t.Sequence[str], key: t.Hashable) -> str:
    """``enrollment_id 2525523`` or ``group_id 5, date 2021-02-07``, for the summary."""
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{name} {value}" for name, value in zip(names, values, strict=False))
