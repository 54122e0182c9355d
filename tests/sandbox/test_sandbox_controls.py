"""Controls a simulation needs: serve another account or options on the same port, and act
at an exact request (``Sandbox.reconfigure``, ``Sandbox.after_requests``)."""

from __future__ import annotations

import socket

import pytest
import requests

from tap_knowbe4.sandbox import Organization, Sandbox


def _get(sb: Sandbox, path: str, key: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key or sb.api_key}"}
    return requests.get(sb.base_url + path, headers=headers, timeout=10)


def test_reconfigure_serves_another_account_and_key_on_the_same_port():
    with Sandbox(users=10, seed=3, limits=False) as sb:
        url, first = sb.base_url, _get(sb, "/v1/account").json()
        other = Organization(seed=4, users=12)
        sb.reconfigure(org=other, api_key="kb4-another-account-key")
        assert sb.base_url == url
        assert _get(sb, "/v1/account").status_code == 200
        assert (
            _get(sb, "/v1/account", key="kb4-sandbox-demo-key-0000000000000000").status_code == 401
        )
        assert _get(sb, "/v1/account").json() == other.account() != first
        assert sb.stats()["requests"] == 3  # counters start afresh


def test_reconfigure_changes_server_options_over_the_profile():
    with Sandbox(users=10, seed=3, limits=False) as sb:
        sb.reconfigure(retry_after=True)
        sb.inject("429", retry_after=3)
        assert _get(sb, "/v1/users").headers["Retry-After"] == "3"
        with pytest.raises(TypeError, match="unknown server option"):
            sb.reconfigure(users=5)


def test_after_requests_acts_just_before_that_request_is_answered():
    seen = []
    with Sandbox(users=10, seed=3, limits=False) as sb:
        before = sb.now
        sb.after_requests(2, lambda: seen.append(sb.advance(days=1)))
        _get(sb, "/v1/account")
        assert not seen
        answer = _get(sb, "/v1/account")
        assert seen == [sb.now]
        assert (sb.now - before).days == 1
        assert answer.headers["Date"]  # answered after the move
        _get(sb, "/v1/account")
        assert len(seen) == 1  # once
        with pytest.raises(ValueError, match="at least 1"):
            sb.after_requests(0, lambda: None)


def test_before_request_to_acts_between_two_pages_of_one_list_only():
    """The simulation's deletion between two pages: sub-paths and other lists do not count."""
    seen: list[dict[str, str]] = []
    with Sandbox(users=10, seed=3, limits=False) as sb:
        sb.before_request_to("/v1/users", 2, seen.append)
        _get(sb, "/v1/users?page=1&per_page=3")
        _get(sb, "/v1/users/1/risk_score_history")
        _get(sb, "/v1/groups")
        assert not seen
        _get(sb, "/v1/users.json?page=2&per_page=3")
        assert seen == [{"page": "2", "per_page": "3"}]
        _get(sb, "/v1/users?page=3&per_page=3")
        assert len(seen) == 1  # once
        with pytest.raises(ValueError, match="at least 1"):
            sb.before_request_to("/v1/users", 0, seen.append)


def test_wait_closed_counts_the_request_of_a_client_that_died_in_it():
    """A client gone mid-request (a killed tap) is still answered and counted by a server
    thread afterwards; ``wait_closed`` returns once that happened, so a count read or reset
    after it belongs to the right run."""
    with Sandbox(users=10, seed=3, limits=False, latency_ms=50) as sb:
        host, port = sb.base_url.removeprefix("http://").rsplit(":", 1)
        with requests.Session() as alive:
            alive.headers["Authorization"] = f"Bearer {sb.api_key}"
            assert alive.get(sb.base_url + "/v1/account", timeout=10).status_code == 200
            with pytest.raises(TimeoutError, match="still open"):
                sb.wait_closed(timeout=0.05)  # a keep-alive connection stays open
        request = f"GET /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sb.api_key}\r\n\r\n"
        with socket.create_connection((host, int(port)), timeout=10) as dying:
            dying.sendall(request.encode())
        sb.wait_closed()
        assert sb.stats()["requests"] == 2


def test_wait_closed_sees_a_connection_the_server_has_not_accepted_yet():
    """A killed client's connection can still wait in the listen backlog when ``wait_closed``
    is called (a loaded machine): it is in no set yet, so the wait goes through the backlog
    with a probe connection of its own. Here the serving loop is paused while the client
    connects and dies, then resumed while ``wait_closed`` waits."""
    with Sandbox(users=10, seed=3, limits=False) as sb:
        serving = sb._serving  # the test pauses its serving loop: no public control does
        assert serving is not None
        host, port = sb.base_url.removeprefix("http://").rsplit(":", 1)
        serving.stop()  # stops accepting; the socket keeps listening
        request = f"GET /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sb.api_key}\r\n\r\n"
        with socket.create_connection((host, int(port)), timeout=10) as dying:
            dying.sendall(request.encode())
        with pytest.raises(TimeoutError, match="still open"):
            sb.wait_closed(timeout=0.2)  # not accepted: not closed either
        serving.start()
        sb.wait_closed()
        assert sb.stats()["requests"] == 1
