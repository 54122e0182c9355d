"""``--plan`` prices an empty child listing as the run reads it (left by session 8's note).

Under ``pagination: auto`` the paginator checks an empty answer to ``cursor=true`` with page 1
by number until a listing of the endpoint has answered ``cursor=true`` with records (attack
8 #1): an empty child listing before any with records costs two requests, not one. The plan
said one, so a cap chosen from it could stop a run one request short.
"""

from __future__ import annotations

import re

import pytest

from tests.cli import run_cli
from tests.hostile_server import HostileServer, Request, hostile_config, json_answer
from tests.singer_output import catalog_selecting

pytestmark = pytest.mark.slow  # two tap runs per case: `make test`

STREAMS = ["groups", "group_members"]


def _server(order: list[int]):
    """Groups in ``order``: group 1 has no members, group 2 has one."""
    groups = {1: {"id": 1, "name": "empty", "member_count": 0}, 2: {"id": 2, "name": "one"}}
    groups[2]["member_count"] = 1

    def handler(request: Request):
        first = (
            request.query.get("cursor") in (None, "true") and request.query.get("page", "1") == "1"
        )
        if request.path == "/v1/groups":
            return json_answer([groups[n] for n in order] if first else [])
        if request.path == "/v1/groups/2/members" and first:
            return json_answer([{"id": 7}])
        return json_answer([])

    return handler


def _total(plan_text: str) -> int:
    found = re.search(r"^total\s+(\d+)", plan_text, flags=re.MULTILINE)
    assert found, plan_text
    return int(found.group(1))


@pytest.mark.parametrize(
    ("order", "requests"),
    [([1, 2], 4), ([2, 1], 3)],
    ids=["empty-first", "empty-after-one-with-records"],
)
def test_the_plan_prices_an_empty_child_listing_as_the_run_reads_it(tmp_path, order, requests):
    catalog = catalog_selecting(STREAMS)
    ran = []
    for args in (("--plan",), ()):  # a server each: its requests are counted once it stopped
        with HostileServer(_server(order)) as server:
            config = hostile_config(server, page_size=50, group_members_source="endpoint")
            ran.append(run_cli(tmp_path, config, *args, catalog=catalog))
        ran.append(len(server.requests))
    plan, _, run, sent = ran
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert run.returncode == 0, run.stderr[-2000:]
    assert sent == requests  # groups; group 1's members (cursor=true, then page 1); group 2's
    assert _total(plan.stdout) == sent, plan.stdout
