"""Regression tests for the ninth adversarial review (/work/notes/attack-9.md).

Each test is one finding (its number in the name). The property: what a hostile server sends
costs the tap no more than it must, loses nothing, and exit 0 only when every record was sent.
"""

from __future__ import annotations

import itertools
import json
import random
import typing as t
from urllib.parse import quote

import pytest

from tap_knowbe4 import records
from tap_knowbe4.payload import MOST_OBJECTS, objects_in
from tap_knowbe4.records import MOST_SHAPES, RecordCleaner
from tests.cli import run_cli
from tests.hostile_server import (
    Answer,
    HostileServer,
    Request,
    hostile_config,
    json_answer,
    users,
)
from tests.singer_output import catalog_selecting

#: A schema with a nested object: each object has its own remembered shapes.
SCHEMA = {
    "type": "object",
    "properties": {
        **{f"f{i}": {"type": ["string", "null"]} for i in range(8)},
        "id": {"type": ["integer"]},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "user": {
            "type": ["object", "null"],
            "properties": {f"u{i}": {"type": ["integer", "null"]} for i in range(8)},
        },
    },
}


def _shuffled_records(count: int) -> list[dict]:
    """Records whose field order (top level and nested) differs from one to the next."""
    rng = random.Random(9)
    out = []
    for n in range(count):
        user = {f"u{i}": i for i in range(8)}
        record = {"id": n, "when": "2026-01-01T00:00:00-05:00", "user": user}
        record.update({f"f{i}": "x" for i in range(8)})
        items = list(record.items())
        rng.shuffle(items)
        nested = list(user.items())
        rng.shuffle(nested)
        record = dict(items)
        record["user"] = dict(nested)
        out.append(record)
    return out


def test_1_a_shape_per_record_compiles_at_most_the_remembered_shapes(monkeypatch):
    """A server whose field order changes per record (or that omits null fields: a shape per
    subset) made the cleaner compile a function (an ``exec``) for every record once 64 shapes
    were remembered: 5,000 shuffled users took 11.1 s of CPU instead of 1.3 s (111 MB, 60 MB).
    Past the bound the field-by-field walk cleans them (what the docstring promised), the
    same result; nested objects too."""
    compiled = []
    real = records._shape_cleaner

    def counting(*args, **kwargs):
        compiled.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(records, "_shape_cleaner", counting)
    fast = RecordCleaner(SCHEMA, key_fields=("id",))
    walk = RecordCleaner(SCHEMA, key_fields=("id",), most_shapes=0)
    rows = _shuffled_records(400)
    assert [fast.clean(dict(r, user=dict(r["user"]))) for r in rows] == [
        walk.clean(dict(r, user=dict(r["user"]))) for r in rows
    ]
    assert len(compiled) <= 2 * MOST_SHAPES, len(compiled)  # root and nested object


@pytest.mark.parametrize("bound", [1, 3])
def test_1_the_bound_holds_for_any_bound(monkeypatch, bound):
    """The class: whatever ``most_shapes`` is, no more shapes than it are compiled per object."""
    compiled = []
    real = records._shape_cleaner
    monkeypatch.setattr(records, "_shape_cleaner", lambda *a: compiled.append(a[0]) or real(*a))
    cleaner = RecordCleaner(SCHEMA, key_fields=("id",), most_shapes=bound)
    names = [f"f{i}" for i in range(4)]
    for order in itertools.permutations(names):
        assert cleaner.clean({"id": 1, **dict.fromkeys(order, "x")}) is not None
    assert len(compiled) <= bound


#: Text that holds braces: more than MOST_OBJECTS in one value, or spread over a page.
BRACED_TEXT = {
    "one-comment": lambda n: ["{" * (MOST_OBJECTS + 1)] + [None] * (n - 1),
    "spread-over-the-page": lambda n: ["{}" * (MOST_OBJECTS // n + 1)] * n,
    "json-in-text": lambda n: ['{"a": {"b": 1}}' * (MOST_OBJECTS // (2 * n) + 1)] * n,
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(BRACED_TEXT), ids=list(BRACED_TEXT))
def test_2_braces_inside_text_are_no_objects(tmp_path, kind):
    """The guard against a body of millions of objects counted every ``{``, those inside
    text too: a user whose comment held 100,001 braces (or a page whose custom fields hold
    JSON or CSS) made every page of users 'more than 100,000 objects', retried, exit 1, every
    run: the list could never be read. Only objects outside strings count now."""
    comments = BRACED_TEXT[kind](50)
    rows = [
        {"id": i, "email": f"u{i}@example.com", "status": "active", "comment": comments[i - 1]}
        for i in range(1, 51)
    ]

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users" or request.query.get("page", "1") != "1":
            return json_answer([])
        return json_answer(rows)

    with HostileServer(handler) as server:
        config = hostile_config(server, page_size=100, pagination="page")
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    assert run.returncode == 0, run.stderr[-2000:]
    got = {r["id"]: r["comment"] for r in run.records("users")}
    assert got == {r["id"]: r["comment"] for r in rows}


@pytest.mark.parametrize(
    ("body", "objects"),
    [
        (b'[{"a": "{{{"}, {}]', 2),
        (b'["{\\"{", "\\\\", "{"]', 0),  # escaped quotes and backslashes inside text
        (b'[{"a": "x\\', 1),  # unterminated text: counted up to the end
        (b"[" + b",".join([b"{}"] * 5) + b"]", 5),
    ],
)
def test_2_objects_are_counted_outside_text(body, objects):
    """The count the guard refuses on: ``{`` outside JSON strings, escapes read."""
    assert objects_in(body) == objects


def test_2_a_body_of_many_escapes_is_counted_in_one_pass():
    """An unterminated string of escaped quotes is read once (no rescan from every quote):
    the count of 4 MB of them returns (a quadratic scan would not, in any test's time)."""
    assert objects_in(b'["' + b'\\"' * 2_000_000) == 0


#: Next cursors the tap cannot send back or keep: a space, a letter outside ASCII, too long.
UNSENDABLE = {
    "space": "2026-01-01 10:00:00|2",
    "non-ascii": "curs\u00e9r-2",
    "too-long": "c" * 5000,
}


def _named_by(style: str, cursor: str | None, rows: list[dict]) -> Answer:
    if style == "envelope":
        return json_answer({"data": rows, "pagination": {"next_cursor": cursor}})
    if style == "header":
        return Answer(200, json.dumps(rows), {"X-Next-Cursor": cursor or ""})
    link = {"Link": f'</v1/users?cursor={quote(cursor)}>; rel="next"'} if cursor else {}
    return Answer(200, json.dumps(rows), link)


@pytest.mark.slow
@pytest.mark.parametrize("style", ["envelope", "header", "link"])
@pytest.mark.parametrize("kind", list(UNSENDABLE))
def test_3_a_cursor_the_tap_cannot_send_leaves_page_numbers(tmp_path, kind, style):
    """A server paging by number that also names a next cursor the tap cannot send back (a
    space, a letter outside ASCII, over 4,096 characters) had its every page refused ('the
    next cursor is not printable text'), retried, exit 1 every run, under ``pagination:
    page`` too (the documented way out). Such a cursor says only that more follows: by page
    number every user is read; under ``cursor`` the run fails in one line naming why."""
    rows = users(range(1, 6))

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        page = int(request.query.get("page", "1"))
        more = UNSENDABLE[kind] if page * 2 < len(rows) else None
        return _named_by(style, more, rows[(page - 1) * 2 : page * 2])

    for mode in ("page", "auto", "cursor"):
        with HostileServer(handler) as server:
            config = hostile_config(server, page_size=2, pagination=mode)
            run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
        if mode == "cursor":
            line = run.assert_one_clear_line(code=1)
            assert "names no cursor the tap can send" in line, line
            continue
        assert run.returncode == 0, (mode, run.stderr[-2000:])
        assert [r["id"] for r in run.records("users")] == list(range(1, 6)), mode


@pytest.mark.slow
@pytest.mark.parametrize("member", ["pagination", "_metadata", "meta", "links", "paging"])
def test_4_an_empty_array_for_an_envelope_paging_part_says_nothing(tmp_path, member):
    """A server encoding an empty paging part as ``[]`` (PHP's empty array) had every page
    refused ('the envelope's meta is an array'), exit 1 every run, under ``page`` too. An
    empty array says nothing: the list is read by page number. A non-empty one (a list of
    links may hide the next page) is still refused in one line."""
    rows = users(range(1, 6))

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        page = int(request.query.get("page", "1"))
        return json_answer({"data": rows[(page - 1) * 2 : page * 2], member: []})

    with HostileServer(handler) as server:
        run = run_cli(
            tmp_path,
            hostile_config(server, page_size=2, pagination="page"),
            catalog=catalog_selecting(["users"]),
        )
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records("users")] == list(range(1, 6))


#: Where a cursor server names the next cursor (and an explicit end: ``""``).
STYLES = ("header", "envelope", "link")


def _cursor_answer(style: str, rows: list[dict], cursor: str | None, url: str) -> Answer:
    """``rows`` with the next ``cursor`` named in ``style`` (None: named nowhere)."""
    headers = {"Content-Type": "application/json"}
    if style == "envelope":
        meta = {} if cursor is None else {"next_cursor": cursor or None}
        return Answer(200, json.dumps({"data": rows, "meta": meta}), headers)
    if style == "header" and cursor is not None:
        headers["X-Next-Cursor"] = cursor
    if style == "link" and cursor:
        headers["Link"] = f'<{url}/v1/users?cursor={cursor}>; rel="next"'
    return Answer(200, json.dumps(rows), headers)


def _cursor_users(
    server_url: list[str],
    total: int,
    size: int,
    silent: t.Callable[[int], bool],
    style: str,
    cap: int | None = None,
) -> t.Callable[[Request], Answer]:
    """A cursor server of ``total`` users in pages of ``size`` (cursors ``c<offset>``),
    silent on the page at offset ``n`` while ``silent(n)`` says so; ``cap``: at most that
    many a page whatever ``per_page`` asks (the server's own page size)."""
    rows = users(range(1, total + 1))

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        cursor = request.query.get("cursor", "true")
        asked = int(request.query.get("per_page", size))
        asked = asked if cap is None else min(asked, cap)
        start = 0 if cursor == "true" else int(cursor[1:])
        page = rows[start : start + asked]
        after = start + asked
        more = f"c{after}" if after < total else ""
        if silent(start):
            return _cursor_answer(style, page, None, server_url[0])
        return _cursor_answer(style, page, more, server_url[0])

    return handler


def _once(start: int) -> t.Callable[[int], bool]:
    """Silent on the page starting at ``start``, the first time only."""
    done: list[int] = []

    def silent(at: int) -> bool:
        if at == start and not done:
            done.append(at)
            return True
        return False

    return silent


def _read_six_users(
    tmp_path, silent: t.Callable[[int], bool], style: str, mode: str
) -> tuple[t.Any, list[Request]]:
    """Read 6 users in pages of 2 from :func:`_cursor_users`: the run, the users requests."""
    url: list[str] = []
    handler = _cursor_users(url, 6, 2, silent, style)
    with HostileServer(handler) as server:
        url.append(server.url)
        config = hostile_config(
            server, page_size=2, pagination=mode, emit_activate_version_messages=True
        )
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
        return run, [r for r in server.requests if r.path == "/v1/users"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cursor", "auto"])
@pytest.mark.parametrize("style", STYLES)
def test_5_a_cursor_forgotten_on_one_full_page_loses_no_row(tmp_path, style, mode):
    """A cursor list of 6 users in pages of 2 whose second (full) page comes without its next
    cursor once (a proxy stripping ``X-Next-Cursor``, a server's slip): the tap ended the list
    there, sent users 1-4, exited 0 and activated the version, so a version-aware target
    deleted 5 and 6. A full page at a cursor naming none is asked again: all 6, exit 0."""
    run, asked = _read_six_users(tmp_path, _once(2), style, mode)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == list(range(1, 7))
    assert any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)
    # true, c2 (silent), c2 again, c4 (and c4 again where no end is ever said: Link)
    assert len(asked) == (5 if style == "link" else 4)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cursor", "auto"])
@pytest.mark.parametrize("style", STYLES)
def test_5_a_first_page_whose_cursor_was_forgotten_loses_no_row(tmp_path, style, mode):
    """Sibling: the first (full) page without its cursor once. In ``cursor`` mode the probe
    (the first request with ``per_page`` one lower) named a next cursor, which was taken to
    mean the full page was the whole list: 2 of 6 users, exit 0. The probe's cursor is
    followed now (``auto`` asks page 2 by number first: this server ignores ``page``)."""
    run, _ = _read_six_users(tmp_path, _once(0), style, mode)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == list(range(1, 7))


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES)
def test_5_a_full_last_page_silent_twice_ends_the_list(tmp_path, style):
    """A list exactly 3 pages long whose last page names nothing (this server's end): asked
    twice, it ends the list, one request more than the pages."""
    run, asked = _read_six_users(tmp_path, lambda at: at == 4, style, "cursor")
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == list(range(1, 7))
    assert any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)
    assert len(asked) == 4  # true, c2, c4, c4 again


@pytest.mark.slow
@pytest.mark.parametrize("empty", [False, True], ids=["other-records", "none"])
def test_5_a_silent_page_that_changes_when_asked_again_fails_the_list(tmp_path, empty):
    """A full page at a cursor naming none that holds other records (or none) when asked
    again proves nothing about the end: the stream fails, nothing activated, exit 1."""
    rows = users(range(1, 9))
    asked: list[str] = []

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        cursor = request.query.get("cursor", "true")
        asked.append(cursor)
        if cursor == "true":
            return Answer(200, json.dumps(rows[:2]), {"X-Next-Cursor": "c2"})
        if asked.count(cursor) == 1:
            return json_answer(rows[2:4])  # silent
        return json_answer([] if empty else rows[4:6])  # silent, and different

    with HostileServer(handler) as server:
        config = hostile_config(
            server, page_size=2, pagination="cursor", emit_activate_version_messages=True
        )
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    assert run.returncode == 1, run.stderr[-2000:]
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)
    assert "asked again at the same cursor" in run.stderr
