"""The API as it moves to cursors (issue 19): each case of the issue, over real HTTP.

* the cursor in an envelope the tap did not read (``_metadata``), ``page`` ignored: the tap
  loaded 500 of 1,203 users with exit 0; now every user, or (for a member no client could
  guess) a failure naming the endpoint and the shape;
* a header-cursor server that sends no ``X-Next-Cursor`` on the last page of a list exactly
  one page long: read whole with exit 0, one probe more;
* where the next page is named, answer by answer (:func:`tap_knowbe4.payload.read_page`);
* the endpoint documented as unpaginated gets the fewest parameters.
"""

from __future__ import annotations

import pytest
import requests

from tap_knowbe4.payload import InvalidBodyError, read_page
from tap_knowbe4.sandbox.paging import CURSOR_STYLES
from tests.conftest import sandbox, tap_config
from tests.hostile_server import HostileServer, hostile_config, json_answer, users
from tests.singer_output import check_singer, run_tap
from tests.test_run_caps import _truth, sync_until_complete

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out


def _cursor_server(rows: list[dict], shape):
    """A cursor-only /v1/users (``page`` ignored): ``shape(page, next_cursor)`` answers."""

    def answer(request):
        if request.path != "/v1/users":
            return json_answer({"message": "Not Found"}, 404)
        size = int(request.query.get("per_page", 100))
        cursor = request.query.get("cursor", "true")
        start = 0 if cursor in ("true", "0") else int(cursor)
        end = min(start + size, len(rows))
        return shape(rows[start:end], str(end) if end < len(rows) else None)

    return answer


def _metadata(page, cursor):
    return json_answer({"data": page, "_metadata": {"next_cursor": cursor}})


def test_a_metadata_envelope_is_read_whole():
    rows = users(range(1, 1204))
    with HostileServer(_cursor_server(rows, _metadata)) as server:
        run = run_tap(hostile_config(server, page_size=500), streams=["users"])
        sent = len(server.requests)
    assert run.error is None, run.error
    check_singer(run)
    assert [u["id"] for u in run.records("users")] == list(range(1, 1204))
    assert sent == 3  # the three pages, nothing more
    assert [m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"] == []


def test_an_envelope_the_tap_cannot_read_fails_naming_the_endpoint(caplog):
    def hidden(page, cursor):  # a member no client could take for a next page
        return json_answer({"data": page, "zzz": cursor})

    rows = users(range(1, 1204))
    with HostileServer(_cursor_server(rows, hidden)) as server:
        config = hostile_config(server, page_size=500, emit_activate_version_messages=True)
        run = run_tap(config, streams=["users"])
        sent = len(server.requests)
    assert "GET /v1/users answered 500 records (an object {data, zzz}" in str(run.error)
    assert "the rest of the list cannot be read" in str(run.error)
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    assert sent == 3  # page 1, page 2 (the same), the probe
    assert len(run.records("users")) == 500  # each once


# 500: page 1, page 2 (the same: `page` is ignored), the probe with 499, the page its cursor
# names (the last record); 1000: the second page, full and silent, is asked again (attack 9 #5)
@pytest.mark.parametrize(("count", "sent"), [(500, 4), (1000, 3), (499, 1)])
def test_a_silent_header_server_with_one_full_page_is_read_whole(count, sent):
    def header(page, cursor):
        return json_answer(page, **({"X-Next-Cursor": cursor} if cursor else {}))

    rows = users(range(1, count + 1))
    with HostileServer(_cursor_server(rows, header)) as server:
        run = run_tap(hostile_config(server, page_size=500), streams=["users"])
        asked = [dict(r.query) for r in server.requests]
    assert run.error is None, run.error
    assert len(run.records("users")) == count
    assert len(asked) == sent, asked
    if count == 500:
        assert asked[2] == {"per_page": "499", "cursor": "true"}
        assert asked[3]["per_page"] == "500"
        assert asked[3]["cursor"] not in ("true", None)
        notes = run.tap.run.report.stream("users").anomalies
        assert any("the server named a next cursor, followed" in text for text in notes)
    if count == 1000:
        assert asked[1] == asked[2]


def test_the_endpoint_documented_as_unpaginated_gets_the_fewest_parameters():
    def answer(request):
        if request.path == "/v1/users":
            return json_answer(users([7]) if request.query.get("page") in (None, "1") else [])
        return json_answer([{"date": "2026-10-01", "risk_score": 1.0}])

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server, page_size=500), streams=["user_risk_score_history"])
        history = [r.query for r in server.requests if r.path != "/v1/users"]
    assert run.error is None, run.error
    assert history == [{"full": "true", "per_page": "500"}]  # no page, no cursor


# -- where the next page is named ------------------------------------------------------

BODIES = [
    # (body, headers, (next_cursor, next_page, more))
    ({"data": [], "pagination": {"next_cursor": "c2"}}, {}, ("c2", None, None)),
    ({"data": [], "pagination": {"next_cursor": None}}, {}, ("", None, None)),
    ({"data": [], "_metadata": {"next_cursor": 17}}, {}, ("17", None, None)),
    ({"data": [], "_metadata": {}}, {}, (None, None, None)),
    (
        {"items": [], "links": {"next": "https://x.example/v1/users?cursor=a%2Bb"}},
        {},
        ("a+b", None, None),
    ),
    ({"items": [], "links": {"next": None}}, {}, ("", None, None)),
    ({"results": [], "meta": {"next_page": 3, "is_last_page": False}}, {}, (None, 3, None)),
    ({"results": [], "meta": {"next_page": None, "is_last_page": True}}, {}, ("", None, None)),
    ({"data": [], "nextPageToken": "tok"}, {}, ("tok", None, None)),
    ({"data": [], "paging": {"next": {"cursor": "n"}}}, {}, ("n", None, None)),
    ({"data": [], "links": {"next": {"href": "/v1/users?page=4"}}}, {}, (None, 4, None)),
    ({"data": [], "links": {"next": "/v1/users?after=x"}}, {}, (None, None, True)),
    ({"data": [], "has_more": False}, {}, ("", None, None)),
    ({"data": [], "prev_cursor": "p", "total": 9}, {}, (None, None, None)),
    ({"data": []}, {"X-Next-Cursor": "h"}, ("h", None, None)),
    ([], {"X-Next-Cursor": ""}, ("", None, None)),
    ([], {"Link": '</v1/users?cursor=l>; rel="next"'}, ("l", None, None)),
    ([], {"Link": '</v1/users?page=1>; rel="first"'}, (None, None, None)),
    ([], {}, (None, None, None)),
]


@pytest.mark.parametrize(("body", "headers", "said"), BODIES)
def test_where_the_next_page_is_named(body, headers, said):
    with HostileServer(lambda request: json_answer(body, **headers)) as server:
        response = requests.get(server.url + "/v1/users", timeout=5)
    page = read_page(response, is_list=True, key_fields=("id",))
    assert (page.next_cursor, page.next_page, page.more) == said
    assert page.path == "/v1/users"


@pytest.mark.parametrize(
    ("body", "records"),
    [
        ({"id": 5, "email": "a@example.com"}, 1),  # one record where a list belongs
        ({"data": [{"id": 1}], "items": [{"id": 2}]}, 1),  # `data` first
    ],
)
def test_what_holds_the_records(body, records):
    with HostileServer(lambda request: json_answer(body)) as server:
        response = requests.get(server.url + "/v1/users", timeout=5)
    assert len(read_page(response, is_list=True, key_fields=("id",)).records) == records


@pytest.mark.parametrize(
    "body", [{"message": "Not Found"}, {"data": [], "pagination": "next"}, {"_metadata": {}}]
)
def test_what_is_not_a_list(body):
    with HostileServer(lambda request: json_answer(body)) as server:
        response = requests.get(server.url + "/v1/users", timeout=5)
    with pytest.raises(InvalidBodyError):
        read_page(response, is_list=True, key_fields=("id",))


@pytest.mark.parametrize("style", CURSOR_STYLES)
def test_a_cursor_only_list_read_across_capped_runs_loses_nothing(style):
    """The drift profile (``page`` ignored, the cursor in ``style``) under a run cap smaller
    than the list: the next run resumes at the cursor the first stopped at (``resume.py``)
    and the two load every user, deleting none."""
    with sandbox(profile="drift", cursor_style=style, users=45) as sb:  # 5 pages of 10
        config = tap_config(
            sb, page_size=10, max_requests_per_run=3, emit_activate_version_messages=True
        )
        runs, warehouse = sync_until_complete(config, ["users"])
        truth = _truth(sb, "users")
    assert len(runs) == 2
    assert runs[0].final_state["tap_knowbe4"]["interrupted"]["lists"]["users"]["cursor"]
    assert warehouse.keys("users") == truth


def test_sim_15_a_list_whose_keys_repeat_is_read_across_capped_runs():
    """The drift lists some enrollments twice, so the list is out of key order and no key
    proves a position. The page it stopped in is proven by its fingerprint (its records'
    ids in order, ``pagination.page_fingerprint``) at the server's cursor (its own position;
    a list out of key order paged by number keeps none: attack 5 #6): read again, the same
    page goes on; the
    runs load every enrollment and the ACTIVATE_VERSION that ends the read deletes none.
    (Before: no position, and every capped run read page 1 again, then failed "too small".)"""
    with sandbox(profile="drift", users=25) as sb:
        config = tap_config(
            sb, page_size=10, max_requests_per_run=3, emit_activate_version_messages=True
        )
        runs, warehouse = sync_until_complete(config, ["training_enrollments"])
        truth = _truth(sb, "training_enrollments")
    kept = runs[0].final_state["tap_knowbe4"]["interrupted"]["lists"]["training_enrollments"]
    assert kept["ordered"] is False
    assert len(kept["page_keys"]) == 16
    pages = -(-len(truth) // 10)  # at least: a repeated key adds a record
    assert 2 <= len(runs) <= -(-pages // 2) + 1  # each run: the proof page, then two new
    assert warehouse.keys("training_enrollments") == truth
