"""The daily budget, the shared ledger, and the resume position (unit tests)."""

import datetime as dt
import json

from tap_knowbe4.budget import RequestBudget
from tap_knowbe4.ledger import BudgetLedger, account_id
from tap_knowbe4.resume import Resume
from tap_knowbe4.state import BudgetState, TapState

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def test_budget_counts_into_state_and_a_second_run_knows_what_is_left():
    clock, state = Clock(), BudgetState()
    budget = RequestBudget(state, clock=clock)
    budget.seats = 250
    assert budget.daily_limit == 2250
    for _ in range(2000):
        budget.count()
    assert state.dump()["window_start"] == "2026-11-01T08:00:00Z"
    assert state.used == 2000
    clock.now = T0 + dt.timedelta(hours=5)
    again = RequestBudget(BudgetState.load(state.dump(), clock.now, print), clock=clock)
    again.seats = 250
    assert again.remaining_today == 250
    assert again.exhausted() is None
    for _ in range(250):
        again.count()
    assert "daily request budget (2250)" in again.exhausted()
    # 24 hours after the first request the window resets
    clock.now = T0 + dt.timedelta(hours=24)
    assert again.exhausted() is None
    again.count()
    assert again.state.used == 1


def test_per_run_cap_and_configured_limit():
    budget = RequestBudget(BudgetState(), daily_limit=10, max_per_run=3, clock=Clock())
    for _ in range(3):
        assert budget.exhausted() is None
        budget.count()
    assert "max_requests_per_run (3)" in budget.exhausted()


def test_quota_verdict_allows_one_probe_then_stops_until_it_resets():
    clock, state = Clock(), BudgetState()
    budget = RequestBudget(state, clock=clock)
    resets = budget.declare_quota_spent(3600)
    assert resets == T0 + dt.timedelta(hours=1)
    assert budget.exhausted()  # the run that met the verdict sends nothing more
    later = RequestBudget(BudgetState.load(state.dump(), T0, print), clock=clock)
    assert later.exhausted() is None  # the next run may probe once
    later.count()
    assert "daily quota" in later.exhausted()
    clock.now = T0 + dt.timedelta(hours=1, seconds=1)
    assert later.exhausted() is None  # reset


def test_a_probe_that_is_answered_lifts_the_verdict():
    clock, state = Clock(), BudgetState()
    RequestBudget(state, clock=clock).declare_quota_spent(None)
    budget = RequestBudget(state, clock=clock)
    budget.count()
    budget.answered()
    assert state.quota_spent_at is None
    assert budget.exhausted() is None


def test_implausible_retry_after_never_moves_the_window_beyond_a_day():
    clock, state = Clock(), BudgetState()
    budget = RequestBudget(state, clock=clock)
    resets = budget.declare_quota_spent(10**20)
    assert resets <= T0 + dt.timedelta(hours=24)
    resets = budget.declare_quota_spent(float("inf"))
    assert resets <= T0 + dt.timedelta(hours=24)


def test_ledger_shares_the_count_between_two_pipelines(tmp_path):
    path = tmp_path / "ledger.json"
    account = account_id("eu.api.knowbe4.com", "some-key")
    first = RequestBudget(BudgetState(), ledger=BudgetLedger(path, account))
    second = RequestBudget(BudgetState(), ledger=BudgetLedger(path, account))
    for _ in range(30):
        first.count()
    first.flush()
    for _ in range(20):
        second.count()
    second.flush()
    first.flush()
    assert first.state.used == second.state.used == 50
    other = RequestBudget(BudgetState(), ledger=BudgetLedger(path, account_id("x", "y")))
    assert other.state.used == 0
    assert "some-key" not in path.read_text()
    assert json.loads(path.read_text())["accounts"][account]["used"] == 50


def test_ledger_in_an_unwritable_place_falls_back_to_the_state(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    budget = RequestBudget(BudgetState(), ledger=BudgetLedger(blocker / "ledger.json", "a|b"))
    budget.count()
    assert budget.state.used == 1
    assert "cannot be used" in caplog.text


def test_resume_records_streams_and_fanout_positions():
    state = TapState()
    resume = Resume(state)
    resume.mark_stream_done("users")
    for pst in (3, 5, 9):
        assert not resume.parent_done_before("recipients", pst)
        resume.mark_parent_done("recipients", pst)
    again = Resume(TapState.load({"tap_knowbe4": state.dump()}))
    assert again.resumed
    assert again.stream_done_before("users")
    assert [p for p in (3, 5, 9, 12) if not again.parent_done_before("recipients", p)] == [12]
    again.finish()
    assert again._state.interrupted is None


def test_resume_out_of_order_parents_are_never_skipped():
    state = TapState()
    resume = Resume(state)
    resume.mark_parent_done("recipients", 9)
    resume.parent_done_before("recipients", 9)
    assert not resume.parent_done_before("recipients", 3)  # order broken: trust nothing
    resume.mark_parent_done("recipients", 3)
    assert "recipients" not in state.interrupted.parents_done
