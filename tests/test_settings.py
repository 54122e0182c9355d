"""Each setting is declared once; its schema, its parser and its examples agree with it.

The declaration (``tap_knowbe4/settings.py``) is the only place a type, a bound or a default
is written. These tests check what derives from it: the JSON schema ``--about`` prints (and
Meltano, the Hub and the README read) says the same bounds and default, the parser accepts
exactly what the schema accepts (a rate of 0 or at least its floor is the one documented
difference), every documented example is read, and a bad value is one line naming the
setting.
"""

from __future__ import annotations

import math
import typing as t

import jsonschema
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tap_knowbe4.errors import ConfigError
from tap_knowbe4.settings import CONFIG_SCHEMA, Declaration, Settings, normalize_text_values
from tap_knowbe4.streams import endpoints
from tests import property_examples

DECLARED = dict(Settings.declared())
NUMBERS = [d for d in DECLARED.values() if d.type in (int, float)]
#: Settings whose documented form cannot be written down here (a file that must exist, the
#: secret key).
NO_EXAMPLES = {"api_key", "ca_bundle"}


def _schema(decl: Declaration) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", CONFIG_SCHEMA["properties"][decl.name])


def _accepted_by_schema(decl: Declaration, value: object) -> bool:
    return jsonschema.Draft7Validator(_schema(decl)).is_valid(value)


def _accepted_by_parser(decl: Declaration, value: object) -> bool:
    try:
        decl.parse(value)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("decl", DECLARED.values(), ids=list(DECLARED))
def test_the_schema_says_what_the_declaration_says(decl: Declaration) -> None:
    schema = _schema(decl)
    json_type = {int: "integer", float: "number", bool: "boolean", str: "string"}.get(
        decl.type, "string"
    )
    assert json_type in schema["type"]
    assert schema.get("minimum") == decl.minimum
    assert schema.get("maximum") == decl.maximum
    assert schema.get("default") == (None if decl.required else decl.default)
    assert schema.get("enum") == (list(decl.allowed) if decl.allowed else None)
    assert schema["title"] == decl.title
    assert (decl.name in CONFIG_SCHEMA.get("required", [])) is decl.required


@pytest.mark.parametrize("decl", DECLARED.values(), ids=list(DECLARED))
def test_an_absent_value_is_the_default_and_the_default_is_a_valid_value(
    decl: Declaration,
) -> None:
    if decl.required:
        with pytest.raises(ConfigError, match=f"^{decl.name} is missing"):
            decl.parse(None)
        return
    assert decl.parse(None) == decl.default
    assert decl.parse("") == decl.default
    if decl.default is not None:
        assert decl.parse(decl.default) == decl.default
        assert _accepted_by_schema(decl, decl.default)


@pytest.mark.parametrize("decl", NUMBERS, ids=[d.name for d in NUMBERS])
def test_the_bounds_are_the_parsers(decl: Declaration) -> None:
    """The declared minimum and maximum are accepted; one step outside each is refused."""
    step = 1 if decl.type is int else 1e-6
    assert decl.minimum is not None
    assert decl.maximum is not None
    for inside in (decl.minimum, decl.maximum):
        assert _accepted_by_parser(decl, inside)
        assert _accepted_by_schema(decl, inside)
    for outside in (decl.minimum - step, decl.maximum + step):
        with pytest.raises(ConfigError, match=f"^{decl.name} must be"):
            decl.parse(outside)
        assert not _accepted_by_schema(decl, outside)


@pytest.mark.parametrize("decl", NUMBERS, ids=[d.name for d in NUMBERS])
@given(data=st.data())
@examples(max_examples=property_examples.examples(40), deadline=None)
def test_parser_and_schema_accept_the_same_numbers(decl: Declaration, data: st.DataObject) -> None:
    value = data.draw(
        st.one_of(
            st.integers(min_value=-(10**10), max_value=10**10),
            st.floats(allow_nan=False, allow_infinity=False, min_value=-1e10, max_value=1e10),
        )
    )
    if decl.type is int and isinstance(value, float) and not value.is_integer():
        assert not _accepted_by_parser(decl, value)
        return
    schema_says = _accepted_by_schema(decl, value)
    floor = decl.zero_or_at_least
    if floor is not None and 0 < value < floor:
        schema_says = False  # the documented difference: 0 is "off", else at least the floor
    assert _accepted_by_parser(decl, value) is schema_says, value
    text = str(int(value)) if decl.type is int else str(value)  # as text (env vars)
    assert _accepted_by_parser(decl, text) is schema_says, value


@pytest.mark.parametrize("decl", DECLARED.values(), ids=list(DECLARED))
def test_every_documented_example_is_read(decl: Declaration) -> None:
    if decl.name in NO_EXAMPLES:
        assert not decl.examples
        return
    assert decl.examples, f"{decl.name}: declare the documented ways to write it (examples=)"
    for text in decl.examples:
        assert isinstance(text, str)
        value = decl.parse(text)
        assert value is not None
        if decl.type in (int, float, bool):  # as a config file or Meltano would type it
            assert normalize_text_values({decl.name: text})[decl.name] == value


def test_choices_and_region_forms_are_case_insensitive() -> None:
    for decl in DECLARED.values():
        for allowed in decl.allowed:
            assert decl.parse(allowed.upper()) == allowed
    region = DECLARED["region"]
    assert [region.parse(x) for x in region.examples] == ["us", "eu", "us", "eu"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page_size", "abc"),
        ("page_size", 2.5),
        ("requests_per_second", 0.001),
        ("requests_per_second", math.inf),
        ("requests_per_minute", "fast"),
        ("budget_ledger", "maybe"),
        ("pagination", "offset"),
        ("region", "apac"),
        ("start_date", "last tuesday"),
        ("api_url", 5),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(name: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        DECLARED[name].parse(value)
    message = str(caught.value)
    assert "\n" not in message
    assert name in message or name == "region"  # the region's line names the valid values


def test_settings_from_config_reads_every_declaration() -> None:
    settings = Settings.from_config({"api_key": "k", "page_size": "100", "region": "EU"})
    assert settings.page_size == 100
    assert settings.region == "eu"
    assert settings.requests_per_second == DECLARED["requests_per_second"].default
    assert set(DECLARED) == set(Settings.__dataclass_fields__)


def test_every_opt_in_stream_names_a_boolean_setting_off_by_default() -> None:
    """An endpoint row's ``opt_in`` is a setting's name, read from :class:`Settings`.

    Not declared there, it stopped discovery and every run with an AttributeError ("please
    report it"), and ``make settings`` with it (CONTRIBUTING, Adding a stream, step 1).
    """
    for endpoint in endpoints():
        if endpoint.opt_in:
            declaration = DECLARED.get(endpoint.opt_in)
            assert declaration is not None, (
                f"{endpoint.name}: opt_in {endpoint.opt_in!r} is not declared in "
                "tap_knowbe4/settings.py"
            )
            assert declaration.type is bool, endpoint.opt_in
            assert declaration.default is False, f"{endpoint.opt_in}: an opt-in is off by default"
