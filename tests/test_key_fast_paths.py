"""The fast paths of a listing key's two comparable forms give what the plain forms gave.

``pagination._comparable_key`` (a page's fingerprint and repeat checks) and
``resume.comparable_key`` (a list's order and positions) skip their general tests for an
``int`` (most keys), and for a key of one ``int`` the loop over its parts. For any key a
server can send (JSON values, ints of any size, bools, ints subclassed), the result equals
that of the forms they replaced, written out here. ``listing_key_reader`` reads a record's
listing key as ``listing_key`` does, its fields looked up once per listing.
"""

from __future__ import annotations

import typing as t

from hypothesis import given, settings
from hypothesis import strategies as st

from tap_knowbe4.pagination import _comparable_key
from tap_knowbe4.resume import comparable_key


class _Int(int):
    """An int of another type (not sent by a JSON parser; takes the general path)."""

    def __str__(self) -> str:
        return f" {int(self)} "


def plain_comparable(value: t.Any) -> t.Hashable:
    if isinstance(value, (dict, list)):
        return repr(value)
    return str(value).strip() if value is not None else None


def plain_comparable_key(key: t.Hashable) -> t.Hashable:
    if isinstance(key, tuple):
        return tuple(plain_comparable(v) for v in key)
    return plain_comparable(key)


def plain_resume_key(values: t.Iterable[object]) -> tuple | None:
    key: list[int | str] = []
    for value in values:
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int):
            key.append(value)
        elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
            key.append(int(value))
        elif isinstance(value, str):
            key.append(value)
        else:
            return None
    return tuple(key) if key else None


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers().map(_Int)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["12", " 12 ", "007", "١٢", "12345678901234567890"])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@given(st.one_of(_VALUES, st.lists(_VALUES, max_size=3).map(tuple)))
def test_a_page_key_is_compared_as_before(key):
    assert _comparable_key(key) == plain_comparable_key(key)


@given(st.lists(_VALUES, max_size=3).map(tuple))
def test_a_list_key_orders_as_before(values):
    got, expected = comparable_key(values), plain_resume_key(values)
    assert got == expected
    assert [type(v) for v in got or ()] == [type(v) for v in expected or ()]


_VALUES = st.none() | st.integers() | st.text(max_size=3) | st.booleans()


@settings(deadline=None)  # the first example builds the tap
@given(values=st.lists(_VALUES, min_size=3, max_size=3), missing=st.integers(0, 3))
def test_the_listing_key_reader_reads_what_listing_key_reads(values, missing):
    """``listing_key_reader()`` (the fields looked up once per listing) gives what
    ``listing_key`` gives, for every stream's listing fields (one field or several), a
    field missing from the record too."""
    for stream in _tap().streams.values():
        fields = stream.listing_fields
        record = {"other": 1, **dict(zip(fields, values, strict=False))}
        if missing < len(fields):
            del record[fields[missing]]
        assert stream.listing_key_reader()(record) == stream.listing_key(record), stream.name


_TAPS: dict[str, t.Any] = {}


def _tap() -> t.Any:
    """A tap of every stream, made once (its streams' listing fields never change)."""
    if "tap" not in _TAPS:
        from tap_knowbe4.tap import TapKnowBe4  # noqa: PLC0415 (the SDK only for this test)

        _TAPS["tap"] = TapKnowBe4(config={"api_key": "key-reader-test", "budget_ledger": False})
    return _TAPS["tap"]
