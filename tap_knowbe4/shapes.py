"""The shape of a stream's output: under which name, and with which fields, a target got it.

What the state keeps for a stream (finished, fan-out and list positions, table versions,
bookmarks and settled tests) says what the *target received*. Settings outside the tap
change that without changing what the tap reads: a stream map may rename the stream
(``__alias__``), add another one from it (``__source__``), filter its records, drop or
compute fields; flattening turns nested objects into columns; the catalog may deselect
fields. A position kept under one shape proves nothing for another: rows sent to
``groups_renamed`` are not in ``groups``, a column deselected then is empty now.

:func:`stream_shape` is a fingerprint of those settings for one stream ("" when none
applies: the stream under its own name, every field, no flattening). The state records the
shape of each stream, "" too (``TapState.shapes``: Meltano's merge strategies would bring
back an older run's shape of a stream left out), and forgets what it keeps for a
stream whose shape changed since (:meth:`TapState.forget_reshaped`), saying so in one line:
that stream is read again in full, so the target gets everything under the shape it has now.
A state written before shapes were recorded holds none, and is read as written without.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import typing as t

#: The SDK's stream-map options that name the stream a map reads from.
SOURCE_OPTION = "__source__"
#: The SDK's top-level stream-map option for the streams no map names; null removes them.
ELSE_OPTION = "__else__"
#: The SDK's spelling of null in stream maps.
NULL_STRING = "__NULL__"
#: The SDK's flattening defaults (``FlatteningOptions``): a value equal to them shapes nothing.
FLATTENING_DEFAULTS = {"flattening_separator": "__", "flattening_max_key_length": 255}


def maps_of(name: str, stream_maps: object) -> list[tuple[str, t.Any]]:
    """The entries of ``stream_maps`` that apply to stream ``name``, as the SDK matches them.

    An entry applies when its key, or its ``__source__``, is the name or a pattern
    matching it (the SDK's ``fnmatch``).
    """
    if not isinstance(stream_maps, dict):
        return []
    found = []
    for key, value in stream_maps.items():
        source = value.get(SOURCE_OPTION) if isinstance(value, dict) else None
        source = source if isinstance(source, str) else str(key)
        if source == name or fnmatch.fnmatch(name, source):
            found.append((str(key), value))
    return sorted(found, key=lambda entry: entry[0])


def removed_by_default(name: str, stream_maps: object) -> bool:
    """True when ``__else__: null`` removes stream ``name`` (the SDK's default mapper).

    ``__else__`` null (or ``__NULL__``) removes every stream no map names as its own: a key
    equal to the name or a pattern matching it, whose value is not a map reading from a
    ``__source__`` (such a map adds a stream; its source keeps the default mapper).
    """
    if not isinstance(stream_maps, dict) or stream_maps.get(ELSE_OPTION, "") not in (
        None,
        NULL_STRING,
    ):
        return False
    for key, value in stream_maps.items():
        if str(key).startswith("__") or (isinstance(value, dict) and SOURCE_OPTION in value):
            continue
        if key == name or fnmatch.fnmatch(name, str(key)):
            return False
    return True


def _flattening(config: t.Mapping[str, t.Any]) -> int:
    """The flattening depth the SDK applies (0: none)."""
    enabled = config.get("flattening_enabled")
    if not (enabled is True or str(enabled).strip().lower() in ("true", "1", "yes", "on")):
        return 0
    try:
        return int(config.get("flattening_max_depth") or 10)
    except (TypeError, ValueError):
        return -1  # the SDK refuses it; any value is then as good as another


def stream_shape(name: str, config: t.Mapping[str, t.Any], deselected: t.Iterable[str] = ()) -> str:
    """A fingerprint of what shapes stream ``name``'s output ("" when nothing does).

    ``deselected``: the stream's fields the catalog leaves out (:func:`deselected_fields`).
    """
    maps = maps_of(name, config.get("stream_maps"))
    parts: dict[str, t.Any] = {}
    if maps:
        parts["maps"] = maps
        if config.get("stream_map_config"):  # expressions may read it
            parts["map_config"] = config.get("stream_map_config")
    if removed_by_default(name, config.get("stream_maps")):
        parts["removed"] = True  # the target gets none of it under its own name
    depth = _flattening(config)
    if depth:
        parts["flattening"] = depth
        for option, default in FLATTENING_DEFAULTS.items():  # the columns' names
            value = config.get(option)
            if value is not None and str(value) != str(default):
                parts[option] = str(value)
    left_out = sorted(set(deselected))
    if left_out:
        parts["deselected"] = left_out
    if not parts:
        return ""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def deselected_fields(mask: t.Mapping[tuple[str, ...], bool]) -> list[str]:
    """The properties a stream's selection mask (the SDK's ``Stream.mask``) leaves out.

    Top-level ones by name (``job_title``), nested ones by their path (``user.email``: the
    SDK prunes those from records too, so a row sent without one lacks that column).
    """
    return sorted(
        ".".join(crumb[1::2])
        for crumb, selected in mask.items()
        if not selected and _property_path(crumb)
    )


def _property_path(crumb: tuple[str, ...]) -> bool:
    """True for the breadcrumb of a property at any depth of objects (not the stream's ``()``)."""
    return len(crumb) >= 2 and len(crumb) % 2 == 0 and all(p == "properties" for p in crumb[::2])
