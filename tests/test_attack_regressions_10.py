"""Regression tests for the tenth adversarial review (/work/notes/attack-10.md).

Each test is one finding (its number in the name). The property: a sequence of runs whose
settings change between them loses nothing that exists upstream, and exit 0 means the data
is there.
"""

from __future__ import annotations

import typing as t

import pytest

from tap_knowbe4.shapes import stream_shape
from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.hostile_server import Answer, HostileServer, Request, hostile_config, json_answer
from tests.singer_output import PRIMARY_KEYS, catalog_selecting

RISK = "account_risk_score_history"
RECIPIENTS = "phishing_security_test_recipients"


def _keys(records: t.Iterable[dict], stream: str) -> set[tuple]:
    return {tuple(r[k] for k in PRIMARY_KEYS[stream]) for r in records}


#: ``__else__: null`` removes every stream no map names as its own (the SDK's default mapper
#: becomes "remove"); a stream named only as another map's ``__source__`` is removed too.
ELSE_REMOVES = {
    "only-an-alias-kept": {"groups": {"__alias__": "groups_renamed"}, "__else__": None},
    "__NULL__-spelled": {"groups": {"__alias__": "groups_renamed"}, "__else__": "__NULL__"},
}


@pytest.mark.slow
@pytest.mark.parametrize("maps", list(ELSE_REMOVES.values()), ids=list(ELSE_REMOVES))
def test_1_a_stream_removed_by_else_null_keeps_no_bookmark_for_its_own_name(tmp_path, maps):
    """A run with ``stream_maps: {groups: {__alias__: ...}, __else__: null}`` sent only the
    renamed groups, yet the risk histories' bookmarks moved and every phishing test's
    recipients were settled under the stream's own (unmapped) shape: the next run without
    the map sent 1 of 157 account risk points and 33 of 304 recipients, exit 0. What a run
    keeps for a stream removed by ``__else__`` is kept under a shape of its own."""
    streams = [RISK, "groups", "phishing_security_tests", RECIPIENTS]
    with sandbox() as sb:
        config = tap_config(sb)
        catalog = catalog_selecting(streams)
        first = run_cli(tmp_path, {**config, "stream_maps": maps}, catalog=catalog)
        assert first.returncode == 0, first.stderr[-2000:]
        assert not first.records(RISK)
        assert not first.records(RECIPIENTS)
        sb.advance(days=1)
        second = run_cli(tmp_path, config, catalog=catalog, state=first.final_state)
        truth = {s: _keys(expected_records(sb.org, s), s) for s in (RISK, RECIPIENTS)}
    assert second.returncode == 0, second.stderr[-2000:]
    for stream, keys in truth.items():
        assert _keys(second.records(stream), stream) == keys, stream


def test_1_else_null_shapes_the_streams_no_map_names_as_their_own():
    """The class, by the SDK's rules: ``__else__: null`` removes a stream unless a map names
    it as its own (by name or pattern, without ``__source__``); a ``__source__`` map adds a
    stream and does not keep its source."""
    removed = {"stream_maps": {"__else__": None}}
    assert stream_shape("users", removed) != ""
    assert stream_shape("users", {"stream_maps": {"__else__": "__NULL__"}}) == stream_shape(
        "users", removed
    )
    copy = {"ids": {"__source__": "users", "id": "id"}}
    assert stream_shape("users", {"stream_maps": {**copy, "__else__": None}}) != stream_shape(
        "users", {"stream_maps": copy}
    )
    own = {"users": {"email": None}}
    assert stream_shape("users", {"stream_maps": {**own, "__else__": None}}) == stream_shape(
        "users", {"stream_maps": own}
    )
    pattern = {"user*": {"__alias__": "u"}}
    assert stream_shape("users", {"stream_maps": {**pattern, "__else__": None}}) == stream_shape(
        "users", {"stream_maps": pattern}
    )


def test_1_flattening_s_column_names_count_in_the_shape():
    """A sibling: ``flattening_separator`` and ``flattening_max_key_length`` name the columns
    a flattened row lands in (``user__email`` or ``user.email``); a position or settled test
    kept under one naming left the rows before it without the other's columns. Their
    defaults shape nothing (states written before keep their fingerprints)."""
    flat = {"flattening_enabled": True, "flattening_max_depth": 1}
    assert stream_shape("users", {**flat, "flattening_separator": "."}) != stream_shape(
        "users", flat
    )
    assert stream_shape("users", {**flat, "flattening_max_key_length": 30}) != stream_shape(
        "users", flat
    )
    assert stream_shape("users", {**flat, "flattening_separator": "__"}) == stream_shape(
        "users", flat
    )
    assert stream_shape("users", {"flattening_separator": "."}) == ""  # not flattened


#: A test that ran: closed, started, delivered to its two recipients.
RAN = {
    "campaign_id": 1,
    "status": "Closed",
    "name": "Quarterly",
    "started_at": "2025-10-06T14:00:00.000Z",
    "delivered_count": 2,
    "opened_count": 1,
    "clicked_count": 0,
}
#: The reference's errored test: it never ran.
ERRORED = {
    "campaign_id": 1,
    "status": "Error",
    "name": "inactive",
    "started_at": None,
    "scheduled_count": None,
    "delivered_count": 0,
    "opened_count": 0,
    "clicked_count": 0,
}
TESTS_THAT_RAN = {
    "scheduled_count-not-sent": RAN,
    "scheduled_count-null-but-started": {**RAN, "scheduled_count": None},
    "scheduled_count-null-but-delivered": {**RAN, "started_at": None, "scheduled_count": None},
}


def _phishing_server(tests: list[dict]) -> t.Callable[[Request], Answer]:
    def handler(request: Request) -> Answer:
        if request.path == "/v1/account":
            return json_answer({"name": "Acme", "number_of_seats": 5})
        if request.path == "/v1/phishing/security_tests":
            first = request.query.get("page", "1") == "1" and "cursor" not in request.query
            return json_answer(tests if first else [])
        if request.path.endswith("/recipients"):
            pst = int(request.path.split("/")[4])
            rows = [
                {"recipient_id": pst * 10 + n, "pst_id": pst, "user": {"id": n}} for n in (1, 2)
            ]
            return json_answer(rows if request.query.get("page", "1") == "1" else [])
        return json_answer([])

    return handler


@pytest.mark.parametrize("test", list(TESTS_THAT_RAN.values()), ids=list(TESTS_THAT_RAN))
def test_3_a_test_whose_scheduled_count_is_missing_has_its_recipients_read(tmp_path, test):
    """A phishing test without ``scheduled_count`` in the listing (an API that drops the
    field, as it dropped ``exploited_count``), or null beside a start or a delivery, was
    taken for an errored test: its recipients were never requested, in any run, without a
    line, exit 0. Only a test that says it never ran (the count null, no start, nothing
    delivered) is errored."""
    tests = [{**test, "pst_id": 1}, {**test, "pst_id": 2}, {**ERRORED, "pst_id": 3}]
    with HostileServer(_phishing_server(tests)) as server:
        streams = ["phishing_security_tests", RECIPIENTS]
        run = run_cli(
            tmp_path, hostile_config(server, page_size=500), catalog=catalog_selecting(streams)
        )
        asked = {r.path for r in server.requests if r.path.endswith("/recipients")}
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(r["recipient_id"] for r in run.records(RECIPIENTS)) == [11, 12, 21, 22]
    assert "/v1/phishing/security_tests/3/recipients" not in asked  # errored: no request


def _users_server(rows: list[dict]) -> t.Callable[[Request], Answer]:
    def handler(request: Request) -> Answer:
        if request.path == "/v1/account":
            return json_answer({"name": "Acme", "number_of_seats": 5})
        if request.path == "/v1/users":
            first = request.query.get("page", "1") == "1" and "cursor" not in request.query
            return json_answer(rows if first else [])
        return json_answer([])

    return handler


def _user(n: int, **fields: object) -> dict:
    return {"id": n, "email": f"u{n}@example.com", "status": "active", **fields}


def test_4_users_listed_without_any_groups_field_activate_no_memberships(tmp_path):
    """``group_members`` is derived from each user's ``groups``. A users list in which no
    user has the field at all (an API or proxy dropping it; the API leaves it out only for
    users in no group) gave no membership and, with ``emit_activate_version_messages``,
    ACTIVATE_VERSION: a version-aware target deleted every membership, exit 0. Now no
    ACTIVATE_VERSION then, with one line; a list where some user has the field (the others in
    no group) is read and activated as before."""
    streams = ["users", "group_members"]
    catalog = catalog_selecting(streams)
    with HostileServer(_users_server([_user(1), _user(2), _user(3)])) as server:
        config = hostile_config(server, page_size=500, emit_activate_version_messages=True)
        dropped = run_cli(tmp_path, config, catalog=catalog)
    assert dropped.returncode == 0, dropped.stderr[-2000:]
    assert len(dropped.records("users")) == 3
    activated = [m["stream"] for m in dropped.messages if m["type"] == "ACTIVATE_VERSION"]
    assert "group_members" not in activated
    assert "users" in activated
    assert "groups" in dropped.stderr  # the line says why

    some = [_user(1, groups=[10, 20]), _user(2), _user(3, groups=[])]
    with HostileServer(_users_server(some)) as server:
        config = hostile_config(server, page_size=500, emit_activate_version_messages=True)
        control = run_cli(tmp_path, config, catalog=catalog)
    assert control.returncode == 0, control.stderr[-2000:]
    assert len(control.records("group_members")) == 2
    activated = [m["stream"] for m in control.messages if m["type"] == "ACTIVATE_VERSION"]
    assert "group_members" in activated


def _lists_server(lists: dict[str, list[dict]]) -> t.Callable[[Request], Answer]:
    def handler(request: Request) -> Answer:
        rows = lists.get(request.path, [])
        first = request.query.get("page", "1") == "1" and "cursor" not in request.query
        return json_answer(rows if first else [])

    return handler


POLICIES = [{"policy_id": 1, "name": "Acceptable use"}, {"policy_id": 2, "name": "Passwords"}]


def test_5_a_run_whose_every_list_is_empty_activates_nothing(tmp_path):
    """A wrong region may answer empty lists with 200 (the reference: "401 or empty
    results"), as may a proxy. A run whose every list was empty sent ACTIVATE_VERSION for
    each: a version-aware target deleted every row it held, exit 0. Now no ACTIVATE_VERSION
    goes out when no list of the run held a record; when another list did (the API sees the
    account), an empty list is activated as before, so rows deleted upstream still go."""
    streams = ["users", "groups", "policies"]
    catalog = catalog_selecting(streams)
    with HostileServer(_lists_server({})) as server:
        config = hostile_config(server, page_size=500, emit_activate_version_messages=True)
        empty = run_cli(tmp_path, config, catalog=catalog)
    assert empty.returncode == 0, empty.stderr[-2000:]
    assert not [m for m in empty.messages if m["type"] == "ACTIVATE_VERSION"]
    assert "every list empty" in empty.stderr

    with HostileServer(_lists_server({"/v1/training/policies": POLICIES})) as server:
        config = hostile_config(server, page_size=500, emit_activate_version_messages=True)
        control = run_cli(tmp_path, config, catalog=catalog)
    assert control.returncode == 0, control.stderr[-2000:]
    activated = {m["stream"] for m in control.messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated == {"users", "groups", "policies"}


CALLBACK = {
    "callback_phishing_campaigns": "phishing_campaigns",
    "callback_phishing_security_tests": "phishing_security_tests",
    "callback_phishing_security_test_recipients": RECIPIENTS,
}


def test_6_callback_phishing_campaigns_tests_and_recipients_are_extracted(tmp_path):
    """``campaign_type=callback`` lists callback (voice) phishing campaigns and tests instead
    of the email ones (the reference, table of endpoints). The tap listed the default only:
    the sandbox's callback campaign, its test and its 10 recipients were never sent, exit 0,
    while each user's ``phish_prone_percentage`` counts the callback failures too. They are
    three streams of their own, keyed as their email siblings (no key of an existing table
    changes), and every one of their records is sent; the email streams hold none of them."""
    streams = [*CALLBACK, *CALLBACK.values()]
    with sandbox() as sb:
        callback_tests = sb.org.security_tests(campaign_type="callback")
        campaigns = {c["campaign_id"] for c in sb.org.phishing_campaigns(campaign_type="callback")}
        recipients = {
            (p["pst_id"], r["recipient_id"])
            for p in callback_tests
            for r in sb.org.recipients(p["pst_id"], campaign_type="callback")
        }
        assert campaigns  # the sandbox has callback phishing
        assert recipients
        truth = {s: _keys(expected_records(sb.org, s), s) for s in streams}
        run = run_cli(tmp_path, tap_config(sb), catalog=catalog_selecting(streams))
    assert run.returncode == 0, run.stderr[-2000:]
    assert truth["callback_phishing_campaigns"] == {(c,) for c in campaigns}
    assert truth["callback_phishing_security_tests"] == {(p["pst_id"],) for p in callback_tests}
    assert truth["callback_phishing_security_test_recipients"] == recipients
    for stream in streams:
        assert _keys(run.records(stream), stream) == truth[stream], stream
    for callback, email in CALLBACK.items():
        assert not truth[callback] & truth[email], (callback, email)
        assert PRIMARY_KEYS[callback] == PRIMARY_KEYS[email]
