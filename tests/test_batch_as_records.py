"""BATCH files hold exactly what RECORD messages would have held (SIM-6, SIM-10).

Stream maps (a property dropped, nulled or added, rows filtered, a stream renamed, copied
under a second name or removed), flattening and the catalog's property selection shape the
SCHEMA; the records must follow it whether they go out as RECORD messages or in BATCH files.
Each test runs the tap twice on the same sandbox data with the same settings, once writing
RECORD messages and once with ``batch_config``, and asserts the BATCH files read back equal
the RECORD messages stream by stream (the stream named in each message, records in order),
with the same SCHEMA messages (which stream's rows come first may differ: a child
stream's files are written as they fill). The named cases are the ones that were wrong; the property
draws maps, flattening, selection, batch sizes and streams at random.
"""

from __future__ import annotations

import gzip
import json
import pathlib
import tempfile
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from tests.conftest import sandbox, tap_config
from tests.singer_output import PRIMARY_KEYS, SingerRun, catalog_selecting, run_tap

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox

pytestmark = pytest.mark.slow  # two tap runs per case: `make test`, not `make test-fast`

#: Streams drawn: parents and children, nested objects (flattening), a composite key.
STREAMS = (
    "users",
    "groups",
    "group_members",
    "training_enrollments",
    "phishing_security_tests",
    "phishing_security_test_recipients",
    "user_risk_score_history",
    "account",
)
#: Each stream's properties, from the catalog.
PROPERTIES: dict[str, tuple[str, ...]] = {
    entry["tap_stream_id"]: tuple(sorted(entry["schema"]["properties"]))
    for entry in catalog_selecting()["streams"]
}


@pytest.fixture(scope="module")
def small_org() -> t.Iterator[Sandbox]:
    """A read-only sandbox of eight users (every shape, few requests)."""
    with sandbox(users=8, seed=5) as sb:
        yield sb


def catalog_for(streams: t.Iterable[str], deselected: dict[str, list[str]]) -> dict:
    """A catalog selecting ``streams``, without the ``deselected`` properties of each."""
    catalog = catalog_selecting(streams)
    for entry in catalog["streams"]:
        gone = deselected.get(entry["tap_stream_id"], [])
        for item in entry["metadata"]:
            if item["breadcrumb"][:1] == ["properties"] and item["breadcrumb"][1] in gone:
                item["metadata"]["selected"] = False
    return catalog


def output(run: SingerRun) -> dict[str, list[dict]]:
    """Records by the stream each message names: RECORD messages, and BATCH files read back."""
    rows: dict[str, list[dict]] = {}
    for message in run.messages:
        if message["type"] == "RECORD":
            rows.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "BATCH":
            for url in message["manifest"]:
                with gzip.open(url.removeprefix("file://"), "rt") as file:
                    rows.setdefault(message["stream"], []).extend(json.loads(x) for x in file)
    return rows


def schemas(run: SingerRun) -> list[tuple[str, dict, list[str]]]:
    """The SCHEMA messages, in order."""
    return [
        (m["stream"], m["schema"], m["key_properties"])
        for m in run.messages
        if m["type"] == "SCHEMA"
    ]


def assert_batch_holds_the_records(
    sb: Sandbox, config: dict[str, t.Any], catalog: dict, batch_size: int = 7
) -> dict[str, list[dict]]:
    """Run ``config`` with RECORD messages and with BATCH files; both say the same. The rows.

    (No daily budget ledger: the property's examples share one test's.)
    """
    config = {"budget_ledger": False, **config}
    records = run_tap(tap_config(sb, **config), catalog=catalog)
    with tempfile.TemporaryDirectory() as root:
        batch = {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": pathlib.Path(root).as_uri(), "prefix": "b-"},
            "batch_size": batch_size,
        }
        batched = run_tap(tap_config(sb, **config, batch_config=batch), catalog=catalog)
        assert (records.error, batched.error) == (None, None), (records.error, batched.error)
        assert not [m for m in batched.messages if m["type"] == "RECORD"]
        rows, files = output(records), output(batched)
    assert schemas(batched) == schemas(records)
    assert set(files) == set(rows)  # the same streams (a child's files may come first)
    for stream, held in files.items():
        assert held == rows[stream], stream
    for stream, schema, _ in schemas(records):  # and what the SCHEMA declares
        validator = Draft7Validator(schema)
        assert all(validator.is_valid(row) for row in rows.get(stream, [])), stream
    return rows


# -- the cases that were wrong ------------------------------------------------------------


def test_sim_6_a_nulled_e_mail_address_is_not_in_the_files(small_org):
    """The map nulled ``email`` for privacy: the SCHEMA had none, the files held every one."""
    maps = {"users": {"email": "__NULL__"}}
    rows = assert_batch_holds_the_records(
        small_org, {"stream_maps": maps}, catalog_for(["users"], {})
    )
    assert rows["users"]
    assert not any("email" in row for row in rows["users"])


def test_sim_6_rows_a_filter_removes_are_not_in_the_files(small_org):
    """``__filter__`` kept active users: the files held the archived ones too."""
    maps = {"users": {"__filter__": "record['status'] == 'active'"}}
    rows = assert_batch_holds_the_records(
        small_org, {"stream_maps": maps}, catalog_for(["users"], {})
    )
    assert rows["users"]
    assert {row["status"] for row in rows["users"]} == {"active"}


def test_sim_6_flattened_columns_hold_their_values(small_org):
    """With flattening the SCHEMA says ``user__id``; the files held ``user: {...}`` (a SQL
    target has no ``user`` column: the values were lost)."""
    config = {"flattening_enabled": True, "flattening_max_depth": 1}
    streams = ["training_enrollments", "phishing_security_test_recipients"]
    rows = assert_batch_holds_the_records(small_org, config, catalog_for(streams, {}))
    assert rows["training_enrollments"]
    assert all("user" not in row and "user__id" in row for row in rows["training_enrollments"])


def test_sim_10_deselected_properties_are_not_in_the_files(small_org):
    """The catalog deselected ``job_title`` and ``comment``: the files held them."""
    catalog = catalog_for(["users"], {"users": ["job_title", "comment"]})
    rows = assert_batch_holds_the_records(small_org, {}, catalog)
    assert rows["users"]
    assert not any({"job_title", "comment"} & set(row) for row in rows["users"])


def test_each_stream_map_of_a_stream_gets_files_of_its_own(small_org):
    """A second map of ``users`` (``__source__``) is a second stream with its own shape: the
    SDK names both in one BATCH message with the same files; here each has its own."""
    maps = {
        "users": {"__alias__": "people", "email": None},
        "user_ids": {"__source__": "users", "__else__": None, "id": "id", "active": "status"},
    }
    rows = assert_batch_holds_the_records(
        small_org, {"stream_maps": maps}, catalog_for(["users"], {}), batch_size=3
    )
    assert set(rows) == {"people", "user_ids"}
    assert all(set(row) == {"id", "active"} for row in rows["user_ids"])


def test_a_stream_a_map_removes_has_no_files(small_org):
    """``groups: null`` removes the stream: no SCHEMA, no BATCH message, no file."""
    maps = {"groups": None}
    rows = assert_batch_holds_the_records(
        small_org, {"stream_maps": maps}, catalog_for(["groups", "users"], {})
    )
    assert set(rows) == {"users"}


# -- the property -------------------------------------------------------------------------


@st.composite
def shapes(draw: st.DrawFn) -> tuple[list[str], dict[str, t.Any], dict[str, list[str]], int]:
    """Streams, settings (maps, flattening), deselected properties and a batch size."""
    streams = draw(st.lists(st.sampled_from(STREAMS), min_size=1, max_size=3, unique=True))
    maps: dict[str, t.Any] = {}
    deselected: dict[str, list[str]] = {}
    for stream in streams:
        key = PRIMARY_KEYS[stream][0]
        others = [p for p in PROPERTIES[stream] if p not in PRIMARY_KEYS[stream]]
        touched = draw(st.lists(st.sampled_from(others), max_size=4, unique=True)) if others else []
        half = len(touched) // 2
        deselected[stream] = touched[:half]
        spec: dict[str, t.Any] = {}
        for prop in touched[half:]:
            spec[prop] = draw(st.sampled_from([None, "__NULL__"]))
        if draw(st.booleans()):
            spec[f"{key}_text"] = f"str(record['{key}'])"
        if draw(st.booleans()):
            digits = draw(st.sampled_from(["02468", "13579", "0123456", "9"]))
            spec["__filter__"] = f"str(record['{key}'])[-1] in '{digits}'"
        if draw(st.booleans()):
            spec["__alias__"] = f"{stream}_as"
        kind = draw(st.sampled_from(["shaped", "shaped", "removed", "copied", "as read"]))
        if kind == "removed":
            maps[stream] = None
        elif kind == "copied":
            maps[stream] = spec
            keys = {k: k for k in PRIMARY_KEYS[stream]}
            maps[f"{stream}_keys"] = {"__source__": stream, "__else__": None, **keys}
        elif kind == "shaped":
            maps[stream] = spec
    config: dict[str, t.Any] = {"stream_maps": maps}
    depth = draw(st.sampled_from([0, 0, 1, 2, 3]))
    if depth:
        config.update(flattening_enabled=True, flattening_max_depth=depth)
    batch_size = draw(st.sampled_from([3, 7, 25, 1000]))
    return streams, config, deselected, batch_size


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(shapes())
def test_batch_files_read_back_equal_the_record_messages(small_org, shape):
    """For any maps, flattening and selection, BATCH output equals RECORD output."""
    streams, config, deselected, batch_size = shape
    assert_batch_holds_the_records(small_org, config, catalog_for(streams, deselected), batch_size)
