"""fleet.yml -> fleet.meltano.yml (scripts/fleet.py): one extractor per account, keys by reference.

The real Meltano runs of a generated fleet are in tests/integration/test_fleet_meltano.py.
"""

from __future__ import annotations

import shutil

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.project_scripts import ROOT, load_script
from tests.property_examples import examples

fleet = load_script("fleet")

names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
variables = st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True)
keys = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=8, max_size=40).map(
    lambda text: "kb4-secret-" + text
)


@st.composite
def fleets(draw):
    account_names = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    envs = draw(
        st.lists(variables, min_size=len(account_names), max_size=len(account_names), unique=True)
    )
    accounts = [
        {"name": n, "key_env": e, "region": draw(st.sampled_from(["us", "eu", "ca", "uk", "de"]))}
        for n, e in zip(account_names, envs, strict=True)
    ]
    loader = draw(st.sampled_from(["target-duckdb", "target-postgres"]))
    return {"loader": loader, "accounts": accounts}


@settings(max_examples=examples(30))
@given(fleets(), st.data())
def test_each_account_becomes_one_extractor_with_its_own_schema_and_key_reference(document, data):
    parsed = fleet.parse(document)
    secrets = {a["key_env"]: data.draw(keys) for a in document["accounts"]}
    with pytest.MonkeyPatch.context() as mp:
        for variable, key in secrets.items():
            mp.setenv(variable, key)
        text = fleet.render(parsed)
    generated = yaml.safe_load(text)["plugins"]["extractors"]
    wanted = [f"tap-knowbe4--{a['name']}" for a in document["accounts"]]
    assert [g["name"] for g in generated] == wanted
    assert len({g["load_schema"] for g in generated}) == len(generated)
    states = {parsed.account(a["name"]).state_id(parsed.loader) for a in document["accounts"]}
    assert len(states) == len(generated)
    for g, a in zip(generated, document["accounts"], strict=True):
        assert g["inherit_from"] == "tap-knowbe4"
        assert g["load_schema"] == f"knowbe4_{a['name']}"
        assert g["config"]["api_key"] == "${" + a["key_env"] + "}"
        assert g["config"]["account_label"] == a["name"]
        assert g["config"]["region"] == a["region"]
    # The keys live in the environment only.
    assert not [k for k in secrets.values() if k in text]


def test_the_example_file_is_a_valid_fleet():
    parsed = fleet.load(ROOT / "fleet.example.yml")
    assert parsed.names == ["acme", "globex_eu", "initech"]
    assert parsed.account("initech").key_env == "TAP_KNOWBE4__INITECH_API_KEY"
    assert parsed.account("globex_eu").config == {"start_date": "2024-01-01"}


def test_meltano_yml_includes_the_generated_file():
    project = fleet.read_yaml(ROOT / "meltano.yml")
    assert f"./{fleet.GENERATED_FILE}" in project["include_paths"]


def _account(**fields):
    return {"name": "acme", "key_env": "ACME_KEY", **fields}


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"accounts": [_account(api_key="kb4-secret")]}, "key_env"),
        ({"accounts": [_account(config={"api_key": "kb4-secret"})]}, "api_key"),
        ({"accounts": [_account(config={"budget_ledger_path": "x"})]}, "ledger_dir"),
        ({"accounts": [_account(), _account(key_env="OTHER")]}, "used twice"),
        ({"accounts": [_account(), _account(name="b")]}, "one key is one account"),
        ({"accounts": [_account(name="Acme")]}, "a-z"),
        ({"accounts": [_account(name="a-b")]}, "a-z"),
        ({"accounts": [_account(name="x" * 41)]}, "up to 40"),
        ({"accounts": [_account(key_env="acme key")]}, "environment variable"),
        ({"accounts": [_account(regoin="eu")]}, "regoin"),
        ({"accounts": [_account(config=["start_date"])]}, "mapping"),
        ({"accounts": [_account(region="")]}, "region"),
        ({"accounts": []}, "non-empty"),
        ({"account": [_account()]}, "unknown field"),
        (["acme"], "mapping"),
        ({"accounts": ["acme"]}, "mapping"),
    ],
)
def test_a_mistake_is_one_line_naming_where(document, words):
    with pytest.raises(fleet.FleetError) as caught:
        fleet.parse(document)
    message = str(caught.value)
    assert words in message
    assert "\n" not in message
    assert "kb4-secret" not in message


def test_an_account_may_not_shadow_an_instance_of_meltano_yml():
    with pytest.raises(fleet.FleetError, match="already defines tap-knowbe4--eu"):
        fleet.parse(
            {"accounts": [_account(name="eu")]}, reserved_names=fleet.project_extractors(ROOT)
        )


def test_the_command_writes_checks_and_lists(tmp_path, capsys):
    shutil.copy(ROOT / "meltano.yml", tmp_path / "meltano.yml")
    source = tmp_path / "fleet.yml"
    source.write_text(yaml.safe_dump({"accounts": [_account(), _account(name="b", key_env="B")]}))
    args = ["--project", str(tmp_path), "--fleet", str(source)]
    assert fleet.main([*args, "--check"]) == 1
    assert fleet.main(args) == 0
    assert fleet.main([*args, "--check"]) == 0
    assert fleet.main([*args, "--list"]) == 0
    listed = capsys.readouterr().out
    assert "dev:tap-knowbe4--b-to-target-duckdb" in listed
    source.write_text("accounts: [")
    assert fleet.main(args) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_a_ledger_dir_gives_each_account_a_ledger_file_of_its_own():
    parsed = fleet.parse(
        {"ledger_dir": "/var/lib/kb4/", "accounts": [_account(), _account(name="b", key_env="B")]}
    )
    generated = yaml.safe_load(fleet.render(parsed))["plugins"]["extractors"]
    paths = [g["config"]["budget_ledger_path"] for g in generated]
    assert paths == ["/var/lib/kb4/acme.json", "/var/lib/kb4/b.json"]
    without = yaml.safe_load(fleet.render(fleet.parse({"accounts": [_account()]})))
    assert "budget_ledger_path" not in without["plugins"]["extractors"][0]["config"]
