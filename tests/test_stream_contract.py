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


def test_the_catalog_says_what_the_endpoint_table_says():
    tap = TapKnowBe4(config={}, validate_config=False)
    for name, stream in tap.streams.items():
        assert list(stream.primary_keys) == CONTRACT[name]["primary_keys"], name
        incremental = CONTRACT[name]["replication"].startswith("incremental")
        if name != "phishing_security_test_recipients":  # incremental by its own state
            assert (stream.replication_method == "INCREMENTAL") is incremental, name
