"""The synthetic organization: the ground truth of the sandbox.

``Organization`` has one method per list/by-id endpoint of the Reporting API. Each returns exactly
what the endpoint returns at the current sandbox clock (lists: every page concatenated, ascending
id), as fresh dicts the caller may mutate. The HTTP server is built on these same methods.

Everything is a deterministic function of (options, clock): ``advance()`` only moves the clock,
and users, PSTs, recipients' events, risk-score points and enrollments appear as their instants
pass. Unknown ids raise ``NotFound`` (404 on the wire).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from tap_knowbe4.sandbox import drift
from tap_knowbe4.sandbox.context import Context
from tap_knowbe4.sandbox.options import OrgOptions
from tap_knowbe4.sandbox.people import People, UserRec
from tap_knowbe4.sandbox.phishing import CampaignRec, Phishing, PstRec
from tap_knowbe4.sandbox.rand import SALT_ACCOUNT, rng
from tap_knowbe4.sandbox.risk import KIND_ACCOUNT, KIND_GROUP, KIND_USER, RiskModel
from tap_knowbe4.sandbox.routes import ROUTES
from tap_knowbe4.sandbox.times import DAY, date_str, to_datetime
from tap_knowbe4.sandbox.training import Training

T = TypeVar("T")
Record = dict[str, Any]


class NotFound(LookupError):  # noqa: N818 - the name is part of the sandbox's contract
    """An id that does not exist (at the current clock); the server answers 404."""


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: Organization, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _drifted(method: Callable[..., T]) -> Callable[..., T]:
    """An endpoint method whose answer passes the drift quirks (``sandbox.drift``)."""

    @functools.wraps(method)
    def wrapper(self: Organization, *args: Any, **kwargs: Any) -> T:
        answer = method(self, *args, **kwargs)
        quirks = self.ctx.quirks
        return drift.apply(method.__name__, answer, quirks) if drift.active(quirks) else answer

    return wrapper


class Organization:
    """A KnowBe4 account with users, groups, phishing and training data, and a movable clock."""

    def __init__(self, options: OrgOptions | None = None, **kwargs: Any) -> None:
        """Build the organization from ``options`` or from the same names as keywords.

        Keywords may include ``profile`` (default ``documented``); see ``OrgOptions.build``.
        """
        if options is None:
            options = OrgOptions.build(**kwargs)
        elif kwargs:
            raise TypeError("pass either an OrgOptions or keyword options, not both")
        self.options = options
        self.ctx = Context.build(options)
        self._lock = threading.RLock()
        self._now = self.ctx.now0
        self._version = 0
        self._memo: dict[str, Any] = {}
        quirks = self.ctx.quirks
        self.risk = RiskModel(
            self.ctx.seed,
            self.ctx.anchor_day,
            self.ctx.span // DAY,
            "risk-timestamp-dates" in quirks,
        )
        self.people = People(self.ctx, self.risk)
        self.phishing = Phishing(self.ctx, self.people)
        if self.ctx.coherent_numbers:
            self.people.results = self.phishing.user_results
        self.training = Training(self.ctx, self.people)
        self._admins = self._make_admins()
        self.number_of_seats = self._seats()

    # ------------------------------------------------------------------ clock
    @property
    def now(self) -> datetime:
        """Current sandbox clock (timezone-aware UTC datetime)."""
        return to_datetime(self._now)

    @property
    def now_epoch(self) -> int:
        """Current sandbox clock in epoch seconds."""
        return self._now

    @property
    def version(self) -> int:
        """Increments whenever the clock moves (lets callers invalidate caches)."""
        return self._version

    @_locked
    def advance(self, days: float = 0.0, seconds: int = 0) -> datetime:
        """Move the clock forward by ``days`` (may be fractional) plus ``seconds``."""
        delta = round(days * DAY) + int(seconds)
        if delta < 0:
            raise ValueError("the sandbox clock only moves forward")
        if self._now + delta > self.ctx.horizon_end:
            raise ValueError(
                f"cannot advance past the generated horizon ({self.options.horizon_days} days "
                "after the start clock); build the sandbox with a larger horizon_days"
            )
        if delta:
            self._now += delta
            self._version += 1
            self._memo.clear()
        return self.now

    def _counts(self) -> list[int]:
        counts = self._memo.get("member_counts")
        if counts is None:
            counts = self.people.member_counts(self._now)
            self._memo["member_counts"] = counts
        return counts

    # ------------------------------------------------------------------ account
    def _make_admins(self) -> list[Record]:
        r = rng(self.ctx.seed, SALT_ACCOUNT, 2)
        admin_id = 81_234_000 + r.randrange(0, 900)
        out = []
        for u in self.people.users[: 2 + r.randrange(0, 2)]:
            admin_id += r.randrange(1, 40)
            out.append(
                {
                    "id": admin_id,
                    "first_name": u.first_name,
                    "last_name": u.last_name,
                    "email": u.email,
                }
            )
        return out

    def _seats(self) -> int:
        now0 = self.ctx.now0
        active = sum(1 for u in self.people.users if u.active(now0))
        return max(25, -(-int(active * 1.1) // 25) * 25)

    @_locked
    def account(self) -> Record:
        """``GET /v1/account``."""
        now = self._now
        risk = self.risk.current(KIND_ACCOUNT, 0, self.ctx.org_start // DAY, now // DAY)
        out: Record = {
            "name": self.ctx.account_name,
            "type": "paid",
            "domains": [self.ctx.domain],
            "admins": [dict(a) for a in self._admins],
        }
        if "trial-account" in self.ctx.quirks:
            out["type"] = "trial"
        else:
            out["subscription_level"] = "Diamond"
            out["subscription_end_date"] = date_str(self.ctx.now0 + 151 * DAY)
            out["number_of_seats"] = self.number_of_seats
        out["current_risk_score"] = risk
        return out

    @_locked
    def account_risk_score_history(self, full: bool = False) -> list[Record]:
        """``GET /v1/account/risk_score_history`` (``full=true``: everything, else 6 months)."""
        day = self._now // DAY
        return self.risk.history(
            KIND_ACCOUNT,
            0,
            first_day=self.ctx.org_start // DAY,
            last_day=day,
            now_day=day,
            full=full,
        )

    # ------------------------------------------------------------------ users and groups
    def _user(self, user_id: int) -> UserRec:
        u = self.people.user_by_id.get(user_id)
        if u is None or not u.visible(self._now):
            raise NotFound(f"User {user_id} not found")
        return u

    def _group(self, group_id: int) -> Any:
        g = self.people.group_by_id.get(group_id)
        if g is None:
            raise NotFound(f"Group {group_id} not found")
        return g

    @_locked
    def users(
        self, status: str | None = None, group_id: int | None = None, expand: str | None = None
    ) -> list[Record]:
        """``GET /v1/users`` with optional ``status``, ``group_id`` and ``expand=group``."""
        now = self._now
        people = self.people
        rows = people.visible_users(now)
        if status in ("active", "archived"):
            want_archived = status == "archived"
            rows = [u for u in rows if (not u.active(now)) == want_archived]
        if group_id is not None:
            g = people.group_by_id.get(group_id)
            rows = [u for u in rows if g is not None and people.in_group(u, g, now)]
        counts = self._counts() if expand in ("group", "groups") else None
        return [people.user_dict(u, now, counts) for u in rows]

    @_locked
    def user(self, user_id: int) -> Record:
        """``GET /v1/users/{user_id}``."""
        return self.people.user_dict(self._user(user_id), self._now)

    @_locked
    def user_risk_score_history(self, user_id: int, full: bool = False) -> list[Record]:
        """``GET /v1/users/{user_id}/risk_score_history``."""
        u = self._user(user_id)
        now = self._now
        last = now if u.archived is None else min(now, u.archived)
        return self.risk.history(
            KIND_USER,
            u.id,
            first_day=u.joined // DAY,
            last_day=last // DAY,
            now_day=now // DAY,
            full=full,
        )

    @_locked
    def groups(self, status: str | None = None) -> list[Record]:
        """``GET /v1/groups`` with optional ``status``."""
        counts = self._counts()
        now = self._now
        out = []
        for g in self.people.groups:
            if (status == "active" and g.archived) or (status == "archived" and not g.archived):
                continue
            out.append(self.people.group_dict(g, now, counts[g.idx]))
        return out

    @_locked
    def group(self, group_id: int) -> Record:
        """``GET /v1/groups/{group_id}``."""
        g = self._group(group_id)
        return self.people.group_dict(g, self._now, self._counts()[g.idx])

    @_locked
    def group_members(self, group_id: int) -> list[Record]:
        """``GET /v1/groups/{group_id}/members`` (active members, user shape)."""
        g = self._group(group_id)
        now = self._now
        people = self.people
        return [
            people.user_dict(u, now)
            for u in people.visible_users(now)
            if people.in_group(u, g, now)
        ]

    @_locked
    def group_risk_score_history(self, group_id: int, full: bool = False) -> list[Record]:
        """``GET /v1/groups/{group_id}/risk_score_history``."""
        g = self._group(group_id)
        day = self._now // DAY
        return self.risk.history(
            KIND_GROUP,
            g.id,
            first_day=self.ctx.org_start // DAY,
            last_day=day,
            now_day=day,
            full=full,
        )

    # ------------------------------------------------------------------ phishing
    def _campaigns(self, campaign_type: str | None) -> list[CampaignRec]:
        callback = campaign_type == "callback"
        now = self._now
        return [c for c in self.phishing.campaigns if c.callback == callback and c.created <= now]

    def _campaign(self, campaign_id: int, campaign_type: str | None) -> CampaignRec:
        c = self.phishing.campaign_by_id.get(campaign_id)
        if c is None or c.created > self._now or c.callback != (campaign_type == "callback"):
            raise NotFound(f"Campaign {campaign_id} not found")
        return c

    def _pst(self, pst_id: int, campaign_type: str | None) -> PstRec:
        p = self.phishing.pst_by_id.get(pst_id)
        if (
            p is None
            or p.sort_time > self._now
            or p.campaign.callback != (campaign_type == "callback")
        ):
            raise NotFound(f"Phishing security test {pst_id} not found")
        return p

    @_locked
    def phishing_campaigns(self, campaign_type: str | None = None) -> list[Record]:
        """``GET /v1/phishing/campaigns`` (``campaign_type=callback`` for callback campaigns)."""
        now = self._now
        return [self.phishing.campaign_dict(c, now) for c in self._campaigns(campaign_type)]

    @_locked
    def phishing_campaign(self, campaign_id: int, campaign_type: str | None = None) -> Record:
        """``GET /v1/phishing/campaigns/{campaign_id}``."""
        return self.phishing.campaign_dict(self._campaign(campaign_id, campaign_type), self._now)

    @_locked
    def campaign_security_tests(
        self, campaign_id: int, campaign_type: str | None = None
    ) -> list[Record]:
        """``GET /v1/phishing/campaigns/{campaign_id}/security_tests``."""
        c = self._campaign(campaign_id, campaign_type)
        now = self._now
        hyphen = "landing-page-hyphen" in self.ctx.quirks
        return [self.phishing.pst_dict(p, now, hyphen) for p in self.phishing.visible_psts(c, now)]

    @_locked
    def security_tests(self, campaign_type: str | None = None) -> list[Record]:
        """``GET /v1/phishing/security_tests`` (every PST of every campaign, ascending id)."""
        now = self._now
        callback = campaign_type == "callback"
        hyphen = "landing-page-hyphen" in self.ctx.quirks
        return [
            self.phishing.pst_dict(p, now, hyphen)
            for p in self.phishing.psts
            if p.sort_time <= now and p.campaign.callback == callback
        ]

    @_locked
    def security_test(self, pst_id: int, campaign_type: str | None = None) -> Record:
        """``GET /v1/phishing/security_tests/{pst_id}``."""
        hyphen = "landing-page-hyphen" in self.ctx.quirks
        return self.phishing.pst_dict(self._pst(pst_id, campaign_type), self._now, hyphen)

    @_locked
    def recipients(self, pst_id: int, campaign_type: str | None = None) -> list[Record]:
        """``GET /v1/phishing/security_tests/{pst_id}/recipients``."""
        p = self._pst(pst_id, campaign_type)
        now = self._now
        build = self.phishing.recipient_dict
        return [build(p, i, row, now) for i, row in enumerate(self.phishing.rows(p))]

    @_locked
    def recipient(self, pst_id: int, recipient_id: int, campaign_type: str | None = None) -> Record:
        """``GET /v1/phishing/security_tests/{pst_id}/recipients/{recipient_id}``."""
        p = self._pst(pst_id, campaign_type)
        rows = self.phishing.rows(p)
        i = recipient_id - p.recipient_base - 1
        if not 0 <= i < len(rows):
            raise NotFound(f"Recipient {recipient_id} not found")
        return self.phishing.recipient_dict(p, i, rows[i], self._now)

    # ------------------------------------------------------------------ training
    @_locked
    def store_purchases(self) -> list[Record]:
        """``GET /v1/training/store_purchases``."""
        now = self._now
        t = self.training
        return [
            t.store_purchase_dict(s, now)
            for s in t.store_purchases
            if s.purchase <= now and not s.removed
        ]

    @_locked
    def store_purchase(self, store_purchase_id: int) -> Record:
        """``GET /v1/training/store_purchases/{store_purchase_id}``."""
        s = self.training.sp_by_id.get(store_purchase_id)
        if s is None or s.purchase > self._now or s.removed:
            raise NotFound(f"Store purchase {store_purchase_id} not found")
        return self.training.store_purchase_dict(s, self._now)

    @_locked
    def policies(self) -> list[Record]:
        """``GET /v1/training/policies``."""
        return [self.training.policy_dict(p) for p in self.training.policies if not p.removed]

    @_locked
    def policy(self, policy_id: int) -> Record:
        """``GET /v1/training/policies/{policy_id}``."""
        p = self.training.policy_by_id.get(policy_id)
        if p is None or p.removed:
            raise NotFound(f"Policy {policy_id} not found")
        return self.training.policy_dict(p)

    @_locked
    def training_campaigns(self, exclude_percentages: bool = False) -> list[Record]:
        """``GET /v1/training/campaigns`` (all pages; ``completion_percentage`` unless excluded)."""
        now = self._now
        nested = "nested-content" in self.ctx.quirks
        t = self.training
        return [
            t.campaign_dict(c, now, not exclude_percentages, nested)
            for c in t.campaigns
            if c.created <= now
        ]

    @_locked
    def training_campaign(self, campaign_id: int) -> Record:
        """``GET /v1/training/campaigns/{campaign_id}``."""
        c = self.training.campaign_by_id.get(campaign_id)
        if c is None or c.created > self._now:
            raise NotFound(f"Training campaign {campaign_id} not found")
        nested = "nested-content" in self.ctx.quirks
        return self.training.campaign_dict(c, self._now, True, nested)

    @_locked
    def enrollments(
        self,
        *,
        store_purchase_id: int | None = None,
        campaign_id: int | None = None,
        user_id: int | None = None,
        exclude_archived_users: bool = False,
        include_campaign_id: bool = False,
        include_store_purchase_id: bool = False,
        include_employee_number: bool = False,
    ) -> list[Record]:
        """``GET /v1/training/enrollments`` with its filters and ``include_*`` flags.

        ``score`` is present only when filtered by ``campaign_id`` of a campaign with
        "Show Scores" enabled.
        """
        now = self._now
        t = self.training
        if user_id is not None:
            rows = t.enrollments_of_user(user_id, now)
        else:
            rows = t.visible_enrollments(now)
        if campaign_id is not None:
            rows = [e for e in rows if e.campaign.id == campaign_id]
        if store_purchase_id is not None:
            rows = [e for e in rows if e.kind == "sp" and e.content == store_purchase_id]
        if exclude_archived_users:
            rows = [e for e in rows if e.user.archived is None or e.user.archived > now]
        c = t.campaign_by_id.get(campaign_id) if campaign_id is not None else None
        score = c is not None and c.show_scores
        return [
            t.enrollment_dict(
                e,
                now,
                campaign_id=include_campaign_id,
                store_purchase_id=include_store_purchase_id,
                employee_number=include_employee_number,
                score=score,
            )
            for e in rows
        ]

    @_locked
    def enrollment(self, enrollment_id: int, include_campaign_id: bool = False) -> Record:
        """``GET /v1/training/enrollments/{enrollment_id}``."""
        e = self.training.enrollment_by_id.get(enrollment_id)
        if e is None or e.enrolled > self._now:
            raise NotFound(f"Enrollment {enrollment_id} not found")
        return self.training.enrollment_dict(e, self._now, campaign_id=include_campaign_id)

    # ------------------------------------------------------------------ summary
    @_locked
    def summary(self) -> dict[str, Any]:
        """Counts of what exists at the current clock (handy for logs and the CLI banner)."""
        now = self._now
        visible_psts = [p for p in self.phishing.psts if p.sort_time <= now]
        return {
            "clock": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "users": len(self.people.visible_users(now)),
            "groups": len(self.people.groups),
            "phishing_campaigns": len(self._campaigns(None)),
            "callback_campaigns": len(self._campaigns("callback")),
            "security_tests": len(visible_psts),
            "recipients": sum(self.phishing.plan(p).n for p in visible_psts),
            "store_purchases": sum(
                1 for s in self.training.store_purchases if s.purchase <= now and not s.removed
            ),
            "policies": sum(1 for p in self.training.policies if not p.removed),
            "training_campaigns": sum(1 for c in self.training.campaigns if c.created <= now),
            "enrollments": len(self.training.visible_enrollments(now)),
            "number_of_seats": self.number_of_seats,
        }


for _route in ROUTES:  # every endpoint's answer passes the drift quirks
    setattr(Organization, _route.method, _drifted(getattr(Organization, _route.method)))
