"""Store purchases, uploaded policies, training campaigns and enrollments.

Time model: purchases and campaigns are invisible before their purchase/creation instant; a
campaign is ``Created`` before its start, ``In Progress`` after it and ``Completed`` after a
specific end date. Enrollments are created at the campaign start (for its audience then) and, for
auto-enrolling campaigns, when a user joins the audience later. Each enrollment has a start and a
completion instant drawn once; its status and visible dates follow the clock.

``completion_percentage`` is ``round(100 * completed / enrolled)`` over the campaign's visible
enrollments (``0`` without any). Messy data:

* ``broken_refs``: about one store purchase in eight (at least one) and one policy, among the
  content of campaigns that had enrollments at the start clock, are missing from
  ``/v1/training/store_purchases`` / ``/v1/training/policies`` (by id: 404) while campaign
  ``content`` and enrollments still name them.
* ``odd_values``: a campaign is ``Enrolling`` for two days after its start; of the campaigns
  with an end date, ordered by end, every second one says ``Closed`` instead of ``Completed``
  once ended; about one campaign in five reports ``completion_percentage: -1`` ("too large to
  calculate") and about one in four lists ``groups`` without ``group_id`` (each: at least one
  among the campaigns existing at the start clock); an enrollment's ``user.employee_number`` is
  an integer when it is all digits (the docs sample; ``/v1/users`` keeps strings for most).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

from tap_knowbe4.sandbox import names
from tap_knowbe4.sandbox.context import Context, slug
from tap_knowbe4.sandbox.people import NEW_HIRE_SECONDS, RULE_STATIC, People, UserRec
from tap_knowbe4.sandbox.rand import SALT_ENROLLMENTS, SALT_MESSY, SALT_TRAINING, pick_some, rng
from tap_knowbe4.sandbox.times import DAY, HOUR, at_utc, opt_ts, ts, year_of

SP, POLICY = "sp", "policy"
ENROLLING_SECONDS = 2 * DAY


@dataclass(slots=True, eq=False)
class StorePurchaseRec:
    """One purchased content item from the ModStore."""

    name: str
    description: str
    type: str
    duration: int | None
    publish: int
    publisher: str
    purchase: int
    retirement: int | None
    policy_url: str | None
    id: int = 0
    removed: bool = False


@dataclass(slots=True, eq=False)
class PolicyRec:
    """One uploaded policy."""

    id: int
    name: str
    minimum_time: int
    default_language: str
    status: int
    removed: bool = False


@dataclass(slots=True, eq=False)
class TrainingCampaignRec:
    """One training campaign: audience, content and schedule."""

    name: str
    groups: list[tuple[int, str]]
    all_users: bool
    new_hires: bool
    target_groups: tuple[int, ...]
    duration_type: str
    start: int
    end: int | None
    relative: tuple[str, int] | None
    auto_enroll: bool
    allow_multiple: bool
    created: int
    cancelled: bool
    show_scores: bool
    weight: float
    min_content: int = 1
    content: list[tuple[str, int]] = field(default_factory=list)
    id: int = 0
    closed_label: bool = False
    uncomputable: bool = False
    no_group_ids: bool = False
    audience: list[tuple[int, UserRec]] = field(default_factory=list)
    enrollments: list[EnrollmentRec] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class EnrollmentRec:
    """One user's enrollment in one content item of one campaign."""

    campaign: TrainingCampaignRec
    kind: str
    content: int
    user: UserRec
    enrolled: int
    id: int = 0
    started: int | None = None
    completed: int | None = None
    total_time: int = 0
    partial_time: int = 0
    score: float | None = None
    due: int | None = None


class Training:
    """Generates training content, campaigns and enrollments; answers them at any instant."""

    def __init__(self, ctx: Context, people: People) -> None:
        self.ctx = ctx
        self.people = people
        r = rng(ctx.seed, SALT_TRAINING)
        self.store_purchases = self._make_store_purchases(r)
        self.policies = self._make_policies(r)
        self.campaigns = self._make_campaigns(r)
        self.enrollments = self._make_enrollments()
        self.sp_by_id = {s.id: s for s in self.store_purchases}
        self.policy_by_id = {p.id: p for p in self.policies}
        self.campaign_by_id = {c.id: c for c in self.campaigns}
        self.enrollment_by_id = {e.id: e for e in self.enrollments}
        self._enrolled_times = [e.enrolled for e in self.enrollments]
        self._by_user: dict[int, list[EnrollmentRec]] = {}
        for e in self.enrollments:
            self._by_user.setdefault(e.user.id, []).append(e)
        if ctx.broken_refs:
            self._remove_content()
        if ctx.odd_values:
            self._mark_odd()

    # ------------------------------------------------------------------ generation: messy data
    def _remove_content(self) -> None:
        """Drop some content from its list while campaigns and enrollments still name it."""
        now0 = self.ctx.now0
        used: set[tuple[str, int]] = set()
        for c in self.campaigns:
            if c.enrollments and c.enrollments[0].enrolled <= now0:
                used.update(c.content)
        seed = self.ctx.seed
        sps = sorted(cid for kind, cid in used if kind == SP)
        for sid in pick_some(sps, 0.125, seed, SALT_MESSY, 20):
            self.sp_by_id[sid].removed = True
        policies = sorted(cid for kind, cid in used if kind == POLICY)
        for pid in pick_some(policies, 0.0, seed, SALT_MESSY, 21):
            self.policy_by_id[pid].removed = True

    def _mark_odd(self) -> None:
        """Choose the campaigns with ``Closed``, ``-1`` percentages and group-id-less groups."""
        seed, now0 = self.ctx.seed, self.ctx.now0
        ended = sorted(
            (c for c in self.campaigns if c.end is not None and not c.cancelled),
            key=lambda c: (c.end or 0, c.id),
        )
        for rank, c in enumerate(ended):
            c.closed_label = rank % 2 == 1
        ids = [c.id for c in self.campaigns]
        existing = [c.id for c in self.campaigns if c.created <= now0 and not c.cancelled]
        uncomputable = pick_some(ids, 0.2, seed, SALT_MESSY, 31, among=existing)
        no_ids = pick_some(ids, 0.25, seed, SALT_MESSY, 32, among=existing)
        for c in self.campaigns:
            c.uncomputable = c.id in uncomputable
            c.no_group_ids = c.id in no_ids

    # ------------------------------------------------------------------ generation: content
    def _make_store_purchases(self, r: random.Random) -> list[StorePurchaseRec]:
        ctx = self.ctx
        visible = ctx.sizes.store_purchases
        n_future = max(1, visible // 6)
        pool = list(names.STORE_MODULES)
        r.shuffle(pool)
        out = []
        for i in range(visible + n_future):
            if i < min(3, visible):
                purchase = ctx.org_start + DAY + r.randrange(4 * DAY)
            elif i < visible:
                purchase = ctx.org_start + DAY + r.randrange(max(1, ctx.span - 2 * DAY))
            else:
                purchase = ctx.now0 + 1 + r.randrange(max(1, ctx.horizon_end - ctx.now0))
            purchase = purchase // DAY * DAY
            base = pool[i % len(pool)]
            name = base if i < len(pool) else f"{year_of(purchase)} {base}"
            kind = r.choice(names.STORE_TYPES)
            opener = r.choice(names.DESCRIPTION_OPENERS)
            topic = base.lower().replace("&", "and")
            retirement = None
            if r.random() < 0.15:
                retirement = purchase + r.randrange(100, 1200) * DAY
            out.append(
                StorePurchaseRec(
                    name=name,
                    description=f"{opener} {topic} and how to respond...",
                    type=kind,
                    duration=None if kind == "Game" and r.random() < 0.5 else r.randrange(3, 46),
                    publish=purchase - r.randrange(10, 900) * DAY + 15 * HOUR,
                    publisher=r.choice(names.PUBLISHERS),
                    purchase=purchase,
                    retirement=retirement,
                    policy_url=(
                        f"https://{ctx.domain}/policies/{slug(base)}.pdf"
                        if r.random() < 0.05
                        else None
                    ),
                )
            )
        out.sort(key=lambda s: s.purchase)
        sid = 6400 + r.randrange(0, 50)
        for s in out:
            sid += r.randrange(1, 12)
            s.id = sid
        return out

    def _make_policies(self, r: random.Random) -> list[PolicyRec]:
        out = []
        pid = 2400 + r.randrange(0, 50)
        for i in range(self.ctx.sizes.policies):
            pid += r.randrange(1, 9)
            base = names.POLICY_NAMES[i % len(names.POLICY_NAMES)]
            name = (
                base
                if i < len(names.POLICY_NAMES)
                else f"{base} v{i // len(names.POLICY_NAMES) + 1}"
            )
            out.append(
                PolicyRec(
                    id=pid,
                    name=name,
                    minimum_time=r.randrange(1, 11),
                    default_language=r.choice(names.POLICY_LANGUAGES),
                    status=0 if i > 0 and r.random() < 0.12 else 1,
                )
            )
        return out

    # ------------------------------------------------------------------ generation: campaigns
    def _make_campaigns(self, r: random.Random) -> list[TrainingCampaignRec]:
        ctx = self.ctx
        groups = self.people.groups
        targetable = [g.idx for g in groups if g.rule == RULE_STATIC and not g.archived]
        new_hires = self.people.new_hires
        annual_past: list[TrainingCampaignRec] = []
        annual_future: list[TrainingCampaignRec] = []
        for year in range(year_of(ctx.org_start), year_of(ctx.horizon_end) + 1):
            start = at_utc(year, 9, 2, 13)
            if ctx.org_start + 10 * DAY < start <= ctx.horizon_end:
                c = self._campaign(
                    r, f"{year} Annual Security Awareness", start, "annual", targetable
                )
                (annual_past if c.created <= ctx.now0 else annual_future).append(c)
        priority: list[TrainingCampaignRec] = list(reversed(annual_past))
        if new_hires is not None:
            priority.append(
                self._campaign(
                    r, "New Hire Onboarding", ctx.org_start + 12 * DAY, "newhire", targetable
                )
            )
        priority.append(
            self._campaign(r, "Q1 Policy Refresh", ctx.now0 + 10 * DAY, "upcoming", targetable)
        )
        cancelled_start = ctx.org_start + ctx.span // 2
        priority.append(
            self._campaign(r, "Vendor Risk Awareness", cancelled_start, "cancelled", targetable)
        )
        wanted = ctx.sizes.training_campaigns
        names_pool = list(names.TRAINING_CAMPAIGN_NAMES)
        r.shuffle(names_pool)
        for i in range(max(0, wanted - len(priority))):
            start = ctx.org_start + 20 * DAY + r.randrange(max(1, ctx.span - 21 * DAY))
            base = names_pool[i % len(names_pool)]
            name = f"{base} {year_of(start)}" if i >= len(names_pool) // 2 else base
            if i >= len(names_pool):
                name = f"{base} {year_of(start)} #{i // len(names_pool) + 1}"
            priority.append(self._campaign(r, name, start, "other", targetable))
        chosen = priority[:wanted]
        future = list(annual_future)
        for i in range(max(1, wanted // 6) if wanted else 0):
            start = ctx.now0 + 15 * DAY + r.randrange(max(1, ctx.horizon_end - ctx.now0 - 15 * DAY))
            future.append(
                self._campaign(
                    r,
                    f"{names_pool[i % len(names_pool)]} {year_of(start)} (next)",
                    start,
                    "other",
                    targetable,
                )
            )
        campaigns = sorted(chosen + future, key=lambda c: c.created)
        cid = 4200 + r.randrange(0, 50)
        for c in campaigns:
            cid += r.randrange(1, 30)
            c.id = cid
        for c in campaigns:
            self._audience(c)
        self._assign_content(r, campaigns)
        return campaigns

    def _campaign(
        self, r: random.Random, name: str, start: int, kind: str, targetable: list[int]
    ) -> TrainingCampaignRec:
        ctx = self.ctx
        people = self.people
        share_all = min(0.12, 2.0 / max(1, self.ctx.sizes.training_campaigns))
        all_users = kind in ("annual", "upcoming") or (kind == "other" and r.random() < share_all)
        target: tuple[int, ...] = ()
        groups: list[tuple[int, str]] = [(0, "All Users")] if all_users else []
        new_hires = kind == "newhire"
        if new_hires and people.new_hires is not None:
            groups = [(people.new_hires.id, people.new_hires.name)]
        elif not all_users:
            chosen = sorted(set(r.sample(targetable, min(len(targetable), r.randrange(1, 3)))))
            target = tuple(chosen)
            groups = [(people.groups[g].id, people.groups[g].name) for g in chosen]
        end: int | None = None
        relative: tuple[str, int] | None = None
        if kind == "annual":
            duration_type = "Specific End Date"
            end = at_utc(year_of(start), 12, 19, 4, 59)
        elif kind == "newhire":
            duration_type, relative = "Relative End Date", ("30 days", 30)
        else:
            roll = r.random()
            if roll < 0.6 or kind == "upcoming":
                duration_type = "Specific End Date"
                end = start + r.randrange(14, 91) * DAY
            elif roll < 0.85:
                duration_type, relative = "Relative End Date", r.choice(names.RELATIVE_DURATIONS)
            else:
                duration_type = "No End Date"
        created = max(ctx.org_start + 60, start - r.randrange(HOUR, 14 * DAY))
        if kind == "upcoming":
            created = ctx.now0 - 2 * DAY
        weight = {"annual": 2.0, "newhire": 1.5}.get(kind, r.uniform(0.6, 1.4))
        return TrainingCampaignRec(
            name=name, groups=groups, all_users=all_users, new_hires=new_hires,
            target_groups=target, duration_type=duration_type, start=start, end=end,
            relative=relative, auto_enroll=kind in ("annual", "newhire") or r.random() < 0.6,
            allow_multiple=r.random() < 0.15, created=created, cancelled=kind == "cancelled",
            show_scores=kind == "annual" or r.random() < 0.3, weight=weight,
        )  # fmt: skip

    def _audience(self, c: TrainingCampaignRec) -> None:
        """(enrollment instant, user) for everyone the campaign enrolls, up to the horizon."""
        if c.cancelled:
            return
        rand = rng(self.ctx.seed, SALT_TRAINING, c.id).random
        stop = c.end if c.end is not None else self.ctx.horizon_end
        targets = set(c.target_groups)
        out: list[tuple[int, UserRec]] = []
        for u in self.people.users:
            if u.joined > stop:
                break
            if not (c.all_users or c.new_hires or not targets.isdisjoint(u.static_groups)):
                continue
            if u.active(c.start):
                if c.new_hires and c.start - u.joined >= NEW_HIRE_SECONDS:
                    continue
                out.append((c.start + int(rand() * 600), u))
            elif c.auto_enroll and u.joined > c.start:
                out.append((u.joined + 60 + int(rand() * 3540), u))
        c.audience = out

    def _assign_content(self, r: random.Random, campaigns: list[TrainingCampaignRec]) -> None:
        """Choose each campaign's content size so enrollments per user approach the target."""
        now0 = self.ctx.now0
        target = self.ctx.sizes.users * self.ctx.sizes.enrollments_per_user
        live = [c for c in campaigns if not c.cancelled]
        reach = {id(c): sum(1 for t, _u in c.audience if t <= now0) for c in live}
        published = [p for p in self.policies if p.status == 1]
        latest_annual = max(
            (c for c in live if c.name.endswith("Annual Security Awareness") and c.start <= now0),
            key=lambda c: c.start,
            default=None,
        )
        if latest_annual is not None and published:
            latest_annual.min_content = 2

        def sizes(scale: float) -> dict[int, int]:
            return {id(c): max(c.min_content, min(6, round(scale * c.weight))) for c in campaigns}

        lo, hi = 0.0, 10.0
        for _ in range(30):
            mid = (lo + hi) / 2
            k = sizes(mid)
            if sum(reach[id(c)] * k[id(c)] for c in live) < target:
                lo = mid
            else:
                hi = mid
        k = sizes(hi)
        for c in campaigns:
            available = [
                s for s in self.store_purchases
                if s.purchase <= c.start and (s.retirement is None or s.retirement > c.start)
            ]  # fmt: skip
            want = k[id(c)]
            n_pol = min(len(published), (1 if want >= 2 else 0) + (1 if want >= 4 else 0))
            n_sp = min(len(available), want - n_pol)
            if n_sp + n_pol < want:
                n_pol = min(len(published), want - n_sp)
            if n_sp + n_pol == 0:
                n_sp, n_pol = min(1, len(available)), min(1, len(published))
            sps = sorted(r.sample(available, n_sp), key=lambda s: s.id)
            pols = sorted(r.sample(published, n_pol), key=lambda p: p.id)
            c.content = [(SP, s.id) for s in sps] + [(POLICY, p.id) for p in pols]

    # ------------------------------------------------------------------ generation: enrollments
    def _make_enrollments(self) -> list[EnrollmentRec]:
        sp_by_id = {s.id: s for s in self.store_purchases}
        pol_by_id = {p.id: p for p in self.policies}
        items: list[EnrollmentRec] = []
        for c in self.campaigns:
            for t, u in c.audience:
                for kind, cid in c.content:
                    items.append(
                        EnrollmentRec(campaign=c, kind=kind, content=cid, user=u, enrolled=t)
                    )
        items.sort(key=lambda e: (e.enrolled, e.campaign.id, e.user.id))
        r = rng(self.ctx.seed, SALT_ENROLLMENTS)
        rand = r.random
        eid = 1_877_000_000 + r.randrange(0, 100_000)
        for e in items:
            eid += 1 + int(rand() * 3)
            e.id = eid
            c, u = e.campaign, e.user
            if e.kind == SP:
                minutes = sp_by_id[e.content].duration
                e.total_time = int((minutes or 8) * 60 * (0.6 + 0.8 * rand()))
            else:
                e.total_time = int(pol_by_id[e.content].minimum_time * 60 * (1.0 + 1.5 * rand()))
            e.partial_time = int(e.total_time * (0.1 + 0.7 * rand()))
            if c.end is not None:
                e.due = c.end
            elif c.relative is not None:
                e.due = e.enrolled + c.relative[1] * DAY
            if rand() < 0.92:
                if e.due is not None and e.due > e.enrolled:  # people start towards the due date
                    delay = int((e.due - e.enrolled) * 1.1 * rand() ** 1.3)
                else:
                    delay = int(r.expovariate(1.0 / (10 * DAY)))
                started = e.enrolled + 60 + delay
                if u.archived is None or started < u.archived:
                    e.started = started
            if e.started is not None and rand() < 0.88:
                done = e.started + e.total_time
                if rand() < 0.5:  # finished in a later session
                    done += DAY // 2 + int(rand() * 20 * DAY)
                if u.archived is None or done < u.archived:
                    e.completed = done
            if c.show_scores and e.kind == SP and e.completed is not None:
                e.score = float(r.randrange(12, 21) * 5)
            c.enrollments.append(e)
        return items

    # ------------------------------------------------------------------ state at an instant
    def visible_enrollments(self, now: int) -> list[EnrollmentRec]:
        """Enrollments that exist at ``now``, ascending id."""
        return self.enrollments[: bisect.bisect_right(self._enrolled_times, now)]

    def enrollments_of_user(self, user_id: int, now: int) -> list[EnrollmentRec]:
        """Visible enrollments of one user, ascending id."""
        return [e for e in self._by_user.get(user_id, ()) if e.enrolled <= now]

    def campaign_status(self, c: TrainingCampaignRec, now: int) -> str:
        """The campaign status at ``now`` (odd values add ``Enrolling`` and ``Closed``)."""
        if c.cancelled:
            return "Cancelled"
        if now < c.start:
            return "Created"
        odd = self.ctx.odd_values
        if odd and now < c.start + ENROLLING_SECONDS:
            return "Enrolling"
        if c.end is not None and now >= c.end:
            return "Closed" if c.closed_label else "Completed"
        return "In Progress"

    def completion_percentage(self, c: TrainingCampaignRec, now: int) -> int:
        """Share (0-100) of the campaign's visible enrollments completed at ``now`` (or ``-1``)."""
        if c.uncomputable:
            return -1
        total = done = 0
        for e in c.enrollments:
            if e.enrolled > now:
                break
            total += 1
            if e.completed is not None and e.completed <= now:
                done += 1
        return round(100 * done / total) if total else 0

    def enrollment_status(self, e: EnrollmentRec, now: int) -> str:
        """``Not Started``, ``In Progress``, ``Past Due``, ``Completed`` or ``Passed``."""
        if e.completed is not None and e.completed <= now:
            if e.kind == POLICY:
                return "Completed"
            return "Passed" if self.sp_by_id[e.content].type != "Video Module" else "Completed"
        if e.due is not None and now > e.due:
            return "Past Due"
        if e.started is not None and e.started <= now:
            return "In Progress"
        return "Not Started"

    # ------------------------------------------------------------------ API shapes
    def store_purchase_dict(self, s: StorePurchaseRec, now: int) -> dict[str, object]:
        """A store purchase exactly as ``/v1/training/store_purchases/{id}`` returns it."""
        return {
            "store_purchase_id": s.id,
            "content_type": "Store Purchase",
            "name": s.name,
            "description": s.description,
            "type": s.type,
            "duration": s.duration,
            "retired": s.retirement is not None and s.retirement <= now,
            "retirement_date": opt_ts(s.retirement),
            "publish_date": ts(s.publish),
            "publisher": s.publisher,
            "purchase_date": ts(s.purchase),
            "policy_url": s.policy_url,
        }

    def policy_dict(self, p: PolicyRec, in_campaign: bool = False) -> dict[str, object]:
        """A policy as ``/v1/training/policies/{id}`` returns it (or as campaign content)."""
        out: dict[str, object] = {
            "policy_id": p.id,
            "content_type": "Uploaded Policy",
            "name": p.name,
            "minimum_time": p.minimum_time,
            "default_language": p.default_language,
        }
        if in_campaign:
            out["published"] = p.status == 1
        else:
            out["status"] = p.status
        return out

    def campaign_dict(
        self, c: TrainingCampaignRec, now: int, percentages: bool, nested: bool
    ) -> dict[str, object]:
        """A training campaign exactly as ``/v1/training/campaigns/{id}`` returns it."""
        content: list[object] = [
            self.store_purchase_dict(self.sp_by_id[cid], now)
            if kind == SP
            else self.policy_dict(self.policy_by_id[cid], in_campaign=True)
            for kind, cid in c.content
        ]
        out: dict[str, object] = {
            "campaign_id": c.id,
            "name": c.name,
            "groups": [
                {"name": name} if c.no_group_ids else {"group_id": gid, "name": name}
                for gid, name in c.groups
            ],
            "status": self.campaign_status(c, now),
            "content": [content] if nested else content,
            "duration_type": c.duration_type,
            "start_date": ts(c.start),
            "end_date": opt_ts(c.end),
            "relative_duration": c.relative[0] if c.relative else None,
            "auto_enroll": c.auto_enroll,
            "allow_multiple_enrollments": c.allow_multiple,
        }
        if percentages:
            out["completion_percentage"] = self.completion_percentage(c, now)
        return out

    def enrollment_dict(
        self,
        e: EnrollmentRec,
        now: int,
        *,
        campaign_id: bool = False,
        store_purchase_id: bool = False,
        employee_number: bool = False,
        score: bool = False,
    ) -> dict[str, object]:
        """An enrollment exactly as ``/v1/training/enrollments/{id}`` returns it."""
        u = e.user
        user: dict[str, object] | None = None
        if not self.people.shows_null(u, now):
            user = {
                "id": u.id,
                "first_name": u.first_name,
                "last_name": u.last_name,
                "email": u.email,
            }
            if employee_number:
                user["employee_number"] = self.people.employee_number(u, self.ctx.odd_values)
        if e.kind == SP:
            content_type, module = "Store Purchase", self.sp_by_id[e.content].name
        else:
            content_type, module = "Uploaded Policy", self.policy_by_id[e.content].name
        done = e.completed is not None and e.completed <= now
        started = e.started is not None and e.started <= now
        out: dict[str, object] = {
            "enrollment_id": e.id,
            "content_type": content_type,
            "module_name": module,
            "user": user,
        }
        if campaign_id:
            out["campaign_id"] = e.campaign.id
        if store_purchase_id:
            out["store_purchase_id"] = e.content if e.kind == SP else None
        out["campaign_name"] = e.campaign.name
        out["enrollment_date"] = ts(e.enrolled)
        out["start_date"] = ts(e.started) if started and e.started is not None else None
        out["completion_date"] = ts(e.completed) if done and e.completed is not None else None
        out["status"] = self.enrollment_status(e, now)
        out["time_spent"] = e.total_time if done else e.partial_time if started else 0
        out["policy_acknowledged"] = done and e.kind == POLICY
        if score:
            out["score"] = e.score if done else None
        return out
