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
from tests.test_attack_regressions_9 import STYLES, _cursor_answer, _cursor_users, _once
from tests.test_attack_regressions_10 import RAN


def _capped_cursor_users(
    url: list[str], total: int, cap: int, silent: t.Callable[[int], bool], style: str
) -> t.Callable[[Request], Answer]:
    """A cursor server of ``total`` users answering at most ``cap`` a page whatever
    ``per_page`` asks (attack 9's server, capped)."""
    return _cursor_users(url, total, cap, silent, style, cap=cap)


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


def _counting_cursor_users(
    total: int, size: int, decide: t.Callable[[int, int, list[dict], str], Answer]
) -> t.Callable[[Request], Answer]:
    """A cursor server of ``total`` users in pages of ``size`` whatever ``per_page`` or
    ``page`` ask (cursors ``c<offset>``; no cursor is the first page): ``decide(asked, start,
    page, next)`` answers, ``asked`` counting the requests for that cursor."""
    rows = make_users(range(1, total + 1))
    asked: dict[str, int] = {}

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        cursor = request.query.get("cursor", "true")
        asked[cursor] = asked.get(cursor, 0) + 1
        start = 0 if cursor == "true" else int(cursor[1:])
        after = start + size
        return decide(asked[cursor], start, rows[start:after], f"c{after}" if after < total else "")

    return handler


def _header(rows: list[dict], cursor: str | None) -> Answer:
    return _cursor_answer("header", rows, cursor, "")


@pytest.mark.slow
def test_3_a_cursor_named_again_by_the_probe_is_no_circle(tmp_path):
    """``auto`` against a cursor server that ignores ``page`` and ``per_page`` and drops the
    first page's cursor once: page 2 by number (the first page again) names ``c3``, unfollowed
    (its records were all sent), and the probe names ``c3`` too. Taken for 'cursors in a
    circle': exit 1, 3 of 9 users. Only a cursor the listing asked with makes a circle."""
    handler = _counting_cursor_users(
        9, 3, lambda n, start, rows, more: _header(rows, None if (start, n) == (0, 1) else more)
    )
    run, _ = _read(tmp_path, lambda url: handler, "auto", 3)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == list(range(1, 10))
    assert any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)


@pytest.mark.slow
def test_3_a_page_naming_the_cursor_it_was_asked_with_is_still_a_circle(tmp_path):
    """The control: a page asked again that names its own cursor fails the listing."""
    handler = _counting_cursor_users(
        9,
        3,
        lambda n, start, rows, more: _header(
            rows, more if start != 3 else (None if n == 1 else "c3")
        ),
    )
    run, _ = _read(tmp_path, lambda url: handler, "cursor", 3)
    line = run.assert_one_clear_line(code=1)
    assert "circle" in line, line
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)


@pytest.mark.slow
def test_4_a_full_last_page_asked_again_in_another_order_ends_the_list(tmp_path):
    """A list exactly 3 pages long whose last page names nothing and comes in another order
    when asked again (a server whose rows within a page are unordered): 'other records naming
    none', exit 1, nothing activated, every run. The same records are the same page."""
    handler = _counting_cursor_users(
        9,
        3,
        lambda n, start, rows, more: _header(
            rows if start != 6 else (rows if n % 2 else rows[::-1]), more if start != 6 else None
        ),
    )
    run, asked = _read(tmp_path, lambda url: handler, "cursor", 3)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == list(range(1, 10))
    assert any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)
    assert len(asked) == 4


@pytest.mark.slow
def test_1_the_probes_smaller_page_says_nothing_of_the_servers_size(tmp_path):
    """Found by test_paging_properties after #1 landed: a list exactly one page long on a
    server that ignores ``page`` and never says its end; the probe (one record fewer) named a
    cursor, and its page of 1 was taken for the server's page size, so the followed page (the
    last record, sent before) was 'full' and 'all sent before': exit 1. The probe's page
    counts for no server size: the list ends, every record read."""
    rows = make_users(range(1, 3))

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        cursor = request.query.get("cursor", "true")
        start = 0 if cursor == "true" else int(cursor[1:])
        end = start + int(request.query["per_page"])
        return _header(rows[start:end], f"t{end}" if end < len(rows) else None)

    run, asked = _read(tmp_path, lambda url: handler, "auto", 2)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == [1, 2]
    assert len(asked) == 4, [r.raw_query for r in asked]  # true, page 2, the probe, t1


RECIPIENTS = "phishing_security_test_recipients"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("counters", "settled"),
    [
        ({"scheduled_count": 2, "delivered_count": 2}, False),
        ({"scheduled_count": 0, "delivered_count": 0, "opened_count": 0}, True),
    ],
    ids=["sent-to-two", "sent-to-none"],
)
def test_5_a_test_listed_with_no_recipient_is_not_settled_when_it_was_sent(
    tmp_path, counters, settled
):
    """A closed phishing test older than ``pst_lookback_days`` whose recipients answered
    ``[]`` with 200 once (a proxy, an API's slip, the class of attack 10 #5) though its
    counters say it was sent to 2: settled by that empty read, its recipients were never
    requested again, in any run, exit 0 (0 of 2 loaded). Such a test is not settled now (one
    summary line) and the next run reads its 2 recipients; a test sent to nobody still settles
    (the control: no request in the second run)."""
    test = {
        **RAN,
        **counters,
        "pst_id": 1,
        "started_at": "2025-01-06T14:00:00.000Z",
    }
    empty = [True]

    def handler(request: Request) -> Answer:
        if request.path == "/v1/account":
            return json_answer({"name": "Acme", "number_of_seats": 5})
        if request.path == "/v1/phishing/security_tests":
            first = request.query.get("page", "1") == "1" and "cursor" not in request.query
            return json_answer([test] if first else [])
        if request.path.endswith("/recipients") and not empty[0]:
            rows = [{"recipient_id": 10 + n, "pst_id": 1, "user": {"id": n}} for n in (1, 2)]
            return json_answer(rows if request.query.get("page", "1") == "1" else [])
        return json_answer([])

    catalog = catalog_selecting(["phishing_security_tests", RECIPIENTS])
    with HostileServer(handler) as server:
        config = hostile_config(server, page_size=500)
        (tmp_path / "1").mkdir()
        (tmp_path / "2").mkdir()
        first = run_cli(tmp_path / "1", config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-2000:]
        empty[0] = False
        before = len(server.requests)
        second = run_cli(tmp_path / "2", config, catalog=catalog, state=first.final_state)
        asked = [r.path for r in server.requests[before:] if r.path.endswith("/recipients")]
    assert second.returncode == 0, second.stderr[-2000:]
    if settled:
        assert not asked
    else:
        assert "listed no recipient: not settled" in first.stderr
        assert sorted(r["recipient_id"] for r in second.records(RECIPIENTS)) == [11, 12]


def _more_flag_users(dropped: t.Callable[[int, int], bool]) -> t.Callable[[Request], Answer]:
    """9 users in pages of 3: ``{data, has_more}`` in the body, the next cursor in
    ``X-Next-Cursor``, dropped while ``dropped(start, asked)`` says so."""

    def decide(asked: int, start: int, page: list[dict], following: str) -> Answer:
        headers = {"X-Next-Cursor": following} if following and not dropped(start, asked) else {}
        return Answer(200, json.dumps({"data": page, "has_more": bool(following)}), headers)

    return _counting_cursor_users(9, 3, decide)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cursor", "auto"])
def test_6_has_more_without_its_cursor_once_is_asked_again(tmp_path, mode):
    """A cursor server saying ``has_more: true`` in the body and the next cursor in
    ``X-Next-Cursor``, the header stripped once on page 2 (a proxy): 'says more records
    follow but names no cursor', exit 1, 6 of 9 users. At a cursor that is asked again."""
    handler = _more_flag_users(lambda start, asked: (start, asked) == (3, 1))
    run, asked = _read(tmp_path, lambda url: handler, mode, 3)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted({r["id"] for r in run.records("users")}) == list(range(1, 10))
    assert len(asked) == 4, [r.raw_query for r in asked]  # true, c3, c3 again, c6


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cursor", "auto"])
def test_6_has_more_never_naming_a_cursor_still_fails(tmp_path, mode):
    """The control: asked again, still more and no cursor: the listing fails, one request
    more, nothing activated."""
    handler = _more_flag_users(lambda start, asked: start == 3)
    run, asked = _read(tmp_path, lambda url: handler, mode, 3)
    line = run.assert_one_clear_line(code=1)
    assert "names no cursor the tap can send" in line, line
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)
    assert len(asked) == 3, [r.raw_query for r in asked]  # true, c3, c3 again
