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


class UnreachableError(KnowBe4Error):
    """No connection to the API could be made during a connection test (not retried)."""


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
        #: The one line the run ends with.
        self.line = f"Stopped by {signal_name}: the state written lets the next run resume."


#: Said of the state whenever the output failed: what the target got is what counts.
_RESUME = "the next run resumes from the last STATE the target received"


class OutputError(KnowBe4Error):
    """The tap's output (stdout, which the target reads) could not be written; nothing more is.

    The run stops, exit 1; the state the target acknowledged is the last it received.
    """

    @classmethod
    def from_exception(cls, exc: BaseException, *, sync: bool = True) -> OutputError:
        """The one line for a failed write to stdout (a broken pipe, a full disk, ...).

        ``sync``: Singer messages were being written (then the line says what the next run
        resumes from), not ``--about`` or ``--discover``'s text.
        """
        if isinstance(exc, BrokenPipeError):
            what = "The target stopped reading the tap's output (broken pipe; its own log says why)"
        elif isinstance(exc, OSError):
            why = exc.strerror or type(exc).__name__
            what = f"Could not write the tap's output (stdout, read by the target): {why}"
        else:  # a closed file
            what = "The tap's output (stdout, read by the target) was closed"
        error = cls(f"{what}. Nothing more was written; {_RESUME}." if sync else f"{what}.")
        error.__cause__ = exc
        return error

    @classmethod
    def closed(cls) -> OutputError:
        """The line for a closed stdout: nothing the tap writes could reach a target."""
        return cls(
            "The tap's output (stdout) is closed: nothing could reach a target. Run the tap "
            "with its output piped to a target (meltano run, or tap-knowbe4 | target-...)."
        )


class OutputStalledError(TerminationRequestedError):
    """After SIGTERM/SIGINT, the target did not read the tap's output within the grace time."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        """Remember the signal that asked the tap to stop."""
        super().__init__(signal_name, exit_code)
        self.line = (
            f"Stopped by {signal_name} while the target was not reading the tap's output: "
            f"nothing more was written; {_RESUME}."
        )
