"""The shared budget ledger is a database other writers use (issue 18, defect 9).

Its path may be a symlink, another tool's file, a damaged file, or hold entries written by
hosts whose clocks differ. The tap never discards or overwrites what it did not write
without saying so, and no count it cannot read lets the account exceed its quota silently.
The first tests drive the ledger itself on real files; the last ones the installed tap.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import signal
import stat

import pytest

from tap_knowbe4.budget import RequestBudget
from tap_knowbe4.ledger import MARK, BudgetLedger, account_id
from tap_knowbe4.run import SIGNAL_LOCK_SECONDS
from tap_knowbe4.settings import Settings
from tap_knowbe4.state import BudgetState, iso, utcnow
from tap_knowbe4.tap import TapKnowBe4
from tests.cli import clean_env, run_cli
from tests.conftest import sandbox, tap_config
from tests.singer_output import catalog_selecting

ACCOUNT = account_id("eu.api.knowbe4.com", "some-key")


def _budget(path, account: str = ACCOUNT) -> RequestBudget:
    return RequestBudget(BudgetState(), ledger=BudgetLedger(path, account))


def _ledger(accounts: dict) -> str:
    return json.dumps({**MARK, "accounts": accounts})


def _entry(used: object, start: dt.datetime | str | None = None) -> dict:
    when = start if isinstance(start, str) else iso(start or utcnow() - dt.timedelta(hours=1))
    return {"window_start": when, "used": used, "updated": iso(utcnow())}


# -- a symlink, a hard link, permissions ---------------------------------------------------


def test_a_symlinked_ledger_stays_a_link_and_counts_every_pipeline(tmp_path):
    shared = tmp_path / "shared" / "budget-ledger.json"
    shared.parent.mkdir()
    links = [tmp_path / "a.json", tmp_path / "b.json"]
    for link in links:
        link.symlink_to(shared)
    first, second = _budget(links[0]), _budget(links[1])
    for budget, requests in ((first, 30), (second, 20)):
        for _ in range(requests):
            budget.count()
        budget.flush()
    first.flush()
    assert all(link.is_symlink() for link in links)
    assert json.loads(shared.read_text())["accounts"][ACCOUNT]["used"] == 50
    assert first.state.used == second.state.used == 50


def test_a_hard_linked_ledger_is_rewritten_in_place(tmp_path):
    path, other = tmp_path / "ledger.json", tmp_path / "also.json"
    path.write_text(_ledger({}))
    os.link(path, other)
    budget = _budget(path)
    budget.count()
    budget.flush()
    assert json.loads(other.read_text())["accounts"][ACCOUNT]["used"] == 1


def test_the_ledger_keeps_its_permissions(tmp_path):
    path = tmp_path / "ledger.json"
    path.write_text(_ledger({}))
    path.chmod(0o664)  # shared with a group
    budget = _budget(path)
    budget.count()
    budget.flush()
    assert stat.S_IMODE(path.stat().st_mode) == 0o664


# -- another tool's file, a damaged ledger --------------------------------------------------

FOREIGN = {
    "text": "not json at all\n",
    "array": "[1, 2, 3]",
    "another tool's object": '{"accounts": {"alice": {"plan": "pro"}}, "theme": "dark"}',
    "a config": '{"api_key": "x", "region": "eu"}',
}


@pytest.mark.parametrize("content", list(FOREIGN.values()), ids=list(FOREIGN))
def test_another_tool_s_file_is_left_untouched_and_said(tmp_path, caplog, content):
    path = tmp_path / "ledger.json"
    path.write_text(content)
    budget = _budget(path)
    budget.count()
    budget.flush()
    assert path.read_text() == content
    assert budget.state.used == 1  # counted in the state
    assert "is left untouched" in caplog.text
    assert "not a tap-knowbe4 budget ledger" in caplog.text


def test_a_damaged_ledger_is_kept_aside_and_this_account_s_count_salvaged(tmp_path, caplog):
    path = tmp_path / "ledger.json"
    other = account_id("us.api.knowbe4.com", "other-key")
    whole = json.dumps({**MARK, "accounts": {ACCOUNT: _entry(1500), other: _entry(700)}}, indent=1)
    cut = whole[: whole.index(other) + 20]  # cut short inside the next entry
    path.write_text(cut)
    budget = _budget(path)
    budget.count()
    budget.flush()
    [aside] = tmp_path.glob("ledger.json.damaged-*")
    assert aside.read_text() == cut  # nothing discarded
    assert json.loads(path.read_text())["accounts"][ACCOUNT]["used"] == 1501
    assert budget.state.used == 1501
    assert "was damaged" in caplog.text
    assert "(1500) was read from it" in caplog.text


def test_an_empty_file_becomes_a_ledger(tmp_path, caplog):
    path = tmp_path / "ledger.json"
    path.write_text("")
    budget = _budget(path)
    budget.count()
    budget.flush()
    assert json.loads(path.read_text())["accounts"][ACCOUNT]["used"] == 1
    assert "untouched" not in caplog.text


def test_a_ledger_written_before_the_mark_is_still_read(tmp_path):
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps({"accounts": {ACCOUNT: _entry(40)}}))
    budget = _budget(path)
    budget.count()
    budget.flush()
    assert json.loads(path.read_text())["accounts"][ACCOUNT]["used"] == 41


# -- counts it finds odd ---------------------------------------------------------------------


@pytest.mark.parametrize("used", ["many", -3, 10**30, 2.5, None, True])
def test_a_count_it_cannot_read_stops_the_ledger_and_says_so(tmp_path, caplog, used):
    path = tmp_path / "ledger.json"
    content = _ledger({ACCOUNT: _entry(used)})
    path.write_text(content)
    budget = _budget(path)
    budget.count()
    budget.flush()
    assert path.read_text() == content  # not overwritten with a count of 1
    assert "is left untouched" in caplog.text
    assert "count is not a number of requests" in caplog.text


@pytest.mark.parametrize("ahead", [dt.timedelta(minutes=30), dt.timedelta(hours=5)])
def test_a_window_from_a_clock_ahead_keeps_its_count(tmp_path, ahead):
    """A host whose clock runs ahead wrote a window that starts "in the future"."""
    path = tmp_path / "ledger.json"
    path.write_text(_ledger({ACCOUNT: _entry(1990, utcnow() + ahead)}))
    budget = RequestBudget(BudgetState(), daily_limit=2000, ledger=BudgetLedger(path, ACCOUNT))
    assert budget.state.used == 1990
    assert budget.remaining_today == 10


def test_of_two_counts_of_one_window_the_larger_stands(tmp_path):
    path = tmp_path / "ledger.json"
    start = utcnow() - dt.timedelta(hours=2)
    path.write_text(_ledger({ACCOUNT: _entry(5, start)}))  # a ledger that lost counts
    state = BudgetState(window_start=start, used=300)  # the state knows better
    budget = RequestBudget(state, ledger=BudgetLedger(path, ACCOUNT))
    assert budget.state.used == 300


def test_other_accounts_are_kept_unless_long_over_and_forgetting_is_said(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = tmp_path / "ledger.json"
    long_ago = utcnow() - dt.timedelta(days=5)
    odd = {"window_start": "not a time", "used": "?"}
    path.write_text(
        _ledger(
            {
                "a|0000000000000000": _entry(3, long_ago) | {"updated": iso(long_ago)},
                "b|1111111111111111": odd,
                "c|2222222222222222": _entry(9),
            }
        )
    )
    budget = _budget(path)
    budget.count()
    budget.flush()
    accounts = json.loads(path.read_text())["accounts"]
    assert accounts["b|1111111111111111"] == odd  # not this tap's to judge
    assert accounts["c|2222222222222222"]["used"] == 9
    assert "a|0000000000000000" not in accounts
    assert "forgot 1 account(s)" in caplog.text


# -- the installed tap --------------------------------------------------------------------


def _account(config: dict) -> str:
    settings = Settings.from_config(config)
    return account_id(settings.host, settings.api_key)


@pytest.mark.slow
def test_two_pipelines_linked_to_one_shared_ledger_both_count_in_it(tmp_path):
    shared = tmp_path / "shared" / "budget-ledger.json"
    shared.parent.mkdir()
    with sandbox() as sb:
        total = 0
        for name in ("job-a", "job-b"):
            link = tmp_path / f"{name}.json"
            link.symlink_to(shared)
            config = tap_config(sb, budget_ledger=True, budget_ledger_path=str(link))
            before = sb.stats()["requests"]
            run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
            assert run.returncode == 0, run.stderr[-2000:]
            total += sb.stats()["requests"] - before
            assert link.is_symlink()
        used = json.loads(shared.read_text())["accounts"][_account(config)]["used"]
    assert used == total > 0


@pytest.mark.slow
def test_a_count_written_by_a_host_whose_clock_runs_ahead_still_stops_the_run(tmp_path):
    path = tmp_path / "ledger.json"
    with sandbox() as sb:
        config = tap_config(
            sb, budget_ledger=True, budget_ledger_path=str(path), daily_request_limit=2000
        )
        ahead = utcnow() + dt.timedelta(hours=2)
        path.write_text(_ledger({_account(config): _entry(1998, ahead)}))
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users", "groups"]))
        requests = sb.stats()["requests"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert requests == 2  # the two requests left of the day, then a clean budget stop
    assert "Stopped early" in run.stderr


@pytest.mark.slow
def test_another_tool_s_file_at_the_ledger_path_is_untouched_by_a_run(tmp_path):
    path = tmp_path / "settings.json"
    content = '{"editor": {"theme": "dark"}}\n'
    path.write_text(content)
    with sandbox() as sb:
        config = tap_config(sb, budget_ledger=True, budget_ledger_path=str(path))
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]), env=clean_env())
    assert run.returncode == 0, run.stderr[-2000:]
    assert path.read_text() == content
    assert "is left untouched" in run.stderr
    assert str(path) not in run.stderr  # a path from the config is named by its setting


def test_after_a_signal_another_run_s_lock_does_not_hold_the_exit(tmp_path, caplog):
    """The ledger's lock is waited for 10 s normally; after SIGTERM only briefly (then the
    run counts in its state), so a stuck pipeline holding the lock cannot delay the stop."""
    path = tmp_path / "ledger.json"
    tap = TapKnowBe4(config={"api_key": "some-key", "budget_ledger_path": str(path)})
    tap.on_signal(signal.SIGTERM, None)
    with open(path.with_suffix(".lock"), "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        tap.run.budget.flush()
    assert f"the lock was held for more than {SIGNAL_LOCK_SECONDS:g} s" in caplog.text
