"""Record cleaning: every record fits the SCHEMA the tap sends, whatever the server sent.

A :class:`RecordCleaner` is compiled once per stream from its JSON schema and applied to
every record (nested objects and arrays included):

* values of the declared type pass untouched (the fast path);
* values of another type that carry the same meaning are converted: ids and counts sent
  as text (``"9007199254740993"`` stays exact), ``employee_number`` sent as a number where
  text is declared, ``"true"``/``"false"`` for booleans, timestamps without a zone or with
  an offset (every date-time goes out in UTC with ``Z``: the same instant);
* values that cannot mean anything of the declared type (``"abc"`` for a count,
  ``Infinity``, a date-time that does not parse, an object where text belongs) become null in
  their column, and are kept as sent in ``_extra_fields``;
* fields the schema does not know, at any depth, are kept in ``_extra_fields``;
* a record whose primary key cannot be read is dropped.

**Nothing the server sent is lost**: ``_extra_fields`` (:data:`EXTRA_FIELDS`, a JSON object
column of every stream, absent when empty) maps the path of each value the schema could not
hold to the value as sent: ``drift_note``, ``user.drift_badge``, ``psts[2].new_counter``,
``phish_prone_percentage`` (for ``"N/A"``). One column instead of a SCHEMA change per new field:
it survives flattening (as JSON text), strict targets (target-csv), a value whose type changes
between records, and a catalog a user saved; the warehouse reads it with its JSON functions.

Each kind of problem is named once per stream in a warning and counted for the run summary;
nothing is dropped silently. With flattening on, a null nested object becomes an object of
nulls, so the flattened record has exactly the flattened SCHEMA's columns.

Speed: every field is checked, but most need no work. For each *shape* of object (its field
names in the order sent; a page's records share one) the cleaner compiles one function
(:func:`_shape_cleaner`) that tests each field's value against the types that pass untouched
(``str`` or null for plain text, ``int`` or null for a count; text in its format's plain form
for a date-time or a date) and sends only the fields that do not pass (a date-time to rewrite,
a float to check, a nested object, a value of another type) through their checkers. The result
is exactly what the field-by-field walk gives (``tests/test_record_shapes.py``); objects with
unknown fields take that walk.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import typing as t

from tap_knowbe4.state import aware_instant

_INT_TEXT = re.compile(r"\s*[-+]?\d{1,30}\s*")
#: The time of day of a date-time, after its date: ASCII digits only (``\d`` also matches
#: other scripts' digits, which no ISO 8601 reader takes).
_CLOCK = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
#: An offset from UTC (``-05:00``, ``+00:00``).
_OFFSET = r"[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]"
#: The time of day and zone of a date-time that passes as sent: UTC, ``Z``. One sent with an
#: offset is moved to UTC (the same instant): a warehouse's timestamp column keeps the wall
#: time and drops the offset (target-duckdb stores ``23:30-05:00`` as 23:30, 5 h early).
_TIME_OF_DAY = _CLOCK + r"(?:\.[0-9]{1,9})?Z"
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})" + _TIME_OF_DAY)
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


@functools.lru_cache(maxsize=65536)
def _real_day(text: str) -> bool:
    """True for a calendar date (``2024-02-30`` and ``0000-00-00`` are not)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return False
    return day.year >= 1


_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}

#: The column of every stream that keeps, by path, the values its schema could not hold.
EXTRA_FIELDS = "_extra_fields"
#: Its declaration in every stream's schema.
EXTRA_FIELDS_SCHEMA = {
    "type": ["object", "null"],
    "description": (
        "What the API sent that the schema could not hold, by path: fields this version of "
        "the tap does not know (at any depth) and values a column's type could not read "
        "(loaded as null there). Absent when empty."
    ),
}

Check = t.Callable[[t.Any], t.Any]
Report = t.Callable[[str, str], None]


#: Values kept in ``_extra_fields`` nested deeper than this are kept as their JSON text: the
#: SDK and targets walk records recursively.
MOST_KEPT_DEPTH = 16


def _deeper_than(value: t.Any, limit: int) -> bool:
    """True when ``value`` nests objects or arrays more than ``limit`` levels (no recursion)."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_safe(value: t.Any) -> t.Any:
    """``value`` with every non-finite number as text (``"NaN"``, ``"Infinity"``).

    A Singer message cannot hold them, and a kept value must not become null.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[repr(value)]
    if not isinstance(value, dict | list):
        return value
    pending = [value]
    while pending:
        node = pending.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(pairs):
            if isinstance(item, float) and not math.isfinite(item):
                node[key] = _NON_FINITE[repr(item)]
            elif isinstance(item, dict | list):
                pending.append(item)
    return value


class _InvalidError(Exception):
    """A value that cannot be read as its declared type (becomes null)."""


def _types(node: dict) -> frozenset[str]:
    kind = node.get("type", [])
    return frozenset([kind] if isinstance(kind, str) else kind)


def _as_int(value: t.Any) -> int:
    number = _as_number(value)
    if isinstance(number, int):
        return number
    if number == int(number):
        return int(number)
    raise _InvalidError


def _as_number(value: t.Any) -> int | float:
    if isinstance(value, bool):
        raise _InvalidError
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise _InvalidError
        return value
    if isinstance(value, str):
        if _INT_TEXT.fullmatch(value):
            return int(value)
        try:
            number = float(value)
        except ValueError:
            raise _InvalidError from None
        if not math.isfinite(number):
            raise _InvalidError
        return number
    raise _InvalidError


def _as_bool(value: t.Any) -> bool:
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        found = _BOOL_TEXT.get(str(value).strip().lower())
        if found is not None:
            return found
    raise _InvalidError


def _as_datetime(value: t.Any) -> str:
    """A date-time as ISO 8601 text in UTC with ``Z``: the same instant.

    One without a zone is taken as UTC. One with an offset is moved to UTC; in the plain form
    (:data:`_OFFSET_DATETIME`) only its wall time and zone change, the fraction of a second
    kept as sent (``10:00:00.000-05:00`` becomes ``15:00:00.000Z``).
    """
    parsed = aware_instant(value)
    if parsed is None:
        raise _InvalidError
    utc = parsed.astimezone(dt.timezone.utc)
    plain = _OFFSET_DATETIME.fullmatch(value)
    if plain is not None:
        wall = utc.replace(tzinfo=None).isoformat(timespec="seconds")
        return f"{wall}{plain.group(1) or ''}Z"
    return utc.isoformat().replace("+00:00", "Z")


#: Years 1 and 9999: an instant there may have no UTC form (checked by parsing it).
_EDGE_YEARS = ("0001-", "9999-")

#: A calendar-shaped date: ASCII digits (``date.fromisoformat`` reads no other), a year
#: from 1, a month 01-12, a day 01-31 (a day from 29 on is checked against its month).
_DAY_SHAPE = r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_PLAIN_DATE = re.compile(_DAY_SHAPE)
_PLAIN_DATETIME = re.compile(f"(?!{'|'.join(_EDGE_YEARS)})" + _DAY_SHAPE + _TIME_OF_DAY)
#: The plain form but for an offset where ``Z`` belongs; group 1 is the fraction of a second.
_OFFSET_DATETIME = re.compile(_DAY_SHAPE + _CLOCK + r"(\.[0-9]{1,9})?" + _OFFSET)


def plain_datetime(value: str) -> bool:
    """True for a date-time that is loaded as it is sent.

    That is ``_DATETIME``'s form, a real calendar day, not in years 1 or 9999: one match,
    and the calendar is asked only from day 29 on.
    """
    return _PLAIN_DATETIME.fullmatch(value) is not None and (
        value[8:10] < "29" or _real_day(value[:10])
    )


def plain_date(value: str) -> bool:
    """True for a date sent as it is loaded: ``YYYY-MM-DD``, a real calendar day."""
    return _PLAIN_DATE.fullmatch(value) is not None and (
        value[8:10] < "29" or _real_day(value[:10])
    )


#: The plain-text tests a shape's function writes out (:func:`_shape_cleaner`): each is
#: ``fullmatch(value) is not None and (value[8:10] < "29" or _real_day(value[:10]))``.
_INLINE_PLAIN: dict[t.Callable[[str], bool], t.Callable[[str], re.Match[str] | None]] = {
    plain_datetime: _PLAIN_DATETIME.fullmatch,
    plain_date: _PLAIN_DATE.fullmatch,
}


def _as_date(value: t.Any) -> str:
    if isinstance(value, str) and len(value) >= 10 and _DATE.fullmatch(value[:10]):
        try:
            return dt.date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            raise _InvalidError from None
    raise _InvalidError


def _as_text(value: t.Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _InvalidError
    if isinstance(value, float) and not math.isfinite(value):
        raise _InvalidError
    return str(value)


#: The report of a date or date-time that was rewritten (the same day or instant).
_REWRITTEN = {
    "date": "date rewritten to ISO 8601",
    "date-time": "date-time rewritten to ISO 8601 in UTC (Z), the same instant",
}


def _ignore(kind: str, field: str) -> None:
    """Report nothing."""


class _AnyType(frozenset):
    """The types that pass an undeclared field untouched: all of them."""

    def __contains__(self, item: object) -> bool:
        return True


_NONE: type = type(None)


def _passing(*kinds: type) -> frozenset[type]:
    """The types of value a checker returns untouched."""
    return frozenset(kinds)


#: A shape not met yet (``shapes.get``'s default: a shape of unknown fields is None).
_UNSEEN: t.Any = object()

#: How many shapes of one object the cleaner remembers (a server sending ever new field
#: orders gets the field-by-field walk beyond this, not a growing cache).
MOST_SHAPES = 64


def _shape_cleaner(
    names: tuple[str, ...],
    checks: t.Sequence[Check],
    passes: t.Sequence[frozenset[type]],
    plain_texts: t.Sequence[t.Callable[[str], bool] | None],
) -> t.Callable[[dict], dict]:
    """One function for objects of one shape (see the module docstring): compiled once.

    For each field in the order sent, the value goes through its checker unless its type
    passes untouched, or it is text its format takes as sent (``plain_texts``: a date-time
    in UTC, a calendar date). The same fields reach the same checkers, in the same order, as
    in the field-by-field walk (``tests/test_record_shapes.py``).
    """
    lines = ["def clean(value):", "    cleaned = dict(value)"]
    scope: dict[str, t.Any] = {}
    for index, (name, check, ok, plain) in enumerate(
        zip(names, checks, passes, plain_texts, strict=True)
    ):
        if isinstance(ok, _AnyType):
            continue
        conditions = ["v is not None"] if _NONE in ok else []
        for number, kind in enumerate(sorted((k for k in ok if k is not _NONE), key=id)):
            scope[f"t{index}_{number}"] = kind
            conditions.append(f"type(v) is not t{index}_{number}")
        if plain is not None:
            inline = _INLINE_PLAIN.get(plain)
            if inline is not None:  # the test's own expression: no call per value
                fullmatch, scope["real_day"] = inline, _real_day
                scope[f"m{index}"] = fullmatch
                conditions.append(
                    f"not (type(v) is str and m{index}(v) is not None"
                    ' and (v[8:10] < "29" or real_day(v[:10])))'
                )
            else:
                scope[f"p{index}"] = plain
                conditions.append(f"not (type(v) is str and p{index}(v))")
        scope[f"c{index}"] = check
        lines += [
            f"    v = value[{name!r}]",
            f"    if {' and '.join(conditions) or 'True'}:",
            f"        cleaned[{name!r}] = c{index}(v)",
        ]
    lines.append("    return cleaned")
    exec("\n".join(lines), scope)  # noqa: S102 (names are the schema's, written as literals)
    return t.cast("t.Callable[[dict], dict]", scope["clean"])


class RecordCleaner:
    """Makes records fit one stream's schema (see the module docstring)."""

    def __init__(
        self,
        schema: dict,
        *,
        key_fields: t.Sequence[str] = (),
        report: Report | None = None,
        expand_null_objects: int = 0,
        most_shapes: int = MOST_SHAPES,
    ) -> None:
        """Compile ``schema``; ``report(kind, field)`` hears of every problem.

        ``expand_null_objects`` is the nesting depth down to which a null object becomes
        an object of nulls (the flattening depth; 0 = never). ``most_shapes`` bounds the
        shapes remembered per object (0: every field through its checker, the reference the
        fast path is tested against).
        """
        self.most_shapes = most_shapes
        self.key_fields = tuple(key_fields)
        self._report = report or _ignore
        self._expand = expand_null_objects
        self._extras: dict[str, t.Any] | None = None
        #: The types each compiled checker returns untouched, without a report.
        self._untouched: dict[Check, frozenset[type]] = {}
        #: Per text checker with a format, the test of text it returns untouched.
        self._plain_text: dict[Check, t.Callable[[str], bool]] = {}
        self._root = self._object_checker(schema, "", 0)

    def clean(self, record: dict) -> dict | None:
        """``record`` made to fit the schema, or None when its key cannot be read."""
        self._extras = None
        cleaned = self._root(record)
        if self._extras is not None:
            cleaned[EXTRA_FIELDS] = self._extras
        for name in self.key_fields:
            if cleaned.get(name) is None:
                self._report("dropped: its primary key could not be read", name)
                return None
        return t.cast("dict", cleaned)

    # -- compiling ----------------------------------------------------------------------

    def _checker(self, node: dict, path: str, depth: int) -> Check:
        check, untouched = self._compiled(node, path, depth)
        self._untouched[check] = untouched
        return check

    def _compiled(self, node: dict, path: str, depth: int) -> tuple[Check, frozenset[type]]:
        """The checker of ``node`` and the types of value it returns untouched."""
        types = _types(node)
        if "object" in types:
            if node.get("properties"):
                expanded = 0 < depth <= self._expand  # null becomes an object of nulls
                untouched = _passing() if expanded else _passing(_NONE)
                return self._object_checker(node, path, depth), untouched
            return self._simple(path, dict, None, "an object"), _passing(dict, _NONE)
        if "array" in types:
            whole = _passing(list, _NONE) if not node.get("items") else _passing(_NONE)
            return self._array_checker(node, path, depth), whole
        if "integer" in types:
            return self._simple(path, int, _as_int, "a whole number"), _passing(int, _NONE)
        if "number" in types:
            return self._number_checker(path), _passing(int, _NONE)  # a float: is it finite?
        if "boolean" in types:
            return self._simple(path, bool, _as_bool, "true or false"), _passing(bool, _NONE)
        if "string" in types:
            fmt = node.get("format")
            plain = fmt not in ("date-time", "date")
            untouched = _passing(str, _NONE) if plain else _passing(_NONE)
            check = self._string_checker(path, fmt)
            plain_test = {"date-time": plain_datetime, "date": plain_date}.get(fmt or "")
            if plain_test is not None:
                self._plain_text[check] = plain_test
            return check, untouched
        return (lambda value: value), _AnyType()

    def _keep(self, path: str, value: t.Any) -> None:
        """Keep ``value`` in ``_extra_fields`` under ``path`` (as JSON text when too deep)."""
        if self._extras is None:
            self._extras = {}
        if isinstance(value, dict | list) and _deeper_than(value, MOST_KEPT_DEPTH):
            value = json.dumps(value)  # what reads records recursively must not overflow
        self._extras[self._free(path)] = json_safe(value)

    def _free(self, path: str) -> str:
        """``path``, or ``path#2``, ``path#3``... when a value is kept under it already.

        A field may be named like another's path (``groups[0]`` beside a ``groups`` item,
        ``a.b`` beside ``b`` inside ``a``): neither value is lost.
        """
        extras = self._extras or {}
        name, number = path, 1
        while name in extras:
            number += 1
            name = f"{path}#{number}"
        return name

    def _problem(self, path: str, value: t.Any, wanted: str) -> None:
        got = "null" if value is None else type(value).__name__
        self._report(f"{got} where {wanted} belongs: loaded as null, kept in {EXTRA_FIELDS}", path)
        self._keep(path, value)

    def _simple(
        self,
        path: str,
        kind: type,
        convert: t.Callable[[t.Any], t.Any] | None,
        wanted: str,
    ) -> Check:
        def check(value: t.Any) -> t.Any:
            if type(value) is kind or value is None:
                return value
            if convert is not None:
                try:
                    converted = convert(value)
                except _InvalidError:
                    pass
                else:
                    self._report(f"{type(value).__name__} converted to {wanted}", path)
                    return converted
            self._problem(path, value, wanted)
            return None

        return check

    def _number_checker(self, path: str) -> Check:
        def check(value: t.Any) -> t.Any:
            kind = type(value)
            if kind is int or value is None:
                return value
            if kind is float and math.isfinite(value):
                return value
            try:
                converted = _as_number(value)
            except _InvalidError:
                self._problem(path, value, "a number")
                return None
            self._report(f"{kind.__name__} converted to a number", path)
            return converted

        return check

    def _string_checker(self, path: str, fmt: str | None) -> Check:
        plain = {"date-time": plain_datetime, "date": plain_date}.get(fmt or "")
        fix = {"date-time": _as_datetime, "date": _as_date}.get(fmt or "")

        def check(value: t.Any) -> t.Any:
            if value is None:
                return None
            if type(value) is str:
                if plain is None or plain(value):
                    return value
                try:
                    fixed = fix(value)  # type: ignore[misc]
                except _InvalidError:
                    self._report(
                        f"text that is not a {fmt}: loaded as null, kept in {EXTRA_FIELDS}", path
                    )
                    self._keep(path, value)
                    return None
                self._report(_REWRITTEN[fmt], path)  # type: ignore[index]
                return fixed
            if plain is None:
                try:
                    converted = _as_text(value)
                except _InvalidError:
                    self._problem(path, value, "text")
                    return None
                self._report(f"{type(value).__name__} converted to text", path)
                return converted
            self._problem(path, value, f"a {fmt}")
            return None

        return check

    def _array_checker(self, node: dict, path: str, depth: int) -> Check:
        items = node.get("items")
        item_path = f"{path}[]"
        item_check = self._checker(items, item_path, depth + 1) if items else None
        keep_nulls = items is None or "null" in _types(items)
        untouched = self._untouched.get(item_check, frozenset()) if item_check else frozenset()
        if not keep_nulls:  # a null item is left out (and reported)
            untouched = untouched - {_NONE}

        def check(value: t.Any) -> t.Any:
            if value is None:
                return None
            if type(value) is not list:
                self._problem(path, value, "an array")
                return None
            if item_check is None:
                return value
            if untouched.issuperset(map(type, value)):  # every item as it is (the fast path)
                return list(value)
            cleaned = []
            for index, item in enumerate(value):
                before = len(self._extras) if self._extras is not None else 0
                cleaned.append(item_check(item))
                if self._extras is not None and len(self._extras) > before:
                    self._number(self._extras, before, item_path, f"{path}[{index}]")
            if keep_nulls:
                return cleaned
            present = [v for v in cleaned if v is not None]
            if len(present) != len(cleaned):
                self._report(f"array items that could not be read: kept in {EXTRA_FIELDS}", path)
            return present

        return check

    def _number(self, extras: dict[str, t.Any], since: int, item_path: str, indexed: str) -> None:
        """File the extras found inside one array item under its index (``psts[2].x``)."""
        for extra in list(extras)[since:]:
            value = extras.pop(extra)
            extras[self._free(indexed + extra[len(item_path) :])] = value

    def _object_checker(self, node: dict, path: str, depth: int) -> Check:
        props: dict[str, Check] = {}
        for name, child in (node.get("properties") or {}).items():
            props[name] = self._checker(child, f"{path}.{name}" if path else name, depth + 1)
        known = frozenset(props) - ({EXTRA_FIELDS} if depth == 0 else set())
        expand = depth > 0 and depth <= self._expand
        nulls = dict.fromkeys(props) if expand else None
        passes = {name: self._untouched[props[name]] for name in known}
        plain_texts = {name: self._plain_text.get(props[name]) for name in known}
        shapes: dict[tuple[str, ...], t.Callable[[dict], dict] | None] = {}

        def shape_of(value: dict) -> t.Callable[[dict], dict] | None:
            """The cleaner of ``value``'s shape; None when a field name is unknown."""
            names = tuple(value)
            try:
                return shapes[names]
            except KeyError:
                pass
            if len(shapes) >= self.most_shapes:
                return None  # a shape per record: the walk, not a compilation per record
            shape = None
            if known.issuperset(names):
                shape = _shape_cleaner(
                    names,
                    [props[name] for name in names],
                    [passes[name] for name in names],
                    [plain_texts[name] for name in names],
                )
            shapes[names] = shape
            return shape

        def check(value: t.Any) -> t.Any:
            if value is None:
                if nulls is not None:
                    return {name: props[name](None) for name in nulls}
                return None
            if type(value) is not dict:
                self._problem(path or "(record)", value, "an object")
                return None
            if self.most_shapes:
                shape = shapes.get(tuple(value), _UNSEEN)  # a known shape: no call to find it
                if shape is _UNSEEN:
                    shape = shape_of(value)
                if shape is not None:  # all fields known: check only those that do not pass
                    return shape(value)
            unknown = value.keys() - known
            if unknown:
                for name in value:  # in the order sent
                    if name in unknown:
                        where = f"{path}.{name}" if path else str(name)
                        shown = where if where.isprintable() else ascii(where)
                        self._report(f"unknown field: kept in {EXTRA_FIELDS}", shown)
                        self._keep(where, value[name])
            return {name: props[name](v) for name, v in value.items() if name in known}

        return check
