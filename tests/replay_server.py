"""A loopback HTTP server that answers from recorded responses (for the recorded-EU test)."""

from __future__ import annotations

import contextlib
import json
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tap_knowbe4.sandbox.serving import ServingThread


@contextlib.contextmanager
def replay_server(
    routes: dict[str, t.Callable[[dict], object]], headers_seen: list | None = None
) -> t.Iterator[str]:
    """Serve ``routes`` (path -> function of the query dict returning a JSON body).

    Request headers are appended to ``headers_seen`` when given.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if headers_seen is not None:
                headers_seen.append(dict(self.headers))
            url = urlparse(self.path)
            route = routes.get(url.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            status, body = (200, route(query)) if route else (404, {"message": "Not Found"})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = ServingThread(server, name="replay-server")
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        serving.stop()
        server.server_close()
