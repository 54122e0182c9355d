"""Exceptions with messages meant for the person running the tap.

Every message is one readable line that says what failed and what to do. None of them
ever contains the API key or a response body (bodies can carry personal data); they name
the endpoint and the server's ``X-Request-Id`` instead.
"""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class KnowBe4Error(Exception):
    """Base class for errors that end the run with one clear line and a non-zero exit."""


class ConfigError(KnowBe4Error):
    """The configuration is invalid; raised before any request is sent."""


class AuthenticationError(KnowBe4Error, FatalAPIError):
    """The API rejected the key (HTTP 401, or a 200 whose body says ``Invalid Token``)."""


class EndpointForbiddenError(FatalAPIError):
    """HTTP 403: the key may not read this endpoint; the stream is skipped, others go on."""


class ResourceGoneError(FatalAPIError):
    """HTTP 404 on a child endpoint: the parent vanished between two calls; it is skipped."""


class UnexpectedResponseError(KnowBe4Error, FatalAPIError):
    """Any other non-retriable answer (4xx) that ends the run."""


class TLSVerificationError(KnowBe4Error):
    """The server's certificate could not be verified (never retried, never ignored)."""


class GaveUpError(KnowBe4Error):
    """A request still failed after every retry; the state lets the next run resume."""
