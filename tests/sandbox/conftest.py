"""Fixtures for the sandbox's own tests: running sandboxes and authenticated sessions."""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tap_knowbe4.sandbox import Sandbox

SMALL: dict[str, t.Any] = {"users": 120, "seed": 7, "limits": False}


def fetch_all(session: requests.Session, url: str, **params: Any) -> list[dict[str, Any]]:
    """Fetch every page of a list endpoint (page mode) until an empty page."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        resp = session.get(url, params={**params, "page": page, "per_page": 500}, timeout=30)
        assert resp.status_code == 200, resp.text
        rows = resp.json()
        assert isinstance(rows, list)
        if not rows:
            return out
        out += rows
        page += 1


def authed_session(sb: Sandbox) -> requests.Session:
    """A session sending the sandbox's key."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sb.api_key}"
    return s


@pytest.fixture(scope="session")
def get_all() -> Callable[..., list[dict[str, Any]]]:
    """``get_all(session, url, **params)``: every page of a list endpoint, concatenated."""
    return fetch_all


@pytest.fixture(scope="session")
def make_session() -> Callable[[Sandbox], requests.Session]:
    """``make_session(sb)``: a new session sending ``sb``'s key (close it, e.g. with ``with``)."""
    return authed_session


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A small sandbox shared by a module's read-only tests (clock never moved)."""
    with Sandbox(**SMALL) as sb:
        yield sb


@pytest.fixture
def session(sandbox: Sandbox) -> Iterator[requests.Session]:
    """An authenticated session against the module's sandbox."""
    with authed_session(sandbox) as s:
        yield s


@pytest.fixture
def api(sandbox: Sandbox) -> str:
    """The module sandbox's ``/v1`` base URL."""
    return sandbox.base_url + "/v1"
