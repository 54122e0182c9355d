"""The HTTP face of the sandbox: a standard-library threading server emulating the Reporting API.

Request pipeline for ``/v1/...``: scheduled fault → limits (daily quota, burst lockout, per
second, per minute) → authentication → 406 for non-JSON formats → 405 for non-GET → routing (404)
→ forbidden prefixes (403) → random fault → the ``Organization`` method of the route (404 for
unknown ids) → paging (see ``PagingRules``). ``/_sandbox/...`` requests are never counted,
limited or authenticated.

Cursor paging answers, by ``cursor_style`` (``varied``: one style per list template):
``header``, a bare array with an ``X-Next-Cursor`` header while more items follow; ``envelope``,
the envelope seen in production (NY Senate's client), ``{"data": [...], "pagination":
{"per_page": n, "next_cursor": "<id>" | null}}``, whose last page has ``next_cursor: null`` (a
cursor request that finds no rows answers a bare ``[]`` in that style, the other stop signal
that client checks); ``metadata``, ``{"data": [...], "_metadata": {"next_cursor": ...}}``;
``link``, a bare array with ``Link: <path?cursor=...>; rel="next"`` while more follow; ``links``,
``{"items": [...], "links": {"next": "<path?cursor=...>" | null}}``.
The ``Date`` header is the sandbox clock (``date_header="clock"``) or the wall clock.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import logging
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tap_knowbe4.sandbox.faults import ON_ANSWER, Faults, ScheduledFault
from tap_knowbe4.sandbox.limits import TOO_MANY, RateLimiter
from tap_knowbe4.sandbox.options import ENROLLMENTS, LIST_TEMPLATES, ServerOptions
from tap_knowbe4.sandbox.org import NotFound, Organization
from tap_knowbe4.sandbox.paging import (
    BadCursorError,
    PageRequest,
    PagingRules,
    parse_paging,
    strictly_increasing,
    window,
)
from tap_knowbe4.sandbox.rand import SALT_REQUEST_ID, mix
from tap_knowbe4.sandbox.routes import Route, keyword_args, match
from tap_knowbe4.sandbox.stats import Stats
from tap_knowbe4.sandbox.times import iso_z

logger = logging.getLogger("tap_knowbe4.sandbox")

UNMATCHED = "(unmatched)"
LISTING_CACHE_ITEMS = 100_000
JSON_TYPES = ("*/*", "application/*", "application/json", "text/json", "application/vnd.api+json")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON, as the real API sends it."""
    return _encode(value).encode()


@dataclass
class Reply:
    """What to answer: status, body, extra headers, and how (normal, drop or truncate)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    action: str = "send"
    stat: str | None = None

    @classmethod
    def message(cls, status: int, text: str, **kwargs: Any) -> Reply:
        """A JSON ``{"message": text}`` reply."""
        return cls(status, dumps({"message": text}), **kwargs)


@dataclass
class Listing:
    """A list endpoint's full answer, pre-serialized item by item."""

    keys: list[Any]
    items: list[bytes]
    #: False when a key is listed more than once (cursors are positions then).
    ordered: bool = True


class SandboxApp:
    """Everything behind the socket: state, pipeline and the sandbox's own endpoints."""

    def __init__(self, org: Organization, options: ServerOptions) -> None:
        self.org = org
        self.options = options
        quota = options.daily_quota
        if quota is None:
            quota = 2000 + org.number_of_seats
        if options.limits:
            self.limiter = RateLimiter(
                options.per_second, options.per_minute, quota, lockout=options.lockout_seconds
            )
        else:
            self.limiter = RateLimiter(0, 0, 0)
        self.paging = paging_rules(options)
        self.faults = Faults(org.ctx.seed, options.fault_rate)
        self.stats = Stats()
        self.quirks = frozenset(options.quirks) | org.ctx.quirks
        self._seq_lock = threading.Lock()
        self._api_seq = 0
        self._control_seq = 0
        #: (API request number, action): actions run just before that request is answered.
        self._actions: list[tuple[int, Callable[[], object]]] = []
        #: [path, requests to it still to come, action]: ``before_request_to``.
        self._path_actions: list[list[Any]] = []
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], Listing] = OrderedDict()
        self._cache_items = 0
        self._cache_version = org.version

    # ------------------------------------------------------------------ sandbox controls
    def reset(self) -> None:
        """Clear counters, limit windows and quota (scheduled faults stay)."""
        self.stats.reset()
        self.limiter.reset()

    def stats_document(self) -> dict[str, Any]:
        """The ``GET /_sandbox/stats`` document."""
        clock = iso_z(self.org.now_epoch)
        return self.stats.snapshot(self.limiter.quota(), clock)

    def date(self) -> str | None:
        """The ``Date`` header (``None``: the wall clock, as ``http.server`` formats it)."""
        if self.options.date_header == "clock":
            return email.utils.formatdate(self.org.now_epoch, usegmt=True)
        return None

    def request_id(self, number: int, control: bool) -> str:
        """Deterministic uuid4-shaped request id from the seed and the request number."""
        salt = SALT_REQUEST_ID + (1 << 20 if control else 0)
        value = (mix(self.org.ctx.seed, salt, number) << 64) | mix(
            self.org.ctx.seed, salt, number, 1
        )
        return str(uuid.UUID(int=value, version=4))

    def next_number(self, control: bool) -> int:
        """Number the next API (or control) request, 1-based."""
        with self._seq_lock:
            if control:
                self._control_seq += 1
                return self._control_seq
            self._api_seq += 1
            return self._api_seq

    def after_requests(self, count: int, action: Callable[[], object]) -> None:
        """Run ``action`` before answering the ``count``-th API request from now."""
        if int(count) < 1:
            raise ValueError("count must be at least 1")
        with self._seq_lock:
            self._actions.append((self._api_seq + int(count), action))

    def before_request_to(
        self, path: str, nth: int, action: Callable[[dict[str, str]], object]
    ) -> None:
        """Run ``action(query)`` before answering the ``nth`` request to exactly ``path``.

        Requests count from now: ``nth`` 3 on ``/v1/users`` is between its pages 2 and 3.
        """
        if int(nth) < 1:
            raise ValueError("nth must be at least 1")
        with self._seq_lock:
            self._path_actions.append([path, int(nth), action])

    def _due_path_actions(self, path: str) -> list[Callable[[dict[str, str]], object]]:
        due = []
        with self._seq_lock:
            for entry in self._path_actions:
                if entry[0] == path:
                    entry[1] -= 1
                    if entry[1] == 0:
                        due.append(entry[2])
            self._path_actions = [e for e in self._path_actions if e[1] > 0]
        return due

    def _due_actions(self, number: int) -> list[Callable[[], object]]:
        with self._seq_lock:
            due = [a for a in self._actions if a[0] <= number]
            self._actions = [a for a in self._actions if a[0] > number]
        return [action for _, action in sorted(due, key=lambda a: a[0])]

    def control(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        """Answer ``/_sandbox/...``: stats, clock, reset, advance, faults."""
        name = path[len("/_sandbox") :].strip("/")
        if method == "GET" and name == "stats":
            return Reply(200, dumps(self.stats_document()))
        if method == "GET" and name == "clock":
            return Reply(200, dumps({"clock": iso_z(self.org.now_epoch)}))
        if method == "GET" and name == "faults":
            return Reply(200, dumps({"scheduled": self.faults.pending()}))
        if method == "POST" and name == "reset":
            self.reset()
            return Reply(200, dumps({"reset": True, "clock": iso_z(self.org.now_epoch)}))
        if method == "POST" and name == "advance":
            try:
                days = float(query.get("days", "0"))
                seconds = int(query.get("seconds", "0"))
                self.org.advance(days=days, seconds=seconds)
            except ValueError as exc:
                return Reply.message(400, str(exc))
            return Reply(200, dumps({"clock": iso_z(self.org.now_epoch)}))
        if method == "POST" and name == "faults":
            try:
                spec = json.loads(body or b"{}")
                fault = self.faults.inject(
                    spec["kind"],
                    spec.get("path_prefix"),
                    spec.get("count", 1),
                    spec.get("retry_after"),
                )
            except (KeyError, TypeError, ValueError) as exc:
                return Reply.message(400, f"Bad fault specification: {exc}")
            return Reply(200, dumps({"scheduled": fault.to_dict()}))
        if method == "DELETE" and name == "faults":
            self.faults.clear()
            return Reply(200, dumps({"scheduled": []}))
        return Reply.message(404, "Not Found")

    # ------------------------------------------------------------------ API pipeline
    def api(
        self, method: str, path: str, query: dict[str, str], headers: Any, number: int
    ) -> tuple[Reply, str]:
        """Run the API pipeline for one request; returns the reply and its endpoint template."""
        for action in self._due_actions(number):
            action()
        for path_action in self._due_path_actions(path.removesuffix(".json")):
            path_action(query)
        found = match(path.removesuffix(".json"))
        template = found[0].template if found else UNMATCHED
        fault = self.faults.take(path)
        if fault is not None:
            self.stats.fault("injected")
            if fault.kind not in ("slow", "truncate"):
                self.limiter.admit(enforce=False)
                return self._injected(fault), template
            if fault.kind == "slow":
                time.sleep(fault.retry_after if fault.retry_after is not None else 1.0)
        reply = self._pipeline(
            method=method, path=path, query=query, headers=headers, number=number, found=found
        )
        if fault is not None and fault.kind == "truncate" and reply.status == 200:
            reply.action = "truncate"
        return reply, template

    def _pipeline(
        self,
        *,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Any,
        number: int,
        found: tuple[Route, tuple[str, ...]] | None,
    ) -> Reply:
        rejection = self.limiter.admit()
        if rejection is not None:
            self.stats.limited(rejection.limit)
            retry = []
            if self.options.retry_after:
                retry.append(("Retry-After", str(rejection.retry_after)))
            return Reply.message(429, rejection.message, headers=retry)
        if not self._authorized(headers.get("Authorization")):
            return Reply.message(200 if self.options.invalid_token_200 else 401, "Invalid Token")
        if not self._json_acceptable(headers.get("Accept"), path, query):
            return Reply.message(406, "Incorrect Response Format Requested")
        if method != "GET":
            return Reply.message(405, "Method Not Allowed", headers=[("Allow", "GET")])
        if found is None:
            return Reply.message(404, "Not Found")
        if any(path.startswith(prefix) for prefix in self.options.forbidden_prefixes):
            return Reply.message(403, "Forbidden")
        kind = self.faults.random_fault(number)
        if kind is not None:
            self.stats.fault(kind)
            return self._random_fault(kind, found[0], found[1], query)
        return self._answer(found[0], found[1], query)

    def _injected(self, fault: ScheduledFault) -> Reply:
        kind = fault.kind
        if kind == "429":
            headers = []
            if fault.retry_after is not None:
                headers.append(("Retry-After", str(max(0, round(fault.retry_after)))))
            return Reply.message(429, TOO_MANY, headers=headers)
        if kind == "drop":
            return Reply(0, action="drop", stat="drop")
        text = {
            "500": "Internal Server Error",
            "502": "Bad Gateway",
            "503": "Service Unavailable",
            "401": "Invalid Token",
            "403": "Forbidden",
            "404": "Not Found",
        }[kind]
        return Reply.message(int(kind), text)

    def _random_fault(
        self, kind: str, route: Route, args: tuple[str, ...], query: dict[str, str]
    ) -> Reply:
        if kind == "drop":
            return Reply(0, action="drop", stat="drop")
        if kind == "truncate":
            reply = self._answer(route, args, query)
            reply.action = "truncate"
            return reply
        text = {"500": "Internal Server Error", "502": "Bad Gateway", "503": "Service Unavailable"}
        return Reply.message(int(kind), text[kind])

    def _authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer:" and "bearer-colon" in self.quirks:
            scheme = "bearer"
        return scheme == "bearer" and token.strip() == self.options.api_key

    @staticmethod
    def _json_acceptable(accept: str | None, path: str, query: dict[str, str]) -> bool:
        fmt = query.get("format")
        if fmt is not None and fmt.lower() != "json":
            return False
        last = path.rsplit("/", 1)[-1]
        if "." in last and not last.endswith(".json"):
            return False
        if not accept or not accept.strip():
            return True
        for part in accept.split(","):
            media, *params = (p.strip() for p in part.split(";"))
            q = 1.0
            for param in params:
                if param.startswith("q="):
                    try:
                        q = float(param[2:])
                    except ValueError:
                        q = 0.0
            if q > 0 and media.lower() in JSON_TYPES:
                return True
        return False

    # ------------------------------------------------------------------ answering
    def _answer(self, route: Route, raw_args: tuple[str, ...], query: dict[str, str]) -> Reply:
        try:
            args = tuple(int(a) for a in raw_args)
        except ValueError:
            return Reply.message(404, "Not Found")
        kwargs = keyword_args(route, query)
        try:
            if not route.is_list:
                body = dumps(getattr(self.org, route.method)(*args, **kwargs))
                if "by-id-array" in self.quirks and route.method != "account":
                    body = b"[" + body + b"]"
                return Reply(200, body)
            rules, template = self.paging, route.template
            listing = self._listing(route, args, kwargs)
            if template in rules.unpaginated:
                return Reply(200, b"[" + b",".join(listing.items) + b"]")
            cap = rules.cap(template, exclude_percentages=bool(kwargs.get("exclude_percentages")))
            mode = self.options.pagination if template in rules.cursor_templates else "page"
            style = rules.style(template)
            return self._page(listing, parse_paging(query, mode, cap), style, template)
        except NotFound as exc:
            return Reply.message(404, str(exc))
        except BadCursorError as exc:
            return Reply.message(400, str(exc))

    def _listing(self, route: Route, args: tuple[int, ...], kwargs: dict[str, object]) -> Listing:
        key = (route.method, args, tuple(sorted(kwargs.items())))
        version = self.org.version
        with self._cache_lock:
            if self._cache_version != version:
                self._cache.clear()
                self._cache_items, self._cache_version = 0, version
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        records = getattr(self.org, route.method)(*args, **kwargs)
        field_name = str(route.key)
        keys = [r[field_name] if field_name in r else r.get("id") for r in records]  # legacy id
        listing = Listing(keys, [dumps(r) for r in records], strictly_increasing(keys))
        with self._cache_lock:
            if self._cache_version == version and key not in self._cache:
                self._cache[key] = listing
                self._cache_items += len(listing.items)
                while self._cache_items > LISTING_CACHE_ITEMS and len(self._cache) > 1:
                    _, old = self._cache.popitem(last=False)
                    self._cache_items -= len(old.items)
        return listing

    def _page(self, listing: Listing, req: PageRequest, style: str, path: str) -> Reply:
        start, end, next_cursor = window(listing.keys, req, ordered=listing.ordered)
        rows = b"[" + b",".join(listing.items[start:end]) + b"]"
        if not req.cursor_mode:
            return Reply(200, rows)
        if next_cursor and self.faults.take(path, ON_ANSWER) is not None:
            self.stats.fault("forget-cursor")  # the page as it is, its next cursor left out
            if style in ("envelope", "metadata"):
                return Reply(200, b'{"data":' + rows + b"}")
            if style == "links":
                return Reply(200, b'{"items":' + rows + b"}")
            return Reply(200, rows)
        link = f"{path}?{urlencode({'cursor': next_cursor, 'per_page': req.per_page})}"
        if style == "envelope":
            if start >= end:
                return Reply(200, b"[]")
            tail = dumps({"per_page": req.per_page, "next_cursor": next_cursor})
            return Reply(200, b'{"data":' + rows + b',"pagination":' + tail + b"}")
        if style == "metadata":
            tail = dumps({"next_cursor": next_cursor})
            return Reply(200, b'{"data":' + rows + b',"_metadata":' + tail + b"}")
        if style == "links":
            tail = dumps({"next": link if next_cursor else None})
            return Reply(200, b'{"items":' + rows + b',"links":' + tail + b"}")
        if style == "link":
            headers = [("Link", f'<{link}>; rel="next"')] if next_cursor else []
            return Reply(200, rows, headers=headers)
        headers = [("X-Next-Cursor", next_cursor)] if next_cursor else []
        return Reply(200, rows, headers=headers)


class _Handler(BaseHTTPRequestHandler):
    """Translates HTTP exchanges to ``SandboxApp`` calls and writes the replies."""

    protocol_version = "HTTP/1.1"
    server_version = "KnowBe4Sandbox/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._dispatch("POST")

    def do_PUT(self) -> None:
        """Dispatch a PUT."""
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        """Dispatch a PATCH."""
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        """Dispatch a DELETE."""
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        """Dispatch a HEAD (answered 405 on the API, without a body)."""
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        """Dispatch an OPTIONS."""
        self._dispatch("OPTIONS")

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr logging (requests are logged at debug level)."""

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        path = parts.path or "/"
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        control = path == "/_sandbox" or path.startswith("/_sandbox/")
        number = app.next_number(control)
        request_id = app.request_id(number, control)
        template: str | None = None
        try:
            if control:
                reply = app.control(method, path, query, body)
            else:
                reply, template = app.api(method, path, query, self.headers, number)
                if app.options.latency_ms:
                    time.sleep(app.options.latency_ms / 1000.0)
        except Exception:  # a sandbox bug must not look like a network failure
            logger.exception("sandbox error answering %s %s", method, self.path)
            reply = Reply.message(500, "Internal Server Error (sandbox bug)")
        if template is not None:
            app.stats.record(template, reply.stat or str(reply.status))
        if reply.action == "drop":
            self.close_connection = True
            self._log(method, path, "drop", started, request_id)
            return
        self._write(reply, request_id, started, head_only=method == "HEAD")
        self._log(method, path, str(reply.status), started, request_id)

    def _write(self, reply: Reply, request_id: str, started: float, head_only: bool) -> None:
        body = reply.body
        if reply.action == "truncate":
            body = body[: len(body) // 2]
        etag = hashlib.blake2b(body, digest_size=16).hexdigest()
        phrase = HTTPStatus(reply.status).phrase
        lines = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Date: {self.server.app.date() or self.date_time_string()}",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}",
            "Cache-Control: no-cache, no-store",
            "Pragma: no-cache",
            "Expires: Fri, 01 Jan 1990 00:00:00 GMT",
            f'ETag: W/"{etag}"',
            f"X-Request-Id: {request_id}",
            f"X-Runtime: {time.perf_counter() - started:.6f}",
            "Vary: Origin",
        ]
        lines += [f"{name}: {value}" for name, value in reply.headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if head_only else head + body)

    def _log(self, method: str, path: str, status: str, started: float, request_id: str) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %s %.1fms %s", method, self.path, status, elapsed, request_id)


#: Where a probe connects to reach a server bound to every interface.
LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 (a lookup)


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its app and closes idle keep-alive sockets on stop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Condition()
        #: Probes ``wait_closed`` sends through the listen backlog: their address -> accepted.
        self._probes: dict[Any, bool] = {}
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection, then serve it in a thread."""
        with self._conn_lock:
            self._connections.add(request)
            if client_address in self._probes:
                self._probes[client_address] = True
                self._conn_lock.notify_all()
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a finished connection."""
        with self._conn_lock:
            self._connections.discard(request)
            self._conn_lock.notify_all()
        super().shutdown_request(request)

    def wait_closed(self, timeout: float) -> bool:
        """Wait until every client connection is closed (each request on it counted).

        False when some are still open after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        if not self._drain_backlog(timeout):
            return False
        with self._conn_lock:
            left = max(0.0, deadline - time.monotonic())
            return self._conn_lock.wait_for(lambda: not self._connections, left)

    def _drain_backlog(self, timeout: float) -> bool:
        """Wait until every connection already made to the port is accepted (and tracked).

        A connection the kernel took but the serving loop has not accepted yet is in no set:
        a probe connection goes through the same FIFO backlog, so once it is accepted every
        earlier one is tracked too. True when the server is not listening any more.
        """
        bound, port = self.server_address[:2]
        host = str(bound)
        host = LOOPBACK.get(host, host)
        with socket.socket(self.socket.family, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            probe.bind((host, 0))
            peer = probe.getsockname()
            with self._conn_lock:
                self._probes[peer] = False
            try:
                probe.connect((host, port))
            except OSError:
                with self._conn_lock:
                    self._probes.pop(peer, None)
                return True
            with self._conn_lock:
                accepted = self._conn_lock.wait_for(lambda: self._probes[peer], timeout)
                self._probes.pop(peer, None)
        return accepted

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client went away mid-exchange (or similar): log at debug level instead of stderr."""
        logger.debug("connection error from %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut down every open client connection (wakes idle keep-alive handler threads)."""
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def paging_rules(options: ServerOptions) -> PagingRules:
    """The paging rules ``options`` give the server."""
    if options.pagination == "page":
        cursor: frozenset[str] = frozenset()
    elif options.cursor_scope == "all":
        cursor = LIST_TEMPLATES
    else:
        cursor = frozenset({ENROLLMENTS})
    return PagingRules(
        pagination=options.pagination,
        cursor_style=options.cursor_style,
        list_templates=LIST_TEMPLATES,
        cursor_templates=cursor,
        caps=dict(options.per_page_caps),
        unpaginated=frozenset(options.unpaginated),
    )


def make_server(app: SandboxApp, host: str, port: int) -> SandboxHTTPServer:
    """Bind a server for ``app`` (port 0 picks a free port)."""
    return SandboxHTTPServer((host, port), app)
