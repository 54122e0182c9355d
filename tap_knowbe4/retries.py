"""How long to wait before retrying: Retry-After first, capped exponential backoff otherwise."""

from __future__ import annotations

import datetime as dt
import email.utils
import typing as t

from singer_sdk.exceptions import RetriableAPIError

if t.TYPE_CHECKING:
    import requests


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def retry_after_of(exc: BaseException) -> float | None:
    """The Retry-After of the response behind a retriable error, if it has one."""
    response: requests.Response | None = getattr(exc, "response", None)
    if isinstance(exc, RetriableAPIError) and response is not None:
        return parse_retry_after(response.headers.get("Retry-After"))
    return None


def wait_generator(
    base: float = 1.0, cap: float = 60.0
) -> t.Generator[float, BaseException | None, None]:
    """A ``backoff`` wait generator: Retry-After when the server gives one, else 1, 2, 4 … s.

    ``backoff`` sends each caught exception into the generator, so the server's
    Retry-After is honoured exactly (never capped below it; the caller refuses waits that
    are too long before retrying), and other failures back off exponentially up to
    ``cap`` seconds.
    """
    attempt = 0
    exc = yield 0.0  # priming value, discarded by backoff
    while True:
        server_wait = retry_after_of(exc) if exc is not None else None
        wait = server_wait if server_wait is not None else min(cap, base * (2**attempt))
        attempt += 1
        exc = yield wait
