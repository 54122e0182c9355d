"""Every run cap makes progress, and says only what the state keeps (issue 18, defect 4).

``max_requests_per_run`` smaller than a list used to re-read the same first pages every run
and exit 0 saying "the next run continues from there". Now a list keeps where it stopped
(page or cursor, with the key of the last record read), fan-out parents too, and a
full-table stream keeps its table version, so the ACTIVATE_VERSION that ends a read
spanning runs deletes none of the rows the earlier runs sent. Each check below runs the tap
over real HTTP until it completes, loading its output into a version-aware warehouse model.
"""

from __future__ import annotations

import json
import typing as t

import pytest

from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.hostile_server import HostileServer, hostile_config, json_answer, users
from tests.singer_output import PRIMARY_KEYS, catalog_selecting, run_tap, state_of
from tests.test_stream_end import batch_config, read_batch

USER_RISK = "/v1/users/{user_id}/risk_score_history"


class Warehouse:
    """A version-aware target: upserts by key; ACTIVATE_VERSION deletes rows of other versions."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple, int | None]] = {}

    def load(self, messages: t.Iterable[dict]) -> None:
        for message in messages:
            stream = str(message.get("stream"))
            if message["type"] == "RECORD":
                key = tuple(message["record"][k] for k in PRIMARY_KEYS[stream])
                self.tables.setdefault(stream, {})[key] = message.get("version")
            elif message["type"] == "ACTIVATE_VERSION":
                table = self.tables.setdefault(stream, {})
                version = message["version"]
                self.tables[stream] = {k: v for k, v in table.items() if v == version}

    def keys(self, stream: str) -> set[tuple]:
        return set(self.tables.get(stream, {}))


def _truth(sb, stream: str) -> set[tuple]:
    return {tuple(r[k] for k in PRIMARY_KEYS[stream]) for r in expected_records(sb.org, stream)}


def sync_until_complete(
    config: dict,
    streams: t.Sequence[str],
    most: int = 12,
    *,
    state: dict | None = None,
    warehouse: Warehouse | None = None,
):
    """Run the tap from each run's state until one completes; the runs and the warehouse.

    ``state``: the first run's (default none); ``warehouse``: one earlier runs loaded.
    """
    warehouse = Warehouse() if warehouse is None else warehouse
    runs: list = []
    for _ in range(most):
        run = run_tap(config, streams=streams, state=state)
        assert run.error is None, run.error
        warehouse.load(run.messages)
        runs.append(run)
        state = run.final_state
        if state["tap_knowbe4"]["interrupted"] is None:
            return runs, warehouse
    pytest.fail(f"not complete after {most} runs: {runs[-1].final_state}")


def test_a_cap_smaller_than_a_list_completes_over_runs_and_deletes_nothing():
    """Defect 4 as reported: users in 5 pages, a cap of 4: every run read pages 1-4 again."""
    with sandbox(users=45) as sb:  # 5 pages of 10
        config = tap_config(
            sb, page_size=10, max_requests_per_run=4, emit_activate_version_messages=True
        )
        runs, warehouse = sync_until_complete(config, ["users"])
        truth = _truth(sb, "users")
    assert len(runs) == 2  # pages 1-4, then page 4 again (the proof) and page 5
    assert warehouse.keys("users") == truth
    activations = [m for r in runs for m in r.messages if m["type"] == "ACTIVATE_VERSION"]
    assert len(activations) == 1
    assert activations[0]["version"] == runs[0].tap.initialized_at // 1000


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_fan_out_parents_keep_their_position_and_children_their_version():
    """users (2 pages) fan out to risk histories and memberships; a cap of 4 lets each run
    read a few users' children. The parents' list resumes at the page of the last parent
    done; memberships (full table) are activated under the version of the first run."""
    streams = ["users", "group_members", "user_risk_score_history"]
    with sandbox(users=25, unpaginated=(USER_RISK,)) as sb:
        config = tap_config(
            sb, page_size=10, max_requests_per_run=4, emit_activate_version_messages=True
        )
        runs, warehouse = sync_until_complete(config, streams, most=15)
        truth = {s: _truth(sb, s) for s in streams}
    assert len(runs) <= 13  # 25 users, 2 or 3 a run (beside the page read again)
    for stream in streams:
        assert warehouse.keys(stream) == truth[stream], stream
    activated = {m["stream"] for m in runs[-1].messages if m["type"] == "ACTIVATE_VERSION"}
    assert "group_members" in activated  # its rows of every run carry the first run's version
    requests = sum(r.tap.run.total_requests for r in runs)
    assert requests <= 25 + 3 + 2 * (len(runs) - 1)  # children once; a page again per run


def test_a_cursor_list_resumes_at_its_cursor():
    """Enrollments page by cursor: the cursor of the page that held the last record."""
    with sandbox(users=15) as sb:
        config = tap_config(
            sb, page_size=10, max_requests_per_run=3, emit_activate_version_messages=True
        )
        runs, warehouse = sync_until_complete(config, ["training_enrollments"])
        truth = _truth(sb, "training_enrollments")
    assert len(runs) >= 3
    positions = [r.final_state["tap_knowbe4"]["interrupted"] for r in runs[:-1]]
    assert all(p["lists"]["training_enrollments"]["cursor"] for p in positions)
    assert warehouse.keys("training_enrollments") == truth


def test_an_incremental_history_longer_than_the_cap_completes():
    """The account's risk history in 7 pages and a cap of 3: its bookmark moves only when
    the read completes, and no point is missed."""
    stream = "account_risk_score_history"
    with sandbox() as sb:
        config = tap_config(sb, max_requests_per_run=3)
        runs, warehouse = sync_until_complete(config, [stream])
        truth = _truth(sb, stream)
    assert len(runs) >= 3
    assert warehouse.keys(stream) == truth
    assert all(stream not in r.final_state["tap_knowbe4"]["streams"] for r in runs[:-1])


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_the_stop_line_says_where_each_stream_continues(tmp_path):
    with sandbox(users=45) as sb:
        config = tap_config(sb, page_size=10, max_requests_per_run=4, budget_ledger=False)
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Not finished: users (continues at page 4)" in result.stderr
    position = result.final_state["tap_knowbe4"]["interrupted"]["lists"]["users"]
    assert position["page"] == 4


# -- the position is proof, or the list is read from its first page ------------------------


class ChangingList:
    """``/v1/users`` by page number (or by cursor), whose rows the test changes between runs."""

    def __init__(self, ids: t.Iterable[int], *, cursors: bool = False) -> None:
        self.ids = sorted(ids)
        self.cursors = cursors
        self.refuse_old_cursors = False
        self.issued: set[str] = set()

    def __call__(self, request):
        if request.path != "/v1/users":
            return json_answer([])
        size = int(request.query.get("per_page", 500))
        cursor = request.query.get("cursor")
        if self.cursors and cursor not in (None, "true", "0"):
            if self.refuse_old_cursors and cursor not in self.issued:
                return json_answer({"message": "invalid cursor"}, status=400)
            rows = [i for i in self.ids if i > int(cursor)][:size]
        elif self.cursors:
            rows = self.ids[:size]
        else:
            page = int(request.query.get("page", 1))
            rows = self.ids[(page - 1) * size : page * size]
        if not self.cursors:
            return json_answer(users(rows))
        after = str(rows[-1]) if len(rows) == size else ""
        self.issued.add(after)
        return json_answer({"data": users(rows), "pagination": {"next_cursor": after}})


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_a_list_that_moved_under_its_position_is_read_from_the_start(caplog):
    """Fifteen users before the position were deleted: the page kept now begins after the
    last user read, so users that moved to earlier pages would be skipped (and deleted by
    the ACTIVATE_VERSION that ends the read). Without proof, the list is read again."""
    data = ChangingList(range(1, 51))
    with HostileServer(data) as server:
        config = hostile_config(
            server,
            page_size=10,
            pagination="page",
            max_requests_per_run=3,
            emit_activate_version_messages=True,
        )
        first = run_tap(config, streams=["users"])
        assert first.final_state["tap_knowbe4"]["interrupted"]["lists"]["users"]["page"] == 3
        data.ids = [i for i in data.ids if i > 15]
        warehouse = Warehouse()
        warehouse.load(first.messages)
        state = first.final_state
        for _ in range(6):
            run = run_tap(config, streams=["users"], state=state)
            assert run.error is None, run.error
            warehouse.load(run.messages)
            state = run.final_state
            if state["tap_knowbe4"]["interrupted"] is None:
                break
    # every user that exists is there (rows deleted during the read stay until a read
    # that begins after them: this one began before)
    assert {(i,) for i in data.ids} <= warehouse.keys("users")
    assert state["tap_knowbe4"]["interrupted"] is None
    assert "read from its first page again" in caplog.text


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_a_cursor_the_server_no_longer_accepts_restarts_the_list(caplog):
    data = ChangingList(range(1, 31), cursors=True)
    with HostileServer(data) as server:
        config = hostile_config(server, page_size=10, max_requests_per_run=2)
        first = run_tap(config, streams=["users"])
        assert first.final_state["tap_knowbe4"]["interrupted"]["lists"]["users"]["cursor"]
        data.refuse_old_cursors = True
        data.issued.clear()
        second = run_tap(config, streams=["users"], state=first.final_state)
    assert second.error is None, second.error
    assert "refused the position kept (HTTP 400)" in caplog.text
    assert {r["id"] for r in second.records("users")} >= set(range(1, 11))


# -- where progress is impossible, the run says so ----------------------------------------------


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_sim_15_a_cap_too_small_to_progress_fails_at_the_first_run_that_can_know(tmp_path):
    """A cap of 1 reads page 1 and keeps it; a run resumes by reading that page again (the
    proof), so no later run can read a new one. The first run says so (exit 1 in one line,
    naming the smallest cap that works: 2), not exit 0 with a promise; a run given its state
    with the same cap fails before its first request, the state as it was."""
    with sandbox(users=45) as sb:
        config = tap_config(sb, page_size=10, max_requests_per_run=1, budget_ledger=False)
        catalog = catalog_selecting(["users"])
        first = run_cli(tmp_path, config, catalog=catalog)
        second = run_cli(tmp_path, config, catalog=catalog, state=first.final_state)
    line = first.assert_one_clear_line(code=1)
    assert "max_requests_per_run (1) is too small" in line
    assert "The smallest cap that can make progress is 2" in line
    assert "continues from them" not in first.stderr
    assert first.final_state["tap_knowbe4"]["interrupted"]["lists"]["users"]["nth"] == 1
    line = second.assert_one_clear_line(code=1)
    assert "No request was sent" in line
    assert second.final_state["tap_knowbe4"]["last_run"]["requests"] == 0
    assert (
        second.final_state["tap_knowbe4"]["interrupted"]
        == first.final_state["tap_knowbe4"]["interrupted"]
    )


@pytest.mark.slow  # several runs or a subprocess: `make test`
@pytest.mark.parametrize(
    ("parent", "child", "users", "settings"),
    [
        ("users", "user_risk_score_history", 4, {"include_user_risk_score_history": True}),
        ("groups", "group_risk_score_history", 4, {}),
        ("groups", "group_members", 30, {"group_members_source": "endpoint", "page_size": 2}),
        (
            "phishing_security_tests",
            "phishing_security_test_recipients",
            9,
            {"page_size": 4, "max_requests_per_run": 4},
        ),
    ],
    ids=["user-risk", "group-risk", "members-endpoint", "recipients"],
)
def test_children_longer_than_the_cap_are_read_across_runs(parent, child, users, settings):
    """SIM-7: one parent's children take more pages than a run's cap (a risk history of six
    pages, a cap of 5): no run could finish a parent, none kept anything, and the run failed
    as "too small to make progress". The page the children got to is kept with the parent's
    id; the next run reads the parent's page and that page again (the proof), and goes on.
    Siblings: the parents' list resumes at the page of the parent the children stopped in
    (was: of the last parent done, so parents giving no children, such as tests whose
    recipients are settled, were paged through again every run), and a parent list that
    finished before its children resumes where it stopped when read only for them (was: from
    its first page, every run)."""
    with sandbox(users=users, risk_years=1) as sb:
        config = tap_config(sb, **{"page_size": 10, "max_requests_per_run": 5, **settings})
        runs, warehouse = sync_until_complete(config, [parent, child], most=40)
        truth = {stream: _truth(sb, stream) for stream in (parent, child)}
    inside = [
        position
        for run in runs[:-1]
        for position in [run.final_state["tap_knowbe4"]["interrupted"]["lists"].get(child)]
        if position is not None
    ]
    assert inside  # runs stopped inside a parent's children
    assert all(p["parent"] for p in inside)
    for stream, keys in truth.items():
        assert warehouse.keys(stream) == keys, stream


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_sim_15_a_cursor_list_resumed_at_its_last_page_goes_on():
    """Seed 540016, cut down: the drift profile pages by cursor only. A run read every
    phishing test but not all their recipients, so the tests' list kept the cursor of its
    last page. The next run read that page again: it named no next cursor, and a kept
    cursor's page is no evidence of the end (a server ignoring ``cursor`` answers page 1
    there), so the list started over and spent the cap on it; after 10 runs the cap was
    refused as too small. The page is proven now by its fingerprint (its records' ids in
    order): the same page, so its end counts, and the runs get there."""
    streams = ["phishing_security_tests", "phishing_security_test_recipients"]
    with sandbox(profile="drift", users=9) as sb:
        config = tap_config(sb, page_size=4, max_requests_per_run=4)
        _, warehouse = sync_until_complete(config, streams, most=20)
        truth = {stream: _truth(sb, stream) for stream in streams}
    for stream, keys in truth.items():
        assert warehouse.keys(stream) == keys, stream


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_a_fan_out_resumes_at_the_parent_its_children_stopped_in():
    """SIM-7's sibling: with a start date, the first tests give no recipients to read. A run
    stopped in the recipients of the first test after them kept no place in the tests' list
    (no test was done yet), so each run paged through the old tests again (4 of a cap of 5)
    and was refused as "too small". The list now resumes at the page of the test the
    recipients stopped in."""
    streams = ["phishing_security_tests", "phishing_security_test_recipients"]
    with sandbox(users=9, risk_years=1) as sb:
        config = tap_config(sb, page_size=2)
        everything = run_tap(config, streams=streams)
        starts = sorted(r["started_at"] for r in everything.records(streams[0]) if r["started_at"])
        config["start_date"] = starts[-3]
        uncapped = run_tap(config, streams=streams)
        runs, warehouse = sync_until_complete({**config, "max_requests_per_run": 5}, streams)
    assert len(runs) > 2
    for stream in streams:
        keys = PRIMARY_KEYS[stream]
        assert warehouse.keys(stream) == {
            tuple(r[k] for k in keys) for r in uncapped.records(stream)
        }


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_sim_15_a_cap_that_only_reaches_the_pages_it_stopped_in_fails_with_its_arithmetic(
    tmp_path,
):
    """A cap of 2 in a fan-out whose children are long: the first run reads the parent's
    page and the first page of its children (kept). A run resumes by reading both again
    (the parent's page, then that page, as proof): the first run fails at once, naming 3 as
    the smallest cap that works (was: exit 0 and a promise, then a refusal a run later)."""
    streams = ["groups", "group_risk_score_history"]
    with sandbox(users=4, risk_years=1) as sb:
        config = tap_config(sb, page_size=10, max_requests_per_run=2, budget_ledger=False)
        catalog = catalog_selecting(streams)
        first = run_cli(tmp_path, config, catalog=catalog)
        second = run_cli(tmp_path, config, catalog=catalog, state=first.final_state)
        third = run_cli(
            tmp_path,
            {**config, "max_requests_per_run": 3},
            catalog=catalog,
            state=first.final_state,
        )
    line = first.assert_one_clear_line(code=1)
    assert "max_requests_per_run (2) is too small" in line
    assert "stopped in group_risk_score_history" in line
    assert "The smallest cap that can make progress is 3" in line
    assert "No request was sent" in second.assert_one_clear_line(code=1)
    positions = [r.final_state["tap_knowbe4"]["interrupted"]["lists"] for r in (first, third)]
    before, after = (p["group_risk_score_history"] for p in positions)
    assert (after["parent"], after["nth"]) > (before["parent"], before["nth"])  # progress at 3


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_a_list_that_changes_every_run_is_reported_not_promised(caplog):
    """Every run finds the list moved under its position and restarts; with a cap it can
    never finish. After three runs in a row the run fails saying so."""
    data = ChangingList(range(1, 61))
    with HostileServer(data) as server:
        config = hostile_config(server, page_size=5, pagination="page", max_requests_per_run=4)
        state, errors = None, []
        for _ in range(5):
            run = run_tap(config, streams=["users"], state=state)
            errors.append(run.error)
            state = run.final_state
            data.ids = [i for i in data.ids if i > min(data.ids) + 9]  # 10 deleted at the front
    assert errors[0] is None
    assert any("may never finish" in str(e) for e in errors if e is not None)


# -- a position is only for the very list it was taken from -------------------------------------


def test_a_position_taken_with_another_page_size_is_not_used():
    with sandbox(users=45) as sb:
        capped = tap_config(sb, page_size=10, max_requests_per_run=3)
        first = run_tap(capped, streams=["users"])
        second = run_tap(tap_config(sb, page_size=25), streams=["users"], state=first.final_state)
        truth = _truth(sb, "users")
    assert {(r["id"],) for r in second.records("users")} == truth  # all of it, from page 1


@pytest.mark.slow  # several runs: `make test`
def test_alternating_page_sizes_on_one_state_fail_instead_of_never_finishing():
    """Session 10's left item: two configurations taking turns on one state (page_size 10,
    then 25, then 10...), each capped below its list, discard each other's position every
    run. SIM-25 counts a position replacing one kept under another configuration as
    progress, so each run exited 0 saying "the next run continues", for ever, and the list
    was never read to its end. Discarding a position that does not fit is a restart: after
    three in a row a capped run fails saying the list may never finish."""
    with sandbox(users=120) as sb:
        configs = [tap_config(sb, page_size=size, max_requests_per_run=3) for size in (10, 25) * 3]
        state, errors = None, []
        for config in configs:
            run = run_tap(config, streams=["users"], state=state)
            errors.append(run.error)
            state = run.final_state
            if run.error is not None:
                break
    assert errors[:3] == [None, None, None]
    assert errors[-1] is not None
    assert "may never finish" in str(errors[-1]), errors


@pytest.mark.slow  # several runs: `make test`
def test_one_page_size_change_then_the_same_one_finishes():
    """The control: one change of page_size between capped runs restarts the list once,
    and the runs that follow under the new size resume and finish it, exit 0 each."""
    with sandbox(users=120) as sb:
        first = run_tap(tap_config(sb, page_size=10, max_requests_per_run=3), streams=["users"])
        runs, warehouse = sync_until_complete(
            tap_config(sb, page_size=25, max_requests_per_run=3),
            ["users"],
            most=12,
            state=first.final_state,
        )
        truth = _truth(sb, "users")
    assert all(r.error is None for r in runs)
    assert warehouse.keys("users") == truth


@pytest.mark.parametrize(
    "position",
    [
        {"page": -3, "cursor": None, "per_page": 10, "page_size": 10, "params": {}, "after": [5]},
        {"page": 2, "cursor": "x", "per_page": 10, "page_size": 10, "params": {}, "after": [5]},
        {"page": 2, "cursor": None, "per_page": 10, "page_size": 10, "params": {}, "after": []},
        {
            "page": 2,
            "cursor": None,
            "per_page": 10,
            "page_size": 10,
            "params": ["a=b"],
            "after": [5],
        },
        "page 2",
    ],
    ids=["negative-page", "page-and-cursor", "no-key", "params-not-pairs", "text"],
)
def test_an_implausible_position_is_ignored_with_a_warning(position, caplog):
    with sandbox(users=45) as sb:
        config = tap_config(sb, page_size=10)
        interrupted = {"streams_done": [], "parents_done": {}, "lists": {"users": position}}
        state = state_of(config, interrupted=interrupted)
        run = run_tap(config, streams=["users"], state=json.loads(json.dumps(state)))
        truth = _truth(sb, "users")
    assert run.error is None, run.error
    assert {(r["id"],) for r in run.records("users")} == truth
    assert "the list position of 'users' is implausible" in caplog.text


@pytest.mark.slow  # several runs or a subprocess: `make test`
def test_a_capped_fan_out_in_batch_mode_keeps_the_parents_it_finished(tmp_path):
    """Simulation seed 12: in BATCH mode a finished parent's mark waits for the file holding
    its children's records, so it came after the cap had held the parent cut short, and was
    dropped with it: no parent was ever kept, each run read the same first ones again and
    the run failed as "too small to make progress". A parent before the held one counts."""
    streams = ["users", "user_risk_score_history"]
    with sandbox(users=15, unpaginated=(USER_RISK,)) as sb:
        config = tap_config(
            sb, page_size=10, max_requests_per_run=4, batch_config=batch_config(tmp_path)
        )
        runs, _ = sync_until_complete(config, streams, most=12)
        truth = {s: _truth(sb, s) for s in streams}
    first = runs[0].final_state["tap_knowbe4"]["interrupted"]
    assert first["parents_done"].get("user_risk_score_history") is not None
    for stream in streams:
        batches = [m for r in runs for m in r.messages if m["type"] == "BATCH"]
        loaded = {
            tuple(record[k] for k in PRIMARY_KEYS[stream])
            for message in batches
            if message["stream"] == stream
            for record in read_batch(message)
        }
        assert loaded == truth[stream], stream


@pytest.mark.slow  # several runs: `make test`
@pytest.mark.parametrize(("first", "then"), [(3, 10), (10, 3)], ids=["larger", "smaller"])
def test_sim_25_a_position_kept_under_another_page_size_does_not_stall_a_capped_sync(first, then):
    """Seeds 940008 and 940010 (session 10): a capped run stops inside the account's risk
    history with ``page_size`` 3 (or 10), and the next runs use the other size under a cap
    of 5. The position does not fit the new size, so the list is read from its first page;
    the run's own position (5 pages of the new size) did not count as progress next to the
    old one (page 12 of 3 came "after" page 5 of 10), so the old position was kept and
    every run failed on "max_requests_per_run (5) is too small for this sync to make
    progress" for ever. A position replacing one no run of this configuration can resume
    at is progress: the sync completes over runs, every point loaded."""
    stream = "account_risk_score_history"
    with sandbox(profile="hostile", users=9) as sb:
        stopped = run_tap(
            tap_config(sb, page_size=first, max_requests_per_run=13), streams=[stream]
        )
        assert stopped.error is None, stopped.error
        assert stopped.final_state["tap_knowbe4"]["interrupted"]["lists"][stream]
        config = tap_config(sb, page_size=then, max_requests_per_run=5)
        loaded = Warehouse()
        loaded.load(stopped.messages)
        runs, warehouse = sync_until_complete(
            config, [stream], most=80, state=stopped.final_state, warehouse=loaded
        )
        truth = _truth(sb, stream)
    assert len(runs) >= 2
    assert warehouse.keys(stream) == truth
