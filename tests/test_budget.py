import datetime as dt

from tap_knowbe4.budget import RequestBudget
from tap_knowbe4.progress import SyncProgress

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def test_budget_counts_into_state_and_a_second_run_knows_what_is_left():
    clock, state = Clock(), {}
    budget = RequestBudget(state, clock=clock)
    budget.seats = 250
    assert budget.daily_limit == 2250
    for _ in range(2000):
        budget.count()
    assert state["request_budget"] == {"window_start": "2026-11-01T08:00:00Z", "used": 2000}
    clock.now = T0 + dt.timedelta(hours=5)
    again = RequestBudget(dict(state), clock=clock)
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
    assert again.used == 1


def test_per_run_cap_and_configured_limit():
    budget = RequestBudget({}, daily_limit=10, max_per_run=3, clock=Clock())
    for _ in range(3):
        assert budget.exhausted() is None
        budget.count()
    assert "max_requests_per_run (3)" in budget.exhausted()


def test_server_quota_429_exhausts_until_its_retry_after():
    clock, state = Clock(), {}
    budget = RequestBudget(state, clock=clock)
    budget.exhaust(retry_after=3600)
    assert budget.exhausted()
    assert budget.resets_at == T0 + dt.timedelta(hours=1)
    clock.now = T0 + dt.timedelta(hours=1)
    assert budget.exhausted() is None


def test_progress_records_streams_and_fanout_positions():
    state = {}
    progress = SyncProgress(state)
    progress.mark_done("users")
    for pst in (3, 5, 9):
        assert not progress.skip_parent("recipients", pst)
        progress.mark_parent_done("recipients", pst)
    resumed = SyncProgress(dict(state))
    assert resumed.resumed
    assert resumed.is_done("users")
    assert [p for p in (3, 5, 9, 12) if not resumed.skip_parent("recipients", p)] == [12]
    resumed.finish()
    assert resumed.streams_done == set()


def test_progress_out_of_order_parents_are_never_skipped():
    state = {}
    progress = SyncProgress(state)
    progress.mark_parent_done("recipients", 9)
    progress.skip_parent("recipients", 9)
    assert not progress.skip_parent("recipients", 3)  # order broken: trust nothing
    progress.mark_parent_done("recipients", 3)
    assert "recipients" not in state["sync_progress"]["parents_done_through"]
