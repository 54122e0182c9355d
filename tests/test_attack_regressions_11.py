"""Regression tests for the eleventh adversarial review (/work/notes/attack-11.md).

Each test is one finding (its number in the name). The property: a cursor server's answers
cost the tap no more than they must, lose nothing, and exit 0 only when every record was sent.
"""

from __future__ import annotations

import json
import time
import typing as t

import pytest

from tests.cli import run_cli
from tests.hostile_server import Answer, HostileServer, Request, hostile_config, json_answer
from tests.hostile_server import users as make_users
from tests.singer_output import catalog_selecting
from tests.test_attack_regressions_9 import STYLES, _cursor_answer


def _capped_cursor_users(
    url: list[str], total: int, cap: int, silent: t.Callable[[int], bool], style: str
) -> t.Callable[[Request], Answer]:
    """A cursor server of ``total`` users answering at most ``cap`` a page whatever
    ``per_page`` asks (cursors ``c<offset>``), silent on the page at offset ``n`` while
    ``silent(n)`` says so."""
    rows = make_users(range(1, total + 1))

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        cursor = request.query.get("cursor", "true")
        asked = min(int(request.query.get("per_page", cap)), cap)
        start = 0 if cursor == "true" else int(cursor[1:])
        page = rows[start : start + asked]
        after = start + asked
        more = f"c{after}" if after < total else ""
        if silent(start):
            return _cursor_answer(style, page, None, url[0])
        return _cursor_answer(style, page, more, url[0])

    return handler


def _once(start: int) -> t.Callable[[int], bool]:
    done: list[int] = []

    def silent(at: int) -> bool:
        if at == start and not done:
            done.append(at)
            return True
        return False

    return silent


def _read(tmp_path, handler_of, mode, page_size):
    url: list[str] = []
    handler = handler_of(url)
    with HostileServer(handler) as server:
        url.append(server.url)
        config = hostile_config(
            server, page_size=page_size, pagination=mode, emit_activate_version_messages=True
        )
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
        return run, [r for r in server.requests if r.path == "/v1/users"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cursor", "auto"])
@pytest.mark.parametrize("style", STYLES)
def test_1_a_cursor_forgotten_on_a_page_full_at_the_servers_size_loses_no_row(
    tmp_path, style, mode
):
    """A cursor server paging at a size of its own below ``per_page`` (3 for 5: a cap, the
    events API's 100 for 500) whose second page (full at its size) comes without its next
    cursor once: that page was 'short' against the size asked, so the list ended there,
    users 1-6 of 9, exit 0 and ACTIVATE_VERSION (a version-aware target deleted 7-9). A page
    as large as the largest page that named a next cursor is full: asked again, all 9."""
    run, asked = _read(
        tmp_path, lambda url: _capped_cursor_users(url, 9, 3, _once(3), style), mode, 5
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == list(range(1, 10))
    assert any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)
    # true, c3 (silent), c3 again, c6 (and c6 again where no end is ever said: Link)
    assert len(asked) == (5 if style == "link" else 4), [r.raw_query for r in asked]


@pytest.mark.slow
@pytest.mark.parametrize(("total", "requests"), [(9, 4), (8, 3)], ids=["full", "short"])
def test_1_a_last_page_at_the_servers_size_is_asked_twice_a_short_one_once(
    tmp_path, total, requests
):
    """The control, and the cost: a last page as large as the server's pages that names
    nothing (its end, forever) is asked once more and ends the list; a shorter one ends it
    at once."""
    run, asked = _read(
        tmp_path,
        lambda url: _capped_cursor_users(url, total, 3, lambda at: at == 6, "header"),
        "cursor",
        5,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == list(range(1, total + 1))
    assert len(asked) == requests, [r.raw_query for r in asked]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cursor", "auto"])
def test_2_the_same_page_under_a_new_cursor_each_time_fails_at_once(tmp_path, mode):
    """A server answering its first page again and again, each time under a new next cursor
    (opaque, time-based: no cursor ever repeats), at a size of its own below ``per_page``:
    the pages were never 'full', so a page of records all sent before did not stop the list:
    every request up to max_requests_per_run (40), exit 0 'the next run continues', and the
    next run went on from the cursor kept, for ever. It fails at the first such page now."""
    rows = make_users(range(1, 10))
    asked: list[str] = []

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        asked.append(request.raw_query)
        return Answer(200, json.dumps(rows[:3]), {"X-Next-Cursor": f"t{time.time_ns()}"})

    with HostileServer(handler) as server:
        config = hostile_config(
            server,
            page_size=5,
            pagination=mode,
            max_requests_per_run=40,
            emit_activate_version_messages=True,
        )
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    line = run.assert_one_clear_line(code=1)
    assert "all sent before" in line, line
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)
    assert len(asked) == 2, asked
