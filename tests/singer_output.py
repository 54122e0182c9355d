"""Run the tap in-process and check its output as Singer: the helpers the tests share."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import typing as t

from jsonschema import Draft7Validator, FormatChecker

from tap_knowbe4.settings import Settings
from tap_knowbe4.state import STATE_KEY, VERSION, account_identity
from tap_knowbe4.streams import endpoints
from tap_knowbe4.tap import TapKnowBe4

#: Every stream and its primary key, from the tap's endpoint table (a snapshot test guards
#: them: a changed key is a breaking change for every warehouse).
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {e.name: e.primary_keys for e in endpoints()}
ALL_STREAMS = tuple(PRIMARY_KEYS)


@dataclasses.dataclass
class SingerRun:
    """Everything one tap run wrote to stdout, parsed."""

    messages: list[dict]
    tap: TapKnowBe4 | None = None
    error: BaseException | None = None

    def records(self, stream: str) -> list[dict]:
        """The records of one stream, in order."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def streams(self) -> set[str]:
        """Streams that emitted at least one record."""
        return {m["stream"] for m in self.messages if m["type"] == "RECORD"}

    @property
    def schemas(self) -> dict[str, dict]:
        """The last SCHEMA message of each stream."""
        return {m["stream"]: m for m in self.messages if m["type"] == "SCHEMA"}

    @property
    def final_state(self) -> dict:
        """The value of the last STATE message."""
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}


@functools.cache
def _discovered_catalog() -> str:
    """The tap's discovered catalog as JSON (a tap built once per process, not per call)."""
    tap = TapKnowBe4(config={"api_key": "catalog-only"}, validate_config=False)
    return json.dumps(tap.catalog_dict)


def catalog_selecting(streams: t.Iterable[str] | None = None) -> dict:
    """A catalog with exactly ``streams`` selected (every stream when None); a new dict each
    call."""
    wanted = set(ALL_STREAMS if streams is None else streams)
    catalog = json.loads(_discovered_catalog())
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return catalog


def state_of(config: dict, **parts: t.Any) -> dict:
    """A Singer state of this release for ``config``'s account, holding ``parts``.

    (A state that does not name the account it describes is not applied.)
    """
    settings = Settings.from_config(config)
    account = account_identity(settings.base_url, settings.api_key)
    return {STATE_KEY: {"version": VERSION, "account": account, **parts}}


def run_tap(
    config: dict,
    *,
    streams: t.Iterable[str] | None = None,
    state: dict | None = None,
    catalog: dict | None = None,
) -> SingerRun:
    """Sync in-process with ``config`` and return the parsed Singer messages.

    The tap is driven exactly as its CLI would, over real HTTP; errors that end the run
    are captured in :attr:`SingerRun.error` with the output written before them.
    """
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")  # the msgspec writer needs .buffer
    run = SingerRun(messages=[])
    with contextlib.redirect_stdout(out):
        try:
            tap = TapKnowBe4(
                config=config,
                catalog=catalog or catalog_selecting(streams),
                state=state,
                parse_env_config=False,
            )
            run.tap = tap
            tap.sync_all()
        except BaseException as exc:
            run.error = exc
    out.flush()
    text = raw.getvalue().decode("utf-8")
    run.messages = [json.loads(line) for line in text.splitlines() if line.strip()]
    return run


def check_singer(run: SingerRun) -> None:
    """Assert the output is valid Singer for these streams.

    SCHEMA before any RECORD of a stream; every record valid against its schema
    (formats included); primary keys present, and a key sent again only with other content
    (the API may list one key twice with different content: both are sent, a target keeps
    the last; an exact repeat is never sent); STATE values are objects.
    """
    seen_schema: dict[str, dict] = {}
    keys_seen: dict[str, dict[tuple, list[dict]]] = {}
    validators: dict[str, Draft7Validator] = {}
    for message in run.messages:
        kind = message["type"]
        if kind == "SCHEMA":
            stream = message["stream"]
            seen_schema[stream] = message
            Draft7Validator.check_schema(message["schema"])
            validators[stream] = Draft7Validator(message["schema"], format_checker=FormatChecker())
        elif kind == "RECORD":
            stream = message["stream"]
            assert stream in seen_schema, f"RECORD of {stream} before its SCHEMA"
            record = message["record"]
            errors = list(validators[stream].iter_errors(record))
            assert not errors, f"{stream} record invalid: {errors[0].message} in {record}"
            key_names = seen_schema[stream]["key_properties"]
            key = tuple(record[k] for k in key_names)
            assert all(v is not None for v in key), f"{stream}: null key {key}"
            versions = keys_seen.setdefault(stream, {}).setdefault(key, [])
            assert record not in versions, f"{stream}: the same record twice, key {key}"
            versions.append(record)
        elif kind == "STATE":
            assert isinstance(message["value"], dict)
            # SDK targets read numbers as Decimal and cannot write a float back out
            assert not _floats(message["value"]), "a float in the state"


def _floats(value: t.Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(_floats(v) for v in value)
    return False
