"""A round first page shorter than asked, naming nothing, under ``pagination: cursor`` (SIM-27).

A server that caps ``per_page`` (10 for 500) and pages by number names no cursor: under
``cursor`` no page is asked by number, so that first page used to end the list, exit 0, with
ACTIVATE_VERSION (simulation seed 13904: 10 of 19 users). It is probed now, one record fewer,
as a silent full page is: a server paging by cursor names the next one, and the list is read
to its end; one that does not fails the listing, exit 1, nothing activated.
"""

from __future__ import annotations

import pytest

from tests.cli import run_cli
from tests.hostile_server import Answer, HostileServer, Request, hostile_config, json_answer
from tests.hostile_server import users as make_users
from tests.singer_output import catalog_selecting

CONFIG = {"pagination": "cursor", "page_size": 500, "emit_activate_version_messages": True}


def _number_server_capped_at(cap: int, total: int):
    rows = make_users(range(1, total + 1))

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        size = min(int(request.query.get("per_page", "100")), cap)
        page = int(request.query.get("page", "1"))
        return json_answer(rows[(page - 1) * size : page * size])

    return handler


def _cursor_server(total: int):
    """Honours ``per_page``; ``X-Next-Cursor`` names the next page, none on the last."""
    rows = make_users(range(1, total + 1))

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        size = int(request.query.get("per_page", "100"))
        cursor = request.query.get("cursor", "true")
        start = 0 if cursor == "true" else int(cursor[1:])
        end = start + size
        if end < total:
            answer = json_answer(rows[start:end])
            answer.headers["X-Next-Cursor"] = f"c{end}"
            return answer
        return json_answer(rows[start:end])

    return handler


def test_a_number_server_capping_per_page_fails_the_listing_under_cursor(tmp_path):
    with HostileServer(_number_server_capped_at(10, 19)) as server:
        config = hostile_config(server, **CONFIG)
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    assert run.returncode == 1, run.stderr[-2000:]
    assert "names no next cursor the tap can read" in run.stderr
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)


@pytest.mark.parametrize(
    ("total", "requests"),
    [(10, 3), (9, 1)],
    ids=["round-list-probed", "other-size-ends-at-once"],
)
def test_a_cursor_server_is_read_whole_and_only_a_round_first_page_is_probed(
    tmp_path, total, requests
):
    """Exactly 10 users, the first page naming none: the probe (9) names a cursor, 3
    requests (the first page, the probe, the page its cursor names). 9 users: one request,
    the cost as before."""
    with HostileServer(_cursor_server(total)) as server:
        config = hostile_config(server, **CONFIG)
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
        asked = [r for r in server.requests if r.path == "/v1/users"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(r["id"] for r in run.records("users")) == list(range(1, total + 1))
    assert len(asked) == requests
