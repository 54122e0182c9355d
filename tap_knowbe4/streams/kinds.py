"""Stream classes for the endpoints whose behaviour differs from a plain list."""

from __future__ import annotations

import datetime as dt
import typing as t
import zlib

from tap_knowbe4.client import KnowBe4Stream
from tap_knowbe4.plan import pages
from tap_knowbe4.streams import normalize

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: The API's default risk-history window is six months; a bookmark younger than this is
#: safely inside it (a margin for clock differences between here and the server).
RISK_WINDOW_SAFE = dt.timedelta(days=150)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ListStream(KnowBe4Stream):
    """A paginated list endpoint; records are normalized by ``reshape``."""

    reshape: t.ClassVar[t.Any] = None  # a staticmethod: dict -> dict

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Apply the endpoint's reshaping function, if any."""
        reshape = type(self).reshape
        return reshape(record) if reshape is not None else record


class SingleObjectStream(ListStream):
    """An endpoint that answers one object."""

    paginated = False


class AccountStream(SingleObjectStream):
    """``/v1/account``; its ``number_of_seats`` sets the daily budget (2,000 + seats)."""

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Tell the run's budget how many seats the account has."""
        seats = record.get("number_of_seats")
        if isinstance(seats, int):
            self.run.budget.seats = seats
        return record


class RiskScoreHistoryStream(ListStream):
    """A risk-score time series (account, group or user), incremental on ``date``.

    The first run reads the whole history (``full=true``). Later runs read the API's
    default six-month window when the bookmark lies inside it, and emit only points on or
    after the bookmark. Owners (groups, users) that did not exist at the last complete run
    have higher ids than any seen then; they are read in full.
    """

    replication_key = "date"
    is_sorted = False
    reshape = staticmethod(normalize.risk_point)
    OWNERS_KEY = "owners_through"

    _max_owner: int | None = None

    def _since(self, context: Context | None) -> str | None:
        """The bookmark this run filters on (the one an interrupted run started from)."""
        bookmark = self.get_starting_replication_key_value(context)
        return self.run.progress.remember_bookmark(self.name, bookmark)

    def _is_new_owner(self, context: Context | None) -> bool:
        if not self.parent_key or not context:
            return False
        known = self.stream_state.get(self.OWNERS_KEY)
        return known is None or context[self.parent_key] > known

    def _incremental_from(self, context: Context | None) -> str | None:
        """The date points must reach to be emitted, or None to read the full history.

        Asked for the request and for every point; computed once per owner.
        """
        owner = context.get(self.parent_key) if (self.parent_key and context) else None
        cached = self._from_cache
        if cached is not None and cached[0] == owner:
            return cached[1]
        value = self._compute_incremental_from(context)
        self._from_cache = (owner, value)
        return value

    _from_cache: tuple[int | None, str | None] | None = None

    def _compute_incremental_from(self, context: Context | None) -> str | None:
        since = self._since(context)
        if since is None or self._is_new_owner(context):
            return None
        return since

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        """``full=true`` unless the bookmark sits inside the default six-month window."""
        params = super().get_url_params(context, next_page_token)
        since = self._incremental_from(context)
        if since is not None and since >= (_utcnow() - RISK_WINDOW_SAFE).strftime("%Y-%m-%d"):
            params.pop("full", None)
        return params

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Keep points on or after the bookmark and the start date."""
        point = normalize.risk_point(record)
        day = point.get("date") or ""
        since = self._incremental_from(context)
        if since is not None and day < since:
            return None
        start = self.settings.start_date
        if start is not None and day < start.strftime("%Y-%m-%d"):
            return None
        return point

    def planned_requests(self, context: Context, parent: dict) -> int:
        """One page per owner; more when the account's history is longer than a page."""
        base = super().planned_requests(context, parent)
        points = self.run.plan_hints.get("risk_history_points", 0)
        return base and pages(points, self.settings.page_size)

    def note_parent(self, parent_id: int) -> None:
        """Remember the highest owner id of this run."""
        if self._max_owner is None or parent_id > self._max_owner:
            self._max_owner = parent_id

    def sync_finished(self) -> None:
        """After a complete fan-out, owners up to the highest id seen are known."""
        if self.parent_key and self._max_owner is not None:
            self.stream_state[self.OWNERS_KEY] = self._max_owner


class GroupMembersStream(ListStream):
    """``group_members`` from ``/v1/groups/{id}/members``: one request per group."""

    def planned_requests(self, context: Context, parent: dict) -> int:
        """The pages of this group's members."""
        base = super().planned_requests(context, parent)
        return base and pages(parent.get("member_count") or 0, self.settings.page_size)

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Keep only the link columns."""
        user_id = record.get("id")
        if user_id is None:
            return None
        return {"group_id": record["group_id"], "user_id": user_id}


class DerivedGroupMembersStream(KnowBe4Stream):
    """``group_members`` from the ``groups`` ids on each user: zero requests.

    ``/v1/users`` already lists every user's group ids, so the membership table costs
    nothing beyond the users list. The pseudo-group 0 ("All Users") is not a group.
    """

    paginated = False

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """One link row per (group, user), built from the parent user record."""
        if not context:
            return
        user_id = context["user_id"]
        for group_id in sorted(set(context.get("group_ids") or ())):
            if group_id:
                self.run.counters[self.name].records += 1
                yield {"group_id": group_id, "user_id": user_id}

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Rows are built already."""
        return row

    def planned_requests(self, context: Context, parent: dict) -> int:
        """Free: the users list already holds the memberships."""
        return 0


class UsersStream(ListStream):
    """``/v1/users``: passes the user id, and the group ids, to its children."""

    def child_context(self, record: dict) -> dict | None:
        """``user_id`` for risk history; ``group_ids`` for derived group members."""
        context = super().child_context(record)
        if context is not None:
            groups = record.get("groups") or []
            context["group_ids"] = [g for g in groups if isinstance(g, int)]
        return context


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


class PhishingSecurityTestsStream(ListStream):
    """PSTs; passes what the recipients stream needs to decide whether to re-read."""

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Drop tests started before ``start_date``."""
        start = self.settings.start_date
        started = record.get("started_at")
        if start is not None and started and started < start.strftime("%Y-%m-%dT%H:%M:%S"):
            return None
        return record

    def child_context(self, record: dict) -> dict | None:
        """Errored tests (``scheduled_count`` null) have no recipients: no request."""
        if record.get("scheduled_count") is None:
            return None
        context = super().child_context(record)
        if context is not None:
            context["pst_status"] = record.get("status")
            context["pst_started_at"] = record.get("started_at")
            context["pst_fingerprint"] = pst_fingerprint(record)
        return context


class RecipientsStream(ListStream):
    """Recipients of each PST, re-read only for tests that can still change.

    A test is re-read when it was never synced, is not ``Closed``, started within
    ``pst_lookback_days``, or its counters differ from the last sync. The state keeps
    one small number per settled test (``settled``: pst_id -> counters checksum).
    """

    reshape = staticmethod(normalize.recipient)
    SETTLED_KEY = "settled"

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: a run re-reads only some tests, so rows of the others must stay."""
        return False

    def _settled(self) -> dict[str, int]:
        settled = self.stream_state.get(self.SETTLED_KEY)
        if not isinstance(settled, dict):
            settled = {}
            self.stream_state[self.SETTLED_KEY] = settled
        return settled

    def skip_context(self, context: Context) -> bool:
        """True when the test is closed, old enough, and its counters did not move."""
        if context.get("pst_status") != "Closed":
            return False
        started = context.get("pst_started_at")
        lookback = dt.timedelta(days=self.settings.pst_lookback_days)
        if not started or started >= (_utcnow() - lookback).strftime("%Y-%m-%dT%H:%M:%S"):
            return False
        return self._settled().get(str(context["pst_id"])) == context.get("pst_fingerprint")

    def planned_requests(self, context: Context, parent: dict) -> int:
        """The pages of this test's recipients, unless the state says it is settled."""
        base = super().planned_requests(context, parent)
        return base and pages(parent.get("scheduled_count") or 0, self.settings.page_size)

    def parent_done(self, context: Context) -> None:
        """Remember closed tests as settled; open ones stay to be re-read."""
        settled = self._settled()
        key = str(context["pst_id"])
        if context.get("pst_status") == "Closed":
            settled[key] = context["pst_fingerprint"]
        else:
            settled.pop(key, None)
