"""The tap's state as Airbyte per-stream states, and back.

The tap keeps one state (:class:`tap_knowbe4.state.TapState`, dumped under ``tap_knowbe4``).
Airbyte stores states per stream (``STREAM`` messages; PyAirbyte keeps nothing else), and
clearing a stream in Airbyte removes that stream's state. So each stream's Airbyte state
holds what the tap keeps for that stream alone, plus the parts every stream shares (budget,
account, last run), stamped with when it was written::

    {"tap_state": {"tap_knowbe4": {"version": .., "budget": {..}, "last_run": {..},
                                   "streams": {"<this stream>": {..}},
                                   "interrupted": {"streams_done": ["<this stream>"],
                                                   "parents_done": {"<this stream>": 9123},
                                                   "lists": {"<this stream>": {..}},
                                                   "versions": {"<this stream>": 1796..}}}},
     "checkpoint": [<run start, ms>, <sequence>]}

Read back (:func:`tap_state_from`), the shared parts come from the newest stream state and
each stream's own parts from its own state (where an unfinished sync stood only from a state
the newest state's run wrote: an older one may describe a sync a later read finished), and
only for a stream read incrementally: a
stream read in full refresh, a stream whose state Airbyte cleared, and a stream whose state
was written for another account are read in full. The tap checks the result as it checks
any state (:meth:`TapState.load`).
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from tap_knowbe4.airbyte.protocol import StateBlob, dump_line, encode, encode_into, models
from tap_knowbe4.state import SHAPED, STATE_KEY

#: The containers of ``TapState.dump()`` whose entries belong to one stream each.
_PER_STREAM = ("streams", "interrupted")
#: Parts that say whose a state is: a stream's own parts are used only when they match.
_IDENTITY = ("version", "account")

#: A stream's own parts that say where an unfinished sync stood (see :func:`stream_part`).
_INTERRUPTED_PARTS = ("done", "parents_done", "parents_of", "list", "version", "stalled")
#: The interrupted sync's containers keyed by stream, and the name of a stream's entry in
#: its own part.
_POSITIONS = (("lists", "list"), ("versions", "version"), ("parents_of", "parents_of"))
#: The containers of ``TapState.dump()`` keyed by stream (besides those above), and the
#: name of a stream's entry in its own part.
_KEYED = (("shapes", "shape"),)

Checkpoint = tuple[int, int]


def _own(tap_state: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    value = tap_state.get(STATE_KEY) if isinstance(tap_state, Mapping) else None
    return value if isinstance(value, dict) else {}


def _dict(value: object) -> dict[str, t.Any]:
    return value if isinstance(value, dict) else {}


def shared_part(tap_state: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    """What every stream shares: the tap's state without its per-stream containers."""
    per_stream = {*_PER_STREAM, *(container for container, _ in _KEYED)}
    return {k: v for k, v in _own(tap_state).items() if k not in per_stream}


def stream_part(tap_state: t.Mapping[str, t.Any] | None, name: str) -> dict[str, t.Any]:
    """What the tap's state keeps for stream ``name`` alone (empty when nothing)."""
    return stream_parts(tap_state, (name,))[name]


def stream_parts(
    tap_state: t.Mapping[str, t.Any] | None, names: t.Iterable[str]
) -> dict[str, dict[str, t.Any]]:
    """:func:`stream_part` of each of ``names``, the state's containers looked up once."""
    own = _own(tap_state)
    streams = _dict(own.get("streams"))
    # a stream's parts kept under a shape (``state.part_key``): keys naming one
    shaped_keys = [(k, v) for k, v in streams.items() if SHAPED in k]
    keyed = [(_dict(own.get(container)), key) for container, key in _KEYED]
    interrupted = _dict(own.get("interrupted"))
    done = interrupted.get("streams_done")
    if not isinstance(done, list):
        done = ()
    parents = _dict(interrupted.get("parents_done"))
    positions = [(_dict(interrupted.get(container)), key) for container, key in _POSITIONS]
    stalled = interrupted.get("stalled_runs")
    parts = {}
    for name in names:
        part: dict[str, t.Any] = {}
        if name in streams:
            part["stream"] = streams[name]
        if shaped_keys:
            prefix = f"{name}{SHAPED}"
            shaped = {k: v for k, v in shaped_keys if k.startswith(prefix)}
            if shaped:
                part["shaped"] = shaped
        for entries, key in keyed:
            if name in entries:
                part[key] = entries[name]
        if name in done:
            part["done"] = True
        if parents.get(name) is not None:  # null: a position the record dropped
            part["parents_done"] = parents[name]
        for entries, key in positions:
            if entries.get(name) is not None:
                part[key] = entries[name]
        if stalled and any(key in part for key in _INTERRUPTED_PARTS):
            part["stalled"] = stalled  # a run's count: every stream that stopped keeps it
        parts[name] = part
    return parts


def _assemble(shared: dict[str, t.Any], parts: dict[str, dict[str, t.Any]]) -> dict[str, t.Any]:
    """A tap state from shared parts and each stream's own part."""
    own = dict(shared)
    own["streams"] = {n: p["stream"] for n, p in parts.items() if "stream" in p}
    for part in parts.values():
        own["streams"].update(_dict(part.get("shaped")))
    for container, key in _KEYED:
        own[container] = {n: p[key] for n, p in parts.items() if key in p}
    done = sorted(n for n, p in parts.items() if p.get("done"))
    parents = {n: p["parents_done"] for n, p in parts.items() if "parents_done" in p}
    lists = {n: p["list"] for n, p in parts.items() if "list" in p}
    versions = {n: p["version"] for n, p in parts.items() if "version" in p}
    parents_of = {n: p["parents_of"] for n, p in parts.items() if "parents_of" in p}
    interrupted: dict[str, t.Any] = {"streams_done": done, "parents_done": parents, "lists": lists}
    interrupted |= {"versions": versions} | ({"parents_of": parents_of} if parents_of else {})
    stalled = [p["stalled"] for p in parts.values() if isinstance(p.get("stalled"), int)]
    interrupted["stalled_runs"] = max(stalled, default=0)
    own["interrupted"] = interrupted if done or parents or lists or versions else None
    return {STATE_KEY: own}


def stream_state(
    tap_state: t.Mapping[str, t.Any], name: str, checkpoint: Checkpoint
) -> dict[str, t.Any]:
    """The Airbyte state of stream ``name``: its own part and the shared parts."""
    return stream_state_of(shared_part(tap_state), name, stream_part(tap_state, name), checkpoint)


def stream_state_of(
    shared: dict[str, t.Any], name: str, part: dict[str, t.Any], checkpoint: Checkpoint
) -> dict[str, t.Any]:
    """:func:`stream_state` from the state's :func:`shared_part` and ``name``'s part."""
    return {
        "tap_state": _assemble(shared, {name: part} if part else {}),
        "checkpoint": list(checkpoint),
    }


def state_message(
    tap_state: t.Mapping[str, t.Any], name: str, checkpoint: Checkpoint, records: int
) -> models.AirbyteMessage:
    """A STREAM state message for ``name``; ``records`` sent since its previous state."""
    return _message(name, stream_state(tap_state, name, checkpoint), float(records))


def _message(name: str, value: dict[str, t.Any], records: float) -> models.AirbyteMessage:
    return models.AirbyteMessage(
        type=models.Type.STATE,
        state=models.AirbyteStateMessage(
            type=models.AirbyteStateType.STREAM,
            stream=models.AirbyteStreamState(
                stream_descriptor=models.StreamDescriptor(name=name),
                stream_state=StateBlob(value),
            ),
            sourceStats=models.AirbyteStateStats(recordCount=records),
        ),
    )


#: Stand-ins whose JSON cannot occur elsewhere in a STATE line of the template.
_STATE_MARK = {"\u0000state": 0}
_COUNT_MARK = 1234567.125


class StateLines:
    """STATE lines of one stream, laid out once by :func:`state_message` and ``dump_line``.

    As :class:`~tap_knowbe4.airbyte.protocol.RecordLines`: the line of every state of a
    stream differs only in its state and record count, so a state is encoded into the
    model's line, cut around stand-ins, without building and walking five dataclasses.
    ``line_into`` appends what ``dump_line(state_message(..))`` is
    (``tests/test_airbyte_protocol.py``).
    """

    def __init__(self, name: str) -> None:
        """Lay out the STATE lines of stream ``name``."""
        template = dump_line(_message(name, _STATE_MARK, _COUNT_MARK))
        head, rest = template.split(encode(_STATE_MARK))
        middle, tail = rest.split(encode(_COUNT_MARK))
        self._head, self._middle, self._tail = head, middle, tail

    def line_into(self, block: bytearray, value: dict[str, t.Any], records: int) -> None:
        """Append the line of state ``value`` covering ``records`` records to ``block``."""
        start = len(block)
        block += self._head
        try:
            encode_into(value, block)
        except BaseException:
            del block[start:]  # no part of a line that could not be encoded
            raise
        block += self._middle
        encode_into(float(records), block)
        block += self._tail


def _checkpoint(value: object) -> Checkpoint:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return (value[0], value[1])
    return (-1, -1)


def tap_state_from(
    messages: t.Iterable[models.AirbyteStateMessage],
    incremental: t.Collection[str],
    warn: t.Callable[[str], None],
) -> dict[str, t.Any] | None:
    """The tap's state from Airbyte's stored states (None when there are none).

    Only the streams in ``incremental`` keep their own parts; every other stream is read in
    full. Anything that is not a state this source wrote is ignored with a warning.
    """
    found: dict[str, tuple[Checkpoint, dict[str, t.Any]]] = {}
    for message in messages:
        if message.type is not models.AirbyteStateType.STREAM or message.stream is None:
            kind = message.type.value if message.type else "untyped"
            warn(f"a {kind} state is not one this source writes (STREAM): ignored")
            continue
        name = message.stream.stream_descriptor.name
        blob = message.stream.stream_state
        value = blob.value if isinstance(blob, StateBlob) else {}
        tap_state = value.get("tap_state")
        if not _own(tap_state):
            if value:
                warn(f"the state of {name} is not one this source wrote: {name} is read in full")
            continue
        found[name] = (_checkpoint(value.get("checkpoint")), t.cast("dict", tap_state))
    if not found:
        return None
    newest_checkpoint, newest = max(found.values(), key=lambda item: item[0])
    identity = tuple(_own(newest).get(k) for k in _IDENTITY)
    parts: dict[str, dict[str, t.Any]] = {}
    for name, (checkpoint, tap_state) in found.items():
        if name not in incremental:
            continue
        if tuple(_own(tap_state).get(k) for k in _IDENTITY) != identity:
            warn(f"the state of {name} is another account's or version's: {name} is read in full")
            continue
        part = stream_part(tap_state, name)
        if checkpoint[0] != newest_checkpoint[0]:
            # written by an earlier run than the newest state: where the sync it continued
            # stood is no longer known (a later read without this stream may have finished
            # that sync), so only its bookmarks count
            part = {k: v for k, v in part.items() if k not in _INTERRUPTED_PARTS}
        if part:
            parts[name] = part
    return _assemble(shared_part(newest), parts)
