"""Checks for the per-stream JSON Schema files in ``tap_knowbe4/schemas``.

The schemas are validated as Draft 7 and checked against the example payloads
(``knowbe4-examples.json``) and the real 2021 EU recording (``recorded-eu-2021.json``)
from the API reference. Child-stream records get their parent id added, and legacy
field names are renamed the way the tap does it before validation.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from tests.singer_output import PRIMARY_KEYS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "tap_knowbe4" / "schemas"


# Parent ids that are not part of the primary key but must never be null either. (A PST's
# campaign_id is not one: PSTs come from the all-campaigns list, and a drifted record with
# a null campaign_id must still be valid.)
PARENT_IDS: dict[str, tuple[str, ...]] = {}

# Legacy names (reference §8) that the tap renames before records reach the schema. (Fields
# the API dropped, such as exploited_count or an inline risk_score_history, are columns: older
# payloads still carry them, and no field is dropped.)
LEGACY_NAMES = {
    "adi_manageable",
    "adi_guid",
    "active_directory_guid",
    "vulnerable-plugins_at",
    "modules",
    "landing-page",
    "store_purchased_id",
}
#: The column every stream (but the link table) keeps what its schema does not know in.
EXTRA_FIELDS = "_extra_fields"
USER_RENAMES = {"adi_manageable": "provisioning_managed", "adi_guid": "provisioning_guid"}

# Example resource key (knowbe4-examples.json) -> stream; child streams are built separately.
EXAMPLE_STREAMS = {
    "account": "account",
    "account_risk_score_history": "account_risk_score_history",
    "user": "users",
    "user_risk_score_history": "user_risk_score_history",
    "group": "groups",
    "group_member": "users",
    "group_risk_score_history": "group_risk_score_history",
    "phishing_campaign": "phishing_campaigns",
    "phishing_security_test": "phishing_security_tests",
    "phishing_security_test_recipient": "phishing_security_test_recipients",
    "training_store_purchase": "store_purchases",
    "training_policy": "policies",
    "training_campaign": "training_campaigns",
    "training_enrollment": "training_enrollments",
}
VARIANT_STREAMS = {
    "training_enrollment_default_flags": "training_enrollments",
    "training_enrollment_with_score": "training_enrollments",
    "account_trial": "account",
    "phishing_campaign_errored": "phishing_campaigns",
    "phishing_security_test_errored": "phishing_security_tests",
    "legacy_user_fields_pre_2022": "users",  # a fragment: merged into the user example
}
# Recorded request path -> stream.
RECORDED_STREAMS = [
    (re.compile(r"^/v1/account$"), "account"),
    (re.compile(r"^/v1/phishing/campaigns$"), "phishing_campaigns"),
    (re.compile(r"^/v1/phishing/campaigns/\d+/security_tests$"), "phishing_security_tests"),
]


def _find_reference_dir() -> Path | None:
    candidates = [
        os.environ.get("TAP_KNOWBE4_REFERENCE_DIR"),
        ROOT / "tests" / "fixtures",
        ROOT / "docs" / "reference",
        "/work/shared/reference",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "knowbe4-examples.json").is_file():
            return Path(candidate)
    return None


REFERENCE_DIR = _find_reference_dir()
needs_reference = pytest.mark.skipif(
    REFERENCE_DIR is None,
    reason="knowbe4-examples.json / recorded-eu-2021.json not found "
    "(set TAP_KNOWBE4_REFERENCE_DIR)",
)


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


SCHEMAS: dict[str, dict[str, Any]] = {
    path.stem: _load_json(path) for path in sorted(SCHEMA_DIR.glob("*.json"))
}

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)
FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """Strict RFC 3339 check, independent of the optional rfc3339-validator package."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    dt.datetime.fromisoformat(value.replace("z", "Z"))
    return True


def _validator(stream: str) -> Draft7Validator:
    return Draft7Validator(SCHEMAS[stream], format_checker=FORMAT_CHECKER)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """Drop the ``_note`` style annotations of the example file."""
    return {k: v for k, v in copy.deepcopy(record).items() if not k.startswith("_")}


def _rename_legacy_user(record: dict[str, Any]) -> dict[str, Any]:
    return {USER_RENAMES.get(k, k): v for k, v in record.items()}


def _example_cases(examples: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for key, stream in EXAMPLE_STREAMS.items():
        record = _clean(examples[key])
        if key == "user_risk_score_history":
            record["user_id"] = examples["user"]["id"]
        elif key == "group_risk_score_history":
            record["group_id"] = examples["group"]["id"]
        yield f"example:{key}", stream, record
    member = examples["group_member"]
    yield (
        "example:group_member->link",
        "group_members",
        {"group_id": examples["group"]["id"], "user_id": member["id"]},
    )
    for key, stream in VARIANT_STREAMS.items():
        record = _clean(examples["_variants"][key])
        if key == "legacy_user_fields_pre_2022":
            record = {**_clean(examples["user"]), **_rename_legacy_user(record)}
        yield f"variant:{key}", stream, record


def _recorded_stream(url: str) -> str | None:
    path = url.split("?", 1)[0]
    for pattern, stream in RECORDED_STREAMS:
        if pattern.match(path):
            return stream
    return None


def _recorded_cases(recorded: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for entry in recorded["entries"]:
        stream = _recorded_stream(entry["url"])
        assert stream is not None, f"no stream mapped for recorded URL {entry['url']}"
        body = entry["body"]
        rows = body if isinstance(body, list) else [body]
        for index, row in enumerate(rows):
            yield f"recorded:{entry['url']}[{index}]", stream, row


def _all_cases() -> list[Any]:
    if REFERENCE_DIR is None:
        return []
    examples = _load_json(REFERENCE_DIR / "knowbe4-examples.json")
    recorded = _load_json(REFERENCE_DIR / "recorded-eu-2021.json")
    cases = [*_example_cases(examples), *_recorded_cases(recorded)]
    return [pytest.param(stream, record, id=case_id) for case_id, stream, record in cases]


CASES = _all_cases()


def _types(prop: dict[str, Any]) -> list[str]:
    declared = prop.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _walk_properties(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (path, subschema) for every property, including nested objects and array items."""
    for name, prop in schema.get("properties", {}).items():
        yield f"{path}.{name}", prop
        yield from _walk_properties(prop, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _walk_properties(schema["items"], f"{path}[]")


def _undeclared(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Paths of fields in ``value`` that the schema does not declare (would be dropped)."""
    missing: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, child in value.items():
            if key not in props:
                missing.append(f"{path}.{key}")
            else:
                missing.extend(_undeclared(child, props[key], f"{path}.{key}"))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            missing.extend(_undeclared(item, schema["items"], f"{path}[{index}]"))
    return missing


def _errors(stream: str, record: dict[str, Any]) -> list[str]:
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(_validator(stream).iter_errors(record), key=str)
    ]


# --- schema files -------------------------------------------------------------------------


def test_one_schema_file_per_stream() -> None:
    assert set(SCHEMAS) == set(PRIMARY_KEYS)


@pytest.mark.parametrize("stream", sorted(PRIMARY_KEYS))
def test_schema_is_valid_draft7(stream: str) -> None:
    schema = SCHEMAS[stream]
    Draft7Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert "additionalProperties" not in schema
    assert isinstance(schema.get("description"), str)
    assert schema["description"].strip()
    assert schema["properties"]


@pytest.mark.parametrize("stream", sorted(PRIMARY_KEYS))
def test_every_property_has_type_and_description(stream: str) -> None:
    problems = []
    extra = f"{stream}.{EXTRA_FIELDS}"  # a free-form object on purpose
    for path, prop in _walk_properties(SCHEMAS[stream], stream):
        description = prop.get("description")
        if not isinstance(description, str) or not description.strip():
            problems.append(f"{path}: no description")
        elif "\n" in description:
            problems.append(f"{path}: description is not one line")
        if not _types(prop):
            problems.append(f"{path}: no type")
        if "object" in _types(prop) and "properties" not in prop and path != extra:
            problems.append(f"{path}: object without properties")
        if "array" in _types(prop) and "items" not in prop:
            problems.append(f"{path}: array without items")
    assert not problems


@pytest.mark.parametrize("stream", sorted(PRIMARY_KEYS))
def test_primary_keys_exist_and_are_not_nullable(stream: str) -> None:
    properties = SCHEMAS[stream]["properties"]
    for key in (*PRIMARY_KEYS[stream], *PARENT_IDS.get(stream, ())):
        assert key in properties, f"{stream}: key property {key!r} missing"
        types = _types(properties[key])
        assert types, f"{stream}.{key}: no type"
        assert "null" not in types, f"{stream}.{key} must not be nullable"


@pytest.mark.parametrize("stream", sorted(PRIMARY_KEYS))
def test_no_legacy_field_names(stream: str) -> None:
    names = {path.rsplit(".", 1)[-1] for path, _ in _walk_properties(SCHEMAS[stream], stream)}
    assert not names & LEGACY_NAMES


def test_group_members_is_a_link_table() -> None:
    properties = SCHEMAS["group_members"]["properties"]
    assert set(properties) == {"group_id", "user_id"}
    assert all(prop["type"] == "integer" for prop in properties.values())


def test_training_campaign_content_item_is_union_of_purchase_and_policy() -> None:
    item = SCHEMAS["training_campaigns"]["properties"]["content"]["items"]
    item_properties = item["properties"]
    expected = set(SCHEMAS["store_purchases"]["properties"]) | set(
        SCHEMAS["policies"]["properties"],
    )
    expected.discard(EXTRA_FIELDS)
    assert expected | {"published"} <= set(item_properties)
    for name, prop in item_properties.items():
        nullable = "null" in _types(prop)
        assert nullable, name


def test_validator_checks_formats_and_keys() -> None:
    """The harness itself must catch bad dates, timestamps and null keys."""
    assert _errors("account_risk_score_history", {"date": "2021-02-07T00:00:00Z"})
    assert _errors("users", {"id": 1, "joined_on": "2021-02-07"})
    assert _errors("users", {"id": None})
    assert not _errors("users", {"id": 1, "joined_on": "2019-04-02T15:02:38.000Z"})


# --- example and recorded payloads --------------------------------------------------------


@needs_reference
def test_every_example_is_mapped_to_a_stream() -> None:
    assert REFERENCE_DIR is not None
    examples = _load_json(REFERENCE_DIR / "knowbe4-examples.json")
    resources = {key for key in examples if not key.startswith("_")}
    assert resources == set(EXAMPLE_STREAMS)
    assert set(examples["_variants"]) == set(VARIANT_STREAMS)


@needs_reference
@pytest.mark.parametrize(("stream", "record"), CASES)
def test_record_validates_against_stream_schema(stream: str, record: dict[str, Any]) -> None:
    assert not _errors(stream, record)


@needs_reference
@pytest.mark.parametrize(("stream", "record"), CASES)
def test_record_fields_are_all_declared(stream: str, record: dict[str, Any]) -> None:
    assert not _undeclared(record, SCHEMAS[stream])


@pytest.mark.parametrize("stream", sorted(PRIMARY_KEYS))
def test_every_stream_but_the_link_table_keeps_what_it_does_not_know(stream: str) -> None:
    from tap_knowbe4.records import EXTRA_FIELDS_SCHEMA  # noqa: PLC0415

    properties = SCHEMAS[stream]["properties"]
    if stream == "group_members":  # built by the tap from two ids: nothing else to keep
        assert EXTRA_FIELDS not in properties
    else:
        assert properties[EXTRA_FIELDS] == EXTRA_FIELDS_SCHEMA
