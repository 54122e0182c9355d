"""hub/tap-knowbe4.yml: valid for Meltano Hub, generated from the tap, the same as meltano.yml's.

The Hub definition is what other projects add with
``meltano add --plugin-type extractor tap-knowbe4 --from-ref <raw URL>``; the fresh-project
test (tests/integration/test_fresh_project.py) runs that. Here, without Meltano:

- it validates against the Hub's extractor-definition schema (restated in
  hub/extractor-definition.schema.json, with the Hub commit it follows);
- it and the extractor block of meltano.yml equal what ``scripts/meltano_settings.py``
  generates from ``tap-knowbe4 --about`` and ``--discover`` (so neither can go stale);
- its default ``select`` leaves out the streams the tap does not select by default.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import typing as t
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests import warm_tap
from tests.project_scripts import installed_tap, load_script

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "hub" / "extractor-definition.schema.json"

meltano_settings = load_script("meltano_settings")


def _run_tap(command: list[str]) -> subprocess.CompletedProcess[str]:
    """The script's commands as a new process forked from this worker's warm tap (the same
    command line, output and exit code without a second of imports: tests/warm_tap.py)."""
    return warm_tap.run(command, check=True)


@pytest.fixture(scope="module")
def about() -> dict[str, t.Any]:
    return meltano_settings.load_about(installed_tap(), run=_run_tap)


@pytest.fixture(scope="module")
def catalog() -> dict[str, t.Any]:
    return meltano_settings.load_catalog(installed_tap(), run=_run_tap)


@pytest.fixture(scope="module")
def hub() -> dict[str, t.Any]:
    return yaml.safe_load(meltano_settings.HUB_YML.read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def test_hub_definition_validates_against_the_hub_schema(
    hub: dict[str, t.Any], validator: jsonschema.Draft7Validator
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(hub)]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.pop("quality"), "quality is required"),
        (lambda d: d.pop("variant"), "variant is required"),
        (lambda d: d.update(version="0.1.0"), "no unknown top-level keys"),
        (lambda d: d["settings"][0].update(kind="text"), "kind is an enumeration"),
        (lambda d: d["settings"][0].update(default=1), "no unknown setting keys"),
        (lambda d: d.update(capabilities=["sync"]), "capabilities is an enumeration"),
        (lambda d: d.update(maintenance_status="stable"), "maintenance_status enumeration"),
        (lambda d: d.update(supported_python_versions=["3"]), "versions are 3.x"),
        (lambda d: d.update(select="*.*"), "select is a list"),
    ],
)
def test_the_schema_rejects_what_the_hub_rejects(
    hub: dict[str, t.Any],
    validator: jsonschema.Draft7Validator,
    change: t.Callable[[dict[str, t.Any]], t.Any],
    why: str,
) -> None:
    broken = copy.deepcopy(hub)
    change(broken)
    assert not validator.is_valid(broken), why


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_hub_yml_and_meltano_yml_are_generated_from_the_tap(
    about: dict[str, t.Any], catalog: dict[str, t.Any]
) -> None:
    stale = meltano_settings.stale_files(about, catalog)
    assert not stale, (
        f"{', '.join(str(p.relative_to(ROOT)) for p in stale)} differ from `tap-knowbe4 "
        "--about`/`--discover`: run `make settings` (scripts/meltano_settings.py)"
    )


def test_a_changed_tap_makes_both_files_stale(
    about: dict[str, t.Any], catalog: dict[str, t.Any]
) -> None:
    """The staleness check notices a new setting, in both files."""
    changed = copy.deepcopy(about)
    changed["settings"]["properties"]["new_setting"] = {"type": ["integer", "null"]}
    stale = meltano_settings.stale_files(changed, catalog)
    assert stale == [meltano_settings.HUB_YML, meltano_settings.MELTANO_YML]


def test_meltano_yml_repeats_the_hub_definition(hub: dict[str, t.Any]) -> None:
    """Same keys and values (settings in the tap's order there), pip_url aside."""
    in_project = meltano_settings.definition_in_meltano_yml()
    assert set(in_project) == set(meltano_settings.MELTANO_KEYS)
    by_name = {s["name"]: s for s in in_project.pop("settings")}
    expected = {k: hub[k] for k in meltano_settings.MELTANO_KEYS}
    assert by_name == {s["name"]: s for s in expected.pop("settings")}
    assert in_project == expected
    extractor = next(
        p
        for p in meltano_settings.read_yaml(meltano_settings.MELTANO_YML)["plugins"]["extractors"]
        if p["name"] == "tap-knowbe4"
    )
    assert extractor["pip_url"] == "-e ."


def test_hub_definition_content(
    hub: dict[str, t.Any], about: dict[str, t.Any], catalog: dict[str, t.Any]
) -> None:
    project = meltano_settings.load_project()
    repo = project["urls"]["Repository"]
    assert hub["name"] == "tap-knowbe4"
    assert hub["namespace"] == "tap_knowbe4"
    assert hub["executable"] in project["scripts"]
    assert hub["repo"] == repo
    assert hub["pip_url"] == f"git+{repo}.git"
    assert hub["variant"] == repo.rstrip("/").split("/")[-2].lower()
    assert hub["supported_python_versions"] == about["supported_python_versions"]
    assert set(hub["capabilities"]) == set(about["capabilities"])
    assert hub["settings_group_validation"] == [["api_key"]]
    settings = {s["name"]: s for s in hub["settings"]}
    assert set(about["settings"]["properties"]) <= {n.split(".")[0] for n in settings}
    assert settings["api_key"]["sensitive"] is True
    for name, setting in settings.items():
        assert setting.get("kind") not in (None, "password"), name  # password is deprecated
        assert setting.get("label"), name
        assert setting.get("description"), name
    # Typed kinds, so `meltano config set` stores booleans and integers, not strings.
    assert settings["flattening_enabled"]["kind"] == "boolean"
    assert settings["page_size"]["kind"] == "integer"
    assert settings["stream_maps"]["kind"] == "object"
    assert settings["start_date"]["kind"] == "date_iso8601"


def test_the_costly_stream_is_an_opt_in_setting_not_a_selection(
    hub: dict[str, t.Any], catalog: dict[str, t.Any]
) -> None:
    # Meltano's default selection ("*.*") is safe wherever the tap is added from: the
    # per-user history is read only with include_user_risk_score_history, default false.
    not_by_default = [
        entry["tap_stream_id"]
        for entry in catalog["streams"]
        for meta in entry["metadata"]
        if not meta["breadcrumb"] and meta["metadata"].get("selected-by-default") is False
    ]
    assert not_by_default == []
    assert hub["select"] == ["*.*"]
    opt_in = {s["name"]: s for s in hub["settings"]}["include_user_risk_score_history"]
    assert opt_in["kind"] == "boolean"
    assert opt_in["value"] is False


def test_readme_adds_the_tap_from_the_raw_url_of_this_file() -> None:
    url = meltano_settings.hub_raw_url(meltano_settings.load_project())
    assert url.endswith("/main/hub/tap-knowbe4.yml")
    for readme in (ROOT / "README.md", ROOT / "hub" / "README.md"):
        text = re.sub(r"\\\n\s*", "", readme.read_text())  # join continued lines
        assert f"--from-ref {url}" in text, readme
    assert url in meltano_settings.HUB_YML.read_text()
