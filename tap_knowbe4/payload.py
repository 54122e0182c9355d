"""Reading KnowBe4 answers: the one gate every body passes before it becomes records.

A body is decoded once, checked against the shape its endpoint answers, and read for what it
says about the next page (:class:`Page`). What :mod:`tap_knowbe4.pagination` then concludes
from a page is documented there; this module only reports what the answer *says*.

**List endpoints** answer a JSON array, or an *envelope*: an object whose ``data`` member (or
``items``, ``results``, ``records``, ``value``) holds the records. Where the next page is named:

* in an envelope, any member whose name says *next*, at the top or inside an object member
  (``pagination.next_cursor``, ``_metadata.next_cursor``, ``meta.next_page``, ``links.next``,
  ``nextPageToken``, ``next: {"href": ...}``): a cursor, a page number, or a link whose
  ``cursor`` (or ``page``) parameter is taken; the link itself is never requested. Such a
  member that is null, empty or false is an **explicit end**, as are ``has_more: false`` and
  ``is_last_page: true``. A link naming neither parameter is a next page the tap cannot ask
  for (:attr:`Page.more`);
* otherwise the headers: ``X-Next-Cursor`` (present and empty: explicit end) and
  ``Link: <...>; rel="next"`` (its ``cursor`` or ``page`` parameter);
* an answer that names nothing is **silent** about the next page.

An end said in one place never outvotes more said in another (attack 7 #1, #3): an envelope's
end (a page-era ``meta.next_page: null``) beside a header naming the next cursor takes the
header's; an empty ``X-Next-Cursor`` (a proxy's, on every answer) beside ``Link: rel="next"``
takes the link's; ``has_more: true`` beside a null cursor is more records with nothing to ask
for (:attr:`Page.more`), never the end.

An object holding every key field of the stream where a list belongs (the documentation shows
some lists that way) is read as a list of that one record. A member of a known envelope's
paging part (``pagination``, ``_metadata``, ``meta``, ``links``, ``paging``) that is not an
object (nor an empty array, which says nothing) makes the answer unreadable.

**Single-object endpoints** answer an object (or a one-element array, as docs samples show).

Anything else (an empty body, ``null``, a scalar, an object where a list belongs, an array
holding something other than records) raises :class:`InvalidBodyError`: the request is retried,
then the stream fails clearly instead of ending the listing early, dropping records or inventing
one. ``{"message": "Invalid Token"}`` raises :class:`TokenRejectedError`. Strings with lone
surrogates (which no UTF-8 writer can encode) are repaired with U+FFFD, and the API key, should a
server echo it, is masked.
"""

from __future__ import annotations

import json
import re
import typing as t
from urllib.parse import parse_qs, urlsplit

import msgspec

from tap_knowbe4.redact import REDACTOR
from tap_knowbe4.state import MOST_PLAUSIBLE_CURSOR

if t.TYPE_CHECKING:
    import requests

_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
#: A cursor the tap sends back and keeps: printable ASCII, no spaces, as long as a state keeps.
_CURSOR_OK = re.compile(rf"[\x21-\x7e]{{1,{MOST_PLAUSIBLE_CURSOR}}}")
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORDS = re.compile(r"[a-z0-9]+")
#: More objects than any page holds (500 records of a few nested objects each): a body
#: with more is refused before it is decoded into millions of dictionaries.
MOST_OBJECTS = 100_000
#: Envelope members that may hold the records (the first one present that is an array).
RECORD_MEMBERS = ("data", "items", "results", "records", "value")
#: The paging parts of known envelopes: when present they must be objects.
PAGING_MEMBERS = ("pagination", "_metadata", "meta", "links", "paging")
#: How deep inside an envelope a member naming the next page is looked for.
_DEPTH = 3


class InvalidBodyError(ValueError):
    """The body is not JSON, or not the shape this endpoint answers."""


class TokenRejectedError(Exception):
    """The body is ``{"message": "Invalid Token"}`` (some servers send it with a 200)."""


@t.final
class Page:
    """One decoded answer: its records and what it says about the next page.

    ``next_cursor`` is None (silent), ``""`` (an explicit end) or a cursor; ``next_page`` a
    page number the answer named; ``more`` True when it says more follows without naming a
    next page the tap can ask for (False: it says the list ended); ``shape`` describes the
    answer and where the tap looked, for messages; ``path`` is the path it answered.
    """

    __slots__ = ("more", "next_cursor", "next_page", "path", "records", "shape", "single")

    def __init__(
        self,
        records: list[dict],
        next_cursor: str | None = None,
        *,
        next_page: int | None = None,
        more: bool | None = None,
        shape: str = "a JSON array",
        path: str = "",
        single: bool = False,
    ) -> None:
        """An answer holding ``records``."""
        self.records = records
        self.next_cursor = next_cursor
        self.next_page = next_page
        self.more = more
        self.shape = shape
        self.path = path
        #: True for one object read where a list belongs.
        self.single = single

    @property
    def silent(self) -> bool:
        """True when the answer names no next page and no end."""
        return self.next_cursor is None and self.next_page is None and self.more is None


def _walk_strings(value: t.Any, change: t.Callable[[str], str]) -> t.Any:
    """``value`` with ``change`` applied to every string in it, keys included.

    Decoded JSON is changed in place, without recursion: a body nested deeper than the
    interpreter's recursion limit is still only data.
    """
    if isinstance(value, str):
        return change(value)
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = change(item)
                elif isinstance(item, list | dict):
                    pending.append(item)
        elif isinstance(node, dict):
            items = list(node.items())
            node.clear()
            for key, item in items:
                if isinstance(item, str):
                    item = change(item)  # noqa: PLW2901
                elif isinstance(item, list | dict):
                    pending.append(item)
                node[change(key) if isinstance(key, str) else key] = item
    return value


def _repair_surrogates(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_DECODE = msgspec.json.Decoder().decode


def parse_json(content: bytes) -> t.Any:
    """``content`` as ``json.loads`` reads it, in half the time for the common case.

    msgspec reads strict UTF-8 JSON (a page as servers send it) and gives what ``json.loads``
    gives for it; what it refuses (``NaN``, ``1e400``, a lone surrogate escape, UTF-16, a
    byte order mark, bad JSON) is read by ``json.loads``, which accepts the first ones as
    before and raises for bad JSON (``tests/test_payload_parse.py``).
    """
    try:
        return _DECODE(content)
    except (msgspec.DecodeError, RecursionError):
        return json.loads(content)


#: A JSON string (its escapes included), or an unterminated one up to the end of the body:
#: every byte is read once (possessive), whatever the body holds.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)


def objects_in(content: bytes) -> int:
    """How many objects ``content`` opens: its ``{`` outside JSON strings.

    Asked only when the body holds more than :data:`MOST_OBJECTS` braces in all: text may
    hold braces (a comment, a custom field holding JSON, HTML), and a page whose text does is
    no body of millions of objects (attack 9 #2: one comment of 100,001 braces refused every
    page of users, every run).
    """
    return _JSON_STRING.sub(b"", content).count(b"{")


def decode_body(response: requests.Response) -> t.Any:
    """The JSON body; :class:`InvalidBodyError` if it is not JSON (or absurdly large)."""
    content = response.content
    if not content or not content.strip():
        msg = "the body is empty"
        raise InvalidBodyError(msg)
    if content.count(b"{") > MOST_OBJECTS and objects_in(content) > MOST_OBJECTS:
        msg = f"the body holds more than {MOST_OBJECTS:,} objects, more than any page"
        raise InvalidBodyError(msg)
    try:
        body = parse_json(content)
    except (ValueError, RecursionError) as exc:
        msg = "the body is not valid JSON (truncated or corrupted)"
        raise InvalidBodyError(msg) from exc
    # a backslash first: one pass of ``memchr`` (a page without escapes: ~30 times faster
    # than the pattern's search, which every escape needs anyway)
    if b"\\" in content and _SURROGATE_ESCAPE.search(content):
        body = _walk_strings(body, _repair_surrogates)
    if REDACTOR.found_in(content):  # a server echoing the key must not put it into records
        body = _walk_strings(body, REDACTOR)
    return body


def says_invalid_token(body: object) -> bool:
    """True for the ``{"message": "Invalid Token"}`` body some servers send with 200."""
    return (
        isinstance(body, dict)
        and "data" not in body
        and str(body.get("message", "")).strip().lower() == "invalid token"
    )


def _objects(items: list) -> list[dict]:
    """The items, all objects; anything else makes the page unreadable (records may be lost)."""
    for item in items:
        if not isinstance(item, dict):
            msg = f"the array holds {_kind(item)} where records belong"
            raise InvalidBodyError(msg)
    return items


def read_page(
    response: requests.Response, *, is_list: bool, key_fields: t.Sequence[str] = ()
) -> Page:
    """Check the answer's shape for this endpoint; its records and what it says next.

    ``key_fields`` are the fields that identify a record of the stream (an object holding
    them all is one record where a list belongs).
    """
    body = decode_body(response)
    if says_invalid_token(body):
        raise TokenRejectedError
    path = urlsplit(response.url or "").path
    if not is_list:
        if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
            body = body[0]
        if not isinstance(body, dict) or not body:
            msg = f"expected one JSON object, got {_kind(body)}"
            raise InvalidBodyError(msg)
        return Page([body], path=path, shape="one object")
    if isinstance(body, list):
        cursor, number, more, where = _header_next(response)
        return Page(
            _objects(body),
            cursor,
            next_page=number,
            more=more,
            shape=f"a JSON array, {where}",
            path=path,
        )
    if isinstance(body, dict):
        member = next((m for m in RECORD_MEMBERS if isinstance(body.get(m), list)), None)
        if member is not None:
            return _envelope_page(response, body, member, path)
        if key_fields and all(body.get(k) is not None for k in key_fields):
            cursor, number, more, where = _header_next(response)
            shape = f"one object where a list belongs, {where}"
            return Page(
                [body], cursor, next_page=number, more=more, shape=shape, path=path, single=True
            )
    msg = f"expected a JSON array of records, got {_kind(body)}"
    raise InvalidBodyError(msg)


def _envelope_page(response: requests.Response, body: dict, member: str, path: str) -> Page:
    for name in PAGING_MEMBERS:
        value = body.get(name)
        if value is not None and value != [] and not isinstance(value, dict):
            # an empty array says nothing (PHP encodes an empty object so); a list of links
            # or a scalar may hide the next page: unreadable
            msg = f"the envelope's {name} is {_kind(value)}, not an object"
            raise InvalidBodyError(msg)
    found = _Next()
    found.search(body, skip=member)
    members = ", ".join(list(body)[:6]) + (", ..." if len(body) > 6 else "")
    if found.said:
        where = f"the next page named by {found.where}"
        cursor, number, more = found.result()
        if cursor == "" or (cursor is None and number is None):
            # the envelope says the end (or more, naming nothing): a next page the headers
            # name is evidence of more records, never outvoted (a page-era member beside cursors)
            h_cursor, h_number, h_more, h_where = _header_next(response)
            if h_cursor or h_number is not None:
                cursor, number, more = h_cursor, h_number, None
                where = f"{where} (no page to ask for), and {h_where} naming the next page"
            elif h_more and cursor == "":
                cursor, more = None, True
                where = f"{where} (an end), and {h_where} saying more follow"
    else:
        cursor, number, more, where = _header_next(response)
        where = f"no member naming a next page, {where}"
    return Page(
        _objects(body[member]),
        cursor,
        next_page=number,
        more=more,
        shape=f"an object {{{members}}}, {where}",
        path=path,
    )


def _words(name: str) -> list[str]:
    return _WORDS.findall(_WORD_BREAK.sub("_", name).lower())


class _Next:
    """What an envelope's members say about the next page (see the module docstring)."""

    def __init__(self) -> None:
        self.cursors: list[tuple[int, str]] = []  # (rank: lower wins, cursor)
        self.pages: list[int] = []
        self.end = False
        self.more: bool | None = None
        self.places: list[str] = []

    @property
    def said(self) -> bool:
        return bool(self.cursors or self.pages or self.end or self.more is not None)

    @property
    def where(self) -> str:
        return ", ".join(self.places[:3])

    def result(self) -> tuple[str | None, int | None, bool | None]:
        """(cursor, page number, more) as a :class:`Page` holds them."""
        if self.cursors:
            return min(self.cursors, key=lambda c: c[0])[1], None, None
        if self.pages:
            return None, self.pages[0], None
        if self.more:  # more follows: an end marker elsewhere in the answer does not outvote it
            return None, None, True
        if self.end or self.more is False:
            return "", None, None
        return None, None, None

    def search(self, node: dict, *, skip: str = "", prefix: str = "", depth: int = 0) -> None:
        for name, value in node.items():
            if not isinstance(name, str) or name == skip:
                continue
            place = f"{prefix}{name}"
            words = _words(name)
            if "next" in words:
                self._next_member(place, words, value)
            elif words in (["has", "more"], ["has", "next"], ["has", "next", "page"], ["more"]):
                if isinstance(value, bool):
                    self._flag(place, more=value)
            elif words in (["is", "last", "page"], ["is", "last"]):
                if isinstance(value, bool):
                    self._flag(place, more=not value)
            elif isinstance(value, dict) and depth + 1 < _DEPTH:
                self.search(value, prefix=f"{place}.", depth=depth + 1)

    def _flag(self, place: str, *, more: bool) -> None:
        self.places.append(place)
        if more:
            self.more = True
        elif self.more is None:
            self.more = False

    def _next_member(self, place: str, words: list[str], value: t.Any) -> None:
        self.places.append(place)
        if value is None or value is False or value == "":
            self.end = True
            return
        if value is True:
            self.more = True
            return
        named_cursor = "cursor" in words or "token" in words
        if isinstance(value, dict):  # next: {"cursor": ...} or links.next: {"href": ...}
            for inner, item in value.items():
                inner_words = [*words, *_words(str(inner))]
                if item not in (None, "") and not isinstance(item, (dict, list)):
                    self._next_member(place, inner_words, item)
            return
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return  # a list or a number that is not whole: says nothing usable
        text = str(value).strip()
        if "page" in words and not named_cursor and text.isdigit() and text.isascii():
            self.pages.append(int(text))
        elif isinstance(value, str) and ("://" in text or text.startswith(("/", "?"))):
            self.link(text)
        else:
            self._cursor(0 if named_cursor else 2, value)

    def _cursor(self, rank: int, value: object) -> None:
        """A named cursor; one the tap cannot send back says only that more follows."""
        cursor = _cursor_text(value)
        if cursor is None:
            self.more = True
        else:
            self.cursors.append((rank, cursor))

    def link(self, link: str) -> None:
        """Read a next link: its ``cursor`` (or ``page``) parameter; it is never requested."""
        query = parse_qs(urlsplit(link).query)
        if query.get("cursor"):
            self._cursor(1, query["cursor"][0])
        elif query.get("page") and query["page"][0].isdigit() and query["page"][0].isascii():
            self.pages.append(int(query["page"][0]))
        else:
            self.more = True  # a next link the tap cannot ask for (no cursor, no page)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object" if value else "an empty object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _cursor_text(value: object) -> str | None:
    """A next cursor as text ("" = no next page; None: text the tap cannot send back).

    A cursor is sent back and kept in the state as it came: printable ASCII without spaces,
    at most :data:`MOST_PLAUSIBLE_CURSOR` characters. Other text (a space, a letter outside
    ASCII, longer) still says more records follow: under ``page`` and ``auto`` the list goes
    on by page number, under ``cursor`` it fails naming no cursor the tap can send (attack 9
    #3: the page was refused, retried, exit 1 every run, even under ``pagination: page``).
    """
    if value is None or value is False or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        msg = f"the next cursor is {_kind(value)}"
        raise InvalidBodyError(msg)
    text = str(value).strip()
    return text if _CURSOR_OK.fullmatch(text) else None


def _header_next(
    response: requests.Response,
) -> tuple[str | None, int | None, bool | None, str]:
    """(cursor, page number, more, where) from ``X-Next-Cursor`` or ``Link: rel=next``.

    The cursor is None when the headers say nothing, ``""`` when ``X-Next-Cursor`` is
    present and empty. A cursor inside a Link URL is percent-decoded once (it is part of a
    URL); a header cursor is an opaque token and is sent back as it came.
    """
    empty_header = unsendable = False
    if "X-Next-Cursor" in response.headers:
        text = _cursor_text(response.headers["X-Next-Cursor"])
        if text:
            return text, None, None, "X-Next-Cursor"
        unsendable, empty_header = text is None, text == ""
    link = response.headers.get("Link")
    match = _LINK_NEXT.search(link) if link else None
    if match is None:  # no Link, or other relations only: says nothing about a next page
        if unsendable:
            return None, None, True, "an X-Next-Cursor the tap cannot send back"
        if empty_header:
            return "", None, None, "an empty X-Next-Cursor"
        return None, None, None, "no X-Next-Cursor or Link: rel=next header"
    # a next link is evidence of more records: an empty X-Next-Cursor beside it (a proxy's,
    # added to every answer) does not outvote it
    found = _Next()
    found.link(match.group(1))
    cursor, number, more = found.result()
    where = 'Link: rel="next"' + (" beside an empty X-Next-Cursor" if empty_header else "")
    return cursor, number, more, where
