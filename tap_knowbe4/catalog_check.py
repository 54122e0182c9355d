"""A catalog file checked for shape before the SDK reads it.

The SDK trusts a catalog: a ``properties`` that is a list, ``items`` that is a list, a
``schema`` of null or a ``metadata`` entry without a breadcrumb end the run with an
``AttributeError`` deep inside it. A catalog is the user's input, so its shape is checked
here and a malformed one is refused in one line that says where it is wrong.
"""

from __future__ import annotations

import typing as t

#: Keywords whose value is a sub-schema, a map of them, or a list of them.
_ONE = ("items", "additionalProperties", "not")
_MAP = ("properties", "patternProperties", "definitions", "$defs")
_LIST = ("anyOf", "oneOf", "allOf")


def catalog_problem(catalog: dict) -> str | None:
    """Where ``catalog`` is not a Singer catalog's shape (None when it is)."""
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        return "it has no 'streams' list"
    for index, entry in enumerate(streams):
        if not isinstance(entry, dict):
            return f"streams[{index}] is not an object"
        name = entry.get("tap_stream_id", entry.get("stream"))
        if not isinstance(name, str):
            return f"streams[{index}] has no tap_stream_id"
        problem = _entry_problem(entry)
        if problem:
            return f"stream '{name[:60]}': {problem}"
    return None


def _entry_problem(entry: dict) -> str | None:
    if "schema" in entry:
        problem = schema_problem(entry["schema"])
        if problem:
            return problem
    keys = entry.get("key_properties")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        return "key_properties is not a list of names"
    metadata = entry.get("metadata", [])
    if not isinstance(metadata, list):
        return "metadata is not a list"
    for index, item in enumerate(metadata):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("breadcrumb"), list)
            and isinstance(item.get("metadata"), dict)
        ):
            return f"metadata[{index}] is not a breadcrumb and its metadata"
    return None


def schema_problem(schema: object) -> str | None:
    """Where ``schema`` is not a JSON schema's shape, walked without recursion."""
    pending: list[tuple[str, object]] = [("schema", schema)]
    while pending:
        path, node = pending.pop()
        if isinstance(node, bool) and path != "schema":
            continue  # true/false are schemas too, below the root
        if not isinstance(node, dict):
            return f"{path} is not an object"
        if not _is_type(node.get("type")):
            return f"{path}.type is not a type name or a list of them"
        pending.extend(_children(path, node))
    return None


def _is_type(kind: object) -> bool:
    if kind is None or isinstance(kind, str):
        return True
    return isinstance(kind, list) and all(isinstance(k, str) for k in kind)


def _children(path: str, node: dict) -> t.Iterator[tuple[str, object]]:
    for word in _ONE:
        if word in node:
            yield f"{path}.{word}", node[word]
    for word in _MAP:
        if word in node:
            value = node[word]
            if not isinstance(value, dict):
                yield f"{path}.{word}", None  # reported as "not an object"
                continue
            for key, child in value.items():
                yield f"{path}.{word}.{str(key)[:60]}", child
    for word in _LIST:
        if word in node:
            value = node[word]
            if not isinstance(value, list):
                yield f"{path}.{word}", None
                continue
            for index, child in enumerate(value):
                yield f"{path}.{word}[{index}]", child
