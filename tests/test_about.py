"""`--about` is the single source of the settings docs: the README table must match it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import warm_tap
from tests.project_scripts import installed_tap, load_script

ROOT = Path(__file__).resolve().parent.parent


readme_settings = load_script("update_readme_settings")


@pytest.fixture(scope="module")
def about_markdown() -> str:
    """``tap-knowbe4 --about --format=markdown`` (what readme_settings.about_markdown runs),
    forked from the warm tap process."""
    command = [installed_tap(), "--about", "--format=markdown"]
    return warm_tap.run(command, check=True).stdout


def test_about_markdown_lists_every_setting(about_markdown: str) -> None:
    json_out = warm_tap.run([installed_tap(), "--about", "--format=json"], check=True).stdout
    settings = json.loads(json_out)["settings"]["properties"]
    table = readme_settings.settings_table(about_markdown)
    names = {row.split("|")[1].strip() for row in table[2:]}
    assert set(settings) <= names
    assert "api_key" in names
    assert "region" in names


def test_readme_settings_table_matches_about(about_markdown: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme_settings.START in readme, (
        "README.md has no <!-- settings:start --> / <!-- settings:end --> section; add the "
        "markers and run `.venv/bin/python scripts/update_readme_settings.py`"
    )
    expected = readme_settings.render_section(about_markdown)
    assert readme_settings.read_section(readme) == expected, (
        "README.md settings table is stale: run "
        "`.venv/bin/python scripts/update_readme_settings.py` (or `make settings`)"
    )


def test_replace_section_round_trips() -> None:
    text = "# x\n\n<!-- settings:start -->\nold\n<!-- settings:end -->\n\nafter\n"
    new = readme_settings.replace_section(text, "new\n")
    assert new == "# x\n\n<!-- settings:start -->\nnew\n<!-- settings:end -->\n\nafter\n"
    assert readme_settings.read_section(new) == "new\n"


def test_readme_streams_table_matches_the_endpoint_table() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme_settings._section(
        readme, readme_settings.STREAMS_START, readme_settings.STREAMS_END
    )
    assert section == readme_settings.streams_section(), (
        "README.md streams table is stale: run `make settings`"
    )
    from tap_knowbe4.streams import endpoints  # noqa: PLC0415

    for endpoint in endpoints():
        assert f"| `{endpoint.name}` |" in section, endpoint.name


def test_about_markdown_title_and_description_are_not_code(about_markdown: str) -> None:
    """No header line is indented: four spaces would make Markdown show it as code."""
    header = about_markdown.split("## Capabilities", 1)[0]
    lines = header.splitlines()
    assert lines[0] == "# `tap-knowbe4`"
    assert not [line for line in lines if line.startswith("    ")], header
    assert "Singer tap for the KnowBe4 Reporting API." in header
    assert "Built with the [Meltano Singer SDK]" in header
