"""How long to wait before retrying: Retry-After when plausible, capped backoff otherwise.

``Retry-After`` comes from the server and is not trusted: a value that does not parse, is
not finite, or asks for more than a day (``inf``, ``10^20``, ``Fri, 31 Dec 9999``) is
treated as absent, with a warning, and never reaches the state.
An HTTP-date ``Retry-After`` is measured against the answer's ``Date`` header when it has
one: a server clock hours ahead made a one-second wait look like hours, "the daily quota is
spent" (attack 7 #2).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import re
import typing as t

#: Nothing the API documents lasts longer than its daily window.
LONGEST_PLAUSIBLE_WAIT = 24 * 3600.0
_SECONDS = re.compile(r"\d{1,9}(\.\d{1,6})?")

logger = logging.getLogger("tap-knowbe4.retries")


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    None when absent, unreadable or implausible (more than a day, or not finite).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds: float | None = None
    if _SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            now = now or dt.datetime.now(dt.timezone.utc)
            seconds = max(0.0, (when - now).total_seconds())
    if seconds is None or not math.isfinite(seconds) or seconds > LONGEST_PLAUSIBLE_WAIT:
        logger.warning(
            "Ignoring an implausible Retry-After header (%s); backing off instead.",
            text[:40].encode("ascii", "replace").decode(),
        )
        return None
    return seconds


def server_now(headers: t.Mapping[str, str]) -> dt.datetime | None:
    """The answer's ``Date`` header as an aware instant (None when absent or unreadable)."""
    text = headers.get("Date")
    if not text:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def retry_after_of(headers: t.Mapping[str, str]) -> float | None:
    """Seconds an answer asks to wait (None when it asks nothing plausible).

    An HTTP-date ``Retry-After`` is measured against the answer's own ``Date`` (RFC 9110
    10.2.3), so a server whose clock is far from this machine's still means the delay it
    says, not the distance between the two clocks.
    """
    return parse_retry_after(headers.get("Retry-After"), server_now(headers))


def backoff_waits(
    base: float = 1.0, cap: float = 60.0
) -> t.Generator[float, BaseException | None, None]:
    """A ``backoff`` wait generator: the answer's Retry-After, else 1, 2, 4 … s up to ``cap``.

    ``backoff`` sends each caught exception into the generator; a 503 that says when to come
    back is honoured (up to ``cap``), other failures back off exponentially.
    """
    attempt = 0
    exc = yield 0.0  # priming value, discarded by backoff
    while True:
        response = getattr(exc, "response", None)
        told = retry_after_of(response.headers) if response is not None else None
        wait = min(cap, base * (2**attempt)) if told is None else min(cap, told)
        attempt += 1
        exc = yield wait
