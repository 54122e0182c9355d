"""Paging through one KnowBe4 listing, ending it only on positive evidence.

The Reporting API pages with ``page``/``per_page`` and is moving to cursors (reference §2.3);
where the next cursor comes back is undocumented. One paginator per listing reads whatever
the server sends (:class:`tap_knowbe4.payload.Page` says what an answer named) and either
reads the list whole or fails it: **a listing ends only where one of these says so**, and
:attr:`KnowBe4Paginator.ended_by` records which one did.

=====================================  ============================================================
Where the tap concludes "end of list"  The evidence
=====================================  ============================================================
an explicit end marker                 ``X-Next-Cursor`` present and empty; an envelope member
                                       naming the next page that is null, empty or false;
                                       ``has_more: false``; ``is_last_page: true``. On a full
                                       page no cursor led to, page 2 confirms it (the same
                                       records, or none): a proxy may add the header everywhere
an empty page                          no records (unless it names a next cursor: followed, at
                                       most three empty pages in a row); under ``auto`` an
                                       empty answer to ``cursor=true`` only once page 1 by
                                       number is empty too, or the endpoint answered
                                       ``cursor=true`` with records before in the run
a short page                           fewer records than a full page (what was asked, or the
                                       size the server showed it pages by); a first page of a
                                       round size (a multiple of 10 or 25) below the asked size
                                       may be a server's cap: page 2 at that size is asked
                                       first, and the list goes on at the server's size; under
                                       ``cursor`` (no page asked by number) it is probed as a
                                       silent full page is (SIM-27)
a cursor that stopped                  a page reached by following a cursor that names none:
                                       the place that named every earlier page names no more.
                                       A full page there (as many records as asked, or as the
                                       largest page that named a next cursor: a server paging at
                                       a size of its own) is asked again (attack 9 #5: a proxy or
                                       a server's slip may drop the next cursor once): the same
                                       records naming none again, an explicit end or a short
                                       page end the list; a next cursor is followed (a page
                                       there saying more follows, naming no cursor, is asked
                                       again too: attack 11 #6)
the probe of a silent full page        page 1 full and naming nothing, page 2 the same records
                                       (the server ignores ``page``): the first request is sent
                                       again with ``per_page`` one lower; if that answer names a
                                       next cursor, the server names cursors, and it is followed
                                       (a page whose cursor was dropped once ends nothing): the
                                       list ends where its cursors stop
one answer, where documented           endpoints the reference documents as answering everything
                                       at once (user risk histories): more rows than a page, or
                                       the probe above answering more rows than asked (the
                                       server ignores ``page`` and ``per_page``); in ``page``
                                       mode too, the probe then sent with ``per_page`` alone
=====================================  ============================================================

Nothing else ends a list. A full page that names no next page is followed by page 2
(``auto`` and ``page`` modes); when nothing gives the rest (page 2 repeats page 1 and the probe
finds no cursor, a page of records all sent before, cursors in a circle, a link or
``has_more: true`` naming a next page the tap cannot ask for) the listing **fails**: the stream
is not complete (no ACTIVATE_VERSION, nothing settled, exit non-zero) and :attr:`broken` is one
line naming the endpoint and the answer's shape.

Requests: exactly the pages when a cursor or an explicit end is given (plus page 2 for a list
exactly one page long whose end marker no cursor led to); one more (the empty or short page)
when a list is an exact multiple of the page size and ends by page number, or when its last
page, reached by a cursor, is full and names nothing (asked again); the probe costs one
request, only when page 1 is full, names nothing, and page 2 repeats it (in ``cursor`` mode,
where page 2 is never asked, at once), and one more page of the cursor it names (the
record that the smaller page left over).
Endpoints documented as unpaginated get the fewest parameters that give the whole answer
whichever reading of the documentation holds: their own and ``per_page`` (no ``page``, no
``cursor``, no probe for a cap). A peer sends ``full=true`` alone; where the endpoint does page,
that answers the API's default 100 rows and costs a request per 100, while ``per_page`` is
ignored where it does not.

Records are never dropped here: the same record sent twice is the reading policy's business
(:class:`tap_knowbe4.repeats.ListingRepeats`); this module only uses the records' keys as
evidence (a page whose records were all sent before).
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing as t

from singer_sdk.pagination import BaseAPIPaginator

if t.TYPE_CHECKING:
    import requests

    from tap_knowbe4.payload import Page

#: How many empty pages in a row a cursor may lead through before the listing fails.
MAX_EMPTY_CURSOR_PAGES = 3


def is_typical_cap(count: int) -> bool:
    """True for page sizes a server might cap ``per_page`` at: multiples of 10 or 25."""
    return count >= 10 and (count % 10 == 0 or count % 25 == 0)


def _comparable(value: t.Any) -> t.Hashable:
    """A key value compared across pages: ``100`` and ``"100"`` alike; lists and objects too."""
    if type(value) is int:  # most keys: the text of an int has nothing to strip
        return str(value)
    if isinstance(value, (dict, list)):
        return repr(value)
    return str(value).strip() if value is not None else None


def page_fingerprint(keys: t.Sequence[t.Hashable]) -> str:
    """16 hex digits naming a page by its records' keys, in order (record ids, nothing else).

    A page read again with the same fingerprint holds the same records in the same order: the
    records before it did not shift across its start, whatever order the list's keys come in
    (``resume.py``).
    """
    return hashlib.sha256(repr(list(keys)).encode()).hexdigest()[:16] if keys else ""


def _comparable_key(key: t.Hashable) -> t.Hashable:
    if type(key) is tuple and len(key) == 1 and type(key[0]) is int:
        return (str(key[0]),)  # one int (most lists)
    if isinstance(key, tuple):
        return tuple(map(_comparable, key))
    return _comparable(key)


@dataclasses.dataclass(frozen=True)
class PageToken:
    """Where the next request starts: a page number or a cursor, and the page size.

    Fields that are None are not sent, nor ``again``.
    """

    page: int | None = None
    cursor: str | None = None
    per_page: int | None = None
    #: The same page asked a second time (a full page at a cursor naming none): never sent,
    #: it tells the SDK's loop guard (two equal tokens in a row) this is no loop.
    again: bool = False

    def as_params(self) -> dict[str, t.Any]:
        """The query parameters that select this page."""
        params: dict[str, t.Any] = {}
        if self.per_page is not None:
            params["per_page"] = self.per_page
        if self.cursor is not None:
            params["cursor"] = self.cursor
        elif self.page is not None:
            params["page"] = self.page
        return params


class KnowBe4Paginator(BaseAPIPaginator[PageToken]):
    """Paginator for one KnowBe4 listing (page numbers and cursors; see the module)."""

    def __init__(
        self,
        page_size: int,
        mode: str = "auto",
        *,
        key_of: t.Callable[[dict], t.Hashable] | None = None,
        may_ignore_paging: bool = False,
        start: PageToken | None = None,
        start_keys: str | None = None,
        cursor_understood: bool = False,
    ) -> None:
        """Start at page 1 (``page`` mode), ``cursor=true`` (``auto``, ``cursor``), or bare.

        ``key_of`` reads a record's identity within the listing (for repeated pages);
        ``may_ignore_paging`` marks endpoints documented to answer everything at once: their
        first request carries ``per_page`` only (no ``page``, no ``cursor``). ``start``
        resumes a list an earlier run stopped reading (``resume.py``): at a cursor the listing
        goes on following cursors, at a page number by number, with the page size it had.
        ``start_keys``: the :func:`page_fingerprint` that page had then. When the page
        answered there has it too, it is that very page (:attr:`start_proven`): what it says
        about the end of the list is evidence, as on any page this run reached.
        ``cursor_understood``: an earlier listing of this endpoint in the run answered
        ``cursor=true`` with records or named a cursor, so an empty answer to ``cursor=true``
        is an empty list (else page 1 by number tells).
        """
        if start is not None:
            first = start
        elif may_ignore_paging and mode != "cursor":
            first = PageToken(per_page=page_size)
        elif mode == "page":
            first = PageToken(page=1, per_page=page_size)
        else:
            first = PageToken(cursor="true", per_page=page_size)
        super().__init__(first)
        size = first.per_page or page_size
        self.page_size = page_size
        self.mode = mode
        self.key_of = key_of
        self.may_ignore_paging = may_ignore_paging
        #: Records a full page holds (asked, the API's default, or the server's own size).
        self.size = size
        #: Why the listing failed (records may be missing), or "" when it did not.
        self.broken = ""
        #: The evidence that ended the listing (see the module docstring).
        self.ended_by = ""
        #: What was noticed along the way (for the run summary).
        self.notes: list[str] = []
        #: True when the listing ended on no evidence of this run's own: the cursor an
        #: earlier run kept led to a page naming nothing (a server that no longer reads
        #: cursors answers its first page there). The list must be read from its start.
        self.resume_unproven = False
        self._phase = "first"  # first, number, cap, cursor, probe, again
        self._resumed_cursor = False
        if start is not None and start.cursor not in (None, "true"):
            self._phase = "cursor"  # a cursor the interrupted run was following
            self._resumed_cursor = True
        elif start is not None and (start.page or 1) > 1:
            self._phase = "number"
        self._stop = False
        self._cursors: set[str] = set()
        #: Cursors this listing asked with: a page naming one of them again is a circle (one
        #: only named before, by a page not followed, is not: attack 11 #3).
        self._followed: set[str] = set()
        self._seen: set[t.Hashable] = set()
        self._first_keys: list[t.Hashable] | None = None
        self._first: Page | None = None
        self._repeats_first = False
        self._all_seen = False
        self._page_ignored = False
        self._end_claimed = False
        self._empty_cursor_pages = 0
        self._last_page: Page | None = None
        self._again_keys = ""
        self._again_set: frozenset[t.Hashable] = frozenset()
        #: The keys of the last page accepted, in no order (a page asked again is compared
        #: by them: the same records in another order are the same page, attack 11 #4).
        self._page_set: frozenset[t.Hashable] = frozenset()
        #: The most records a page naming a next cursor held: the server's own page size
        #: where it pages by cursor below ``per_page`` (0: no cursor named yet). A page that
        #: large is full (:meth:`_full`), whatever was asked.
        self._served = 0
        #: The :func:`page_fingerprint` of the last page accepted ("" before any).
        self.page_keys = ""
        #: True when the first page, at ``start``, had the fingerprint kept with it.
        self.start_proven = False
        self._start_keys = start_keys if start is not None else None
        #: An empty first answer to ``cursor=true`` is checked by page 1 by number (attack 8
        #: #1): False once asked, or when the server showed it reads cursors here.
        self._check_empty_start = mode == "auto" and not cursor_understood
        self._asking_page_one = False
        #: True when ``cursor=true`` was answered empty and page 1 by number held records:
        #: the server does not read ``cursor`` here (page by number from now on).
        self.cursor_answered_empty = False
        self._start_had_records = False

    @property
    def speaks_cursor(self) -> bool:
        """True once the listing follows a cursor the server named."""
        return self._phase == "cursor"

    @property
    def cursor_start_answered(self) -> bool:
        """True when ``cursor=true`` was answered with records, or a cursor was named.

        The server then reads ``cursor`` (or ignores it and answers page 1) on this
        endpoint: an empty answer to ``cursor=true`` in another of its listings is an empty
        list, not a cursor it could not read.
        """
        return self._start_had_records or bool(self._cursors)

    # -- records --------------------------------------------------------------------

    def accept(self, page: Page) -> list[dict]:
        """Observe ``page`` (its keys, its cursor); return its records, all of them."""
        self._last_page = page
        if self._asking_page_one:
            self._asking_page_one = False
            self.cursor_answered_empty = bool(page.records)
        elif page.records and self._phase == "first" and self.current_value.cursor == "true":
            self._start_had_records = True
        if page.single:
            self.notes.append("an object where a list belongs: read as one record")
        asked = self.current_value.cursor
        if asked is not None and asked != "true":
            self._followed.add(asked)
        if page.next_cursor and self.mode != "page":  # cursors followed must not repeat
            if page.next_cursor in self._followed or page.next_cursor == "true":
                self._fail(page, "its cursors went in a circle")
            self._cursors.add(page.next_cursor)
            if self._phase != "probe":  # the probe asks for fewer on purpose
                self._served = max(self._served, len(page.records))
        self._repeats_first = self._all_seen = False
        self.page_keys = ""
        self._page_set = frozenset()
        expected, self._start_keys = self._start_keys, None  # the first page only
        if self.key_of is None or not page.records:
            return page.records
        keys = [  # one int (most lists) at once, as _comparable_key gives it; the rest through it
            (str(key[0]),)
            if type(key) is tuple and len(key) == 1 and type(key[0]) is int
            else _comparable_key(key)
            for key in map(self.key_of, page.records)
        ]
        self.page_keys = page_fingerprint(keys)
        self._page_set = frozenset(keys)
        if expected is not None:
            self.start_proven = self.page_keys == expected
        if self._first_keys is None:
            self._first_keys, self._first = keys, page
        elif self._phase != "probe" and all(key in self._seen for key in keys):
            self._all_seen = True
            self._repeats_first = keys == self._first_keys
        self._seen.update(keys)
        return page.records

    # -- the SDK's paginator protocol -------------------------------------------------

    def has_more(self, response: requests.Response) -> bool:
        """False once the listing ended or failed."""
        return not self._stop

    def continue_if_empty(self, response: requests.Response) -> bool:
        """An empty page ends the listing, unless a cursor says more follows (a few times)."""
        page = self._last_page
        if self._phase == "probe" and page is not None:
            self._fail(page, "asked again for one record fewer, it answered none")
            return False
        if self._phase == "again" and page is not None:
            self._fail(page, "asked again at the same cursor, it answered none")
            return False
        if self._empty_cursor_start(page):
            return True  # get_next asks page 1 by number
        if page is None or not page.next_cursor or self.mode == "page":
            self._end("an empty page")
            return False
        self._empty_cursor_pages += 1
        if self._empty_cursor_pages > MAX_EMPTY_CURSOR_PAGES:
            self._fail(page, "its cursor led through empty pages without end")
            return False
        self._phase = "cursor"
        return True

    def get_next(self, response: requests.Response) -> PageToken | None:
        """The token of the next page, or None when the listing ended or failed."""
        page = self._last_page
        if page is None or self._stop:  # pragma: no cover - accept() always runs first
            return None
        if self._asking_page_one:
            return PageToken(page=1, per_page=self.current_value.per_page)
        if page.records:
            self._empty_cursor_pages = 0
        if self._phase == "probe":
            return self._after_probe(page)
        if self._phase == "again":
            return self._after_asking_again(page)
        if self._all_seen and self._full(len(page.records)):
            return self._repeated(page)  # (a short one ends the list like any short page)
        if page.next_cursor and self.mode != "page":
            self._phase = "cursor"
            return PageToken(cursor=page.next_cursor, per_page=self.current_value.per_page)
        if page.next_page is not None and self.mode != "cursor":
            return self._named_page(page)
        if page.next_cursor == "" or page.more is False:
            return self._end_said(page)
        if page.more:
            return self._more_unnamed(page)
        return self._silent(page)

    def _full(self, count: int) -> bool:
        """True when a page of ``count`` records is full (see the module).

        As many as a page holds, or as many as the largest page that named a next cursor: a
        server paging by cursor at a size of its own below ``per_page`` (attack 11 #1).
        """
        return count >= self.size or (self._served > 0 and count >= self._served)

    # -- what each kind of answer leads to ----------------------------------------------

    def _empty_cursor_start(self, page: Page | None) -> bool:
        """True (once) when ``auto``'s ``cursor=true`` was answered with no records.

        That is no evidence the list is empty: a server paging by number may take ``true``
        for a cursor it cannot read and answer ``[]`` (or ``next_cursor: null``), as another
        refuses the parameter with a 400 (attack 8 #1: every user deleted by the
        ACTIVATE_VERSION that followed, exit 0). Page 1 by number tells; where the server
        answered ``cursor=true`` with records before in the run (``cursor_understood``), an
        empty answer is believed.
        """
        if (
            page is None
            or not self._check_empty_start
            or self._phase != "first"
            or page.next_cursor
            or self.current_value.cursor != "true"
        ):
            return False
        self._check_empty_start = False
        self._asking_page_one = True
        return True

    def _end_said(self, page: Page) -> PageToken | None:
        """The answer says the list ended.

        On a full page not reached by a cursor, page 2 confirms it (a proxy or a page-number
        server may add an empty ``X-Next-Cursor`` to every page): the same records again, or
        none, and the list ended.
        """
        if self._at_kept_cursor():
            self._unproven(page)
            return None
        if self._phase == "cursor" or self.mode == "cursor" or len(page.records) < self.size:
            return self._end("an explicit end marker")
        if self._end_claimed:
            self.notes.append("an explicit end on a full page was not the end: page 2 held more")
        self._end_claimed = True
        return self._by_number()

    def _at_kept_cursor(self) -> bool:
        """True on the page a kept cursor led to, before any cursor of this run's own.

        Whatever that page says about the end is no evidence: a server that no longer reads
        ``cursor`` answers its first page there.
        """
        return (
            self._phase == "cursor"
            and self._resumed_cursor
            and not self._cursors
            and not self.start_proven
        )

    def _unproven(self, page: Page) -> None:
        """The end at a kept cursor is unproven: the list must be read from its start."""
        self.resume_unproven = True
        self._fail(page, "said the list ended at the cursor an earlier run kept")

    def _silent(self, page: Page) -> PageToken | None:
        """The answer names nothing: the count and what came before decide."""
        count = len(page.records)
        if self._at_kept_cursor():
            self._unproven(page)
            return None
        if self._phase == "cursor":
            if self._full(count):
                return self._ask_again(page)
            return self._end("a cursor that stopped")
        if count > self.size:
            return self._oversized(page, count)
        if count < self.size:
            return self._short(page, count)
        if self.mode == "cursor":
            return self._probe(page)
        if self._phase == "cap":
            self.notes.append(f"the server caps per_page at {self.size}")
        return self._by_number()

    def _short(self, page: Page, count: int) -> PageToken | None:
        asked = self.current_value.per_page
        if (
            self._phase == "first"
            and self.mode != "cursor"
            and not self.may_ignore_paging  # documented not to page: no cap to find
            and asked is not None
            and count < asked
            and is_typical_cap(count)
        ):
            # a round short first page may be a server's per_page cap: page 2 at that size
            self._phase, self.size = "cap", count
            return PageToken(page=2, per_page=count)
        if (
            self._phase == "first"
            and self.mode == "cursor"
            and not self.may_ignore_paging
            and asked is not None
            and count < asked
            and is_typical_cap(count)
        ):
            # the same under ``cursor``, where no page is asked by number: a server capping
            # ``per_page`` and naming no cursor lost every later record, exit 0 (simulation
            # seed 13904, 10 of 19 users). The probe tells: one record fewer, a server
            # paging by cursor names the next one
            self.size = count
            return self._probe(page)
        if self._phase == "cap":
            self.notes.append(f"the server caps per_page at {self.size}")
        return self._end("a short page")

    def _oversized(self, page: Page, count: int) -> PageToken | None:
        """More rows than a page holds: the server does not page by the size asked."""
        if self.may_ignore_paging:
            self.notes.append("one answer held the list (documented: the endpoint ignores paging)")
            return self._end("one answer, where documented")
        if self.mode == "cursor":
            self._fail(page, f"answered {count} records for {self.size} and named no next cursor")
            return None
        if self._phase == "first":
            self.notes.append("the server pages by its own size")
        self.size = count  # page 2 tells pages of the server's own size from a whole list
        return self._by_number()

    def _by_number(self) -> PageToken:
        current = self.current_value
        self._phase = "number"
        return PageToken(page=(current.page or 1) + 1, per_page=current.per_page)

    def _named_page(self, page: Page) -> PageToken | None:
        current = self.current_value
        expected = (current.page or 1) + 1 if current.cursor is None else 2
        if page.next_page != expected:
            self._fail(page, f"named page {page.next_page} where page {expected} comes next")
            return None
        self._phase = "number"
        return PageToken(page=expected, per_page=current.per_page)

    def _more_unnamed(self, page: Page) -> PageToken | None:
        """The answer says more follows but names no next page the tap can ask for.

        At a cursor, the same cursor is asked once more: a proxy stripping ``X-Next-Cursor``
        leaves the body's ``has_more: true`` (attack 11 #6: the listing failed, exit 1).
        """
        if self._phase == "cursor":
            return self._ask_again(page)
        if self.mode == "cursor" or self._phase == "again":
            self._fail(page, "says more records follow but names no cursor the tap can send")
            return None
        return self._by_number()

    def _repeated(self, page: Page) -> PageToken | None:
        """Every record of this page was sent before."""
        if self._repeats_first and self._phase in ("number", "cap"):
            # page 2 repeats page 1: the server ignores `page`
            first = self._first or page
            if self._end_claimed:  # and page 1 said it was the last
                return self._end("an explicit end marker (page 2 repeated page 1)")
            if self.mode == "page" and not self.may_ignore_paging:
                self._fail(first, "ignores `page` (page 2 repeated page 1)")
                return None
            # documented to answer everything at once, the probe tells (SIM-20) whatever the
            # mode: a history exactly one page long failed every run under `page`
            self._page_ignored = True
            return self._probe(first)
        self._fail(page, "sent a page whose records were all sent before")
        return None

    def _probe(self, page: Page) -> PageToken | None:
        """Ask for the first page again with ``per_page`` one lower (see the module)."""
        if self.size < 2:
            self._fail(page, "named no next page, and a page of one record cannot be probed")
            return None
        self._phase = "probe"
        if self.mode == "page":  # documented unpaginated (see _repeated): per_page alone
            return PageToken(per_page=self.size - 1)
        return PageToken(cursor="true", per_page=self.size - 1)

    def _after_probe(self, page: Page) -> PageToken | None:
        first = self._first or page
        asked = self.size - 1
        if page.next_cursor and self.mode == "page":  # a cursor is not followed: as before
            self.notes.append(
                "a full page naming no next page was the whole list "
                "(asked for one record fewer, the server named a next cursor)"
            )
            return self._end("the probe of a silent full page")
        if page.next_cursor:
            # The server names cursors: the full page's silence may have been the end, or a
            # cursor dropped once (attack 9 #5). Its cursor, past the smaller page, tells;
            # asked at the full size, its page starts with the record the probe left over.
            self.notes.append(
                "a full first page named no next page; asked for one record fewer, "
                "the server named a next cursor, followed"
            )
            self._phase = "cursor"
            return PageToken(cursor=page.next_cursor, per_page=self.size)
        if len(page.records) > asked:
            if self.may_ignore_paging:
                self.notes.append(
                    "one answer held the list (documented: the endpoint ignores paging)"
                )
                return self._end("one answer, where documented")
            self._fail(first, "ignores `page` and `per_page` and names no next page")
            return None
        ignored = "ignores `page` (page 2 repeated page 1) and " if self._page_ignored else ""
        self._fail(
            first,
            f"{ignored}names no next cursor the tap can read, even asked for one record fewer",
        )
        return None

    def _ask_again(self, page: Page) -> PageToken:
        """A full page at a cursor names none: ask the same cursor once more (attack 9 #5).

        A cursor list whose every earlier page named the next one is silent on a full page:
        the end of a list exactly that long, or a cursor dropped once (a proxy stripping
        ``X-Next-Cursor``, a server's slip). Taking it for the end lost every later record
        with exit 0, and a version-aware target deleted them. One request tells.
        """
        self._phase = "again"
        self._again_keys, self._again_set = self.page_keys, self._page_set
        current = self.current_value
        return PageToken(cursor=current.cursor, per_page=current.per_page, again=True)

    def _after_asking_again(self, page: Page) -> PageToken | None:
        """The same cursor answered a second time (see :meth:`_ask_again`)."""
        if page.next_cursor:
            self.notes.append("a full page at a cursor named no next cursor once; asked again")
            self._phase = "cursor"
            return PageToken(cursor=page.next_cursor, per_page=self.current_value.per_page)
        if page.next_cursor == "" or page.more is False:
            return self._end("an explicit end marker (a full page at a cursor, asked twice)")
        if page.more:
            return self._more_unnamed(page)
        if not self._full(len(page.records)):
            return self._end("a short page (a full page at a cursor, asked twice)")
        if self.page_keys == self._again_keys or self._page_set == self._again_set:
            return self._end("a cursor that stopped (a full page, asked twice)")
        self._fail(page, "asked again at the same cursor, answered other records naming none")
        return None

    # -- endings -----------------------------------------------------------------------

    def _end(self, evidence: str) -> PageToken | None:
        """The listing ended on ``evidence``: no next page."""
        self.ended_by = evidence
        self._stop = True
        return None

    def _fail(self, page: Page, why: str) -> None:
        if self.broken:
            return
        where = f"GET {page.path}" if page.path else "the server"
        count = len(page.records)
        self.broken = (
            f"{where} answered {count} record{'s' if count != 1 else ''} ({page.shape}) "
            f"and {why}: the rest of the list cannot be read"
        )
        self._stop = True
