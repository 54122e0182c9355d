"""Options of the sandbox: the organization's size and the server's behaviour.

Both faces (the ``Sandbox`` context manager and the ``tap-knowbe4-sandbox`` CLI) accept the same
names, as keyword arguments or as ``--flags`` with ``-`` instead of ``_``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

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
}


@dataclass(frozen=True)
class OrgOptions:
    """Sizing of the synthetic organization; ``None`` sizes are derived from ``users``."""

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
    """Behaviour of the HTTP face: auth, paging, limits, faults and where to listen."""

    api_key: str = DEMO_API_KEY
    pagination: str = "both"
    cursor_style: str = "header"
    invalid_token_200: bool = False
    forbidden_prefixes: tuple[str, ...] = ()
    limits: bool = True
    per_second: int = 4
    per_minute: int = 50
    daily_quota: int | None = None
    latency_ms: int = 0
    fault_rate: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    quirks: tuple[str, ...] = field(default=())

    def validate(self) -> None:
        """Raise ``ValueError`` for an impossible combination."""
        if self.pagination not in ("both", "page", "cursor"):
            raise ValueError("pagination must be one of both, page, cursor")
        if self.cursor_style not in ("header", "envelope"):
            raise ValueError("cursor_style must be header or envelope")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        for name in ("per_second", "per_minute", "latency_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


def split_options(**kwargs: Any) -> tuple[OrgOptions, ServerOptions]:
    """Split one flat set of keyword options into organization and server options."""
    org_names = {f.name for f in fields(OrgOptions)}
    server_names = {f.name for f in fields(ServerOptions)}
    unknown = set(kwargs) - org_names - server_names
    if unknown:
        raise TypeError(f"unknown sandbox option(s): {', '.join(sorted(unknown))}")
    for key in ("forbidden_prefixes", "quirks"):
        if key in kwargs:
            value = kwargs[key]
            kwargs[key] = (value,) if isinstance(value, str) else tuple(value or ())
    org = OrgOptions(**{k: v for k, v in kwargs.items() if k in org_names})
    server = ServerOptions(**{k: v for k, v in kwargs.items() if k in server_names})
    server.validate()
    org.sizes()
    return org, server
