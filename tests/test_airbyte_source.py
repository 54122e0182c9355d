"""source-knowbe4's spec, discover and refusals: derived from the tap, one line when wrong."""

from __future__ import annotations

import jsonschema
import pytest

from tap_knowbe4.airbyte.spec import SINGER_ONLY
from tap_knowbe4.settings import CONFIG_SCHEMA, Settings
from tap_knowbe4.streams import endpoints
from tap_knowbe4.tap import TapKnowBe4
from tests.airbyte_output import Source, configured_catalog, run_source

KEY = "airbyte-test-key-7f3a9c"


def config(**overrides):
    return {"api_key": KEY, "api_url": "http://127.0.0.1:9", **overrides}


def test_spec_is_the_settings_declaration():
    run = run_source("spec")
    assert run.code == 0
    (message,) = run.messages
    spec = message["spec"]["connectionSpecification"]
    jsonschema.Draft7Validator.check_schema(spec)
    declared = [name for name, _ in Settings.declared() if name not in SINGER_ONLY]
    assert list(spec["properties"]) == declared
    assert spec["required"] == CONFIG_SCHEMA["required"] == ["api_key"]
    for order, name in enumerate(declared):
        prop, source = spec["properties"][name], CONFIG_SCHEMA["properties"][name]
        assert prop["order"] == order
        assert prop["type"] in ("string", "integer", "number", "boolean"), name
        assert prop["type"] in source["type"], name
        for key in ("title", "description", "default", "minimum", "maximum", "enum", "examples"):
            assert prop.get(key) == source.get(key), (name, key)
        assert prop.get("airbyte_secret", False) == bool(source.get("secret")), name
    assert spec["properties"]["api_key"]["airbyte_secret"] is True
    # the settings a Singer target alone understands are accepted but not offered
    jsonschema.validate(config(emit_activate_version_messages=True), spec)


def test_spec_validates_what_the_tap_accepts_and_refuses_out_of_bounds():
    spec = run_source("spec").messages[0]["spec"]["connectionSpecification"]
    jsonschema.validate(config(page_size=25, requests_per_second=0), spec)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config(page_size=501), spec)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"region": "eu"}, spec)


@pytest.mark.parametrize("opt_in", [True, False])
def test_discover_lists_every_stream_with_schema_key_modes_and_cursor(tmp_path, opt_in):
    table = {e.name: e for e in endpoints()}
    opt_ins = {e.opt_in: e.name for e in table.values() if e.opt_in}
    run = Source(tmp_path, config(**dict.fromkeys(opt_ins, opt_in))).discover()
    assert run.code == 0
    listed = {s["name"]: s for s in run.catalog["streams"]}
    expected = set(table) - (set() if opt_in else set(opt_ins.values()))
    assert set(listed) == expected
    tap = TapKnowBe4(config=config(), validate_config=False)
    for name, stream in listed.items():
        endpoint = table[name]
        assert stream["json_schema"] == tap.streams[name].schema
        assert stream["source_defined_primary_key"] == [[k] for k in endpoint.primary_keys]
        if endpoint.incremental:
            assert stream["supported_sync_modes"] == ["full_refresh", "incremental"]
            assert stream["source_defined_cursor"] is True
            assert stream["is_resumable"] is True
        else:
            assert stream["supported_sync_modes"] == ["full_refresh"]
            assert "default_cursor_field" not in stream
    for name in ("account_risk_score_history", "group_risk_score_history"):
        assert listed[name]["default_cursor_field"] == ["date"]
    # recipients have no cursor: the tap re-reads a test while its counters can change
    assert "default_cursor_field" not in listed["phishing_security_test_recipients"]


def test_discover_with_members_from_the_endpoint(tmp_path):
    run = Source(tmp_path, config(group_members_source="endpoint")).discover()
    listed = {s["name"] for s in run.catalog["streams"]}
    assert "group_members" in listed


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"page_size": 0}, "page_size"),
        ({"api_key": ""}, "api_key is missing or empty"),
        ({"stream_maps": {}}, "Unknown setting(s) stream_maps"),
        ({"batch_config": {}}, "Unknown setting(s) batch_config"),
    ],
)
def test_a_bad_setting_is_one_config_error_in_every_command(tmp_path, overrides, says):
    source = Source(tmp_path, config(**overrides))
    for run in (source.discover(), source.read({"streams": []})):
        assert run.code == 1
        (error,) = run.errors
        assert error["failure_type"] == "config_error"
        assert says in error["message"]
        assert KEY not in run.text
    checked = source.check()
    assert checked.code == 0
    (status,) = checked.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert says in status["connectionStatus"]["message"]


@pytest.mark.parametrize(
    ("catalog", "says"),
    [
        ("not json", "the catalog file is not valid JSON"),
        ([], "the catalog file is not an Airbyte configured catalog: the document must be"),
        ({"streams": [{"stream": {"name": "users"}}]}, "streams[0].stream.json_schema is missing"),
        (
            {
                "streams": [
                    {
                        "stream": {"name": "x", "json_schema": {}, "supported_sync_modes": []},
                        "sync_mode": "INVALID",
                        "destination_sync_mode": "append",
                    }
                ]
            },
            "streams[0].sync_mode: 'INVALID' is not one of full_refresh, incremental",
        ),
    ],
)
def test_a_malformed_catalog_is_one_line(tmp_path, catalog, says):
    source = Source(tmp_path, config())
    run = run_source("read", "--config", source.config_path, "--catalog", _write(tmp_path, catalog))
    assert run.code == 1
    (error,) = run.errors
    assert says in error["message"], error["message"]
    assert error["failure_type"] == "config_error"


def test_streams_that_cannot_be_read_are_incomplete_and_fail_the_sync(tmp_path):
    """A stream unknown to the source, or one whose setting is off, is never COMPLETE."""
    source = Source(tmp_path, config(include_user_risk_score_history=True))
    catalog = configured_catalog(source.discover().catalog, ["user_risk_score_history"])
    catalog["streams"].append(
        {**catalog["streams"][0], "stream": {**catalog["streams"][0]["stream"], "name": "nope"}}
    )
    off = Source(tmp_path, config())
    run = off.read(catalog)
    assert run.code == 1
    assert run.final_statuses == {"user_risk_score_history": "INCOMPLETE", "nope": "INCOMPLETE"}
    (error,) = run.errors
    assert error["failure_type"] == "config_error"
    assert "include_user_risk_score_history is false" in error["message"]
    assert "stream 'nope' does not exist" in error["message"]
    assert not run.of_type("RECORD")


def test_usage_errors_are_one_line(tmp_path):
    for argv in ([], ["sync"], ["read", "--config", "x.json"]):
        run = run_source(*argv)
        assert run.code == 1
        (error,) = run.errors
        assert "usage: source-knowbe4" in error["message"]


def _write(tmp_path, value) -> str:
    from tests.airbyte_output import write  # noqa: PLC0415

    return write(tmp_path / "catalog.json", value)
