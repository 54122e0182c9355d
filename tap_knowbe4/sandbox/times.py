"""Time helpers: the sandbox keeps every instant as integer seconds since the Unix epoch (UTC).

Formatting follows the real API: timestamps are ``YYYY-MM-DDTHH:MM:SS.000Z`` and dates are
``YYYY-MM-DD``.
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime, timezone

DAY = 86400
HOUR = 3600


#: ``"00"`` to ``"59"``: the hour, minute and second fields of a timestamp.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))
#: ``"YYYY-MM-DDT"`` of each day number formatted so far (a sandbox spans a few thousand days).
_DAY_PREFIXES: dict[int, str] = {}


def ts(epoch: int) -> str:
    """Format an epoch second as the API's timestamp string.

    The date part is formatted once per day and the time of day from a table: every record the
    sandbox builds has a few timestamps (~220,000 in a ``make test-fast`` run), and
    ``time.gmtime`` with a formatted f-string took 2.5 us each, this 0.4 us (timeit). Same text
    as :func:`gmtime_ts` for every integer (``tests/sandbox/test_sandbox_time.py``).
    """
    if epoch.__class__ is not int:
        return gmtime_ts(epoch)
    day, second = divmod(epoch, DAY)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        prefix = _DAY_PREFIXES[day] = date_str(day * DAY) + "T"
    hour, second = divmod(second, HOUR)
    minute, second = divmod(second, 60)
    return f"{prefix}{_TWO_DIGITS[hour]}:{_TWO_DIGITS[minute]}:{_TWO_DIGITS[second]}.000Z"


def gmtime_ts(epoch: float) -> str:
    """:func:`ts` by ``time.gmtime`` (any number of seconds; the reference of its test)."""
    t = time.gmtime(epoch)
    return f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}.000Z"


def opt_ts(epoch: int | None) -> str | None:
    """Format an optional epoch second (``None`` stays ``None``)."""
    return None if epoch is None else ts(epoch)


def date_str(epoch: int) -> str:
    """Format the UTC calendar date of an epoch second as ``YYYY-MM-DD``."""
    t = time.gmtime(epoch)
    return f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"


def day_str(day: int) -> str:
    """Format a day number (days since the epoch) as ``YYYY-MM-DD``."""
    return date_str(day * DAY)


def parse_instant(value: str | datetime) -> int:
    """Parse an ISO-8601 string (``Z`` or offset; naive means UTC) or datetime to epoch seconds."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


def to_datetime(epoch: float) -> datetime:
    """Return a timezone-aware UTC datetime for an epoch second."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def iso_z(epoch: float) -> str:
    """Format an epoch second as ``YYYY-MM-DDTHH:MM:SSZ`` (used by the sandbox's own endpoints)."""
    return to_datetime(int(epoch)).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_months(epoch: int, months: int) -> int:
    """Move an instant by whole calendar months, clamping the day to the target month's length."""
    t = time.gmtime(epoch)
    total = t.tm_year * 12 + (t.tm_mon - 1) + months
    year, month0 = divmod(total, 12)
    day = min(t.tm_mday, calendar.monthrange(year, month0 + 1)[1])
    return calendar.timegm((year, month0 + 1, day, t.tm_hour, t.tm_min, t.tm_sec, 0, 0, 0))


def at_utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Return the epoch second of a UTC wall-clock time."""
    return calendar.timegm((year, month, day, hour, minute, 0, 0, 0, 0))


def year_of(epoch: int) -> int:
    """Return the UTC calendar year of an epoch second."""
    return time.gmtime(epoch).tm_year
