"""Real responses recorded from the EU API (2021) go through the tap with every field kept."""

import json
import pathlib

import pytest

from tests.replay_server import replay_server
from tests.singer_output import check_singer, run_tap

RECORDING = json.loads(
    (pathlib.Path(__file__).parent / "fixtures" / "recorded-eu-2021.json").read_text()
)


def _body(url: str):
    for entry in RECORDING["entries"]:
        if entry["url"] == url:
            return entry["body"]
    raise KeyError(url)


def _campaign_psts() -> list[dict]:
    # The recording read PSTs per campaign; the tap reads them in one list. Serve the
    # union of the recorded per-campaign answers at the all-campaigns path.
    return [
        pst
        for entry in RECORDING["entries"]
        if "/security_tests?page=1" in entry["url"]
        for pst in entry["body"]
    ]


def _paged(rows: list[dict]):
    def answer(query: dict) -> list[dict]:
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 100))
        return rows[(page - 1) * per_page : page * per_page]

    return answer


@pytest.fixture(scope="module")
def run():
    routes = {
        "/v1/account": lambda _query: _body("/v1/account"),
        "/v1/phishing/campaigns": _paged(_body("/v1/phishing/campaigns?page=1&per_page=500")),
        "/v1/phishing/security_tests": _paged(_campaign_psts()),
    }
    with replay_server(routes) as url:
        yield run_tap(
            {"api_key": "recorded", "api_url": url, "pagination": "page"},
            streams=["account", "phishing_campaigns", "phishing_security_tests"],
        )


def _assert_kept(recorded: list[dict], emitted: list[dict], key: str) -> None:
    by_key = {row[key]: row for row in emitted}
    assert set(by_key) == {row[key] for row in recorded}
    for row in recorded:
        assert by_key[row[key]] == row, f"fields changed or lost for {key}={row[key]}"


def test_recorded_responses_parse_and_keep_every_field(run):
    assert run.error is None
    check_singer(run)
    _assert_kept([_body("/v1/account")], run.records("account"), "name")
    _assert_kept(
        _body("/v1/phishing/campaigns?page=1&per_page=500"),
        run.records("phishing_campaigns"),
        "campaign_id",
    )
    _assert_kept(_campaign_psts(), run.records("phishing_security_tests"), "pst_id")


def test_requests_name_the_tap_and_ask_for_json():
    headers: list[dict] = []
    with replay_server({"/v1/account": lambda _query: _body("/v1/account")}, headers) as url:
        run_tap({"api_key": "recorded", "api_url": url}, streams=["account"])
    (sent,) = headers
    assert sent["User-Agent"].startswith("tap-knowbe4/")
    assert sent["Accept"] == "application/json"
    assert sent["Authorization"] == "Bearer recorded"
