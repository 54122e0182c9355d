"""meltano.yml: in step with the tap, installable offline, no deprecated keys."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

from tests.integration.checks import DEFAULT_STREAMS, OPT_IN_STREAMS
from tests.integration.conftest import ROOT
from tests.project_scripts import load_script

if t.TYPE_CHECKING:
    from tests.integration.conftest import Meltano

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("meltano_project")]

meltano_settings = load_script("meltano_settings")
PROJECT = yaml.safe_load((ROOT / "meltano.yml").read_text())


def _about() -> dict[str, t.Any]:
    exe = Path(sys.executable).parent / "tap-knowbe4"
    out = subprocess.run(
        [str(exe), "--about", "--format=json"], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def _plugins() -> list[tuple[str, dict[str, t.Any]]]:
    return [(kind, plugin) for kind, plugins in PROJECT["plugins"].items() for plugin in plugins]


def test_extractor_settings_match_about() -> None:
    """Capabilities, settings and required settings equal `tap-knowbe4 --about --format=json`.

    (tests/test_hub_definition.py checks the whole generated block, and hub/tap-knowbe4.yml.)
    """
    expected = meltano_settings.definition_from_about(_about())
    found = meltano_settings.definition_in_meltano_yml()
    want = {s["name"]: s for s in expected["settings"]}
    have = {s["name"]: s for s in found.get("settings", [])}
    differing = sorted(n for n in want.keys() | have.keys() if want.get(n) != have.get(n))
    assert not differing, (
        f"meltano.yml is stale (settings differing: {differing}); run `make settings`"
    )
    assert [s["name"] for s in found["settings"]] == [s["name"] for s in expected["settings"]]
    assert sorted(found["capabilities"]) == expected["capabilities"]
    assert found.get("settings_group_validation") == expected.get("settings_group_validation")


def test_every_tap_setting_is_declared_with_kind_and_description() -> None:
    about = _about()["settings"]["properties"]
    extractor = next(p for k, p in _plugins() if p["name"] == "tap-knowbe4")
    declared = {s["name"]: s for s in extractor["settings"]}
    assert set(about) <= {name.split(".")[0] for name in declared}
    assert declared["api_key"].get("sensitive") is True
    # a string: Meltano refuses values outside an options list, and region also takes the
    # console address and upper case (tests/integration/test_meltano_settings.py)
    assert declared["region"]["kind"] == "string"
    assert declared["pagination"]["kind"] == "options"
    for name, setting in declared.items():
        assert setting.get("kind"), name
        assert setting.get("description"), name


def test_no_hub_lookups_and_no_deprecated_keys() -> None:
    assert "version" not in PROJECT, "Meltano 4.4 warns that `version` is deprecated"
    assert PROJECT["send_anonymous_usage_stats"] is False
    for kind, plugin in _plugins():
        assert "variant" not in plugin, f"{plugin['name']}: a variant makes Meltano ask the Hub"
        if "inherit_from" in plugin:
            continue
        for key in ("namespace", "pip_url", "executable"):
            assert plugin.get(key), f"{kind} {plugin['name']} is not a custom plugin: no {key}"
        for setting in plugin.get("settings", []):
            assert setting.get("kind") != "password", "kind: password is deprecated"
    loaders = {p["name"] for k, p in _plugins() if k == "loaders"}
    assert {"target-duckdb", "target-jsonl", "target-postgres"} <= loaders


def test_default_selection_is_every_default_stream(catalog: dict[str, t.Any]) -> None:
    """meltano.yml selects everything but the streams the tap does not select by default."""
    extractor = next(p for k, p in _plugins() if p["name"] == "tap-knowbe4")
    by_default = {
        stream
        for stream, entry in catalog.items()
        if any(
            not m["breadcrumb"] and m["metadata"].get("selected-by-default")
            for m in entry["metadata"]
        )
    }
    assert extractor["select"] == ["*.*"]
    assert by_default == set(catalog)  # the costly one is a setting, not a selection
    assert "include_user_risk_score_history" not in extractor.get("config", {})


def test_inherited_instances_have_their_own_settings(
    meltano: Meltano, meltano_env: dict[str, str]
) -> None:
    names = {p["name"]: p for k, p in _plugins()}
    assert names["tap-knowbe4--eu"]["inherit_from"] == "tap-knowbe4"
    assert names["tap-knowbe4--eu"]["config"]["region"] == "eu"
    own_key = {"TAP_KNOWBE4__EU_API_KEY": "eu-key"}
    dump = ["invoke", "--dump=config", "tap-knowbe4--eu"]
    listed, with_key, without = meltano.in_one_process(
        [["config", "list", "tap-knowbe4--eu", own_key], [*dump, own_key], dump], meltano_env
    )
    assert "TAP_KNOWBE4__EU_API_KEY" in listed
    assert "TAP_KNOWBE4__EU_REGION" in listed

    def config(out: str) -> dict[str, t.Any]:
        return json.loads(out[out.index("{") :])

    eu = config(with_key)
    assert eu["region"] == "eu"
    assert eu["api_key"] == "eu-key"
    # Documented gotcha: without its own key the instance inherits the parent's.
    assert config(without)["api_key"] == meltano_env["TAP_KNOWBE4_API_KEY"]


def test_meltano_selects_everything_and_the_uk_instance_opts_in(
    meltano: Meltano, meltano_env: dict[str, str]
) -> None:
    out = meltano("select", "tap-knowbe4", "--json", "--all", env=meltano_env).stdout
    selection: dict[str, set[str]] = {}
    for item in json.loads(out[out.index("{") :])["streams"]:
        selection.setdefault(item["stream"], set()).add(item["selection"])
    assert set(selection) == {*DEFAULT_STREAMS, *OPT_IN_STREAMS}
    for stream, states in selection.items():
        assert "excluded" not in states, stream
    names = {p["name"]: p for k, p in _plugins()}
    assert names["tap-knowbe4--uk"]["config"]["include_user_risk_score_history"] is True
    assert "include_user_risk_score_history" not in names["tap-knowbe4"].get("config", {})


def test_about_markdown_through_meltano(meltano: Meltano, meltano_env: dict[str, str]) -> None:
    out = meltano("invoke", "tap-knowbe4", "--about", "--format=markdown", env=meltano_env).stdout
    assert "## Settings" in out
    assert "| api_key |" in out
