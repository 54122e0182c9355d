"""What a catalog (or Meltano's ``metadata``) asks of a stream: honoured completely, or refused.

The SDK applies a catalog as it finds it: a replication method, a replication key, key
properties, field selection. Several of these would make the tap lose data while exiting 0:

* ``FULL_TABLE`` on a risk history, read from its bookmarks and then activated: a
  version-aware target deleted every point before the bookmark;
* a catalog entry without ``key_properties`` or ``replication_key`` (a hand-written one)
  cleared the stream's key, so all but one record of a list counted as repeats, and turned
  the risk histories into full tables (the same deletion);
* a key field deselected: records without the key they are merged on.

Each stream therefore ends up replicated exactly one way the tap can keep its promises in,
and anything else is refused in one line before any request:

* **Replication method** -- from the stream metadata's ``replication-method`` (Meltano's
  ``metadata`` extra) or ``forced-replication-method``, else the entry's
  ``replication_method``, else the stream's own. A risk history may be ``FULL_TABLE``: then
  it is read in full (every owner's whole history, no bookmark limits the read) and only
  then activated. A full-table stream cannot be ``INCREMENTAL`` (the API has no field to
  filter it on); recipients are incremental per test either way. ``LOG_BASED`` is refused.
* **Replication key** -- the risk histories' is ``date``; nothing else has one.
* **Key properties** -- the API's record identity: a catalog may repeat it, not change it.
* **Fields** -- a key field may not be deselected (the SDK keeps it when its inclusion is
  ``automatic``, as discovery writes it; a catalog that says otherwise is refused).

A catalog that leaves any of these out gets the stream's own. Stream selection needs no
rule here: a parent read only for its selected children emits nothing and is never marked
done (``fanout.py``).
"""

from __future__ import annotations

import typing as t

from tap_knowbe4.errors import ConfigError

if t.TYPE_CHECKING:
    from singer_sdk import Stream

FULL_TABLE = "FULL_TABLE"
INCREMENTAL = "INCREMENTAL"


def settle(streams: t.Iterable[Stream], catalog: object) -> None:
    """Give each stream the replication ``catalog`` asks for, or raise ConfigError saying why.

    Call it after the SDK applied the catalog (it changes the streams' key properties,
    replication key and method back to what they must be).
    """
    entries = _entries(catalog)
    for stream in streams:
        entry = entries.get(stream.name, {})
        root = _root_metadata(entry)
        keys = tuple(_declared(stream, "primary_keys") or ())
        key = _declared(stream, "replication_key")
        for asked_keys in (entry.get("key_properties"), root.get("table-key-properties")):
            if asked_keys is not None and tuple(asked_keys) != keys:
                _refuse(
                    stream.name,
                    f"key properties {list(asked_keys)} are not its record identity "
                    f"{list(keys)}; remove key_properties/table-key-properties from the catalog",
                )
        method = _method(stream.name, entry, root, key)
        asked_key = _first(root.get("replication-key"), entry.get("replication_key"))
        if key is None and asked_key is not None:
            _refuse(
                stream.name,
                f"replication key {asked_key!r}: it cannot be read incrementally (the API "
                "filters it by nothing); remove the replication key",
            )
        per_parent = getattr(stream, "incremental", False)  # its own state, per parent
        if key is None and method == INCREMENTAL and not per_parent:
            _refuse(
                stream.name,
                "INCREMENTAL: the API filters it by nothing, so it is read in full every run; "
                "remove the replication-method override (to keep rows a full read no longer "
                "returns, leave emit_activate_version_messages off)",
            )
        if key is not None and method == INCREMENTAL and asked_key not in (None, key):
            _refuse(stream.name, f"replication key {asked_key!r}: its only one is {key!r}")
        for field in keys if stream.selected else ():
            if not stream.mask.get(("properties", field), True):
                _refuse(stream.name, f"the catalog deselects its key field {field!r}; select it")
        stream.primary_keys = keys
        stream.replication_key = key
        stream.forced_replication_method = method


def _method(name: str, entry: dict, root: dict, key: str | None) -> str:
    explicit = {
        str(v).upper()
        for v in (root.get("replication-method"), root.get("forced-replication-method"))
        if v is not None
    }
    if len(explicit) > 1:
        _refuse(name, f"the metadata asks for two replication methods ({', '.join(explicit)})")
    asked = next(iter(explicit), None) or entry.get("replication_method")
    method = str(asked).upper() if asked else (INCREMENTAL if key else FULL_TABLE)
    if method not in (FULL_TABLE, INCREMENTAL):
        _refuse(name, f"replication method {method[:40]!r}: it is read FULL_TABLE or INCREMENTAL")
    return method


def _refuse(stream: str, why: str) -> t.NoReturn:
    msg = f"The catalog's stream '{stream}': {why}."
    raise ConfigError(msg)


def _first(*values: object) -> t.Any:
    return next((v for v in values if v is not None), None)


def _declared(stream: Stream, name: str) -> t.Any:
    """The class's own value of ``name`` (the SDK's catalog sets it on the instance)."""
    for cls in type(stream).__mro__:
        if name in vars(cls):
            value = vars(cls)[name]
            return value if isinstance(value, (str, tuple, list)) else None
    return None


def _entries(catalog: object) -> dict[str, dict]:
    streams = catalog.get("streams") if isinstance(catalog, dict) else None
    found: dict[str, dict] = {}
    for entry in streams if isinstance(streams, list) else []:
        if isinstance(entry, dict):
            found[str(entry.get("tap_stream_id", entry.get("stream")))] = entry
    return found


def _root_metadata(entry: dict) -> dict:
    for item in entry.get("metadata") or []:
        if isinstance(item, dict) and item.get("breadcrumb") == []:
            metadata = item.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}
