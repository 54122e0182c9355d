"""Regression tests for the twelfth adversarial review (/work/notes/attack-12.md).

Each test is one finding (its number in the name). The property: exit 0 means the data is
there, and a setting is either honoured as documented or refused in one line before any
request.
"""

from __future__ import annotations

import datetime as dt
import typing as t
import urllib.error
import urllib.request

import pytest

from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.hostile_server import Answer, HostileServer, Request, hostile_config, json_answer, users
from tests.singer_output import catalog_selecting

RISK = "account_risk_score_history"
PSTS = "phishing_security_tests"


# -- 1: a start_date before the year 1000 dropped every risk point ---------------------


@pytest.mark.parametrize("start", ["0999-06-01", "0024-01-01T00:00:00Z"])
def test_1_a_start_date_of_three_digit_year_bounds_points_as_a_date(tmp_path, start):
    """The risk histories compared each point's date with ``start_date`` formatted by
    ``strftime("%Y-%m-%d")``, which writes the year 999 as ``999`` (glibc pads nothing):
    ``"2025-02-27" < "999-06-01"`` as text, so every point was dropped, 0 of 157, exit 0,
    no line, while the phishing tests (compared as instants) were all read. Formatted as an
    ISO date (``0999-06-01``) every point is on or after it."""
    with sandbox(users=8) as sb:
        config = tap_config(sb, start_date=start)
        run = run_cli(tmp_path, config, catalog=catalog_selecting([RISK, PSTS]))
        truth = expected_records(sb.org, RISK)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records(RISK)) == len(truth) > 0


# -- 2: a start_date in the future read nothing, exit 0 ----------------------------------


@pytest.mark.parametrize("days", [2, 365 * 36])
def test_2_a_start_date_in_the_future_is_refused_before_any_request(tmp_path, days):
    """``start_date: 2062-01-01`` (a typo for 2026) read no phishing test and no risk point,
    exit 0; with ``emit_activate_version_messages`` the run sent ACTIVATE_VERSION for
    ``phishing_security_tests`` with only the unstarted tests, so a version-aware target
    deleted every test it had loaded. Nothing is dated after a future start: the setting is
    refused in one line, before any request. Tomorrow (a zone ahead of UTC) is still taken."""
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).date().isoformat()
    with HostileServer(lambda r: json_answer(users([1]))) as server:
        config = hostile_config(server, start_date=start)
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
        sent = list(server.requests)
    line = result.assert_one_clear_line(code=1)
    assert "Invalid configuration: start_date" in line
    assert "future" in line
    assert sent == []


def test_2_a_start_date_of_tomorrow_is_taken(tmp_path):
    """The control: tomorrow (UTC) is a date some zone already lives in."""
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).date().isoformat()
    with HostileServer(lambda r: json_answer(users([1]))) as server:
        config = hostile_config(server, start_date=start)
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.records("users")) == 1


# -- 3: a daily quota that leaves only the proof pages: exit 0 every day, for ever ---------


@pytest.mark.slow  # six runs: `make test`
def _quota_days(
    tmp_path, quota: int, days: int, spent: t.Container[int] = ()
) -> tuple[list[int], list, list[str]]:
    """Chained runs of groups and their risk histories (12 users, ``page_size`` 25) against
    a sandbox whose daily quota is ``quota`` requests, a new day before each run: the exit
    codes, each run's interrupted-sync record, and each run's stderr."""
    streams = ["groups", "group_risk_score_history"]
    options = {"limits": True, "per_second": 1000, "per_minute": 100_000, "retry_after": True}
    codes: list[int] = []
    positions: list = []
    errors: list[str] = []
    with sandbox(users=8, daily_quota=quota, **options) as sb:
        config = tap_config(
            sb,
            page_size=25,
            budget_ledger=False,
            quota_wait_seconds=0,
            max_retry_wait_seconds=1,
        )
        state = None
        for run in range(days):
            if run not in spent:
                sb.reset()  # a new day for the server (else the day's quota stays spent)
            (tmp_path / str(run)).mkdir()
            result = run_cli(
                tmp_path / str(run), config, state=state, catalog=catalog_selecting(streams)
            )
            state = result.final_state or state
            codes.append(result.returncode)
            positions.append((state or {}).get("tap_knowbe4", {}).get("interrupted"))
            errors.append(result.stderr)
            if positions[-1] is None or result.returncode != 0:
                break
    return codes, positions, errors


@pytest.mark.slow  # several runs: `make test`
def test_3_a_quota_that_only_reaches_the_proof_pages_is_not_promised_every_day(tmp_path):
    """A server whose quota leaves the tap 2 requests a day (another integration on the
    account uses the rest): a run stopped in a long group risk history reads the parent's
    page and its own page again as proof, then gets 429, and said "the next run continues",
    exit 0, in every run: the cap sweep of attack 12 ran 120 such days, no position moved.
    Now a run the quota stops without progress counts (``stalled_runs`` in the state), and
    the third in a row exits 1 in one line saying the quota left is too small, as
    ``max_requests_per_run`` does."""
    codes, positions, errors = _quota_days(tmp_path, quota=2, days=8)
    assert codes[:-1] == [0] * (len(codes) - 1)
    assert codes[-1] == 1, (codes, positions[-1])
    counted = [p.get("stalled_runs", 0) for p in positions]
    assert counted[-3:] == [1, 2, 3], positions  # the runs that moved something count 0
    assert set(counted[:-3]) <= {0}, positions
    assert "quota stopped 3 runs in a row" in errors[-1]
    assert "api_key" not in errors[-1]


@pytest.mark.slow  # several runs: `make test`
def test_3_runs_refused_at_their_first_request_wait_for_the_reset(tmp_path):
    """Attack 13's question: a run whose every request the quota refused (another job spent
    the day) read nothing in vain: it neither counts as stalled nor ends the count."""
    codes, positions, _ = _quota_days(tmp_path, quota=2, days=6, spent={3, 4, 5})
    assert codes == [0] * 6, codes
    counted = [p.get("stalled_runs", 0) for p in positions]
    assert counted[2:] == [counted[2]] * 4, counted  # runs 3-5: refused at once, no change


@pytest.mark.slow  # several runs: `make test`
def test_3_a_quota_that_leaves_a_page_more_finishes_exit_0_each_day(tmp_path):
    """The control: 3 requests a day read one new page after the proof pages; every run
    exits 0 and the sync finishes (no stall is counted)."""
    codes, positions, _ = _quota_days(tmp_path, quota=3, days=80)
    assert positions[-1] is None, positions[-1]
    assert set(codes) == {0}


# -- 4: one empty callback campaigns answer deleted every callback test ------------------

CALLBACK = [
    "users",
    "callback_phishing_campaigns",
    "callback_phishing_security_tests",
    "callback_phishing_security_test_recipients",
]


def _emptying_proxy(sb: t.Any, empty: dict[str, bool]) -> t.Callable[[Request], Answer]:
    """The sandbox, except the callback campaigns answer ``[]`` (200) while ``empty["on"]``."""

    def handle(request: Request) -> Answer:
        if (
            empty["on"]
            and request.path == "/v1/phishing/campaigns"
            and request.query.get("campaign_type") == "callback"
        ):
            return json_answer([])
        query = f"?{request.raw_query}" if request.raw_query else ""
        asked = urllib.request.Request(  # noqa: S310 - the loopback sandbox
            sb.base_url + request.path + query,
            headers={"Authorization": request.headers.get("Authorization", "")},
        )
        try:
            with urllib.request.urlopen(asked) as answer:  # noqa: S310 - the loopback sandbox
                status, body, headers = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as refused:
            status, body, headers = refused.code, refused.read(), refused.headers
        kept = {k: v for k, v in headers.items() if k.lower() in ("content-type", "x-next-cursor")}
        return Answer(status, body, kept)

    return handle


def test_4_callback_tests_not_asked_after_an_empty_campaigns_answer_are_not_activated(tmp_path):
    """The callback tests' list is not asked when the callback campaigns, read whole in the
    run, name no test, also when they answer none at all. One empty 200 on that list (a
    proxy, an API's slip) then ended the tests' read with no request and no record, and
    ACTIVATE_VERSION (other lists held records): a version-aware target deleted every
    callback test, exit 0 (asked, the tests would have named their campaign and kept both
    tables: the contradicted-read rule). Inferred from an empty list, the tests are not
    activated; the next run reads them."""
    empty = {"on": False}
    with sandbox(users=12) as sb, HostileServer(_emptying_proxy(sb, empty)) as proxy:
        assert sb.org.security_tests(campaign_type="callback")
        config = tap_config(sb, api_url=proxy.url, emit_activate_version_messages=True)
        catalog = catalog_selecting(CALLBACK)
        (tmp_path / "good").mkdir()
        good = run_cli(tmp_path / "good", config, catalog=catalog)
        empty["on"] = True
        (tmp_path / "empty").mkdir()
        slip = run_cli(tmp_path / "empty", config, catalog=catalog, state=good.final_state)

    def activated(run: t.Any) -> set[str]:
        return {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}

    assert good.returncode == 0, good.stderr[-2000:]
    assert slip.returncode == 0, slip.stderr[-2000:]
    assert good.records("callback_phishing_security_tests")
    assert "callback_phishing_security_tests" in activated(good)
    assert "users" in activated(slip)  # evidence: another list held records
    assert "callback_phishing_security_tests" not in activated(slip)
    assert "listed no campaign" in slip.stderr
