"""Options of the sandbox: the organization's size and data, the server's behaviour, profiles.

Both faces (the ``Sandbox`` context manager and the ``tap-knowbe4-sandbox`` CLI) accept the same
names, as keyword arguments or as ``--flags`` with ``-`` instead of ``_``.

A *profile* names a bundle of option values (see ``PROFILES``); options given explicitly override
the profile's values. ``documented`` is the default: the conservative reading of the reference
(what it documents or what peers observed, whichever is harsher). ``tidy`` is the sandbox as it
was before profiles existed (cursors on every list, ``Retry-After`` on 429, no messy data);
``hostile`` switches on every documented-but-uncertain reading as well.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from tap_knowbe4.sandbox.drift import QUIRKS as DRIFT_QUIRKS
from tap_knowbe4.sandbox.paging import CURSOR_STYLES
from tap_knowbe4.sandbox.routes import ROUTES

DEMO_API_KEY = "kb4-sandbox-demo-key-0000000000000000"
DEFAULT_NOW = "2026-11-01T12:00:00Z"

#: Named deviations from the simulator defaults, taken from the reference's conflict list.
QUIRKS = {
    "nested-content": "training campaign `content` as an array of arrays (docs sample)",
    "landing-page-hyphen": "PSTs carry `landing-page` instead of `landing_page` (docs sample)",
    "risk-timestamp-dates": "risk-score `date` as midnight timestamps instead of YYYY-MM-DD",
    "trial-account": "account without subscription_level / subscription_end_date / seats",
    "by-id-array": "by-id endpoints answer a one-element array instead of an object",
    "bearer-colon": "also accept `Authorization: Bearer: <key>`",
    **DRIFT_QUIRKS,
}

LIST_TEMPLATES = frozenset(r.template for r in ROUTES if r.is_list)
ENROLLMENTS = "/v1/training/enrollments"
GROUPS = "/v1/groups"
RECIPIENTS = "/v1/phishing/security_tests/{pst_id}/recipients"
USER_RISK = "/v1/users/{user_id}/risk_score_history"

DEFAULT_PROFILE = "documented"

#: The API as its reference documents it (the default profile); ``hostile`` adds to it.
_DOCUMENTED: dict[str, Any] = {
    "deleted_users": True,
    "broken_refs": True,
    "odd_values": True,
    "coherent_numbers": True,
    "pagination": "both",
    "cursor_scope": "enrollments",
    "cursor_style": "envelope",
    "retry_after": False,
    "lockout_seconds": 0,
    "per_page_caps": {},
    "unpaginated": (),
    "date_header": "clock",
    "invalid_token_200": False,
    "quirks": (),
}

#: Every option a profile sets, per profile. Options not listed keep their own defaults.
PROFILES: dict[str, dict[str, Any]] = {
    "tidy": {
        "deleted_users": False,
        "broken_refs": False,
        "odd_values": False,
        "coherent_numbers": False,
        "pagination": "both",
        "cursor_scope": "all",
        "cursor_style": "header",
        "retry_after": True,
        "lockout_seconds": 0,
        "per_page_caps": {},
        "unpaginated": (),
        "date_header": "wall",
        "invalid_token_200": False,
        "quirks": (),
    },
    "documented": _DOCUMENTED,
    "hostile": {
        **_DOCUMENTED,
        "lockout_seconds": 300,
        "per_page_caps": {GROUPS: 100, RECIPIENTS: 250},
        "unpaginated": (USER_RISK,),
        "invalid_token_200": True,
        "quirks": ("nested-content", "landing-page-hyphen", "risk-timestamp-dates", "by-id-array"),
    },
    # The API as it drifts (issue 19): cursor-only lists that ignore `page`, the cursor in a
    # header, a Link or one of three envelopes (a different one per list), older and newer
    # fields, one key listed again with other content, timestamps at offsets from UTC.
    "drift": {
        **_DOCUMENTED,
        "pagination": "cursor",
        "cursor_scope": "all",
        "cursor_style": "varied",
        "quirks": ("legacy-names", "legacy-fields", "new-fields", "repeated-keys", "offset-times"),
    },
}


@dataclass(frozen=True)
class OrgOptions:
    """Sizing and data of the synthetic organization; ``None`` sizes are derived from ``users``.

    The data switches default to the ``documented`` profile:

    * ``deleted_users``: more users are deleted, before the start clock and over the following
      90 days (some straight from active), so users vanish from ``/v1/users`` as time passes.
    * ``broken_refs``: a deleted user's recipients and enrollments keep a dangling user stub for
      every other deleted user (``user: null`` for the rest); some store purchases and a policy
      are missing from their lists while campaigns and enrollments still name them.
    * ``odd_values``: see ``README`` (groups key absent, group entries without ``group_id``,
      ``Enrolling``/``Closed`` statuses, ``completion_percentage: -1``, integer employee numbers
      and phish-prone percentages).
    * ``coherent_numbers``: user and PST phish-prone percentages computed from recipients.
    """

    seed: int = 1
    users: int = 250
    groups: int | None = None
    phishing_campaigns: int | None = None
    psts_per_campaign: int | None = None
    store_purchases: int | None = None
    policies: int | None = None
    training_campaigns: int | None = None
    enrollments_per_user: float | None = None
    risk_years: int | None = None
    now: str | datetime = DEFAULT_NOW
    horizon_days: int = 730
    quirks: tuple[str, ...] = ()
    deleted_users: bool = True
    broken_refs: bool = True
    odd_values: bool = True
    coherent_numbers: bool = True

    @classmethod
    def build(cls, profile: str = DEFAULT_PROFILE, **kwargs: Any) -> OrgOptions:
        """Options of ``profile`` overridden by ``kwargs`` (organization names only)."""
        names = {f.name for f in fields(cls)}
        unknown = set(kwargs) - names
        if unknown:
            raise TypeError(f"unknown organization option(s): {', '.join(sorted(unknown))}")
        merged = {k: v for k, v in profile_values(profile).items() if k in names}
        merged.update(_normalized(kwargs))
        options = cls(**merged)
        options.sizes()
        return options

    def sizes(self) -> OrgSizes:
        """Resolve every derived size to a concrete number."""
        n = self.users
        if n < 1:
            raise ValueError("users must be at least 1")
        unknown = set(self.quirks) - set(QUIRKS)
        if unknown:
            raise ValueError(f"unknown quirk(s): {sorted(unknown)}; known: {sorted(QUIRKS)}")

        def pick(value: float | None, default: float) -> Any:
            return default if value is None else value

        return OrgSizes(
            users=n,
            groups=max(1, pick(self.groups, max(6, min(300, round(1.2 * math.sqrt(n)) + 4)))),
            phishing_campaigns=max(0, pick(self.phishing_campaigns, max(3, min(40, n // 40)))),
            psts_per_campaign=max(1, pick(self.psts_per_campaign, 8)),
            store_purchases=max(1, pick(self.store_purchases, max(8, min(80, n // 20)))),
            policies=max(0, pick(self.policies, max(3, min(30, n // 60)))),
            training_campaigns=max(0, pick(self.training_campaigns, max(12, min(40, n // 40)))),
            enrollments_per_user=max(0.0, float(pick(self.enrollments_per_user, 6.0))),
            risk_years=max(1, pick(self.risk_years, 3)),
            horizon_days=max(1, self.horizon_days),
        )


@dataclass(frozen=True)
class OrgSizes:
    """Concrete sizes after defaults were derived (see ``OrgOptions.sizes``)."""

    users: int
    groups: int
    phishing_campaigns: int
    psts_per_campaign: int
    store_purchases: int
    policies: int
    training_campaigns: int
    enrollments_per_user: float
    risk_years: int
    horizon_days: int


@dataclass(frozen=True)
class ServerOptions:
    """Behaviour of the HTTP face: auth, paging, limits, faults and where to listen.

    Defaults follow the ``documented`` profile. Paging: ``pagination`` says whether a ``cursor``
    parameter switches to cursor paging (``both``), is ignored (``page``) or is implied
    (``cursor``), on the endpoints ``cursor_scope`` names (``enrollments``: only
    ``/v1/training/enrollments``; ``all``: every list); ``per_page_caps`` maps list templates to
    a silent ``per_page`` cap below 500; ``unpaginated`` lists templates that ignore paging and
    answer their whole list to every request. Limits: ``retry_after`` adds ``Retry-After`` to
    429s; ``lockout_seconds`` > 0 answers every request 429 for that long after the per-minute
    burst was exceeded. ``date_header``: ``clock`` (the sandbox clock) or ``wall``.
    """

    api_key: str = DEMO_API_KEY
    pagination: str = "both"
    cursor_style: str = "envelope"
    cursor_scope: str = "enrollments"
    per_page_caps: tuple[tuple[str, int], ...] = ()
    unpaginated: tuple[str, ...] = ()
    invalid_token_200: bool = False
    forbidden_prefixes: tuple[str, ...] = ()
    limits: bool = True
    per_second: int = 4
    per_minute: int = 50
    daily_quota: int | None = None
    retry_after: bool = False
    lockout_seconds: int = 0
    date_header: str = "clock"
    latency_ms: int = 0
    fault_rate: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    quirks: tuple[str, ...] = field(default=())

    def validate(self) -> None:
        """Raise ``ValueError`` for an impossible combination."""
        if self.pagination not in ("both", "page", "cursor"):
            raise ValueError("pagination must be one of both, page, cursor")
        if self.cursor_style not in (*CURSOR_STYLES, "varied"):
            raise ValueError(f"cursor_style must be one of {', '.join(CURSOR_STYLES)}, varied")
        if self.cursor_scope not in ("all", "enrollments"):
            raise ValueError("cursor_scope must be all or enrollments")
        if self.date_header not in ("clock", "wall"):
            raise ValueError("date_header must be clock or wall")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        for name in ("per_second", "per_minute", "latency_ms", "lockout_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for template, cap in self.per_page_caps:
            if template not in LIST_TEMPLATES:
                raise ValueError(f"per_page_caps: {template!r} is not a list endpoint template")
            if not 1 <= cap <= 500:
                raise ValueError(f"per_page_caps: cap of {template} must be between 1 and 500")
        for template in self.unpaginated:
            if template not in LIST_TEMPLATES:
                raise ValueError(f"unpaginated: {template!r} is not a list endpoint template")


def profile_values(profile: str) -> dict[str, Any]:
    """The option values ``profile`` sets (a fresh dict)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    return dict(PROFILES[profile])


def _caps(value: Mapping[str, int] | Iterable[Any] | None) -> tuple[tuple[str, int], ...]:
    """``{template: cap}``, ``[(template, cap)]`` or ``["template=cap"]`` as sorted pairs."""
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    out: dict[str, int] = {}
    for item in items:
        if isinstance(item, str):
            template, sep, number = item.rpartition("=")
            if not sep:
                raise ValueError(f"per_page_caps: expected TEMPLATE=N, got {item!r}")
            out[template] = int(number)
        else:
            template, cap = item
            out[str(template)] = int(cap)
    return tuple(sorted(out.items()))


def _normalized(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    for key in ("forbidden_prefixes", "quirks", "unpaginated"):
        if key in out:
            value = out[key]
            out[key] = (value,) if isinstance(value, str) else tuple(value or ())
    if "per_page_caps" in out:
        out["per_page_caps"] = _caps(out["per_page_caps"])
    return out


def server_options(profile: str = DEFAULT_PROFILE, **kwargs: Any) -> ServerOptions:
    """Server options of ``profile`` overridden by ``kwargs`` (server names only)."""
    names = {f.name for f in fields(ServerOptions)}
    unknown = set(kwargs) - names
    if unknown:
        raise TypeError(f"unknown server option(s): {', '.join(sorted(unknown))}")
    merged = _normalized({**profile_values(profile), **kwargs})
    server = ServerOptions(**{k: v for k, v in merged.items() if k in names})
    server.validate()
    return server


def split_options(
    profile: str = DEFAULT_PROFILE, **kwargs: Any
) -> tuple[OrgOptions, ServerOptions]:
    """Split one flat set of keyword options (over ``profile``) into organization and server."""
    org_names = {f.name for f in fields(OrgOptions)}
    server_names = {f.name for f in fields(ServerOptions)}
    unknown = set(kwargs) - org_names - server_names
    if unknown:
        raise TypeError(f"unknown sandbox option(s): {', '.join(sorted(unknown))}")
    org = OrgOptions.build(profile, **{k: v for k, v in kwargs.items() if k in org_names})
    server = server_options(profile, **{k: v for k, v in kwargs.items() if k in server_names})
    return org, server
