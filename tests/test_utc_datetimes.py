"""Every date-time goes out in UTC with ``Z``: the instant the API sent, whatever its offset.

A warehouse's timestamp column keeps a date-time's wall time and drops its offset
(target-duckdb and DuckDB's cast store ``2026-12-03T23:30:00-05:00`` as 23:30, five hours
before the instant; marts8's M8-2), so a date-time sent with an offset went into every mart
keyed on a day or an interval hours off. The cleaner now moves it to UTC.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import example, given
from hypothesis import strategies as st

from tap_knowbe4.records import EXTRA_FIELDS, RecordCleaner, plain_datetime

SCHEMA = {
    "type": "object",
    "properties": {"at": {"type": ["string", "null"], "format": "date-time"}},
}

#: Offsets in whole minutes, -23:59 to +23:59 (what ISO 8601 text can carry).
_OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
_FRACTIONS = st.sampled_from(["", ".0", ".000", ".5", ".123456", ".123456789"])


def _offset_text(zone: dt.timezone) -> str:
    minutes = int(zone.utcoffset(None).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def clean(value: str, reports: list[str] | None = None) -> dict:
    """The record ``{"at": value}`` as the cleaner sends it; its reports into ``reports``."""
    heard = reports if reports is not None else []
    cleaner = RecordCleaner(SCHEMA, report=lambda kind, _field: heard.append(kind))
    record = cleaner.clean({"at": value})
    assert record is not None
    return record


@given(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    _OFFSETS,
    _FRACTIONS,
)
@example(dt.datetime(2026, 12, 3, 23, 30), dt.timezone(dt.timedelta(hours=-5)), ".000")
@example(dt.datetime(2024, 2, 29, 1, 0), dt.timezone(dt.timedelta(hours=5, minutes=30)), "")
@example(dt.datetime(2024, 12, 31, 23, 0), dt.timezone(dt.timedelta(hours=-5)), ".5")
@example(dt.datetime(2024, 3, 1, 10, 0), dt.timezone.utc, ".000")
def test_a_date_time_with_an_offset_goes_out_as_the_same_instant_in_utc(wall, zone, fraction):
    sent = wall.replace(microsecond=0).isoformat() + fraction + _offset_text(zone)
    record = clean(sent)
    out = record["at"]
    assert EXTRA_FIELDS not in record  # a conversion, not a value the column could not hold
    assert out.endswith("Z")
    assert plain_datetime(out), out  # passes as sent from now on: cleaning it changes nothing
    assert clean(out) == {"at": out}
    instant = dt.datetime.fromisoformat(sent)
    assert dt.datetime.fromisoformat(out.replace("Z", "+00:00")) == instant
    assert out[19:-1] == fraction  # the fraction of a second as sent, to the nanosecond


def test_the_regression_of_m8_2_in_figures():
    """marts8's M8-2: the same instant sent two ways loads as one value (it loaded 5 h apart)."""
    reports: list[str] = []
    offset = clean("2026-12-03T23:30:00-05:00", reports)
    utc = clean("2026-12-04T04:30:00Z")
    assert offset == utc == {"at": "2026-12-04T04:30:00Z"}
    assert reports == ["date-time rewritten to ISO 8601 in UTC (Z), the same instant"]


def test_a_date_time_without_a_zone_is_still_taken_as_utc():
    assert clean("2024-03-01T10:00:00") == {"at": "2024-03-01T10:00:00Z"}
    assert clean("2024-03-01T10:00:00.000Z") == {"at": "2024-03-01T10:00:00.000Z"}


def test_an_offset_that_leaves_the_calendar_is_null_and_kept_as_sent():
    """Year 1 at +01:00 has no UTC form: null in its column, as sent in ``_extra_fields``."""
    sent = "0001-01-01T00:30:00+01:00"
    assert clean(sent) == {"at": None, EXTRA_FIELDS: {"at": sent}}
