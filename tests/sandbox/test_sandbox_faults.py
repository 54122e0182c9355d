"""Scheduled faults (``inject`` / ``POST /_sandbox/faults``) and the seeded random fault rate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import requests

from tap_knowbe4.sandbox import Sandbox


@pytest.mark.parametrize(
    ("kind", "status"),
    [("500", 500), ("502", 502), ("503", 503), ("401", 401), ("403", 403), ("404", 404)],
)
def test_injected_status_faults(
    sandbox: Sandbox, session: requests.Session, api: str, kind: str, status: int
) -> None:
    sandbox.inject(kind, path_prefix="/v1/groups", count=2)
    assert session.get(api + "/users").status_code == 200  # other paths unaffected
    for _ in range(2):
        resp = session.get(api + "/groups")
        assert resp.status_code == status
        assert "message" in resp.json()
    assert session.get(api + "/groups").status_code == 200


def test_injected_429_with_and_without_retry_after(
    sandbox: Sandbox, session: requests.Session, api: str
) -> None:
    before = sandbox.stats()["faults"]["injected"]
    sandbox.inject("429", retry_after=7)
    sandbox.inject("429")
    first, second = session.get(api + "/account"), session.get(api + "/account")
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert "Retry-After" not in second.headers
    assert first.json() == {"message": "Too many requests"}
    assert sandbox.stats()["faults"]["injected"] == before + 2


def test_injected_drop_truncate_and_slow(
    sandbox: Sandbox, session: requests.Session, api: str
) -> None:
    sandbox.inject("drop", path_prefix="/v1/account")
    with pytest.raises(requests.ConnectionError):
        session.get(api + "/account")
    sandbox.inject("truncate", path_prefix="/v1/groups")
    resp = session.get(api + "/groups")
    assert resp.status_code == 200
    full = session.get(api + "/groups").content
    assert resp.content == full[: len(full) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.content)
    sandbox.inject("slow", retry_after=0.1)
    started = time.monotonic()
    assert session.get(api + "/account").status_code == 200
    assert time.monotonic() - started >= 0.1
    assert sandbox.stats()["by_endpoint"]["/v1/account"].get("drop") == 1


def test_faults_over_http(sandbox: Sandbox, session: requests.Session, api: str) -> None:
    control = sandbox.base_url + "/_sandbox/faults"
    resp = session.post(control, json={"kind": "503", "path_prefix": "/v1/users", "count": 3})
    assert resp.status_code == 200
    assert session.get(control).json()["scheduled"][0]["count"] == 3
    assert [session.get(api + "/users").status_code for _ in range(4)] == [503, 503, 503, 200]
    assert session.post(control, json={"kind": "nope"}).status_code == 400
    assert session.post(control, data=b"not json").status_code == 400
    session.post(control, json={"kind": "500"})
    assert session.delete(control).json() == {"scheduled": []}
    assert session.get(api + "/users").status_code == 200


def run_with_faults(make_session: Callable[[Sandbox], requests.Session], seed: int) -> list[str]:
    outcome = []
    with Sandbox(users=20, seed=seed, limits=False, fault_rate=0.5) as sb, make_session(sb) as s:
        for _ in range(40):
            try:
                resp = s.get(sb.base_url + "/v1/groups")
            except requests.ConnectionError:
                outcome.append("drop")
                continue
            try:
                resp.json()
                outcome.append(str(resp.status_code))
            except ValueError:
                outcome.append("truncate")
        faults = sb.stats()["faults"]
        assert sum(faults[k] for k in ("500", "502", "503", "drop", "truncate")) == sum(
            1 for o in outcome if o != "200"
        )
    return outcome


def test_random_faults_are_seeded(make_session: Callable[[Sandbox], requests.Session]) -> None:
    first = run_with_faults(make_session, 3)
    assert first == run_with_faults(make_session, 3)
    assert set(first) <= {"200", "500", "502", "503", "drop", "truncate"}
    assert 8 <= sum(1 for o in first if o != "200") <= 32
    assert len(set(first)) >= 4
    assert first != run_with_faults(make_session, 4)


def test_latency(make_session: Callable[[Sandbox], requests.Session]) -> None:
    with Sandbox(users=10, limits=False, latency_ms=50) as sb, make_session(sb) as s:
        started = time.monotonic()
        s.get(sb.base_url + "/v1/account")
        assert time.monotonic() - started >= 0.05  # a lower bound: no load can break it
    # The control endpoints are never delayed: with an hour of latency, a delayed answer
    # would time out (ten minutes, no load stretches an undelayed one that far).
    with Sandbox(users=10, limits=False, latency_ms=3_600_000) as sb, make_session(sb) as s:
        assert s.get(sb.base_url + "/_sandbox/stats", timeout=600).status_code == 200


def test_inject_validates() -> None:
    sb = Sandbox(users=5)
    with pytest.raises(ValueError, match="unknown fault kind"):
        sb.inject("418")
    with pytest.raises(ValueError, match="count"):
        sb.inject("500", count=0)


def _next_cursor(resp: requests.Response) -> str | None:
    """The next cursor an answer names, in whichever place its style puts it."""
    if "X-Next-Cursor" in resp.headers:
        return resp.headers["X-Next-Cursor"]
    if "Link" in resp.headers:
        return resp.headers["Link"].split("cursor=")[1].split("&")[0]
    body = resp.json()
    if isinstance(body, list):
        return None
    for member in ("pagination", "_metadata"):
        if member in body:
            return body[member]["next_cursor"]
    if "links" in body:
        link = body["links"]["next"]
        return link.split("cursor=")[1].split("&")[0] if link else None
    return None


def _rows(resp: requests.Response) -> list[dict]:
    body = resp.json()
    return body if isinstance(body, list) else body.get("data", body.get("items"))


@pytest.mark.parametrize("style", ["header", "envelope", "metadata", "links", "link"])
def test_forget_cursor_leaves_the_next_cursor_out_of_one_page(
    make_session: Callable[[Sandbox], requests.Session], style: str
) -> None:
    """The page is the same; it names nothing (no header, no paging member); asked again it
    names its cursor. Answers that name none (page numbers, the last page) do not consume it."""
    with (
        Sandbox(profile="tidy", users=6, seed=7, limits=False, cursor_style=style) as sb,
        make_session(sb) as s,
    ):
        url = sb.base_url + "/v1/users"
        sb.inject("forget-cursor", path_prefix="/v1/users", count=1)
        assert s.get(url, params={"page": "1", "per_page": "2"}).status_code == 200  # no cursor
        total = len(s.get(url, params={"page": "1", "per_page": "500"}).json())
        last = s.get(url, params={"cursor": "true", "per_page": str(total)})  # names no cursor
        assert _next_cursor(last) in (None, "")
        assert sb.stats()["faults"].get("forget-cursor", 0) == 0
        forgotten = s.get(url, params={"cursor": "true", "per_page": "2"})
        assert forgotten.status_code == 200
        assert forgotten.headers.get("X-Next-Cursor") is None
        assert "Link" not in forgotten.headers
        body = forgotten.json()
        assert isinstance(body, list) or set(body) <= {"data", "items"}
        assert sb.stats()["faults"]["forget-cursor"] == 1
        again = s.get(url, params={"cursor": "true", "per_page": "2"})
        assert _rows(again) == _rows(forgotten)
        assert _next_cursor(again)
