"""Regression tests for the seventh adversarial review: what an answer says about the next page.

Each test is one finding (its number in the name and in /work/notes/attack-7.md), driven
through the tap's command line (``tests.cli.run_cli``) over real HTTP against
:mod:`tests.hostile_server`. A list of seven users, two a page; the property: exit 0 only
when every user was sent, and ACTIVATE_VERSION only after all of them.
"""

from __future__ import annotations

import json
import typing as t

import pytest

from tests.cli import run_cli
from tests.hostile_server import Answer, HostileServer, Request, hostile_config, json_answer, users
from tests.singer_output import catalog_selecting

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

USERS = catalog_selecting(["users"])
IDS = list(range(1, 8))


def _cursor_list(answer: t.Callable[[list[int], str], Answer]) -> t.Callable[[Request], Answer]:
    """``/v1/users`` paged by cursors only (``page`` ignored): ``answer(ids, next_cursor)``."""

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        cursor = request.query.get("cursor", "true")
        start = 0 if cursor == "true" else int(cursor)
        after = str(start + 2) if start + 2 < len(IDS) else ""
        return answer(IDS[start : start + 2], after)

    return handler


def _assert_honest(handler: t.Callable[[Request], Answer], tmp_path: t.Any) -> None:
    with HostileServer(handler) as server:
        config = hostile_config(server, emit_activate_version_messages=True)
        run = run_cli(tmp_path, config, catalog=USERS)
    sent = {r["id"] for r in run.records("users")}
    activated = any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)
    if run.returncode == 0 or activated:
        assert sent == set(IDS), (
            f"exit {run.returncode}, ACTIVATE_VERSION {activated}, users "
            f"{sorted(set(IDS) - sent)} never sent: {run.stderr[-1500:]}"
        )
    else:
        run.assert_one_clear_line()


# -- 1: an end marker beside "more follow" in the same envelope ----------------------------


@pytest.mark.parametrize(
    "envelope",
    [
        lambda rows, after: {"data": rows, "next_cursor": after or None, "has_more": bool(after)},
        lambda rows, after: {"data": rows, "meta": {"next_cursor": after, "has_more": bool(after)}},
    ],
    ids=["null-cursor-has-more", "meta-empty-cursor-has-more"],
)
def test_1_has_more_true_beside_an_end_marker_is_no_end(tmp_path, envelope):
    """The page at cursor 2 names no cursor (null, or "") and says ``has_more: true``: the end
    marker won, users 5-7 were never sent, exit 0 and ACTIVATE_VERSION (a version-aware
    target deleted them). More records and nothing to ask for fails the listing."""

    def answer(ids: list[int], after: str) -> Answer:
        named = "" if ids[0] == 3 else after  # the contradiction, on the second page
        body = envelope(users(ids), named)
        if ids[0] == 3:
            body.get("meta", body)["has_more"] = True
        return json_answer(body)

    _assert_honest(_cursor_list(answer), tmp_path)


# -- 3: a cursor named in one place, "no next page" in another -----------------------------


@pytest.mark.parametrize(
    "where",
    ["x-next-cursor", "link"],
)
def test_3_a_page_era_member_saying_no_next_page_does_not_hide_a_header_cursor(tmp_path, where):
    """A cursor-only server keeps ``meta.next_page: null`` in its envelope and names the next
    cursor in a header: the envelope's end won, page 2 by number repeated page 1 and was
    taken as the end: 2 of 7 users, exit 0, ACTIVATE_VERSION."""

    def answer(ids: list[int], after: str) -> Answer:
        headers = {"X-Next-Cursor": after} if where == "x-next-cursor" else {}
        if where == "link" and after:
            headers["Link"] = f'<http://example.invalid/v1/users?cursor={after}>; rel="next"'
        body = {"data": users(ids), "meta": {"next_page": None, "total": len(IDS)}}
        return Answer(200, json.dumps(body), headers)

    _assert_honest(_cursor_list(answer), tmp_path)


def test_3_an_empty_x_next_cursor_does_not_hide_a_next_link(tmp_path):
    """A proxy adds an empty ``X-Next-Cursor`` to every answer (the README names such a
    proxy); the server names its next cursor in ``Link: rel="next"``: the empty header won:
    2 of 7 users, exit 0, ACTIVATE_VERSION."""

    def answer(ids: list[int], after: str) -> Answer:
        headers = {"X-Next-Cursor": ""}
        if after:
            headers["Link"] = f'<http://example.invalid/v1/users?cursor={after}>; rel="next"'
        return Answer(200, json.dumps(users(ids)), headers)

    _assert_honest(_cursor_list(answer), tmp_path)
