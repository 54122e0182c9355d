"""Property-based test of the HTTP layer: a generated server script, and what must always hold.

Hypothesis writes a script for a loopback server holding a list of users: for each request,
in order, either the right page or something else (a status code, headers, a body of any
shape, size or encoding); once the script is used up the server answers correctly. Whatever
the script, the run

* ends with no error, or with an error the command line prints as one line (no traceback);
* never shows the key, in the output or the log;
* never waits longer than its settings allow (each wait, a 429's or a retry's, at most
  ``max_retry_wait_seconds``: the waits the run asks for, recorded, not a clock);
* never ends without error (exit 0) with fewer records than the server holds, unless it
  stopped cleanly for the quota with a state to resume from; never with a duplicate key or
  a record that does not fit its schema.
"""

from __future__ import annotations

import gzip
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import ConfigValidationError

from tap_knowbe4.errors import KnowBe4Error, TerminationRequestedError
from tap_knowbe4.outcome import StopKind
from tests.hostile_server import Answer, HostileServer, hostile_config, users
from tests.singer_output import check_singer, run_tap
from tests.tap_waits import recorded_waits

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

KEY = "kb4-hostile-SECRET-9f8e7d6c5b4a"
ROWS = users(range(1, 8))
PAGE = 3

JSON_BODIES = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=20),
    st.booleans(),
    st.just({}),
    st.just({"message": "Invalid Token"}),
    st.just({"data": "x", "pagination": {}}),
    st.just({"data": [], "pagination": "next"}),
    # arrays holding something other than records (a valid array of records would be a
    # different list, which no client can tell from the truth)
    st.lists(
        st.one_of(st.none(), st.integers(), st.just({"id": "abc"})), min_size=1, max_size=3
    ).filter(lambda items: any(not isinstance(i, dict) for i in items)),
)
RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    st.just(b"[1, 2"),
    st.just(b"\xff\xfe\x00["),
    st.just(b'["\\ud800"]'),
    st.just(b"[NaN, Infinity]"),
)
HEADERS = st.dictionaries(
    st.sampled_from(
        ["Retry-After", "X-Next-Cursor", "Link", "X-Request-Id", "Content-Encoding", "Location"]
    ),
    st.one_of(
        st.sampled_from(
            [
                "1",
                "0",
                "-3",
                "inf",
                "1e30",
                "Fri, 31 Dec 9999 23:59:59 GMT",
                "",
                "gzip",
                '<http://evil.example/?cursor=%2B>; rel="next"',
                "http://evil.example/",
                KEY,
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    ),
    max_size=3,
)
STATUSES = st.sampled_from(
    [200, 201, 204, 301, 302, 400, 401, 403, 404, 406, 418, 429, 500, 502, 503, 504]
)


@st.composite
def deviations(draw):
    status = draw(STATUSES)
    headers = draw(HEADERS)
    kind = draw(st.sampled_from(["json", "raw", "right-page", "gzip-garbage", "key-echo"]))
    if kind == "json":
        body = json.dumps(draw(JSON_BODIES)).encode()
    elif kind == "raw":
        body = draw(RAW_BODIES)
    elif kind == "gzip-garbage":
        headers = {**headers, "Content-Encoding": "gzip"}
        body = gzip.compress(b"[" * 10)[:-4]
    elif kind == "key-echo":
        body = b""  # the right page, a record holding the key (a server echoing it)
    else:
        body = b""  # the right page, with the drawn status and headers
    return {"status": status, "headers": headers, "body": body, "kind": kind}


def _right_page(request) -> bytes:
    page = int(request.query.get("page", 1))
    return json.dumps(ROWS[(page - 1) * PAGE : page * PAGE]).encode()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(deviations(), max_size=4))
def test_whatever_the_server_sends(caplog, script):
    caplog.set_level(logging.INFO)
    remaining = list(script)

    def answer(request):
        if not remaining:
            return Answer(200, _right_page(request))
        step = remaining.pop(0)
        body = step["body"]
        if step["kind"] == "right-page":
            body = _right_page(request)
        elif step["kind"] == "key-echo":
            page = json.loads(_right_page(request))
            body = json.dumps([{**r, "email": KEY} for r in page]).encode()
        return Answer(step["status"], body, step["headers"])

    with HostileServer(answer) as server, pytest.MonkeyPatch.context() as patch:
        waits = recorded_waits(patch)
        config = hostile_config(server, page_size=PAGE, max_retries=2, quota_wait_seconds=0.3)
        config["request_timeout_seconds"] = 2
        run = run_tap(config, streams=["users"])
    error = run.error
    assert error is None or isinstance(
        error, (KnowBe4Error, ConfigValidationError, TerminationRequestedError)
    ), repr(error)
    assert all(w <= config["max_retry_wait_seconds"] for w in waits), waits
    assert KEY not in caplog.text
    assert KEY not in str(error)
    assert KEY not in json.dumps(run.messages)  # even where a server put it into a record
    check_singer(run)
    if error is None and run.tap is not None and run.tap.run.report.stop_kind is StopKind.BUDGET:
        if run.tap.run.key_accepted:
            # a clean stop for the quota (exit 0 by design): the state must resume the rest
            assert run.final_state["tap_knowbe4"]["interrupted"] is not None
        else:  # stopped before any readable page: no state of its own (none was given)
            assert "tap_knowbe4" not in (run.final_state or {}), run.final_state
    elif error is None:
        ids = {r["id"] for r in run.records("users")}
        assert ids >= {r["id"] for r in ROWS}, (sorted(ids), script)
