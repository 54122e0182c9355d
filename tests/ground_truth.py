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
from tap_knowbe4.sandbox.drift import NEW_FIELDS, NEW_STUB_FIELD
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


#: Quirks that change the data itself (the others only change shapes or names, which the tap
#: maps back to today's: the canonical organization lacks those).
DATA_QUIRKS = ("legacy-fields", "new-fields", "repeated-keys")
#: Documented renames of fields that are not today's API (README, "What it extracts").
LOADED_AS = {
    recipients: {"vulnerable-plugins_at": "vulnerable_plugins_at"}
    for recipients in (
        "phishing_security_test_recipients",
        "callback_phishing_security_test_recipients",
    )
}
#: The column holding what the schema does not know (README, "A field the tap did not know").
EXTRA_FIELDS = "_extra_fields"


def canonical(org: Organization) -> Organization:
    """The same organization, at the same clock, without the docs' legacy shapes."""
    kept = tuple(q for q in org.options.quirks if q in DATA_QUIRKS)
    if kept == tuple(org.options.quirks):
        return org
    plain = Organization(dataclasses.replace(org.options, quirks=kept))
    plain.advance(seconds=org.now_epoch - plain.now_epoch)
    return plain


def _route_rows(org: Organization, endpoint: Endpoint, *args: int) -> list[dict]:
    found = match(endpoint.path)
    assert found is not None, endpoint.path
    route = found[0]
    answer = getattr(org, route.method)(*args, **keyword_args(route, endpoint.params))
    return list(answer) if route.is_list else [answer]


def _as_loaded(stream: str, row: dict) -> dict:
    """The documented conversions: ``employee_number`` is text, the renames of
    :data:`LOADED_AS`, and the fields the sandbox made up (no client knows them) kept in
    :data:`EXTRA_FIELDS` by path."""
    row = dict(row)
    if stream == "users" and isinstance(row.get("employee_number"), int):
        row["employee_number"] = str(row["employee_number"])
    if stream == "training_enrollments" and isinstance(row.get("user"), dict):
        stub = row["user"]
        if isinstance(stub.get("employee_number"), int):
            row["user"] = {**stub, "employee_number": str(stub["employee_number"])}
    for old, new in LOADED_AS.get(stream, {}).items():
        if old in row:
            row[new] = row.pop(old)
    extras = {name: row.pop(name) for name in NEW_FIELDS if name in row}
    stub = row.get("user")
    if isinstance(stub, dict) and NEW_STUB_FIELD[0] in stub:
        row["user"] = {k: v for k, v in stub.items() if k != NEW_STUB_FIELD[0]}
        extras[f"user.{NEW_STUB_FIELD[0]}"] = stub[NEW_STUB_FIELD[0]]
    if extras:
        row[EXTRA_FIELDS] = extras
    return row


def _without_exact_repeats(stream: str, rows: list[dict]) -> list[dict]:
    """A key listed again is loaded again, unless it is an exact repeat (README)."""
    keys = endpoint_table()[stream].primary_keys
    versions: dict[tuple, list[dict]] = {}
    kept = []
    for row in rows:
        seen = versions.setdefault(tuple(row.get(k) for k in keys), [])
        if row not in seen:
            seen.append(row)
            kept.append(row)
    return kept


def parents_of(org: Organization, endpoint: Endpoint, table: dict[str, Endpoint]) -> list[int]:
    """The parent ids whose children the tap reads (errored tests have none)."""
    assert endpoint.parent is not None
    parent_name, _, field = endpoint.parent
    ids = []
    for record in _rows(org, table[parent_name], table):
        errored = record.get("scheduled_count") is None  # a test that never ran: no recipients
        if parent_name.endswith("phishing_security_tests") and errored:
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
    rows = [_as_loaded(stream, row) for row in _rows(plain, table[stream], table)]
    return _without_exact_repeats(stream, rows)


def _documented_unpaginated(sb: Sandbox, path: str) -> bool:
    """True when the tap's endpoint table says the endpoint answers everything at once."""
    template = sb.paging.template(path)
    return any(e.may_ignore_paging and e.path == template for e in endpoints())


def listing_requests(
    sb: Sandbox, path: str, rows: int, page_size: int, *, cursor: bool, cursor_only: bool = False
) -> int:
    """Requests the tap's protocol needs to read one listing of ``rows`` records.

    A model of the tap's documented protocol (``tap_knowbe4.pagination``) under the
    sandbox's rules: every page; one more (empty or short) page where a list ends by page
    number; a probe of page 2 after a short first page of a typical cap size (a multiple of
    10 or 25); where page 1 is full, names no next page and the server ignores ``page``,
    page 2 (a repeat) plus one probe and the page its cursor names; a full last page reached
    by a cursor and naming none, asked again. ``cursor``: the tap asks for cursors
    (``pagination`` auto or cursor); ``cursor_only``: ``pagination: cursor``. Endpoints
    documented as unpaginated are asked with no paging parameter at all (the API's default
    page of 100), except under ``pagination: cursor``.
    """
    rules = sb.paging
    if _documented_unpaginated(sb, path) and not cursor_only:
        return _bare_listing(sb, path, rows, page_size, cursor=cursor)
    size = rules.page_size(path, page_size)
    if rules.is_unpaginated(path):
        raise NotImplementedError("the tap fails a listing that ignores paging undocumented")
    if not rules.pages_by_cursor(path, cursor):
        return _by_page_number(rows, size, page_size)
    ignores_page = rules.pagination == "cursor"
    if rules.says_end(path):  # every last page says so explicitly (an empty one is bare [])
        if rows == size == page_size and not cursor_only:
            return 2  # a full first page said to be the last: page 2 confirms it
        return max(1, math.ceil(rows / size))
    # the last page names no next cursor: silent
    if rows > size:
        # the last page is reached by a cursor that stopped; a full one is asked again
        return math.ceil(rows / size) + (1 if rows % size == 0 else 0)
    if cursor_only:
        # a full silent page is probed at once; the probe's cursor leads to the last record
        return 3 if rows == size else 1
    if rows == size or (0 < rows < page_size and is_typical_cap(rows)):
        # page 2 (a repeat, or the end); after a repeat the probe and its cursor's page
        return 4 if ignores_page else 2
    return 1


def _bare_listing(sb: Sandbox, path: str, rows: int, page_size: int, *, cursor: bool) -> int:
    """An endpoint documented as unpaginated: asked with ``per_page`` only, no cap probe.

    ``cursor``: the tap follows the cursors a server names (``pagination: auto``).
    """
    rules = sb.paging
    if rules.is_unpaginated(path):
        return 3 if rows == page_size else 1  # exactly a page: page 2, then the probe
    size = rules.page_size(path, page_size)
    if rules.pages_by_cursor(path, cursor=False):
        if rows != size:
            again = cursor and rows > size and rows % size == 0 and not rules.says_end(path)
            return max(1, math.ceil(rows / size)) + again  # a full silent last page: again
        if rules.says_end(path):
            return 2  # page 2 confirms
        return 4 if cursor else 3  # page 2, the probe (and the page its cursor names)
    return rows // size + 1


def _by_page_number(rows: int, size: int, page_size: int) -> int:
    requests = rows // size + 1
    if 0 < rows < size and rows < page_size and is_typical_cap(rows):
        requests += 1  # the probe for a server that caps per_page
    return requests


def endpoint_is_list(endpoint: Endpoint) -> bool:
    """True for endpoints answering a paged list."""
    found = match(endpoint.path)
    return found is not None and found[0].is_list


def _summary_names_none(
    org: Organization, endpoint: Endpoint, table: dict[str, Endpoint], lists: set[str]
) -> bool:
    """True when ``endpoint`` is summarized by a list read before it whose every record
    says it has no test (``psts_count`` 0, ``psts`` empty; the endpoint table's
    ``summarized_by``): the tap does not ask it."""
    summary = endpoint.summarized_by
    if summary is None or summary not in lists:
        return False
    return all(
        r.get("psts_count") == 0 and r.get("psts") == [] for r in _route_rows(org, table[summary])
    )


def _concrete(path: str, parent_id: int) -> str:
    head, _, tail = path.partition("{")
    return head + str(parent_id) + tail.partition("}")[2]


def minimum_requests(
    sb: Sandbox,
    streams: t.Iterable[str],
    page_size: int,
    *,
    cursor: bool,
    cursor_only: bool = False,
    members_from: str = "users",
    floor: bool = False,
) -> int:
    """The fewest requests the tap can read ``streams`` with (a full sync, no state).

    Parents are read once for all their selected children; ``group_members`` derived from
    users costs nothing beyond the users list. ``floor``: the fewest any client that knew the
    server's rules would need (``sb.paging.min_requests``), instead of the tap's protocol.
    """

    answered: set[str] = set()  # endpoints whose `cursor=true` was answered with records

    def listing_requests(
        sb: Sandbox, path: str, rows: int, page_size: int, *, cursor: bool, cursor_only: bool
    ) -> int:
        if floor:
            return sb.paging.min_requests(path, rows, page_size, cursor=cursor)
        requests = tap_listing_requests(
            sb, path, rows, page_size, cursor=cursor, cursor_only=cursor_only
        )
        template = sb.paging.template(path)
        asks_cursor = cursor and not cursor_only and not _documented_unpaginated(sb, path)
        if asks_cursor and not rows and template not in answered:
            requests += 1  # `cursor=true` answered empty: page 1 by number tells (attack 8 #1)
        if asks_cursor and rows:
            answered.add(template)
        return requests

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
    # in the order the tap reads them (TapKnowBe4.stream_order): a callback list after its
    # email sibling, whose `cursor=true` answered with records makes its empty answer believed
    for name in sorted(
        lists, key=lambda n: (n.removeprefix("callback_"), n.startswith("callback_"))
    ):
        endpoint = table[name]
        if not endpoint.path:
            continue  # derived: no request
        if _summary_names_none(org, endpoint, table, lists):
            continue  # its campaigns, read whole before it, name no test: not asked
        if endpoint.parent is None:
            if not endpoint_is_list(endpoint):
                total += 1
                continue
            rows = len(_route_rows(org, endpoint))
            total += listing_requests(
                sb, endpoint.path, rows, page_size, cursor=cursor, cursor_only=cursor_only
            )
            continue
        for parent_id in parents_of(org, endpoint, table):
            rows = len(_route_rows(org, endpoint, parent_id))
            path = _concrete(endpoint.path, parent_id)
            total += listing_requests(
                sb, path, rows, page_size, cursor=cursor, cursor_only=cursor_only
            )
    return total


tap_listing_requests = listing_requests
