"""The generated organization's numbers agree with each other (ground truth, no HTTP).

``org`` is the default (``documented``) organization; the agreement checks run for every profile.
"""

from __future__ import annotations

import pytest

from tap_knowbe4.sandbox import NotFound, Organization
from tap_knowbe4.sandbox.options import PROFILES
from tests.ground_truth import PHISHING_FAILURE_EVENTS

COUNTER_EVENTS = {
    "delivered_count": "delivered_at",
    "opened_count": "opened_at",
    "clicked_count": "clicked_at",
    "replied_count": "replied_at",
    "attachment_open_count": "attachment_opened_at",
    "macro_enabled_count": "macro_enabled_at",
    "data_entered_count": "data_entered_at",
    "qr_code_scanned_count": "qr_code_scanned",
    "reported_count": "reported_at",
    "bounced_count": "bounced_at",
}


@pytest.fixture(scope="module")
def org() -> Organization:
    return Organization(users=150, seed=11)


def assert_consistent(org: Organization) -> None:
    """Every cross-resource number matches the records it summarizes.

    Phish-prone fractions: failed / delivered with ``coherent_numbers``, else failed / scheduled.
    """
    coherent = org.options.coherent_numbers
    odd = org.options.odd_values
    groups = org.groups()
    group_ids = {g["id"] for g in groups}
    users = org.users()  # once: the organization does not change while it is checked
    for g in groups:
        members = org.group_members(g["id"])
        assert g["member_count"] == len(members)
        assert [m["id"] for m in org.users(group_id=g["id"])] == [m["id"] for m in members]
        assert all(m["status"] == "active" and g["id"] in m["groups"] for m in members)
        assert g["member_count"] == sum(1 for u in users if g["id"] in (u.get("groups") or []))
        if not members:
            assert g["current_risk_score"] == 0.0
    assert [u["id"] for u in users] == sorted(u["id"] for u in users)
    for u in users:
        if "groups" not in u:  # odd values: no key for users without groups
            assert odd
        assert u.get("groups") is None or set(u["groups"]) <= group_ids
        assert (u["status"] == "archived") == (u["archived_at"] is not None)
    for p in org.security_tests():
        recipients = org.recipients(p["pst_id"])
        if p["status"] == "Error":
            assert recipients == []
            assert p["started_at"] is None
            assert p["scheduled_count"] is None
            assert p["template"] == {"id": None, "name": None}
            continue
        assert p["scheduled_count"] == len(recipients)
        for counter, event in COUNTER_EVENTS.items():
            assert p[counter] == sum(1 for r in recipients if r[event]), (p["pst_id"], counter)
        failed = sum(1 for r in recipients if any(r[e] for e in PHISHING_FAILURE_EVENTS))
        base = p["delivered_count"] if coherent else len(recipients)
        expected = round(failed / base, 3) if base else 0.0
        assert p["phish_prone_percentage"] == expected
        ids = [r["recipient_id"] for r in recipients]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)
    for c in org.phishing_campaigns() + org.phishing_campaigns(campaign_type="callback"):
        kind = "callback" if c["name"].startswith("Callback") else None
        psts = org.campaign_security_tests(c["campaign_id"], campaign_type=kind)
        assert c["psts_count"] == len(psts) == len(c["psts"])
        for summary, pst in zip(c["psts"], psts, strict=True):
            assert summary["pst_id"] == pst["pst_id"]
            assert summary["status"] == pst["status"]
            assert summary["start_date"] == pst["started_at"]
            assert summary["users_count"] == pst["scheduled_count"]
            assert summary["phish_prone_percentage"] == pst["phish_prone_percentage"]
        ran = [p for p in psts if p["started_at"]]
        assert c["last_run"] == (ran[-1]["started_at"] if ran else None)
    for c in org.training_campaigns():
        enrollments = org.enrollments(campaign_id=c["campaign_id"])
        done = sum(1 for e in enrollments if e["completion_date"])
        expected = round(100 * done / len(enrollments)) if enrollments else 0
        if c["completion_percentage"] == -1:  # odd values: "too large to calculate"
            assert odd
            continue
        assert c["completion_percentage"] == expected


def _counted(profile: str) -> dict:
    """The profile, but keys listed once: a key listed twice is a quirk of the answer (the
    ``repeated-keys`` drift), not of the organization whose numbers are checked here."""
    quirks = PROFILES[profile].get("quirks", ())
    return {"profile": profile, "quirks": tuple(q for q in quirks if q != "repeated-keys")}


@pytest.mark.parametrize("profile", list(PROFILES))
def test_numbers_agree_at_start(profile: str) -> None:
    assert_consistent(Organization(users=150, seed=11, **_counted(profile)))


#: Advancing the clock: the default and the harshest profile in `make test-fast`, all in
#: `make test`.
ADVANCED_IN_TEST_FAST = ("documented", "hostile")


@pytest.mark.parametrize(
    "profile",
    [
        p if p in ADVANCED_IN_TEST_FAST else pytest.param(p, marks=pytest.mark.slow)
        for p in PROFILES
    ],
)
def test_numbers_agree_after_advancing(profile: str) -> None:
    org = Organization(users=90, seed=5, **_counted(profile))
    for _ in range(3):
        org.advance(days=4.5)
        assert_consistent(org)


def test_documented_variants_exist(org: Organization) -> None:
    users = org.users()
    assert len(users) == 150
    assert any(u["status"] == "archived" and u.get("groups", 0) is None for u in users)
    assert any(u["status"] == "archived" and "groups" not in u for u in users)
    assert any(len(u.get("groups") or []) >= 2 for u in users)
    assert any(u["provisioning_managed"] and u["provisioning_guid"] for u in users)
    types = {g["group_type"] for g in org.groups()}
    assert types == {"console_group", "smart_group", "provisioning_managed_group"}
    assert any(g["status"] == "archived" for g in org.groups())
    assert org.groups(status="archived")
    assert all(g["status"] == "archived" for g in org.groups(status="archived"))
    campaigns = org.phishing_campaigns()
    assert any({"group_id": 0, "name": "All Users"} in c["groups"] for c in campaigns)
    errored = [c for c in campaigns if c["status"] == "Error"]
    assert errored
    assert errored[0]["psts"][0]["start_date"] is None
    assert errored[0]["psts"][0]["users_count"] is None
    assert errored[0]["last_run"] is None
    statuses = {p["status"] for p in org.security_tests()}
    assert {"Open", "Closed", "Error"} <= statuses
    mixed = [
        c for c in org.training_campaigns()
        if {x["content_type"] for x in c["content"]} == {"Store Purchase", "Uploaded Policy"}
    ]  # fmt: skip
    assert mixed
    policy_item = next(x for x in mixed[0]["content"] if x["content_type"] == "Uploaded Policy")
    assert "published" in policy_item
    assert "status" not in policy_item
    assert any(e["user"] is None for e in org.enrollments())
    assert len(org.phishing_campaigns(campaign_type="callback")) >= 1


# Key order of each resource in the reference's knowbe4-examples.json (copied, in order).
EXAMPLE_KEYS = {
    "account": "name type domains admins subscription_level subscription_end_date "
    "number_of_seats current_risk_score",
    "user": "id employee_number first_name last_name job_title email phish_prone_percentage "
    "phone_number extension mobile_phone_number location division manager_name manager_email "
    "provisioning_managed provisioning_guid groups current_risk_score aliases joined_on "
    "last_sign_in status organization department language comment employee_start_date "
    "archived_at custom_field_1 custom_field_2 custom_field_3 custom_field_4 custom_date_1 "
    "custom_date_2",
    "group": "id name group_type provisioning_guid member_count current_risk_score status",
    "phishing_campaign": "campaign_id name groups last_phish_prone_percentage last_run status "
    "hidden send_duration track_duration frequency difficulty_filter create_date psts_count psts",
    "phishing_security_test": "campaign_id pst_id status name groups phish_prone_percentage "
    "started_at duration categories template landing_page scheduled_count delivered_count "
    "opened_count clicked_count replied_count attachment_open_count macro_enabled_count "
    "data_entered_count qr_code_scanned_count reported_count bounced_count",
    "recipient": "recipient_id pst_id user template scheduled_at delivered_at opened_at "
    "clicked_at replied_at attachment_opened_at macro_enabled_at data_entered_at "
    "qr_code_scanned reported_at bounced_at ip ip_location browser browser_version os",
    "store_purchase": "store_purchase_id content_type name description type duration retired "
    "retirement_date publish_date publisher purchase_date policy_url",
    "policy": "policy_id content_type name minimum_time default_language status",
    "training_campaign": "campaign_id name groups status content duration_type start_date "
    "end_date relative_duration auto_enroll allow_multiple_enrollments completion_percentage",
    "risk": "risk_score date",
    "enrollment_full": "enrollment_id content_type module_name user campaign_id "
    "store_purchase_id campaign_name enrollment_date start_date completion_date status "
    "time_spent policy_acknowledged",
    "enrollment_default": "enrollment_id content_type module_name user campaign_name "
    "enrollment_date start_date completion_date status time_spent policy_acknowledged",
}


def test_shapes_follow_the_reference_examples(org: Organization) -> None:
    last_pst = org.security_tests()[-1]["pst_id"]
    full = org.enrollments(
        include_campaign_id=True, include_store_purchase_id=True, include_employee_number=True
    )[0]
    pairs = {
        "account": org.account(),
        "user": org.users()[0],
        "group": org.groups()[0],
        "phishing_campaign": org.phishing_campaigns()[0],
        "phishing_security_test": org.security_tests()[-1],
        "recipient": org.recipients(last_pst)[0],
        "store_purchase": org.store_purchases()[0],
        "policy": org.policies()[0],
        "training_campaign": org.training_campaigns()[0],
        "risk": org.account_risk_score_history()[0],
        "enrollment_full": full,
        "enrollment_default": org.enrollments()[0],
    }
    for name, record in pairs.items():
        assert list(record) == EXAMPLE_KEYS[name].split(), name
    assert list(full["user"]) == ["id", "first_name", "last_name", "email", "employee_number"]
    stub = org.recipients(last_pst)[0]["user"]
    assert list(stub) == ["id", "provisioning_guid", "first_name", "last_name", "email"]


def test_risk_history_windows(org: Organization) -> None:
    recent = org.account_risk_score_history()
    full = org.account_risk_score_history(full=True)
    assert 25 <= len(recent) <= 27
    assert len(full) > 150
    assert full[-len(recent) :] == recent
    assert all(len(p["date"]) == 10 for p in full)
    assert recent[0]["date"] >= "2026-05-01"
    assert recent[-1]["date"] <= "2026-11-01"
    assert org.account()["current_risk_score"] == full[-1]["risk_score"]
    user = next(u for u in org.users() if u["status"] == "active")
    history = org.user_risk_score_history(user["id"], full=True)
    assert history[-1]["risk_score"] == user["current_risk_score"]
    group = max(org.groups(), key=lambda g: g["member_count"])
    assert (
        org.group_risk_score_history(group["id"])[-1]["risk_score"] == group["current_risk_score"]
    )


def test_enrollment_flags_and_filters(org: Organization) -> None:
    plain = org.enrollments()
    assert all("campaign_id" not in e and "store_purchase_id" not in e for e in plain)
    flagged = org.enrollments(include_campaign_id=True, include_store_purchase_id=True)
    assert [e["enrollment_id"] for e in flagged] == [e["enrollment_id"] for e in plain]
    assert all(
        (e["store_purchase_id"] is None) == (e["content_type"] == "Uploaded Policy")
        for e in flagged
    )
    with_numbers = org.enrollments(include_employee_number=True)
    assert len(with_numbers) == len(plain)  # the all() below is over every enrollment
    assert all(e["user"] is None or "employee_number" in e["user"] for e in with_numbers)
    campaign = next(e for e in flagged if e["user"])["campaign_id"]
    by_campaign = org.enrollments(campaign_id=campaign)
    assert by_campaign
    assert len(by_campaign) == sum(1 for e in flagged if e["campaign_id"] == campaign)
    user_id = next(e for e in plain if e["user"])["user"]["id"]
    by_user = org.enrollments(user_id=user_id)
    assert by_user  # the user's own enrollment at least: the all() below is not vacuous
    assert all(e["user"]["id"] == user_id for e in by_user)
    sp = next(e["store_purchase_id"] for e in flagged if e["store_purchase_id"])
    by_purchase = org.enrollments(store_purchase_id=sp)
    assert by_purchase  # the enrollment sp was read from at least
    assert all(e["module_name"] for e in by_purchase)
    kept = org.enrollments(exclude_archived_users=True)
    archived = {u["id"] for u in org.users(status="archived")}
    assert len(kept) < len(plain)
    assert all(e["user"] is not None and e["user"]["id"] not in archived for e in kept)
    scored = next(
        c["campaign_id"]
        for c in org.training_campaigns()
        if c["name"].endswith("Annual Security Awareness")
        and c["status"] in ("Completed", "Closed")
    )
    with_scores = org.enrollments(campaign_id=scored)
    assert all("score" in e for e in with_scores)
    assert any(isinstance(e["score"], float) for e in with_scores)
    assert any(not e["completion_date"] for e in with_scores)  # the all() below is not vacuous
    assert all(e["score"] is None for e in with_scores if not e["completion_date"])
    assert all("score" not in e for e in plain)
    one = org.enrollment(plain[0]["enrollment_id"], include_campaign_id=True)
    assert "campaign_id" in one
    assert "store_purchase_id" not in one


def test_unknown_ids_raise_not_found(org: Organization) -> None:
    for call in (
        lambda: org.user(1),
        lambda: org.group(1),
        lambda: org.group_members(1),
        lambda: org.phishing_campaign(1),
        lambda: org.security_test(1),
        lambda: org.recipients(1),
        lambda: org.store_purchase(1),
        lambda: org.policy(1),
        lambda: org.training_campaign(1),
        lambda: org.enrollment(1),
    ):
        with pytest.raises(NotFound):
            call()


def test_returned_objects_are_fresh(org: Organization) -> None:
    first = org.users()
    first[0]["first_name"] = "Mutated"
    first[0]["groups"].append(-1) if first[0].get("groups") is not None else None
    again = org.users()[0]
    assert again["first_name"] != "Mutated"
    assert -1 not in (again.get("groups") or [])


def test_same_seed_same_org_different_seed_differs() -> None:
    a, b, c = (Organization(users=60, seed=s) for s in (3, 3, 4))
    assert a.users() == b.users()
    assert a.security_tests() == b.security_tests()
    assert a.enrollments() == b.enrollments()
    assert a.users() != c.users()


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_ten_thousand_users_build() -> None:
    """How fast is for ``bench/sandbox_throughput.py`` ("org build"): no wall-clock asserts."""
    org = Organization(users=10_000)
    assert org.summary()["users"] == 10_000
