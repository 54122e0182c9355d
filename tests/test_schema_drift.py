"""Schema drift, property-based: whatever shape a record arrives in, the tap loads it validly.

Each example is a real-shaped record (from the reference examples) mutated the way the API
drifts, at any depth: extra fields (top-level and nested), nulls, legacy names, numbers as
text, text as numbers, non-finite numbers, lone surrogates, objects where scalars belong.
It goes through the stream's own record pipeline (``post_process``, exactly what a sync
does per record). It must never crash; what comes out is valid against the stream's schema
(formats included) or is dropped because its key cannot be read; an unknown field, at any
depth, is not in a column but in ``_extra_fields`` under its path, with its value as sent;
every change is named in the stream's report.
"""

from __future__ import annotations

import copy
import json
import pathlib
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker

from tap_knowbe4.records import json_safe
from tap_knowbe4.tap import TapKnowBe4

pytestmark = pytest.mark.slow  # a drifted org read in full: `make test`, not `make test-fast`

EXAMPLES = json.loads(
    (pathlib.Path(__file__).parent / "fixtures" / "knowbe4-examples.json").read_text()
)

# stream -> (example key, context, legacy renames that stream undoes)
CASES = {
    "users": (
        "user",
        None,
        {"provisioning_managed": "adi_manageable", "provisioning_guid": "adi_guid"},
    ),
    "groups": ("group", None, {"provisioning_guid": "adi_guid"}),
    "phishing_campaigns": ("phishing_campaign", None, {}),
    "phishing_security_tests": ("phishing_security_test", None, {"landing_page": "landing-page"}),
    "phishing_security_test_recipients": (
        "phishing_security_test_recipient",
        {"pst_id": 1240415},
        {},
    ),
    "store_purchases": ("training_store_purchase", None, {}),
    "policies": ("training_policy", None, {"policy_id": "id"}),
    "training_campaigns": ("training_campaign", None, {"content": "modules"}),
    "training_enrollments": ("training_enrollment", None, {}),
    "account": ("account", None, {}),
}

#: The key is registered as a secret for the whole worker process: a word a record may hold
#: ("drift") would be masked in every later test's output.
KEY = "schema-drift-test-key-7f3a9c"
TAP = TapKnowBe4(config={"api_key": KEY, "budget_ledger": False}, validate_config=True)
ODD_VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "Infinity",
            "NaN",
            "abc",
            "",
            "9007199254740993",
            "12.0",
            "N/A",
            "9999-12-31",
            "2021-10-19 19:16:09",
            "\ud800",
            "true",
        ]
    ),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.lists(st.integers(), max_size=2),
)
NAMES = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12)


def _objects(value, path=()):
    """Every (path, object) inside ``value``, the record itself included."""
    if isinstance(value, dict):
        yield path, value
        for key, child in value.items():
            yield from _objects(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _objects(child, (*path, index))


@st.composite
def drifted(draw):
    stream = draw(st.sampled_from(sorted(CASES)))
    key, context, legacy = CASES[stream]
    record = copy.deepcopy(EXAMPLES[key])
    keys = set(TAP.streams[stream].primary_keys)
    objects = list(_objects(record))
    extras: list[tuple] = []
    for _ in range(draw(st.integers(0, 4))):
        path, obj = draw(st.sampled_from(objects))
        fields = [f for f in obj if not (path == () and f in keys)]
        if not fields:
            continue
        field = draw(st.sampled_from(fields))
        obj[field] = draw(ODD_VALUES)
    for _ in range(draw(st.integers(0, 3))):
        path, obj = draw(st.sampled_from(objects))
        name = draw(NAMES.filter(lambda n, obj=obj: n not in obj))
        obj[name] = draw(ODD_VALUES)
        extras.append((*path, name))
    for new, old in legacy.items():
        if new in record and draw(st.booleans()):
            record[old] = record.pop(new)
    extras = [path for path in extras if not _absent(record, path)]  # a later change may
    return stream, context, record, extras  # have replaced the object that held one


def _dotted(path: tuple) -> str:
    """``("psts", 1, "x")`` as the tap names it in ``_extra_fields``: ``psts[1].x``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _value_at(record: dict, path: tuple) -> t.Any:
    value: t.Any = record
    for part in path:
        value = value[part]
    return value


def _absent(record: dict, path: tuple) -> bool:
    value: t.Any = record
    for part in path[:-1]:
        if isinstance(value, list):
            value = value[part] if isinstance(part, int) and part < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        if value is None:
            return True
    return not isinstance(value, dict) or path[-1] not in value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drifted())
def test_drifted_records_never_crash_and_load_validly_or_are_reported(case):
    stream_name, context, record, extras = case
    stream = TAP.streams[stream_name]
    report = TAP.run.report.stream(stream_name)
    before = dict(report.anomalies)
    out = stream.post_process(copy.deepcopy(record), context)
    noted = {k: v - before.get(k, 0) for k, v in report.anomalies.items() if v != before.get(k, 0)}
    if out is None:
        assert any("primary key" in text for text in noted), noted
        return
    errors = list(Draft7Validator(stream.schema, format_checker=FormatChecker()).iter_errors(out))
    assert not errors, errors[0].message
    json.dumps(out).encode("utf-8")  # what the writer must be able to write
    kept = out.get("_extra_fields") or {}
    for path in extras:
        assert _absent(out, path), path
        assert _dotted(path) in kept, (path, kept)
        assert kept[_dotted(path)] == json_safe(copy.deepcopy(_value_at(record, path)))
        assert any("unknown field" in text for text in noted), noted
    if out != {k: v for k, v in record.items() if k in out} and not extras and not kept:
        assert noted or any(old in record for old in CASES[stream_name][2].values())
