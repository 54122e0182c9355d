"""What each stream should emit, and what reading it costs, computed from the sandbox.

The sandbox and the tap are independent implementations of the reference; these functions
translate the sandbox's endpoint-shaped ground truth (``sb.org.<method>()``, routed by the
tap's endpoint table) into stream rows, and its paging rules (``sb.paging``) into request
counts. They derive from the endpoint table, so a new stream needs no change here unless it
is shaped differently from "list rows, plus the parent's id".

Two documented conversions of the tap are applied (README, "What it extracts"):
``employee_number`` is text everywhere (the API sends integers on some records), and the
documentation's legacy shapes (hostile profile quirks) load as today's shapes.
"""

from __future__ import annotations

import dataclasses
import math
import typing as t

from tap_knowbe4.pagination import is_typical_cap
from tap_knowbe4.sandbox import Organization
from tap_knowbe4.sandbox.routes import keyword_args, match
from tap_knowbe4.streams import ENROLLMENT_FLAGS as ENROLLMENT_PARAMS
from tap_knowbe4.streams import Endpoint, endpoints

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox


#: A recipient failed a phishing test when any of these is set (KnowBe4's definition, as the
#: marts and the sandbox's phish-prone numbers use it).
PHISHING_FAILURE_EVENTS = (
    "clicked_at",
    "replied_at",
    "attachment_opened_at",
    "macro_enabled_at",
    "data_entered_at",
    "qr_code_scanned",
)

#: The enrollment flags the tap sends, as ``Organization.enrollments`` keywords.
ENROLLMENT_FLAGS = dict.fromkeys(ENROLLMENT_PARAMS, True)


def endpoint_table(members_from: str = "users") -> dict[str, Endpoint]:
    """The tap's endpoint rows by stream name."""
    return {e.name: e for e in endpoints(members_from)}


def canonical(org: Organization) -> Organization:
    """The same organization, at the same clock, without the docs' legacy shapes."""
    if not org.options.quirks:
        return org
    plain = Organization(dataclasses.replace(org.options, quirks=()))
    plain.advance(seconds=org.now_epoch - plain.now_epoch)
    return plain


def _route_rows(org: Organization, endpoint: Endpoint, *args: int) -> list[dict]:
    found = match(endpoint.path)
    assert found is not None, endpoint.path
    route = found[0]
    answer = getattr(org, route.method)(*args, **keyword_args(route, endpoint.params))
    return list(answer) if route.is_list else [answer]


def _as_loaded(stream: str, row: dict) -> dict:
    """The documented conversions: ``employee_number`` is text."""
    row = dict(row)
    if stream == "users" and isinstance(row.get("employee_number"), int):
        row["employee_number"] = str(row["employee_number"])
    if stream == "training_enrollments" and isinstance(row.get("user"), dict):
        stub = row["user"]
        if isinstance(stub.get("employee_number"), int):
            row["user"] = {**stub, "employee_number": str(stub["employee_number"])}
    return row


def parents_of(org: Organization, endpoint: Endpoint, table: dict[str, Endpoint]) -> list[int]:
    """The parent ids whose children the tap reads (errored tests have none)."""
    assert endpoint.parent is not None
    parent_name, _, field = endpoint.parent
    ids = []
    for record in _rows(org, table[parent_name], table):
        if parent_name == "phishing_security_tests" and record.get("scheduled_count") is None:
            continue
        if record.get(field) not in (None, 0):
            ids.append(record[field])
    return ids


def _rows(org: Organization, endpoint: Endpoint, table: dict[str, Endpoint]) -> list[dict]:
    if endpoint.parent is None:
        return _route_rows(org, endpoint)
    parent_name, key, _ = endpoint.parent
    rows: list[dict] = []
    if endpoint.name == "group_members" and parent_name == "users":
        for user in _rows(org, table["users"], table):
            groups = user.get("groups") or []
            rows.extend(
                {"group_id": g, "user_id": user["id"]}
                for g in sorted(set(groups))
                if isinstance(g, int) and g
            )
        return rows
    for parent_id in parents_of(org, endpoint, table):
        children = _route_rows(org, endpoint, parent_id)
        if endpoint.name == "group_members":
            rows.extend({"group_id": parent_id, "user_id": u["id"]} for u in children)
        else:
            rows.extend({**row, key: parent_id} for row in children)
    return rows


def expected_records(org: Organization, stream: str, members_from: str = "users") -> list[dict]:
    """The records ``stream`` must emit for the organization as it is now."""
    table = endpoint_table(members_from)
    plain = canonical(org)
    return [_as_loaded(stream, row) for row in _rows(plain, table[stream], table)]


def listing_requests(sb: Sandbox, path: str, rows: int, page_size: int, *, cursor: bool) -> int:
    """Requests the tap's protocol needs to read one listing of ``rows`` records.

    The sandbox's minimum (``sb.paging.min_requests``) plus the tap's one documented extra:
    a short first page whose size is a typical server cap (a multiple of 10 or 25) is
    probed once (page 2), to notice a server that caps ``per_page``. An endpoint that
    ignores paging answers everything at once; when that is exactly one full page (or a
    probe-sized short one), the tap asks for page 2 and finds the same rows.
    """
    rules = sb.paging
    if rules.is_unpaginated(path):
        short_probe = rows < page_size and is_typical_cap(rows)
        return 2 if rows == page_size or short_probe else 1
    size = rules.page_size(path, page_size)
    if rules.pages_by_cursor(path, cursor):
        if rules.cursor_style == "header" and rows <= size:
            # the only page carries no cursor header: the tap reads it as page 1 of a list
            return _by_page_number(rows, size, page_size)
        if rows == size:
            return 2  # a full first page said to be the last: the tap confirms with page 2
        return max(1, math.ceil(rows / size))
    return _by_page_number(rows, size, page_size)


def _by_page_number(rows: int, size: int, page_size: int) -> int:
    requests = rows // size + 1
    if 0 < rows < size and rows < page_size and is_typical_cap(rows):
        requests += 1  # the probe for a server that caps per_page
    return requests


def endpoint_is_list(endpoint: Endpoint) -> bool:
    """True for endpoints answering a paged list."""
    found = match(endpoint.path)
    return found is not None and found[0].is_list


def _concrete(path: str, parent_id: int) -> str:
    head, _, tail = path.partition("{")
    return head + str(parent_id) + tail.partition("}")[2]


def minimum_requests(
    sb: Sandbox,
    streams: t.Iterable[str],
    page_size: int,
    *,
    cursor: bool,
    members_from: str = "users",
) -> int:
    """The fewest requests the tap can read ``streams`` with (a full sync, no state).

    Parents are read once for all their selected children; ``group_members`` derived from
    users costs nothing beyond the users list.
    """
    org = canonical(sb.org)
    table = endpoint_table(members_from)
    wanted = set(streams)
    lists = set()
    for name in wanted:
        endpoint = table[name]
        while endpoint.parent is not None:
            lists.add(endpoint.name)
            endpoint = table[endpoint.parent[0]]
        lists.add(endpoint.name)
    total = 0
    for name in lists:
        endpoint = table[name]
        if not endpoint.path:
            continue  # derived: no request
        if endpoint.parent is None:
            if not endpoint_is_list(endpoint):
                total += 1
                continue
            rows = len(_route_rows(org, endpoint))
            total += listing_requests(sb, endpoint.path, rows, page_size, cursor=cursor)
            continue
        for parent_id in parents_of(org, endpoint, table):
            rows = len(_route_rows(org, endpoint, parent_id))
            path = _concrete(endpoint.path, parent_id)
            total += listing_requests(sb, path, rows, page_size, cursor=cursor)
    return total
