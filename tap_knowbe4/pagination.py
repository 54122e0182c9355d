"""Page-number and cursor pagination for KnowBe4 list endpoints, defended against servers.

The Reporting API pages with ``page``/``per_page`` and is moving to cursors (reference §2).
One paginator per listing handles both:

* ``page`` mode stops on a short page, so only a list whose size is an exact multiple of
  the page size costs a trailing empty request;
* ``cursor`` mode follows the next cursor (envelope, ``X-Next-Cursor`` or ``Link``) until
  the server says there is none;
* ``auto`` asks for a cursor first and pages by number when the answer carries none.

What a server may do wrong, and what the paginator does about it:

* **more rows than ``per_page``**: where the reference says the endpoint may answer its
  whole list at once (user risk histories), that page is the list (no second request);
  elsewhere page 2 is asked for once: the same rows again mean the whole list, new rows
  mean pages of the server's own size, read on until a short one;
* **a full first page whose cursor says it is the last**: page 2 is asked for once (a
  server that does not really page by cursor would otherwise lose the rest);
* **a short first page of a typical cap size** (a multiple of 10 or 25): the server may cap
  ``per_page``; one probe of page 2 with that size tells, and paging continues at the
  server's size;
* **cursors that repeat** (A → B → A) or **a page whose every record was seen before** (a
  server ignoring ``page``): paging stops, the repeated records are not emitted, and the
  listing counts as failed (records may be missing), except when page 2 merely repeats a
  page 1 that came from an endpoint documented to answer everything at once, or that a
  cursor said was the last: then page 1 was the whole list;
* **an empty page that still names a next cursor**: followed, up to three in a row.
"""

from __future__ import annotations

import dataclasses
import typing as t
from urllib.parse import urlparse

from singer_sdk.pagination import BaseAPIPaginator

from tap_knowbe4.errors import UnexpectedResponseError

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
    if isinstance(value, (dict, list)):
        return repr(value)
    return str(value).strip() if value is not None else None


@dataclasses.dataclass(frozen=True)
class PageToken:
    """Where the next request starts: a page number or a cursor, and the page size."""

    page: int | None = None
    cursor: str | None = None
    per_page: int | None = None

    def as_params(self) -> dict[str, t.Any]:
        """The query parameters that select this page."""
        params: dict[str, t.Any] = {}
        if self.per_page is not None:
            params["per_page"] = self.per_page
        if self.cursor is not None:
            params["cursor"] = self.cursor
        else:
            params["page"] = self.page
        return params


class KnowBe4Paginator(BaseAPIPaginator[PageToken]):
    """Paginator for one KnowBe4 listing (page numbers and cursors)."""

    def __init__(
        self,
        page_size: int,
        mode: str = "auto",
        *,
        key_of: t.Callable[[dict], t.Hashable] | None = None,
        may_ignore_paging: bool = False,
        start: PageToken | None = None,
    ) -> None:
        """Start at page 1, or at ``cursor=true`` in ``auto``/``cursor`` mode.

        ``key_of`` reads a record's identity within the listing (for repeats);
        ``may_ignore_paging`` marks endpoints documented to answer everything at once;
        ``start`` resumes a list an earlier run stopped reading (``resume.py``).
        """
        first = PageToken(page=1) if mode == "page" else PageToken(cursor="true")
        super().__init__(start or dataclasses.replace(first, per_page=page_size))
        #: True when the listing starts where an earlier run stopped, not at its beginning.
        self.resumed = start is not None
        self.page_size = page_size
        self.mode = mode
        self.key_of = key_of
        self.may_ignore_paging = may_ignore_paging
        self.speaks_cursor = False
        #: Why paging stopped early (records may be missing), or "" when it did not.
        self.broken = ""
        #: What was noticed along the way (for the run summary).
        self.notes: list[str] = []
        #: Records dropped because an earlier page of this listing already had them.
        self.repeated_records = 0
        self._stop = False
        self._cursors: set[str] = set()
        self._seen: set[t.Hashable] = set()
        self._pages = 0
        self._first_keys: list[t.Hashable] | None = None
        self._end_claimed = False
        self._oversized = False
        self._server_size = 0
        self._empty_cursor_pages = 0
        self._probing_cap: int | None = None
        self._last_page: Page | None = None

    # -- records --------------------------------------------------------------------

    def accept(self, page: Page) -> list[dict]:
        """The records of ``page`` not seen before in this listing; detects repeats."""
        self._pages += 1
        self._last_page = page
        records = page.records
        if page.next_cursor:
            if page.next_cursor in self._cursors or page.next_cursor == "true":
                self._fail("the server's cursors went in a circle")
            self._cursors.add(page.next_cursor)
        if self.key_of is None or not records:
            return records
        keys = [_comparable_key(self.key_of(r)) for r in records]
        if self._first_keys is None:
            self._first_keys = keys
        fresh = []
        for key in keys:  # repeats within the page count too
            fresh.append(key not in self._seen)
            self._seen.add(key)
        if not any(fresh):
            whole = self.may_ignore_paging or self._end_claimed or self._oversized
            if self._pages == 2 and keys == self._first_keys and whole:
                # page 2 repeats page 1: the server ignores `page`, and page 1 was the list
                # (it was short, or the endpoint is documented to answer everything at once)
                self.notes.append("the endpoint ignores paging: its first page was the list")
                self._stop = True
            else:
                self._fail("the server sent a page whose records were all sent before")
            self.repeated_records += len(records)
            return []
        if all(fresh):
            return records
        self.repeated_records += fresh.count(False)
        return [r for r, new in zip(records, fresh, strict=True) if new]

    def _fail(self, why: str) -> None:
        self.broken = why
        self._stop = True

    # -- the SDK's paginator protocol -------------------------------------------------

    def has_more(self, response: requests.Response) -> bool:
        """False once a repeat (or a whole-list answer) ended this listing."""
        return not self._stop

    def continue_if_empty(self, response: requests.Response) -> bool:
        """An empty page ends the listing, unless a cursor says more follows (a few times)."""
        page = self._last_page
        if page is None or not page.next_cursor or self.current_value.cursor is None:
            return False
        self._empty_cursor_pages += 1
        if self._empty_cursor_pages > MAX_EMPTY_CURSOR_PAGES:
            self._fail("the server's cursor led through empty pages without end")
            return False
        self.speaks_cursor = True
        return True

    def get_next(self, response: requests.Response) -> PageToken | None:
        """The token of the next page, or None when this was the last one."""
        current = self.current_value
        page = self._last_page
        if page is None:  # pragma: no cover - accept() always runs first
            return None
        count = len(page.records)
        if count:
            self._empty_cursor_pages = 0
        if page.next_cursor is not None and current.cursor is not None:
            self.speaks_cursor = True
        asked = current.per_page or self.page_size
        if self.speaks_cursor:
            # The server speaks cursors: follow them; an empty or absent cursor ends it.
            if not page.next_cursor or page.next_cursor == current.cursor:
                if self._pages == 1 and count >= asked and count and not self.resumed:
                    # a full first page said to be the last: page 2 confirms it
                    self.speaks_cursor, self._end_claimed = False, True
                    return PageToken(page=2, per_page=asked)
                return None
            return PageToken(cursor=page.next_cursor, per_page=current.per_page)
        if self._server_size:  # the server pages by its own size
            asked = self._server_size
        if count > asked:
            if self.may_ignore_paging or self._oversized:
                self.notes.append("the endpoint ignores per_page: one answer held the list")
                return None
            # more than asked, where the API is not known to answer everything at once:
            # page 2 (asked for once) tells a whole list from pages of the server's own size
            self._oversized = True
            self._server_size = count
            return PageToken(page=(current.page or 1) + 1, per_page=current.per_page)
        number = current.page or 1
        if self._end_claimed and number == 2:
            self.notes.append("a cursor said the list ended, but page 2 held more")
        if self._probing_cap is not None:  # the probe found a page 2: the server caps
            self.notes.append(f"the server caps per_page at {self._probing_cap}")
            self._probing_cap = None
        elif number == 1 and count < asked and is_typical_cap(count):
            self._probing_cap = count
            return PageToken(page=2, per_page=count)
        if count < asked:
            return None
        if self.mode == "cursor":
            msg = (
                f"pagination is 'cursor' but {urlparse(response.url).path} returned a full page "
                "without a next cursor; set pagination to 'auto' to page by number instead."
            )
            raise UnexpectedResponseError(msg)
        return PageToken(page=number + 1, per_page=current.per_page or asked)


def _comparable_key(key: t.Hashable) -> t.Hashable:
    if isinstance(key, tuple):
        return tuple(_comparable(v) for v in key)
    return _comparable(key)
