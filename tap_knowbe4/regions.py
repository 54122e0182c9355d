"""KnowBe4 regions: which Reporting API host serves which console.

A Reporting API key only works against the region its account lives in. Users find their
region from the console address in their browser, so ``region`` accepts the region code,
the console host, or a console/API URL.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

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
    msg = (
        f"Unknown region {value!r}: use one of {valid}, or the console address you sign in "
        "at (training.knowbe4.com is us, eu.knowbe4.com is eu, ...)."
    )
    raise ConfigError(msg)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(region: str | None, api_url: str | None) -> str:
    """Return the API base URL (no trailing slash) from ``api_url`` or ``region``.

    ``api_url`` must be https unless its host is loopback (the local sandbox).
    """
    if not api_url:
        return API_BASE_URLS[resolve_region(region)]
    parsed = urlparse(api_url.strip())
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        msg = f"api_url must be an http(s) URL such as https://eu.api.knowbe4.com, got {api_url!r}."
        raise ConfigError(msg)
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        msg = (
            "api_url must use https unless it points at this machine (127.0.0.1/localhost); "
            f"plain http to {parsed.hostname} would send the API key unencrypted."
        )
        raise ConfigError(msg)
    return api_url.strip().rstrip("/")
