"""The Airbyte protocol's published models, written as JSON lines and read back strictly.

Messages are built with the dataclasses of ``airbyte-protocol-models-dataclasses`` (the
models the Airbyte CDK itself builds on; pure Python, no dependencies). This module adds
the two things the models leave to their user, as the CDK's serializers do:

* :func:`dump_line`: a model as one JSON line, optional fields that are ``None`` left out,
  enums as their values, ``global_`` written ``global``, a state blob as its object;
* :func:`load`: a JSON value read into a model, checking every field against the model's
  types; a wrong value raises :class:`ProtocolError` naming where it is
  (``streams[2].sync_mode: 'INVALID' is not one of full_refresh, incremental``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import typing as t

import msgspec
from airbyte_protocol_dataclasses.models import airbyte_protocol as models

#: What the tap's records may hold besides JSON types, written as the Singer path does.
_encoder = msgspec.json.Encoder(
    enc_hook=lambda v: v.isoformat(sep="T") if isinstance(v, dt.datetime) else str(v),
    decimal_format="number",
)


class ProtocolError(ValueError):
    """A file given to the source is not the protocol's shape (the text says where)."""


class StateBlob(models.AirbyteStateBlob):
    """A stream's state: any JSON object (the published blob declares no fields).

    The CDK subclasses the blob the same way; :func:`dump_line` writes :attr:`value`.
    """

    def __init__(self, value: dict[str, t.Any]) -> None:
        """Hold ``value``."""
        self.value = value

    def __eq__(self, other: object) -> bool:
        """Equal when the objects held are."""
        return isinstance(other, StateBlob) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


# -- writing -----------------------------------------------------------------------------

#: Per model class: (attribute, JSON name) of each field, computed once.
_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def _fields(cls: type) -> tuple[tuple[str, str], ...]:
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple((f.name, f.name.rstrip("_")) for f in dataclasses.fields(cls))
    return found


def to_builtins(value: t.Any) -> t.Any:
    """``value`` (a model, or a part of one) as JSON types; ``None`` fields left out.

    Fields typed ``Dict[str, Any]`` (record data, schemas, specs) are JSON already and
    pass as they are.
    """
    if isinstance(value, StateBlob):
        return value.value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [to_builtins(item) for item in value]
    if dataclasses.is_dataclass(value):
        out = {}
        for name, key in _fields(type(value)):
            item = getattr(value, name)
            if item is not None:
                out[key] = to_builtins(item)
        return out
    return value


def dump_line(message: models.AirbyteMessage) -> bytes:
    """One message as a JSON line (with its newline)."""
    return _encoder.encode(to_builtins(message)) + b"\n"


def encode(value: t.Any) -> bytes:
    """``value`` (JSON types, or what the tap's records hold) as :func:`dump_line` writes it."""
    return _encoder.encode(value)


def encode_into(value: t.Any, block: bytearray) -> None:
    """Append :func:`encode` of ``value`` to ``block``."""
    _encoder.encode_into(value, block, -1)


#: Stand-ins whose JSON cannot occur elsewhere in a RECORD line of the template.
_DATA_MARK = {"\u0000data": 0}
_TIME_MARK = 1_234_567_890_123_456_789


class RecordLines:
    """RECORD lines of one stream, laid out once by the model and :func:`dump_line`.

    Building and walking two dataclasses per record costs more than reading the record
    (``bench/airbyte_cpu.py``); the line of every record of a stream differs only in the
    data and the time, so the model's line is written once with stand-ins, cut around them,
    and each record fills them in. ``line(data, ms)`` equals :func:`dump_line` of the full
    model (``tests/test_airbyte_protocol.py`` checks it on generated records).
    """

    def __init__(self, stream: str) -> None:
        """Lay out the lines of ``stream``."""
        template = dump_line(
            models.AirbyteMessage(
                type=models.Type.RECORD,
                record=models.AirbyteRecordMessage(
                    stream=stream, data=t.cast("dict", _DATA_MARK), emitted_at=_TIME_MARK
                ),
            )
        )
        data_mark = _encoder.encode(_DATA_MARK)
        time_mark = str(_TIME_MARK).encode()
        head, rest = template.split(data_mark)
        middle, tail = rest.split(time_mark)
        #: The line's bytes before the data, between data and time, after the time.
        self.head, self.middle, self.tail = head, middle, tail

    def line(self, data: dict[str, t.Any], emitted_at: int) -> bytes:
        """The RECORD line of ``data`` read at ``emitted_at`` (ms)."""
        return b"".join(
            (self.head, _encoder.encode(data), self.middle, b"%d" % emitted_at, self.tail)
        )

    def line_into(self, block: bytearray, data: dict[str, t.Any], emitted_at: int) -> None:
        """Append :meth:`line` of ``data`` to ``block``, encoding ``data`` in place.

        A record that cannot be encoded leaves ``block`` as it was.
        """
        start = len(block)
        block += self.head
        try:
            _encoder.encode_into(data, block, -1)
        except BaseException:
            del block[start:]
            raise
        block += self.middle
        block += b"%d" % emitted_at
        block += self.tail


# -- reading -----------------------------------------------------------------------------

_HINTS: dict[type, dict[str, t.Any]] = {}


def _hints(cls: type) -> dict[str, t.Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = t.get_type_hints(cls, vars(models))
    return found


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__}"


def load(cls: type[t.Any], value: object, where: str = "") -> t.Any:
    """``value`` (parsed JSON) as an instance of the model ``cls``, checked field by field.

    Unknown fields are ignored (newer protocol versions add some); a missing required field
    or a value of the wrong type raises :class:`ProtocolError`.
    """
    return _load(cls, value, where)


def _load(kind: t.Any, value: object, where: str) -> t.Any:
    origin = t.get_origin(kind)
    if origin is t.Union:
        if value is None and type(None) in t.get_args(kind):
            return None
        options = [a for a in t.get_args(kind) if a is not type(None)]
        for option in options[:-1]:
            try:
                return _load(option, value, where)
            except ProtocolError:
                continue
        return _load(options[-1], value, where)
    if kind is t.Any:
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ProtocolError(f"{where or 'the value'} must be a list, got {_show(value)}")
        (item,) = t.get_args(kind)
        return [_load(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where or 'the value'} must be an object, got {_show(value)}")
        return value
    if isinstance(kind, type) and issubclass(kind, models.AirbyteStateBlob):
        if not isinstance(value, dict):
            raise ProtocolError(f"{where or 'the state'} must be an object, got {_show(value)}")
        return StateBlob(value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in kind)
            raise ProtocolError(f"{where}: {_show(value)} is not one of {allowed}") from None
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _load_model(kind, value, where)
    return _load_scalar(kind, value, where)


def _load_model(cls: type, value: object, where: str) -> t.Any:
    if not isinstance(value, dict):
        raise ProtocolError(f"{where or 'the document'} must be an object, got {_show(value)}")
    hints = _hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        key = field.name.rstrip("_")
        path = f"{where}.{key}" if where else key
        if key in value:
            kwargs[field.name] = _load(hints[field.name], value[key], path)
        elif field.default is dataclasses.MISSING:
            raise ProtocolError(f"{path} is missing")
    return cls(**kwargs)


def _load_scalar(kind: type, value: object, where: str) -> t.Any:
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ProtocolError(f"{where}: expected {kind.__name__}, got {_show(value)}")
    return value
