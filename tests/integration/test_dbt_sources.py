"""The dbt project's generated sources are current, and every stream has a staging model.

Fast (no database): the sources file is generated from the tap's JSON schemas and endpoint
table by ``scripts/dbt_sources.py`` (``make settings``); a change without regenerating it fails
here.
"""

from __future__ import annotations

import re

from tests.project_scripts import ROOT, load_script

dbt_sources = load_script("dbt_sources")
STAGING = ROOT / "transform" / "models" / "staging"


def test_generated_sources_are_current() -> None:
    expected = dbt_sources.render(dbt_sources.load_schemas())
    assert dbt_sources.OUTPUT.read_text(encoding="utf-8") == expected, (
        "transform/models/staging/_knowbe4__sources.yml is stale: run `make settings`"
    )
    assert dbt_sources.main(["--check"]) == 0


def test_sources_cover_every_stream_and_column() -> None:
    schemas = dbt_sources.load_schemas()
    text = dbt_sources.OUTPUT.read_text(encoding="utf-8")
    tables = re.findall(r"^      - name: (\w+)$", text, flags=re.MULTILINE)
    assert tables == list(schemas), "one source table per stream, in schema-file order"
    for stream, schema in schemas.items():
        block = text.split(f"      - name: {stream}\n", 1)[1].split("\n      - name: ", 1)[0]
        columns = re.findall(r"^          - name: (\w+)$", block, flags=re.MULTILINE)
        assert columns[: len(schema["properties"])] == list(schema["properties"]), stream
        assert "loaded_at_field: _sdc_extracted_at" in block, stream
        for name, prop in schema["properties"].items():
            if prop.get("description"):
                assert prop["description"].strip()[:40] in block, (stream, name)


def test_every_stream_has_a_staging_model() -> None:
    used: set[str] = set()
    for model in STAGING.glob("stg_knowbe4__*.sql"):
        # through the macro that unions a stream's sources (macros/union.sql)
        used |= set(re.findall(r"knowbe4_source_rows\('(\w+)'", model.read_text()))
    assert used == set(dbt_sources.load_schemas())
