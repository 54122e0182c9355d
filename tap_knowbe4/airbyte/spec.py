"""``spec``: the connector's settings, from the one settings declaration.

:data:`tap_knowbe4.settings.CONFIG_SCHEMA` is what ``tap-knowbe4 --about``, ``meltano.yml``
and the Hub definition come from; the Airbyte spec is the same schema in Airbyte's dialect:
one type per setting (a setting left out takes its default), ``airbyte_secret`` on secrets,
``order`` following the declaration, and the settings that only mean something to a Singer
target left out (:data:`SINGER_ONLY`; the source still accepts them, and ignores them).
"""

from __future__ import annotations

import typing as t
from importlib import metadata

from tap_knowbe4.airbyte.protocol import models
from tap_knowbe4.settings import CONFIG_SCHEMA, Settings

#: Settings with no meaning for Airbyte: Airbyte replaces a full-refresh table itself, once
#: a stream says COMPLETE, so there is no ACTIVATE_VERSION to send.
SINGER_ONLY = frozenset({"emit_activate_version_messages"})

#: The JSON-schema keywords a setting keeps (the SDK's ``secret``/``writeOnly`` become
#: ``airbyte_secret``).
_KEPT = ("title", "description", "default", "minimum", "maximum", "enum", "examples", "format")


def setting_names() -> list[str]:
    """Every setting the source accepts: the tap's own, in declaration order.

    (Not the SDK's built-in ones the tap's command also takes: stream maps and flattening
    would change records the catalog describes, and BATCH has no Airbyte counterpart.)
    """
    return [name for name, _ in Settings.declared()]


def connection_specification() -> dict[str, t.Any]:
    """The settings as Airbyte's ``connectionSpecification`` (JSON Schema draft 7)."""
    properties: dict[str, dict[str, t.Any]] = {}
    offered = [name for name in setting_names() if name not in SINGER_ONLY]
    for order, name in enumerate(offered):
        schema = CONFIG_SCHEMA["properties"][name]
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else list(types)
        concrete = [kind for kind in types if kind != "null"]
        prop: dict[str, t.Any] = {"type": concrete[0] if len(concrete) == 1 else concrete}
        prop.update({key: schema[key] for key in _KEPT if key in schema})
        if schema.get("secret"):
            prop["airbyte_secret"] = True
        prop["order"] = order
        properties[name] = prop
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "KnowBe4 Reporting API",
        "type": "object",
        "required": [name for name, decl in Settings.declared() if decl.required],
        "additionalProperties": True,
        "properties": properties,
    }


def _documentation_url() -> str | None:
    try:
        urls = metadata.metadata("tap-knowbe4").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return None
    for entry in urls:
        label, _, url = entry.partition(", ")
        if label == "Documentation":
            return url.split("#", 1)[0] + "#use-it-from-airbyte"
    return None  # pragma: no cover


def specification() -> models.ConnectorSpecification:
    """The ``spec`` answer."""
    return models.ConnectorSpecification(
        connectionSpecification=connection_specification(),
        documentationUrl=_documentation_url(),
        supportsIncremental=True,
        supported_destination_sync_modes=[
            models.DestinationSyncMode.overwrite,
            models.DestinationSyncMode.append,
            models.DestinationSyncMode.append_dedup,
        ],
    )
