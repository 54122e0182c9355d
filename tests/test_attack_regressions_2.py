"""Regression tests for the second adversarial review (after the redesign had landed).

Each test is one finding of that review (its number in the name): the key reaching stdout
or the log in a form the redactor did not know, ACTIVATE_VERSION after records were
dropped, dates and numbers at the edges of what Python can hold stopping every run, and
malformed input blamed on the wrong thing. Run over real HTTP against
:mod:`tests.hostile_server` (or a raw socket where the answer is not valid HTTP).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import typing as t

import pytest

from tap_knowbe4.redact import Redactor, encoded_forms
from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.hostile_server import Answer, HostileServer, hostile_config, json_answer, users
from tests.singer_output import catalog_selecting, check_singer, run_tap, state_of

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

KEY = "kb4-hostile-SECRET-9f8e7d6c5b4a"  # hostile_config's key


def _leaks(text: str) -> list[str]:
    """Every form of the key found in ``text`` (case-insensitive)."""
    lowered = text.lower()
    return [form for form in encoded_forms(KEY) if form.lower() in lowered]


def _config(server: t.Any, **overrides: t.Any) -> dict[str, t.Any]:
    """hostile_config with pages larger than any answer here (one page per list)."""
    return hostile_config(server, **{"page_size": 500, **overrides})


def _answering(path: str, answer: t.Callable[[t.Any], Answer]) -> t.Callable[[t.Any], Answer]:
    return lambda request: answer(request) if request.path == path else json_answer([])


# -- 1, 5: the key in forms the redactor did not know ----------------------------------


def _escaped(text: str, every: bool) -> str:
    """``text`` as JSON string content, its letters as \\u escapes (all, or one)."""
    out, done = [], False
    for char in text:
        if char.isalpha() and (every or not done):
            out.append(f"\\u{ord(char):04x}")
            done = True
        else:
            out.append(char)
    return "".join(out)


@pytest.mark.parametrize(
    "value",
    [
        _escaped(KEY, every=False),
        _escaped(KEY, every=True),
        KEY.upper(),
        base64.b64encode(f"id:{KEY}".encode()).decode(),
        KEY.encode().hex(),
    ],
    ids=["one-letter-escaped", "every-letter-escaped", "upper-case", "base64", "hex"],
)
def test_1_a_key_echoed_in_a_record_never_reaches_stdout(value):
    body = '[{"id": 1, "email": "a@example.com", "first_name": "' + value + '"}]'
    with HostileServer(_answering("/v1/users", lambda r: Answer(200, body))) as server:
        run = run_tap(_config(server), streams=["users"])
    assert run.error is None
    (record,) = run.records("users")
    assert record["id"] == 1
    assert "[redacted]" in record["first_name"]
    assert not _leaks(json.dumps(run.messages))


def test_5_the_key_encoded_in_headers_is_not_logged(tmp_path):
    b64 = base64.b64encode(KEY.encode()).decode().rstrip("=")
    hexed = KEY.encode().hex()
    calls = {"users": 0}

    def handler(request):
        if request.path == "/v1/users":
            calls["users"] += 1
            if calls["users"] == 1:
                return json_answer({}, 429, **{"Retry-After": b64})
            return json_answer({}, 403, **{"X-Request-Id": b64})
        if request.path == "/v1/groups":
            return json_answer({}, 403, **{"X-Request-Id": hexed})
        return json_answer([])

    with HostileServer(handler) as server:
        result = run_cli(tmp_path, _config(server), catalog=catalog_selecting(["users", "groups"]))
    assert result.returncode == 1
    assert "403" in result.stderr
    assert b64 not in result.stderr
    assert hexed.lower() not in result.stderr.lower()
    assert not _leaks(result.stderr + result.stdout)


def test_5_every_encoding_of_a_key_is_masked_wherever_it_starts():
    redactor = Redactor()
    redactor.add(KEY)
    for prefix in ("", "a", "ab", "abc"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(f"{prefix}{KEY}.tail".encode()).decode()
            assert "[redacted]" in redactor(text), (prefix, text)
            assert redactor.found_in(text.encode())
    assert redactor("nothing secret here, 0123456789abcdef") == (
        "nothing secret here, 0123456789abcdef"
    )
    wide = Redactor()
    wide.add("kb4-s\u00e9cret-000111222")  # beyond ASCII: found by the exact JSON pattern
    assert wide.found_in(b'"kb4-s\\u00E9cret-000111222"')
    assert not wide.found_in(b'"kb4-s\\u00e8cret-000111222"')


# -- 2: a dropped record is a row the target must keep ---------------------------------


def test_2_records_dropped_for_an_unreadable_key_withhold_activate_version():
    def handler(request):
        if request.path == "/v1/users":
            return json_answer([{"id": 1, "email": "a@example.com"}, {"id": "U-2"}])
        if request.path == "/v1/account":
            return json_answer({"name": None, "subscription_level": "Diamond"})
        return json_answer([])

    with HostileServer(handler) as server:
        config = _config(server, emit_activate_version_messages=True)
        run = run_tap(config, streams=["users", "account"])
    assert run.error is None
    assert [r["id"] for r in run.records("users")] == [1]
    assert run.records("account") == []
    activated = [m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    assert activated == []  # user "U-2" and the account still exist upstream


# -- 3, 4: instants at the calendar's edge, infinities in the state ---------------------

EDGES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-05:00"]
ONE = {"scheduled_count": 1}  # a test with recipients to read


@pytest.mark.parametrize("edge", EDGES, ids=["year-1", "year-9999"])
@pytest.mark.parametrize("start_date", [None, "2020-01-01"], ids=["no-start", "start-date"])
def test_3_a_test_started_at_the_calendars_edge_does_not_stop_the_run(edge, start_date):
    tests = [
        {
            "pst_id": 1,
            "campaign_id": 9,
            "status": "Closed",
            "started_at": "2024-01-01T00:00:00Z",
            **ONE,
        },
        {"pst_id": 2, "campaign_id": 9, "status": "Closed", "started_at": edge, **ONE},
        {
            "pst_id": 3,
            "campaign_id": 9,
            "status": "Closed",
            "started_at": "2024-02-01T00:00:00Z",
            **ONE,
        },
    ]

    def handler(request):
        if request.path == "/v1/phishing/security_tests":
            return json_answer(tests)
        if request.path.startswith("/v1/phishing/security_tests/"):
            return json_answer([{"recipient_id": 7, "user": {"id": 1}}])
        return json_answer([])

    streams = ["phishing_security_tests", "phishing_security_test_recipients"]
    with HostileServer(handler) as server:
        run = run_tap(_config(server, start_date=start_date), streams=streams)
    assert run.error is None
    check_singer(run)
    assert {r["pst_id"] for r in run.records("phishing_security_test_recipients")} == {1, 2, 3}
    by_id = {r["pst_id"]: r for r in run.records("phishing_security_tests")}
    assert by_id[2]["started_at"] is None  # no UTC instant: unreadable, not a crash


@pytest.mark.parametrize(
    "tap_knowbe4",
    [
        {"budget": {"window_start": EDGES[0], "used": 5}},
        {"budget": {"quota_spent_at": EDGES[0], "quota_resets_at": EDGES[1]}},
        {"last_run": {"requests": 3, "records": 3, "seconds": "inf"}},
        {"last_run": {"requests": 3, "records": 3, "seconds": float("inf")}},
    ],
    ids=["window-year-1", "quota-edges", "seconds-inf-text", "seconds-Infinity"],
)
def test_4_a_state_at_the_edges_is_repaired_not_fatal(tmp_path, tap_knowbe4):
    with HostileServer(_answering("/v1/users", lambda r: json_answer(users([1, 2])))) as server:
        state = state_of(_config(server), **tap_knowbe4)
        result = run_cli(
            tmp_path, _config(server), state=state, catalog=catalog_selecting(["users"])
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.records("users")) == 2
    assert "Traceback" not in result.stderr


# -- 6: settings at the edges are refused before any request ---------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("requests_per_second", 1e-12),
        ("requests_per_minute", 1e-300),
        ("start_date", "0001-01-01T00:00:00+05:00"),
        ("start_date", "9999-12-31T23:59:59-05:00"),
    ],
)
def test_6_settings_that_overflow_are_refused_in_one_line(tmp_path, setting, value):
    with HostileServer(lambda r: json_answer(users([1]))) as server:
        config = _config(server, **{setting: value})
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
        sent = list(server.requests)
    line = result.assert_one_clear_line(code=1)
    assert f"Invalid configuration: {setting}" in line
    assert sent == []


# -- 7: a body nested deeper than the recursion limit ----------------------------------


@pytest.mark.parametrize("mark", ['"\\ud800"', f'"{KEY}"'], ids=["lone-surrogate", "key"])
def test_7_deep_nesting_with_strings_to_repair_is_only_data(mark):
    deep = '{"a":' * 600 + "1" + "}" * 600  # json reads it; a recursive walk did not
    body = f'[{{"id": 1, "email": "a@example.com", "first_name": {mark}, "x": {deep}}}]'
    with HostileServer(_answering("/v1/users", lambda r: Answer(200, body))) as server:
        run = run_tap(_config(server), streams=["users"])
    assert run.error is None
    (record,) = run.records("users")
    assert record["first_name"] in ("\ufffd", "[redacted]")
    assert not _leaks(json.dumps(run.messages))


# -- 8: an answer requests refuses is not "retried" -------------------------------------


@contextlib.contextmanager
def _raw_server(answer: bytes) -> t.Iterator[tuple[str, list[bytes]]]:
    """A socket server sending ``answer`` to every request (no HTTP checks at all)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                received.append(conn.recv(65536))
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", received
    finally:
        server.close()


def test_8_two_content_lengths_fail_once_and_say_so(tmp_path):
    body = json.dumps(users([1])).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Length: {len(body) + 5}\r\n"
    with _raw_server(head.encode() + b"\r\n" + body) as (url, received):
        config = _config(type("S", (), {"url": url})())
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    line = result.assert_one_clear_line(code=1)
    assert "not retried" in line
    assert "retries" not in line.replace("not retried", "")
    assert len(received) == 1


# -- 9: a malformed catalog is the catalog's fault -------------------------------------


def _users_entry(catalog: dict) -> dict:
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == "users")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda e: e["schema"].__setitem__("properties", []), "schema.properties"),
        (lambda e: e.__setitem__("schema", None), "schema"),
        (
            lambda e: e["schema"]["properties"].__setitem__(
                "groups", {"type": "array", "items": [{"type": "integer"}]}
            ),
            "schema.properties.groups.items",
        ),
        (lambda e: e["schema"]["properties"].__setitem__("id", {"type": 5}), "id.type"),
        (lambda e: e["metadata"].append({"metadata": {}}), "metadata["),
        (lambda e: e.__setitem__("key_properties", "id"), "key_properties"),
    ],
    ids=["properties-list", "schema-null", "items-list", "type-number", "no-breadcrumb", "keys"],
)
def test_9_a_malformed_catalog_is_refused_in_one_line_naming_the_place(tmp_path, change, where):
    catalog = catalog_selecting(["users"])
    change(_users_entry(catalog))
    with HostileServer(lambda r: json_answer(users([1]))) as server:
        result = run_cli(tmp_path, _config(server), catalog=catalog)
        sent = list(server.requests)
    line = result.assert_one_clear_line(code=1)
    assert "the catalog file is not a Singer catalog: stream 'users'" in line
    assert where in line
    assert sent == []


# -- review of the whole change: an unfinished parent stops the resume position ----------


def test_a_failed_parent_is_read_again_after_a_later_parent_finished():
    tests = [
        {"pst_id": pst, "campaign_id": 9, "status": "Closed", **ONE} for pst in (101, 102, 103)
    ]
    broken = {"on": True}

    def handler(request):
        if request.path == "/v1/phishing/security_tests":  # all at once, then an empty page
            return json_answer(tests if request.query.get("page") in (None, "1") else [])
        if request.path == "/v1/phishing/security_tests/101/recipients" and broken["on"]:
            # every page the same full page: the listing fails, the run goes on
            return json_answer([{"recipient_id": 1, "user": {"id": 1}}, {"recipient_id": 2}])
        if request.path.startswith("/v1/phishing/security_tests/"):
            pst = int(request.path.split("/")[4])
            return json_answer([{"recipient_id": pst * 10, "user": {"id": 1}}])
        return json_answer([])

    streams = ["phishing_security_tests", "phishing_security_test_recipients"]
    with HostileServer(handler) as server:
        # the list, 101 three times (page 1, page 2 the same, the probe: failed), 102
        # (complete); the cap stops the run before 103
        first = run_tap(_config(server, page_size=2, max_requests_per_run=5), streams=streams)
        assert {r["pst_id"] for r in first.records("phishing_security_test_recipients")} >= {102}
        broken["on"] = False
        second = run_tap(_config(server, page_size=2), streams=streams, state=first.final_state)
    assert second.error is None
    read_again = {r["pst_id"] for r in second.records("phishing_security_test_recipients")}
    assert 101 in read_again  # not taken as done because 102, after it, was
    assert 103 in read_again


def test_a_content_length_of_non_ascii_digits_is_not_a_crash(tmp_path):
    body = json.dumps(users([1])).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \xb2\r\n"
    with _raw_server(head + b"Connection: close\r\n\r\n" + body) as (url, _received):
        config = _config(type("S", (), {"url": url})())
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    assert result.returncode == 0, result.stderr[-2000:]
    assert [r["id"] for r in result.records("users")] == [1]


@pytest.mark.parametrize(
    "tap_knowbe4",
    [
        {"streams": {"phishing_security_test_recipients": {"settled": {"\u00b2": 1}}}},
        {"streams": {"user_risk_score_history": {"dates": {"2026-11-01": "\u00b2-\u00b3"}}}},
        {"budget": {"window_start": "2026-11-27T00:00:00Z", "used": 10**400}},
    ],
    ids=["settled-superscript-key", "dates-superscript-range", "used-400-digits"],
)
def test_a_state_with_digits_int_refuses_is_repaired(tmp_path, tap_knowbe4):
    with HostileServer(_answering("/v1/users", lambda r: json_answer(users([1, 2])))) as server:
        state = state_of(_config(server), **tap_knowbe4)
        result = run_cli(
            tmp_path, _config(server), state=state, catalog=catalog_selecting(["users"])
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.records("users")) == 2


def test_a_resumed_run_does_not_call_references_to_carried_streams_dangling(tmp_path):
    """Streams the interrupted run finished send nothing now: their ids are unknown, so
    references to them are not checked (the tidy org has no dangling ones at all)."""
    streams = ["store_purchases", "training_campaigns", "training_enrollments"]
    with sandbox(profile="tidy") as sb:
        config = tap_config(sb, page_size=10)
        capped = {**config, "max_requests_per_run": 4}
        first = run_cli(tmp_path, capped, catalog=catalog_selecting(streams))
        done = first.final_state["tap_knowbe4"]["interrupted"]["streams_done"]
        assert {"store_purchases", "training_campaigns"} <= set(done)
        second = run_cli(
            tmp_path, config, catalog=catalog_selecting(streams), state=first.final_state
        )
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.records("training_enrollments")
    assert "does not list" not in first.stderr + second.stderr
