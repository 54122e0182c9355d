"""Where an interrupted sync stopped, and where this one is (kept in the state).

An interrupted sync (a budget or a cap, a signal, an error) leaves four kinds of position,
each kept only with the evidence that makes it safe to skip what it covers:

* **finished streams**: read to their end, every record written;
* **fan-out positions**: parents are listed in ascending id order, so "done" is one number
  per child stream, every parent up to that id (a parent not read to its end holds it; a
  server listing parents out of order drops it). The position names the parent stream whose
  ids it counts: when a setting gives the child another parent (``group_members_source``),
  it counts nothing;
* **list positions** (:class:`~tap_knowbe4.state.ListPosition`): the page of a full-table
  list, of a fan-out's parents, or of the children of the one parent a child stream stopped
  in (one user's long risk history), that held the last record counted as read, by page
  number or by the server's cursor, with a fingerprint of that page (its records' ids in
  order) and its first key. The next run asks for that page again and goes on only if it
  proves to be where the list stopped: in a list in ascending key order, a page that begins
  at or after the first key it had and at or before that record (nothing can have moved to
  an earlier page, ids only growing); at a server's cursor (the server's own position, as
  within one run), the same fingerprint, and then that page's end counts. Otherwise that
  list is read from its first page again, with a warning. A list out of key order paged by
  number keeps no position: a fingerprint proves its page, not the pages before it (a record
  re-sorted before it would be skipped), so it is read whole in one run, or the cap is
  refused;
* **table versions**: the version the rows of a full-table stream carry while its read
  spans runs, so that the ACTIVATE_VERSION sent when it completes keeps every row sent
  under it in the earlier runs.

A list's position is kept page by page as the list is read (``KnowBe4Stream._pages_emitted``),
in the STATE that follows the page's records, so a run killed mid-list (SIGKILL) has one too.

Each position is proven by reading its page again (one page per level: a parent's page, then
its children's), so a run makes progress only when ``max_requests_per_run`` leaves a request
after those (:meth:`Resume.proof_pages`). A run that leaves a position a smaller cap cannot
get past fails at once, naming the smallest cap that can (and a run given such a state
fails before its first request); a run that stops on the cap having moved no position
forward fails too (:meth:`Resume.progressed`), rather than promise that the next run
continues.
"""

from __future__ import annotations

import typing as t

from tap_knowbe4.state import Interrupted, ListPosition

#: Runs in a row a list may have to restart, unfinished, before the run fails saying so.
RESTARTS_REPORTED = 3

if t.TYPE_CHECKING:
    from tap_knowbe4.pagination import PageToken
    from tap_knowbe4.state import TapState


class Resume:
    """The interrupted sync this run continues, and the position it leaves (see above)."""

    def __init__(
        self,
        state: TapState,
        parents: t.Mapping[str, str] | None = None,
        warn: t.Callable[[str], None] | None = None,
        versioned: t.Iterable[str] = (),
    ) -> None:
        """Start from the interrupted sync in ``state``, if any.

        ``parents``: child stream -> the parent stream this run reads it for. A fan-out
        position kept for another parent is dropped (with a ``warn``): that fan-out restarts.
        ``versioned``: streams whose rows carry a table version (ACTIVATE_VERSION); a
        position of one kept without the version of the rows before it is dropped (SIM-21):
        continuing it under a new version would let ACTIVATE_VERSION delete those rows.
        """
        previous = state.interrupted or Interrupted()
        for name in sorted(set(versioned) - set(previous.versions)):
            if name in previous.parents_done or name in previous.lists:
                previous.parents_done.pop(name, None)
                previous.lists.pop(name, None)
                if warn is not None:
                    warn(
                        f"{name}: the state keeps where its read stopped but not the table "
                        "version of the rows read before: it is read from its start"
                    )
        self._parents = dict(parents or {})
        for child, parent in sorted(previous.parents_of.items()):
            if child in previous.parents_done and self._parents.get(child, parent) != parent:
                del previous.parents_done[child]
                if warn is not None:
                    warn(
                        f"{child} was read for parent {parent} when the state was written and "
                        f"is read for {self._parents[child]} now: its fan-out restarts"
                    )
        self.resumed = bool(previous.streams_done or previous.parents_done or previous.lists)
        self.streams_before = set(previous.streams_done)
        self.parents_before = dict(previous.parents_done)
        self.lists_before = dict(previous.lists)
        self.versions_before = dict(previous.versions)
        self.stalled_before = previous.stalled_runs
        state.interrupted = Interrupted(
            set(self.streams_before),
            dict(self.parents_before),
            dict(self.lists_before),
            dict(self.versions_before),
            {c: p for c, p in previous.parents_of.items() if c in self.parents_before},
        )
        self._state = state
        #: Lists stopped in that no position can resume (out of key order, by page number).
        self.unresumable: set[str] = set()
        self._last_seen: dict[str, int] = {}
        self._unordered: set[str] = set()
        self._held: dict[str, int] = {}

    @property
    def _now(self) -> Interrupted:
        if self._state.interrupted is None:
            self._state.interrupted = Interrupted()
        return self._state.interrupted

    # -- finished streams ----------------------------------------------------------------

    def stream_done_before(self, name: str) -> bool:
        """True when the interrupted sync finished ``name``."""
        return name in self.streams_before

    def mark_stream_done(self, name: str) -> None:
        """``name`` finished: its positions and table version are no longer needed."""
        self._now.streams_done.add(name)
        self._now.parents_done.pop(name, None)
        self._now.lists.pop(name, None)
        self._now.versions.pop(name, None)

    # -- fan-out positions -----------------------------------------------------------------

    def parent_done_before(self, child: str, parent_id: int) -> bool:
        """True when the interrupted sync finished ``child`` for ``parent_id``."""
        last = self._last_seen.get(child)
        if last is not None and parent_id <= last:
            self._unordered.add(child)
            self._now.parents_done.pop(child, None)
        self._last_seen[child] = parent_id
        done = self.parents_before.get(child)
        return done is not None and parent_id <= done and child not in self._unordered

    def mark_parent_done(self, child: str, parent_id: int) -> None:
        """``child`` is done for ``parent_id`` and every parent before it.

        A parent before a held one still counts: its mark may come after the hold, when it
        waited for the BATCH file holding its records.
        """
        held = self._held.get(child)
        if child not in self._unordered and (held is None or parent_id < held):
            self._now.parents_done[child] = parent_id
            if child in self._parents:
                self._now.parents_of[child] = self._parents[child]
        within = self._now.lists.get(child)
        if within is not None and within.parent is not None and within.parent <= parent_id:
            del self._now.lists[child]  # that parent's children were read to their end

    def hold(self, child: str, parent_id: int) -> None:
        """``parent_id`` of ``child`` was not read to its end: the position stops before it.

        "Done" means every parent up to the position, so no later parent may move it past
        the unfinished one; the next run reads from there again.
        """
        self._held[child] = min(parent_id, self._held.get(child, parent_id))

    def held(self, child: str) -> int | None:
        """The first parent of ``child`` this run did not read to its end (None: none)."""
        return self._held.get(child)

    def parents_done(self, child: str) -> int | None:
        """Every parent of ``child`` up to this id is done (None: none is known to be)."""
        return self._now.parents_done.get(child)

    # -- list positions and table versions -------------------------------------------------

    def list_before(self, name: str) -> ListPosition | None:
        """Where the interrupted sync stopped reading the list of ``name``."""
        return self.lists_before.get(name)

    def keep_list(self, name: str, position: ListPosition | None) -> None:
        """The list of ``name`` resumes at ``position`` (None: from its first page)."""
        if position is None:
            self._now.lists.pop(name, None)
        else:
            self._now.lists[name] = position

    def restart_list(self, name: str) -> int:
        """The list of ``name`` is read from its first page again; the restarts in a row.

        Its position counts no more: progress is measured from the start.
        """
        before = self.lists_before.pop(name, None)
        self._now.lists.pop(name, None)
        return (before.restarts if before else 0) + 1

    def version_before(self, name: str) -> int | None:
        """The table version of the read of ``name`` the interrupted sync began."""
        return self.versions_before.get(name)

    def keep_version(self, name: str, version: int | None) -> None:
        """Rows of ``name`` sent so far carry ``version`` (None: the read cannot continue it)."""
        if version is None:
            self._now.versions.pop(name, None)
        else:
            self._now.versions[name] = version

    def forget_positions(self, name: str) -> None:
        """Every row of ``name`` is read again: its fan-out and list positions go.

        A versioned stream's positions hold only with the table version its rows before
        them carry: the next run's ACTIVATE_VERSION of another version would delete the
        rows it skipped (SIM-21).
        """
        self._now.parents_done.pop(name, None)
        self._now.parents_of.pop(name, None)
        self._now.lists.pop(name, None)

    # -- the end of the run ------------------------------------------------------------------

    def progressed(self) -> bool:
        """True when this run moved a position forward.

        That is: a stream finished, a fan-out went past a parent, or a list past a record
        it had not reached before, or a list kept a position where the one before was kept
        under another ``page_size`` or query (no run of this configuration could resume
        there: keeping it would make every capped run read the same first pages again, and
        say it got no further, for ever; SIM-25, seeds 940008 and 940010).
        """
        now = self._now
        if now.streams_done - self.streams_before:
            return True
        for child, done in now.parents_done.items():
            if done > self.parents_before.get(child, -1):
                return True
        for name, position in now.lists.items():
            before = self.lists_before.get(name)
            if before is None or beyond(position.reached(), before.reached()):
                return True
            if (before.page_size, before.params) != (position.page_size, position.params):
                return True
        return False

    def count_stall(self, answered: int) -> int:
        """Count a run the API's quota stopped: the runs in a row it stopped in vain.

        A run that moved a position forward ends the count; one none of whose requests was
        answered but by a 429 (the day's quota already spent when it began) neither adds to
        it nor ends it: it waits for the reset. A run whose ``answered`` requests moved
        nothing (the pages it read again as proof, then the quota) adds one.
        """
        if self.progressed():
            stalled = 0
        elif answered:
            stalled = self.stalled_before + 1
        else:
            stalled = self.stalled_before
        self._now.stalled_runs = stalled
        return stalled

    def stalled(self) -> int:
        """Runs in a row the quota stopped without progress, this one included (0: none)."""
        interrupted = self._state.interrupted
        return interrupted.stalled_runs if interrupted is not None else 0

    def proof_pages(self, streams: t.Container[str] | None = None) -> tuple[int, str]:
        """Pages the next run reads again, as proof, before anything new; and whose.

        The deepest position kept decides: one page for a list, two inside a parent's
        children (the parent's page, then the children's). ``streams``: only the positions
        of these (the ones a run will read); None: the positions this run leaves.
        """
        lists = self._now.lists if streams is None else self.lists_before
        deepest = (0, "")
        for name, position in sorted(lists.items()):
            if streams is None or name in streams:
                deepest = max(deepest, (1 if position.parent is None else 2, name))
        return deepest

    def unsettled_lists(self, runs: int = RESTARTS_REPORTED) -> list[str]:
        """Lists read from their first page again in ``runs`` runs in a row, unfinished."""
        return sorted(n for n, p in self._now.lists.items() if p.restarts >= runs)

    def finish(self) -> None:
        """The sync was not interrupted: the next run starts afresh."""
        self._state.interrupted = None


def beyond(after: tuple, before: tuple) -> bool:
    """True when key ``after`` comes after ``before`` (False when they cannot be compared)."""
    try:
        return after > before
    except TypeError:
        return False


def comparable_key(values: t.Iterable[object]) -> tuple | None:
    """A record's key as the list orders it: integers (ids as text too) or text.

    None when a part is neither (such a list keeps no position).
    """
    if type(values) is tuple and len(values) == 1 and type(values[0]) is int:
        return values  # one int (most lists): the key as it is
    key: list[int | str] = []
    for value in values:
        if type(value) is int:  # most keys (a bool is not one)
            key.append(value)
            continue
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int):
            key.append(value)
        elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
            key.append(int(value))
        elif isinstance(value, str):
            key.append(value)
        else:
            return None
    return tuple(key) if key else None


class ListTrail:
    """The pages one reading of a list went through, and whether it was in key order.

    ``pages`` holds each page's token with the key of its first record and the page's
    fingerprint (``pagination.page_fingerprint``); a position is the page holding a key
    (:meth:`page_holding`).
    """

    def __init__(self) -> None:
        """An empty trail."""
        self.pages: list[tuple[PageToken, tuple, str]] = []
        self.last: tuple | None = None
        self.ordered = True
        #: A record without a comparable key was read: no page can be named by its keys.
        self.keyless = False

    def see(self, token: PageToken, key: tuple | None, page_keys: str = "") -> None:
        """A record with ``key`` came from the page asked for with ``token`` (``page_keys``)."""
        if key is None:
            self.ordered = False
            self.keyless = True
            return
        last = self.last
        if last is not None:
            try:  # beyond(key, last), without a call per record
                after = key > last
            except TypeError:
                after = False
            if not after:
                self.ordered = False
        pages = self.pages
        if not pages or (pages[-1][0] is not token and pages[-1][0] != token):
            pages.append((token, key, page_keys))
        self.last = key

    def page_holding(self, key: tuple) -> tuple[int, PageToken, tuple, str] | None:
        """The page that holds ``key``: its place in the trail, token, first key, fingerprint.

        In key order: the last page read that begins at or before ``key``. Out of key order,
        only the page of the last record read can be named (by its fingerprint). None when
        no page can be.
        """
        if not self.ordered:
            if self.keyless or key != self.last or not self.pages or not self.pages[-1][2]:
                return None
            token, first, page_keys = self.pages[-1]
            return len(self.pages) - 1, token, first, page_keys
        found = None
        for index, (token, first, page_keys) in enumerate(self.pages):
            if not beyond(first, key):
                found = index, token, first, page_keys
        return found


def within(low: tuple, key: tuple, high: tuple) -> bool:
    """True when ``low <= key <= high`` (False when they cannot be compared)."""
    try:
        return low <= key <= high
    except TypeError:
        return False
