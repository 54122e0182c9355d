"""The Python face: ``Sandbox``, a context manager serving the emulator from a thread.

Example::

    from tap_knowbe4.sandbox import Sandbox

    with Sandbox(users=250, seed=1, limits=False) as sb:
        requests.get(sb.base_url + "/v1/users", headers={"Authorization": f"Bearer {sb.api_key}"})
        sb.advance(days=7)
        assert sb.stats()["requests"] == 1

Profiles: ``Sandbox(profile="tidy" | "documented" | "hostile", **overrides)``; ``documented`` is
the default and ``options.PROFILES`` lists what each sets. Ground truth (``sb.org.<method>()``)
always answers what the endpoint returns under the active profile, odd values included.

Minimum requests without re-implementing the server: ``sb.paging`` (a ``PagingRules``) tells which
list templates page by cursor (``cursor_templates``, ``pages_by_cursor(path)``), their caps
(``cap(path)``, ``page_size(path, per_page)``), which ignore paging (``unpaginated``,
``is_unpaginated(path)``), and computes ``min_requests(path, rows, per_page, cursor=...)``::

    rules = sb.paging
    users = len(sb.org.users())
    rules.min_requests("/v1/users", users, 500)                     # page numbers: rows // 500 + 1
    rules.min_requests("/v1/training/enrollments", n, 500, cursor=True)   # ceil(n / 500), >= 1
    rules.min_requests(f"/v1/users/{uid}/risk_score_history", k)    # 1 when unpaginated
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from tap_knowbe4.sandbox.options import DEFAULT_PROFILE, server_options, split_options
from tap_knowbe4.sandbox.org import Organization
from tap_knowbe4.sandbox.paging import PagingRules
from tap_knowbe4.sandbox.server import SandboxApp, SandboxHTTPServer, make_server
from tap_knowbe4.sandbox.serving import ServingThread


class Sandbox:
    """A running KnowBe4 Reporting API emulator on a loopback port (every option is a keyword).

    The organization is built in the constructor; ``start()`` (or ``with``) binds the port and
    serves in a daemon thread; ``stop()`` (or leaving the ``with`` block) shuts it down.
    """

    def __init__(self, profile: str = DEFAULT_PROFILE, **options: Any) -> None:
        org_options, self.server_options = split_options(profile, **options)
        self.profile = profile
        self.org = Organization(org_options)
        self.app = SandboxApp(self.org, self.server_options)
        self._server: SandboxHTTPServer | None = None
        self._serving: ServingThread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Bind and start serving in a background thread; returns ``self``."""
        if self._server is None:
            opts = self.server_options
            self._server = make_server(self.app, opts.host, opts.port)
            self._serving = ServingThread(self._server, name="knowbe4-sandbox")
            self._serving.start()
        return self

    def stop(self) -> None:
        """Stop serving, close client connections and release the port."""
        server, self._server = self._server, None
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()
        if server is not None:
            server.close_connections()
            server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ what tests use
    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server (API paths are ``base_url + "/v1/..."``)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; use start() or a with block")
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):  # pragma: no cover - AF_UNIX only
            host = host.decode()
        if ":" in str(host):
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def api_key(self) -> str:
        """The API key the sandbox accepts."""
        return self.server_options.api_key

    @property
    def now(self) -> datetime:
        """The sandbox clock (timezone-aware UTC)."""
        return self.org.now

    @property
    def paging(self) -> PagingRules:
        """How this server pages each list endpoint (cursor templates, caps, unpaginated ones)."""
        return self.app.paging

    def stats(self) -> dict[str, Any]:
        """Same document as ``GET /_sandbox/stats``."""
        return self.app.stats_document()

    def wait_closed(self, timeout: float = 30.0) -> None:
        """Wait until every client has closed its connection, so its requests are counted.

        A client killed mid-request leaves that request to be answered (and counted) by a
        server thread after it died; call this before :meth:`stats` or :meth:`reset` to count
        it where it belongs. Raises ``TimeoutError`` when connections stay open.
        """
        if self._server is not None and not self._server.wait_closed(timeout):
            raise TimeoutError(f"client connections still open after {timeout:g} s")

    def reset(self) -> None:
        """Same as ``POST /_sandbox/reset``: clear counters, limit windows and quota."""
        self.app.reset()

    def advance(self, days: float = 0.0, seconds: int = 0) -> datetime:
        """Same as ``POST /_sandbox/advance?days=N``: move the clock; returns the new clock."""
        return self.org.advance(days=days, seconds=seconds)

    def inject(
        self,
        kind: str,
        path_prefix: str | None = None,
        count: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Same as ``POST /_sandbox/faults``: the next ``count`` matching requests get ``kind``."""
        self.app.faults.inject(kind, path_prefix, count, retry_after)

    def clear_faults(self) -> None:
        """Drop every scheduled fault not yet consumed."""
        self.app.faults.clear()

    def after_requests(self, count: int, action: Callable[[], object]) -> None:
        """Call ``action()`` just before the ``count``-th API request from now is answered.

        It runs in the thread serving that request, before faults, limits and the answer,
        so ``advance`` there changes what that request (and every later one) sees. Drives
        events that must happen at an exact point of a client's run (a clock move, a
        signal to the client).
        """
        self.app.after_requests(count, action)

    def before_request_to(
        self, path: str, nth: int, action: Callable[[dict[str, str]], object]
    ) -> None:
        """Call ``action(query)`` before the ``nth`` request to exactly ``path`` is answered.

        ``path`` is a list (``/v1/users``, not its sub-paths); requests count from now, and
        ``action`` gets that request's query. Like :meth:`after_requests`, it runs in the
        serving thread before faults, limits and the answer: ``nth`` 3 on a list moves the
        clock between its second and third page.
        """
        self.app.before_request_to(path, nth, action)

    def reconfigure(
        self,
        org: Organization | None = None,
        profile: str | None = None,
        **options: Any,
    ) -> None:
        """Serve ``org`` (default: the current one) with new server options, same address.

        ``options`` are server options (``api_key``, ``pagination``, ``retry_after``, ...)
        over ``profile`` (default: this sandbox's profile); organization options are not
        accepted (build another ``Organization`` and pass it). Counters, limit windows,
        scheduled faults and pending ``after_requests`` actions start afresh. Connections
        already open keep being served by the new configuration.
        """
        profile = self.profile if profile is None else profile
        host, port = self.server_options.host, self.server_options.port
        self.server_options = server_options(profile, host=host, port=port, **options)
        self.profile = profile
        if org is not None:
            self.org = org
        self.app = SandboxApp(self.org, self.server_options)
        if self._server is not None:
            self._server.app = self.app
