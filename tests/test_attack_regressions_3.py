"""Regression tests for the third adversarial review: seams between features across runs.

Each test is one finding (its number in the name and in /work/notes/attack-3.md), driven
through the tap's command line over real HTTP against :mod:`tests.hostile_server`, across
the runs the seam needs (a run cap keeps a position, the server changes, the next run
resumes).
"""

from __future__ import annotations

import json
import typing as t

import pytest

from tap_knowbe4.records import EXTRA_FIELDS
from tap_knowbe4.state import sealed
from tests.airbyte_output import Source, configured_catalog
from tests.cli import run_cli
from tests.hostile_server import Answer, HostileServer, Request, hostile_config, json_answer, users
from tests.singer_output import catalog_selecting

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

USERS = catalog_selecting(["users"])


# -- 1: a cursor kept by a capped run, read by a server that no longer reads cursors --------


class _Switching:
    """``/v1/users`` paged by cursors (X-Next-Cursor), then by page numbers only.

    Once switched, ``cursor`` is ignored: any request without ``page`` is answered page 1,
    answered as ``answer`` says: naming nothing, with an empty ``X-Next-Cursor`` on every
    page (a proxy's), or in an envelope saying ``has_more: false`` on every page.
    """

    IDS: t.ClassVar[list[int]] = list(range(1, 8))
    CURSORS: t.ClassVar[dict[str, tuple[list[int], str]]] = {
        "true": ([1, 2], "A"),
        "A": ([3, 4], "B"),
        "B": ([5, 6], "C"),
        "C": ([7], ""),
    }

    def __init__(self, answer: str) -> None:
        self.by_number = False
        self.answer = answer

    def __call__(self, request: Request) -> t.Any:
        if request.path != "/v1/users":
            return json_answer([])
        if not self.by_number:
            ids, after = self.CURSORS[request.query.get("cursor", "true")]
            return Answer(200, json.dumps(users(ids)), {"X-Next-Cursor": after})
        page, size = int(request.query.get("page", "1")), int(request.query["per_page"])
        rows = users(self.IDS[(page - 1) * size : page * size])
        if self.answer == "empty-header":
            return Answer(200, json.dumps(rows), {"X-Next-Cursor": ""})
        if self.answer == "has-more-false":
            return json_answer({"data": rows, "has_more": False})
        return json_answer(rows)


@pytest.mark.parametrize("answer", ["silent", "empty-header", "has-more-false"])
def test_1_a_kept_cursor_the_server_ignores_now_is_no_end_of_the_list(tmp_path, answer):
    server_state = _Switching(answer)
    with HostileServer(server_state) as server:
        first = run_cli(tmp_path, hostile_config(server, max_requests_per_run=2), catalog=USERS)
        assert first.returncode == 0
        position = first.final_state["tap_knowbe4"]["interrupted"]["lists"]["users"]
        assert position["cursor"] == "A"  # the seam: a cursor kept across runs
        server_state.by_number = True  # the server stops reading `cursor`
        second = run_cli(tmp_path, hostile_config(server), catalog=USERS, state=first.final_state)
    loaded = {r["id"] for r in first.records("users") + second.records("users")}
    assert second.returncode != 0 or loaded == set(_Switching.IDS), (
        f"exit 0 with users {sorted(set(_Switching.IDS) - loaded)} never loaded"
    )


# -- 2: a field named like the path of another kept value -----------------------------------


def test_2_a_field_named_like_a_kept_path_loses_neither_value(tmp_path):
    body = [{"id": 1, "groups[0]": "sent-as-a-field", "groups": ["not-a-group-id"]}]
    with HostileServer(lambda r: json_answer(body if r.path == "/v1/users" else [])) as server:
        run = run_cli(tmp_path, hostile_config(server, page_size=500), catalog=USERS)
    assert run.returncode == 0
    (record,) = run.records("users")
    kept = json.dumps(record[EXTRA_FIELDS])
    assert "sent-as-a-field" in kept
    assert "not-a-group-id" in kept


# -- 3: a list that spans runs, read again from its start: rows deleted upstream stay ------


def _warehouse(*runs: list[dict]) -> set[int]:
    """The user ids a version-aware target keeps after the messages of ``runs``.

    Rows are upserted by id; ACTIVATE_VERSION deletes every row of another version.
    """
    rows: dict[int, int | None] = {}
    for messages in runs:
        for message in messages:
            if message["type"] == "RECORD" and message["stream"] == "users":
                rows[message["record"]["id"]] = message.get("version")
            elif message["type"] == "ACTIVATE_VERSION" and message["stream"] == "users":
                rows = {k: v for k, v in rows.items() if v == message["version"]}
    return set(rows)


def test_3_a_list_read_again_from_its_start_drops_the_rows_deleted_upstream(tmp_path):
    ids = list(range(1, 8))

    def answer(request: Request) -> t.Any:
        if request.path != "/v1/users":
            return json_answer([])
        page, size = int(request.query["page"]), int(request.query["per_page"])
        return json_answer(users(ids[(page - 1) * size : page * size]))

    with HostileServer(answer) as server:
        config = hostile_config(server, pagination="page", emit_activate_version_messages=True)
        first = run_cli(tmp_path, {**config, "max_requests_per_run": 2}, catalog=USERS)
        assert first.returncode == 0
        state = first.final_state
        assert state["tap_knowbe4"]["interrupted"]["lists"]["users"]["page"] == 2
        # the first run a minute earlier (its rows and its state), as runs apart would be
        sent_first = [
            {**m, "version": m["version"] - 60} if "version" in m else m for m in first.messages
        ]
        own = state["tap_knowbe4"]
        own["interrupted"]["versions"]["users"] -= 60
        own["interrupted"] = sealed(own["account"], own["interrupted"])  # as that run wrote it
        ids[:] = [5, 6, 7, 8]  # 1-4 deleted upstream: page 2 begins later, the list restarts
        second = run_cli(tmp_path, config, catalog=USERS, state=state)
    assert second.returncode == 0
    assert "read from its first page again" in second.stderr
    assert _warehouse(sent_first, second.messages) == set(ids)


# -- 4: Airbyte: a stream's state from an unfinished sync a later read finished without it ---


def test_4_a_stream_done_in_a_sync_finished_without_it_is_read_again(tmp_path):
    history = [{"date": "2026-11-01", "risk_score": 10.0}]
    people = list(range(1, 6))

    def answer(request: Request) -> t.Any:
        rows = {"/v1/users": users(people), "/v1/account/risk_score_history": history}
        page, size = int(request.query.get("page", "1")), int(request.query["per_page"])
        return json_answer(rows.get(request.path, [])[(page - 1) * size : page * size])

    with HostileServer(answer) as server:
        capped = Source(tmp_path, hostile_config(server, max_requests_per_run=2))
        catalog = capped.discover().catalog
        both = configured_catalog(catalog, ["users", "account_risk_score_history"])
        first = capped.read(both)  # the history finishes, users does not
        assert first.final_statuses == {
            "account_risk_score_history": "COMPLETE",
            "users": "INCOMPLETE",
        }
        kept = {s["stream"]["stream_descriptor"]["name"]: s for s in first.states}
        source = Source(tmp_path, hostile_config(server))
        second = source.read(configured_catalog(catalog, ["users"]), list(kept.values()))
        assert second.code == 0  # the sync is finished, without the history
        kept.update({s["stream"]["stream_descriptor"]["name"]: s for s in second.states})
        history.append({"date": "2026-12-02", "risk_score": 20.0})
        third = source.read(both, list(kept.values()))
    assert third.code == 0
    dates = {row["date"] for row in third.records("account_risk_score_history")}
    assert "2026-12-02" in dates, "a complete read without the history's newest row"


# -- 5: a child stream selected after a capped run of its parent list ----------------------


def test_5_a_child_selected_since_the_capped_run_reads_every_parent(tmp_path):
    groups = [{"id": i, "name": f"g{i}"} for i in range(10, 17)]

    def answer(request: Request) -> t.Any:
        page, size = int(request.query.get("page", "1")), int(request.query["per_page"])
        if request.path == "/v1/groups":
            rows = groups
        elif request.path.endswith("/members"):
            rows = users([int(request.path.split("/")[3]) * 10])
        else:
            rows = []
        return json_answer(rows[(page - 1) * size : page * size])

    with HostileServer(answer) as server:
        config = hostile_config(server, group_members_source="endpoint", pagination="page")
        first = run_cli(
            tmp_path,
            {**config, "max_requests_per_run": 2},
            catalog=catalog_selecting(["groups"]),
        )
        assert first.final_state["tap_knowbe4"]["interrupted"]["lists"]["groups"]["page"] == 2
        second = run_cli(
            tmp_path,
            config,
            catalog=catalog_selecting(["groups", "group_members"]),
            state=first.final_state,
        )
    assert second.returncode == 0
    loaded = {row["group_id"] for row in second.records("group_members")}
    assert loaded == {g["id"] for g in groups}, "group_members complete without some groups"


def test_6_a_parent_selected_since_a_capped_run_of_its_child_sends_every_record(tmp_path):
    groups = [{"id": i, "name": f"g{i}"} for i in range(10, 17)]

    def answer(request: Request) -> t.Any:
        page, size = int(request.query.get("page", "1")), int(request.query["per_page"])
        if request.path == "/v1/groups":
            rows = groups
        elif request.path.endswith("/members"):
            rows = users([int(request.path.split("/")[3]) * 10])
        else:
            rows = []
        return json_answer(rows[(page - 1) * size : page * size])

    with HostileServer(answer) as server:
        config = hostile_config(server, group_members_source="endpoint", pagination="page")
        first = run_cli(
            tmp_path,
            {**config, "max_requests_per_run": 6},
            catalog=catalog_selecting(["group_members"]),  # groups listed, not sent
        )
        assert first.final_state["tap_knowbe4"]["interrupted"]["lists"]["groups"]["page"] == 2
        second = run_cli(
            tmp_path,
            config,
            catalog=catalog_selecting(["groups", "group_members"]),
            state=first.final_state,
        )
    assert second.returncode == 0
    assert {row["id"] for row in second.records("groups")} == {g["id"] for g in groups}


# -- 7: group_members_source changed between capped runs: a group id taken for a user id ----


def test_7_a_fan_out_position_is_not_read_against_another_parent(tmp_path):
    groups = [{"id": i, "name": f"g{i}"} for i in range(101, 108)]
    people = [
        {"id": i, "email": f"u{i}@example.com", "status": "active", "groups": [100 + i]}
        for i in range(1, 8)
    ]

    def answer(request: Request) -> t.Any:
        page, size = int(request.query.get("page", "1")), int(request.query["per_page"])
        if request.path == "/v1/groups":
            rows: list = groups
        elif request.path == "/v1/users":
            rows = people
        elif request.path.endswith("/members"):
            group = int(request.path.split("/")[3])
            rows = [p for p in people if group in p["groups"]]
        else:
            rows = []
        return json_answer(rows[(page - 1) * size : page * size])

    streams = catalog_selecting(["users", "groups", "group_members"])
    with HostileServer(answer) as server:
        config = hostile_config(server, pagination="page")
        first = run_cli(
            tmp_path,
            {**config, "group_members_source": "endpoint", "max_requests_per_run": 5},
            catalog=streams,
        )
        assert first.final_state["tap_knowbe4"]["interrupted"]["parents_done"]
        second = run_cli(
            tmp_path,
            {**config, "group_members_source": "users"},
            catalog=streams,
            state=first.final_state,
        )
    assert second.returncode == 0
    loaded = {(r["group_id"], r["user_id"]) for r in first.records("group_members")}
    loaded |= {(r["group_id"], r["user_id"]) for r in second.records("group_members")}
    assert loaded == {(100 + i, i) for i in range(1, 8)}
