"""Hostile servers: whatever a server sends, nothing is lost, leaked, trusted or hung on.

Each test runs the tap over real HTTP against a tiny scripted server
(:mod:`tests.hostile_server`) that answers what a broken proxy, a changed API or a bad day
would. Issue 11's items are named in the test names.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
import tracemalloc

import pytest

from tests.hostile_server import Answer, HostileServer, hostile_config, json_answer, users
from tests.singer_output import check_singer, run_tap

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

KEY = "kb4-hostile-SECRET-9f8e7d6c5b4a"


def _list_server(rows: list[dict], per_page_cap: int | None = None):
    """A page-numbered /v1/users over ``rows`` (ignoring ``cursor``)."""

    def answer(request):
        if request.path != "/v1/users":
            return json_answer({"message": "Not Found"}, 404)
        per_page = int(request.query.get("per_page", 100))
        if per_page_cap:
            per_page = min(per_page, per_page_cap)
        page = int(request.query.get("page", 1))
        return json_answer(rows[(page - 1) * per_page : page * per_page])

    return answer


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert KEY[:12] not in text


# -- 5: server-controlled values never poison the state ---------------------------------


@pytest.mark.parametrize(
    "retry_after", ["Fri, 31 Dec 9999 23:59:59 GMT", "100000000000000000000", "inf", "-1"]
)
def test_absurd_retry_after_never_reaches_the_state(retry_after, caplog):
    calls = []

    def answer(request):
        calls.append(request)
        if len(calls) <= 2:
            return json_answer(
                {"message": "Too many requests"}, 429, **{"Retry-After": retry_after}
            )
        return _list_server(users(range(1, 4)))(request)

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["users"])
    assert run.error is None, run.error
    check_singer(run)
    assert len(run.records("users")) == 3
    budget = run.final_state["tap_knowbe4"]["budget"]
    assert budget["quota_spent_at"] is None
    assert "implausible Retry-After" in caplog.text


def test_risk_points_dated_in_the_future_or_unreadable_do_not_move_the_bookmark():
    history = [
        {"date": "2026-10-01", "risk_score": 10.0},
        {"date": "9999-12-31", "risk_score": 11.0},
        {"date": "N/A", "risk_score": 12.0},
    ]
    served = {"points": history}

    def answer(request):
        if request.path == "/v1/account/risk_score_history":
            return json_answer(served["points"])
        return json_answer({"message": "Not Found"}, 404)

    with HostileServer(answer) as server:
        config = hostile_config(server, page_size=500)
        served["points"] = history[:2]  # the future point alone is never the bookmark
        alone = run_tap(config, streams=["account_risk_score_history"])
        stored = alone.final_state["tap_knowbe4"]["streams"]["account_risk_score_history"]
        assert stored == {"dates": {"2026-10-01": "0"}}
        served["points"] = history
        first = run_tap(config, streams=["account_risk_score_history"])
        check_singer(first)
        dates = {p["date"] for p in first.records("account_risk_score_history")}
        assert dates == {"2026-10-01", "9999-12-31"}  # kept; the unreadable one is reported
        report = first.tap.run.report.stream("account_risk_score_history")
        assert any("primary key" in text for text in report.anomalies)
        # the unreadable point, dropped, keeps the bookmark where it was (none), so it loads
        # once the API sends it readable (attack 8 #4)
        assert "account_risk_score_history" not in first.final_state["tap_knowbe4"]["streams"]
        # a real point after the absurd one is not hidden by it
        served["points"] = [*history, {"date": "2026-10-08", "risk_score": 9.0}]
        second = run_tap(config, streams=["account_risk_score_history"], state=first.final_state)
        assert "2026-10-08" in {p["date"] for p in second.records("account_risk_score_history")}


# -- 6 and 12: every answer is bounded in time and in size ------------------------------


def test_a_slow_drip_is_abandoned_within_the_timeout():
    body = json.dumps(users(range(1, 3))).encode()

    def answer(request):
        return Answer(200, body, chunk=1, pause=1.0)  # one byte a second

    with HostileServer(answer) as server:
        config = hostile_config(server, request_timeout_seconds=2, max_retries=1)
        run = run_tap(config, streams=["users"])
        sent = [r.body_sent for r in server.requests]
    assert "still failing after 1 retries" in str(run.error)
    # two attempts, each given up long before the body's end (a byte a second: the server
    # cannot have sent more bytes than seconds passed, however loaded the machine)
    assert len(sent) == 2
    assert max(sent) < len(body) // 4, (sent, len(body))


def test_a_gzip_bomb_is_refused_without_inflating_it():
    bomb = gzip.compress(b"[" + b" " * (256 * 1024 * 1024) + b"]", compresslevel=9)

    def answer(request):
        return Answer(200, bomb, {"Content-Encoding": "gzip"})

    with HostileServer(answer) as server:
        tracemalloc.start()
        try:
            run = run_tap(hostile_config(server), streams=["users"])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert "larger than 32 MB once decompressed" in str(run.error)
    assert peak < 100 * 1024 * 1024


# -- 8, 9, 10: paging that goes wrong -----------------------------------------------------


def test_cursors_in_a_circle_stop_and_fail_the_listing():
    def answer(request):
        cursor = request.query.get("cursor", "true")
        following = {"true": "A", "A": "B", "B": "A"}[cursor]
        page = users([{"true": 1, "A": 2, "B": 3}[cursor]])
        return json_answer({"data": page, "pagination": {"next_cursor": following}})

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["users"])
        assert len(server.requests) == 3
    check_singer(run)
    assert [u["id"] for u in run.records("users")] == [1, 2, 3]
    assert "circle" in str(run.error)


def test_a_server_ignoring_page_while_varying_the_body_stops():
    def answer(request):
        # always the first page, with a field that changes on every request
        return json_answer([{**u, "last_sign_in": time.time()} for u in users([1, 2])])

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["users"])
        assert len(server.requests) == 3  # page 1, page 2 (the same users), the probe
    check_singer(run)  # each version once: what changed is loaded, nothing twice
    assert {u["id"] for u in run.records("users")} == {1, 2}
    assert "GET /v1/users answered 2 records" in str(run.error)
    assert "ignores `page` and `per_page`" in str(run.error)


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"null",
        b"42",
        b'"text"',
        b"{}",
        b'{"unexpected": true}',
        b"[1, 2",
        b"<html>",
        b'[{"id": 3}, null]',
        b'["\\ud800"]',
    ],
    ids=[
        "empty",
        "null",
        "number",
        "string",
        "empty-object",
        "object",
        "truncated",
        "html",
        "null-item",
        "string-item",
    ],
)
def test_an_invalid_body_mid_paging_is_retried_then_fails_clearly(bad):
    def answer(request):
        if request.query.get("page") == "2":
            return Answer(200, bad)
        return _list_server(users(range(1, 6)))(request)

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server, max_retries=2), streams=["users"])
        page2 = [r for r in server.requests if r.query.get("page") == "2"]
    check_singer(run)
    assert len(page2) == 3  # first try and two retries
    assert "still failing after 2 retries" in str(run.error)
    assert {} not in run.records("users")
    assert run.final_state["tap_knowbe4"]["interrupted"] is not None  # resumable


def test_a_server_capping_per_page_is_detected_with_one_probe():
    rows = users(range(1, 251))
    with HostileServer(_list_server(rows, per_page_cap=100)) as server:
        run = run_tap(hostile_config(server, page_size=500), streams=["users"])
        sent = [(r.query.get("page"), r.query.get("per_page")) for r in server.requests]
    assert run.error is None, run.error
    assert len(run.records("users")) == 250
    assert sent == [(None, "500"), ("2", "100"), ("3", "100")]
    notes = run.tap.run.report.stream("users").anomalies
    assert "the server caps per_page at 100" in notes


def test_more_rows_than_per_page_is_the_whole_list_where_the_reference_says_so():
    histories = {
        u: [{"date": f"2026-0{m}-01", "risk_score": 1.0} for m in range(1, 8)] for u in (1, 2)
    }

    def answer(request):
        if request.path == "/v1/users":
            return json_answer(users([1, 2]) if request.query.get("page") in (None, "1") else [])
        return json_answer(histories[int(request.path.split("/")[3])])  # all points, always

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server, page_size=3), streams=["user_risk_score_history"])
        history_requests = [r for r in server.requests if r.path != "/v1/users"]
    assert run.error is None, run.error
    assert len(run.records("user_risk_score_history")) == 14
    assert len(history_requests) == 2  # one per user: documented to answer everything at once


def test_more_rows_than_per_page_elsewhere_is_checked_with_page_2():
    # every paging parameter ignored where the API does not document it: a page 2 that
    # repeats page 1 proves nothing (pages of the server's own size, with a cursor the tap
    # cannot see, look the same): the listing fails, naming the endpoint
    everything = users(range(1, 8))
    with HostileServer(lambda request: json_answer(everything)) as server:
        run = run_tap(hostile_config(server, page_size=2), streams=["users"])
        assert len(server.requests) == 3  # page 1, page 2 (the same), the probe (the same)
    assert "GET /v1/users answered 7 records" in str(run.error)
    assert "ignores `page` and `per_page`" in str(run.error)
    assert {u["id"] for u in run.records("users")} == set(range(1, 8))
    rows = users(range(1, 13))

    def own_size(request):  # pages of 5 whatever per_page asks
        page = int(request.query.get("page", 1))
        return json_answer(rows[(page - 1) * 5 : page * 5])

    with HostileServer(own_size) as server:
        run = run_tap(hostile_config(server, page_size=2), streams=["users"])
    assert run.error is None
    assert len(run.records("users")) == 12


# -- 13, 14, 15: values a record or a header may carry -------------------------------------


def test_ids_as_text_stay_exact_and_unreadable_keys_are_reported():
    rows = [
        {"id": "9007199254740993", "email": "a@example.com"},
        {"id": "9007199254740992", "email": "b@example.com"},
        {"id": "abc", "email": "c@example.com"},
        {"id": 5, "email": "d@example.com", "phish_prone_percentage": "Infinity"},
        {"id": 6, "email": "e@example.com", "first_name": "\ud800lone", "joined_on": 1700000000},
    ]

    def answer(request):
        return json_answer(rows if request.query.get("page") in (None, "1") else [])

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server, page_size=500), streams=["users"])
    assert run.error is None, run.error
    check_singer(run)
    emitted = {u["id"]: u for u in run.records("users")}
    assert set(emitted) == {9007199254740993, 9007199254740992, 5, 6}
    assert emitted[5]["phish_prone_percentage"] is None
    assert emitted[6]["first_name"] == "\ufffdlone"
    assert emitted[6]["joined_on"] is None
    anomalies = run.tap.run.report.stream("users").anomalies
    assert anomalies["id: dropped: its primary key could not be read"] == 1


def test_request_ids_and_keys_echoed_by_the_server_are_not_printed(caplog):
    def answer(request):
        return json_answer(
            {"message": f"forbidden for {request.headers.get('Authorization')}"},
            403,
            **{"X-Request-Id": "<script>" + "x" * 300},
        )

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["users"])
    assert "may not read it" in str(run.error)  # a 403 skips the stream, and says so
    assert "Skipping stream 'users'" in caplog.text
    assert "request id none" in caplog.text
    assert "<script>" not in caplog.text
    _no_secret(caplog.text, json.dumps(run.messages))


def test_an_envelope_whose_pagination_is_text_fails_clearly():
    def answer(request):
        return json_answer({"data": users([1]), "pagination": "next please"})

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["users"])
    assert "pagination is a str" in str(run.error)


def test_a_started_at_that_is_a_number_is_loaded_as_null_and_the_test_re_read():
    tests = [
        {
            "pst_id": 7,
            "campaign_id": 1,
            "status": "Closed",
            "started_at": 1700000000,
            "scheduled_count": 1,
        }
    ]
    recipients = [{"recipient_id": 1, "user": None}]

    def answer(request):
        if request.path == "/v1/phishing/security_tests":
            return json_answer(tests)
        return json_answer(recipients)

    streams = ["phishing_security_tests", "phishing_security_test_recipients"]
    with HostileServer(answer) as server:
        first = run_tap(hostile_config(server), streams=streams)
        second = run_tap(hostile_config(server), streams=streams, state=first.final_state)
    assert first.error is None
    check_singer(first)
    assert first.records("phishing_security_tests")[0]["started_at"] is None
    assert len(second.records("phishing_security_test_recipients")) == 1  # not settled


# -- 19: cursors are sent back as the server gave them ---------------------------------


def test_a_cursor_from_a_link_header_is_decoded_once():
    def answer(request):
        if request.query.get("cursor") == "true":
            link = '<https://x.example/v1/users?cursor=a%2Bb&per_page=2>; rel="next"'
            return json_answer(users([1, 2]), Link=link)
        return json_answer(users([3]), Link="")

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["users"])
        second = server.requests[1]
    assert run.error is None
    assert second.query["cursor"] == "a+b"
    assert "a%2Bb" in second.raw_query  # encoded once on the wire


def test_an_opaque_cursor_is_returned_unchanged():
    def answer(request):
        if request.query.get("cursor") == "true":
            return json_answer({"data": users([1, 2]), "pagination": {"next_cursor": "a%2Bb"}})
        return json_answer({"data": users([3]), "pagination": {"next_cursor": None}})

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["users"])
        second = server.requests[1]
    assert run.error is None
    assert second.query["cursor"] == "a%2Bb"


# -- 7: a late point of one owner is not hidden by another owner's newer one ------------


def test_risk_bookmarks_are_kept_per_owner():
    histories = {
        1: [{"date": "2026-10-01", "risk_score": 1.0}, {"date": "2026-10-29", "risk_score": 2.0}],
        2: [{"date": "2026-10-01", "risk_score": 3.0}],
    }
    groups = [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}]

    def answer(request):
        if request.path == "/v1/groups":
            return json_answer(groups)
        owner = int(request.path.split("/")[3])
        return json_answer(histories[owner])

    streams = ["group_risk_score_history"]
    with HostileServer(answer) as server:
        config = hostile_config(server, page_size=500)
        first = run_tap(config, streams=streams)
        histories[2].append({"date": "2026-10-15", "risk_score": 4.0})  # late, older than 1's
        second = run_tap(config, streams=streams, state=first.final_state)
    late = [r for r in second.records("group_risk_score_history") if r["group_id"] == 2]
    assert {r["date"] for r in late} >= {"2026-10-15"}
    dates = second.final_state["tap_knowbe4"]["streams"]["group_risk_score_history"]["dates"]
    assert dates == {"2026-10-29": "1", "2026-10-15": "2"}


def test_the_date_of_now_is_the_machines_not_the_servers():
    # a server whose Date header lies changes nothing the tap decides
    future = "Fri, 31 Dec 9999 23:59:59 GMT"

    def answer(request):
        return json_answer(users([1]), Date=future)

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["users"])
    window = run.final_state["tap_knowbe4"]["budget"]["window_start"]
    started = dt.datetime.fromisoformat(window.replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.timezone.utc) - started).total_seconds()) < 600
