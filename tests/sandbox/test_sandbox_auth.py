"""Authentication, 403 on forbidden prefixes and 406 for non-JSON formats."""

from __future__ import annotations

import pytest
import requests

from tap_knowbe4.sandbox import DEMO_API_KEY, Sandbox


def test_demo_key_is_default() -> None:
    sb = Sandbox(users=5)
    assert sb.api_key == DEMO_API_KEY == "kb4-sandbox-demo-key-0000000000000000"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer wrong-key",
        "Token kb4-sandbox-demo-key-0000000000000000",
        "Bearer: kb4-sandbox-demo-key-0000000000000000",
        "kb4-sandbox-demo-key-0000000000000000",
    ],
)
def test_wrong_or_missing_key_is_401(sandbox: Sandbox, api: str, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = requests.get(api + "/users", headers=headers, timeout=5)
    assert resp.status_code == 401
    assert resp.json() == {"message": "Invalid Token"}


def test_key_is_accepted_and_scheme_is_case_insensitive(sandbox: Sandbox, api: str) -> None:
    resp = requests.get(
        api + "/account", headers={"Authorization": f"bearer {sandbox.api_key}"}, timeout=5
    )
    assert resp.status_code == 200


def test_custom_key_and_invalid_token_200() -> None:
    with Sandbox(users=20, limits=False, api_key="secret", invalid_token_200=True) as sb:
        assert sb.api_key == "secret"
        bad = requests.get(
            sb.base_url + "/v1/account", headers={"Authorization": "Bearer x"}, timeout=5
        )
        assert bad.status_code == 200
        assert bad.json() == {"message": "Invalid Token"}
        good = requests.get(
            sb.base_url + "/v1/account", headers={"Authorization": "Bearer secret"}, timeout=5
        )
        assert good.status_code == 200
        assert "name" in good.json()
        assert sb.stats()["by_status"] == {"200": 2}


def test_bearer_colon_quirk() -> None:
    with Sandbox(users=20, limits=False, quirks=("bearer-colon",)) as sb:
        header = {"Authorization": f"Bearer: {sb.api_key}"}
        assert (
            requests.get(sb.base_url + "/v1/account", headers=header, timeout=5).status_code == 200
        )


def test_forbidden_prefixes_are_403() -> None:
    with Sandbox(
        users=20, limits=False, forbidden_prefixes=("/v1/training/enrollments", "/v1/account")
    ) as sb:
        headers = {"Authorization": f"Bearer {sb.api_key}"}
        for path in ("/v1/training/enrollments", "/v1/training/enrollments/5", "/v1/account",
                     "/v1/account/risk_score_history"):  # fmt: skip
            resp = requests.get(sb.base_url + path, headers=headers, timeout=5)
            assert resp.status_code == 403
            assert "message" in resp.json()
        assert (
            requests.get(sb.base_url + "/v1/users", headers=headers, timeout=5).status_code == 200
        )
        # authentication comes first
        assert requests.get(sb.base_url + "/v1/account", timeout=5).status_code == 401


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/json", 200),
        ("*/*", 200),
        ("application/*", 200),
        ("text/html, application/json;q=0.5", 200),
        ("text/html", 406),
        ("application/xml", 406),
        ("application/json;q=0, text/csv", 406),
    ],
)
def test_accept_header(session: requests.Session, api: str, accept: str, status: int) -> None:
    resp = session.get(api + "/groups", headers={"Accept": accept})
    assert resp.status_code == status
    assert resp.headers["Content-Type"].startswith("application/json")
    if status == 406:
        assert resp.json() == {"message": "Incorrect Response Format Requested"}


def test_format_requests(session: requests.Session, api: str) -> None:
    assert session.get(api + "/groups.xml").status_code == 406
    assert session.get(api + "/groups", params={"format": "csv"}).status_code == 406
    assert session.get(api + "/groups.json").json() == session.get(api + "/groups").json()
