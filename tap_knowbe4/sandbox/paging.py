"""Page-number and cursor paging over a list endpoint's items.

Page mode: ``page`` (1-based, default 1) and ``per_page`` (default 100, clamped to 1..500); a
page past the end is ``[]``. Cursor mode: ``cursor=true`` (or ``0``) starts, and the next cursor
is the ordering key of the last item returned, given while more items follow.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 500
CURSOR_STARTS = ("", "true", "0")


class BadCursorError(ValueError):
    """A cursor the server cannot interpret (answered 400)."""


@dataclass(frozen=True)
class PageRequest:
    """How a list request wants to be paged."""

    cursor_mode: bool
    page: int
    per_page: int
    cursor: str | None


def _positive(value: str | None, default: int) -> int:
    try:
        n = int(value) if value is not None else default
    except ValueError:
        return default
    return n if n >= 1 else default


def parse_paging(query: dict[str, str], pagination: str, cap: int = MAX_PER_PAGE) -> PageRequest:
    """Read ``page``/``per_page``/``cursor`` under the server's pagination mode.

    ``pagination`` is ``page`` (cursor ignored), ``cursor`` (page ignored; always cursor paging)
    or ``both`` (cursor paging when a ``cursor`` parameter is present).
    """
    per_page = min(_positive(query.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE, cap)
    raw = query.get("cursor")
    cursor_mode = pagination == "cursor" or (pagination == "both" and raw is not None)
    if cursor_mode:
        token = None if raw is None or raw.strip().lower() in CURSOR_STARTS else raw.strip()
        return PageRequest(True, 1, per_page, token)
    return PageRequest(False, _positive(query.get("page"), 1), per_page, None)


def window(keys: list[Any], req: PageRequest) -> tuple[int, int, str | None]:
    """(start, end, next_cursor) of the requested page over items ordered by ``keys``."""
    if not req.cursor_mode:
        start = (req.page - 1) * req.per_page
        return start, start + req.per_page, None
    start = 0
    if req.cursor is not None:
        after: Any = req.cursor
        if keys and isinstance(keys[0], int):
            try:
                after = int(req.cursor)
            except ValueError as exc:
                raise BadCursorError(f"Invalid cursor: {req.cursor}") from exc
        start = bisect.bisect_right(keys, after)
    end = min(start + req.per_page, len(keys))
    next_cursor = str(keys[end - 1]) if end < len(keys) and end > start else None
    return start, end, next_cursor
