"""Which test modules a ``-m`` expression cannot select, read from their source, not imported.

``make test-fast`` (``-m "not integration and not slow"``) deselects whole modules marked
``integration`` or ``slow`` by their ``pytestmark``; importing them anyway costs every xdist
worker a second of CPU (DuckDB, psycopg, YAML, Meltano helpers, ...). A module is left
uncollected only when its module-level ``pytestmark`` alone makes the expression false, whatever
marks its tests add (every combination of the expression's other names is tried), so no test the
expression selects is ever lost; anything this module cannot decide is collected as usual.
"""

from __future__ import annotations

import ast
import functools
import itertools
import keyword
import re
import typing as t

if t.TYPE_CHECKING:
    from pathlib import Path

#: The words of pytest's mark expressions that are not mark names.
_OPERATORS = {"and", "or", "not"}
#: Beyond this many other names the combinations are not tried (the module is collected).
_MOST_OTHER_NAMES = 6


def _statements_naming_pytestmark(source: bytes) -> list[ast.stmt] | None:
    """The top-level statements on the lines that start (at column 0) with text naming
    ``pytestmark``, each parsed alone; None when that cannot be told for sure.

    A line is taken for a top-level statement only when all the text before it parses as
    a module (so the line is not inside a string, brackets or a continued line); then its
    statement is the fewest lines from it that parse. Parsing the imports above the
    ``pytestmark`` line and the line itself costs each pytest worker a tenth of parsing
    every marked module whole (49 modules, 10,600 lines: 0.2 s of CPU). None (parse the
    whole module) on anything else: a prefix that does not parse, an encoding, no end.
    """
    try:
        lines = source.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None
    statements: list[ast.stmt] = []
    for start, line in enumerate(lines):
        if "pytestmark" not in line or line[:1].isspace():
            continue
        try:
            ast.parse("".join(lines[:start]))
        except SyntaxError:
            return None
        for end in range(start + 1, len(lines) + 1):
            try:
                statements += ast.parse("".join(lines[start:end])).body
                break
            except SyntaxError:
                continue
        else:
            return None
    return statements


def module_marks(path: Path) -> frozenset[str]:
    """The names of the marks a module's top-level ``pytestmark`` gives all its tests."""
    try:
        source = path.read_bytes()
        if b"pytestmark" not in source:  # half the modules: no marks, nothing to parse
            return frozenset()
        body = _statements_naming_pytestmark(source)
        if body is None:
            body = ast.parse(source, filename=str(path)).body
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not any(isinstance(x, ast.Name) and x.id == "pytestmark" for x in targets):
            continue
        for part in ast.walk(value):
            if (
                isinstance(part, ast.Attribute)
                and isinstance(part.value, ast.Attribute)
                and part.value.attr == "mark"
                and isinstance(part.value.value, ast.Name)
                and part.value.value.id == "pytest"
            ):
                names.add(part.attr)
    return frozenset(names)


@functools.cache
def _names(expression: str) -> tuple[str, ...] | None:
    """The mark names in ``expression``, or None when it is more than names and operators."""
    words = re.findall(r"[^\s()]+", expression)
    if not words or any(
        not w.isidentifier() or (keyword.iskeyword(w) and w not in _OPERATORS) for w in words
    ):
        return None
    return tuple(sorted({w for w in words if w not in _OPERATORS}))


def may_select(expression: str, marks: frozenset[str]) -> bool:
    """False only when ``expression`` is false for every test carrying ``marks``."""
    names = _names(expression)
    if names is None:
        return True
    others = [n for n in names if n not in marks]
    if len(others) > _MOST_OTHER_NAMES:
        return True
    try:
        code = compile(expression, "<-m>", "eval")
    except SyntaxError:
        return True
    for values in itertools.product((False, True), repeat=len(others)):
        scope = {n: n in marks for n in names} | dict(zip(others, values, strict=True))
        if eval(code, {"__builtins__": {}}, scope):  # noqa: S307 - names and and/or/not only
            return True
    return False
