"""A body is read as ``json.loads`` reads it (``payload.parse_json``: msgspec first).

Whatever the bytes, ``parse_json`` gives what ``json.loads`` gives (the same values of the
same types, in the same order) or raises where it raises: generated JSON of every kind of
value (integers beyond 64 bits, floats, non-finite numbers, escapes, lone surrogates,
duplicate keys), other encodings, and bodies cut or corrupted anywhere.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_knowbe4.payload import parse_json
from tests.property_examples import examples

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


def _read(parse, body: bytes) -> str:
    """What ``parse`` makes of ``body``, comparable (NaN included): its repr or the failure."""
    try:
        return repr(parse(body))
    except (ValueError, RecursionError):
        return "refused"


def _text(value: object, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


@settings(max_examples=examples(100), deadline=None)
@given(VALUES, st.booleans(), st.data())
def test_parse_json_reads_what_json_loads_reads(value, ascii_only, data):
    text = _text(value, ascii_only)
    body = text.encode("utf-8", "surrogatepass")
    assert _read(parse_json, body) == _read(json.loads, body)
    cut = data.draw(st.integers(0, len(body)))
    at = data.draw(st.integers(0, max(len(body) - 1, 0)))
    corrupted = body[:at] + data.draw(st.binary(min_size=1, max_size=2)) + body[at + 1 :]
    for broken in (body[:cut], corrupted):
        assert _read(parse_json, broken) == _read(json.loads, broken)


@pytest.mark.parametrize(
    "body",
    [
        b"[NaN, Infinity, -Infinity]",
        b"[1e400, -1e400]",
        b'["\\ud800", "\\udc00x", "\\ud83d\\ude00"]',
        b'{"a": 1, "a": 2}',
        b"[123456789012345678901234567890, -0, -0.0, 1E2]",
        b"\xef\xbb\xbf[1]",
        '[{"é": "ü"}]'.encode("utf-16"),
        '[{"é": "ü"}]'.encode("utf-32"),
        b'["a\tb"]',
        b"[1,]",
        b"",
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_parse_json_reads_the_edges_as_json_loads_does(body):
    assert _read(parse_json, body) == _read(json.loads, body)
    if body.startswith(b"[NaN"):
        assert all(math.isnan(v) or math.isinf(v) for v in parse_json(body))
