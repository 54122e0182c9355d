"""A parent whose own fields say it has children, listed with none: positive evidence of nothing.

The product promise: exit 0 means the data is there, and nothing in the warehouse is deleted
that exists upstream. ACTIVATE_VERSION makes a version-aware target drop every row not sent
again, so a child stream may only be activated when every parent's children were listed. A
group whose ``member_count`` is 3 answering ``/v1/groups/{id}/members`` with ``[]`` (200: a
proxy, an API's slip) is no proof that the group is empty: its list is asked once more, and
still empty, ``group_members`` is not activated (the target keeps its rows) and one line says
so. The sibling of attack 11 #5 (a sent phishing test whose recipients answered ``[]``).
"""

from __future__ import annotations

import typing as t

import pytest

from tests.airbyte_output import Source, configured_catalog
from tests.cli import run_cli
from tests.hostile_server import Answer, HostileServer, Request, hostile_config, json_answer
from tests.hostile_server import users as make_users
from tests.singer_output import catalog_selecting
from tests.test_attack_regressions_10 import RAN, _lists_server

MEMBERS = {1: [11, 12, 13], 2: [21, 22], 3: []}


def _groups_server(empty_answers: int) -> tuple[t.Callable[[Request], Answer], list[str]]:
    """Groups 1-3 with their ``member_count``; group 1's members answer ``[]`` (200) for its
    first ``empty_answers`` listings. The paths of member listings asked are kept."""
    asked: list[str] = []

    def handler(request: Request) -> Answer:
        first = request.query.get("page", "1") == "1" and "cursor" not in request.query
        if request.path == "/v1/groups":
            groups = [
                {"id": g, "name": f"g{g}", "member_count": len(m)} for g, m in MEMBERS.items()
            ]
            return json_answer(groups if first else [])
        parts = request.path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["v1", "groups"] and parts[3] == "members":
            group = int(parts[2])
            if first:
                asked.append(request.path)
            if group == 1 and asked.count(request.path) <= empty_answers:
                return json_answer([])
            return json_answer(make_users(MEMBERS[group]) if first else [])
        return json_answer([])

    return handler, asked


def _run(tmp_path, empty_answers: int):
    handler, asked = _groups_server(empty_answers)
    with HostileServer(handler) as server:
        config = hostile_config(
            server,
            page_size=500,
            pagination="page",
            emit_activate_version_messages=True,
            group_members_source="endpoint",
        )
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["groups", "group_members"]))
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    members = {(r["group_id"], r["user_id"]) for r in run.records("group_members")}
    return run, activated, members, asked


def test_a_group_with_members_listed_empty_twice_is_not_activated(tmp_path):
    """Session 10's open defect: group 1 (``member_count`` 3) answering its members with
    ``[]`` every time was read as empty, ``group_members`` activated, and a version-aware
    target deleted group 1's three memberships, exit 0. Now the list is asked once more;
    still empty, the stream is not activated (the target keeps its rows) and one line says
    why. The run exits 0, as attack 11 #5 and attack 10 #4 do: the count may be stale in the
    real API (the reference does not say what ``member_count`` counts), and a count that
    stays wrong must not fail every run."""
    run, activated, members, asked = _run(tmp_path, empty_answers=99)
    assert run.returncode == 0, run.stderr[-2000:]
    assert members == {(2, 21), (2, 22)}
    assert "group_members" not in activated, run.stderr[-2000:]
    assert "groups" in activated  # the parent list itself was read whole
    assert asked.count("/v1/groups/1/members") == 2  # asked once more, no more
    assert asked.count("/v1/groups/3/members") == 1  # a group that says it is empty: once
    assert "member_count says they have members listed none, asked twice" in run.stderr
    assert "group_members not activated" in run.stderr


def test_a_group_with_members_listed_empty_once_is_read_again_and_activated(tmp_path):
    """An empty answer once (a proxy's slip): the second listing has the three members, every
    membership is sent and the stream activated, one request more than the groups."""
    run, activated, members, asked = _run(tmp_path, empty_answers=1)
    assert run.returncode == 0, run.stderr[-2000:]
    assert members == {(g, u) for g, ids in MEMBERS.items() for u in ids}
    assert "group_members" in activated, run.stderr[-2000:]
    assert asked.count("/v1/groups/1/members") == 2
    assert "answered none against their own count: asked again" in run.stderr


def test_control_groups_that_say_they_are_empty_cost_one_request_and_activate(tmp_path):
    """Over-correction guard: no contradicted group, no request more, activated as before."""
    run, activated, members, asked = _run(tmp_path, empty_answers=0)
    assert run.returncode == 0, run.stderr[-2000:]
    assert members == {(g, u) for g, ids in MEMBERS.items() for u in ids}
    assert "group_members" in activated
    assert sorted(asked) == [f"/v1/groups/{g}/members" for g in (1, 2, 3)]
    assert "asked again" not in run.stderr


@pytest.mark.parametrize("count", ["N/A", None, 2.5, True])
def test_a_member_count_that_cannot_be_read_says_nothing(tmp_path, count):
    """A ``member_count`` sent as ``N/A``, null, ``2.5`` or ``true`` is no evidence either
    way: an empty list is believed at once (one request) and the stream activated, as before.
    (Digits as text, ``"3"``, the cleaner reads as 3: that one is evidence.)"""

    def handler(request: Request) -> Answer:
        first = request.query.get("page", "1") == "1" and "cursor" not in request.query
        if request.path == "/v1/groups":
            return json_answer([{"id": 1, "name": "g1", "member_count": count}] if first else [])
        if request.path == "/v1/users":
            return json_answer(make_users([5]) if first else [])
        return json_answer([])

    with HostileServer(handler) as server:
        config = hostile_config(
            server,
            page_size=500,
            pagination="page",
            emit_activate_version_messages=True,
            group_members_source="endpoint",
        )
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["groups", "group_members"]))
        asked = [r.path for r in server.requests if r.path.endswith("/members")]
    assert run.returncode == 0, run.stderr[-2000:]
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    assert "group_members" in activated, run.stderr[-2000:]
    assert asked == ["/v1/groups/1/members"]


def test_a_sent_test_whose_recipients_answered_empty_once_is_read_again_at_once(tmp_path):
    """Attack 11 #5's sibling, now asked again in the same run: a sent test (scheduled 2)
    whose recipients answered ``[]`` once has them read by the second listing, and the test
    settles in this run (the next run asks nothing)."""
    test = {**RAN, "scheduled_count": 2, "pst_id": 1, "started_at": "2025-01-06T14:00:00.000Z"}
    asked: list[str] = []

    def handler(request: Request) -> Answer:
        first = request.query.get("page", "1") == "1" and "cursor" not in request.query
        if request.path == "/v1/phishing/security_tests":
            return json_answer([test] if first else [])
        if request.path.endswith("/recipients"):
            if first:
                asked.append(request.path)
            if len(asked) == 1:
                return json_answer([])
            rows = [{"recipient_id": 10 + n, "pst_id": 1, "user": {"id": n}} for n in (1, 2)]
            return json_answer(rows if first else [])
        return json_answer([])

    recipients = "phishing_security_test_recipients"
    catalog = catalog_selecting(["phishing_security_tests", recipients])
    with HostileServer(handler) as server:
        config = hostile_config(server, page_size=500, pagination="page")
        (tmp_path / "1").mkdir()
        (tmp_path / "2").mkdir()
        first_run = run_cli(tmp_path / "1", config, catalog=catalog)
        assert first_run.returncode == 0, first_run.stderr[-2000:]
        assert sorted(r["recipient_id"] for r in first_run.records(recipients)) == [11, 12]
        assert len(asked) == 2
        second = run_cli(tmp_path / "2", config, catalog=catalog, state=first_run.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(asked) == 2  # settled by the first run's second listing


ENROLLMENTS = [
    {"enrollment_id": 1, "user": {"id": 1}, "module_name": "Phishing 101"},
    {"enrollment_id": 2, "user": {"id": 2}, "module_name": "Phishing 101"},
]


def _users_empty_run(tmp_path, enrollments: list[dict]):
    lists = {"/v1/training/enrollments": enrollments}
    with HostileServer(_lists_server(lists)) as server:
        config = hostile_config(
            server, page_size=500, pagination="page", emit_activate_version_messages=True
        )
        run = run_cli(
            tmp_path, config, catalog=catalog_selecting(["users", "training_enrollments"])
        )
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    return run, activated


def test_an_empty_list_whose_records_other_records_name_is_not_activated(tmp_path):
    """The same class across lists: ``/v1/users`` answering ``[]`` (200) while the
    enrollments read in the same run name users 1 and 2. The empty list was activated
    (another list held records: attack 10 #5's evidence) and a version-aware target deleted
    every user, exit 0. Records naming one of its records contradict an empty list: not
    activated, one summary line; the enrollments are activated as before."""
    run, activated = _users_empty_run(tmp_path, ENROLLMENTS)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "users" not in activated, run.stderr[-2000:]
    assert "training_enrollments" in activated
    assert "listed none while 2 enrollments read in this run name one" in run.stderr


def test_control_an_empty_list_no_record_names_is_activated(tmp_path):
    """Over-correction guard: enrollments without a user (``user`` null, as the API sends
    for deleted users) name none: the empty users list is activated as before."""
    run, activated = _users_empty_run(tmp_path, [{**e, "user": None} for e in ENROLLMENTS])
    assert run.returncode == 0, run.stderr[-2000:]
    assert activated == {"users", "training_enrollments"}


def test_airbyte_an_empty_list_that_other_records_name_is_incomplete(tmp_path):
    """``source-knowbe4``: the same read ends ``users`` INCOMPLETE with one error TRACE,
    exit 1, so a destination overwriting it keeps its table; enrollments COMPLETE."""
    lists = {"/v1/training/enrollments": ENROLLMENTS}
    with HostileServer(_lists_server(lists)) as server:
        source = Source(tmp_path, hostile_config(server, page_size=500, pagination="page"))
        catalog = configured_catalog(source.discover().catalog, ["users", "training_enrollments"])
        run = source.read(catalog)
    assert run.code == 1, run.text[-3000:]
    assert run.final_statuses == {"users": "INCOMPLETE", "training_enrollments": "COMPLETE"}
    (error,) = run.errors
    assert error["message"].startswith("Reads contradicted: users listed none while 2")


def _derived_run(tmp_path, user_groups: dict[int, list[int]], counts: dict[int, int]):
    """Users 1-3 with ``groups`` as ``user_groups`` says; groups with ``counts``."""
    users = [
        {**make_users([u])[0], **({"groups": g} if g is not None else {})}
        for u, g in user_groups.items()
    ]
    groups = [{"id": g, "name": f"g{g}", "member_count": n} for g, n in counts.items()]
    lists = {"/v1/users": users, "/v1/groups": groups}
    with HostileServer(_lists_server(lists)) as server:
        config = hostile_config(
            server, page_size=500, pagination="page", emit_activate_version_messages=True
        )
        run = run_cli(
            tmp_path, config, catalog=catalog_selecting(["users", "groups", "group_members"])
        )
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    return run, activated


def test_derived_memberships_missing_a_group_that_counts_members_are_not_activated(tmp_path):
    """``group_members_source: users`` (the default): group 20 says it has 2 members, but the
    users listed in the same run name only group 10 (a ``groups`` field dropped from users 2
    and 3: a proxy, an API's slip; attack 10 #4 caught only a list where no user has it).
    ``group_members`` was activated and a version-aware target deleted group 20's
    memberships, exit 0. Now not activated, one summary line."""
    run, activated = _derived_run(tmp_path, {1: [10], 2: [], 3: []}, {10: 1, 20: 2})
    assert run.returncode == 0, run.stderr[-2000:]
    assert {(r["group_id"], r["user_id"]) for r in run.records("group_members")} == {(10, 1)}
    assert "group_members" not in activated, run.stderr[-2000:]
    assert {"users", "groups"} <= activated
    assert "member_count says they have members named by no user: 1" in run.stderr


def test_control_derived_memberships_fewer_than_counted_are_activated(tmp_path):
    """Over-correction guard: group 20 counts 3 members and users name it twice (archived
    users may be counted): taken as listed, activated as before; so is a group counting 0."""
    run, activated = _derived_run(tmp_path, {1: [10, 20], 2: [20], 3: []}, {10: 1, 20: 3, 30: 0})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "group_members" in activated, run.stderr[-2000:]


def test_an_empty_groups_list_that_users_name_is_not_activated(tmp_path):
    """``/v1/groups`` answering ``[]`` (200) while the users read in the same run name groups
    10 and 20: activated on attack 10 #5's evidence (users held records), every group deleted
    by a version-aware target, exit 0. Now not activated, one summary line; users and the
    memberships derived from them are activated."""
    users = [{**make_users([1])[0], "groups": [10, 20]}, {**make_users([2])[0], "groups": []}]
    with HostileServer(_lists_server({"/v1/users": users})) as server:
        config = hostile_config(
            server, page_size=500, pagination="page", emit_activate_version_messages=True
        )
        run = run_cli(
            tmp_path, config, catalog=catalog_selecting(["users", "groups", "group_members"])
        )
    assert run.returncode == 0, run.stderr[-2000:]
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated == {"users", "group_members"}, run.stderr[-2000:]
    assert "listed none while users read in this run name 2 groups" in run.stderr


def test_airbyte_a_group_with_members_listed_empty_twice_is_incomplete(tmp_path):
    """``source-knowbe4`` with ``group_members_source: endpoint``: group 1 (count 3) answering
    ``[]`` every time ended ``group_members`` COMPLETE, exit 0, and an overwrite deleted its
    memberships, where the Singer tap no longer activates it. Now INCOMPLETE with one error
    TRACE naming why, exit 1; ``groups`` COMPLETE."""
    handler, _ = _groups_server(empty_answers=99)
    with HostileServer(handler) as server:
        config = hostile_config(
            server, page_size=500, pagination="page", group_members_source="endpoint"
        )
        source = Source(tmp_path, config)
        run = source.read(
            configured_catalog(source.discover().catalog, ["groups", "group_members"])
        )
    assert run.code == 1, run.text[-3000:]
    assert run.final_statuses == {"groups": "COMPLETE", "group_members": "INCOMPLETE"}
    (error,) = run.errors
    assert "group_members groups whose member_count says they have members" in error["message"]


def test_an_empty_tests_list_whose_campaigns_say_they_have_tests_is_not_activated(tmp_path):
    """``/v1/phishing/security_tests`` answering ``[]`` (200) while the campaigns read in the
    same run say they have tests (``psts_count`` 1, ``psts`` naming test 5): activated on
    attack 10 #5's evidence, every test deleted by a version-aware target, exit 0. The
    campaigns' own summary contradicts the empty list: not activated, one summary line. A
    campaign that says it has none leaves the empty list activated (control)."""
    campaign = {"campaign_id": 1, "name": "Quarterly", "psts_count": 1, "psts": [{"pst_id": 5}]}
    for said, kept in ((campaign, True), ({**campaign, "psts_count": 0, "psts": []}, False)):
        lists = {"/v1/phishing/campaigns": [said]}
        with HostileServer(_lists_server(lists)) as server:
            config = hostile_config(
                server, page_size=500, pagination="page", emit_activate_version_messages=True
            )
            streams = ["phishing_campaigns", "phishing_security_tests"]
            run = run_cli(tmp_path, config, catalog=catalog_selecting(streams))
        assert run.returncode == 0, run.stderr[-2000:]
        activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
        assert ("phishing_security_tests" not in activated) is kept, run.stderr[-2000:]
        assert ("say they have tests: not activated" in run.stderr) is kept
