"""Exceptions with messages meant for the person running the tap.

Every message is one readable line that says what failed and what to do. None of them
ever contains the API key or a response body (bodies can carry personal data); they name
the endpoint and the server's request id instead, and pass the redaction step anyway.
"""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError


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
    """Any other answer that is not retried (a 4xx, a redirect) and ends the stream."""

    #: The HTTP status of the answer.
    status: int = 0


class InvalidResponseError(RetriableAPIError):
    """A 200 whose body is not what the endpoint answers (retried, then the stream fails)."""


class TLSVerificationError(KnowBe4Error):
    """The server's certificate could not be verified (never retried, never ignored)."""


class GaveUpError(KnowBe4Error):
    """A request still failed after every retry; the state lets the next run resume."""


class BudgetExhaustedError(KnowBe4Error):
    """The daily budget, the API's quota or the per-run cap is used up: a clean stop."""


class BatchWriteError(KnowBe4Error):
    """A stream's records could not be written to a BATCH file: the stream fails."""


class StopRunError(Exception):
    """Raised inside a request when the run has been stopped; streams end quietly."""


class TerminationRequestedError(BaseException):
    """SIGTERM or SIGINT: unwind at once (never caught by library ``except Exception``)."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        """Remember which signal arrived and the exit code it asks for."""
        super().__init__(f"{signal_name} received")
        self.signal_name = signal_name
        self.exit_code = exit_code
