"""Regression tests for what an adversarial review of the redesigned tap found.

Each test is one finding (its number in the review in the name): a server, an input or a
state that made the tap lose records while exiting 0, leak the key, crash, hang, or trust
what it should not. Run over real HTTP against :mod:`tests.hostile_server`.
"""

from __future__ import annotations

import fcntl
import json
import socket
import threading

import pytest

from tap_knowbe4 import ledger
from tests.cli import clean_env, run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import minimum_requests
from tests.hostile_server import Answer, HostileServer, hostile_config, json_answer, users
from tests.singer_output import catalog_selecting, check_singer, run_tap, state_of
from tests.tap_waits import recorded_waits

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

ROWS = users(range(1, 1201))


def _pages(request, rows=ROWS, cap: int | None = None, **headers: str) -> Answer:
    per_page = int(request.query.get("per_page", 100))
    if cap:
        per_page = min(per_page, cap)
    page = int(request.query.get("page", 1))
    return json_answer(rows[(page - 1) * per_page : page * per_page], 200, **headers)


def _activated(run) -> list[str]:
    return [m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


def _run_users(handler, **config):
    with HostileServer(handler) as server:
        settings = {"page_size": 500, "emit_activate_version_messages": True, **config}
        run = run_tap(hostile_config(server, **settings), streams=["users"])
        return run, list(server.requests)


# -- 1: paging answers that cost records ---------------------------------------------


@pytest.mark.parametrize(
    "handler",
    [
        lambda r: _pages(r, cap=300),
        lambda r: _pages(r, Link="</static/app.css>; rel=preload; as=style"),
        lambda r: _pages(r, ROWS, None, **{"X-Next-Cursor": ""}),
    ],
    ids=["per-page-cap-300", "unrelated-link-header", "empty-x-next-cursor"],
)
def test_1_paging_oddities_still_read_every_record(handler):
    run, _ = _run_users(handler)
    assert run.error is None, run.error
    check_singer(run)
    assert len(run.records("users")) == 1200
    assert _activated(run) == ["users"]


def test_1_an_envelope_with_page_numbers_and_no_cursor_reads_on():
    def answer(request):
        page = json.loads(_pages(request).payload())
        return json_answer({"data": page, "pagination": {"page": 1, "total": 1200}})

    run, _ = _run_users(answer)
    assert run.error is None, run.error
    assert len(run.records("users")) == 1200


def test_1_an_empty_cursor_page_naming_a_next_cursor_is_followed():
    def answer(request):
        cursor = request.query.get("cursor", "true")
        chunks = {"true": ("a", ROWS[:500]), "a": ("b", []), "b": (None, ROWS[500:])}
        following, data = chunks[cursor]
        return json_answer({"data": data, "pagination": {"next_cursor": following}})

    run, _ = _run_users(answer)
    assert run.error is None, run.error
    assert len(run.records("users")) == 1200


def test_1_a_server_ignoring_page_and_per_page_fails_instead_of_activating():
    run, requests = _run_users(lambda request: json_answer(ROWS[:100]))
    check_singer(run)
    assert "ignores `page` and `per_page`" in str(run.error)
    assert not _activated(run)
    assert len(requests) == 3  # page 1 (100: a cap?), page 2 at 100 (the same), the probe


# -- 3: a capped recipients listing is not settled half-read ---------------------------


def test_3_recipients_capped_per_page_are_read_whole_before_the_test_settles():
    recipients = [{"recipient_id": i, "user": None} for i in range(1, 71)]
    tests = [
        {
            "pst_id": 9,
            "status": "Closed",
            "started_at": "2020-01-01T00:00:00.000Z",
            "scheduled_count": 70,
        }
    ]

    def answer(request):
        if request.path == "/v1/phishing/security_tests":
            return json_answer(tests)
        return _pages(request, rows=recipients, cap=30)

    streams = ["phishing_security_tests", "phishing_security_test_recipients"]
    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server, page_size=500), streams=streams)
    assert run.error is None, run.error
    assert len(run.records("phishing_security_test_recipients")) == 70
    assert run.final_state["tap_knowbe4"]["streams"]["phishing_security_test_recipients"]


# -- 4, 5, 6: the key -------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_4_plain_http_never_goes_through_an_environment_proxy(tmp_path, variable):
    with (
        HostileServer(lambda r: json_answer([])) as proxy,
        HostileServer(
            lambda r: json_answer(users([1]) if r.query.get("page") in (None, "1") else [])
        ) as api,
    ):
        env = clean_env(**{variable: proxy.url, "NO_PROXY": "", "no_proxy": ""})
        result = run_cli(
            tmp_path, hostile_config(api), catalog=catalog_selecting(["users"]), env=env
        )
        assert not proxy.requests
        assert api.requests
    assert result.returncode == 0, result.stderr[-2000:]


def test_5_a_redirect_naming_the_key_in_any_case_does_not_print_it(tmp_path):
    config = {}

    def answer(request):
        host = config["api_key"].lower() + ".evil.example"
        return Answer(302, b"", {"Location": f"https://{host}/v1/users"})

    with HostileServer(answer) as server:
        config.update(hostile_config(server))
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    line = result.assert_one_clear_line()
    assert "redirect" in line
    key = config["api_key"]
    assert key.lower() not in result.stderr.lower()


@pytest.mark.parametrize("value", [["kb4-list-SECRET-12345678"], {"k": "kb4-obj-SECRET-1234"}])
def test_6_an_api_key_of_the_wrong_type_is_refused_without_echo(tmp_path, value):
    result = run_cli(tmp_path, {"api_key": value})
    assert "api_key" in result.assert_one_clear_line()
    assert "SECRET" not in result.stderr


def test_6_a_key_pasted_into_a_number_setting_is_not_echoed(tmp_path):
    pasted = "kb4-pasted-SECRET-0123456789abcdef"
    env = clean_env(TAP_KNOWBE4_PAGE_SIZE=pasted, TAP_KNOWBE4_API_KEY="another-key-1234")
    result = run_cli(tmp_path, None, env=env)
    assert "page_size" in result.assert_one_clear_line()
    assert "SECRET" not in result.stderr


# -- 8, 15, 16: records ------------------------------------------------------------------


def test_8_15_keys_that_are_lists_objects_or_repeated_are_dropped_once():
    rows = [{"id": [1]}, {"id": {"a": 1}}, {"id": 2}, {"id": 2}, {"id": "2"}, {"id": 3}]

    def answer(request):
        return json_answer(rows if request.query.get("page") in (None, "1") else [])

    run, _ = _run_users(answer)
    assert run.error is None, run.error
    check_singer(run)
    assert [u["id"] for u in run.records("users")] == [2, 3]
    notes = run.tap.run.report.stream("users").anomalies
    assert notes["records sent again unchanged in one listing: loaded once"] == 2


def test_16_impossible_dates_are_loaded_as_null():
    stamps = [
        "2024-13-45T99:99:99Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T00:00:00+99:99",
        "0000-00-00T00:00:00Z",
        "2024-01-01T24:00:00Z",
    ]
    rows = [{"id": i, "joined_on": s} for i, s in enumerate(stamps, 1)]

    def answer(request):
        return json_answer(rows if request.query.get("page") in (None, "1") else [])

    run, _ = _run_users(answer)
    check_singer(run)  # every record valid against the SCHEMA, formats included
    users = run.records("users")
    assert sorted(u["id"] for u in users) == [r["id"] for r in rows]  # none dropped instead
    assert all(u["joined_on"] is None for u in users)


# -- 9, 11, 17, 22: state ---------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        {"bookmarks": {"users": {"partitions": "x"}}},
        {"bookmarks": {"users": {"partitions": [5]}}},
        {"bookmarks": {"users": {"partitions": [{"context": "x"}]}}},
        {
            "tap_knowbe4": {
                "budget": {"window_start": None, "used": 10**30},
                "streams": {
                    "group_risk_score_history": {
                        "dates": {"2024-01-01": "1-9999999", "2024-01-02": "20000000-29999999"}
                    }
                },
            }
        },
    ],
    ids=["partitions-text", "partitions-int", "partition-context-text", "huge-values"],
)
def test_9_11_17_odd_state_neither_crashes_nor_blocks(state, monkeypatch):
    waits = recorded_waits(monkeypatch)
    with sandbox() as sb:
        if "tap_knowbe4" in state:  # this account's state, with odd values
            state = state_of(tap_config(sb), **state["tap_knowbe4"])
        run = run_tap(tap_config(sb), streams=["users"], state=state)
        assert run.error is None, run.error
        assert len(run.records("users")) == len(sb.org.users())
        assert sb.stats()["requests"] == minimum_requests(sb, ["users"], 25, cursor=True)
    assert waits == []  # nothing waited for (a budget window, say): the pages, one each
    assert run.final_state["tap_knowbe4"]["budget"]["used"] < 10**6


def test_22_negative_owner_ids_are_not_written_into_state():
    groups = [{"id": -5, "name": "odd"}, {"id": 1, "name": "A"}]

    def answer(request):
        if request.path == "/v1/groups":
            return json_answer(groups)
        return json_answer([{"date": "2026-11-20", "risk_score": 1.0}])

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["group_risk_score_history"])
    dates = run.final_state["tap_knowbe4"]["streams"]["group_risk_score_history"]["dates"]
    assert dates == {"2026-11-20": "1"}


# -- 12: the ledger's lock ---------------------------------------------------------------


def test_12_a_ledger_locked_by_another_process_is_not_waited_on_forever(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(ledger, "LOCK_SECONDS", 0.5)
    path = tmp_path / "ledger.json"
    with sandbox() as sb, open(path.with_suffix(".lock"), "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        run = run_tap(
            tap_config(sb, budget_ledger=True, budget_ledger_path=str(path)), streams=["users"]
        )
    assert run.error is None
    assert run.records("users")
    assert "lock was held" in caplog.text


# -- 13: a small body of very many objects ------------------------------------------------


def test_13_a_body_of_millions_of_objects_is_refused_before_decoding():
    body = b"[" + b",".join([b'{"id":1}'] * 200_000) + b"]"
    run, _ = _run_users(lambda request: Answer(200, body), max_retries=0)
    assert "more than 100,000 objects" in str(run.error)


# -- 14: everything refused is not a success ---------------------------------------------


def test_14_children_answering_404_everywhere_fail_the_stream():
    groups = [{"id": i, "name": f"g{i}"} for i in range(1, 6)]

    def answer(request):
        if request.path == "/v1/groups":
            return json_answer(groups)
        return json_answer({"message": "Not Found"}, 404)

    with HostileServer(answer) as server:
        run = run_tap(hostile_config(server), streams=["group_risk_score_history"])
    assert "answered 404" in str(run.error)


# -- 19, 20: 429 storms and refused cursors ------------------------------------------------


def test_19_a_storm_of_retry_after_zero_backs_off_instead_of_spending_the_quota(monkeypatch):
    waits = recorded_waits(monkeypatch)
    with HostileServer(lambda r: json_answer({}, 429, **{"Retry-After": "0"})) as server:
        config = hostile_config(server, quota_wait_seconds=3, max_retry_wait_seconds=300)
        run = run_tap(config, streams=["users"])
        sent = len(server.requests)
    assert run.error is None  # the quota is taken as spent: a clean stop
    assert sent <= 6
    # it backed off (not Retry-After's 0 s), and for no longer than quota_wait_seconds allow
    assert waits
    assert all(w > 0 for w in waits)
    assert sum(waits) <= 3 + 0.5


def test_20_a_server_refusing_the_cursor_parameter_is_paged_by_number():
    def answer(request):
        if "cursor" in request.query:
            return json_answer({"message": "unknown parameter cursor"}, 400)
        return _pages(request, rows=users(range(1, 31)))

    run, _ = _run_users(answer, page_size=10)
    assert run.error is None, run.error
    assert len(run.records("users")) == 30


# -- 23, 24: the log ---------------------------------------------------------------------


def test_23_a_malformed_header_line_logs_no_traceback(tmp_path):
    body = json.dumps(users([1])).encode()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nno colon here\r\n\r\n"
            conn.sendall(head.encode() + body)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        config = {**hostile_config(type("S", (), {"url": f"http://127.0.0.1:{port}"})())}
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    finally:
        server.close()
    assert "Traceback" not in result.stderr


def test_24_field_names_from_the_server_cannot_forge_log_lines(caplog):
    forged = "x\n2026-01-01 00:00:00,000 | ERROR | tap-knowbe4 | FORGED\x1b[2J"
    rows = [{"id": 1, forged: 1}]
    run, _ = _run_users(lambda r: json_answer(rows if r.query.get("page") in (None, "1") else []))
    assert run.error is None
    assert "\nx\n" not in caplog.text
    assert "\x1b" not in caplog.text
    assert not [line for line in caplog.text.splitlines() if line.startswith("2026-01-01")]
