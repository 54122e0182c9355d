"""The cleaner's one-match test of a date or date-time that passes as sent equals the
three-step test it replaced (the form's pattern, a real calendar day, not years 1 or 9999)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from tap_knowbe4.records import (
    _DATE,
    _DATETIME,
    _EDGE_YEARS,
    EXTRA_FIELDS,
    RecordCleaner,
    _real_day,
    plain_date,
    plain_datetime,
)


def three_steps_datetime(value: str) -> bool:
    """The test before: the pattern, then the calendar, then the edge years."""
    return (
        _DATETIME.fullmatch(value) is not None
        and _real_day(value[:10])
        and not value.startswith(_EDGE_YEARS)
    )


def three_steps_date(value: str) -> bool:
    return _DATE.fullmatch(value) is not None and _real_day(value[:10])


#: ASCII digits, Arabic-Indic digits (``\\d`` matches them) and full-width ones.
_DIGITS = st.sampled_from(
    "0123456789\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\uff10\uff11\uff12\uff19"
)
_YEARS = st.sampled_from(["0000", "0001", "0002", "1900", "2023", "2024", "9998", "9999"]) | (
    st.text(_DIGITS, min_size=3, max_size=5)
)
_MONTHS = st.sampled_from(["00", "01", "02", "04", "09", "10", "12", "13", "99"]) | (
    st.text(_DIGITS, min_size=1, max_size=3)
)
_DAYS = st.sampled_from(["00", "01", "09", "10", "19", "28", "29", "30", "31", "32", "39"]) | (
    st.text(_DIGITS, min_size=1, max_size=3)
)
_TIMES = st.sampled_from(
    [
        "T00:00:00Z",
        "T23:59:59.999Z",
        "T01:14:16.000Z",
        "T12:00:00+02:00",
        "T24:00:00Z",
        "T12:60:00Z",
        "T12:00:00",
        "T1\u0662:00:00Z",
        "T12:00:0\u0663Z",
        " 12:00:00Z",
        "T12:00:00.Z",
        "T12:00:00.1234567891Z",
        "T12:00:00-23:59",
        "T12:00:00+24:00",
        "",
    ]
) | st.text(max_size=12).map(lambda tail: "T" + tail)
_DAYS_TEXT = st.builds(
    lambda year, sep1, month, sep2, day: f"{year}{sep1}{month}{sep2}{day}",
    _YEARS,
    st.sampled_from(["-", "-", "-", "/", ""]),
    _MONTHS,
    st.sampled_from(["-", "-", "-", "/", ""]),
    _DAYS,
)


@given(st.one_of(st.builds(str.__add__, _DAYS_TEXT, _TIMES), st.text(max_size=30)))
@example("2024-02-29T00:00:00Z")
@example("2023-02-29T00:00:00Z")
@example("2023-04-31T00:00:00Z")
@example("0001-01-01T00:00:00Z")
@example("9999-12-31T23:59:59Z")
@example("0000-01-01T00:00:00Z")
@example("2023-11-24T01:1\u0664:16.000Z")
def test_a_date_time_passes_as_sent_exactly_when_the_three_steps_said_so(value):
    assert plain_datetime(value) is three_steps_datetime(value)


@given(st.one_of(_DAYS_TEXT, st.text(max_size=12)))
@example("2024-02-29")
@example("2023-02-29")
@example("0001-01-01")
@example("9999-12-31")
@example("0000-12-31")
@example("\uff12\uff10\uff12\uff13-11-13")
def test_a_date_passes_as_sent_exactly_when_the_two_steps_said_so(value):
    assert plain_date(value) is three_steps_date(value)


def test_a_date_time_with_another_scripts_digit_in_its_time_is_not_sent_as_one():
    """Regression (session 7): ``\\d`` in the time of day took an Arabic-Indic digit, so
    ``2023-11-24T01:1٤:16.000Z`` went out as a date-time no ISO 8601 reader parses; it is
    loaded as null and kept as sent in ``_extra_fields``, with one report."""
    value = "2023-11-24T01:1\u0664:16.000Z"
    reports: list[tuple[str, str]] = []
    cleaner = RecordCleaner(
        {
            "type": "object",
            "properties": {"d": {"type": ["string", "null"], "format": "date-time"}},
        },
        report=lambda kind, field: reports.append((field, kind)),
    )
    assert not plain_datetime(value)
    assert cleaner.clean({"d": value}) == {"d": None, EXTRA_FIELDS: {"d": value}}
    assert [field for field, _ in reports] == ["d"]


@given(
    st.one_of(st.builds(str.__add__, _DAYS_TEXT, _TIMES), st.text(max_size=30)),
    st.one_of(_DAYS_TEXT, st.text(max_size=12)),
)
@example("2023-02-29T00:00:00Z", "2023-02-29")
@example("2024-02-29T00:00:00Z", "2024-02-29")
def test_a_shape_s_function_tests_plain_text_as_the_tests_do(when, day):
    """The function compiled for a shape writes the plain-text tests out (no call per value):
    it cleans a date-time and a date as the field-by-field walk does, which calls them."""
    schema = {
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": ["string", "null"], "format": "date-time"},
            "on": {"type": ["string", "null"], "format": "date"},
        }
    }
    heard: dict[int, list] = {0: [], 64: []}
    for most, said in heard.items():
        cleaner = RecordCleaner(
            schema,
            key_fields=("id",),
            most_shapes=most,
            report=lambda kind, field, said=said: said.append((kind, field)),
        )
        said.append(cleaner.clean({"id": 1, "at": when, "on": day}))
    assert heard[64] == heard[0]
