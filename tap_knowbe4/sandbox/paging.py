"""Page-number and cursor paging over a list endpoint's items, and the rules of a server.

Page mode: ``page`` (1-based, default 1) and ``per_page`` (default 100, clamped to 1..500, and to
the endpoint's cap if it has one); a page past the end is ``[]``. Cursor mode: ``cursor=true``
(or ``0``) starts, and the next cursor is the ordering key of the last item returned (its
position, ``@<n>``, where a key is listed twice), given while more items follow. Unpaginated
endpoints answer every item to every request.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_knowbe4.sandbox.routes import match

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 500
CURSOR_STARTS = ("", "true", "0")
TRAINING_CAMPAIGNS = "/v1/training/campaigns"
TRAINING_CAMPAIGN_CAP = 10
#: Where the next cursor can be named (see ``PagingRules``), and the styles that name the end.
CURSOR_STYLES = ("header", "envelope", "metadata", "link", "links")
ENVELOPE_STYLES = ("envelope", "metadata", "links")


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


def window(
    keys: list[Any], req: PageRequest, *, ordered: bool = True
) -> tuple[int, int, str | None]:
    """(start, end, next_cursor) of the requested page over items ordered by ``keys``.

    The cursor is the key of the last item returned; where one key is listed more than once
    (``ordered`` false: the keys do not strictly increase) it is the position instead,
    ``@<n>``, so no repeated row is skipped.
    """
    if not req.cursor_mode:
        start = (req.page - 1) * req.per_page
        return start, start + req.per_page, None
    start = 0
    if req.cursor is not None:
        if req.cursor.startswith("@"):
            position = req.cursor[1:]
            if not position.isdigit():
                raise BadCursorError(f"Invalid cursor: {req.cursor}")
            start = min(int(position), len(keys))
        else:
            after: Any = req.cursor
            if keys and isinstance(keys[0], int):
                try:
                    after = int(req.cursor)
                except ValueError as exc:
                    raise BadCursorError(f"Invalid cursor: {req.cursor}") from exc
            start = bisect.bisect_right(keys, after)
    end = min(start + req.per_page, len(keys))
    if end >= len(keys) or end <= start:
        return start, end, None
    return start, end, str(keys[end - 1]) if ordered else f"@{end}"


def strictly_increasing(keys: list[Any]) -> bool:
    """True when every key is larger than the one before (cursors may be keys)."""
    try:
        return all(a < b for a, b in itertools.pairwise(keys))
    except TypeError:
        return False


@dataclass(frozen=True)
class PagingRules:
    """How a server pages each list endpoint; ``Sandbox.paging`` answers with one of these.

    * ``list_templates``: every list endpoint template (``/v1/users``,
      ``/v1/phishing/security_tests/{pst_id}/recipients``, ...).
    * ``cursor_templates``: the list templates that page by cursor when asked to (a ``cursor``
      parameter under ``pagination="both"``, always under ``"cursor"``; none under ``"page"``).
    * ``caps``: ``per_page`` cap of every capped list template (others: 500).
      ``/v1/training/campaigns`` is also capped at 10 unless ``exclude_percentages=true``.
    * ``unpaginated``: templates whose every request answers the whole list (``page``,
      ``per_page`` and ``cursor`` ignored; page 2 repeats page 1).
    * ``cursor_style``: where the next cursor is named (``header``, ``envelope``,
      ``metadata``, ``link``, ``links``, or ``varied``: one of them per list template,
      :meth:`style`); :meth:`says_end` is True where the last page says so explicitly.

    ``min_requests(template, rows, per_page, cursor=...)`` is the fewest requests a client that
    knows these rules needs to read ``rows`` records; ``template`` may also be a concrete path.
    """

    pagination: str
    cursor_style: str
    list_templates: frozenset[str]
    cursor_templates: frozenset[str]
    caps: Mapping[str, int] = field(default_factory=dict)
    unpaginated: frozenset[str] = frozenset()

    def style(self, path: str) -> str:
        """Where the next cursor of this list is named (``varied`` resolved per template)."""
        if self.cursor_style != "varied":
            return self.cursor_style
        templates = sorted(self.list_templates)
        return CURSOR_STYLES[templates.index(self.template(path)) % len(CURSOR_STYLES)]

    def says_end(self, path: str) -> bool:
        """True when the last cursor page says so (an envelope's null), not by silence."""
        return self.style(path) in ENVELOPE_STYLES

    def template(self, path: str) -> str:
        """The list template of ``path`` (a template or a concrete ``/v1/...`` path)."""
        if path in self.list_templates:
            return path
        found = match(path.split("?", 1)[0].removesuffix(".json"))
        if found is None or found[0].template not in self.list_templates:
            raise ValueError(f"{path!r} is not a list endpoint")
        return found[0].template

    def cap(self, path: str, *, exclude_percentages: bool = True) -> int:
        """Largest page the endpoint answers."""
        template = self.template(path)
        cap = min(MAX_PER_PAGE, self.caps.get(template, MAX_PER_PAGE))
        if template == TRAINING_CAMPAIGNS and not exclude_percentages:
            cap = min(cap, TRAINING_CAMPAIGN_CAP)
        return cap

    def page_size(
        self, path: str, per_page: int = DEFAULT_PER_PAGE, *, exclude_percentages: bool = True
    ) -> int:
        """Rows in a full page when a client asks for ``per_page``."""
        asked = per_page if per_page >= 1 else DEFAULT_PER_PAGE
        return min(asked, self.cap(path, exclude_percentages=exclude_percentages))

    def is_unpaginated(self, path: str) -> bool:
        """True when every request to the endpoint answers the whole list."""
        return self.template(path) in self.unpaginated

    def pages_by_cursor(self, path: str, cursor: bool = True) -> bool:
        """True when a client asking for cursors (``cursor``) gets cursor paging here."""
        template = self.template(path)
        if template in self.unpaginated or template not in self.cursor_templates:
            return False
        return self.pagination == "cursor" or (self.pagination == "both" and cursor)

    def min_requests(
        self,
        path: str,
        rows: int,
        per_page: int = MAX_PER_PAGE,
        *,
        cursor: bool = False,
        exclude_percentages: bool = True,
    ) -> int:
        """Fewest requests to read ``rows`` records of the endpoint.

        Unpaginated: 1. Cursor paging: ``max(1, ceil(rows / size))`` (the last page says no next
        cursor). Page numbers: ``rows // size + 1`` (a page shorter than ``size``, possibly
        empty, proves the end). ``size`` is ``page_size(path, per_page)``.
        """
        if self.is_unpaginated(path):
            return 1
        size = self.page_size(path, per_page, exclude_percentages=exclude_percentages)
        if self.pages_by_cursor(path, cursor):
            return max(1, math.ceil(rows / size))
        return rows // size + 1
