"""What each stream should emit, computed from the sandbox's organization.

The sandbox and the tap are independent implementations of the reference; these
functions only translate the sandbox's endpoint-shaped ground truth into stream rows.
"""

from __future__ import annotations

import math
import typing as t

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Organization

ENROLLMENT_FLAGS = {
    "include_campaign_id": True,
    "include_store_purchase_id": True,
    "include_employee_number": True,
}


def _with(key: str, value: int, rows: list[dict]) -> list[dict]:
    return [{**row, key: value} for row in rows]


def expected_records(org: Organization, stream: str) -> list[dict]:
    """The records ``stream`` must emit for the organization as it is now."""
    if stream == "account":
        return [org.account()]
    if stream == "account_risk_score_history":
        return org.account_risk_score_history(full=True)
    if stream == "users":
        return org.users()
    if stream == "groups":
        return org.groups()
    if stream == "group_members":
        return [
            {"group_id": g["id"], "user_id": u["id"]}
            for g in org.groups()
            for u in org.group_members(g["id"])
        ]
    if stream == "group_risk_score_history":
        return [
            row
            for g in org.groups()
            for row in _with("group_id", g["id"], org.group_risk_score_history(g["id"], full=True))
        ]
    if stream == "user_risk_score_history":
        return [
            row
            for u in org.users()
            for row in _with("user_id", u["id"], org.user_risk_score_history(u["id"], full=True))
        ]
    if stream == "phishing_campaigns":
        return org.phishing_campaigns()
    if stream == "phishing_security_tests":
        return org.security_tests()
    if stream == "phishing_security_test_recipients":
        return [
            {**row, "pst_id": pst["pst_id"]}
            for pst in org.security_tests()
            for row in org.recipients(pst["pst_id"])
        ]
    if stream == "store_purchases":
        return org.store_purchases()
    if stream == "policies":
        return org.policies()
    if stream == "training_campaigns":
        return org.training_campaigns(exclude_percentages=True)
    if stream == "training_enrollments":
        return org.enrollments(**ENROLLMENT_FLAGS)
    raise KeyError(stream)


def pages(count: int, page_size: int, *, cursor: bool) -> int:
    """Requests needed to read a list of ``count`` records.

    With cursors the server says when the list ends; with page numbers a full last page
    needs one more (empty) request to prove the end.
    """
    if cursor:
        return max(1, math.ceil(count / page_size))
    return count // page_size + 1


def minimum_requests(
    org: Organization,
    streams: t.Iterable[str],
    page_size: int,
    *,
    cursor: bool,
    members_from: str = "users",
) -> int:
    """The fewest requests that can read ``streams`` completely.

    ``group_members`` costs nothing beyond the users list when derived from users.
    """
    wanted = set(streams)
    total = 0

    def lst(count: int) -> int:
        return pages(count, page_size, cursor=cursor)

    groups = org.groups()
    users = org.users()
    psts = org.security_tests()
    if "account" in wanted:
        total += 1
    if "account_risk_score_history" in wanted:
        total += lst(len(org.account_risk_score_history(full=True)))
    members_wanted = "group_members" in wanted
    user_children = {"user_risk_score_history"} | (
        {"group_members"} if members_from == "users" else set()
    )
    group_children = {"group_risk_score_history"} | (
        {"group_members"} if members_from != "users" else set()
    )
    if wanted & ({"users"} | user_children):
        total += lst(len(users))
    if wanted & ({"groups"} | group_children):
        total += lst(len(groups))
    if members_wanted and members_from != "users":
        total += sum(lst(len(org.group_members(g["id"]))) for g in groups)
    if "group_risk_score_history" in wanted:
        total += sum(lst(len(org.group_risk_score_history(g["id"], full=True))) for g in groups)
    if "user_risk_score_history" in wanted:
        total += sum(lst(len(org.user_risk_score_history(u["id"], full=True))) for u in users)
    if "phishing_campaigns" in wanted:
        total += lst(len(org.phishing_campaigns()))
    if wanted & {"phishing_security_tests", "phishing_security_test_recipients"}:
        total += lst(len(psts))
    if "phishing_security_test_recipients" in wanted:
        total += sum(
            lst(len(org.recipients(p["pst_id"])))
            for p in psts
            if p.get("scheduled_count") is not None
        )
    if "store_purchases" in wanted:
        total += lst(len(org.store_purchases()))
    if "policies" in wanted:
        total += lst(len(org.policies()))
    if "training_campaigns" in wanted:
        total += lst(len(org.training_campaigns(exclude_percentages=True)))
    if "training_enrollments" in wanted:
        total += lst(len(org.enrollments(**ENROLLMENT_FLAGS)))
    return total
