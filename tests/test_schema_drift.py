"""Schema drift, property-based: extra fields, nulls, legacy names, numbers as strings.

Each example is a real-shaped record (from the reference examples) mutated the way the
API has drifted. It goes through the stream's own record pipeline (``post_process`` and
the SDK's type conformance, exactly what a sync does per record): it must never crash,
and what comes out is valid against the stream's schema, or a warning names what was
not loaded.
"""

from __future__ import annotations

import copy
import json
import logging
import pathlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker
from singer_sdk.helpers._typing import conform_record_data_types

from tap_knowbe4.tap import TapKnowBe4

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

TAP = TapKnowBe4(config={"api_key": "drift"}, validate_config=True)
LOGGER = logging.getLogger("drift")


@st.composite
def drifted(draw):
    stream = draw(st.sampled_from(sorted(CASES)))
    key, context, legacy = CASES[stream]
    record = copy.deepcopy(EXAMPLES[key])
    keys = set(TAP.streams[stream].primary_keys)
    fields = [f for f in record if f not in keys]
    # nulls where values were
    for field in draw(st.lists(st.sampled_from(fields), max_size=4, unique=True)):
        record[field] = None
    # numbers as strings
    numeric = [
        f
        for f in fields
        if isinstance(record.get(f), (int, float)) and not isinstance(record.get(f), bool)
    ]
    if numeric:
        for field in draw(st.lists(st.sampled_from(numeric), max_size=3, unique=True)):
            record[field] = str(record[field])
    # legacy names
    for new, old in legacy.items():
        if new in record and draw(st.booleans()):
            record[old] = record.pop(new)
    # extra fields
    extras = draw(
        st.dictionaries(
            st.text("abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12).filter(
                lambda name: name not in record
            ),
            st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans()),
            max_size=3,
        )
    )
    record.update(extras)
    return stream, context, record, set(extras)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drifted())
def test_drifted_records_never_crash_and_stay_valid_or_are_reported(case):
    stream_name, context, record, extras = case
    stream = TAP.streams[stream_name]
    out = stream.post_process(copy.deepcopy(record), context)
    assert out is not None
    known = set(stream.schema["properties"])
    assert set(out) <= known  # unknown fields are dropped ...
    assert extras - set(record) == set()
    assert {e for e in extras if e not in known} <= stream._warned_unknown  # ... and named
    conformed = conform_record_data_types(
        stream_name, out, stream.schema, stream.TYPE_CONFORMANCE_LEVEL, LOGGER
    )
    errors = list(
        Draft7Validator(stream.schema, format_checker=FormatChecker()).iter_errors(conformed)
    )
    assert not errors, errors[0].message
