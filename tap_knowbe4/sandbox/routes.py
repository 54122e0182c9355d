"""The 24 GET endpoints of the Reporting API: path templates, query parameters, ground truth.

Each route names the ``Organization`` method that answers it, how its query parameters map to
that method's keyword arguments, and (for lists) the field that orders the list and keys cursors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


def flag(value: str) -> bool:
    """``true`` (any case) is true; anything else is false, as the API documents."""
    return value.strip().lower() == "true"


def integer(value: str) -> int:
    """An id filter; an unparsable value becomes -1, which matches nothing."""
    try:
        return int(value)
    except ValueError:
        return -1


def text(value: str) -> str:
    """A plain string parameter."""
    return value


Parsers = Mapping[str, Callable[[str], object]]
FULL: Parsers = {"full": flag}
CALLBACK: Parsers = {"campaign_type": text}


@dataclass(frozen=True)
class Route:
    """One endpoint: template, answering method, query parameters, list ordering key."""

    template: str
    method: str
    query: dict[str, Callable[[str], object]] = field(default_factory=dict)
    key: str | None = None
    parts: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        """True for endpoints answering a (paged) JSON array."""
        return self.key is not None


def _route(
    template: str,
    method: str,
    query: Parsers | None = None,
    key: str | None = None,
) -> Route:
    return Route(template, method, dict(query or {}), key, tuple(template.strip("/").split("/")))


ROUTES: tuple[Route, ...] = (
    _route("/v1/account", "account"),
    _route("/v1/account/risk_score_history", "account_risk_score_history", FULL, "date"),
    _route("/v1/users", "users", {"status": text, "group_id": integer, "expand": text}, "id"),
    _route("/v1/users/{user_id}", "user"),
    _route("/v1/users/{user_id}/risk_score_history", "user_risk_score_history", FULL, "date"),
    _route("/v1/groups", "groups", {"status": text}, "id"),
    _route("/v1/groups/{group_id}", "group"),
    _route("/v1/groups/{group_id}/members", "group_members", None, "id"),
    _route("/v1/groups/{group_id}/risk_score_history", "group_risk_score_history", FULL, "date"),
    _route("/v1/phishing/campaigns", "phishing_campaigns", CALLBACK, "campaign_id"),
    _route("/v1/phishing/campaigns/{campaign_id}", "phishing_campaign", CALLBACK),
    _route(
        "/v1/phishing/campaigns/{campaign_id}/security_tests",
        "campaign_security_tests",
        CALLBACK,
        "pst_id",
    ),
    _route("/v1/phishing/security_tests", "security_tests", CALLBACK, "pst_id"),
    _route("/v1/phishing/security_tests/{pst_id}", "security_test", CALLBACK),
    _route(
        "/v1/phishing/security_tests/{pst_id}/recipients", "recipients", CALLBACK, "recipient_id"
    ),
    _route("/v1/phishing/security_tests/{pst_id}/recipients/{recipient_id}", "recipient", CALLBACK),
    _route("/v1/training/store_purchases", "store_purchases", None, "store_purchase_id"),
    _route("/v1/training/store_purchases/{store_purchase_id}", "store_purchase"),
    _route("/v1/training/policies", "policies", None, "policy_id"),
    _route("/v1/training/policies/{policy_id}", "policy"),
    _route(
        "/v1/training/campaigns",
        "training_campaigns",
        {"exclude_percentages": flag},
        "campaign_id",
    ),
    _route("/v1/training/campaigns/{campaign_id}", "training_campaign"),
    _route(
        "/v1/training/enrollments",
        "enrollments",
        {
            "store_purchase_id": integer,
            "campaign_id": integer,
            "user_id": integer,
            "exclude_archived_users": flag,
            "include_campaign_id": flag,
            "include_store_purchase_id": flag,
            "include_employee_number": flag,
        },
        "enrollment_id",
    ),
    _route(
        "/v1/training/enrollments/{enrollment_id}",
        "enrollment",
        {"include_campaign_id": flag},
    ),
)


def match(path: str) -> tuple[Route, tuple[str, ...]] | None:
    """Find the route of ``path`` and its raw placeholder values (strings), or ``None``."""
    parts = tuple(path.strip("/").split("/"))
    for route in ROUTES:
        if len(route.parts) != len(parts):
            continue
        args = []
        for want, got in zip(route.parts, parts, strict=True):
            if want.startswith("{"):
                if not got:
                    break
                args.append(got)
            elif want != got:
                break
        else:
            return route, tuple(args)
    return None


def keyword_args(route: Route, query: dict[str, str]) -> dict[str, object]:
    """Translate the query parameters a route understands into method keyword arguments."""
    out: dict[str, object] = {}
    for name, parse in route.query.items():
        if name in query:
            value = parse(query[name])
            if value is not False:  # absent and false flags are the same request
                out[name] = value
    if route.method == "users" and out.get("expand") not in ("group", "groups"):
        out.pop("expand", None)
    if out.get("campaign_type") not in (None, "callback"):
        out.pop("campaign_type")
    if route.method == "users" and out.get("status") not in ("active", "archived"):
        out.pop("status", None)
    return out
