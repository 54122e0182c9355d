"""Reading KnowBe4 response bodies: bare arrays, single objects and cursor envelopes.

Bodies are parsed once per response and cached on it, so validation, paging and record
extraction share one ``json`` decode.
"""

from __future__ import annotations

import json
import re
import typing as t

if t.TYPE_CHECKING:
    import requests

_CACHE_ATTR = "_tap_knowbe4_body"
_LINK_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
_CURSOR_IN_URL = re.compile(r"[?&]cursor=([^&]+)")


class InvalidBodyError(ValueError):
    """The body is not valid JSON (for example a truncated response)."""


def parsed_body(response: requests.Response) -> t.Any:
    """Return the decoded JSON body, decoding it only once per response."""
    cached = response.__dict__.get(_CACHE_ATTR, _CACHE_ATTR)
    if cached is not _CACHE_ATTR:
        return cached
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError as exc:
        msg = "response body is not valid JSON (truncated or corrupted)"
        raise InvalidBodyError(msg) from exc
    response.__dict__[_CACHE_ATTR] = body
    return body


def is_envelope(body: object) -> bool:
    """True for the cursor envelope ``{"data": [...], "pagination": {...}}``."""
    return isinstance(body, dict) and isinstance(body.get("data"), list)


def records_of(body: object) -> list[dict]:
    """The records in a body: a bare array, an envelope's ``data``, or one object."""
    if isinstance(body, list):
        return body
    if is_envelope(body):
        return t.cast("dict", body)["data"]
    if isinstance(body, dict):
        return [body]
    return []


def next_cursor_of(response: requests.Response, body: object) -> str | None:
    """The next cursor, from the envelope, the ``X-Next-Cursor`` header or a Link header.

    Returns ``None`` when the response says nothing about cursors, and ``""`` when it
    says there is no next page.
    """
    if is_envelope(body):
        pagination = t.cast("dict", body).get("pagination") or {}
        value = pagination.get("next_cursor")
        return "" if value in (None, "") else str(value)
    if "X-Next-Cursor" in response.headers:
        return response.headers["X-Next-Cursor"].strip()
    link = response.headers.get("Link", "")
    match = _LINK_NEXT.search(link)
    if match:
        cursor = _CURSOR_IN_URL.search(match.group(1))
        return cursor.group(1) if cursor else None
    return None


def says_invalid_token(body: object) -> bool:
    """True for the ``{"message": "Invalid Token"}`` body some servers send with 200."""
    return (
        isinstance(body, dict)
        and "data" not in body
        and str(body.get("message", "")).strip().lower() == "invalid token"
    )
