"""Profiles: what each sets, ground truth over HTTP under each, determinism, the CLI flag.

``read_all`` is a client that knows only what ``sb.paging`` tells (cursor endpoints, caps,
unpaginated endpoints); it must read exactly the ground truth in exactly
``sb.paging.min_requests(...)`` requests under every profile.
"""

from __future__ import annotations

import re
import subprocess
import sys
import typing as t
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tap_knowbe4.sandbox import DEMO_API_KEY, Organization, Sandbox
from tap_knowbe4.sandbox.cli import sandbox_options
from tap_knowbe4.sandbox.options import (
    LIST_TEMPLATES,
    PROFILES,
    OrgOptions,
    ServerOptions,
)

pytestmark = pytest.mark.slow  # each profile's org built twice: `make test`, not `make test-fast`

ORG: dict[str, t.Any] = {"users": 60, "seed": 13, "limits": False}


def _cursor_of(link: str | None) -> str | None:
    """The ``cursor`` parameter of a next link (None at the end)."""
    return parse_qs(urlsplit(link).query)["cursor"][0] if link else None


def read_all(
    sb: Sandbox,
    s: requests.Session,
    path: str,
    params: dict[str, str] | None = None,
    per_page: int = 500,
    cursor: bool = True,
) -> tuple[list[Any], int]:
    """Every row of a list endpoint and the number of requests it took."""
    rules = sb.paging
    url = sb.base_url + path
    base = dict(params or {})
    if rules.is_unpaginated(path):
        resp = s.get(url, params={**base, "per_page": str(per_page)})
        assert resp.status_code == 200, resp.text
        return resp.json(), 1
    size = rules.page_size(path, per_page, exclude_percentages="exclude_percentages" in base)
    rows: list[Any] = []
    calls = 0
    if rules.pages_by_cursor(path, cursor):
        token: str | None = "true"
        while token is not None:
            resp = s.get(url, params={**base, "per_page": str(per_page), "cursor": token})
            calls += 1
            assert resp.status_code == 200, resp.text
            body = resp.json()
            style = rules.style(path)
            if style == "envelope" and isinstance(body, dict):
                assert set(body) == {"data", "pagination"}
                assert body["pagination"]["per_page"] == size
                rows += body["data"]
                token = body["pagination"]["next_cursor"]
            elif style == "metadata":
                assert set(body) == {"data", "_metadata"}
                rows += body["data"]
                token = body["_metadata"]["next_cursor"]
            elif style == "links":
                assert set(body) == {"items", "links"}
                rows += body["items"]
                token = _cursor_of(body["links"]["next"])
            elif style == "link":
                rows += body
                found = re.search(r"<([^>]*)>", resp.headers.get("Link", ""))
                token = _cursor_of(found.group(1) if found else None)
            else:  # a bare array: header style, or the envelope style's empty answer
                rows += body
                token = resp.headers.get("X-Next-Cursor") or None
        return rows, calls
    page = 1
    while True:
        resp = s.get(url, params={**base, "per_page": str(per_page), "page": str(page)})
        calls += 1
        assert resp.status_code == 200, resp.text
        got = resp.json()
        assert isinstance(got, list)
        assert len(got) <= size
        rows += got
        if len(got) < size:
            return rows, calls
        page += 1


def list_cases(org: Organization) -> list[tuple[str, dict[str, str], list[Any]]]:
    """(path, params, ground truth) for every list endpoint."""
    user = next(u for u in org.users() if u["status"] == "active")["id"]
    group = max(org.groups(), key=lambda g: g["member_count"])["id"]
    campaign = org.phishing_campaigns()[0]["campaign_id"]
    pst = max(org.security_tests(), key=lambda p: p["scheduled_count"] or 0)["pst_id"]
    callback = org.security_tests(campaign_type="callback")[0]["pst_id"]
    flags = {"include_campaign_id": "true", "include_store_purchase_id": "true"}
    flags["include_employee_number"] = "true"
    return [
        ("/v1/account/risk_score_history", {"full": "true"},
         org.account_risk_score_history(full=True)),
        ("/v1/users", {}, org.users()),
        ("/v1/users", {"expand": "group"}, org.users(expand="group")),
        (f"/v1/users/{user}/risk_score_history", {"full": "true"},
         org.user_risk_score_history(user, full=True)),
        ("/v1/groups", {}, org.groups()),
        (f"/v1/groups/{group}/members", {}, org.group_members(group)),
        (f"/v1/groups/{group}/risk_score_history", {"full": "true"},
         org.group_risk_score_history(group, full=True)),
        ("/v1/phishing/campaigns", {}, org.phishing_campaigns()),
        (f"/v1/phishing/campaigns/{campaign}/security_tests", {},
         org.campaign_security_tests(campaign)),
        ("/v1/phishing/security_tests", {}, org.security_tests()),
        (f"/v1/phishing/security_tests/{pst}/recipients", {}, org.recipients(pst)),
        (f"/v1/phishing/security_tests/{callback}/recipients", {"campaign_type": "callback"},
         org.recipients(callback, campaign_type="callback")),
        ("/v1/training/store_purchases", {}, org.store_purchases()),
        ("/v1/training/policies", {}, org.policies()),
        ("/v1/training/campaigns", {}, org.training_campaigns()),
        ("/v1/training/campaigns", {"exclude_percentages": "true"},
         org.training_campaigns(exclude_percentages=True)),
        ("/v1/training/enrollments", {}, org.enrollments()),
        ("/v1/training/enrollments", flags,
         org.enrollments(include_campaign_id=True, include_store_purchase_id=True,
                         include_employee_number=True)),
    ]  # fmt: skip


#: The hostile caps (groups 100, recipients 250) do not bind on a small org; tighter ones do.
TIGHT_CAPS = {
    "/v1/users": 25,
    "/v1/groups": 5,
    "/v1/phishing/security_tests/{pst_id}/recipients": 9,
    "/v1/training/enrollments": 120,
    "/v1/training/campaigns": 4,
}
VARIANTS: dict[str, dict[str, t.Any]] = {name: {"profile": name} for name in PROFILES}
VARIANTS["hostile, tight caps"] = {"profile": "hostile", "per_page_caps": TIGHT_CAPS}


@pytest.fixture(scope="module", params=list(VARIANTS))
def profiled(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """One small sandbox per profile (and a hostile one with caps that bind)."""
    with Sandbox(**VARIANTS[request.param], **ORG) as sb:
        yield sb


def test_profile_table() -> None:
    org_names = {f.name for f in fields(OrgOptions)}
    server_names = {f.name for f in fields(ServerOptions)}
    assert {frozenset(p) for p in PROFILES.values()} == {frozenset(PROFILES["documented"])}
    for profile, values in PROFILES.items():
        sb = Sandbox(profile=profile, users=5)
        assert sb.profile == profile
        for name, value in values.items():
            assert name in org_names | server_names, name
            if name in org_names:
                assert getattr(sb.org.options, name) == value, (profile, name)
            if name in server_names:
                got = getattr(sb.server_options, name)
                want = tuple(sorted(value.items())) if isinstance(value, dict) else value
                assert got == want, (profile, name)
    # the dataclass defaults are the documented profile, and it is the default profile
    assert Sandbox(users=5).profile == "documented"
    for name, value in PROFILES["documented"].items():
        default = (OrgOptions() if name in org_names else ServerOptions()).__getattribute__(name)
        assert default == (tuple(value.items()) if isinstance(value, dict) else value), name
    hostile = PROFILES["hostile"]
    assert hostile["per_page_caps"]
    assert min(hostile["per_page_caps"].values()) < 500
    assert hostile["unpaginated"] == ("/v1/users/{user_id}/risk_score_history",)
    assert hostile["lockout_seconds"] == 300
    drift = PROFILES["drift"]
    assert (drift["pagination"], drift["cursor_scope"], drift["cursor_style"]) == (
        "cursor",
        "all",
        "varied",
    )
    assert set(drift["quirks"]) == {
        "legacy-names",
        "legacy-fields",
        "new-fields",
        "repeated-keys",
        "offset-times",
    }
    tidy = PROFILES["tidy"]
    assert (tidy["cursor_scope"], tidy["cursor_style"], tidy["retry_after"]) == (
        "all",
        "header",
        True,
    )


def test_explicit_options_override_the_profile() -> None:
    sb = Sandbox(profile="hostile", users=5, lockout_seconds=0, per_page_caps={})
    assert sb.server_options.lockout_seconds == 0
    assert sb.paging.cap("/v1/groups") == 500
    assert sb.paging.unpaginated == frozenset({"/v1/users/{user_id}/risk_score_history"})
    sb = Sandbox(profile="tidy", users=5, odd_values=True, per_page_caps=["/v1/users=20"])
    assert sb.org.options.odd_values
    assert not sb.org.options.broken_refs
    assert sb.paging.cap("/v1/users") == 20
    assert sb.paging.page_size("/v1/users/", 500) == 20  # a concrete path works too
    org = Organization(profile="tidy", users=5, coherent_numbers=True)
    assert org.options.coherent_numbers
    assert not org.options.deleted_users
    with pytest.raises(ValueError, match="unknown profile"):
        Sandbox(profile="messy", users=5)
    with pytest.raises(ValueError, match="not a list endpoint"):
        Sandbox(users=5, per_page_caps={"/v1/users/{user_id}": 10})
    with pytest.raises(ValueError, match="between 1 and 500"):
        Sandbox(users=5, per_page_caps={"/v1/users": 0})
    with pytest.raises(ValueError, match="not a list endpoint"):
        Sandbox(users=5, unpaginated=("/v1/account",))
    with pytest.raises(ValueError, match="cursor_scope"):
        Sandbox(users=5, cursor_scope="users")
    with pytest.raises(ValueError, match="date_header"):
        Sandbox(users=5, date_header="sundial")


def test_paging_rules_per_profile() -> None:
    enrollments = "/v1/training/enrollments"
    for profile in PROFILES:
        rules = Sandbox(profile=profile, users=5).paging
        assert rules.list_templates == LIST_TEMPLATES
        if profile in ("tidy", "drift"):
            assert rules.cursor_templates == LIST_TEMPLATES
        else:
            assert rules.cursor_templates == {enrollments}
        assert rules.min_requests(enrollments, 1000, 500, cursor=True) == 2
        cursor_only = profile == "drift"  # `page` ignored: cursors without asking
        assert rules.min_requests(enrollments, 1000, 500, cursor=False) == (2 if cursor_only else 3)
        assert rules.min_requests(enrollments, 0, 500, cursor=True) == 1
        assert rules.min_requests("/v1/training/campaigns", 25, exclude_percentages=False) == 3
    hostile = Sandbox(profile="hostile", users=5).paging
    assert hostile.min_requests("/v1/groups", 250, 500) == 3  # capped at 100 per page
    assert hostile.min_requests("/v1/users/123/risk_score_history", 900, 100) == 1
    assert not hostile.pages_by_cursor("/v1/users")
    page_only = Sandbox(profile="tidy", users=5, pagination="page").paging
    assert page_only.cursor_templates == frozenset()
    assert page_only.min_requests(enrollments, 1000, 500, cursor=True) == 3
    with pytest.raises(ValueError, match="not a list endpoint"):
        hostile.cap("/v1/account")


def test_ground_truth_equals_http_under_each_profile(
    profiled: Sandbox, make_session: Callable[[Sandbox], requests.Session]
) -> None:
    sb = profiled
    with make_session(sb) as s:
        for path, params, expected in list_cases(sb.org):
            assert expected, path
            for per_page, cursor in ((500, True), (500, False), (7, True), (7, False)):
                sb.reset()
                rows, calls = read_all(sb, s, path, params, per_page, cursor)
                assert rows == expected, (path, params, per_page, cursor)
                exclude = "exclude_percentages" in params
                floor = sb.paging.min_requests(
                    path, len(expected), per_page, cursor=cursor, exclude_percentages=exclude
                )
                assert calls == floor == sb.stats()["requests"], (path, per_page, cursor)


def test_ground_truth_keeps_the_odd_values(profiled: Sandbox) -> None:
    org = profiled.org
    users = org.users()
    enrollments = org.enrollments(include_employee_number=True)
    odd = org.options.odd_values
    assert any("groups" not in u for u in users) == odd
    assert any(isinstance(u["employee_number"], int) for u in users) == odd
    assert any(isinstance(u["phish_prone_percentage"], int) for u in users) == odd
    numbers = [e["user"].get("employee_number") for e in enrollments if e["user"]]
    assert any(isinstance(n, int) for n in numbers) == odd
    known = {u["id"] for u in users}
    dangling = [e for e in enrollments if e["user"] and e["user"]["id"] not in known]
    assert bool(dangling) == org.options.broken_refs


def crawl(sb: Sandbox, s: requests.Session) -> list[tuple[str, int, bytes, str, str]]:
    """Every list endpoint (two pages, plus a cursor walk) and a few by-id answers."""
    out = []
    org = sb.org
    paths = [(p, params) for p, params, _ in list_cases(org)]
    paths += [("/v1/account", {}), (f"/v1/users/{org.users()[1]['id']}", {})]
    paths += [("/v1/training/enrollments", {"cursor": "true", "per_page": "40"})]
    for path, params in paths:
        for page in ("1", "2"):
            resp = s.get(sb.base_url + path, params={**params, "page": page, "per_page": "40"})
            out.append(
                (path, resp.status_code, resp.content, resp.headers["X-Request-Id"],
                 resp.headers["Date"] if sb.server_options.date_header == "clock" else "")
            )  # fmt: skip
    return out


@pytest.mark.parametrize("profile", list(PROFILES))
def test_same_seed_and_profile_byte_identical(
    profile: str, make_session: Callable[[Sandbox], requests.Session]
) -> None:
    runs = []
    for _ in range(2):
        with Sandbox(profile=profile, **ORG) as sb, make_session(sb) as s:
            first = crawl(sb, s)
            sb.advance(days=9)
            runs.append((first, crawl(sb, s)))
    assert runs[0] == runs[1]
    other_profile = "tidy" if profile != "tidy" else "documented"
    with Sandbox(profile=other_profile, **ORG) as sb, make_session(sb) as s:
        other = crawl(sb, s)
    assert [c[2] for c in other] != [c[2] for c in runs[0][0]]


def test_cli_profile_flag() -> None:
    options, level = sandbox_options(["--profile", "hostile", "--no-invalid-token-200"])
    assert level == "WARNING"
    assert options["profile"] == "hostile"
    assert options["invalid_token_200"] is False
    assert "lockout_seconds" not in options  # the profile decides
    options, _ = sandbox_options(["--per-page-caps", "/v1/groups=50", "--unpaginated"])
    assert options["profile"] == "documented"
    sb = Sandbox(**options)
    assert sb.paging.cap("/v1/groups") == 50
    assert sb.paging.unpaginated == frozenset()
    options, _ = sandbox_options(
        ["--cursor-scope", "all", "--retry-after", "--date-header", "wall"]
    )
    assert (options["cursor_scope"], options["retry_after"]) == ("all", True)

    command = [sys.executable, "-m", "tap_knowbe4.sandbox", "--port", "0", "--users", "30"]
    command += ["--no-limits", "--profile", "hostile", "--per-page-caps", "/v1/users=7"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split()[-1]
        assert proc.stdout.readline().strip() == f"API key: {DEMO_API_KEY}"
        assert proc.stdout.readline().strip() == "profile: hostile"
        auth = {"Authorization": f"Bearer {DEMO_API_KEY}"}
        users = requests.get(base_url + "/v1/users?per_page=500", headers=auth, timeout=10)
        assert len(users.json()) == 7
        groups = requests.get(base_url + "/v1/groups?per_page=500", headers=auth, timeout=10)
        assert len(groups.json()) > 7  # the explicit caps replace the profile's
        bad = requests.get(
            base_url + "/v1/users", headers={"Authorization": "Bearer x"}, timeout=10
        )
        assert (bad.status_code, bad.json()) == (200, {"message": "Invalid Token"})
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
