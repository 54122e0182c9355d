"""The HTTP session every stream uses: each answer bounded in time and in size.

``requests``' timeout bounds each socket read, not the answer: a server that sends one byte
a second never trips it, and a gzip body that inflates to gigabytes is read whole. The
:class:`GuardedSession` therefore

* reads every body itself, in chunks, and refuses one that decodes to more than
  ``max_bytes`` (:class:`ResponseTooLargeError`, not retried);
* arms a watchdog for each request that shuts the connection's socket down when the
  whole exchange (headers and body) takes longer than ``deadline`` seconds; the request
  then fails with :class:`ResponseDeadlineError`, a timeout the SDK retries;
* never follows redirects (a redirect would send the request to a host the settings did
  not name; the stream reports it instead), and sends plain-http requests (loopback only)
  directly, never through a proxy named by the environment.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
import typing as t

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from tap_knowbe4.errors import KnowBe4Error

#: Far above any real page (500 recipients are about 0.5 MB) and far below trouble.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
CHUNK = 64 * 1024


class ResponseTooLargeError(KnowBe4Error):
    """The body (after decompression) is larger than any KnowBe4 answer can be."""


class ResponseDeadlineError(requests.exceptions.ReadTimeout):
    """The whole answer took longer than the request timeout (retried like a timeout)."""


def never_reached(exc: BaseException) -> bool:
    """True when ``exc`` says no request was sent: no connection could be made.

    The host's name did not resolve, the connection was refused or unreachable, or it timed
    out while connecting; or TLS could not be set up (no request goes out before it is).
    Such a failure is not a request spent against the API's quota.
    """
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or not exc.args:
        return False
    reason = getattr(exc.args[0], "reason", exc.args[0])  # urllib3's MaxRetryError wraps it
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class _Watch:
    """The connection in use for one request, and whether its deadline passed."""

    def __init__(self) -> None:
        self.connection: HTTPConnection | None = None
        self.expired = False
        self._lock = threading.Lock()
        self._done = False

    def expire(self) -> None:
        """Deadline: shut the socket down so the blocked read returns at once."""
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = getattr(self.connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                # the plain socket's shutdown: safe on a TLS socket from another thread
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def finish(self) -> None:
        """The request is over: a late deadline must not touch a reused connection."""
        with self._lock:
            self._done = True


_current = threading.local()


class Watchdog:
    """One thread that calls each armed callback once its deadline passed, unless disarmed.

    What ``threading.Timer`` does for one callback, for every request of the process: a
    thread started and stopped per request cost about a tenth of a page's CPU. The thread
    sleeps until the earliest deadline; a request that ends disarms its entry (no wake-up).
    It is started on first use in each process (a forked child starts its own).
    """

    def __init__(self) -> None:
        """No thread until the first :meth:`arm`."""
        self._serial = itertools.count()
        self.forget()
        os.register_at_fork(after_in_child=self.forget)

    def forget(self) -> None:
        """Nothing armed, no thread (a forked child: its parent's thread is not in it)."""
        self._lock = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, t.Callable[[], None]]] = []
        self._armed: set[int] = set()
        self._owner = 0  # the process whose thread runs (0: none yet)

    def arm(self, seconds: float, callback: t.Callable[[], None]) -> int:
        """Call ``callback`` in ``seconds`` (from the watchdog's thread); returns its handle."""
        due = time.monotonic() + seconds
        with self._lock:
            if self._owner != os.getpid():
                self._start()
            handle = next(self._serial)
            self._armed.add(handle)
            heapq.heappush(self._heap, (due, handle, callback))
            if self._heap[0][1] == handle:  # now the earliest: the thread sleeps less
                self._lock.notify()
            if len(self._heap) > 2 * len(self._armed) + 64:  # disarmed entries: let go
                self._heap = [entry for entry in self._heap if entry[1] in self._armed]
                heapq.heapify(self._heap)
        return handle

    def disarm(self, handle: int) -> None:
        """The callback of ``handle`` is not called (unless it already was)."""
        with self._lock:
            self._armed.discard(handle)

    def _start(self) -> None:
        self._owner = os.getpid()
        thread = threading.Thread(target=self._watch, name="request-deadlines", daemon=True)
        thread.start()

    def _watch(self) -> None:
        while True:
            with self._lock:
                heap = self._heap
                while heap and heap[0][1] not in self._armed:
                    heapq.heappop(heap)
                if not heap:
                    self._lock.wait()
                    continue
                wait = heap[0][0] - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                _, handle, callback = heapq.heappop(heap)
                self._armed.discard(handle)
            callback()  # outside the lock: it may take a socket's lock


#: The process's watchdog of request deadlines.
WATCHDOG = Watchdog()


class _Watched:
    """Tells this thread's deadline watch which connection the request uses."""

    def request(self, *args: t.Any, **kwargs: t.Any) -> None:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.connection = self
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose pools tell the watchdog which connection a request uses."""

    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


class GuardedSession(requests.Session):
    """A ``requests.Session`` whose answers are bounded in total time and decoded size."""

    def __init__(self, deadline: float, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        """Bound every exchange to ``deadline`` seconds and ``max_bytes`` of body."""
        super().__init__()
        self.deadline = deadline
        self.max_bytes = max_bytes
        adapter = _WatchedAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        """Send ``request``; read its body within the deadline and the size limit."""
        kwargs["stream"] = True
        kwargs["allow_redirects"] = False
        if (request.url or "").startswith("http://"):
            # plain http is allowed for loopback only: never through a proxy from the
            # environment (HTTP_PROXY, ALL_PROXY), which would carry the key in clear text
            kwargs["proxies"] = {}
        watch = _Watch()
        _current.watch = watch
        deadline = WATCHDOG.arm(self.deadline, watch.expire)
        try:
            response = super().send(request, **kwargs)
            self._read_body(response)
        except (requests.exceptions.RequestException, OSError):
            if watch.expired:
                msg = f"no complete answer within {self.deadline:g} s"
                raise ResponseDeadlineError(msg) from None
            raise
        finally:
            watch.finish()
            WATCHDOG.disarm(deadline)
            _current.watch = None
        if watch.expired:  # the deadline hit just as the last byte arrived
            msg = f"no complete answer within {self.deadline:g} s"
            raise ResponseDeadlineError(msg)
        return response

    def _read_body(self, response: requests.Response) -> None:
        declared = response.headers.get("Content-Length", "")
        # ASCII digits only (``isdigit`` takes "²"); 19 digits or more is too large anyway
        if (
            declared.isascii()
            and declared.isdigit()
            and (len(declared) > 18 or int(declared) > self.max_bytes)
        ):
            response.close()
            raise self._too_large()
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_content(CHUNK):
            total += len(chunk)
            if total > self.max_bytes:
                response.raw.close()
                raise self._too_large()
            chunks.append(chunk)
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]
        response.close()  # returns the connection to the pool

    def _too_large(self) -> ResponseTooLargeError:
        limit = self.max_bytes // (1024 * 1024)
        return ResponseTooLargeError(
            f"the server sent an answer larger than {limit} MB once decompressed, which no "
            "KnowBe4 endpoint does; check api_url (a proxy or a wrong host?)."
        )
