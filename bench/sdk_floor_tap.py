"""The least a tap on the SDK's record loop costs: a yardstick of ``bench/cpu_per_record.py``.

It reads ``/v1/users`` and ``/v1/training/enrollments`` as the raw floor does (``requests``
GETs every page, ``json`` parses it) and hands each record to the SDK's record loop
(``Stream.sync``: post-processing, stream maps, RECORD messages, counters, STATE), with
everything a tap can turn off turned off: no type conformance, no walk for deselected
properties, records written in 64 KiB blocks (the SDK's writer flushes every record). No
checks, no cleaning, no state of its own. It imports nothing from the tap; its two lists and
settings are the plain SDK tap's (``bench/yardstick_streams.py``):

    .venv/bin/python bench/sdk_floor_tap.py --config CONFIG   # {"api_key": ..., "api_url": ...}

What it costs beyond the raw floor is the SDK's own per-record work, which every record of
the tap goes through too.
"""

from __future__ import annotations

import atexit
import datetime
import sys

import requests
from singer_sdk import SchemaDirectory, Stream, StreamSchema, Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage, SingerMessageType
from yardstick_streams import CONFIG_JSONSCHEMA, PER_PAGE, SCHEMAS, streams_on

BLOCK = 64 * 1024


class BlockWriter(MsgSpecWriter):
    """The SDK's msgspec lines, records written in blocks, anything else at once."""

    def __init__(self) -> None:
        self.block = bytearray()
        atexit.register(self.flush)

    def write_message(self, message):
        self.block += self.format_message(message)
        if message.type != SingerMessageType.RECORD or len(self.block) >= BLOCK:
            self.flush()

    def flush(self) -> None:
        sys.stdout.buffer.write(self.block)
        sys.stdout.buffer.flush()
        self.block = bytearray()


class FloorStream(Stream):
    """One list read page by page as the raw floor reads it."""

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema = StreamSchema(SchemaDirectory(SCHEMAS))
    path = ""
    extra_params: dict[str, str] = {}

    def get_records(self, context):
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + self.config["api_key"]
        page = 1
        while True:
            params = {"page": page, "per_page": PER_PAGE, **self.extra_params}
            rows = session.get(self.config["api_url"] + self.path, params=params).json()
            yield from rows
            if len(rows) < PER_PAGE:
                return
            page += 1

    def _generate_record_messages(self, record):  # the SDK's, without its pruning walk
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=None,
                    time_extracted=datetime.datetime.now(datetime.timezone.utc),
                )


STREAMS = streams_on(FloorStream)


class SdkFloorTap(Tap):
    name = "tap-sdk-floor"
    message_writer_class = BlockWriter
    config_jsonschema = CONFIG_JSONSCHEMA

    def discover_streams(self) -> list[Stream]:
        return [stream(self) for stream in STREAMS]


if __name__ == "__main__":
    SdkFloorTap.cli()
