"""The seams of ``tap_knowbe4/sdk_seams.py``, each tested by what it does, not by SDK source text.

When an SDK upgrade changes what a seam assumes, the test named after that seam fails; the
fix is a change to ``sdk_seams.py``. The last test checks that no other module of the tap
reaches into the SDK's private parts, so the seams stay in one file.
"""

from __future__ import annotations

import ast
import datetime
import gzip
import importlib
import io
import json
import logging
import pathlib
import re
import signal
import subprocess
import sys
import typing as t

import pytest
import requests
from singer_sdk import RESTStream, Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

import tap_knowbe4
from tap_knowbe4 import sdk_seams
from tap_knowbe4.airbyte.output import Output
from tap_knowbe4.airbyte.writer import AirbyteWriter
from tap_knowbe4.tap import TapKnowBe4
from tap_knowbe4.writer import BufferedRecordWriter
from tests.conftest import sandbox, tap_config
from tests.singer_output import ALL_STREAMS, catalog_selecting, run_tap

PACKAGE = pathlib.Path(tap_knowbe4.__file__).parent


def _tap(**config: object) -> TapKnowBe4:
    return TapKnowBe4(config={"api_key": "seam-test-key", **config}, validate_config=True)


# -- 1: the SDK's own settings from the environment -------------------------------------


def test_seam_1_environment_settings_are_read_as_the_sdk_reads_them(monkeypatch):
    batch = {"encoding": {"format": "jsonl"}, "storage": {"root": "file:///tmp/b"}}
    variables = {
        "TAP_KNOWBE4_FLATTENING_ENABLED": "true",
        "TAP_KNOWBE4_FLATTENING_MAX_DEPTH": "2",
        "TAP_KNOWBE4_STREAM_MAPS": json.dumps({"users": {"email": "__NULL__"}}),
        "TAP_KNOWBE4_BATCH_CONFIG": json.dumps(batch),
        "TAP_KNOWBE4_REGION": "EU",
        "TAP_KNOWBE4_PAGE_SIZE": "100",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    tap = TapKnowBe4(config={"api_key": "seam-test-key"}, parse_env_config=True)
    assert tap.config["flattening_enabled"] is True
    assert tap.config["flattening_max_depth"] == 2
    assert tap.config["stream_maps"] == {"users": {"email": "__NULL__"}}
    assert tap.config["batch_config"] == batch
    assert (tap.settings.region, tap.settings.page_size) == ("eu", 100)


def test_seam_1_an_sdk_setting_it_cannot_read_is_named_not_echoed(monkeypatch):
    monkeypatch.setenv("TAP_KNOWBE4_FLATTENING_MAX_DEPTH", "kb4-not-a-number-secret")
    with pytest.raises(tap_knowbe4.errors.ConfigError) as raised:
        TapKnowBe4(config={"api_key": "seam-test-key"}, parse_env_config=True)
    assert "TAP_KNOWBE4_FLATTENING_MAX_DEPTH" in str(raised.value)
    assert "secret" not in str(raised.value)


# -- 2, 3, 5: SCHEMA once, ACTIVATE_VERSION last, the run settled after every stream -----


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_seams_2_3_5_schema_once_activation_last_summary_at_the_end(shared_sandbox, caplog):
    caplog.set_level(logging.INFO)
    run = run_tap(tap_config(shared_sandbox, emit_activate_version_messages=True))
    assert run.error is None
    schemas = [m["stream"] for m in run.messages if m["type"] == "SCHEMA"]
    assert sorted(schemas) == sorted(ALL_STREAMS)  # 2: once, also for child streams
    for stream in ("users", "groups", "training_campaigns"):
        kinds = [m["type"] for m in run.messages if m.get("stream") == stream]
        assert kinds[0] == "SCHEMA"
        assert kinds[-1] == "ACTIVATE_VERSION"  # 3: held until the stream was complete
        assert kinds.count("ACTIVATE_VERSION") == 1
        versions = {
            m["version"]
            for m in run.messages
            if m.get("stream") == stream and m["type"] != "SCHEMA"
        }
        assert versions == {run.tap.initialized_at // 1000}  # 3: the SDK's version
    assert run.messages[-1]["type"] == "STATE"  # 5: settled after the SDK's loop
    assert caplog.text.rindex("Run summary") > caplog.text.rindex("Stream 'users':")


def test_seam_3_records_carry_the_table_version_their_read_began_with():
    """A read that spans runs: the second run's records carry the first run's version (the
    SDK's ``_stream_version``), and so does its ACTIVATE_VERSION."""
    with sandbox(users=45) as sb:  # users in 5 pages
        config = tap_config(sb, page_size=10, emit_activate_version_messages=True)
        first = run_tap({**config, "max_requests_per_run": 4}, streams=["users"])
        second = run_tap(config, streams=["users"], state=first.final_state)
    assert second.error is None, second.error
    version = first.tap.initialized_at // 1000
    versions = {m.get("version") for r in (first, second) for m in r.messages if "version" in m}
    assert versions == {version}


# -- 4: a child stream's BATCH files span its parents ------------------------------------


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_seam_4_a_child_stream_is_batched_across_parents(shared_sandbox, tmp_path):
    batch = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "batch-"},
        "batch_size": 100_000,
    }
    streams = ["users", "user_risk_score_history"]
    plain = run_tap(tap_config(shared_sandbox), streams=streams)
    batched = run_tap(tap_config(shared_sandbox, batch_config=batch), streams=streams)
    assert batched.error is None, batched.error
    child = [m for m in batched.messages if m.get("stream") == "user_risk_score_history"]
    assert [m["type"] for m in child] == ["SCHEMA", "BATCH"]  # one, not one per parent
    rows = []
    for url in child[1]["manifest"]:
        with gzip.open(url.removeprefix("file://"), "rt") as file:
            rows.extend(json.loads(line) for line in file)
    assert len(rows) == len(plain.records("user_risk_score_history")) > 0
    after = batched.messages[batched.messages.index(child[1]) + 1]
    assert after["type"] == "STATE"  # 4: the SDK's STATE writer after the BATCH


# -- 10: BATCH files hold only the properties the catalog selects ------------------------


def test_seam_10_records_as_written_are_the_sdk_s_record_messages(shared_sandbox, tmp_path):
    """``records_as_written`` gives, per stream map, what the SDK's RECORD message holds:
    deselected properties gone (SIM-10), a map's property nulled and its filter applied,
    flattened (SIM-6), under each map's alias; ``send_batch`` names one alias per message."""
    maps = {
        "users": {"__alias__": "people", "email": "__NULL__", "__filter__": "record['id'] > 1"},
        "user_ids": {"__source__": "users", "__else__": None, "id": "id"},
    }
    config = tap_config(
        shared_sandbox, stream_maps=maps, flattening_enabled=True, flattening_max_depth=1
    )
    catalog = catalog_selecting(["users"])
    users_entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "users")
    for item in users_entry["metadata"]:
        if item["breadcrumb"] == ["properties", "job_title"]:
            item["metadata"]["selected"] = False
    tap = TapKnowBe4(config=config, catalog=catalog, parse_env_config=False)
    users = tap.streams["users"]
    record = {"id": 7, "email": "a@b.c", "job_title": "x", "groups": [1], "status": "active"}
    written = dict(users.records_as_written(dict(record)))
    assert set(written) == {"people", "user_ids"}
    assert written["user_ids"] == {"id": 7}
    people = written["people"]
    assert people["id"] == 7
    assert "email" not in people
    assert "job_title" not in people
    assert people["groups"] == "[1]"  # flattened at depth 1: a list is JSON text
    assert dict(users.records_as_written({**record, "id": 1})) == {"user_ids": {"id": 1}}

    lines = []
    tap.write_message = lambda message: lines.append(message.to_dict())
    encoding = sdk_seams.BaseBatchFileEncoding(format="jsonl", compression="gzip")
    users.send_batch("people", encoding, ["file:///tmp/one.json.gz"])
    assert [(m["type"], m["stream"], m["manifest"]) for m in lines] == [
        ("BATCH", "people", ["file:///tmp/one.json.gz"])
    ]


# -- 11: RECORD messages without the SDK's walks when they change nothing -----------------

SEAM_11_RECORD = {
    "id": 7,
    "email": "a@example.com",
    "job_title": "Clerk",
    "groups": [1, 2],
    "joined_on": "2024-01-02T03:04:05Z",
    "_extra_fields": {"drift": {"nested": 1}},
}


def _messages(stream: t.Any, generate: t.Callable) -> list[dict]:
    """The messages ``generate`` makes of a copy of the record, without ``time_extracted``."""
    messages = []
    for message in generate(stream, json.loads(json.dumps(SEAM_11_RECORD))):
        assert message.time_extracted is not None
        assert message.time_extracted.tzinfo is not None
        messages.append({**message.to_dict(), "time_extracted": None})
    return messages


@pytest.mark.parametrize(
    ("maps", "deselected", "flattening"),
    [
        ({}, None, {}),
        ({"users": {"email": "__NULL__"}, "users_copy": {"__source__": "users"}}, None, {}),
        ({"users": {"__alias__": "people", "__filter__": "id > 100"}}, None, {}),
        ({}, "job_title", {}),
        ({}, None, {"flattening_enabled": True, "flattening_max_depth": 1}),
        (
            {"users_copy": {"__source__": "users"}},
            None,
            {"flattening_enabled": True, "flattening_max_depth": 2},
        ),
    ],
    ids=["no-maps", "maps-and-copy", "alias-filtered", "deselected", "flattened", "copy-flat"],
)
def test_seam_11_record_messages_are_the_sdk_s(maps, deselected, flattening):
    """The tap's RECORD messages equal what the SDK's own ``_generate_record_messages``
    makes of the same record: with stream maps (a copy, an alias, a filter), with
    flattening (then even the default map changes the record), and with a deselected
    property (then the SDK's walk runs and prunes it)."""
    catalog = catalog_selecting(["users"])
    for item in next(e for e in catalog["streams"] if e["tap_stream_id"] == "users")["metadata"]:
        if deselected and item["breadcrumb"] == ["properties", deselected]:
            item["metadata"]["selected"] = False
    config = {"api_key": "seam-test-key", "budget_ledger": False, "stream_maps": maps}
    config.update(flattening)
    stream = TapKnowBe4(config=config, catalog=catalog).streams["users"]
    stream._stream_version = 1234
    ours = _messages(stream, type(stream)._generate_record_messages)
    assert ours == _messages(stream, RESTStream._generate_record_messages)
    records = [m["record"] for m in ours]
    assert len(records) == (0 if "__filter__" in str(maps) else 1 + ("users_copy" in maps))
    assert all(("job_title" in r) is (deselected is None) for r in records)
    assert all(m["version"] == 1234 for m in ours)
    flattened = [m["record"] for m in ours if m["stream"] == "users"]
    assert all(isinstance(r["_extra_fields"], str) is bool(flattening) for r in flattened)


_TIME = re.compile(rb'"time_extracted":"[^"]*"')


@pytest.mark.parametrize(
    ("maps", "deselected", "flattening"),
    [
        ({}, None, {}),
        ({"users": {"email": "__NULL__"}, "users_copy": {"__source__": "users"}}, None, {}),
        ({"users": {"__alias__": "people", "__filter__": "id > 100"}}, None, {}),
        ({}, "job_title", {}),
        ({}, None, {"flattening_enabled": True, "flattening_max_depth": 1}),
    ],
    ids=["no-maps", "maps-and-copy", "alias-filtered", "deselected", "flattened"],
)
def test_seam_14_record_lines_are_the_sdk_s_messages_formatted(maps, deselected, flattening):
    """The lines ``_write_record_message`` writes are the SDK's own RECORD messages of the
    record (``RESTStream._generate_record_messages``) as the SDK's msgspec writer formats
    them, byte for byte but for the time: written without message objects when the walks
    are skipped (seam 11), through the SDK's messages when a property is deselected."""
    catalog = catalog_selecting(["users"])
    for item in next(e for e in catalog["streams"] if e["tap_stream_id"] == "users")["metadata"]:
        if deselected and item["breadcrumb"] == ["properties", deselected]:
            item["metadata"]["selected"] = False
    config = {"api_key": "seam-test-key", "budget_ledger": False, "stream_maps": maps}
    config.update(flattening)
    stream = TapKnowBe4(config=config, catalog=catalog).streams["users"]
    stream._stream_version = 1234
    writer = stream._tap.message_writer
    assert isinstance(writer, BufferedRecordWriter)
    sdk = MsgSpecWriter()
    expected = b"".join(
        bytes(sdk.format_message(m))
        for m in RESTStream._generate_record_messages(
            stream, json.loads(json.dumps(SEAM_11_RECORD))
        )
    )
    stream.state_manager.is_flushed = True
    stream._write_record_message(json.loads(json.dumps(SEAM_11_RECORD)))
    written, writer._block = bytes(writer._block), bytearray()
    assert _TIME.sub(b"T", written) == _TIME.sub(b"T", expected)
    assert written.count(b"\n") == (0 if "__filter__" in str(maps) else 1 + ("users_copy" in maps))
    assert stream.state_manager.is_flushed is False  # a STATE may follow, as the SDK's


_EMITTED_AT = re.compile(rb'"emitted_at":[0-9.]+')


@pytest.mark.parametrize(
    "maps",
    [{}, {"users": {"email": "__NULL__"}, "users_copy": {"__source__": "users"}}],
    ids=["no-maps", "maps-and-copy"],
)
def test_seam_14_airbyte_lines_are_the_sdk_s_messages_translated(maps):
    """The Airbyte writer takes records from seam 14 as the Singer writer does (no
    ``RecordMessage`` per record), and writes what it writes for the SDK's own messages of
    the record, byte for byte but for the time; the stream's RUNNING status comes first
    either way."""
    catalog = catalog_selecting(["users"])
    config = {"api_key": "seam-test-key", "budget_ledger": False, "stream_maps": maps}
    written = []
    for seam in (True, False):
        output = Output(io.BytesIO())
        writer = AirbyteWriter(output, ["users", "users_copy"], run_started_ms=0)
        assert hasattr(writer, "write_record")
        stream = TapKnowBe4(config=config, catalog=catalog, message_writer=writer).streams["users"]
        record = json.loads(json.dumps(SEAM_11_RECORD))
        if seam:
            stream._write_record_message(record)
        else:  # the SDK's: a RecordMessage per map, through write_message
            RESTStream._write_record_message(stream, record)
        writer.flush()
        written.append(_EMITTED_AT.sub(b"T", t.cast("io.BytesIO", output.stream).getvalue()))
    assert written[0] == written[1]
    assert written[0].count(b'"type":"RECORD"') == 1 + ("users_copy" in maps)
    assert written[0].count(b'"RUNNING"') == 1 + ("users_copy" in maps)


def test_seam_14_records_of_one_millisecond_share_one_extraction_time():
    """The clock of seam 14 builds a datetime once per millisecond of its readings: the
    records written within it get that one (a writer may keep what it made of it)."""
    readings = iter([1796471499.1571, 1796471499.1579, 1796471499.1581, 1796471499.2])
    clock = sdk_seams.MillisecondClock(lambda: next(readings))
    first, again, later, last = clock.now(), clock.now(), clock.now(), clock.now()
    assert again is first
    assert first == datetime.datetime.fromtimestamp(1796471499.1571, datetime.timezone.utc)
    assert later is not first
    assert later == datetime.datetime.fromtimestamp(1796471499.1581, datetime.timezone.utc)
    assert last.microsecond == 200000
    assert first.tzinfo is datetime.timezone.utc


def test_seam_14_airbyte_writes_each_record_s_own_time():
    output = Output(io.BytesIO())
    writer = AirbyteWriter(output, ["users"], run_started_ms=0)
    first = datetime.datetime(2026, 12, 5, 12, 0, 0, 157900, tzinfo=datetime.timezone.utc)
    second = first + datetime.timedelta(milliseconds=1)
    for when in (first, first, second, first):
        writer.write_record("users", {"id": 1}, None, when)
    writer.flush()
    lines = [
        json.loads(line) for line in t.cast("io.BytesIO", output.stream).getvalue().splitlines()
    ]
    emitted = [line["record"]["emitted_at"] for line in lines if line["type"] == "RECORD"]
    ms = int(first.timestamp() * 1000)
    assert emitted == [ms, ms, ms + 1, ms]


def test_seam_11_the_default_map_sends_the_record_it_is_given():
    """The SDK's default map without flattening returns the very record it is given (so
    the seam does not call it); an alias, a filter or flattening is not taken for it."""
    config = {"api_key": "seam-test-key", "budget_ledger": False}
    stream = TapKnowBe4(config=config, catalog=catalog_selecting(["users"])).streams["users"]
    (default,) = stream.stream_maps
    record = json.loads(json.dumps(SEAM_11_RECORD))
    assert default.transform(record) is record
    assert sdk_seams._passes_records_unchanged(default)
    for other in (
        {"stream_maps": {"users": {"__alias__": "people"}}},
        {"stream_maps": {"users": {"__filter__": "id > 100"}}},
        {"flattening_enabled": True, "flattening_max_depth": 1},
    ):
        tap = TapKnowBe4(config={**config, **other}, catalog=catalog_selecting(["users"]))
        (stream_map,) = tap.streams["users"].stream_maps
        assert not sdk_seams._passes_records_unchanged(stream_map), other


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_seam_12_children_are_read_for_parents_a_map_filters_out():
    """SIM-11: a ``__filter__`` on users, or a map removing users, left the risk histories of
    the users it kept out unread (the SDK syncs children only of records the parent's map
    keeps); the child stream ended complete without them."""
    streams = ["users", "user_risk_score_history"]
    with sandbox(users=6, seed=3) as sb:
        plain = run_tap(tap_config(sb), streams=streams)
        expected = plain.records("user_risk_score_history")
        assert len({r["user_id"] for r in expected}) == 6
        for maps in ({"users": {"__filter__": "record['id'] < 0"}}, {"users": None}):
            run = run_tap(tap_config(sb, stream_maps=maps), streams=streams)
            assert run.error is None, run.error
            assert not run.records("users")
            assert run.records("user_risk_score_history") == expected, maps


# -- 5: a stream ends after the SDK's sync of it ------------------------------------------


def test_seam_5_a_stream_ends_after_the_sdk_wrote_its_batch(shared_sandbox, tmp_path):
    """The end of a top-level stream (ACTIVATE_VERSION, "done") follows its BATCH message:
    the SDK's ``sync`` wrote everything before ``sync_then_end`` ends it."""
    batch = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "batch-"},
    }
    config = tap_config(shared_sandbox, batch_config=batch, emit_activate_version_messages=True)
    run = run_tap(config, streams=["groups"])
    assert run.error is None, run.error
    kinds = [m["type"] for m in run.messages if m.get("stream") == "groups"]
    assert kinds == ["SCHEMA", "BATCH"]  # no ACTIVATE_VERSION with BATCH files (attack 5 #4)
    done = run.messages[-1]["value"]["tap_knowbe4"]
    assert done["interrupted"] is None  # the run finished: groups was marked done, then this


# -- 6: the signals are the tap's ---------------------------------------------------------


def test_seam_6_after_construction_the_signals_are_the_tap_s():
    tap = _tap()
    for signum in (signal.SIGTERM, signal.SIGINT):
        assert signal.getsignal(signum) == tap.on_signal


_TERMINATED_WHILE_BUILT = """
import os, signal
from tap_knowbe4.tap import TapKnowBe4
from tap_knowbe4.writer import BufferedRecordWriter
discover = TapKnowBe4.discover_streams
def discover_then_terminated(self):
    os.kill(os.getpid(), signal.SIGTERM)  # while the SDK's constructor runs
    return discover(self)
TapKnowBe4.discover_streams = discover_then_terminated
TapKnowBe4(config={"api_key": "seam-test-key"})
"""


@pytest.mark.slow  # a cold interpreter importing the SDK: `make test`, not `make test-fast`
def test_seam_6_a_signal_while_the_sdk_builds_the_tap_is_not_a_clean_exit():
    """The SDK's own handler would write the state and exit 0; the signal is held instead.

    (In a process of its own: a signal is held only where no other thread takes it.)
    """
    ended = subprocess.run(
        [sys.executable, "-c", _TERMINATED_WHILE_BUILT],
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert ended.returncode == 128 + signal.SIGTERM, ended.stderr.decode()[-2000:]


# -- 7: what the SDK retries ---------------------------------------------------------------

#: Exceptions a request may raise; the SDK either retries each or not.
_CANDIDATES = [
    ConnectionResetError(),
    RetriableAPIError("500"),
    FatalAPIError("400"),
    requests.exceptions.Timeout(),
    requests.exceptions.ReadTimeout(),
    requests.exceptions.ConnectionError(),
    requests.exceptions.SSLError(),
    requests.exceptions.ChunkedEncodingError(),
    requests.exceptions.ContentDecodingError(),
    requests.exceptions.InvalidHeader(),
    requests.exceptions.InvalidURL(),
    requests.exceptions.TooManyRedirects(),
    requests.exceptions.HTTPError(),
    ValueError(),
    OSError(),
    TimeoutError(),
]


def _no_wait() -> t.Generator[float, None, None]:
    while True:
        yield 0.0


@pytest.fixture(scope="module")
def retrying_stream() -> RESTStream:
    """One tap's ``users`` stream for every candidate (the decorator is built per call)."""
    stream = t.cast("RESTStream", _tap(max_retries=2).streams["users"])
    stream.backoff_wait_generator = _no_wait  # type: ignore[method-assign]
    return stream


@pytest.mark.parametrize("error", _CANDIDATES, ids=lambda e: type(e).__name__)
def test_seam_7_sdk_retried_is_what_the_sdk_s_request_decorator_retries(error, retrying_stream):
    stream = retrying_stream
    calls = []

    def request() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        RESTStream.request_decorator(stream, request)()  # the SDK's decorator alone
    assert (len(calls) > 1) == isinstance(error, sdk_seams.SDK_RETRIED), calls


# -- 8: the SDK lines the tap demotes ---------------------------------------------------


def _levels(caplog: pytest.LogCaptureFixture, key: str) -> set[int]:
    prefix = sdk_seams.SDK_LINES_DEMOTED[key]
    return {r.levelno for r in caplog.records if r.getMessage().startswith(prefix)}


def test_seam_8_the_sdk_s_stream_error_line_is_demoted(shared_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    config = tap_config(shared_sandbox, stream_maps={"groups": {"oops": "1/0"}})
    run = run_tap(config, streams=["groups"])
    assert run.error is not None
    assert _levels(caplog, "stream error") == {logging.DEBUG}  # still said, at DEBUG only


def test_seam_8_the_sdk_s_environment_line_is_demoted(caplog):
    caplog.set_level(logging.DEBUG)
    _tap()
    assert _levels(caplog, "environment") == {logging.DEBUG}


# -- 9: the SDK keeps no bookmarks of its own ----------------------------------------------


def test_seam_9_the_sdk_keeps_no_bookmarks_the_catalog_still_says_incremental(
    shared_sandbox, caplog
):
    """The tap's state is the one owner: the SDK's ``bookmarks`` stay empty (they held a
    replication key value per risk stream that nothing read), and the SDK no longer warns
    that unsorted progress is not resumable. The catalog still says the risk histories are
    incremental on ``date`` (Meltano and the Airbyte source read it)."""
    caplog.set_level(logging.DEBUG)
    streams = ["groups", "account_risk_score_history", "group_risk_score_history"]
    run = run_tap(tap_config(shared_sandbox), streams=streams)
    assert run.error is None
    states = [m["value"] for m in run.messages if m["type"] == "STATE"]
    assert states
    assert all(not any(v.get("bookmarks", {}).values()) for v in states)
    assert run.final_state["tap_knowbe4"]["streams"]["group_risk_score_history"]["dates"]
    assert "Stream is assumed to be unsorted" not in caplog.text
    catalog = {e["tap_stream_id"]: e for e in run.tap.catalog_dict["streams"]}
    for name in streams[1:]:
        assert catalog[name]["replication_method"] == "INCREMENTAL"
        assert catalog[name]["replication_key"] == "date"


# -- the seams stay in one file ------------------------------------------------------------


def _sdk_private(cls: type) -> set[str]:
    """Private names the SDK defines on the bases of ``cls`` (not dunders)."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base.__module__.startswith("singer_sdk"):
            names.update(n for n in vars(base) if n.startswith("_") and not n.startswith("__"))
    return names


def _instance_private() -> set[str]:
    """Private instance attributes the SDK sets on a tap and a stream."""
    tap = _tap()
    ours = {
        n
        for c in type(tap.streams["users"]).__mro__
        if c.__module__.startswith("tap_")
        for n in vars(c)
    }
    names = set(vars(tap)) | set(vars(tap.streams["users"]))
    return {n for n in names if n.startswith("_") and not n.startswith("__") and n not in ours}


def _our_classes(module: str, tree: ast.Module) -> dict[str, type]:
    """The classes ``module`` defines on an SDK base."""
    loaded = importlib.import_module(module)
    found = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(loaded, node.name, None)
        if isinstance(cls, type) and any(b.__module__.startswith("singer_sdk") for b in cls.mro()):
            found[node.name] = cls
    return found


@pytest.mark.slow  # parses and imports every module of the tap: `make test`, not `make test-fast`
def test_no_other_module_reaches_into_the_sdk():
    """Outside ``sdk_seams.py``: no import of a private SDK module, no SDK-private method
    overridden, and no SDK-private attribute read or called (on ``self``, ``cls`` or
    ``super()`` in a subclass of an SDK class, and on any object by a name the tap itself
    never defines)."""
    trees = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name not in ("sdk_seams.py", "__main__.py") and "sandbox" not in path.parts:
            module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
            trees[module.removesuffix(".__init__")] = (path, ast.parse(path.read_text()))
    defined_by_us = {
        n.attr
        for _, tree in trees.values()
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
    } | {
        item.name
        for _, tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.FunctionDef)
    }
    instance = _instance_private() - defined_by_us
    assert {"_tap", "_state_writer"} <= instance  # the check sees what it must
    everything = instance | _sdk_private(RESTStream) | _sdk_private(Tap)
    found = []
    for module, (path, tree) in trees.items():
        classes = _our_classes(module, tree)
        for node in ast.walk(tree):
            where = f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
                if any(part.startswith("_") for part in (node.module or "").split(".")):
                    found.append(f"{where} imports {node.module}")
            elif isinstance(node, ast.Attribute) and node.attr in everything - defined_by_us:
                found.append(f"{where} uses {node.attr}")
        for node in tree.body:
            if not isinstance(node, ast.ClassDef) or node.name not in classes:
                continue
            private = _sdk_private(classes[node.name]) | instance
            for item in ast.walk(node):
                where = f"{path.relative_to(PACKAGE)}:{getattr(item, 'lineno', 0)}"
                if isinstance(item, ast.FunctionDef) and item.name in private:
                    found.append(f"{where} overrides {item.name}")
                if isinstance(item, ast.Attribute) and item.attr in private and _is_own(item.value):
                    found.append(f"{where} uses {item.attr}")
    assert not found, "private SDK access outside sdk_seams.py:\n" + "\n".join(found)


# -- 13: the SDK's JSON Lines batcher gzips whatever the compression setting says -------------


@pytest.mark.parametrize("compression", ["none", None, "gzip"])
def test_seam_13_batch_messages_name_the_compression_the_files_have(tmp_path, compression):
    """The SDK's batcher gzips every file (a TODO in its code); ``written_encoding`` says
    gzip for them. When an SDK upgrade honours ``none``, this test fails: drop the seam."""
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig  # noqa: PLC0415

    encoding = {"format": "jsonl", "compression": compression}
    config = BatchConfig.from_dict(
        {"encoding": encoding, "storage": {"root": f"file://{tmp_path}"}, "batch_size": 10}
    )
    batcher = sdk_seams.BatchFileFormat.JSONL  # the format the seam corrects
    from singer_sdk.batch import Batcher  # noqa: PLC0415

    (manifest,) = Batcher.get_batcher(batcher)("tap", "users", config).get_batches(
        records=iter([{"id": 1}])
    )
    (url,) = manifest
    assert pathlib.Path(url.removeprefix("file://")).read_bytes()[:2] == b"\x1f\x8b"  # gzip
    written = sdk_seams.written_encoding(BaseBatchFileEncoding(**encoding))
    assert (written.format, written.compression) == ("jsonl", "gzip")


def _is_own(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "super"


# -- 15: the mapper takes __else__ out of the stream_maps it is given --------------------


def test_seam_15_the_config_keeps_else_after_the_mapper_is_made():
    """The SDK's mapper pops ``__else__`` from the dict it is given; it gets a copy, so the
    config still says that unmapped streams are removed (attack 10 #1), and the mapper
    still removes them."""
    from singer_sdk.mapper import RemoveRecordTransform  # noqa: PLC0415

    maps = {"groups": {"__alias__": "g"}, "__else__": None}
    tap = _tap(stream_maps=maps)
    assert tap.config["stream_maps"] == {"groups": {"__alias__": "g"}, "__else__": None}
    assert isinstance(tap.mapper.stream_maps["users"][0], RemoveRecordTransform)
    assert not isinstance(tap.mapper.stream_maps["groups"][0], RemoveRecordTransform)


# -- 16: the SDK orders the streams by name (final load_streams) --------------------------


def test_seam_16_streams_are_read_in_the_tap_s_order(shared_sandbox):
    """The SDK reads the streams in the order of ``load_streams`` (by name); the tap's
    ``stream_order`` moves each callback phishing stream right after its email sibling and
    no other: the records of a sync come in that order."""
    tap = _tap()
    names = list(tap.streams)
    by_name = sorted(names)
    callback = [n for n in names if n.startswith("callback_")]
    assert callback
    assert [n for n in names if n not in callback] == [n for n in by_name if n not in callback]
    for name in callback:
        sibling = name.removeprefix("callback_")
        assert names.index(name) > names.index(sibling), name
    streams = ["phishing_campaigns", "callback_phishing_campaigns", "policies"]
    run = run_tap(tap_config(shared_sandbox), streams=streams)
    order = [m["stream"] for m in run.messages if m["type"] == "RECORD"]
    assert list(dict.fromkeys(order)) == streams
