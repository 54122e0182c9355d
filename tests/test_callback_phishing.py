"""Callback (voice) phishing: three streams read with ``campaign_type=callback`` (attack 10 #6).

Every request counts: an account without callback phishing pays for its campaigns list only.
The tests' list is not asked when the callback campaigns, listed whole in the same run, name
no test (``psts_count`` 0 and ``psts`` empty on each, or no campaign at all): positive
evidence only. Without it (the campaigns not selected, a campaign that does not say, a list
cut short), the tests are asked as before. Both sides are tested here.
"""

from __future__ import annotations

import re
import typing as t

import pytest

from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records, minimum_requests
from tests.hostile_server import HostileServer, Request, hostile_config, json_answer
from tests.singer_output import catalog_selecting

CAMPAIGNS = "callback_phishing_campaigns"
TESTS = "callback_phishing_security_tests"
RECIPIENTS = "callback_phishing_security_test_recipients"
CALLBACK = [CAMPAIGNS, TESTS, RECIPIENTS]
TESTS_PATH = "/v1/phishing/security_tests"


def _asked(sb: t.Any, template: str) -> int:
    return sum(sb.stats()["by_endpoint"].get(template, {}).values())


def test_no_callback_campaign_costs_the_campaigns_list_only(tmp_path):
    """Two email campaigns, no callback one (the sandbox makes callback phishing from three
    campaigns up): the callback tests' list is not asked, the run is complete, exit 0, and
    the requests are the model's minimum (which knows the rule)."""
    with sandbox(phishing_campaigns=2) as sb:
        assert not sb.org.phishing_campaigns(campaign_type="callback")
        assert not sb.org.security_tests(campaign_type="callback")
        run = run_cli(tmp_path, tap_config(sb), catalog=catalog_selecting(CALLBACK))
        asked = _asked(sb, TESTS_PATH)
        sent = sb.stats()["requests"]
        minimum = minimum_requests(sb, CALLBACK, 25, cursor=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert asked == 0
    assert sent == minimum == 2  # cursor=true answered [], page 1 by number tells
    assert "names no test" in run.stderr
    assert not any(run.records(s) for s in CALLBACK)


def test_after_the_email_campaigns_an_empty_callback_list_costs_one_request(tmp_path):
    """Read right after ``phishing_campaigns`` (the tap's stream order), whose ``cursor=true``
    was answered with records: the callback list's empty answer is believed, no page-1
    check (one request, not two), and its tests' list is not asked."""
    streams = ["phishing_campaigns", *CALLBACK]
    with sandbox(phishing_campaigns=2) as sb:
        run = run_cli(tmp_path, tap_config(sb), catalog=catalog_selecting(streams))
        campaigns = _asked(sb, "/v1/phishing/campaigns")
        tests = _asked(sb, TESTS_PATH)
        minimum = minimum_requests(sb, streams, 25, cursor=True)
        sent = sb.stats()["requests"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert (campaigns, tests) == (2, 0)  # the email list's one page, the callback list's
    assert sent == minimum == 2


def test_callback_campaigns_with_tests_have_their_tests_and_recipients_read(tmp_path):
    """The control: the campaigns name tests, the tests' list is asked and every callback
    record is sent, at the model's minimum."""
    with sandbox() as sb:
        truth = {s: expected_records(sb.org, s) for s in CALLBACK}
        run = run_cli(tmp_path, tap_config(sb), catalog=catalog_selecting(CALLBACK))
        asked = _asked(sb, TESTS_PATH)
        sent = sb.stats()["requests"]
        minimum = minimum_requests(sb, CALLBACK, 25, cursor=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert asked >= 1
    assert sent == minimum
    for stream in CALLBACK:
        assert truth[stream], stream
        assert len(run.records(stream)) == len(truth[stream]), stream


def test_without_the_campaigns_selected_the_tests_are_asked(tmp_path):
    """No campaigns read in the run: no evidence, the tests' list is asked (empty here)."""
    with sandbox(phishing_campaigns=2) as sb:
        run = run_cli(tmp_path, tap_config(sb), catalog=catalog_selecting([TESTS, RECIPIENTS]))
        asked = _asked(sb, TESTS_PATH)
    assert run.returncode == 0, run.stderr[-2000:]
    assert asked >= 1


CALLBACK_TEST = {
    "campaign_id": 7,
    "pst_id": 70,
    "status": "Closed",
    "name": "Callback: Help Desk Verification",
    "started_at": "2026-01-05T10:00:00.000Z",
    "scheduled_count": 1,
    "delivered_count": 1,
}
RECIPIENT = {"recipient_id": 700, "pst_id": 70, "user": {"id": 1, "email": "a@example.com"}}


def _callback_server(campaign: dict) -> t.Callable[[Request], object]:
    """One callback campaign (as given) with one test and one recipient; email lists empty."""
    lists = {
        "/v1/phishing/campaigns": [campaign],
        TESTS_PATH: [CALLBACK_TEST],
        f"{TESTS_PATH}/70/recipients": [RECIPIENT],
    }

    def handler(request: Request) -> object:
        callback = request.query.get("campaign_type") == "callback"
        first = request.query.get("page", "1") == "1" and "cursor" not in request.query
        return json_answer(lists.get(request.path, []) if callback and first else [])

    return handler


def test_a_campaign_that_does_not_say_it_has_no_test_is_no_evidence(tmp_path):
    """A campaign sent without ``psts_count``/``psts`` (a proxy, an API that drops them), or
    with a count that is not a whole 0: its tests' list is asked, and its test is read."""
    for campaign in (
        {"campaign_id": 7, "name": "Callback"},
        {"campaign_id": 7, "psts_count": "0", "psts": []},
        {"campaign_id": 7, "psts_count": 0},
    ):
        with HostileServer(_callback_server(campaign)) as server:
            run = run_cli(
                tmp_path, hostile_config(server, page_size=500), catalog=catalog_selecting(CALLBACK)
            )
        assert run.returncode == 0, run.stderr[-2000:]
        assert [r["pst_id"] for r in run.records(TESTS)] == [70], campaign
        assert [r["recipient_id"] for r in run.records(RECIPIENTS)] == [700], campaign


def test_a_campaign_that_says_it_has_no_test_saves_the_request(tmp_path):
    """The same server, the campaign saying ``psts_count: 0, psts: []``: the tests' list is
    not asked (the server's list would contradict its own campaign; the API's does not)."""
    campaign = {"campaign_id": 7, "psts_count": 0, "psts": []}
    with HostileServer(_callback_server(campaign)) as server:
        run = run_cli(
            tmp_path, hostile_config(server, page_size=500), catalog=catalog_selecting(CALLBACK)
        )
        asked = [r for r in server.requests if r.path == TESTS_PATH]
    assert run.returncode == 0, run.stderr[-2000:]
    assert not asked
    assert [r["campaign_id"] for r in run.records(CAMPAIGNS)] == [7]


@pytest.mark.parametrize("campaigns", [2, None], ids=["no-callback", "callback"])
def test_the_plan_forecasts_what_the_sync_sends(tmp_path, campaigns):
    """``--plan`` reads the same lists with the same evidence: its total is what the sync
    then sends, with and without callback phishing, every phishing stream selected."""
    streams = [*CALLBACK, "phishing_campaigns", "phishing_security_tests"]
    streams.append("phishing_security_test_recipients")
    options = {} if campaigns is None else {"phishing_campaigns": campaigns}
    with sandbox(**options) as sb:
        config = tap_config(sb)
        plan = run_cli(tmp_path, config, "--plan", catalog=catalog_selecting(streams))
        planned = sb.stats()["requests"]
        sb.reset()
        run = run_cli(tmp_path, config, catalog=catalog_selecting(streams))
        sent = sb.stats()["requests"]
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r"^total\s+(\d+)", plan.stdout, flags=re.MULTILINE)
    assert found, plan.stdout
    assert int(found.group(1)) == sent
    assert planned <= sent  # the plan read the lists only
