"""Users and groups of the synthetic organization, and their API shapes at a given instant.

Time model: a user is invisible before ``joined``; ``archived`` (if set) turns the status to
``archived`` (archived users leave every group and report ``groups: null``); ``deleted`` (if set)
removes the user from the API entirely (``/v1/users`` stops listing it, by-id calls answer 404).
Group membership is static per user, except the smart group "New Hires" (active users who joined
in the last 90 days).

Deleted users: without ``deleted_users`` ``users // 100`` users were deleted long before the start
clock, and some users archived later are deleted 30-120 days after their archival. With it,
``max(2, users // 50)`` users were deleted in the 150 days before the start clock (instead of the
``users // 100``), and ``max(2, users // 40)`` users are deleted straight from active over the 90
days after it, the first within two days. Their recipients and enrollments
stay. Without ``broken_refs`` those show ``user: null``; with it, deleted users alternate (in
order of deletion, then id): the 1st, 3rd, ... deleted user is *scrubbed* (``user: null``), the
2nd, 4th, ... leaves a *dangling* stub naming an id that ``/v1/users`` no longer lists.

Phish-prone percentage of a user (``phish_prone_percentage``, 0-100): without
``coherent_numbers`` a fixed per-user number (``null`` in the first 30 days); with it,
``round(100 * failed / delivered, 3)`` over every recipient row of the user (email and callback
PSTs) whose ``delivered_at`` is on or before the clock, where ``failed`` counts the rows with any
of ``clicked_at``, ``replied_at``, ``attachment_opened_at``, ``macro_enabled_at``,
``data_entered_at``, ``qr_code_scanned`` on or before the clock; ``null`` while the user has no
delivered test. ``odd_values`` sends whole numbers as JSON integers (``0``, ``50``, ``100``).
"""

from __future__ import annotations

import bisect
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tap_knowbe4.sandbox import names
from tap_knowbe4.sandbox.context import Context, slug
from tap_knowbe4.sandbox.rand import (
    SALT_DELETIONS,
    SALT_GROUPS,
    SALT_MESSY,
    SALT_USER_PPP,
    SALT_USERS,
    rng,
    unit,
    weighted_index,
)
from tap_knowbe4.sandbox.risk import KIND_GROUP, KIND_USER, RiskModel
from tap_knowbe4.sandbox.times import DAY, date_str, opt_ts, ts

NEW_HIRE_SECONDS = 90 * DAY
SIGNIN_OFFSET_SPAN = 12 * 3600
RULE_STATIC = "static"
RULE_NEW_HIRES = "new_hires"
RULE_EMPTY = "empty"
DIRECT_DELETION_DAYS = 90


@dataclass(slots=True, eq=False)
class GroupRec:
    """One group. ``rule`` says how membership is decided (static, new hires, always empty)."""

    idx: int
    id: int
    name: str
    group_type: str
    guid: str | None
    archived: bool
    rule: str
    division: int = -1
    department: str | None = None
    location: int = -1


@dataclass(slots=True, eq=False)
class UserRec:
    """One user with every attribute the API shows and the instants that drive its lifecycle."""

    idx: int
    id: int
    first_name: str
    last_name: str
    email: str
    joined: int
    archived: int | None
    deleted: int | None
    division: int
    department: str
    location: int
    employee_number: str | None = None
    job_title: str | None = None
    managerial: bool = False
    phone: str | None = None
    extension: str | None = None
    mobile: str | None = None
    manager_name: str | None = None
    manager_email: str | None = None
    provisioning_managed: bool = False
    guid: str | None = None
    static_groups: tuple[int, ...] = ()
    aliases: list[str] | None = field(default_factory=list)
    organization: str | None = None
    language: str = names.LANGUAGES[0]
    comment: str | None = None
    employee_start: int | None = None
    custom_fields: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None)
    custom_date_1: str | None = None
    custom_date_2: str | None = None
    signin_period: int = 0
    signin_offset: int = 0
    dangling: bool = False
    int_employee_number: bool = False
    no_groups_key: bool = False

    def visible(self, now: int) -> bool:
        """True when the API lists this user at ``now`` (joined and not deleted)."""
        return self.joined <= now and (self.deleted is None or self.deleted > now)

    def active(self, now: int) -> bool:
        """True when the user is joined and not archived at ``now``."""
        return self.joined <= now and (self.archived is None or self.archived > now)


def _uuid(r: random.Random) -> str:
    return str(uuid.UUID(int=r.getrandbits(128), version=4))


class People:
    """Generates and answers for users and groups."""

    def __init__(self, ctx: Context, risk: RiskModel) -> None:
        self.ctx = ctx
        self.risk = risk
        self.groups: list[GroupRec] = self._make_groups()
        self.group_by_id = {g.id: g for g in self.groups}
        self.new_hires = next((g for g in self.groups if g.rule == RULE_NEW_HIRES), None)
        self.users: list[UserRec] = self._make_users()
        if ctx.deleted_users:
            self._delete_directly()
        if ctx.broken_refs:
            self._mark_dangling()
        if ctx.odd_values:
            self._mark_odd()
        self.user_by_id = {u.id: u for u in self.users}
        self._joined = [u.joined for u in self.users]
        #: ``(failed, delivered)`` phishing results of a user at an instant (coherent numbers).
        self.results: Callable[[UserRec, int], tuple[int, int]] | None = None

    # ------------------------------------------------------------------ generation: groups
    def _make_groups(self) -> list[GroupRec]:
        ctx = self.ctx
        r = rng(ctx.seed, SALT_GROUPS)
        by_weight = sorted(range(len(names.DIVISIONS)), key=lambda i: -names.DIVISION_WEIGHTS[i])
        loc_order = sorted(range(len(names.LOCATIONS)), key=lambda i: -names.LOCATION_WEIGHTS[i])
        prov, console, smart = "provisioning_managed_group", "console_group", "smart_group"
        specs: list[GroupRec] = []

        def add(name: str, gtype: str, **extra: Any) -> None:
            extra.setdefault("rule", RULE_STATIC)
            extra.setdefault("archived", False)
            specs.append(
                GroupRec(idx=len(specs), id=0, name=name, group_type=gtype, guid=None, **extra)
            )

        for d in by_weight[:3]:
            add(names.DIVISIONS[d][0], prov, division=d)
        add("Managers", smart)
        add("New Hires", smart, rule=RULE_NEW_HIRES)
        add("Former Contractors", console, archived=True)
        add("Test Group", console, rule=RULE_EMPTY)
        for i in loc_order[:3]:
            add(names.LOCATIONS[i][0], console, location=i)
        for d in by_weight[3:]:
            add(names.DIVISIONS[d][0], prov, division=d)
        for i in loc_order[3:]:
            add(names.LOCATIONS[i][0], console, location=i)
        misc_start = len(specs)
        for name in names.MISC_GROUPS:
            add(name, console)
        misc_end = len(specs)
        for d, (div, deps, _titles) in enumerate(names.DIVISIONS):
            for dep in deps:
                add(f"{div} - {dep}", prov, division=d, department=dep)
        n_words = len(names.PROJECT_WORDS)
        n = 0
        while len(specs) < ctx.sizes.groups:
            suffix = f" {n // n_words + 1}" if n >= n_words else ""
            add(f"Project {names.PROJECT_WORDS[n % n_words]}{suffix}", console)
            n += 1
        groups = specs[: ctx.sizes.groups]
        misc = [
            g for g in groups if misc_start <= g.idx < misc_end or g.name.startswith("Project ")
        ]
        for g in misc[len(misc) - len(groups) // 40 :] if len(groups) >= 40 else []:
            g.archived = True
        gid = 3100 + r.randrange(0, 60)
        for g in groups:
            gid += r.randrange(1, 9)
            g.id = gid
            if g.group_type == prov:
                g.guid = _uuid(r)
        return groups

    # ------------------------------------------------------------------ generation: users
    def _join_times(self) -> list[tuple[int, int | None, int | None]]:
        """(joined, archived, deleted) for every user ever, unsorted."""
        ctx = self.ctx
        r = rng(ctx.seed, SALT_USERS, 1)
        n0 = ctx.sizes.users
        start, now0, end = ctx.org_start, ctx.now0, ctx.horizon_end
        span = now0 - start
        mean_tenure = 10 * 365 * DAY
        out: list[tuple[int, int | None, int | None]] = []
        for _ in range(n0):
            if r.random() < 0.8:
                joined = start + DAY + r.randrange(14 * DAY)
            else:
                joined = start + 15 * DAY + r.randrange(max(1, span - 15 * DAY - 60))
            out.append((joined, *self._leave(r, joined, mean_tenure)))
        if ctx.deleted_users:  # recently deleted: they still have recipients and enrollments
            for _ in range(max(2, n0 // 50)):
                joined = start + DAY + r.randrange(max(1, int(span * 0.6)))
                deleted = max(now0 - DAY - r.randrange(150 * DAY), joined + 30 * DAY)
                archived = max(joined + DAY, deleted - r.randrange(90) * DAY)
                out.append((joined, archived, deleted))
        for _ in range(n0 // 100 if n0 >= 10 and not ctx.deleted_users else 0):
            joined = start + DAY + r.randrange(max(1, int(span * 0.6)))
            archived = joined + (30 + r.randrange(170)) * DAY
            deleted = min(archived + (20 + r.randrange(100)) * DAY, now0 - DAY)
            archived = min(archived, deleted - DAY)
            out.append((joined, archived, deleted))
        n_future = round(n0 * 0.12 * (end - now0) / (365 * DAY))
        for _ in range(n_future):
            joined = now0 + 1 + r.randrange(max(1, end - now0))
            out.append((joined, *self._leave(r, joined, mean_tenure)))
        return out

    def _leave(self, r: random.Random, joined: int, mean: int) -> tuple[int | None, int | None]:
        """Archive a user after an exponential tenure (and sometimes delete later archivals)."""
        archived = joined + DAY + int(r.expovariate(1.0 / mean))
        if archived >= self.ctx.horizon_end:
            return None, None
        deleted = None
        if archived > self.ctx.now0 and r.random() < 0.3:
            deleted = archived + (30 + r.randrange(90)) * DAY
            if deleted >= self.ctx.horizon_end:
                deleted = None
        return archived, deleted

    def _make_users(self) -> list[UserRec]:
        ctx = self.ctx
        r = rng(ctx.seed, SALT_USERS, 2)
        lifecycles = sorted(self._join_times(), key=lambda life: life[0])
        used_locals: dict[str, int] = {}
        managers: dict[int, list[UserRec]] = {}
        by_division = {
            g.division: g.idx for g in self.groups if g.division >= 0 and not g.department
        }
        by_department = {g.department: g.idx for g in self.groups if g.department}
        by_location = {g.location: g.idx for g in self.groups if g.location >= 0}
        managers_group = next((g.idx for g in self.groups if g.name == "Managers"), None)
        misc = [g.idx for g in self.groups if g.rule == RULE_STATIC and g.division < 0
                and g.location < 0 and g.name != "Managers"]  # fmt: skip
        users: list[UserRec] = []
        uid = 79_000_000 + r.randrange(0, 40_000)
        for idx, (joined, left, gone) in enumerate(lifecycles):
            uid += r.randrange(1, 8)
            archived, deleted = (None, None) if idx < 3 else (left, gone)  # admins stay
            first = r.choice(names.FIRST_NAMES)
            last = r.choice(names.LAST_NAMES)
            local = f"{slug(first)}.{slug(last)}"
            count = used_locals.get(local, 0)
            used_locals[local] = count + 1
            if count:
                local = f"{local}{count + 1}"
            division = weighted_index(r, names.DIVISION_WEIGHTS)
            div_name, departments, titles = names.DIVISIONS[division]
            department = r.choice(departments)
            location = weighted_index(r, names.LOCATION_WEIGHTS)
            u = UserRec(
                idx=idx, id=uid, first_name=first, last_name=last,
                email=f"{local}@{ctx.domain}", joined=joined, archived=archived, deleted=deleted,
                division=division, department=department, location=location,
            )  # fmt: skip
            roll = r.random()
            if roll < 0.03:
                u.job_title, u.managerial = titles[0], True
            elif roll < 0.15:
                u.job_title, u.managerial = titles[1], True
            elif roll < 0.95:
                u.job_title = r.choice(titles[2:])
            boss = managers.get(division)
            if boss and r.random() < 0.9:
                m = r.choice(boss)
                u.manager_name, u.manager_email = f"{m.first_name} {m.last_name}", m.email
            if u.managerial:
                managers.setdefault(division, []).append(u)
            if r.random() < 0.9:
                u.employee_number = f"E{10000 + idx}" if r.random() < 0.6 else str(19000 + idx)
            if r.random() < 0.92:
                u.phone = f"555-{r.randrange(200, 999)}-{r.randrange(0, 10000):04d}"
                if r.random() < 0.5:
                    u.extension = u.phone[-4:]
            if r.random() < 0.45:
                u.mobile = f"555-{r.randrange(200, 999)}-{r.randrange(0, 10000):04d}"
            u.provisioning_managed = r.random() < 0.7
            if u.provisioning_managed:
                u.guid = _uuid(r)
            groups: set[int] = {by_location[location]} if location in by_location else set()
            if u.provisioning_managed and division in by_division:
                groups.add(by_division[division])
            if u.provisioning_managed and department in by_department:
                groups.add(by_department[department])
            if u.managerial and managers_group is not None:
                groups.add(managers_group)
            if misc and r.random() < 0.3:
                groups.add(r.choice(misc))
                if r.random() < 0.15:
                    groups.add(r.choice(misc))
            u.static_groups = tuple(sorted(groups, key=lambda gi: self.groups[gi].id))
            alias_roll = r.random()
            if alias_roll < 0.02:
                u.aliases = None
            elif alias_roll < 0.12:
                u.aliases = [f"{slug(first)[:1]}.{slug(last)}@{ctx.domain}"]
            u.organization = ctx.account_name if r.random() < 0.85 else None
            u.language = names.LANGUAGES[weighted_index(r, names.LANGUAGE_WEIGHTS)]
            if r.random() < 0.08:
                u.comment = r.choice(names.COMMENTS)
            if r.random() < 0.8:
                u.employee_start = (joined - r.randrange(0, 400) * DAY) // DAY * DAY
            cf1 = (
                f"{r.choice(names.BUILDINGS)}, Floor {r.randrange(1, 9)}"
                if r.random() < 0.5
                else None
            )
            cf2 = div_name if r.random() < 0.2 else None
            cf3 = f"CC-{r.randrange(1000, 9999)}" if r.random() < 0.1 else None
            u.custom_fields = (cf1, cf2, cf3, None)
            if r.random() < 0.6:
                u.custom_date_1 = date_str(joined - r.randrange(20 * 365, 60 * 365) * DAY)
            if r.random() < 0.05:
                u.custom_date_2 = date_str(joined + r.randrange(180, 900) * DAY)
            if r.random() < 0.8:
                u.signin_period = r.randrange(1, 45) * DAY + r.randrange(0, DAY)
                u.signin_offset = r.randrange(SIGNIN_OFFSET_SPAN)
            users.append(u)
        return users

    # ------------------------------------------------------------------ generation: messy data
    def _delete_directly(self) -> None:
        """Delete some active users outright over the 90 days after the start clock."""
        ctx = self.ctx
        r = rng(ctx.seed, SALT_DELETIONS)
        now0 = ctx.now0
        candidates = [
            u for u in self.users[3:]
            if u.joined <= now0 and u.deleted is None
            and (u.archived is None or u.archived > now0 + DIRECT_DELETION_DAYS * DAY)
        ]  # fmt: skip
        k = min(len(candidates), max(2, ctx.sizes.users // 40))
        chosen = r.sample(candidates, k)
        for i, u in enumerate(chosen):
            if i == 0:
                t = now0 + DAY + r.randrange(DAY // 2)
            else:
                t = now0 + 2 * DAY + r.randrange((DIRECT_DELETION_DAYS - 2) * DAY)
            u.archived = u.deleted = t

    def _mark_dangling(self) -> None:
        """Every other deleted user (by deletion instant, then id) leaves dangling stubs."""
        gone = sorted(
            (u for u in self.users if u.deleted is not None),
            key=lambda u: (u.deleted or 0, u.id),
        )
        for rank, u in enumerate(gone):
            u.dangling = rank % 2 == 1

    def _mark_odd(self) -> None:
        """Integer employee numbers for some users; no ``groups`` key for some group-less ones."""
        seed = self.ctx.seed
        for u in self.users:
            number = u.employee_number
            if number is not None and number.isdigit():
                u.int_employee_number = unit(seed, SALT_MESSY, 1, u.id) < 0.35
            u.no_groups_key = unit(seed, SALT_MESSY, 2, u.id) < 0.5

    # ------------------------------------------------------------------ queries
    def group_ids_at(self, u: UserRec, now: int) -> list[int] | None:
        """The ``groups`` field of a user at ``now`` (``None`` once archived)."""
        if not u.active(now):
            return None
        ids = [self.groups[gi].id for gi in u.static_groups]
        nh = self.new_hires
        if nh is not None and now - u.joined < NEW_HIRE_SECONDS:
            bisect.insort(ids, nh.id)
        return ids

    def in_group(self, u: UserRec, g: GroupRec, now: int) -> bool:
        """True when ``u`` is a member of ``g`` at ``now``."""
        if not u.active(now) or g.rule == RULE_EMPTY:
            return False
        if g.rule == RULE_NEW_HIRES:
            return now - u.joined < NEW_HIRE_SECONDS
        return g.idx in u.static_groups

    def member_counts(self, now: int) -> list[int]:
        """``member_count`` of every group (by index) at ``now``."""
        counts = [0] * len(self.groups)
        nh = self.new_hires
        for u in self.users:
            if u.joined > now:
                break
            if not u.active(now):
                continue
            for gi in u.static_groups:
                counts[gi] += 1
            if nh is not None and now - u.joined < NEW_HIRE_SECONDS:
                counts[nh.idx] += 1
        return counts

    def visible_users(self, now: int) -> list[UserRec]:
        """Users the API lists at ``now``, ascending id."""
        end = bisect.bisect_right(self._joined, now)
        return [u for u in self.users[:end] if u.deleted is None or u.deleted > now]

    def last_sign_in(self, u: UserRec, now: int) -> int | None:
        """Latest sign-in on or before ``now`` (and before archival), if the user ever signed in."""
        if not u.signin_period:
            return None
        bound = now if u.archived is None else min(now, u.archived)
        first = u.joined + u.signin_offset
        if first > bound:
            return None
        return first + (bound - first) // u.signin_period * u.signin_period

    def phish_prone(self, u: UserRec, now: int) -> float | int | None:
        """User phish-prone percentage (0-100) at ``now`` (see the module docstring)."""
        if self.results is not None:
            failed, delivered = self.results(u, now)
            if not delivered:
                return None
            value = round(100.0 * failed / delivered, 3)
        else:
            if now - u.joined < 30 * DAY:
                return None
            x = unit(self.ctx.seed, SALT_USER_PPP, u.id)
            value = round(60.0 * x * x, 3)
        if self.ctx.odd_values and value.is_integer():
            return int(value)
        return value

    def user_risk(self, u: UserRec, now: int) -> float:
        """The user's current risk score at ``now``."""
        last = now if u.archived is None else min(now, u.archived)
        return self.risk.current(KIND_USER, u.id, u.joined // DAY, last // DAY)

    def group_risk(self, g: GroupRec, now: int, members: int) -> float:
        """The group's current risk score (``0.0`` when it has no members)."""
        if members == 0:
            return 0.0
        return self.risk.current(KIND_GROUP, g.id, self.ctx.org_start // DAY, now // DAY)

    # ------------------------------------------------------------------ API shapes
    def group_dict(self, g: GroupRec, now: int, members: int) -> dict[str, object]:
        """A group exactly as ``/v1/groups/{id}`` returns it."""
        return {
            "id": g.id,
            "name": g.name,
            "group_type": g.group_type,
            "provisioning_guid": g.guid,
            "member_count": members,
            "current_risk_score": self.group_risk(g, now, members),
            "status": "archived" if g.archived else "active",
        }

    def user_dict(
        self, u: UserRec, now: int, expand_counts: list[int] | None = None
    ) -> dict[str, object]:
        """A user exactly as ``/v1/users/{id}`` returns it (``expand_counts``: expand groups)."""
        archived = u.archived is not None and u.archived <= now
        group_ids = self.group_ids_at(u, now)
        groups: list[Any] | None = list(group_ids) if group_ids is not None else None
        if group_ids is not None and expand_counts is not None:
            groups = [
                self.group_dict(
                    self.group_by_id[gid], now, expand_counts[self.group_by_id[gid].idx]
                )
                for gid in group_ids
            ]
        cf = u.custom_fields
        out: dict[str, object] = {
            "id": u.id,
            "employee_number": self.employee_number(u, u.int_employee_number),
            "first_name": u.first_name,
            "last_name": u.last_name,
            "job_title": u.job_title,
            "email": u.email,
            "phish_prone_percentage": self.phish_prone(u, now),
            "phone_number": u.phone,
            "extension": u.extension,
            "mobile_phone_number": u.mobile,
            "location": names.LOCATIONS[u.location][0],
            "division": names.DIVISIONS[u.division][0],
            "manager_name": u.manager_name,
            "manager_email": u.manager_email,
            "provisioning_managed": u.provisioning_managed,
            "provisioning_guid": u.guid,
            "groups": groups,
            "current_risk_score": self.user_risk(u, now),
            "aliases": None if u.aliases is None else list(u.aliases),
            "joined_on": ts(u.joined),
            "last_sign_in": opt_ts(self.last_sign_in(u, now)),
            "status": "archived" if archived else "active",
            "organization": u.organization,
            "department": u.department,
            "language": u.language,
            "comment": u.comment,
            "employee_start_date": opt_ts(u.employee_start),
            "archived_at": ts(u.archived) if archived and u.archived is not None else None,
            "custom_field_1": cf[0],
            "custom_field_2": cf[1],
            "custom_field_3": cf[2],
            "custom_field_4": cf[3],
            "custom_date_1": u.custom_date_1,
            "custom_date_2": u.custom_date_2,
        }
        if u.no_groups_key and not groups:
            del out["groups"]
        return out

    @staticmethod
    def employee_number(u: UserRec, as_int: bool) -> str | int | None:
        """The employee number, as an integer when ``as_int`` and it is all digits."""
        number = u.employee_number
        if as_int and number is not None and number.isdigit():
            return int(number)
        return number

    def gone(self, u: UserRec, now: int) -> bool:
        """True once the user was deleted (no longer listed by ``/v1/users``)."""
        return u.deleted is not None and u.deleted <= now

    def shows_null(self, u: UserRec, now: int) -> bool:
        """True when records naming ``u`` show ``user: null`` (deleted, not dangling)."""
        return self.gone(u, now) and not u.dangling

    def user_stub(self, u: UserRec, now: int) -> dict[str, object] | None:
        """The small user object inside a recipient (``None`` once deleted, unless dangling)."""
        if self.shows_null(u, now):
            return None
        return {
            "id": u.id,
            "provisioning_guid": u.guid,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "email": u.email,
        }
