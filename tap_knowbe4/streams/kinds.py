"""Stream classes for the endpoints whose behaviour differs from a plain list."""

from __future__ import annotations

import datetime as dt
import re
import typing as t
import zlib

from tap_knowbe4.fanout import KnowBe4Stream
from tap_knowbe4.outcome import Outcome
from tap_knowbe4.records import EXTRA_FIELDS
from tap_knowbe4.state import parse_instant, plausible_date, utcnow
from tap_knowbe4.streams import normalize

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: The API's default risk-history window is six months; a bookmark younger than this is
#: safely inside it (a margin for clock differences between here and the server).
RISK_WINDOW_SAFE = dt.timedelta(days=150)
#: A risk point's day as the bookmark and ``start_date`` are written: only such text is
#: compared with them (``10/30/2026`` sorts before ``2026-10-29`` as text).
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class ListStream(KnowBe4Stream):
    """A paginated list endpoint; records are normalized by ``reshape``."""

    reshape: t.ClassVar[t.Any] = None  # a staticmethod: dict -> dict

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Apply the endpoint's reshaping function, if any."""
        reshape = type(self).reshape
        return reshape(record) if reshape is not None else record


class AccountStream(ListStream):
    """``/v1/account``; its ``number_of_seats`` sets the daily budget (2,000 + seats)."""

    paginated = False

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Tell the run's budget how many seats the account has."""
        self.observe_for_plan([record])
        return record

    def observe_for_plan(self, records: list[dict]) -> None:
        """The daily limit is 2,000 + seats."""
        seats = records[0].get("number_of_seats") if records else None
        if isinstance(seats, int) and not isinstance(seats, bool) and 0 <= seats <= 10**7:
            self.run.budget.seats = seats
            self.run.plan.expect_records("users", seats)  # about one user per seat


class RiskScoreHistoryStream(ListStream):
    """A risk-score time series (account, group or user), incremental on ``date``.

    Each owner (0 for the account) has its own bookmark: the newest date emitted for it.
    An owner read for the first time gets its whole history (``full=true``); later runs
    read the API's default six-month window when the owner's bookmark lies inside it, and
    emit points from the bookmark on. A bookmark only moves after the owner's history was
    read to its end, and never to a date after tomorrow, so a point dated ``9999-12-31``
    or ``N/A`` is loaded (or reported) without hiding real points afterwards. A date in
    another form (``10/30/2026``, epoch seconds) is never compared with the bookmark or the
    start date as text: the point goes on to the cleaner, which reports it.

    The window is taken on evidence, not on its documented length: an answer without
    ``full=true`` must reach back to the bookmark (a point dated on or before it). One that
    does not (a server whose default window is shorter than documented, or a bookmark whose
    point is gone) is asked again with ``full=true`` at once, one warning line per stream:
    the points between the bookmark and the window's start would never come otherwise.
    """

    replication_key = "date"
    is_sorted = False

    _owner: int | None = None
    _newest: str | None = None
    _since: str | None = None
    #: This owner's answer held a point on or before the bookmark (the window reached it).
    _reached: bool = False
    #: Ask with ``full=true`` whatever the bookmark (the window did not reach it).
    _full_again: bool = False
    _said_short: bool = False

    def _owner_of(self, context: Context | None) -> int:
        return int(context[self.parent_key]) if (self.parent_key and context) else 0

    def _bookmark(self, context: Context | None) -> str | None:
        """The owner's bookmark (computed once per owner); None when read as a full table.

        A catalog may ask for ``FULL_TABLE`` (``overrides.py``): then every owner's whole
        history is read and emitted, and the stream activated only after that.
        """
        owner = self._owner_of(context)
        if owner != self._owner:
            self._owner, self._newest = owner, None
            dates = self.typed_state.stream(self.name).dates
            full = self.replication_method == "FULL_TABLE"
            self._since = None if full else dates.get(owner)
        return self._since

    def _windowed(self, context: Context | None) -> bool:
        """True when the owner's bookmark sits inside the six-month window (no ``full``)."""
        since = self._bookmark(context)
        if since is None or self._full_again:
            return False
        return since >= (utcnow() - RISK_WINDOW_SAFE).strftime("%Y-%m-%d")

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        """``full=true`` unless the owner's bookmark sits inside the six-month window."""
        params = super().get_url_params(context, next_page_token)
        if self._windowed(context):
            params.pop("full", None)
        return params

    def read_listing(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """The owner's points; asked again with ``full=true`` when the window fell short."""
        windowed = self._windowed(context)
        self._reached = False
        yield from super().read_listing(context)
        if not windowed or self._reached:
            return
        if not self._said_short:
            self._said_short = True
            self.logger.warning(
                "Stream '%s': an answer without full=true did not reach back to the "
                "bookmark (the server's default window is shorter than six months?): "
                "asked again with full=true.",
                self.name,
            )
        self._full_again = True
        try:
            yield from super().read_listing(context)
        finally:
            self._full_again = False

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Keep points on or after the bookmark and the start date; note the newest."""
        point = normalize.risk_point(record)
        day = point.get("date")
        since = self._bookmark(context)
        if isinstance(day, str) and _ISO_DAY.fullmatch(day):  # else the cleaner reports it
            if since is not None and day <= since:
                self._reached = True
            if since is not None and day < since:
                return None
            start = self.settings.start_date
            if start is not None and day < start.date().isoformat():  # 0999-06-01, not 999-
                return None
            good = plausible_date(day)
            if good is not None and (self._newest is None or good > self._newest):
                self._newest = good
        return point

    def _commit(self, context: Context | None) -> None:
        owner = self._owner_of(context)
        if owner == self._owner and self._newest is not None:
            self.typed_state.stream(self.name).dates[owner] = max(
                self._newest, self._since or self._newest
            )

    def parent_complete(self, context: Context) -> None:
        """The owner's history was read to its end: its bookmark may move."""
        self._commit(context)

    def stream_complete(self) -> None:
        """The account's history was read to its end: its bookmark may move."""
        if not self.parent_key:
            self._commit(None)

    def planned_requests(self, context: Context, parent: dict) -> int:
        """One page per owner; more when the account's history is longer than a page."""
        base = super().planned_requests(context, parent)
        points = self.run.plan_hints.get("risk_history_points", 0)
        return base and self.listing_pages(points)

    def observe_for_plan(self, records: list[dict]) -> None:
        """Owners' histories are about as long as the account's (counted page by page)."""
        hints = self.run.plan_hints
        hints["risk_history_points"] = hints.get("risk_history_points", 0) + len(records)


class GroupsStream(ListStream):
    """``/v1/groups``: passes each group's ``member_count`` to ``group_members``."""

    def witnesses(self) -> set[str]:
        """The users too (their ``groups``)."""
        return super().witnesses() | {"users"}

    def contradicted_read(self) -> str:
        """An empty list of groups while users read in this run name some (their ``groups``).

        Beside the references of :meth:`KnowBe4Stream.contradicted_read`; the users' group
        ids are noted as users are read (``UsersStream.normalize``), children or not.
        """
        found = super().contradicted_read()
        if found or self._listed or self.report.records or not self.run.named_groups:
            return found
        return (
            f"listed none while users read in this run name {len(self.run.named_groups):,} "
            "groups: not activated, the target keeps its rows"
        )

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Note the group's ``member_count`` for the run (derived memberships are checked)."""
        group, count = record.get("id"), record.get("member_count")
        if type(group) is int and type(count) is int:
            self.run.member_counts[group] = count
        return super().normalize(record, context)

    def get_child_context(self, record: dict, context: Context | None) -> dict | None:
        """``group_has_members`` when the group's ``member_count`` is a whole number above 0.

        A count sent otherwise (text, null, ``2.5``) says nothing: no evidence either way.
        """
        child = super().get_child_context(record, context)
        if child is not None:
            count = record.get("member_count")
            child["group_has_members"] = type(count) is int and count > 0
        return child


class GroupMembersStream(ListStream):
    """``group_members`` from ``/v1/groups/{id}/members``: one request per group."""

    def children_missing(self, context: Context, records: int) -> str:
        """A group whose ``member_count`` says it has members, listed with none.

        Activated, that empty list deleted every membership of the group the target held,
        exit 0 (session 10's open defect). The members are asked once more; still none, the
        stream is not activated this run (the target keeps its rows) and one line says so.
        A list shorter than the count is taken as listed: the reference does not say what
        ``member_count`` counts (archived users?), and such a count would hold activation
        back in every run.
        """
        if records == 0 and context.get("group_has_members"):
            return (
                "groups whose member_count says they have members listed none, asked twice: "
                "group_members not activated, the target keeps its rows"
            )
        return ""

    def planned_requests(self, context: Context, parent: dict) -> int:
        """The pages of this group's members."""
        base = super().planned_requests(context, parent)
        return base and self.listing_pages(parent.get("member_count") or 0)

    @property
    def listing_fields(self) -> tuple[str, ...]:
        """Members are users: their id identifies them within the group."""
        return ("id",)

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Keep only the link columns."""
        return {"group_id": record["group_id"], "user_id": record.get("id")}


class DerivedGroupMembersStream(KnowBe4Stream):
    """``group_members`` from the ``groups`` ids on each user: zero requests.

    ``/v1/users`` already lists every user's group ids, so the membership table costs
    nothing beyond the users list. The pseudo-group 0 ("All Users") is not a group.
    """

    paginated = False
    activated_at_the_end = True  # groups, read after users, may contradict the memberships
    #: Users whose memberships this run derived, and whether any of them had ``groups``.
    _users: int = 0
    _groups_sent: bool = False

    @property
    def _named(self) -> set[int]:
        """The groups some derived membership of this run names."""
        return self.__dict__.setdefault("_named_groups", set())

    def contradicted_read(self) -> str:
        """Groups whose ``member_count`` says they have members that no user names.

        ``/v1/groups`` read whole in this run (its ``member_count`` is its own summary of the
        memberships) against every user's ``groups``: a group counting members that no user
        lists is a ``groups`` field dropped from those users (a proxy, an API's slip), and
        ACTIVATE_VERSION would delete that group's memberships. As with members read by
        endpoint, a smaller number of users than the count is taken as listed.
        """
        groups = self.run.report.streams.get("groups")
        if groups is None or not groups.sent_whole_in_this_run:
            return ""
        named = self._named
        missing = sum(1 for g, n in self.run.member_counts.items() if n > 0 and g not in named)
        if not missing:
            return ""
        return (
            f"groups whose member_count says they have members named by no user: {missing}; "
            "not activated, the target keeps its rows"
        )

    def read_listing(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """One link row per (group, user), built from the parent user record.

        A user whose ``groups`` could not be read counts as a dropped record: no
        ACTIVATE_VERSION then deletes memberships the target holds (attack 8 #5).
        """
        if not context:
            return
        self._users += 1
        self._groups_sent = self._groups_sent or bool(context.get("groups_sent"))
        if context.get("groups_unreadable"):
            self.report.dropped += 1
            self.report.note("users whose groups could not be read: memberships not all known")
        user_id = context["user_id"]
        named = self._named
        for group_id in sorted(set(context.get("group_ids") or ())):
            if group_id:
                named.add(group_id)
                yield {"group_id": group_id, "user_id": user_id}

    def planned_requests(self, context: Context, parent: dict) -> int:
        """Free: the users list already holds the memberships."""
        return 0

    def stream_complete(self) -> None:
        """Users were listed, none with a ``groups`` field: memberships are not known.

        The API leaves ``groups`` out for a user in no group; a list in which no user has it
        is as likely an API or a proxy that dropped the field, and ACTIVATE_VERSION would
        then delete every membership the target holds (attack 10 #4). It counts as a
        dropped record: the stream is not activated.
        """
        if self._users and not self._groups_sent:
            self.report.dropped += 1
            self.report.note(
                "users listed, none with a groups field: memberships not known, not activated"
            )


class UsersStream(ListStream):
    """``/v1/users``: passes the user id, and the group ids, to its children."""

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Note the groups the user names (``RunControl.named_groups``), children or not.

        An empty ``/v1/groups`` beside them is contradicted (``GroupsStream``). Noted only
        when a child of ``users`` was read, a run selecting users and groups alone activated
        that empty list, and a version-aware target deleted every group (attack 13 #1).
        """
        groups = record.get("groups")
        if groups and isinstance(groups, list):
            named = self.run.named_groups
            for group in groups:
                if type(group) is int and group:
                    named.add(group)
        return super().normalize(record, context)

    def get_child_context(self, record: dict, context: Context | None) -> dict | None:
        """``user_id`` for risk history; ``group_ids`` for derived group members.

        ``groups_unreadable`` when the user's ``groups`` could not be read whole (a scalar,
        text, an item that is no id, as sent or as the cleaner kept it in ``_extra_fields``):
        its memberships are unknown, so ``group_members`` is not read whole (attack 8 #5).
        """
        child = super().get_child_context(record, context)
        if child is not None:
            groups = record.get("groups")
            items = groups if isinstance(groups, list) else []
            ids = [g for g in items if isinstance(g, int) and not isinstance(g, bool)]
            extras = record.get(EXTRA_FIELDS)
            kept = isinstance(extras, dict) and any(
                k == "groups" or k.startswith("groups[") for k in extras
            )
            odd = (groups is not None and not isinstance(groups, list)) or any(
                g is not None and g not in ids for g in items
            )
            child["group_ids"] = ids
            child["groups_sent"] = "groups" in record or kept
            if kept or odd:
                child["groups_unreadable"] = True
        return child


PST_COUNTERS = (
    "scheduled_count",
    "delivered_count",
    "opened_count",
    "clicked_count",
    "replied_count",
    "attachment_open_count",
    "macro_enabled_count",
    "data_entered_count",
    "qr_code_scanned_count",
    "reported_count",
    "bounced_count",
)


def pst_fingerprint(record: dict) -> int:
    """A short checksum of a PST's status and counters: it changes when recipients do."""
    text = "|".join(str(record.get(k)) for k in ("status", *PST_COUNTERS))
    return zlib.crc32(text.encode())


class CampaignsStream(ListStream):
    """Phishing campaigns; notes whether their list, read whole, names any test.

    Each campaign summarizes its tests (``psts_count``, ``psts``). A list read from its first
    page in this run in which every campaign says it has none (both fields sent: 0 and
    ``[]``), or that holds no campaign, is the evidence on which the tests' list is not
    asked (``summarized_by``, :meth:`PhishingSecurityTestsStream.read_listing`).
    """

    def read_listing(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """The campaigns; what they say of their tests is noted page by page."""
        self.run.summaries[self.name] = True  # none seen yet: none named
        return super().read_listing(context)

    def observe_for_plan(self, records: list[dict]) -> None:
        """A campaign that does not say it has no test may have some.

        One that says it has some is counted
        (:meth:`PhishingSecurityTestsStream.contradicted_read`).
        """
        if not all(self._no_test(record) for record in records):
            self.run.summaries[self.name] = False
            named = sum(1 for record in records if self._has_tests(record))
            if named:
                counts = self.run.campaigns_with_tests
                counts[self.name] = counts.get(self.name, 0) + named

    @staticmethod
    def _has_tests(record: dict) -> bool:
        """True when the campaign says it has a test (``psts_count`` above 0, or ``psts``)."""
        count, tests = record.get("psts_count"), record.get("psts")
        return (type(count) is int and count > 0) or (isinstance(tests, list) and bool(tests))

    @staticmethod
    def _no_test(record: dict) -> bool:
        count = record.get("psts_count")
        return type(count) is int and count == 0 and record.get("psts") == []


class PhishingSecurityTestsStream(ListStream):
    """PSTs; passes what the recipients stream needs to decide whether to re-read."""

    #: Not asked because the summarizing list answered no record at all (attack 12 #4).
    _inferred_from_empty: bool = False

    def witnesses(self) -> set[str]:
        """The campaigns too (their ``psts_count`` and ``psts``)."""
        campaigns = next((r.target for r in self.references if r.path == "campaign_id"), None)
        return super().witnesses() | ({campaigns} if campaigns else set())

    def contradicted_read(self) -> str:
        """An empty list of tests while campaigns read in this run say they have some.

        Beside the references of :meth:`KnowBe4Stream.contradicted_read` (a test naming its
        campaign): the campaigns' own summary (``psts_count``, ``psts``) of the list that
        answered none.
        """
        found = super().contradicted_read()
        if found or self._listed or self.report.records:
            return found
        campaigns = next((r.target for r in self.references if r.path == "campaign_id"), None)
        named = self.run.campaigns_with_tests.get(campaigns or "", 0)
        if not named:
            return ""
        return (
            f"listed none while {named:,} {campaigns} read in this run say they have tests: "
            "not activated, the target keeps its rows"
        )

    def read_listing(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """No request when the campaigns, read whole in this run, name no test."""
        if self._summary_names_none():
            self.report.note(
                f"not asked: {self.summarized_by}, read whole in this run, names no test"
            )
            summary = self.run.report.streams.get(t.cast("str", self.summarized_by))
            self._inferred_from_empty = summary is None or summary.records == 0
            return iter(())
        return super().read_listing(context)

    def activate_empty_read(self, version: int, evidence: bool) -> None:
        """Not when the tests were not asked because the campaigns answered none at all.

        An empty campaigns list (a proxy's or the API's empty 200 once) is no proof that the
        tests the target holds were deleted upstream; asked, the tests would have named
        their campaigns and kept both tables (``contradicted_read``). Skipping the request
        on it, then activating, deleted every callback test as well (attack 12 #4).
        Campaigns listed that each say they have no test are evidence: activated.
        """
        if self._inferred_from_empty:
            self.report.note(
                f"not asked: {self.summarized_by} listed no campaign, which proves no test "
                "deleted: no ACTIVATE_VERSION, the target keeps its rows"
            )
            return
        super().activate_empty_read(version, evidence)

    def _summary_names_none(self) -> bool:
        """True on positive evidence only (``summarized_by``).

        The summarizing list was read in this run from its first page to its end, nothing
        dropped, and every campaign said it has no test.
        """
        name = self.summarized_by
        if name is None or self._resumed_at is not None or not self.run.summaries.get(name):
            return False
        report = self.run.report.streams.get(name)
        return (
            report is not None
            and report.outcome is Outcome.COMPLETE
            and not report.dropped
            and not report.resumed_list
            and not report.continued
        )

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Drop tests started before ``start_date`` (compared as instants)."""
        start = self.settings.start_date
        started = parse_instant(record.get("started_at"))
        if start is not None and started is not None and started < start:
            return None
        return record

    def get_child_context(self, record: dict, context: Context | None) -> dict | None:
        """Errored tests have no recipients: no request.

        A test is errored only on the documented evidence that it never ran: its
        ``scheduled_count`` sent as null, and no ``started_at`` or counter saying it ran
        (the reference's errored shape: ``started_at`` null, every counter 0). A count
        missing from the answer (an API that drops it, as it dropped ``exploited_count``),
        or null beside a start or a delivery, is no errored test: its recipients are read
        (attack 10 #3; before, none was ever read, exit 0). A count sent but unreadable
        (``2.5``, ``true``: null in the column, kept in ``_extra_fields``) is none either
        (attack 8 #7).
        """
        if self._never_ran(record):
            return None
        child = super().get_child_context(record, context)
        if child is not None:
            child["pst_status"] = record.get("status")
            child["pst_started_at"] = record.get("started_at")
            child["pst_fingerprint"] = pst_fingerprint(record)
            child["pst_delivered"] = any(
                type(record.get(field)) is int and record[field] > 0
                for field in ("scheduled_count", "delivered_count")
            )
        return child

    @staticmethod
    def _never_ran(record: dict) -> bool:
        """True when the test says it never ran (see :meth:`get_child_context`)."""
        extras = record.get(EXTRA_FIELDS)
        sent = ("scheduled_count", "started_at", *PST_COUNTERS)
        if isinstance(extras, dict) and any(field in extras for field in sent):
            return False  # a value sent that could not be read says nothing
        if "scheduled_count" not in record or record["scheduled_count"] is not None:
            return False
        return record.get("started_at") is None and not any(
            record.get(counter) for counter in PST_COUNTERS
        )


class RecipientsStream(ListStream):
    """Recipients of each PST, re-read only for tests that can still change.

    A test is re-read when it was never read to the end, is not ``Closed``, started within
    ``pst_lookback_days`` (or its start cannot be read), or its counters differ from the
    last complete read. The state keeps one small number per settled test.
    """

    reshape = staticmethod(normalize.recipient)

    def parent_unchanged(self, context: Context) -> bool:
        """True when the test is closed, old enough, and its counters did not move."""
        if context.get("pst_status") != "Closed":
            return False
        started = parse_instant(context.get("pst_started_at"))
        if started is None or started > utcnow():
            return False
        if started >= utcnow() - dt.timedelta(days=self.settings.pst_lookback_days):
            return False
        settled = self.typed_state.stream(self.name).settled
        return settled.get(int(context["pst_id"])) == context.get("pst_fingerprint")

    def planned_requests(self, context: Context, parent: dict) -> int:
        """The pages of this test's recipients, unless the state says it is settled."""
        base = super().planned_requests(context, parent)
        return base and self.listing_pages(parent.get("scheduled_count") or 0)

    def children_missing(self, context: Context, records: int) -> str:
        """A test whose counters say it was sent, listed with no recipient, is not settled.

        An empty answer (a proxy, an API's slip, a wrong scope) would otherwise settle a closed
        test for good: its recipients never read in any run, exit 0 (attack 11 #5). The
        recipients are asked once more first (``KnowBe4Stream._read_for_parent``).
        """
        if records == 0 and context.get("pst_delivered"):
            return (
                "tests whose counters say they were sent listed no recipient: not settled, "
                "read again next run"
            )
        return ""

    def parent_complete(self, context: Context) -> None:
        """Read to its end: a closed test is settled; an open one stays to be re-read."""
        settled = self.typed_state.stream(self.name).settled
        key = int(context["pst_id"])
        if context.get("pst_status") == "Closed":
            settled[key] = context["pst_fingerprint"]
        else:
            settled.pop(key, None)
