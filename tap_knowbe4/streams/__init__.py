"""The streams: a declarative table of the Reporting API endpoints turned into classes.

Most KnowBe4 endpoints differ only in path, key, parameters and parent; they are rows of
:data:`ENDPOINTS`. Behaviour that differs lives in :mod:`tap_knowbe4.streams.kinds`.
Adding a stream is a row here and a schema file in ``tap_knowbe4/schemas/`` (see
CONTRIBUTING.md); the tests, the README table and ``meltano.yml`` derive from the table.
"""

from __future__ import annotations

import dataclasses
import typing as t

from tap_knowbe4.fanout import KnowBe4Stream
from tap_knowbe4.references import Reference
from tap_knowbe4.streams import kinds, normalize

ENROLLMENT_FLAGS = {
    "include_campaign_id": "true",
    "include_store_purchase_id": "true",
    "include_employee_number": "true",
}
FULL = {"full": "true"}
#: Callback (voice) phishing: the phishing endpoints list it instead of the email kind.
CALLBACK = {"campaign_type": "callback"}
#: The name of a callback stream is its email sibling's with this prefix (the tap reads it
#: right after the sibling: ``TapKnowBe4.load_streams``).
CALLBACK_PREFIX = "callback_"
RISK_INCREMENTS = "on `date`, per owner"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One stream: where it reads, what identifies a record, and how it is shaped."""

    name: str
    path: str
    primary_keys: tuple[str, ...]
    description: str
    kind: type[KnowBe4Stream] = kinds.ListStream
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    renames: dict[str, str] = dataclasses.field(default_factory=dict)
    reshape: t.Callable[[dict], dict] | None = None
    #: (parent stream, context key, field of the parent record that holds the id).
    parent: tuple[str, str, str] | None = None
    #: Fields naming records of other streams (dangling ones are counted in the summary).
    references: tuple[Reference, ...] = ()
    #: The reference says this endpoint may answer its whole list at once, ignoring paging.
    may_ignore_paging: bool = False
    #: True when the stream keeps state that saves requests: later runs read or emit only
    #: what changed, so it never sends ACTIVATE_VERSION (rows of earlier runs must stay).
    incremental: bool = False
    #: How an incremental stream decides what to read again, in words (README, contract).
    increments: str = ""
    #: A boolean setting that must be true for the stream to be read (costly streams); the
    #: dbt source of such a stream can be switched off with a variable.
    opt_in: str | None = None
    #: What a run costs in requests, for the README (derived when empty).
    cost: str = ""
    #: A stream listed earlier in the run whose records summarize this one's (a campaign's
    #: ``psts``): when its whole list, read in this run, holds none, this list is not asked.
    summarized_by: str | None = None

    @property
    def replication(self) -> str:
        """How the stream is replicated, in words."""
        return f"incremental {self.increments}" if self.incremental else "full table"

    @property
    def requests(self) -> str:
        """What a run costs in requests, in words."""
        if self.cost:
            return self.cost
        if self.parent is not None:
            owner = self.parent[0].removesuffix("s")
            text = f"1 per {owner} (more if a list is longer than a page)"
            return f"{text}; only with `{self.opt_in}`" if self.opt_in else text
        return "pages"


def _user_ref(records: str) -> Reference:
    return Reference("user.id", "users", "user", records)


#: ``group_members`` read from ``/v1/groups/{id}/members`` (one request per group).
GROUP_MEMBERS_FROM_ENDPOINT = Endpoint(
    "group_members",
    "/v1/groups/{group_id}/members",
    ("group_id", "user_id"),
    "Which user is in which group: one (group_id, user_id) row per membership.",
    kind=kinds.GroupMembersStream,
    parent=("groups", "group_id", "id"),
)

#: ``group_members`` derived from the group ids on each user (no request at all).
GROUP_MEMBERS_FROM_USERS = dataclasses.replace(
    GROUP_MEMBERS_FROM_ENDPOINT,
    path="",
    kind=kinds.DerivedGroupMembersStream,
    parent=("users", "user_id", "id"),
    cost="0: derived from `users` (1 per group with `group_members_source: endpoint`)",
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "account",
        "/v1/account",
        ("name",),
        "The KnowBe4 account: subscription, seats, admins, current risk score.",
        kind=kinds.AccountStream,
        cost="1",
    ),
    Endpoint(
        "account_risk_score_history",
        "/v1/account/risk_score_history",
        ("date",),
        "The account's risk score over time, one row per date.",
        kind=kinds.RiskScoreHistoryStream,
        incremental=True,
        increments=RISK_INCREMENTS,
        params=FULL,
    ),
    Endpoint(
        "users",
        "/v1/users",
        ("id",),
        "Every user, active and archived, with group ids and phish-prone percentage.",
        kind=kinds.UsersStream,
        renames=normalize.LEGACY_USER_FIELDS,
        reshape=normalize.user,
    ),
    Endpoint(
        "groups",
        "/v1/groups",
        ("id",),
        "Every group, active and archived (console, smart and provisioning-managed).",
        kind=kinds.GroupsStream,
        renames=normalize.LEGACY_GROUP_FIELDS,
        reshape=normalize.group,
    ),
    Endpoint(
        "group_risk_score_history",
        "/v1/groups/{group_id}/risk_score_history",
        ("group_id", "date"),
        "Each group's risk score over time.",
        kind=kinds.RiskScoreHistoryStream,
        incremental=True,
        increments=RISK_INCREMENTS,
        params=FULL,
        parent=("groups", "group_id", "id"),
    ),
    Endpoint(
        "user_risk_score_history",
        "/v1/users/{user_id}/risk_score_history",
        ("user_id", "date"),
        "Each user's risk score over time. One request per user: read only with "
        "include_user_risk_score_history.",
        kind=kinds.RiskScoreHistoryStream,
        incremental=True,
        increments=RISK_INCREMENTS,
        params=FULL,
        parent=("users", "user_id", "id"),
        may_ignore_paging=True,
        opt_in="include_user_risk_score_history",
    ),
    Endpoint(
        "phishing_campaigns",
        "/v1/phishing/campaigns",
        ("campaign_id",),
        "Phishing campaigns with a summary of each of their security tests.",
        kind=kinds.CampaignsStream,
    ),
    Endpoint(
        "phishing_security_tests",
        "/v1/phishing/security_tests",
        ("pst_id",),
        "Phishing security tests (PSTs) of all campaigns, with their counters.",
        kind=kinds.PhishingSecurityTestsStream,
        renames=normalize.LEGACY_PST_FIELDS,
        references=(
            Reference("campaign_id", "phishing_campaigns", "campaign", "tests", count_nulls=False),
        ),
    ),
    Endpoint(
        "phishing_security_test_recipients",
        "/v1/phishing/security_tests/{pst_id}/recipients",
        ("pst_id", "recipient_id"),
        "Each recipient of each PST and what they did (opened, clicked, reported, ...).",
        kind=kinds.RecipientsStream,
        incremental=True,
        increments="per test",
        renames=normalize.LEGACY_RECIPIENT_FIELDS,
        parent=("phishing_security_tests", "pst_id", "pst_id"),
        cost="first run: the pages of every test; later: only tests that can still change",
        references=(_user_ref("recipients"),),
    ),
    Endpoint(
        "callback_phishing_campaigns",
        "/v1/phishing/campaigns",
        ("campaign_id",),
        "Callback (voice) phishing campaigns with a summary of each of their security tests.",
        kind=kinds.CampaignsStream,
        params=CALLBACK,
    ),
    Endpoint(
        "callback_phishing_security_tests",
        "/v1/phishing/security_tests",
        ("pst_id",),
        "Callback (voice) phishing security tests of all callback campaigns, with their counters.",
        kind=kinds.PhishingSecurityTestsStream,
        params=CALLBACK,
        renames=normalize.LEGACY_PST_FIELDS,
        references=(
            Reference(
                "campaign_id",
                "callback_phishing_campaigns",
                "campaign",
                "tests",
                count_nulls=False,
            ),
        ),
        cost="pages; none when `callback_phishing_campaigns`, read whole in the run, lists no test",
        summarized_by="callback_phishing_campaigns",
    ),
    Endpoint(
        "callback_phishing_security_test_recipients",
        "/v1/phishing/security_tests/{pst_id}/recipients",
        ("pst_id", "recipient_id"),
        "Each recipient of each callback PST and what they did (the columns of "
        "phishing_security_test_recipients).",
        kind=kinds.RecipientsStream,
        incremental=True,
        increments="per test",
        params=CALLBACK,
        renames=normalize.LEGACY_RECIPIENT_FIELDS,
        parent=("callback_phishing_security_tests", "pst_id", "pst_id"),
        cost="first run: the pages of every test; later: only tests that can still change",
        references=(_user_ref("recipients"),),
    ),
    Endpoint(
        "store_purchases",
        "/v1/training/store_purchases",
        ("store_purchase_id",),
        "Training content bought from the KnowBe4 store.",
    ),
    Endpoint(
        "policies",
        "/v1/training/policies",
        ("policy_id",),
        "Uploaded policies that users must read and acknowledge.",
        renames=normalize.LEGACY_POLICY_FIELDS,
    ),
    Endpoint(
        "training_campaigns",
        "/v1/training/campaigns",
        ("campaign_id",),
        "Training campaigns and their content (store purchases and policies).",
        params={"exclude_percentages": "true"},
        reshape=normalize.training_campaign,
    ),
    Endpoint(
        "training_enrollments",
        "/v1/training/enrollments",
        ("enrollment_id",),
        "Every user's enrollment in every training module, with status and time spent.",
        params=ENROLLMENT_FLAGS,
        references=(
            _user_ref("enrollments"),
            Reference(
                "store_purchase_id",
                "store_purchases",
                "store purchase",
                "enrollments",
                count_nulls=False,
            ),
            Reference(
                "campaign_id", "training_campaigns", "campaign", "enrollments", count_nulls=False
            ),
        ),
    ),
)


def _class_name(name: str) -> str:
    return "".join(part.title() for part in name.split("_")) + "Stream"


def build_stream_classes(endpoints: t.Iterable[Endpoint] = ENDPOINTS) -> list[type[KnowBe4Stream]]:
    """Turn the endpoint table into stream classes (parents before children)."""
    ordered = sorted(endpoints, key=lambda e: e.parent is not None)
    classes: dict[str, type[KnowBe4Stream]] = {}
    child_fields: dict[str, dict[str, str]] = {}
    for endpoint in ordered:
        if endpoint.parent:
            parent_name, key, field = endpoint.parent
            child_fields.setdefault(parent_name, {})[key] = field
    for endpoint in ordered:
        attrs: dict[str, t.Any] = {
            "__doc__": endpoint.description,
            "__module__": __name__,
            "name": endpoint.name,
            "path": endpoint.path,
            "primary_keys": endpoint.primary_keys,
            "params": dict(endpoint.params),
            "renames": dict(endpoint.renames),
            "child_context_fields": child_fields.get(endpoint.name, {}),
            "references": endpoint.references,
            "may_ignore_paging": endpoint.may_ignore_paging,
            "opt_in": endpoint.opt_in,
            "incremental": endpoint.incremental,
            "summarized_by": endpoint.summarized_by,
        }
        if endpoint.reshape is not None:
            attrs["reshape"] = staticmethod(endpoint.reshape)
        if endpoint.parent:
            parent_name, key, _ = endpoint.parent
            attrs["parent_stream_type"] = classes[parent_name]
            attrs["parent_key"] = key
            attrs["state_partitioning_keys"] = ()
        classes[endpoint.name] = type(_class_name(endpoint.name), (endpoint.kind,), attrs)
    return list(classes.values())


def endpoints(group_members_source: str = "users") -> tuple[Endpoint, ...]:
    """Every endpoint row, with ``group_members`` from users (default) or the endpoint."""
    members = (
        GROUP_MEMBERS_FROM_USERS if group_members_source == "users" else GROUP_MEMBERS_FROM_ENDPOINT
    )
    return (*ENDPOINTS, members)


def stream_classes(group_members_source: str = "users") -> list[type[KnowBe4Stream]]:
    """The stream classes, with ``group_members`` from users (default) or the endpoint."""
    if group_members_source not in _CLASSES:
        _CLASSES[group_members_source] = build_stream_classes(endpoints(group_members_source))
    return _CLASSES[group_members_source]


_CLASSES: dict[str, list[type[KnowBe4Stream]]] = {}
