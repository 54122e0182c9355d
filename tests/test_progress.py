"""The progress line counts towards this run's own plan, at the rate the tap paces itself to.

Against the sandbox, a first run and the incremental run after it are sampled before every
request: the total the progress line would show then, and the requests done. The total is
known from the first request on (a first run included), never below what was done, equal to
it at the end; once a fan-out's parents are listed, its share of the total is exact;
and half-way through the incremental run (which sends a fraction of the first run's requests)
the share shown is the true one, not one measured against the first run.
"""

from __future__ import annotations

import contextlib
import io
import time

import pytest

from tap_knowbe4.progress import ProgressLog
from tap_knowbe4.run import RunControl
from tap_knowbe4.run_plan import RunPlan
from tap_knowbe4.settings import Settings
from tap_knowbe4.state import LastRun, TapState
from tap_knowbe4.tap import TapKnowBe4
from tests.conftest import sandbox, tap_config
from tests.singer_output import catalog_selecting


class Sampled:
    """One sync in-process, with the progress total sampled before every request."""

    def __init__(self, config: dict, state: dict | None = None) -> None:
        tap = TapKnowBe4(config=config, catalog=catalog_selecting(), state=state)
        run = tap.run
        progress = ProgressLog(run)
        parents = {c.name: s.name for s in tap.streams.values() for c in s.child_streams}
        self.samples: list[tuple[int, int, frozenset[str]]] = []
        #: Each fan-out's expected requests at the first request after its parents' list.
        self.priced: dict[str, int] = {}
        send = run.before_request

        def before_request(stream: str) -> None:
            ended = frozenset(run.plan.ended)
            self.samples.append((run.total_requests, progress.expected_requests(), ended))
            for child, parent in parents.items():
                if parent in ended and child not in self.priced and child in run.plan.streams:
                    self.priced[child] = run.plan.expected(child, run.report.stream(child).requests)
            send(stream)

        run.before_request = before_request  # type: ignore[method-assign]
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        with contextlib.redirect_stdout(out):
            tap.sync_all()
        self.tap = tap
        self.total = run.total_requests
        self.final_expected = progress.expected_requests()
        self.by_stream = {n: r.requests for n, r in run.report.streams.items()}
        self.fan_outs = {c: p for c, p in parents.items() if c in run.plan.streams}
        out.flush()
        self.state = tap.state


def _check_run(run: Sampled) -> None:
    assert run.samples, "no request sampled"
    assert all(expected >= done for done, expected, _ in run.samples)
    assert run.final_expected == run.total
    # Once its parents are listed, a fan-out is priced exactly (the lists' own page counts
    # are the only estimates left). Streams are read by name: a fan-out whose parents were
    # listed last is checked by the total at the end.
    assert {c for c in run.fan_outs if run.by_stream.get(c)} <= set(run.priced)
    for child, priced in run.priced.items():
        assert priced == run.by_stream.get(child, 0), child


@pytest.mark.slow  # two syncs of a 200-user sandbox
def test_progress_total_on_a_first_and_an_incremental_run():
    with sandbox(users=200) as sb:
        config = tap_config(sb, page_size=50, include_user_risk_score_history=False)
        first = Sampled(config)
        _check_run(first)
        sb.advance(days=3)
        second = Sampled(config, state=first.state)
        _check_run(second)
    # The incremental run sends a fraction of the first's requests: the previous run's
    # total would have been far off.
    assert second.total * 2 < first.total, (first.total, second.total)
    halfway = next(s for s in second.samples if s[0] >= second.total / 2)
    done, expected, _ = halfway
    assert abs(done / expected - done / second.total) <= 0.1, (halfway, second.total)


def test_a_fan_out_of_a_list_still_being_read_is_scaled_to_the_parents_expected():
    """On a first run the account's seats say how many users the per-user history will cost."""
    plan = RunPlan()
    plan.track([("users", None), ("user_risk_score_history", "users")])
    plan.expect_records("users", 5000)
    plan.page_listed("users", 500, {"user_risk_score_history": 500}, last=False)
    assert plan.expected("users", 1) == 2  # at least one page more
    assert plan.expected("user_risk_score_history", 10) == 5000
    plan.page_listed("users", 20, {"user_risk_score_history": 20}, last=True)
    assert plan.expected("users", 2) == 2
    assert plan.expected("user_risk_score_history", 10) == 520  # all listed: the priced
    plan.listing_ended("users")
    assert plan.expected("user_risk_score_history", 519) == 519  # over: what was sent


def test_the_eta_uses_the_paced_rate_not_the_bursts():
    """50 requests a minute: 200 requests left take four minutes, however fast the last went."""
    settings = Settings.from_config({"api_key": "k", "requests_per_minute": 50})
    state = TapState()
    state.last_run = LastRun(requests=300, requests_by_stream={"users": 300})
    run = RunControl(settings, state)
    run.plan.track([("users", None)])
    run.report.stream("users").requests = 100
    run.started = time.monotonic() - 10  # 100 requests in 10 s: a burst
    line = ProgressLog(run).line()
    assert "100 of ~300 requests (33%)" in line
    assert "ETA 4m00s" in line


def test_without_pacing_the_eta_uses_the_rate_seen():
    settings = Settings.from_config(
        {"api_key": "k", "requests_per_second": 0, "requests_per_minute": 0}
    )
    run = RunControl(settings, TapState())
    run.plan.track([("users", None)])
    run.report.stream("users").requests = 10
    assert run.plan.total(lambda name: run.report.stream(name).requests) == 11  # a page more
    progress = ProgressLog(run)
    run.started = time.monotonic() - 100
    rate = progress.requests_per_second()
    assert rate is not None
    assert 0.09 < rate <= 0.1
