"""Where an interrupted sync stopped, kept in state so the next run continues from there.

When the budget runs out mid-run, the state records which streams finished and, for
each fan-out (recipients per PST, risk history per user, ...), the parents whose children
are done. Parents are listed in ascending id order, so "done" is one number per child
stream: every parent up to that id. If a server ever lists parents out of order the
number is dropped, and the next run re-reads that fan-out rather than miss anything.

A run that completes writes ``sync_progress: null``: the next run is a normal one.
"""

from __future__ import annotations

STATE_KEY = "sync_progress"


class SyncProgress:
    """Completed streams and per-fan-out positions of the sync in progress."""

    def __init__(self, state: dict) -> None:
        """Read the interrupted sync's progress from ``state`` (updated in place)."""
        self._state = state
        saved = state.get(STATE_KEY)
        if not isinstance(saved, dict):
            saved = {}
        self.resumed = bool(saved)
        self.streams_done: set[str] = set(saved.get("streams_done", []))
        self.parents_done: dict[str, int] = {
            k: int(v) for k, v in (saved.get("parents_done_through") or {}).items()
        }
        #: Values of the stream's bookmark when the interrupted fan-out began.
        self.bookmarks_at_start: dict[str, str] = dict(saved.get("bookmarks_at_start") or {})
        self._last_seen: dict[str, int] = {}
        self._unordered: set[str] = set()

    def _save(self) -> None:
        self._state[STATE_KEY] = {
            "streams_done": sorted(self.streams_done),
            "parents_done_through": dict(sorted(self.parents_done.items())),
            "bookmarks_at_start": dict(sorted(self.bookmarks_at_start.items())),
        }

    def is_done(self, stream: str) -> bool:
        """True when ``stream`` finished in the interrupted run."""
        return stream in self.streams_done

    def mark_done(self, *streams: str) -> None:
        """Record that these streams finished (all their records were emitted)."""
        self.streams_done.update(streams)
        for stream in streams:
            self.parents_done.pop(stream, None)
        self._save()

    def skip_parent(self, child: str, parent_id: int) -> bool:
        """True when ``child`` already finished for ``parent_id``; also checks the order."""
        last = self._last_seen.get(child)
        if last is not None and parent_id <= last:
            self._unordered.add(child)
            self.parents_done.pop(child, None)
            self._save()
        self._last_seen[child] = parent_id
        done = self.parents_done.get(child)
        return done is not None and parent_id <= done and child not in self._unordered

    def is_parent_done(self, child: str, parent_id: int) -> bool:
        """Like :meth:`skip_parent` without checking the order (for planning)."""
        done = self.parents_done.get(child)
        return done is not None and parent_id <= done

    def mark_parent_done(self, child: str, parent_id: int) -> None:
        """Record that ``child`` finished for ``parent_id`` (and all parents before it)."""
        if child in self._unordered:
            return
        self.parents_done[child] = parent_id
        self._save()

    def remember_bookmark(self, stream: str, value: str | None) -> str | None:
        """The bookmark an interrupted fan-out started from, else remember ``value``."""
        if stream in self.bookmarks_at_start:
            return self.bookmarks_at_start[stream]
        if value is not None:
            self.bookmarks_at_start[stream] = value
            self._save()
        return value

    def finish(self) -> None:
        """The sync completed: the next run starts afresh."""
        self.streams_done.clear()
        self.parents_done.clear()
        self.bookmarks_at_start.clear()
        self._state[STATE_KEY] = None
