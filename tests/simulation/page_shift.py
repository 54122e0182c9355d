"""A user deleted upstream between two pages of ``/v1/users``, and what page numbers miss.

The drawn event (``RunPlan.delete_before_page`` = n): just before the n-th request of a run to
``/v1/users`` is answered (or a later one, the first that still has users to list after the
pages before and a user among those that is ever deleted), the world's clock moves to the
moment the next user among those the earlier pages listed is deleted (the sandbox's data is a
function of the clock, so a deletion is a clock move). Every later user moves up one place.

Read by cursor (the server's position is a user id), nothing is missed. Read by page number,
the user that moved onto the pages already read is never sent in that read: the documented
limit of page numbers (README, "What the state keeps": a record re-sorted while a long list is
paged can be missed by that read; attack 7 #4, a strict xfail in test_attack_regressions_7).
The oracle excuses exactly those rows (:meth:`PageShift.hidden`) and their children read for
that user, for the sync cycle of that run, and nothing else.
"""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Organization
    from tap_knowbe4.sandbox.paging import PagingRules

USERS = "/v1/users"
#: Requests to /v1/users from the drawn one on that may carry the event (the first that can).
LATER_REQUESTS = 12


@dataclasses.dataclass(frozen=True)
class PageShift:
    """The list before and after the deletion, and how many places the client had read."""

    by_number: bool
    #: Places of the list (at the clock before the move) the pages before had covered.
    read: int
    before: tuple[int, ...]
    after: tuple[int, ...]

    def hidden(self) -> frozenset[int]:
        """User ids listed throughout that no page read of this list could have answered."""
        if not self.by_number:
            return frozenset()
        seen = set(self.before[: self.read]) | set(self.after[self.read :])
        return frozenset(i for i in self.before if i in set(self.after) and i not in seen)


def delete_between_pages(
    org: Organization, paging: PagingRules, query: t.Mapping[str, str]
) -> tuple[int, int, bool] | None:
    """(seconds to move the clock, places read, paged by number) for the request ``query``
    about to be answered, or None when no user the pages before listed is ever deleted."""
    cursor = query.get("cursor")
    if paging.is_unpaginated(USERS):
        return None
    by_number = not paging.pages_by_cursor(USERS, cursor=cursor is not None)
    listed = [u["id"] for u in org.users()]
    if by_number:
        page = int(query.get("page") or 1)
        read = (page - 1) * paging.page_size(USERS, int(query.get("per_page") or 0))
        if read >= len(listed):  # the page that proves the end: nobody can move onto it
            return None
    elif cursor is not None and cursor.startswith("@") and cursor[1:].isdigit():
        by_number, read = True, int(cursor[1:])  # a position, not a key: it shifts too
    elif cursor is not None and cursor.isdigit():  # the key of the last user read
        read = sum(1 for i in listed if i <= int(cursor))
    else:
        read = len(listed) // 2
    candidates = set(listed[:read])
    now = org.now_epoch
    times = [
        u.deleted
        for u in org.people.users
        if u.id in candidates and u.deleted is not None and u.deleted > now
    ]
    if not times:
        return None
    return min(times) - now + 1, read, by_number


@dataclasses.dataclass(frozen=True)
class Hidden:
    """Rows a sync cycle's page shifts hid: those users, and what is read for each of them."""

    users: frozenset[int] = frozenset()
    members_from: str = "users"

    def covers(self, stream: str, key: tuple) -> bool:
        """True when the row of ``stream`` with ``key`` belongs to a hidden user."""
        if not self.users or not key:
            return False
        if stream in ("users", "user_risk_score_history"):
            return key[0] in self.users
        if stream == "group_members" and self.members_from == "users":
            return len(key) > 1 and key[1] in self.users
        return False
