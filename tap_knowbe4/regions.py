"""KnowBe4 regions: which Reporting API host serves which console.

A Reporting API key only works against the region its account lives in. Users find their
region from the console address in their browser, so ``region`` accepts the region code,
the console host, or a console/API URL.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from tap_knowbe4.errors import ConfigError

#: Region code -> Reporting API base URL (reference §1.1).
API_BASE_URLS: dict[str, str] = {
    "us": "https://us.api.knowbe4.com",
    "eu": "https://eu.api.knowbe4.com",
    "ca": "https://ca.api.knowbe4.com",
    "uk": "https://uk.api.knowbe4.com",
    "de": "https://de.api.knowbe4.com",
}

#: Console (web app) hosts whose first label is not the region code.
_CONSOLE_ALIASES: dict[str, str] = {"training": "us"}

REGION_CODES: tuple[str, ...] = tuple(API_BASE_URLS)


def resolve_region(value: str | None) -> str:
    """Return the region code for a code, console host or URL (case-insensitive).

    ``us``, ``EU``, ``training.knowbe4.com``, ``https://eu.knowbe4.com/ui/dashboard`` and
    ``eu.api.knowbe4.com`` are all understood. Anything else raises :class:`ConfigError`
    naming the valid values.
    """
    text = (value or "us").strip().lower()
    if text in API_BASE_URLS:
        return text
    host = urlparse(text if "//" in text else f"//{text}").hostname or ""
    labels = host.split(".")
    if len(labels) >= 3 and labels[-2:] == ["knowbe4", "com"]:
        first = _CONSOLE_ALIASES.get(labels[0], labels[0])
        if first in API_BASE_URLS:
            return first
    valid = ", ".join(REGION_CODES)
    given = f"text of {len(value)} characters" if value else "nothing"  # never echoed
    msg = (
        f"Unknown region ({given}): use one of {valid}, or the console address you sign in "
        "at (training.knowbe4.com is us, eu.knowbe4.com is eu, ...)."
    )
    raise ConfigError(msg)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bad_url(why: str) -> ConfigError:
    return ConfigError(
        f"api_url {why}; give scheme, host and optional port and path only, such as "
        "https://eu.api.knowbe4.com or http://127.0.0.1:8765 for the local sandbox."
    )


def resolve_base_url(region: str | None, api_url: str | None) -> str:
    """Return the API base URL (no trailing slash) from ``api_url`` or ``region``.

    ``api_url`` is read with the parser ``requests`` itself uses (urllib3's), so the host
    checked here is the host the key is sent to. It must be https unless that host is
    loopback (the local sandbox), and may not carry userinfo, a query, a fragment,
    backslashes, whitespace or an invalid port.
    """
    if not api_url:
        return API_BASE_URLS[resolve_region(region)]
    text = api_url.strip()
    if any(ch in text for ch in "\\ \t\r\n") or not text.isprintable():
        raise _bad_url("contains a backslash, whitespace or a control character")
    try:
        parsed = parse_url(text)
    except LocationParseError:
        raise _bad_url("is not a valid URL (check the host and port)") from None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise _bad_url("must be an http(s) URL with a host")
    if parsed.auth is not None or "@" in text:
        raise _bad_url("may not contain a user name or password")
    if parsed.query is not None or parsed.fragment is not None or "?" in text or "#" in text:
        raise _bad_url("may not contain a query (?) or fragment (#)")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise _bad_url("has an invalid port")
    if "%" in parsed.host:
        raise _bad_url("has an escaped character in its host")
    segments = (parsed.path or "").strip("/").split("/")
    if "v1" in segments:  # the tap adds /v1/<endpoint>: /v1/v1/groups answered 404 every run
        raise _bad_url(
            "holds the API version (/v1), which the tap adds itself: give the address without it"
        )
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        msg = (
            "api_url must use https unless it points at this machine (127.0.0.1/localhost); "
            f"plain http to {parsed.host} would send the API key unencrypted."
        )
        raise ConfigError(msg)
    return text.rstrip("/")
