"""Reading KnowBe4 answers: the one gate every body passes before it becomes records.

A body is decoded once per response (cached on it), then checked against the shape the
endpoint must have: a list endpoint answers a JSON array or the cursor envelope
``{"data": [...], "pagination": {...}}``; a single-object endpoint answers an object (or a
one-element array, as some docs samples show). Anything else, an empty body, ``null``, a
scalar, an object where a list belongs, an array holding something other than records, an
envelope whose ``pagination`` is not an object, is an :class:`InvalidBodyError`: the
request is retried, then the stream fails clearly instead of ending the listing early,
dropping records or inventing one. Strings with lone surrogates (which no UTF-8 writer can encode)
are repaired with U+FFFD, and the API key, should a server echo it, is masked.
"""

from __future__ import annotations

import json
import re
import typing as t
from urllib.parse import parse_qs, urlsplit

from tap_knowbe4.redact import REDACTOR

if t.TYPE_CHECKING:
    import requests

_CACHE_ATTR = "_tap_knowbe4_body"
_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_CURSOR_OK = re.compile(r"[\x21-\x7e]{1,512}")
#: More objects than any page holds (500 records of a few nested objects each): a body
#: with more is refused before it is decoded into millions of dictionaries.
MOST_OBJECTS = 100_000


class InvalidBodyError(ValueError):
    """The body is not JSON, or not the shape this endpoint answers."""


@t.final
class Page:
    """One decoded answer: its records, what it says about the next page, and oddities."""

    __slots__ = ("next_cursor", "records")

    def __init__(self, records: list[dict], next_cursor: str | None) -> None:
        """A page of ``records``; ``next_cursor`` is None (not said), "" (end) or a cursor."""
        self.records = records
        self.next_cursor = next_cursor


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


def decoded_body(response: requests.Response) -> t.Any:
    """The JSON body, decoded once per response; :class:`InvalidBodyError` if it is not JSON."""
    cached = response.__dict__.get(_CACHE_ATTR, _CACHE_ATTR)
    if cached is not _CACHE_ATTR:
        return cached
    content = response.content
    if not content or not content.strip():
        msg = "the body is empty"
        raise InvalidBodyError(msg)
    if content.count(b"{") > MOST_OBJECTS:
        msg = f"the body holds more than {MOST_OBJECTS:,} objects, more than any page"
        raise InvalidBodyError(msg)
    try:
        body = json.loads(content)
    except (ValueError, RecursionError) as exc:
        msg = "the body is not valid JSON (truncated or corrupted)"
        raise InvalidBodyError(msg) from exc
    if _SURROGATE_ESCAPE.search(content):
        body = _walk_strings(body, _repair_surrogates)
    if REDACTOR.found_in(content):  # a server echoing the key must not put it into records
        body = _walk_strings(body, REDACTOR)
    response.__dict__[_CACHE_ATTR] = body
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


def read_page(response: requests.Response, *, is_list: bool) -> Page:
    """Check the body's shape for this endpoint and return its records and next cursor."""
    body = decoded_body(response)
    if not is_list:
        if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
            body = body[0]
        if not isinstance(body, dict) or not body:
            msg = f"expected one JSON object, got {_kind(body)}"
            raise InvalidBodyError(msg)
        return Page([body], None)
    if isinstance(body, list):
        return Page(_objects(body), _header_cursor(response))
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        pagination = body.get("pagination", {})
        if pagination is None:
            pagination = {}
        if not isinstance(pagination, dict):
            msg = f"the envelope's pagination is {_kind(pagination)}, not an object"
            raise InvalidBodyError(msg)
        cursor = pagination.get("next_cursor")
        return Page(_objects(body["data"]), _cursor_text(cursor))
    msg = f"expected a JSON array of records, got {_kind(body)}"
    raise InvalidBodyError(msg)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object" if value else "an empty object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _cursor_text(value: object) -> str:
    """An envelope's next cursor as text ("" = no next page)."""
    if value is None or value is False or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        msg = f"the next cursor is {_kind(value)}"
        raise InvalidBodyError(msg)
    text = str(value).strip()
    if not _CURSOR_OK.fullmatch(text):
        msg = "the next cursor is not printable text of at most 512 characters"
        raise InvalidBodyError(msg)
    return text


def _header_cursor(response: requests.Response) -> str | None:
    """The next cursor from ``X-Next-Cursor`` or a ``Link: rel=next`` header.

    None when the response says nothing about cursors, ``""`` when it says there is no
    next page. A cursor inside a Link URL is percent-decoded once (it is part of a URL);
    a header cursor is an opaque token and is sent back as it came.
    """
    if "X-Next-Cursor" in response.headers:
        return _cursor_text(response.headers["X-Next-Cursor"])
    link = response.headers.get("Link")
    if not link:
        return None
    match = _LINK_NEXT.search(link)
    if match is None:
        return None  # other relations only: says nothing about a next page
    values = parse_qs(urlsplit(match.group(1)).query).get("cursor")
    return _cursor_text(values[0]) if values else None
