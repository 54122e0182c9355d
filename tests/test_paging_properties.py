"""Property-based: whatever the paging and envelope, every list is read whole or fails loudly.

Hypothesis builds a loopback server holding a list of users and draws how it pages:

* page numbers honoured or ignored (a cursor-only API);
* ``per_page`` honoured, capped below what was asked (by a server that names cursors), or
  ignored in favour of pages larger than asked, or every paging parameter ignored;
* where the next cursor is named: nowhere, ``X-Next-Cursor``, ``Link: rel="next"``, or an
  envelope of one of several shapes (records under ``data``, ``items`` or ``results``; the
  cursor under ``pagination.next_cursor``, ``_metadata.next_cursor``, ``meta.next_cursor``,
  ``next_cursor``, ``nextPageToken``, ``links.next`` as a link, ``paging.next.cursor``), or
  somewhere no client could guess;
* whether cursors need ``cursor=`` to start, and how the last page ends: no cursor, an empty
  header, a null, ``has_more: false``, or nothing at all.

Whatever was drawn, the run ends either with **exit 0 and every record** (each once), or with
an error naming the endpoint; it never loops (requests stay within a few of the pages), and
servers that can be read (page numbers honoured, or a cursor in a place the tap knows) are
read whole.
"""

from __future__ import annotations

import json
import math
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile_server import Answer, HostileServer, hostile_config, users
from tests.singer_output import check_singer, run_tap

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

KNOWN_PLACES = (
    ("pagination", "next_cursor"),
    ("_metadata", "next_cursor"),
    ("meta", "next_cursor"),
    ("next_cursor",),
    ("nextPageToken",),
    ("links", "next"),  # a link: the tap takes its cursor parameter
    ("paging", "next", "cursor"),
)


@st.composite
def servers(draw):
    speaks = draw(st.sampled_from(["none", "header", "link", "envelope", "unreadable"]))
    server = {
        "rows": draw(st.integers(0, 13)),
        "page_size": draw(st.integers(2, 5)),
        "tap_mode": draw(st.sampled_from(["auto", "auto", "cursor"])),
        "honours_page": draw(st.booleans()),
        "speaks": speaks,
        "needs_param": draw(st.booleans()),
        "records_member": draw(st.sampled_from(["data", "items", "results"])),
        "place": draw(st.sampled_from(KNOWN_PLACES)),
        "last": draw(st.sampled_from(["absent", "empty", "null", "flag"])),
        "per_page": draw(st.sampled_from(["honour", "honour", "larger", "ignore-all", "cap"])),
        "own_size": draw(st.integers(6, 9)),
        "cap": draw(st.integers(1, 4)),
    }
    if server["per_page"] == "cap" and speaks in ("none", "unreadable"):
        # a silent cap below the size asked, at a size no server would pick (3, 7), with no
        # cursor: a short page the tap must take as the end; no client can do better
        server["per_page"] = "honour"
    return server


def _serve(server: dict, rows: list[dict]):
    def answer(request):
        query = request.query
        asked = int(query["per_page"]) if "per_page" in query else 100
        behaviour = server["per_page"]
        if behaviour == "larger":
            size = max(asked + 1, server["own_size"])
        elif behaviour == "cap":
            size = min(asked, server["cap"])
        else:
            size = asked
        cursor = query.get("cursor")
        cursor_mode = server["speaks"] != "none" and (
            cursor is not None or not server["needs_param"]
        )
        if behaviour == "ignore-all":
            start, end = 0, len(rows)
        elif cursor_mode:
            start = 0 if cursor in (None, "true", "0") else int(cursor[1:])
            end = min(start + size, len(rows))
        else:
            page = int(query.get("page", 1)) if server["honours_page"] else 1
            start, end = (page - 1) * size, (page - 1) * size + size
        token = f"t{end}" if cursor_mode and end < len(rows) else None
        return _answer(server, rows[start:end], token, size)

    return answer


def _answer(server: dict, page: list[dict], token: str | None, size: int) -> Answer:
    speaks, last = server["speaks"], server["last"]
    headers: dict[str, str] = {}
    if speaks == "header":
        if token is not None:
            headers["X-Next-Cursor"] = token
        elif last == "empty":
            headers["X-Next-Cursor"] = ""
        return Answer(200, json.dumps(page), headers)
    if speaks == "link":
        if token is not None:
            link = "/v1/users?" + urlencode({"cursor": token, "per_page": size})
            headers["Link"] = f'<{link}>; rel="next"'
        return Answer(200, json.dumps(page), headers)
    if speaks == "none" or (token is None and last == "absent" and speaks != "envelope"):
        return Answer(200, json.dumps(page))
    body: dict = {server["records_member"]: page}
    if speaks == "unreadable":
        if token is not None:
            body["zzz"] = token
        return Answer(200, json.dumps(body))
    *parents, name = server["place"]
    value = token
    if name == "next" and parents == ["links"] and token is not None:
        value = "/v1/users?" + urlencode({"cursor": token, "per_page": size})
    if token is not None or last == "null":
        node = body
        for part in parents:
            node = node.setdefault(part, {})
        node[name] = value
    elif last == "flag":
        body["has_more"] = False
    return Answer(200, json.dumps(body))


def _readable(server: dict) -> bool:
    """Servers every client that knows the documented places can read whole."""
    if server["per_page"] in ("ignore-all", "larger"):
        return False  # pages it chose itself: readable only by page numbers, tested apart
    if server["tap_mode"] == "cursor":
        return server["speaks"] in ("header", "link", "envelope")
    pages_by_number = server["speaks"] == "none" or server["needs_param"]  # else cursors only
    if server["honours_page"] and pages_by_number:
        return server["per_page"] != "cap" or server["speaks"] in ("header", "link", "envelope")
    return server["speaks"] in ("header", "link", "envelope")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(servers())
def test_every_list_is_read_whole_or_fails_naming_the_endpoint(server):
    rows = users(range(1, server["rows"] + 1))
    with HostileServer(_serve(server, rows)) as http:
        config = hostile_config(http, page_size=server["page_size"], pagination=server["tap_mode"])
        run = run_tap(config, streams=["users"])
        sent = len(http.requests)
    check_singer(run)
    ids = [r["id"] for r in run.records("users")]
    assert len(ids) == len(set(ids)), ids  # each record once
    if run.error is None:
        assert sorted(ids) == [r["id"] for r in rows], (server, ids)  # whole, or not exit 0
    else:
        assert "GET /v1/users" in str(run.error), (server, run.error)
        assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    size = min(server["page_size"], server["cap"]) if server["per_page"] == "cap" else None
    pages = math.ceil(len(rows) / (size or server["page_size"]))
    assert sent <= pages + 3, (server, sent)  # never a loop: the pages, then a few probes
    if _readable(server):
        assert run.error is None, (server, run.error)
