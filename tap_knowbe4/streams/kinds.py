"""Stream classes for the endpoints whose behaviour differs from a plain list."""

from __future__ import annotations

import typing as t

from tap_knowbe4.client import KnowBe4Stream
from tap_knowbe4.streams import normalize

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ListStream(KnowBe4Stream):
    """A paginated list endpoint; records are normalized by ``reshape``."""

    reshape: t.ClassVar[t.Any] = None  # a staticmethod: dict -> dict

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Apply the endpoint's reshaping function, if any."""
        reshape = type(self).reshape
        return reshape(record) if reshape is not None else record


class SingleObjectStream(ListStream):
    """An endpoint that answers one object (``/v1/account``)."""

    paginated = False
    records_jsonpath = "$"


class AccountStream(SingleObjectStream):
    """``/v1/account``; its ``number_of_seats`` sets the daily budget (2,000 + seats)."""

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Tell the run's budget how many seats the account has."""
        seats = record.get("number_of_seats")
        if isinstance(seats, int):
            self.run.budget.seats = seats
        return record


class RiskScoreHistoryStream(ListStream):
    """A risk-score time series (account, group or user); dates normalized to YYYY-MM-DD."""

    reshape = staticmethod(normalize.risk_point)


class GroupMembersStream(ListStream):
    """``group_members``: the users of each group reduced to a ``(group_id, user_id)`` link."""

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Keep only the link columns."""
        user_id = record.get("id")
        if user_id is None:
            return None
        return {"group_id": record["group_id"], "user_id": user_id}


class PhishingSecurityTestsStream(ListStream):
    """PSTs; recipients are only requested for tests that were actually sent."""

    def wants_children(self, record: dict) -> bool:
        """Errored tests (``scheduled_count`` null) have no recipients: skip the request."""
        return record.get("scheduled_count") is not None
