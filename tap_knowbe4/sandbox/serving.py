"""Serve a ``socketserver`` server from a daemon thread, and stop it the moment it is asked.

``serve_forever`` notices ``shutdown()`` only when its ``select`` times out: every stop waited
out the poll interval (0.5 s by default, the 0.05 s the sandbox used), and the tests stop a
server about a hundred times a run. Here the serving loop also watches a socket that
:meth:`ServingThread.stop` writes to, so it ends at once; requests are handled exactly as
``serve_forever`` handles them (``handle_request`` on a ready listening socket).
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import threading


class ServingThread:
    """``server``'s serving loop in a daemon thread: :meth:`start`, :meth:`stop`, again.

    Stopping leaves the listening socket open (connections wait in its backlog until the
    loop is started again or the owner calls ``server_close()``).
    """

    def __init__(self, server: socketserver.TCPServer, name: str = "serving") -> None:
        self.server = server
        self.name = name
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None

    def start(self) -> None:
        """Serve in a new daemon thread (nothing when already serving)."""
        if self._thread is not None:
            return
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve, args=(self._wake[0],), name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the serving loop now and wait (up to ``timeout`` s) for its thread."""
        thread, wake = self._thread, self._wake
        self._thread = self._wake = None
        if thread is None or wake is None:
            return
        wake[1].send(b"x")
        thread.join(timeout)
        for sock in wake:
            sock.close()

    def _serve(self, wake: socket.socket) -> None:
        server = self.server
        server.timeout = 0  # handle_request only accepts what select found ready
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _events in selector.select()}
                if wake in ready:
                    return
                server.handle_request()
                server.service_actions()
