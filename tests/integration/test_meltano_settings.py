"""Every documented form of every setting reaches the tap through Meltano, as the tap reads it.

A new ``meltano init`` project adds the tap from ``hub/tap-knowbe4.yml``. Then, for each
documented form of each setting (the ``examples`` of its declaration in
``tap_knowbe4/settings.py``: ``0.5`` for ``requests_per_second``, ``EU`` and a console URL for
``region``, ``yes`` for a boolean, ...), in rounds of one form per setting:

- ``meltano config set tap-knowbe4 <setting> <form>``, then ``meltano invoke --dump=config``:
  the config Meltano would hand the tap;
- the same forms as ``TAP_KNOWBE4_<SETTING>`` variables, and the dump again;

and the tap is built from each dumped config (the SDK's validation and the tap's parsing, as
at the start of a run): every setting must hold what the tap makes of the form typed
directly. Plus the README's forms of the SDK's own settings. The last test pins why numbers
are ``kind: string`` (scripts/meltano_settings.py): ``decimal`` crashes Meltano on text,
``integer`` refuses ``0.5``.

The commands run through Meltano's own command line in one Meltano process
(``meltano_cli_driver.py``): dozens of separate ``meltano`` processes would take minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest
import trustme
import yaml

from tap_knowbe4.settings import Settings
from tap_knowbe4.tap import TapKnowBe4
from tests.integration.conftest import ROOT, drive_meltano, meltano_install, printed
from tests.project_scripts import load_script

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("meltano_settings")]

meltano_settings = load_script("meltano_settings")
KEY = "kb4-settings-test-key"
#: The README's forms of the SDK's own settings (section "Add it to your Meltano project").
SDK_FORMS: dict[str, tuple[str, t.Any]] = {
    "flattening_enabled": ("true", True),
    "flattening_max_depth": ("1", 1),
    "stream_maps": (
        '{"users": {"email": "md5(record[\\"email\\"])"}}',
        {"users": {"email": 'md5(record["email"])'}},
    ),
}


#: Plugins with the tap's definition but another kind for ``requests_per_second``.
OTHER_KINDS = {"tap-knowbe4-decimal": "decimal", "tap-knowbe4-integer": "integer"}
DUMP = ["invoke", "--no-install", "--dump=config"]


def _definition(directory: Path, name: str, number_kind: str | None = None) -> Path:
    """hub/tap-knowbe4.yml (installing this checkout) under ``name``."""
    hub = yaml.safe_load(meltano_settings.HUB_YML.read_text())
    hub.update(name=name, pip_url=str(ROOT))
    for setting in hub["settings"]:
        if number_kind and setting["name"] == "requests_per_second":
            setting["kind"] = number_kind
    path = directory / f"{name}.yml"
    path.write_text(yaml.safe_dump(hub, sort_keys=False))
    return path


def _rounds(tmp: Path) -> list[dict[str, str]]:
    """One documented form of each setting per round, until every form was used."""
    pem = tmp / "corporate-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    forms = {name: decl.examples for name, decl in Settings.declared() if name != "api_key"}
    forms["budget_ledger_path"] = (str(tmp / "shared" / "budget-ledger.json"),)
    forms["ca_bundle"] = (str(pem),)
    assert all(forms.values()), [name for name, found in forms.items() if not found]
    rounds = []
    for index in range(max(len(f) for f in forms.values())):
        rounds.append({name: found[index] for name, found in forms.items() if index < len(found)})
    rounds[0].update({name: form for name, (form, _) in SDK_FORMS.items()})
    return rounds


class Results(t.NamedTuple):
    """What Meltano did: the rounds of forms and, per round, the two dumped configs."""

    rounds: list[dict[str, str]]
    dumps: list[tuple[dict[str, t.Any], dict[str, t.Any]]]
    other_kinds: dict[str, dict[str, t.Any]]


@pytest.fixture(scope="module")
def meltano(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Results]:
    """A new project; every command of these tests, run in one Meltano process."""
    directory = tmp_path_factory.mktemp("meltano-settings")
    executable = meltano_install.ensure_tools()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_KNOWBE4", "MELTANO_", "KNOWBE4_"))
    }
    env.update({"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"})
    subprocess.run(
        [str(executable), "init", "project", "--no_usage_stats"],
        cwd=directory,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    steps: list[dict[str, t.Any]] = []
    add = ["add", "--plugin-type", "extractor", "--no-install", "--from-ref"]
    steps.append({"args": [*add, str(_definition(directory, "tap-knowbe4")), "tap-knowbe4"]})
    for name, kind in OTHER_KINDS.items():
        steps.append({"args": [*add, str(_definition(directory, name, kind)), name]})
    steps.append({"args": ["config", "set", "tap-knowbe4", "api_key", KEY]})
    rounds = _rounds(directory)
    for chosen in rounds:
        steps += [{"args": ["config", "set", "tap-knowbe4", n, v]} for n, v in chosen.items()]
        variables = {f"TAP_KNOWBE4_{n.upper()}": v for n, v in chosen.items()}
        steps += [
            {"args": [*DUMP, "tap-knowbe4"]},
            {"args": [*DUMP, "tap-knowbe4"], "env": variables},
        ]
    # what the other kinds make of the number 0.5 given as text
    decimal = {
        "args": [*DUMP, "tap-knowbe4-decimal"],
        "env": {"TAP_KNOWBE4_DECIMAL_REQUESTS_PER_SECOND": "0.5"},
    }
    integer = {"args": ["config", "set", "tap-knowbe4-integer", "requests_per_second", "0.5"]}
    steps += [decimal, integer]
    results = drive_meltano(executable, steps, cwd=directory / "project", env=env, timeout=900)
    *ours, decimal_result, integer_result = results
    printed(ours)
    configs = [_json_from(r["stdout"]) for r in ours if r["args"][: len(DUMP)] == DUMP]
    yield Results(
        rounds=rounds,
        dumps=list(zip(configs[::2], configs[1::2], strict=True)),
        other_kinds={"decimal": decimal_result, "integer": integer_result},
    )
    shutil.rmtree(directory, ignore_errors=True)


def _json_from(out: str) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", json.loads(out[out.index("{") :]))


def _tap_reads(config: dict[str, t.Any]) -> Settings:
    """The settings as the tap reads them from ``config`` at the start of a run."""
    assert config.pop("api_key") == KEY
    return TapKnowBe4(config={**config, "api_key": KEY}, validate_config=True).settings


def test_every_documented_form_of_every_setting_reaches_the_tap(
    meltano: Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    declared = dict(Settings.declared())
    checked: dict[str, int] = {}
    for chosen, configs in zip(meltano.rounds, meltano.dumps, strict=True):
        for how, config in zip(
            ("meltano config set", "TAP_KNOWBE4_* variables"), configs, strict=True
        ):
            settings = _tap_reads(dict(config))
            for name, form in chosen.items():
                if name in SDK_FORMS:
                    assert config[name] == SDK_FORMS[name][1], (how, name, config[name])
                    continue
                expected = declared[name].parse(form)
                got = getattr(settings, name)
                assert got == expected, f"{how}: {name} {form!r} reached the tap as {got!r}"
                checked[name] = checked.get(name, 0) + 1
    forms = {name: sum(name in chosen for chosen in meltano.rounds) for name in checked}
    assert set(checked) == set(declared) - {"api_key"}
    assert checked == {name: 2 * count for name, count in forms.items()}


def test_why_numbers_are_string_kinds_in_meltano(meltano: Results) -> None:
    """Meltano 4.4.1's ``decimal`` and ``integer`` kinds break documented number forms.

    If this starts failing, Meltano reads them now: switch numbers to ``decimal`` in
    scripts/meltano_settings.py and update this test.
    """
    assert "Decimal is not JSON serializable" in meltano.other_kinds["decimal"]["error"]
    assert "invalid literal for int()" in meltano.other_kinds["integer"]["error"]
