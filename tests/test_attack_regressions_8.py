"""Regression tests for the eighth adversarial review (/work/notes/attack-8.md).

Each test is one finding (its number in the name), driven through the tap's command line
(``tests.cli.run_cli``) over real HTTP against :mod:`tests.hostile_server`. The property:
exit 0, or an ACTIVATE_VERSION, only when every record upstream was sent.
"""

from __future__ import annotations

import typing as t

import pytest

from tests.cli import run_cli
from tests.hostile_server import Answer, HostileServer, Request, hostile_config, json_answer, users
from tests.singer_output import catalog_selecting

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

IDS = list(range(1, 8))

#: What a server that pages by number may answer to ``cursor=true`` (a cursor it cannot read).
EMPTY_CURSOR_ANSWERS: dict[str, t.Callable[[], Answer]] = {
    "bare": lambda: json_answer([]),
    "envelope-null-cursor": lambda: json_answer({"data": [], "pagination": {"next_cursor": None}}),
    "empty-x-next-cursor": lambda: Answer(
        200, "[]", {"Content-Type": "application/json", "X-Next-Cursor": ""}
    ),
    "has-more-false": lambda: json_answer({"data": [], "has_more": False}),
}


def _by_number(rows: list[dict], request: Request) -> Answer:
    page, per_page = int(request.query.get("page", "1")), int(request.query.get("per_page", "100"))
    return json_answer(rows[(page - 1) * per_page : page * per_page])


def _activated(run: t.Any) -> bool:
    return any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)


@pytest.mark.parametrize("empty", list(EMPTY_CURSOR_ANSWERS), ids=list(EMPTY_CURSOR_ANSWERS))
def test_1_an_empty_answer_to_cursor_true_is_no_empty_list(tmp_path, empty):
    """A server pages ``/v1/users`` by number and answers ``cursor=true`` with no records
    (it takes ``true`` for a cursor it cannot read). The tap took that for an empty list: 0 of
    7 users, exit 0, and the ACTIVATE_VERSION after it deleted every user in a version-aware
    target. Page 1 by number tells; later listings of the stream page by number."""

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        if "cursor" in request.query:
            return EMPTY_CURSOR_ANSWERS[empty]()
        return _by_number(users(IDS), request)

    with HostileServer(handler) as server:
        config = hostile_config(server, emit_activate_version_messages=True)
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(r["id"] for r in run.records("users")) == IDS, run.stderr[-2000:]
    assert _activated(run)
    assert "answered cursor=true with no records, but page 1 with some" in run.stderr


def test_1_the_class_a_child_listing_answered_empty_at_cursor_true(tmp_path):
    """The same in every listing: group members by endpoint, each group's first request
    ``cursor=true`` answered ``[]`` while page 1 lists its members. Every membership is
    sent before the ACTIVATE_VERSION; after the first group the stream pages by number."""
    members = {1: [11, 12, 13], 2: [21, 22, 23, 24, 25], 3: []}

    def handler(request: Request) -> Answer:
        if request.path == "/v1/groups":
            groups = [
                {"id": g, "name": f"g{g}", "member_count": len(m)} for g, m in members.items()
            ]
            return _by_number(groups, request)
        parts = request.path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["v1", "groups"] and parts[3] == "members":
            if "cursor" in request.query:
                return json_answer([])
            return _by_number(users(members[int(parts[2])]), request)
        return json_answer([])

    with HostileServer(handler) as server:
        config = hostile_config(
            server, emit_activate_version_messages=True, group_members_source="endpoint"
        )
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["groups", "group_members"]))
        asked = [(r.path, r.raw_query) for r in server.requests]
    sent = {(r["group_id"], r["user_id"]) for r in run.records("group_members")}
    assert sent == {(g, u) for g, ids in members.items() for u in ids}, run.stderr[-2000:]
    assert run.returncode == 0, run.stderr[-2000:]
    assert _activated(run)
    cursors = [q for path, q in asked if path.endswith("/members") and "cursor" in q]
    assert len(cursors) == 1, asked  # only the first group's listing asked for a cursor


def test_1_an_empty_list_still_ends_after_one_request_more(tmp_path):
    """Over-correction guard: a list that is empty both ways ends (exit 0) after page 1 by
    number; a server that named a cursor for the stream before is believed at once for its
    later empty listings. (A run every list of which is empty sends no ACTIVATE_VERSION:
    attack 10 #5.)"""

    def handler(request: Request) -> Answer:
        if request.path == "/v1/users":
            return json_answer([])
        return json_answer([])

    with HostileServer(handler) as server:
        config = hostile_config(server, emit_activate_version_messages=True)
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
        asked = [(r.path, r.raw_query) for r in server.requests if r.path == "/v1/users"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("users") == []
    assert not _activated(run)  # the only list of the run was empty (attack 10 #5)
    assert asked == [("/v1/users", "per_page=2&cursor=true"), ("/v1/users", "per_page=2&page=1")]


# -- 2: cursor=true refused with another status than 400 ------------------------------------


@pytest.mark.parametrize("status", [404, 410, 422])
def test_2_cursor_true_refused_with_another_status_is_paged_by_number(tmp_path, status):
    """A server listing by page number refuses the cursor it cannot read with 404, 410 or
    422 (a validation error, as FastAPI answers): only a 400 fell back to page numbers, so
    every run failed at once, exit 1, with a line naming the status and not the cursor
    (nothing to act on: ``pagination: page`` was the way out)."""

    def handler(request: Request) -> Answer:
        if request.path != "/v1/users":
            return json_answer([])
        if "cursor" in request.query:
            return json_answer({"message": "invalid cursor"}, status=status)
        return _by_number(users(IDS), request)

    with HostileServer(handler) as server:
        config = hostile_config(server, emit_activate_version_messages=True)
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(r["id"] for r in run.records("users")) == IDS
    assert f"refused the cursor parameter (HTTP {status}); paging by number" in run.stderr


def test_2_a_list_refused_by_number_too_is_still_one_line(tmp_path):
    """Over-correction guard: an endpoint answering 404 to every request (it is not there)
    fails in one line naming the status, after one request more (page 1 by number)."""

    def handler(request: Request) -> Answer:
        if request.path == "/v1/users":
            return json_answer({"message": "Not Found"}, status=404)
        return json_answer([])

    with HostileServer(handler) as server:
        run = run_cli(tmp_path, hostile_config(server), catalog=catalog_selecting(["users"]))
        asked = [r.raw_query for r in server.requests if r.path == "/v1/users"]
    line = run.assert_one_clear_line(code=1)
    assert "GET /v1/users answered 404" in line
    assert asked == ["per_page=2&cursor=true", "per_page=2&page=1"]


# -- 4: a record dropped for its key, then readable: state must not have moved past it -----

PST = {
    "pst_id": 5,
    "status": "Closed",
    "name": "t",
    "started_at": "2026-01-05T10:00:00.000Z",
    "scheduled_count": 3,
    "delivered_count": 3,
    "opened_count": 1,
}


def _first_page_only(rows: list[dict], request: Request) -> Answer:
    cursor = request.query.get("cursor")
    first = cursor in (None, "true") and request.query.get("page", "1") == "1"
    return json_answer(rows if first else [])


def test_4_a_test_whose_recipient_was_dropped_is_not_settled(tmp_path):
    """Recipient 2 of a closed, old test came with ``recipient_id: "R-2"``: dropped (its
    key cannot be read, one warning), yet the test was settled, so once the API sent it
    readable (same counters) it was never read again: recipient 2 never loaded, exit 0."""
    bad = [True]

    def handler(request: Request) -> Answer:
        if request.path == "/v1/phishing/security_tests":
            return _first_page_only([PST], request)
        if request.path == "/v1/phishing/security_tests/5/recipients":
            ids = [1, "R-2" if bad[0] else 2, 3]
            rows = [{"recipient_id": r, "user": {"id": 100 + n}} for n, r in enumerate(ids)]
            return _first_page_only(rows, request)
        return json_answer([])

    catalog = catalog_selecting(["phishing_security_tests", "phishing_security_test_recipients"])
    with HostileServer(handler) as server:
        config = hostile_config(server, page_size=50)
        first = run_cli(tmp_path, config, catalog=catalog)
        bad[0] = False
        second = run_cli(tmp_path, config, catalog=catalog, state=first.final_state)
    assert first.returncode == second.returncode == 0, second.stderr[-2000:]
    stream = "phishing_security_test_recipients"
    assert [r["recipient_id"] for r in first.records(stream)] == [1, 3]
    assert [r["recipient_id"] for r in second.records(stream)] == [1, 2, 3], second.stderr[-2000:]


@pytest.mark.parametrize("owner", ["account", "group"])
def test_4_a_risk_point_dropped_for_its_date_does_not_move_the_bookmark(tmp_path, owner):
    """The class: a risk point dated ``N/A`` (its key) was dropped and the owner's bookmark
    moved to the newest point; sent later as 2026-10-08, before that bookmark, it was never
    loaded (account and group histories alike). The bookmark stays until every point of the
    owner's history was read."""
    bad = [True]
    path = {"account": "/v1/account/risk_score_history", "group": "/v1/groups/7/risk_score_history"}

    def handler(request: Request) -> Answer:
        if request.path == "/v1/groups":
            return _first_page_only([{"id": 7, "name": "g"}], request)
        if request.path == path[owner]:
            dates = ["2026-10-01", "N/A" if bad[0] else "2026-10-08", "2026-10-15"]
            points = [{"risk_score": 30.0 + n, "date": d} for n, d in enumerate(dates)]
            return _first_page_only(points, request)
        return json_answer([])

    stream = f"{owner}_risk_score_history"
    catalog = catalog_selecting([stream, *(["groups"] if owner == "group" else [])])
    with HostileServer(handler) as server:
        config = hostile_config(server, page_size=50)
        first = run_cli(tmp_path, config, catalog=catalog)
        bad[0] = False
        second = run_cli(tmp_path, config, catalog=catalog, state=first.final_state)
    assert first.returncode == second.returncode == 0, second.stderr[-2000:]
    assert [p["date"] for p in first.records(stream)] == ["2026-10-01", "2026-10-15"]
    assert "2026-10-08" in [p["date"] for p in second.records(stream)], second.stderr[-2000:]


# -- 5: a user's groups that cannot be read ---------------------------------------------------


@pytest.mark.parametrize(
    "groups", [10, "10,20", {"ids": [10, 20]}, [10, "twenty"]], ids=["int", "csv", "obj", "item"]
)
def test_5_memberships_of_unreadable_groups_are_not_activated(tmp_path, groups):
    """User 1's ``groups`` came as something no group ids can be read from. A scalar crashed
    the users stream (``TypeError: 'int' object is not iterable`` while pricing its children,
    exit 1, every run); text or an object loaded ``groups`` as null (one warning about users)
    and group_members, derived from it, sent ACTIVATE_VERSION without user 1's memberships, so
    a version-aware target deleted them, exit 0. Now the run ends 0, user 2's memberships are
    sent, and group_members is not activated."""
    rows = [
        {"id": 1, "email": "a@x", "status": "active", "groups": groups},
        {"id": 2, "email": "b@x", "status": "active", "groups": [20]},
    ]

    def handler(request: Request) -> Answer:
        if request.path == "/v1/users":
            return _first_page_only(rows, request)
        return json_answer([])

    with HostileServer(handler) as server:
        config = hostile_config(server, page_size=50, emit_activate_version_messages=True)
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users", "group_members"]))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert (20, 2) in {(m["group_id"], m["user_id"]) for m in run.records("group_members")}
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    assert "group_members" not in activated, run.stderr[-2000:]
    assert "users" in activated


# -- 6: a parent whose id cannot be read --------------------------------------------------

#: Each fan-out: extra settings, the streams selected, the parent's list, its child.
FAN_OUTS = {
    "user-risk-history": (
        {"include_user_risk_score_history": True},
        "/v1/users",
        "user_risk_score_history",
    ),
    "members-by-endpoint": ({"group_members_source": "endpoint"}, "/v1/groups", "group_members"),
    "group-risk-history": ({}, "/v1/groups", "group_risk_score_history"),
    "recipients": ({}, "/v1/phishing/security_tests", "phishing_security_test_recipients"),
    "members-from-users": ({}, "/v1/users", "group_members"),
}
PARENT_STREAM = {
    "/v1/users": "users",
    "/v1/groups": "groups",
    "/v1/phishing/security_tests": "phishing_security_tests",
}


#: One child row under each kind of fan-out path (by the tail of its path).
CHILDREN: dict[str, list[dict]] = {
    "/members": [{"id": 7}],
    "/recipients": [{"recipient_id": 1, "user": {"id": 7}}],
    "/risk_score_history": [{"date": "2026-10-01", "risk_score": 1.0}],
}


def _fan_out_handler(parents: dict[str, list[dict]]) -> t.Callable[[Request], Answer]:
    """A server of ``parents`` (by path) and :data:`CHILDREN`, each on one page."""

    def handler(request: Request) -> Answer:
        if request.path in parents:
            return _first_page_only(parents[request.path], request)
        for tail, rows in CHILDREN.items():
            if request.path.endswith(tail):
                return _first_page_only(rows, request)
        return json_answer([])

    return handler


@pytest.mark.parametrize("bad_id", ["U-1", {"id": 1}], ids=["text", "object"])
@pytest.mark.parametrize("fan_out", list(FAN_OUTS))
def test_6_a_parent_whose_id_cannot_be_read_neither_crashes_nor_activates(
    tmp_path, fan_out, bad_id
):
    """The first parent of a list comes with an id the cleaner cannot read (``"U-1"``, an
    object): it is dropped with a warning, as any such record. Every fan-out crashed before
    its children were read (``TypeError: '>=' not supported`` while the page's children were
    priced against the state's ids), exit 1, every run; and with memberships derived from
    users, group_members was activated without that user's, deleting them. Now the other
    parent's children are read, exit 0, and a full-table child is not activated."""
    extra, parent_path, child = FAN_OUTS[fan_out]
    parents = {
        "/v1/users": [{"id": 7, "email": "b@x", "status": "active", "groups": [20]}],
        "/v1/groups": [{"id": 20, "name": "b"}],
        "/v1/phishing/security_tests": [
            {"pst_id": 6, "status": "Closed", "started_at": "2026-01-01T00:00:00Z"}
        ],
    }
    key = "pst_id" if "security_tests" in parent_path else "id"
    bad = {**parents[parent_path][0], key: bad_id}
    parents[parent_path] = [bad, *parents[parent_path]]
    scheduled = {
        path: [{**row, "scheduled_count": 1} for row in rows] for path, rows in parents.items()
    }
    streams = [PARENT_STREAM[parent_path], child]
    with HostileServer(_fan_out_handler(scheduled)) as server:
        config = hostile_config(server, page_size=50, emit_activate_version_messages=True, **extra)
        run = run_cli(tmp_path, config, catalog=catalog_selecting(streams))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert "TypeError" not in run.stderr
    assert len(run.records(child)) == 1, run.stderr[-2000:]
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    assert not activated, activated  # the parent dropped a record; the child is not whole


# -- 7: a parent's count that is not a number -----------------------------------------------


@pytest.mark.parametrize(
    "count",
    ["3", "N/A", {"n": 3}, [3], 2.5, True],
    ids=["digits", "na", "obj", "list", "2.5", "true"],
)
@pytest.mark.parametrize("fan_out", ["members-by-endpoint", "recipients"])
def test_7_a_parents_count_as_text_or_unreadable_neither_crashes_nor_hides_children(
    tmp_path, fan_out, count
):
    """A group's ``member_count`` or a test's ``scheduled_count`` sent as text (``"3"``, which
    the README promises to read exactly), ``"N/A"``, an object or a list crashed the sync and
    ``--plan`` every run (``TypeError: '<=' not supported`` pricing the children on the raw
    page, exit 1; ``--plan`` said "please report it"); ``2.5`` or ``true`` for
    ``scheduled_count`` loaded as null and the test was taken for an errored one: its
    recipients were never read, exit 0. Now the children are read and the plan is printed."""
    extra, parent_path, child = FAN_OUTS[fan_out]
    field = "member_count" if fan_out.startswith("members") else "scheduled_count"
    key = "pst_id" if "security_tests" in parent_path else "id"
    parent = {key: 6, "name": "g", "status": "Closed", "started_at": "2026-01-01T00:00:00Z"}
    streams = [PARENT_STREAM[parent_path], child]
    with HostileServer(_fan_out_handler({parent_path: [{**parent, field: count}]})) as server:
        config = hostile_config(server, page_size=50, **extra)
        run = run_cli(tmp_path, config, catalog=catalog_selecting(streams))
        plan = run_cli(tmp_path, config, "--plan", catalog=catalog_selecting(streams))
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records(child)) == 1, run.stderr[-2000:]
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "TypeError" not in run.stderr + plan.stderr


# -- 8: wrong-but-plausible settings say what is wrong -------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("api_url", "{url}/v1", "api_url holds the API version (/v1)"),
        ("api_url", "{url}/v1/", "api_url holds the API version (/v1)"),
        ("api_url", "{url}/v1/users", "api_url holds the API version (/v1)"),
        ("api_key", '"{key}"', "api_key is in quotes"),
        ("api_key", "'{key}'", "api_key is in quotes"),
    ],
    ids=["v1", "v1-slash", "v1-users", "double-quotes", "single-quotes"],
)
def test_8_a_setting_copied_with_too_much_says_so_before_any_request(
    tmp_path, setting, value, says
):
    """The API address copied with its ``/v1`` failed every run on ``GET /v1/v1/groups
    answered 404``; a key kept in its quotes (a ``.env`` or shell line) on "The API key was
    rejected": true lines that did not say what to change. Now one configuration line
    naming it, no request, the key never printed."""
    with HostileServer(lambda request: json_answer([])) as server:
        config = hostile_config(server)
        config[setting] = value.format(url=server.url, key=config["api_key"])
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users", "groups"]))
        requests = len(server.requests)
    line = run.assert_one_clear_line(code=1)
    assert says in line
    assert requests == 0
    assert config["api_key"].strip("'\"") not in run.stderr + run.stdout
