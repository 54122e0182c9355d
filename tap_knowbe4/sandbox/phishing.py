"""Phishing campaigns, phishing security tests (PSTs) and their recipients.

Time model: each campaign has a schedule of PST start instants, generated up to the horizon. A PST
is invisible before it starts (errored PSTs: before they were created), ``Open`` until
``started_at + duration`` days and ``Closed`` after. Every PST has a *plan* (recipient count and
final event counts, cheap to compute) and lazily *materialized* recipients whose event timestamps
are drawn once from a generator seeded by the PST id. An event is visible when its timestamp is on
or before the clock, and all events happen before the PST closes, so a closed PST's counters are
its plan and an open PST's counters are counts of its visible recipient events.

Phish-prone percentage of a PST (``phish_prone_percentage``, a fraction 0-1, also the campaign's
``psts[].phish_prone_percentage`` and, for its latest run, ``last_phish_prone_percentage``): without
``coherent_numbers`` ``round(failed / scheduled, 3)``; with it ``round(failed / delivered, 3)``
(``0.0`` while nothing was delivered), where ``failed`` counts its recipients with any of
``clicked_at``, ``replied_at``, ``attachment_opened_at``, ``macro_enabled_at``,
``data_entered_at``, ``qr_code_scanned`` set and ``delivered`` is its ``delivered_count`` (both at
the clock). Every ``*_count`` is the number of its recipients with that timestamp set.

With ``odd_values`` about one campaign in four (at least one existing at the start clock; email
and callback alike) lists its
``groups`` (and its PSTs' ``groups``) as ``{"name": ...}`` objects without ``group_id``.
"""

from __future__ import annotations

import bisect
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import cast

from tap_knowbe4.sandbox import names
from tap_knowbe4.sandbox.context import Context
from tap_knowbe4.sandbox.people import RULE_STATIC, People, UserRec
from tap_knowbe4.sandbox.rand import (
    SALT_MESSY,
    SALT_PHISHING,
    SALT_PST_PLAN,
    SALT_RECIPIENTS,
    binomial,
    pick_some,
    rng,
)
from tap_knowbe4.sandbox.times import DAY, HOUR, add_months, ts

ALL_USERS = (0, "All Users")
RECIPIENT_CACHE_ROWS = 100_000

# Indexes into a materialized recipient row.
R_USER, R_TEMPLATE, R_SCHED, R_DELIV, R_OPEN, R_CLICK, R_REPLY = 0, 1, 2, 3, 4, 5, 6
R_ATTACH, R_MACRO, R_DATA, R_QR, R_REPORT, R_BOUNCE, R_CLIENT = 7, 8, 9, 10, 11, 12, 13
COUNTER_FIELDS = (
    ("delivered_count", R_DELIV), ("opened_count", R_OPEN), ("clicked_count", R_CLICK),
    ("replied_count", R_REPLY), ("attachment_open_count", R_ATTACH),
    ("macro_enabled_count", R_MACRO), ("data_entered_count", R_DATA),
    ("qr_code_scanned_count", R_QR), ("reported_count", R_REPORT), ("bounced_count", R_BOUNCE),
)  # fmt: skip
FAILURE_EVENTS = (R_CLICK, R_REPLY, R_ATTACH, R_MACRO, R_DATA, R_QR)


@dataclass(slots=True, eq=False)
class PstPlan:
    """Recipient count and the final value of every counter of one PST."""

    n: int
    counts: dict[str, int]
    failures: int


@dataclass(slots=True, eq=False)
class PstRec:
    """One phishing security test (one run of a campaign)."""

    campaign: CampaignRec
    start: int | None
    sort_time: int
    template: tuple[int | None, str | None]
    seq: int = 0
    id: int = 0
    recipient_base: int = 0
    plan: PstPlan | None = None

    @property
    def errored(self) -> bool:
        """True for a PST that failed to start."""
        return self.start is None

    @property
    def close(self) -> int:
        """Instant the PST's tracking ends (its status turns ``Closed``)."""
        if self.start is None:
            return self.sort_time
        return self.start + self.campaign.duration * DAY


@dataclass(slots=True, eq=False)
class CampaignRec:
    """One phishing campaign and its PST schedule."""

    name: str
    callback: bool
    groups: list[tuple[int, str]]
    all_users: bool
    target_groups: tuple[int, ...]
    hidden: bool
    send_days: int
    track_days: int
    frequency: str
    difficulty: list[int]
    created: int
    errored: bool
    open_ended: bool
    categories: list[tuple[int, str]]
    landing_page: tuple[int, str]
    base_fail: float
    id: int = 0
    no_group_ids: bool = False
    psts: list[PstRec] = field(default_factory=list)
    population: list[UserRec] | None = None
    pop_joined: list[int] = field(default_factory=list)
    pop_archived: list[int] = field(default_factory=list)

    @property
    def duration(self) -> int:
        """Calendar days a PST stays open: sending window plus tracking window."""
        return self.send_days + self.track_days


def _days_label(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


class Phishing:
    """Generates phishing campaigns and PSTs; answers counters and recipients at any instant."""

    def __init__(self, ctx: Context, people: People) -> None:
        self.ctx = ctx
        self.people = people
        self.campaigns: list[CampaignRec] = []
        self.psts: list[PstRec] = []
        self._make()
        self.campaign_by_id = {c.id: c for c in self.campaigns}
        self.pst_by_id = {p.id: p for p in self.psts}
        self._rows: OrderedDict[int, list[list[int | None]]] = OrderedDict()
        self._rows_total = 0
        self._live: dict[int, tuple[int, dict[str, int], int]] = {}
        self._results = UserResults(self)
        if ctx.odd_values:
            ids = [c.id for c in self.campaigns]
            existing = [c.id for c in self.campaigns if c.created <= ctx.now0]
            chosen = pick_some(ids, 0.25, ctx.seed, SALT_MESSY, 10, among=existing)
            for c in self.campaigns:
                c.no_group_ids = c.id in chosen

    def user_results(self, u: UserRec, now: int) -> tuple[int, int]:
        """``(failed, delivered)`` over every recipient row of ``u`` at ``now``."""
        return self._results.at(u, now)

    # ------------------------------------------------------------------ generation
    def _make(self) -> None:
        ctx = self.ctx
        r = rng(ctx.seed, SALT_PHISHING)
        n_email = ctx.sizes.phishing_campaigns
        targetable = [
            g.idx for g in self.people.groups if g.rule == RULE_STATIC and not g.archived
        ] or [g.idx for g in self.people.groups if g.rule == RULE_STATIC]
        kinds = ["main", "errored", "onetime_all"][:n_email]
        for _ in range(n_email - len(kinds)):
            roll = r.random()
            kinds.append(
                "recurring" if roll < 0.45 else "ended" if roll < 0.6
                else "onetime" if roll < 0.87 else "errored" if roll < 0.92 else "recurring_all"
            )  # fmt: skip
        specs = [(k, False, False) for k in kinds]
        n_callback = max(1, n_email // 5) if n_email >= 3 else 0
        specs += [(r.choice(("recurring", "onetime")), True, False) for _ in range(n_callback)]
        n_future = max(1, n_email // 4) if n_email >= 3 else 0
        specs += [(r.choice(("recurring", "onetime")), False, True) for _ in range(n_future)]
        name_pool = list(names.PHISHING_CAMPAIGN_NAMES)
        r.shuffle(name_pool)
        used: dict[str, int] = {}
        n_seen_future = 0
        for i, (kind, callback, future) in enumerate(specs):
            pool = names.CALLBACK_CAMPAIGN_NAMES if callback else name_pool
            base = pool[i % len(pool)]
            if kind == "errored":
                base = "test-inactive-campaign"
            used[base] = used.get(base, 0) + 1
            name = base if used[base] == 1 else f"{base} ({used[base]})"
            first_future = future and n_seen_future == 0
            n_seen_future += future
            c = self._campaign(
                r,
                kind=kind,
                callback=callback,
                future=future,
                name=name,
                first_future=first_future,
                targetable=targetable,
            )
            self.campaigns.append(c)
        self.campaigns.sort(key=lambda c: c.created)
        cid = 229_000 + r.randrange(0, 500)
        for c in self.campaigns:
            cid += r.randrange(1, 400)
            c.id = cid
            self.psts.extend(c.psts)
        self.psts.sort(key=lambda p: (p.sort_time, p.campaign.id))
        pid = 509_000 + r.randrange(0, 500)
        stride = 10 ** len(str(2 * len(self.people.users) + 10))
        for seq, p in enumerate(self.psts):
            pid += r.randrange(1, 300)
            p.seq, p.id = seq, pid
            p.recipient_base = 3_000_000 + seq * stride
        for c in self.campaigns:
            c.psts.sort(key=lambda p: p.id)

    def _campaign(
        self,
        r: random.Random,
        *,
        kind: str,
        callback: bool,
        future: bool,
        name: str,
        first_future: bool,
        targetable: list[int],
    ) -> CampaignRec:
        ctx = self.ctx
        all_users = kind in ("main", "onetime_all", "recurring_all")
        groups: list[tuple[int, str]] = [ALL_USERS] if all_users else []
        target: tuple[int, ...] = ()
        if not all_users or kind == "recurring_all":
            chosen = sorted(set(r.sample(targetable, min(len(targetable), r.randrange(1, 4)))))
            target = tuple(chosen)
            groups += [(self.people.groups[g].id, self.people.groups[g].name) for g in chosen]
        send_days = r.choice((1, 1, 3, 3, 5))
        track_days = r.choice((7, 14) if kind == "main" else (3, 3, 7, 7, 14))
        difficulty = [1, 2, 3, 4, 5]
        if r.random() < 0.4:
            difficulty = r.sample(difficulty, r.randrange(1, 5))
        cats = r.sample(names.PHISHING_CATEGORIES, r.randrange(1, 4))
        landing = names.LANDING_PAGES[0] if r.random() < 0.5 else r.choice(names.LANDING_PAGES)
        c = CampaignRec(
            name=name, callback=callback, groups=groups, all_users=all_users,
            target_groups=target, hidden=r.random() < 0.08, send_days=send_days,
            track_days=track_days, frequency="One Time", difficulty=difficulty, created=0,
            errored=kind == "errored", open_ended=False, categories=cats,
            landing_page=landing, base_fail=r.uniform(0.06, 0.28),
        )  # fmt: skip
        hour = r.randrange(8, 17) * HOUR + r.randrange(0, 60) * 60
        starts = self._schedule(
            r, c=c, kind=kind, future=future, first_future=first_future, hour=hour
        )
        for start in starts:
            errored = c.errored or (kind != "main" and len(starts) > 1 and r.random() < 0.02)
            template: tuple[int | None, str | None] = (None, None)
            if not errored and r.random() < 0.25:
                template = r.choice(names.PHISHING_TEMPLATES)
            c.psts.append(
                PstRec(
                    campaign=c, start=None if errored else start, sort_time=start, template=template
                )
            )
        first = starts[0]
        c.created = max(ctx.org_start + 60, first - r.randrange(HOUR, 14 * DAY))
        if future:
            c.created = max(c.created, ctx.now0 + 60)
            if first_future:
                c.created = min(ctx.now0 + DAY, first - HOUR)
        return c

    def _schedule(
        self,
        r: random.Random,
        *,
        c: CampaignRec,
        kind: str,
        future: bool,
        first_future: bool,
        hour: int,
    ) -> list[int]:
        """Start instants of a campaign's PSTs, oldest first, up to the horizon."""
        ctx = self.ctx
        k = ctx.sizes.psts_per_campaign
        if future:
            offset = 3 * DAY if first_future else r.randrange(3 * DAY, 120 * DAY)
            first = min(ctx.now0 + offset, ctx.horizon_end - DAY) // DAY * DAY + hour
            if kind == "onetime" and not first_future:
                return [first]
            c.frequency = "Weekly" if first_future else r.choice(("Weekly", "Monthly"))
            c.open_ended = True
            return _runs(c.frequency, first, ctx.horizon_end)
        if kind in ("onetime", "onetime_all", "errored"):
            lo, hi = ctx.org_start + 10 * DAY, ctx.now0 - 2 * HOUR
            return [lo + r.randrange(max(1, hi - lo))]
        span_days = (ctx.now0 - ctx.org_start) // DAY
        ended = kind == "ended"
        slack = r.randrange(20, 300) if ended else 0
        fitting = [
            f for f in ("Quarterly", "Monthly", "Biweekly", "Weekly")
            if (k - 1) * _period_days(f) + slack + 10 <= span_days
        ]  # fmt: skip
        if not fitting:
            fitting, slack = ["Weekly"], 0
        weights = {"Quarterly": 3, "Monthly": 5, "Biweekly": 2, "Weekly": 2}
        freq = (
            fitting[0]
            if kind == "main" and "Monthly" not in fitting
            else (
                "Monthly"
                if kind == "main"
                else r.choices(fitting, [weights[f] for f in fitting])[0]
            )
        )
        c.frequency, c.open_ended = freq, not ended
        if kind == "main":
            phase = 2 * DAY + r.randrange(0, 6 * HOUR)
        elif ended:
            phase = slack * DAY
        else:
            phase = r.randrange(HOUR, max(2 * HOUR, _period_days(freq) * DAY))
        last = ctx.now0 - phase
        if freq in ("Monthly", "Quarterly"):  # keep the day of month <= 28: no clamping later
            last -= max(0, int(ts(last)[8:10]) - 28) * DAY
        first = _step(freq, last, -(k - 1))
        while first < ctx.org_start + DAY:
            k -= 1
            first = _step(freq, last, -(k - 1))
        stop = last if ended else ctx.horizon_end
        return _runs(freq, first, stop)

    # ------------------------------------------------------------------ plans and recipients
    def _population(self, c: CampaignRec) -> list[UserRec]:
        if c.population is None:
            if c.all_users:
                pop = list(self.people.users)
            else:
                targets = set(c.target_groups)
                pop = [u for u in self.people.users if targets.intersection(u.static_groups)]
            c.population = pop
            c.pop_joined = sorted(u.joined for u in pop)
            c.pop_archived = sorted(u.archived for u in pop if u.archived is not None)
        return c.population

    def plan(self, p: PstRec) -> PstPlan:
        """Final recipient count and counters of a PST (cheap; no recipients are built)."""
        if p.plan is not None:
            return p.plan
        c = p.campaign
        if p.start is None:
            p.plan = PstPlan(0, {name: 0 for name, _ in COUNTER_FIELDS}, 0)
            return p.plan
        self._population(c)
        t = p.start
        n = bisect.bisect_right(c.pop_joined, t) - bisect.bisect_right(c.pop_archived, t)
        r = rng(self.ctx.seed, SALT_PST_PLAN, p.id)
        progress = min(1.0, max(0.0, (t - self.ctx.org_start) / max(1, self.ctx.span)))
        p_fail = c.base_fail * (1.0 - 0.55 * progress) * r.uniform(0.7, 1.3)
        bounced = binomial(r, n, 0.012)
        delivered = n - bounced
        failures = binomial(r, delivered, p_fail)
        clicked = binomial(r, failures, 0.72)
        rest = failures - clicked
        attach = binomial(r, rest, 0.45)
        rest -= attach
        replied = binomial(r, rest, 0.6)
        qr = rest - replied
        extra_open = binomial(r, delivered - failures, 0.4)
        counts = {
            "delivered_count": delivered,
            "opened_count": failures + extra_open,
            "clicked_count": clicked,
            "replied_count": replied,
            "attachment_open_count": attach,
            "macro_enabled_count": binomial(r, attach, 0.35),
            "data_entered_count": binomial(r, clicked, 0.2),
            "qr_code_scanned_count": qr,
            "reported_count": binomial(r, delivered, 0.18 + 0.12 * progress),
            "bounced_count": bounced,
        }
        p.plan = PstPlan(n, counts, failures)
        return p.plan

    def rows(self, p: PstRec) -> list[list[int | None]]:
        """Materialized recipient rows of a PST (cached, bounded), ordered by recipient id."""
        cached = self._rows.get(p.id)
        if cached is not None:
            self._rows.move_to_end(p.id)
            return cached
        rows = self._materialize(p)
        self._rows[p.id] = rows
        self._rows_total += len(rows)
        while self._rows_total > RECIPIENT_CACHE_ROWS and len(self._rows) > 1:
            _, old = self._rows.popitem(last=False)
            self._rows_total -= len(old)
        return rows

    def _materialize(self, p: PstRec) -> list[list[int | None]]:
        if p.start is None:
            return []
        plan = self.plan(p)
        c = p.campaign
        t0 = p.start
        recipients = [u.idx for u in self._population(c) if u.active(t0)]
        n = len(recipients)
        if n != plan.n:  # pragma: no cover - guarded by construction
            raise AssertionError(f"PST {p.id}: plan says {plan.n} recipients, found {n}")
        k = plan.counts
        r = rng(self.ctx.seed, SALT_RECIPIENTS, p.id)
        bounced = set(r.sample(range(n), k["bounced_count"]))
        delivered = [i for i in range(n) if i not in bounced]
        fails = r.sample(delivered, plan.failures)
        c_n, a_n, rep_n = k["clicked_count"], k["attachment_open_count"], k["replied_count"]
        clicked = fails[:c_n]
        attach = fails[c_n : c_n + a_n]
        replied = set(fails[c_n + a_n : c_n + a_n + rep_n])
        qr = set(fails[c_n + a_n + rep_n :])
        fail_set = set(fails)
        others = [i for i in delivered if i not in fail_set]
        opened = fail_set | set(r.sample(others, k["opened_count"] - plan.failures))
        data = set(clicked[: k["data_entered_count"]])
        macro = set(attach[: k["macro_enabled_count"]])
        clicked_set, attach_set = set(clicked), set(attach)
        reported = set(r.sample(delivered, k["reported_count"]))
        send, track = c.send_days * DAY, c.track_days * DAY
        fixed_template = p.template[0] is not None
        n_templates = len(names.PHISHING_TEMPLATES)
        rows: list[list[int | None]] = []
        for i in range(n):
            sched = t0 + r.randrange(send)
            limit = sched + track - 60

            def later(t: int, mean: float, limit: int = limit) -> int:
                return min(t + 1 + int(r.expovariate(1.0 / mean)), limit)

            row: list[int | None] = [recipients[i], 0, sched] + [None] * 11
            row[R_TEMPLATE] = 0 if fixed_template else r.randrange(n_templates)
            if i in bounced:
                row[R_BOUNCE] = sched + r.randrange(5, 300)
                rows.append(row)
                continue
            deliv = sched + r.randrange(1, 120)
            row[R_DELIV] = deliv
            if i in opened:
                t_open = later(deliv, 6 * HOUR)
                row[R_OPEN] = t_open
                row[R_CLIENT] = r.getrandbits(30) | 1
                if i in clicked_set:
                    row[R_CLICK] = t_click = later(t_open, 120)
                    if i in data:
                        row[R_DATA] = later(t_click, 60)
                if i in attach_set:
                    row[R_ATTACH] = t_attach = later(t_open, 300)
                    if i in macro:
                        row[R_MACRO] = later(t_attach, 30)
                if i in replied:
                    row[R_REPLY] = later(t_open, 1800)
                if i in qr:
                    row[R_QR] = later(t_open, 600)
            if i in reported:
                row[R_REPORT] = later(row[R_OPEN] or deliv, 2 * HOUR)
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ state at an instant
    def counters(self, p: PstRec, now: int) -> tuple[PstPlan, dict[str, int], int]:
        """(plan, visible counters, visible failures) of a PST at ``now``."""
        plan = self.plan(p)
        if p.start is None or now >= p.close:
            return plan, plan.counts, plan.failures
        live = self._live.get(p.id)
        if live is not None and live[0] == now:
            return plan, live[1], live[2]
        totals = [0] * len(COUNTER_FIELDS)
        failures = 0
        for row in self.rows(p):
            for j, (_name, col) in enumerate(COUNTER_FIELDS):
                v = row[col]
                if v is not None and v <= now:
                    totals[j] += 1
            for col in FAILURE_EVENTS:
                v = row[col]
                if v is not None and v <= now:
                    failures += 1
                    break
        counts = {name: totals[j] for j, (name, _col) in enumerate(COUNTER_FIELDS)}
        self._live[p.id] = (now, counts, failures)
        return plan, counts, failures

    def status(self, p: PstRec, now: int) -> str:
        """``Error``, ``Open`` or ``Closed``."""
        if p.start is None:
            return "Error"
        return "Open" if now < p.close else "Closed"

    def ppp(self, p: PstRec, now: int) -> float:
        """PST phish-prone percentage as a fraction 0-1 at ``now`` (module docstring)."""
        plan, counts, failures = self.counters(p, now)
        base = counts["delivered_count"] if self.ctx.coherent_numbers else plan.n
        return round(failures / base, 3) if base else 0.0

    def groups(self, c: CampaignRec) -> list[dict[str, object]]:
        """The ``groups`` array of a campaign (and of its PSTs)."""
        if c.no_group_ids:
            return [{"name": name} for _gid, name in c.groups]
        return [{"group_id": gid, "name": name} for gid, name in c.groups]

    def visible_psts(self, c: CampaignRec, now: int) -> list[PstRec]:
        """PSTs of a campaign that exist at ``now`` (ascending id)."""
        return [p for p in c.psts if p.sort_time <= now]

    def campaign_status(self, c: CampaignRec, now: int, visible: list[PstRec]) -> str:
        """``Error``, ``Created``, ``Active`` or ``Closed``."""
        if c.errored:
            return "Error"
        if not visible:
            return "Created"
        if c.open_ended or len(visible) < len(c.psts):
            return "Active"
        return "Active" if any(now < p.close for p in visible) else "Closed"

    # ------------------------------------------------------------------ API shapes
    def campaign_dict(self, c: CampaignRec, now: int) -> dict[str, object]:
        """A campaign exactly as ``/v1/phishing/campaigns/{id}`` returns it."""
        visible = self.visible_psts(c, now)
        ran = [p for p in visible if p.start is not None]
        last = ran[-1] if ran else None
        return {
            "campaign_id": c.id,
            "name": c.name,
            "groups": self.groups(c),
            "last_phish_prone_percentage": self.ppp(last, now) if last else 0.0,
            "last_run": ts(last.start) if last and last.start is not None else None,
            "status": self.campaign_status(c, now, visible),
            "hidden": c.hidden,
            "send_duration": _days_label(c.send_days, "Business Day"),
            "track_duration": _days_label(c.track_days, "Day"),
            "frequency": c.frequency,
            "difficulty_filter": list(c.difficulty),
            "create_date": ts(c.created),
            "psts_count": len(visible),
            "psts": [
                {
                    "pst_id": p.id,
                    "status": self.status(p, now),
                    "start_date": None if p.start is None else ts(p.start),
                    "users_count": None if p.start is None else self.plan(p).n,
                    "phish_prone_percentage": self.ppp(p, now),
                }
                for p in visible
            ],
        }

    def pst_dict(self, p: PstRec, now: int, hyphen: bool = False) -> dict[str, object]:
        """A PST exactly as ``/v1/phishing/security_tests/{id}`` returns it."""
        c = p.campaign
        plan, counts, _failures = self.counters(p, now)
        out: dict[str, object] = {
            "campaign_id": c.id,
            "pst_id": p.id,
            "status": self.status(p, now),
            "name": c.name,
            "groups": self.groups(c),
            "phish_prone_percentage": self.ppp(p, now),
            "started_at": None if p.start is None else ts(p.start),
            "duration": c.duration,
            "categories": [{"category_id": cid, "name": name} for cid, name in c.categories],
            "template": {"id": p.template[0], "name": p.template[1]},
            "landing-page" if hyphen else "landing_page": {
                "id": c.landing_page[0],
                "name": c.landing_page[1],
            },
            "scheduled_count": None if p.start is None else plan.n,
        }
        out.update(counts)
        return out

    def recipient_dict(
        self, p: PstRec, i: int, row: list[int | None], now: int
    ) -> dict[str, object]:
        """Recipient ``i`` of a PST exactly as the recipients endpoint returns it."""
        u = self.people.users[cast(int, row[R_USER])]
        if p.template[0] is not None:
            template = {"id": p.template[0], "name": p.template[1]}
        else:
            tid, tname = names.PHISHING_TEMPLATES[cast(int, row[R_TEMPLATE])]
            template = {"id": tid, "name": tname}

        def seen(col: int) -> str | None:
            v = row[col]
            return ts(v) if v is not None and v <= now else None

        opened = seen(R_OPEN)
        client = row[R_CLIENT] or 0
        browser, versions = names.BROWSERS[client % len(names.BROWSERS)]
        return {
            "recipient_id": p.recipient_base + i + 1,
            "pst_id": p.id,
            "user": self.people.user_stub(u, now),
            "template": template,
            "scheduled_at": ts(cast(int, row[R_SCHED])),
            "delivered_at": seen(R_DELIV),
            "opened_at": opened,
            "clicked_at": seen(R_CLICK),
            "replied_at": seen(R_REPLY),
            "attachment_opened_at": seen(R_ATTACH),
            "macro_enabled_at": seen(R_MACRO),
            "data_entered_at": seen(R_DATA),
            "qr_code_scanned": seen(R_QR),
            "reported_at": seen(R_REPORT),
            "bounced_at": seen(R_BOUNCE),
            "ip": _ip(client) if opened else None,
            "ip_location": names.LOCATIONS[u.location][1] if opened else None,
            "browser": browser if opened else None,
            "browser_version": versions[(client >> 4) % len(versions)] if opened else None,
            "os": names.OPERATING_SYSTEMS[(client >> 8) % len(names.OPERATING_SYSTEMS)]
            if opened
            else None,
        }


class UserResults:
    """Per-user delivery and failure instants over every PST, for coherent phish-prone numbers.

    PSTs are folded in, in start order, as the clock reaches them (each PST's rows are
    materialized once for this, without entering the recipient cache).
    """

    def __init__(self, phishing: Phishing) -> None:
        self.phishing = phishing
        n = len(phishing.people.users)
        self._delivered: list[list[int]] = [[] for _ in range(n)]
        self._failed: list[list[int]] = [[] for _ in range(n)]
        self._folded = 0
        self._dirty: set[int] = set()

    def _fold(self, now: int) -> None:
        psts = self.phishing.psts
        while self._folded < len(psts) and psts[self._folded].sort_time <= now:
            p = psts[self._folded]
            self._folded += 1
            rows = self.phishing._rows.get(p.id)
            for row in rows if rows is not None else self.phishing._materialize(p):
                deliv = row[R_DELIV]
                if deliv is None:
                    continue
                idx = cast(int, row[R_USER])
                self._delivered[idx].append(deliv)
                times = [t for col in FAILURE_EVENTS if (t := row[col]) is not None]
                if times:
                    self._failed[idx].append(min(times))
                self._dirty.add(idx)

    def at(self, u: UserRec, now: int) -> tuple[int, int]:
        """``(failed, delivered)`` of ``u`` at ``now``."""
        self._fold(now)
        idx = u.idx
        if idx in self._dirty:
            self._delivered[idx].sort()
            self._failed[idx].sort()
            self._dirty.discard(idx)
        delivered = bisect.bisect_right(self._delivered[idx], now)
        return bisect.bisect_right(self._failed[idx], now), delivered


def _ip(client: int) -> str:
    prefix = ("198.51.100", "203.0.113", "192.0.2")[(client >> 12) % 3]
    return f"{prefix}.{(client >> 14) % 254 + 1}"


def _runs(freq: str, first: int, stop: int) -> list[int]:
    """Every run from ``first`` on, one period apart, up to ``stop`` (at least one run)."""
    runs = [first]
    while (t := _step(freq, first, len(runs))) <= stop:
        runs.append(t)
    return runs


def _period_days(freq: str) -> int:
    return {"Weekly": 7, "Biweekly": 14, "Monthly": 31, "Quarterly": 92}[freq]


def _step(freq: str, t: int, count: int) -> int:
    """Move ``t`` by ``count`` periods of the frequency (calendar months for monthly ones)."""
    if freq == "Monthly":
        return add_months(t, count)
    if freq == "Quarterly":
        return add_months(t, 3 * count)
    return t + count * (7 if freq == "Weekly" else 14) * DAY
