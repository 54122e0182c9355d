"""What ``make dist`` gives another Meltano project, and the loaders the README may name.

``scripts/dist.py`` writes the tap's definition (installing its wheel) and one definition per
loader the tests run; the README's adoption section adds them from there. Building the wheels is
left to ``tests/integration/test_fresh_project.py`` (which runs ``make dist`` as the README
says) and ``tests/test_packaging.py``; these checks read files only.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.project_scripts import ROOT, load_script

dist = load_script("dist")

#: Where adopters read about loaders.
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def _loader_table() -> dict[str, tuple[str, list[str]]]:
    """README's loader table: name -> (what it installs, the test files it names)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**Loaders.**", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in section.splitlines()[2:]:
        name, installs, tested_by = (cell.strip() for cell in line.strip("|").split("|"))
        files = re.findall(r"`([\w/]*test_\w+\.py)`", tested_by)
        rows[name.strip("`")] = (installs, files)
    return rows


def test_definitions_are_the_tested_loaders_installing_the_fix_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "target_duckdb_fix-0.8.0.2-py3-none-any.whl"
    found = dist.loader_definitions(wheel)
    assert sorted(found) == sorted(dist.TESTED_LOADERS)
    duckdb = found["target-duckdb"]
    assert duckdb["pip_url"] == f"target-duckdb~=0.8 {wheel}"  # no path into a checkout
    assert duckdb["executable"] == "target-duckdb-fixed"
    for definition in found.values():
        assert "config" not in definition
        assert not any(part.startswith(".") for part in definition["pip_url"].split())


def test_definitions_default_to_the_config_the_tests_run_with() -> None:
    project = dist.read_yaml(dist.MELTANO_YML)
    configs = {p["name"]: p.get("config", {}) for p in project["plugins"]["loaders"]}
    for name, definition in dist.loader_definitions(Path("fix.whl")).items():
        defaults = {s["name"]: s["value"] for s in definition["settings"] if "value" in s}
        assert {k: defaults[k] for k in configs[name]} == configs[name], name
    jsonl = dist.loader_definitions(Path("fix.whl"))["target-jsonl"]
    assert {s["name"]: s.get("value") for s in jsonl["settings"]}["destination_path"] == (
        "output/jsonl"  # what README's `meltano run tap-knowbe4 target-jsonl` line promises
    )


def test_extractor_definition_installs_the_wheel_not_a_repository(tmp_path: Path) -> None:
    wheel = tmp_path / "tap_knowbe4-0.1.0-py3-none-any.whl"
    definition = dist.extractor_definition(wheel)
    assert definition["pip_url"] == str(wheel)
    hub = yaml.safe_load(dist.HUB_YML.read_text())
    assert {k: v for k, v in definition.items() if k != "pip_url"} == {
        k: v for k, v in hub.items() if k != "pip_url"
    }


def test_readme_loader_table_is_the_tested_loaders_as_pinned() -> None:
    table = _loader_table()
    assert sorted(table) == sorted(dist.TESTED_LOADERS)
    fix = Path("fix.whl")
    for name, definition in dist.loader_definitions(fix).items():
        installs, files = table[name]
        pins = [p for p in definition["pip_url"].split() if p != str(fix.resolve())]
        for pin in pins:
            assert f"`{pin}`" in installs, (name, pin)
        assert files, f"README names no test for {name}"
        for file in files:
            path = ROOT / file if "/" in file else ROOT / "tests" / "integration" / file
            assert path.is_file(), file
            assert name in path.read_text(), f"{file} does not run {name}"


def test_docs_name_only_tested_loaders() -> None:
    """Every ``target-*`` an adopter reads about is one a test runs (issue 20, item 1)."""
    allowed = {*dist.TESTED_LOADERS, "target-duckdb-fixed"}  # the fix's executable
    for doc in DOCS:
        named = set(re.findall(r"\btarget-[a-z0-9]+(?:-[a-z0-9]+)*", doc.read_text()))
        assert named <= allowed, f"{doc.name} names untested loaders: {sorted(named - allowed)}"
