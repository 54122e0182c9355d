"""Every GET endpoint over HTTP answers exactly the ground truth, with the documented headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import requests

from tap_knowbe4.sandbox import Sandbox


def first_ids(sb: Sandbox) -> dict[str, int]:
    org = sb.org
    pst = next(p for p in org.security_tests() if p["scheduled_count"])
    return {
        "user": org.users()[0]["id"],
        "group": max(org.groups(), key=lambda g: g["member_count"])["id"],
        "campaign": org.phishing_campaigns()[0]["campaign_id"],
        "pst": pst["pst_id"],
        "recipient": org.recipients(pst["pst_id"])[3]["recipient_id"],
        "store_purchase": org.store_purchases()[0]["store_purchase_id"],
        "policy": org.policies()[0]["policy_id"],
        "training_campaign": org.training_campaigns()[0]["campaign_id"],
        "enrollment": org.enrollments()[5]["enrollment_id"],
    }


def test_lists_equal_ground_truth(
    sandbox: Sandbox, session: requests.Session, api: str, get_all: Callable[..., list[Any]]
) -> None:
    org = sandbox.org
    cases: list[tuple[str, dict[str, Any], list[Any]]]
    i = first_ids(sandbox)
    cases = [
        ("/account/risk_score_history", {}, org.account_risk_score_history()),
        ("/account/risk_score_history", {"full": "true"},
         org.account_risk_score_history(full=True)),
        ("/users", {}, org.users()),
        ("/users", {"status": "archived"}, org.users(status="archived")),
        ("/users", {"status": "active", "group_id": i["group"]},
         org.users(status="active", group_id=i["group"])),
        ("/users", {"expand": "group"}, org.users(expand="group")),
        (f"/users/{i['user']}/risk_score_history", {"full": "true"},
         org.user_risk_score_history(i["user"], full=True)),
        ("/groups", {}, org.groups()),
        ("/groups", {"status": "active"}, org.groups(status="active")),
        (f"/groups/{i['group']}/members", {}, org.group_members(i["group"])),
        (f"/groups/{i['group']}/risk_score_history", {}, org.group_risk_score_history(i["group"])),
        ("/phishing/campaigns", {}, org.phishing_campaigns()),
        ("/phishing/campaigns", {"campaign_type": "callback"},
         org.phishing_campaigns(campaign_type="callback")),
        (f"/phishing/campaigns/{i['campaign']}/security_tests", {},
         org.campaign_security_tests(i["campaign"])),
        ("/phishing/security_tests", {}, org.security_tests()),
        ("/phishing/security_tests", {"campaign_type": "callback"},
         org.security_tests(campaign_type="callback")),
        (f"/phishing/security_tests/{i['pst']}/recipients", {}, org.recipients(i["pst"])),
        ("/training/store_purchases", {}, org.store_purchases()),
        ("/training/policies", {}, org.policies()),
        ("/training/campaigns", {"exclude_percentages": "true"},
         org.training_campaigns(exclude_percentages=True)),
        ("/training/enrollments", {}, org.enrollments()),
        ("/training/enrollments",
         {"exclude_archived_users": "true", "include_campaign_id": "true",
          "include_store_purchase_id": "true", "include_employee_number": "true"},
         org.enrollments(exclude_archived_users=True, include_campaign_id=True,
                         include_store_purchase_id=True, include_employee_number=True)),
    ]  # fmt: skip
    for path, params, expected in cases:
        assert expected, path
        assert get_all(session, api + path, **params) == expected, (path, params)


def test_by_id_endpoints_return_objects(
    sandbox: Sandbox, session: requests.Session, api: str
) -> None:
    org = sandbox.org
    i = first_ids(sandbox)
    cases = [
        ("/account", {}, org.account()),
        (f"/users/{i['user']}", {}, org.user(i["user"])),
        (f"/groups/{i['group']}", {}, org.group(i["group"])),
        (f"/phishing/campaigns/{i['campaign']}", {}, org.phishing_campaign(i["campaign"])),
        (f"/phishing/security_tests/{i['pst']}", {}, org.security_test(i["pst"])),
        (f"/phishing/security_tests/{i['pst']}/recipients/{i['recipient']}", {},
         org.recipient(i["pst"], i["recipient"])),
        (f"/training/store_purchases/{i['store_purchase']}", {},
         org.store_purchase(i["store_purchase"])),
        (f"/training/policies/{i['policy']}", {}, org.policy(i["policy"])),
        (f"/training/campaigns/{i['training_campaign']}", {},
         org.training_campaign(i["training_campaign"])),
        (f"/training/enrollments/{i['enrollment']}", {"include_campaign_id": "true"},
         org.enrollment(i["enrollment"], include_campaign_id=True)),
    ]  # fmt: skip
    for path, params, expected in cases:
        resp = session.get(api + path, params=params)
        assert resp.status_code == 200, path
        assert isinstance(resp.json(), dict), path
        assert resp.json() == expected, path


def test_unknown_ids_and_paths_are_404(
    sandbox: Sandbox, session: requests.Session, api: str
) -> None:
    i = first_ids(sandbox)
    email_campaign = i["campaign"]
    for path in (
        "/users/1",
        "/users/abc",
        "/users/1/risk_score_history",
        "/groups/0",
        "/groups/1/members",
        "/phishing/campaigns/1",
        "/phishing/security_tests/1/recipients",
        f"/phishing/security_tests/{i['pst']}/recipients/1",
        "/training/store_purchases/1",
        "/training/policies/1",
        "/training/campaigns/1",
        "/training/enrollments/1",
        "/nothing/here",
        "/users/1/2/3",
    ):
        resp = session.get(api + path)
        assert resp.status_code == 404, path
        assert isinstance(resp.json()["message"], str)
    # an email campaign is not found among callback campaigns
    resp = session.get(f"{api}/phishing/campaigns/{email_campaign}?campaign_type=callback")
    assert resp.status_code == 404
    assert session.get(sandbox.base_url + "/elsewhere").status_code == 404


def test_headers(session: requests.Session, api: str) -> None:
    resp = session.get(api + "/groups")
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-cache, no-store"
    assert uuid.UUID(resp.headers["X-Request-Id"]).version == 4
    assert re.fullmatch(r'W/"[0-9a-f]{32}"', resp.headers["ETag"])
    assert float(resp.headers["X-Runtime"]) >= 0
    assert int(resp.headers["Content-Length"]) == len(resp.content)
    other = session.get(api + "/account")
    assert other.headers["X-Request-Id"] != resp.headers["X-Request-Id"]
    assert other.headers["ETag"] != resp.headers["ETag"]


def test_non_get_is_405(session: requests.Session, api: str) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        resp = session.request(method, api + "/users", json={"a": 1})
        assert resp.status_code == 405
        assert resp.json() == {"message": "Method Not Allowed"}


def test_expand_group_turns_ids_into_group_objects(sandbox: Sandbox) -> None:
    plain = sandbox.org.users()
    expanded = sandbox.org.users(expand="group")
    groups = {g["id"]: g for g in sandbox.org.groups()}
    for p, e in zip(plain, expanded, strict=True):
        assert ("groups" in p) == ("groups" in e)  # absent for some group-less users
        if not p.get("groups"):
            assert e.get("groups") == p.get("groups")
        else:
            assert e["groups"] == [groups[gid] for gid in p["groups"]]


def test_stats_count_templates(sandbox: Sandbox, session: requests.Session, api: str) -> None:
    sandbox.reset()
    gid = sandbox.org.groups()[0]["id"]
    session.get(f"{api}/groups/{gid}/members")
    session.get(f"{api}/groups/{gid}/members")
    session.get(f"{api}/groups/1/members")
    session.get(api + "/users")
    requests.get(sandbox.base_url + "/_sandbox/stats", timeout=5).close()
    stats = session.get(sandbox.base_url + "/_sandbox/stats").json()
    assert stats == sandbox.stats()
    assert stats["requests"] == 4
    assert stats["by_endpoint"]["/v1/groups/{group_id}/members"] == {"200": 2, "404": 1}
    assert stats["by_endpoint"]["/v1/users"] == {"200": 1}
    assert stats["by_status"] == {"200": 3, "404": 1}
    assert stats["quota"]["used"] == 4
    assert stats["quota"]["limit"] is None
    assert stats["clock"] == "2026-11-01T12:00:00Z"
    reset = session.post(sandbox.base_url + "/_sandbox/reset")
    assert reset.status_code == 200
    assert sandbox.stats()["requests"] == 0
    assert sandbox.stats()["quota"]["used"] == 0
