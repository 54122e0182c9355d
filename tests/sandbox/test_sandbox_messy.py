"""Messy data of the documented profile: broken references, odd values, deleted users, and
phish-prone percentages that follow from the recipients.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tap_knowbe4.sandbox import NotFound, Organization, Sandbox
from tests.ground_truth import PHISHING_FAILURE_EVENTS

FLAGS = {"include_campaign_id": True, "include_store_purchase_id": True}


@pytest.fixture(scope="module")
def org() -> Organization:
    return Organization(users=250, seed=1)


def all_recipients(org: Organization) -> list[dict[str, Any]]:
    out = []
    for kind in (None, "callback"):
        for p in org.security_tests(campaign_type=kind):
            out += org.recipients(p["pst_id"], campaign_type=kind)
    return out


def expected_ppp(org: Organization) -> dict[int, float | None]:
    """The documented formula, from the recipients endpoint's ground truth alone."""
    failed: dict[int, int] = defaultdict(int)
    delivered: dict[int, int] = defaultdict(int)
    for r in all_recipients(org):
        if r["user"] is None or not r["delivered_at"]:
            continue
        delivered[r["user"]["id"]] += 1
        failed[r["user"]["id"]] += any(r[e] for e in PHISHING_FAILURE_EVENTS)
    return {
        u["id"]: round(100 * failed[u["id"]] / delivered[u["id"]], 3)
        if delivered[u["id"]]
        else None
        for u in org.users()
    }


def test_deleted_users_leave_dangling_and_null_references(org: Organization) -> None:
    known = {u["id"] for u in org.users()}
    recipients = all_recipients(org)
    enrollments = org.enrollments()
    for rows in (recipients, enrollments):
        assert any(r["user"] is None for r in rows)
        dangling = {r["user"]["id"] for r in rows if r["user"] and r["user"]["id"] not in known}
        assert dangling
        for uid in dangling:
            with pytest.raises(NotFound):
                org.user(uid)
            with pytest.raises(NotFound):
                org.user_risk_score_history(uid)
    # the rule: deleted users alternate, in order of deletion, scrubbed (null) then dangling
    gone = sorted(
        (u for u in org.people.users if u.deleted is not None and u.deleted <= org.now_epoch),
        key=lambda u: (u.deleted, u.id),
    )
    assert [u.dangling for u in gone] == [i % 2 == 1 for i in range(len(gone))]
    stubs = {r["user"]["id"] for r in recipients + enrollments if r["user"]}
    assert all((u.id in stubs) <= u.dangling for u in gone)


def test_users_vanish_as_the_clock_moves(
    make_session: Callable[[Sandbox], requests.Session],
) -> None:
    with Sandbox(users=120, seed=7, limits=False) as sb, make_session(sb) as s:
        api = sb.base_url + "/v1"
        before = {u["id"]: u for u in sb.org.users()}
        enrolled = {e["enrollment_id"] for e in sb.org.enrollments()}
        sb.advance(days=2)
        after = {u["id"] for u in sb.org.users()}
        vanished = set(before) - after
        assert vanished
        for uid in vanished:
            assert before[uid]["status"] == "active"  # deleted straight from active
            assert s.get(f"{api}/users/{uid}").status_code == 404
            assert s.get(f"{api}/users/{uid}/risk_score_history").status_code == 404
        rows = sb.org.enrollments()
        assert enrolled <= {e["enrollment_id"] for e in rows}  # their enrollments remain
        mentions = [e["user"] for e in rows if e["user"] is None or e["user"]["id"] in vanished]
        assert mentions
        sb.advance(days=88)
        assert len(set(before) - {u["id"] for u in sb.org.users()}) >= 3


def test_tidy_deletes_fewer_and_shows_null() -> None:
    tidy = Organization(users=120, seed=7, profile="tidy")
    before = {u["id"] for u in tidy.users()}
    tidy.advance(days=30)
    assert before <= {u["id"] for u in tidy.users()}
    known = {u["id"] for u in tidy.users()}
    assert all(e["user"] is None or e["user"]["id"] in known for e in tidy.enrollments())


def test_content_missing_from_its_list(org: Organization) -> None:
    enrollments = org.enrollments(**FLAGS)
    purchases = {s["store_purchase_id"] for s in org.store_purchases()}
    policies = {p["name"] for p in org.policies()}
    missing_sp = {e["store_purchase_id"] for e in enrollments} - purchases - {None}
    assert missing_sp
    for sid in missing_sp:
        with pytest.raises(NotFound):
            org.store_purchase(sid)
    named = {e["module_name"] for e in enrollments if e["content_type"] == "Uploaded Policy"}
    assert named - policies
    content = [x for c in org.training_campaigns() for x in c["content"]]
    assert missing_sp <= {x.get("store_purchase_id") for x in content}
    assert named - policies <= {x["name"] for x in content if "policy_id" in x}
    assert len(org.policies()) == org.summary()["policies"]


def test_enrollments_repeat_modules(org: Organization) -> None:
    seen: dict[tuple[int, str], set[int]] = defaultdict(set)
    for e in org.enrollments(**FLAGS):
        if e["user"]:
            seen[(e["user"]["id"], e["module_name"])].add(e["campaign_id"])
    assert any(len(campaigns) >= 2 for campaigns in seen.values())


def test_odd_shapes(org: Organization) -> None:
    users = org.users()
    absent = [u for u in users if "groups" not in u]
    assert any(u["status"] == "archived" for u in absent)
    assert any(u["status"] == "active" for u in absent)
    assert any(u.get("groups", 0) is None for u in users)
    assert any(u.get("groups") == [] for u in users)
    numbers = {type(u["employee_number"]) for u in users}
    assert numbers == {int, str, type(None)}
    ppp_types = {type(u["phish_prone_percentage"]) for u in users}
    assert ppp_types == {int, float, type(None)}
    assert all(
        isinstance(u["phish_prone_percentage"], int)
        == float(u["phish_prone_percentage"]).is_integer()
        for u in users
        if u["phish_prone_percentage"] is not None
    )
    with_numbers = org.enrollments(include_employee_number=True)
    employee = [e["user"]["employee_number"] for e in with_numbers if e["user"]]
    assert {type(n) for n in employee} == {int, str, type(None)}
    assert all(not isinstance(n, str) or not n.isdigit() for n in employee)
    for records in (
        org.phishing_campaigns() + org.phishing_campaigns(campaign_type="callback"),
        org.security_tests() + org.security_tests(campaign_type="callback"),
        org.training_campaigns(),
    ):
        lacking = [r for r in records if any("group_id" not in g for g in r["groups"])]
        assert lacking
        assert all(set(g) == {"name"} for r in lacking for g in r["groups"])


def test_training_campaign_statuses_and_percentages() -> None:
    org = Organization(users=120, seed=7)
    campaigns = org.training_campaigns()
    statuses = {c["status"] for c in campaigns}
    assert {"Closed", "Completed", "In Progress", "Created", "Cancelled"} <= statuses
    assert -1 in {c["completion_percentage"] for c in campaigns}
    assert all(
        "completion_percentage" not in c for c in org.training_campaigns(exclude_percentages=True)
    )
    upcoming = next(c for c in campaigns if c["status"] == "Created")
    org.advance(days=10, seconds=3600)
    assert org.training_campaign(upcoming["campaign_id"])["status"] == "Enrolling"
    org.advance(days=2)
    assert org.training_campaign(upcoming["campaign_id"])["status"] == "In Progress"
    tidy = Organization(users=120, seed=7, profile="tidy")
    assert {c["status"] for c in tidy.training_campaigns()} <= {
        "Created", "In Progress", "Completed", "Cancelled",
    }  # fmt: skip
    assert -1 not in {c["completion_percentage"] for c in tidy.training_campaigns()}


def test_tidy_has_none_of_the_odd_values() -> None:
    org = Organization(users=250, seed=1, profile="tidy")
    users = org.users()
    assert users  # the all()s below are not vacuous
    assert all("groups" in u for u in users)
    assert all(not isinstance(u["employee_number"], int) for u in users)
    assert all(not isinstance(u["phish_prone_percentage"], int) for u in users)
    for c in org.phishing_campaigns() + org.training_campaigns():
        assert all("group_id" in g for g in c["groups"])
    purchases = {s["store_purchase_id"] for s in org.store_purchases()}
    assert {e["store_purchase_id"] for e in org.enrollments(**FLAGS)} - {None} <= purchases


@pytest.mark.parametrize("profile", ["documented", "hostile"])
def test_user_phish_prone_follows_the_recipients(profile: str) -> None:
    org = Organization(users=120, seed=7, profile=profile)
    for days in (0, 10, 45):
        org.advance(days=days)
        expected = expected_ppp(org)
        got = {u["id"]: u["phish_prone_percentage"] for u in org.users()}
        assert got == expected
        assert any(v for v in got.values())
        assert all(org.user(uid)["phish_prone_percentage"] == v for uid, v in got.items())
    members = org.group_members(max(org.groups(), key=lambda g: g["member_count"])["id"])
    assert all(m["phish_prone_percentage"] == expected[m["id"]] for m in members)


def test_pst_and_campaign_fractions_follow_the_recipients(org: Organization) -> None:
    for p in org.security_tests():
        recipients = org.recipients(p["pst_id"])
        delivered = sum(1 for r in recipients if r["delivered_at"])
        failed = sum(1 for r in recipients if any(r[e] for e in PHISHING_FAILURE_EVENTS))
        assert p["delivered_count"] == delivered
        assert p["phish_prone_percentage"] == (round(failed / delivered, 3) if delivered else 0.0)
    for c in org.phishing_campaigns():
        ran = [s for s in c["psts"] if s["start_date"]]
        if ran:
            assert c["last_phish_prone_percentage"] == ran[-1]["phish_prone_percentage"]


def test_each_switch_alone() -> None:
    plain = Organization(users=120, seed=7, profile="tidy")
    odd = Organization(users=120, seed=7, profile="tidy", odd_values=True)
    assert [u["id"] for u in odd.users()] == [u["id"] for u in plain.users()]
    assert any("groups" not in u for u in odd.users())
    assert odd.store_purchases() == plain.store_purchases()
    refs = Organization(users=120, seed=7, profile="tidy", broken_refs=True)
    assert len(refs.store_purchases()) < len(plain.store_purchases())
    assert all("groups" in u for u in refs.users())
    coherent = Organization(users=120, seed=7, profile="tidy", coherent_numbers=True)
    assert coherent.security_tests() != plain.security_tests()
    assert {u["id"]: u["phish_prone_percentage"] for u in coherent.users()} == expected_ppp(
        coherent
    )
    documented = Organization(users=120, seed=7, deleted_users=False)
    assert documented.options.odd_values
    assert not documented.options.deleted_users
