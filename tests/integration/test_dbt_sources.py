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
        # the table's own line (a column of that name, deeper, must not match: a stream
        # listed before `groups` has a `groups` column)
        block = text.split(f"\n      - name: {stream}\n", 1)[1].split("\n      - name: ", 1)[0]
        columns = re.findall(r"^          - name: (\w+)$", block, flags=re.MULTILINE)
        assert columns[: len(schema["properties"])] == list(schema["properties"]), stream
        assert "loaded_at_field: _sdc_extracted_at" in block, stream
        for name, prop in schema["properties"].items():
            if prop.get("description"):
                assert prop["description"].strip()[:40] in block, (stream, name)


#: A staging model's read of a stream: the macro that unions a stream's sources and keeps its
#: current rows (macros/union.sql), and its arguments.
SOURCE_ROWS = re.compile(r"knowbe4_source_rows\('(\w+)'([^)]*)\)")


def source_reads() -> dict[str, list[tuple[str, str, str]]]:
    """Stream -> (model file, macro arguments, model text) of each staging model reading it."""
    reads: dict[str, list[tuple[str, str, str]]] = {}
    for model in sorted(STAGING.glob("stg_knowbe4__*.sql")):
        text = model.read_text(encoding="utf-8")
        for stream, args in SOURCE_ROWS.findall(text):
            reads.setdefault(stream, []).append((model.name, args, text))
    return reads


def test_every_stream_has_a_staging_model() -> None:
    streams = set(dbt_sources.load_schemas())
    used = set(source_reads())
    assert not streams - used, (
        f"no staging model reads {sorted(streams - used)} through "
        "{{ knowbe4_source_rows('<stream>') }} (CONTRIBUTING.md, Adding a stream, step 5)"
    )
    assert used <= streams, f"staging models read unknown streams {sorted(used - streams)}"


def test_staging_models_read_each_stream_as_its_endpoint_row_says() -> None:
    """Derived from the endpoint table, so a new stream is checked without a line here.

    An incremental stream's table keeps the rows of every run (it never sends
    ACTIVATE_VERSION): its model must read them all (``full_table=false``), or it shows only
    the last run's new rows. An opt-in stream's table may never be created: its model reads
    it with ``if_missing='empty'`` behind ``var('knowbe4_using_<stream>', true)``, the
    variable its generated source is switched off with.
    """
    facts = dbt_sources.stream_facts()
    reads = source_reads()
    for stream, endpoint in facts.items():
        for model, args, text in reads.get(stream, []):
            assert ("full_table=false" in args) == endpoint.incremental, (
                f"{model}: knowbe4_source_rows('{stream}') "
                + ("needs" if endpoint.incremental else "must not have")
                + " full_table=false (the endpoint row's incremental)"
            )
            assert ("if_missing='empty'" in args) == bool(endpoint.opt_in), (
                f"{model}: knowbe4_source_rows('{stream}') "
                + ("needs" if endpoint.opt_in else "must not have")
                + " if_missing='empty' (the endpoint row's opt_in)"
            )
            variable = dbt_sources.opt_in_variable(stream)
            assert (f"var('{variable}'" in text) == bool(endpoint.opt_in), (
                f"{model}: an opt-in stream's model is switched off by var('{variable}', true)"
            )
