"""Page-number paging, cursor paging (header and envelope styles) and the training cap.

These tests pin ``profile="tidy"`` (cursors on every list); the documented and hostile paging
rules are tested in ``test_sandbox_profiles.py``.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterator

import pytest
import requests

from tap_knowbe4.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """The conftest's small sandbox (same org), tidy."""
    with Sandbox(profile="tidy", users=120, seed=7, limits=False) as sb:
        yield sb


def ids(rows: list[dict[str, object]], key: str = "id") -> list[object]:
    return [r[key] for r in rows]


@pytest.mark.parametrize("per_page", [10, 17, 25, 100])
def test_page_numbers_cover_everything_once(
    sandbox: Sandbox, session: requests.Session, api: str, per_page: int
) -> None:
    expected = ids(sandbox.org.users())
    assert len(expected) == 120  # 10 and 25 divide it exactly; 17 does not; 100 leaves 20
    got: list[object] = []
    page = 1
    while True:
        rows = session.get(api + "/users", params={"page": page, "per_page": per_page}).json()
        assert len(rows) <= per_page
        if not rows:
            break
        got += ids(rows)
        page += 1
    assert got == expected
    full_pages, rest = divmod(len(expected), per_page)
    assert page - 1 == full_pages + (1 if rest else 0)


def test_defaults_and_clamps(sandbox: Sandbox, session: requests.Session, api: str) -> None:
    enrollments = sandbox.org.enrollments()
    assert len(enrollments) > 600
    default = session.get(api + "/training/enrollments").json()
    assert ids(default, "enrollment_id") == ids(enrollments[:100], "enrollment_id")
    big = session.get(api + "/training/enrollments", params={"per_page": 5000}).json()
    assert len(big) == 500
    second = session.get(api + "/training/enrollments", params={"per_page": 501, "page": 2}).json()
    assert ids(second, "enrollment_id") == ids(enrollments[500:1000], "enrollment_id")
    for bad in ("0", "-3", "abc"):
        rows = session.get(api + "/users", params={"per_page": bad}).json()
        assert len(rows) == 100
    assert (
        session.get(api + "/users", params={"page": "0"}).json()
        == session.get(api + "/users").json()
    )
    past = session.get(api + "/users", params={"page": 99})
    assert past.status_code == 200
    assert past.json() == []
    # a by-id endpoint ignores paging
    uid = sandbox.org.users()[0]["id"]
    assert session.get(f"{api}/users/{uid}", params={"page": 3}).json()["id"] == uid


def test_training_campaigns_capped_at_ten_without_exclude(
    sandbox: Sandbox, session: requests.Session, api: str
) -> None:
    everything = sandbox.org.training_campaigns()
    assert len(everything) > 10
    capped = session.get(api + "/training/campaigns", params={"per_page": 500}).json()
    assert len(capped) == 10
    assert all("completion_percentage" in c for c in capped)
    assert capped == everything[:10]
    page2 = session.get(api + "/training/campaigns", params={"per_page": 500, "page": 2}).json()
    assert page2 == everything[10:20]
    for value in ("false", "1", "yes"):
        rows = session.get(api + "/training/campaigns", params={"exclude_percentages": value})
        assert len(rows.json()) == 10
    open_ = session.get(
        api + "/training/campaigns", params={"per_page": "500", "exclude_percentages": "TRUE"}
    ).json()
    assert len(open_) == len(everything)
    assert all("completion_percentage" not in c for c in open_)


def walk_header_cursor(
    session: requests.Session, url: str, per_page: int, start: str = "true"
) -> tuple[list[object], int]:
    got: list[object] = []
    cursor = start
    calls = 0
    while True:
        resp = session.get(url, params={"cursor": cursor, "per_page": str(per_page)})
        calls += 1
        rows = resp.json()
        assert isinstance(rows, list)
        got += rows
        cursor = resp.headers.get("X-Next-Cursor", "")
        if not cursor:
            return got, calls


@pytest.mark.parametrize("start", ["true", "0", "TRUE"])
def test_cursor_header_style(
    sandbox: Sandbox, session: requests.Session, api: str, start: str
) -> None:
    expected = sandbox.org.enrollments()
    rows, calls = walk_header_cursor(session, api + "/training/enrollments", 250, start)
    assert rows == expected
    assert calls == -(-len(expected) // 250)
    users, calls = walk_header_cursor(session, api + "/users", 40)
    assert users == sandbox.org.users()
    assert calls == 3
    history, _ = walk_header_cursor(session, api + "/account/risk_score_history", 7)
    assert history == sandbox.org.account_risk_score_history()


def test_bad_cursor_is_400(session: requests.Session, api: str) -> None:
    resp = session.get(api + "/users", params={"cursor": "not-a-number"})
    assert resp.status_code == 400
    assert "cursor" in resp.json()["message"].lower()


@pytest.fixture(scope="module")
def envelope_sandbox() -> Iterator[Sandbox]:
    with Sandbox(profile="tidy", users=120, seed=7, limits=False, cursor_style="envelope") as sb:
        yield sb


def test_cursor_envelope_style(
    envelope_sandbox: Sandbox, make_session: Callable[[Sandbox], requests.Session]
) -> None:
    sb = envelope_sandbox
    expected = sb.org.enrollments(include_campaign_id=True)
    url = sb.base_url + "/v1/training/enrollments"
    got: list[object] = []
    with make_session(sb) as s:
        cursor: t.Any = "true"
        while cursor:
            resp = s.get(
                url, params={"cursor": cursor, "per_page": "300", "include_campaign_id": "true"}
            )
            body = resp.json()
            assert set(body) == {"data", "pagination"}
            assert body["pagination"]["per_page"] == 300
            assert "X-Next-Cursor" not in resp.headers
            got += body["data"]
            cursor = body["pagination"]["next_cursor"]
            assert cursor is None or isinstance(cursor, str)
        assert got == expected
        # without a cursor the same server still pages by number with bare arrays
        plain = s.get(url, params={"page": 2, "per_page": 300}).json()
        assert isinstance(plain, list)
        assert len(plain) == 300


def test_cursor_mode_ignores_page(make_session: Callable[[Sandbox], requests.Session]) -> None:
    with (
        Sandbox(profile="tidy", users=120, seed=7, limits=False, pagination="cursor") as sb,
        make_session(sb) as s,
    ):
        url = sb.base_url + "/v1/users"
        first = s.get(url, params={"per_page": 50})
        assert first.headers["X-Next-Cursor"] == str(sb.org.users()[49]["id"])
        for page in (1, 2, 7):
            resp = s.get(url, params={"per_page": 50, "page": page})
            assert resp.json() == first.json()
        rows, _ = walk_header_cursor(s, url, 50)
        assert rows == sb.org.users()


def test_page_mode_ignores_cursor(make_session: Callable[[Sandbox], requests.Session]) -> None:
    with (
        Sandbox(profile="tidy", users=120, seed=7, limits=False, pagination="page") as sb,
        make_session(sb) as s,
    ):
        url = sb.base_url + "/v1/users"
        resp = s.get(url, params={"cursor": "true", "per_page": "50", "page": "2"})
        assert "X-Next-Cursor" not in resp.headers
        assert resp.json() == sb.org.users()[50:100]
