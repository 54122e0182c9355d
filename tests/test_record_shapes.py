"""The record cleaner's fast path (shapes) gives exactly what the field-by-field walk gives.

``RecordCleaner`` checks a record's values against the remembered *shape* of its field names
and sends only the fields that do not pass through their checkers (``records.py``). Whatever
a record holds, the result, the ``_extra_fields`` kept and every problem reported must equal
those of the same cleaner walking every field (``most_shapes=0``), the first time a shape is
seen and when it is seen again, with flattening's null expansion on or off.
"""

from __future__ import annotations

import copy
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_knowbe4.records import RecordCleaner
from tests.property_examples import examples
from tests.test_schema_drift import CASES, EXAMPLES, ODD_VALUES, TAP, _objects, drifted

#: Values at the edges of what passes untouched (a float may not be finite, a bool is no int).
EDGES = [
    math.nan,
    math.inf,
    1.5,
    0.0,
    True,
    0,
    "12",
    "2024-02-30T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "2024-01-01",
    {},
    [],
    [None],
    [1, None],
    ["x", 2],
]


@st.composite
def odd_values(draw):
    """A stream's example record, each value anywhere in it replaced by an odd one at times.

    No field is added: every object keeps a known shape (the fast path's case).
    """
    stream = draw(st.sampled_from(sorted(CASES)))
    record = copy.deepcopy(EXAMPLES[CASES[stream][0]])
    for _path, obj in list(_objects(record)):
        for field in list(obj):
            if draw(st.integers(0, 3)) == 0:
                obj[field] = draw(st.sampled_from(EDGES) | ODD_VALUES)
    return stream, None, record, []


def _cleaned(cleaner: RecordCleaner, record: dict) -> tuple[dict | None, list]:
    heard: list[tuple[str, str]] = []
    cleaner._report = lambda kind, field: heard.append((kind, field))
    return cleaner.clean(copy.deepcopy(record)), heard


def _cleaners(stream_name: str, depth: int) -> tuple[RecordCleaner, RecordCleaner]:
    stream = TAP.streams[stream_name]
    return tuple(  # type: ignore[return-value]
        RecordCleaner(
            stream.schema,
            key_fields=stream.primary_keys,
            expand_null_objects=depth,
            most_shapes=most,
        )
        for most in (0, 64)
    )


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_values() | drifted())
def test_shapes_clean_records_as_the_field_by_field_walk_does(case):
    stream_name, _context, record, _extras = case
    for depth in (0, 10):
        walk, shapes = _cleaners(stream_name, depth)
        expected = _cleaned(walk, record)
        assert _cleaned(shapes, record) == expected  # the shape seen first
        assert _cleaned(shapes, record) == expected  # and remembered
        assert repr(_cleaned(shapes, record)[0]) == repr(expected[0])  # same order, same types


def test_a_record_of_a_remembered_shape_with_other_values_is_checked_again():
    walk, shapes = _cleaners("users", 0)
    plain = {"id": 7, "email": "a@example.com", "joined_on": "2024-01-02T03:04:05Z"}
    odd = {"id": "8", "email": 5, "joined_on": "2024-02-30T03:04:05Z"}
    for record in (plain, odd, plain, odd):
        assert _cleaned(shapes, record) == _cleaned(walk, record)
    cleaned, heard = _cleaned(shapes, odd)
    assert cleaned == {
        "id": 8,
        "email": "5",
        "joined_on": None,
        "_extra_fields": {"joined_on": "2024-02-30T03:04:05Z"},
    }
    assert len(heard) == 3


def test_arrays_pass_whole_only_when_every_item_would():
    walk, shapes = _cleaners("users", 0)
    for groups in ([1, 2], [], [1, None], [1, "2"], [True], None, "1"):
        record = {"id": 7, "groups": groups, "aliases": ["a", 5]}
        assert _cleaned(shapes, record) == _cleaned(walk, record), groups
    assert _cleaned(shapes, {"id": 7, "groups": [1, None]})[0] == {"id": 7, "groups": [1]}
