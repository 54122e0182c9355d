"""Run ``source-knowbe4`` in-process and read what it wrote as Airbyte messages."""

from __future__ import annotations

import dataclasses
import io
import json
import typing as t

from tap_knowbe4.airbyte.source import run

if t.TYPE_CHECKING:
    from pathlib import Path


@dataclasses.dataclass
class AirbyteRun:
    """The exit code and every message of one command."""

    code: int
    messages: list[dict]
    text: str

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m["type"] == kind]

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"]["data"] for m in self.of_type("RECORD") if m["record"]["stream"] == stream
        ]

    @property
    def record_streams(self) -> set[str]:
        return {m["record"]["stream"] for m in self.of_type("RECORD")}

    def traces(self, kind: str) -> list[dict]:
        return [m["trace"] for m in self.of_type("TRACE") if m["trace"]["type"] == kind]

    @property
    def errors(self) -> list[dict]:
        return [trace["error"] for trace in self.traces("ERROR")]

    def statuses(self, stream: str) -> list[str]:
        return [
            trace["stream_status"]["status"]
            for trace in self.traces("STREAM_STATUS")
            if trace["stream_status"]["stream_descriptor"]["name"] == stream
        ]

    @property
    def final_statuses(self) -> dict[str, str]:
        found = {}
        for trace in self.traces("STREAM_STATUS"):
            status = trace["stream_status"]
            found[status["stream_descriptor"]["name"]] = status["status"]
        return found

    @property
    def states(self) -> list[dict]:
        """The newest state message of each stream, as Airbyte would keep them."""
        kept: dict[str, dict] = {}
        for message in self.of_type("STATE"):
            state = message["state"]
            kept[state["stream"]["stream_descriptor"]["name"]] = state
        return list(kept.values())

    def logs(self, *levels: str) -> list[str]:
        return [m["log"]["message"] for m in self.of_type("LOG") if m["log"]["level"] in levels]

    @property
    def catalog(self) -> dict:
        (message,) = self.of_type("CATALOG")
        return message["catalog"]


def run_source(*argv: str) -> AirbyteRun:
    """Run one command of the source in this process."""
    out = io.BytesIO()
    code = run(list(argv), stdout=out)
    text = out.getvalue().decode("utf-8")
    return AirbyteRun(code, [json.loads(line) for line in text.splitlines()], text)


def write(path: Path, value: t.Any) -> str:
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return str(path)


def configured_catalog(
    catalog: dict, streams: t.Iterable[str] | None = None, full_refresh: t.Iterable[str] = ()
) -> dict:
    """A configured catalog of ``streams`` (all) from a discovered one, incremental where
    supported unless named in ``full_refresh``, as PyAirbyte configures them."""
    wanted = None if streams is None else set(streams)
    full = set(full_refresh)
    configured = []
    for stream in catalog["streams"]:
        if wanted is not None and stream["name"] not in wanted:
            continue
        incremental = "incremental" in stream["supported_sync_modes"] and stream["name"] not in full
        configured.append(
            {
                "stream": stream,
                "sync_mode": "incremental" if incremental else "full_refresh",
                "destination_sync_mode": "append_dedup" if incremental else "overwrite",
            }
        )
    return {"streams": configured}


@dataclasses.dataclass
class Source:
    """The source's files in one directory: config, catalog, state."""

    tmp: Path
    config: dict

    def __post_init__(self) -> None:
        self.config_path = write(self.tmp / "config.json", self.config)

    def discover(self) -> AirbyteRun:
        return run_source("discover", "--config", self.config_path)

    def check(self) -> AirbyteRun:
        return run_source("check", "--config", self.config_path)

    def read(self, catalog: dict, states: list[dict] | None = None) -> AirbyteRun:
        argv = ["read", "--config", self.config_path]
        argv += ["--catalog", write(self.tmp / "catalog.json", catalog)]
        if states is not None:
            argv += ["--state", write(self.tmp / "state.json", states)]
        return run_source(*argv)
