"""The warehouse contract: streams, their primary keys and how they replicate.

A removed stream, a changed key or a changed replication breaks every warehouse that loads the
tap (docs/versioning.md). The snapshot in ``tests/fixtures/stream_contract.json`` is updated
by hand, on purpose, together with a **Breaking** CHANGELOG entry. New streams are not breaking
and need no change here.
"""

from __future__ import annotations

import json
import pathlib

from tap_knowbe4.streams import endpoints
from tap_knowbe4.tap import TapKnowBe4

CONTRACT = json.loads(
    (pathlib.Path(__file__).parent / "fixtures" / "stream_contract.json").read_text()
)


def test_no_stream_key_or_replication_changed_silently():
    current = {e.name: e for e in endpoints()}
    for name, promised in CONTRACT.items():
        assert name in current, f"stream {name} was removed: a breaking change"
        assert list(current[name].primary_keys) == promised["primary_keys"], name
        assert current[name].replication == promised["replication"], name


def test_every_stream_is_in_the_contract():
    """A new stream is not breaking, but from now on it is promised: add it to the snapshot."""
    missing = sorted({e.name for e in endpoints()} - set(CONTRACT))
    assert not missing, (
        f"add {', '.join(missing)} to tests/fixtures/stream_contract.json (CONTRIBUTING.md, "
        "'Adding a stream')"
    )


def test_the_catalog_says_what_the_endpoint_table_says():
    tap = TapKnowBe4(config={}, validate_config=False)
    table = {e.name: e for e in endpoints()}
    for name, stream in tap.streams.items():
        endpoint = table[name]
        assert list(stream.primary_keys) == list(endpoint.primary_keys), name
        assert stream.incremental is endpoint.incremental, name
        # Risk histories are INCREMENTAL to the SDK (a replication key); recipients keep
        # their own state (settled tests) and are FULL_TABLE to it, but never activate.
        if endpoint.incremental:
            assert stream.replication_method == "INCREMENTAL" or not stream.replication_key
        else:
            assert stream.replication_method == "FULL_TABLE", name
