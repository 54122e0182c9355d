"""A tiny scripted HTTP server on loopback: answers what a broken proxy or a bad day would.

``HostileServer(handler)`` calls ``handler(request) -> Answer`` for every request and writes
the answer byte by byte as told (status, headers, body, a pause between chunks, a dropped
connection). Requests are recorded (path, query, headers) for assertions.

    def answer(request):
        if request.path == "/v1/users":
            return Answer(200, json.dumps([...]))
        return Answer(404, '{"message": "Not Found"}')

    with HostileServer(answer) as server:
        config = {"api_url": server.url, ...}
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tap_knowbe4.sandbox.serving import ServingThread


@dataclasses.dataclass
class Request:
    """One request the server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_query: str = ""
    #: Body bytes written to the client so far (a client that hangs up stops the count).
    body_sent: int = 0


@dataclasses.dataclass
class Answer:
    """What to send back."""

    status: int = 200
    body: bytes | str | t.Any = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Send the body in chunks of this many bytes, pausing ``pause`` seconds between them.
    chunk: int = 0
    pause: float = 0.0
    #: Close the connection after this many body bytes (a dropped connection).
    drop_after: int | None = None
    #: Declare this Content-Length instead of the real one.
    content_length: int | None = None

    def payload(self) -> bytes:
        """The body as bytes (objects are sent as JSON)."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def json_answer(value: t.Any, status: int = 200, **headers: str) -> Answer:
    """A JSON answer."""
    return Answer(status, json.dumps(value), {"Content-Type": "application/json", **headers})


class HostileServer:
    """A threaded HTTP/1.1 server whose every answer comes from ``handler``."""

    def __init__(self, handler: t.Callable[[Request], Answer]) -> None:
        """Serve ``handler`` on a free loopback port once started."""
        self.handler = handler
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._serving: ServingThread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HostileServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: t.Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                request = Request(parts.path, query, dict(self.headers), parts.query)
                outer.requests.append(request)
                answer = outer.handler(request)
                body = answer.payload()
                self.send_response_only(answer.status)
                length = answer.content_length if answer.content_length is not None else len(body)
                headers = {"Content-Type": "application/json", **answer.headers}
                if "Transfer-Encoding" not in headers:
                    headers.setdefault("Content-Length", str(length))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(OSError):
                    self._send_body(answer, body, request)

            def _send_body(self, answer: Answer, body: bytes, request: Request) -> None:
                limit = len(body) if answer.drop_after is None else answer.drop_after
                step = answer.chunk or len(body) or 1
                sent = 0
                while sent < limit:
                    piece = body[sent : min(sent + step, limit)]
                    self.wfile.write(piece)
                    self.wfile.flush()
                    sent += len(piece)
                    request.body_sent = sent
                    if answer.pause and sent < limit:
                        time.sleep(answer.pause)
                if answer.drop_after is not None:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._serving = ServingThread(self._server, name="hostile-server")
        self._serving.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        assert self._serving is not None
        self._serving.stop()
        self._server.server_close()


def hostile_config(server: HostileServer, **overrides: t.Any) -> dict[str, t.Any]:
    """A tap config against ``server``: no pacing, quick retries, no shared ledger, every
    opt-in stream on."""
    from tests.conftest import every_opt_in  # noqa: PLC0415 - the tap's table, when called

    config = {
        "api_key": "kb4-hostile-SECRET-9f8e7d6c5b4a",
        "api_url": server.url,
        "requests_per_second": 0,
        "requests_per_minute": 0,
        "max_retries": 2,
        "max_retry_wait_seconds": 0.05,
        "request_timeout_seconds": 5,
        "budget_ledger": False,
        "page_size": 2,
        **every_opt_in(),
    }
    config.update(overrides)
    return config


def users(ids: t.Iterable[int]) -> list[dict[str, t.Any]]:
    """Minimal user records."""
    return [{"id": i, "email": f"u{i}@example.com", "status": "active"} for i in ids]
