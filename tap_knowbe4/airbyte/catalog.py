"""``discover`` from the tap's streams, and what a configured catalog asks ``read`` to do.

Every stream of the tap is an Airbyte stream with the tap's JSON schema and primary key.
The streams whose state saves requests (risk-score histories, phishing test recipients:
``Endpoint.incremental``) support ``incremental`` besides ``full_refresh``; their cursor is
their replication key where they have one (``date``); the recipients have none (the tap
decides per phishing test, from the test's own counters, which tests to read again), so a
destination orders their versions by the time they were read. A stream read only when a
setting says so (``include_user_risk_score_history``) is listed only when it is on.
"""

from __future__ import annotations

import dataclasses
import typing as t

from tap_knowbe4.airbyte.protocol import models
from tap_knowbe4.streams import endpoints

if t.TYPE_CHECKING:
    from tap_knowbe4.tap import TapKnowBe4

FULL_REFRESH = models.SyncMode.full_refresh
INCREMENTAL = models.SyncMode.incremental


@dataclasses.dataclass(frozen=True)
class StreamFacts:
    """What Airbyte is told about one stream."""

    name: str
    schema: dict[str, t.Any]
    primary_key: tuple[str, ...]
    incremental: bool
    cursor: str | None
    #: The setting that must be true for the stream to be read, when it is off.
    needs_setting: str | None

    def airbyte_stream(self) -> models.AirbyteStream:
        """The stream as ``discover`` lists it."""
        return models.AirbyteStream(
            name=self.name,
            json_schema=self.schema,
            supported_sync_modes=[FULL_REFRESH, INCREMENTAL]
            if self.incremental
            else [FULL_REFRESH],
            source_defined_cursor=True if self.incremental else None,
            default_cursor_field=[self.cursor] if self.incremental and self.cursor else None,
            source_defined_primary_key=[[key] for key in self.primary_key],
            is_resumable=self.incremental,
        )


def stream_facts(tap: TapKnowBe4) -> dict[str, StreamFacts]:
    """The facts of every stream of ``tap`` (its settings decide which exist and are on)."""
    settings = tap.settings
    table = {e.name: e for e in endpoints(settings.group_members_source)}
    facts = {}
    for name, stream in tap.streams.items():
        opt_in = getattr(stream, "opt_in", None)
        facts[name] = StreamFacts(
            name=name,
            schema=stream.schema,
            primary_key=tuple(stream.primary_keys or ()),
            incremental=table[name].incremental,
            cursor=stream.replication_key,
            needs_setting=opt_in if opt_in and not getattr(settings, opt_in) else None,
        )
    return facts


def discover(facts: t.Mapping[str, StreamFacts]) -> models.AirbyteCatalog:
    """The ``discover`` answer: every stream that can be read with these settings."""
    return models.AirbyteCatalog(
        streams=[f.airbyte_stream() for f in facts.values() if f.needs_setting is None]
    )


@dataclasses.dataclass
class ReadPlan:
    """What a configured catalog asks for, checked against the streams that exist."""

    #: Configured streams the tap can read, in the catalog's order.
    streams: list[str]
    #: Those read incrementally (configured so, and able to): their state is used.
    incremental: set[str]
    #: Configured streams that cannot be read, with the reason (reported INCOMPLETE).
    unavailable: dict[str, str]

    @property
    def configured(self) -> list[str]:
        """Every configured stream."""
        return [*self.streams, *self.unavailable]


def plan_read(
    catalog: models.ConfiguredAirbyteCatalog, facts: t.Mapping[str, StreamFacts]
) -> ReadPlan:
    """Check the configured catalog against the streams; say how each stream is read.

    A stream that supports only full refresh but is configured ``incremental`` (PyAirbyte
    configures every stream so) is read in full, as Airbyte's own sources do.
    """
    plan = ReadPlan(streams=[], incremental=set(), unavailable={})
    for configured in catalog.streams:
        name = configured.stream.name
        fact = facts.get(name)
        if fact is None:
            plan.unavailable[name] = (
                f"stream '{name}' does not exist in this source: refresh the source's schema"
            )
        elif fact.needs_setting is not None:
            plan.unavailable[name] = (
                f"stream '{name}' is selected but {fact.needs_setting} is false: set it to "
                "true to read the stream, or deselect the stream"
            )
        elif name not in plan.streams:
            plan.streams.append(name)
            if configured.sync_mode is INCREMENTAL and fact.incremental:
                plan.incremental.add(name)
    return plan


def singer_catalog(tap: TapKnowBe4, selected: t.Collection[str]) -> dict[str, t.Any]:
    """The tap's Singer catalog with exactly ``selected`` streams selected."""
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in selected
    return catalog
