"""The fixed frame every generator shares: seed, sizes, time span and the account's identity."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from tap_knowbe4.sandbox import names
from tap_knowbe4.sandbox.options import OrgOptions, OrgSizes
from tap_knowbe4.sandbox.rand import SALT_ACCOUNT, rng
from tap_knowbe4.sandbox.times import DAY, add_months, parse_instant


@dataclass(frozen=True)
class Context:
    """Immutable facts of one generated organization.

    ``org_start`` is when the account began (``risk_years`` before the start clock ``now0``);
    everything is generated up to ``horizon_end`` so that advancing the clock reveals it.
    """

    seed: int
    sizes: OrgSizes
    now0: int
    org_start: int
    horizon_end: int
    quirks: frozenset[str]
    account_name: str
    domain: str
    deleted_users: bool = False
    broken_refs: bool = False
    odd_values: bool = False
    coherent_numbers: bool = False

    @property
    def anchor_day(self) -> int:
        """Day number of the first weekly risk-score point."""
        return self.org_start // DAY + 1

    @property
    def span(self) -> int:
        """Seconds between the account's start and the start clock."""
        return self.now0 - self.org_start

    @classmethod
    def build(cls, options: OrgOptions) -> Context:
        """Derive the context from the options."""
        sizes = options.sizes()
        now0 = parse_instant(options.now)
        r = rng(options.seed, SALT_ACCOUNT)
        first = r.choice(names.COMPANY_FIRST)
        second = r.choice(names.COMPANY_SECOND)
        name = f"{first} {second} {r.choice(names.COMPANY_SUFFIX)}"
        return cls(
            seed=options.seed,
            sizes=sizes,
            now0=now0,
            org_start=add_months(now0, -12 * sizes.risk_years),
            horizon_end=now0 + sizes.horizon_days * DAY,
            quirks=frozenset(options.quirks),
            account_name=name,
            domain=slug(f"{first}{second}") + ".com",
            deleted_users=options.deleted_users,
            broken_refs=options.broken_refs,
            odd_values=options.odd_values,
            coherent_numbers=options.coherent_numbers,
        )


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits only (accents folded), for emails and domains."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())
