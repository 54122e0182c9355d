"""Page-number and cursor pagination for KnowBe4 list endpoints.

The Reporting API pages with ``page``/``per_page`` and is moving to cursors (reference
§2). One paginator handles both:

* ``page`` mode stops on a short page, so only a list whose size is an exact multiple of
  the page size costs a trailing empty request;
* ``cursor`` mode follows the next cursor (header, envelope or Link) until it is empty;
* ``auto`` asks for a cursor first and falls back to page numbers when the answer
  carries none.

A server that ignores ``page`` would send the same page forever: the stream asks
:meth:`KnowBe4Paginator.is_repeat` before emitting a page's records, and a repeated page
ends paging with a warning instead of duplicates or an endless loop.
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing as t
from urllib.parse import urlparse

from singer_sdk.pagination import BaseAPIPaginator

from tap_knowbe4.errors import UnexpectedResponseError
from tap_knowbe4.payload import next_cursor_of, parsed_body, records_of

if t.TYPE_CHECKING:
    import requests


@dataclasses.dataclass(frozen=True)
class PageToken:
    """Where the next request starts: a page number or a cursor (exactly one is set)."""

    page: int | None = None
    cursor: str | None = None

    def as_params(self) -> dict[str, t.Any]:
        """The query parameters that select this page."""
        if self.cursor is not None:
            return {"cursor": self.cursor}
        return {"page": self.page}


class KnowBe4Paginator(BaseAPIPaginator[PageToken]):
    """Paginator for KnowBe4 list endpoints (page numbers and cursors)."""

    def __init__(self, page_size: int, mode: str = "auto") -> None:
        """Start at page 1, or at ``cursor=true`` in ``auto``/``cursor`` mode."""
        start = PageToken(page=1) if mode == "page" else PageToken(cursor="true")
        super().__init__(start)
        self.page_size = page_size
        self.mode = mode
        self.repeated = False
        self.speaks_cursor = False
        self._last_fingerprint: bytes | None = None

    def is_repeat(self, response: requests.Response) -> bool:
        """True when this response repeats the previous page (a server ignoring paging)."""
        fingerprint = hashlib.blake2b(response.content, digest_size=16).digest()
        repeat = fingerprint == self._last_fingerprint and bool(records_of(parsed_body(response)))
        self._last_fingerprint = fingerprint
        if repeat:
            self.repeated = True
        return repeat

    def has_more(self, response: requests.Response) -> bool:
        """Stop after a repeated page; otherwise :meth:`get_next` decides."""
        return not self.repeated

    def get_next(self, response: requests.Response) -> PageToken | None:
        """The token of the next page, or None when this was the last one."""
        body = parsed_body(response)
        count = len(records_of(body))
        current = self.current_value
        cursor = next_cursor_of(response, body)
        if cursor is not None and current.cursor is not None:
            self.speaks_cursor = True
        if self.speaks_cursor:
            # The server speaks cursors: follow them; an empty or absent cursor ends the list.
            if not cursor or cursor == current.cursor or count == 0:
                return None
            return PageToken(cursor=cursor)
        if count < self.page_size:
            return None
        if self.mode == "cursor":
            msg = (
                f"pagination is 'cursor' but {urlparse(response.url).path} returned a full page "
                "without a next cursor; set pagination to 'auto' to page by number instead."
            )
            raise UnexpectedResponseError(msg)
        page = 1 if current.page is None else current.page
        return PageToken(page=page + 1)
