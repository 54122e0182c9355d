"""KnowBe4HTTPStream: how every stream talks to the API.

It owns what all endpoints share on the wire: the base URL from the region, Bearer auth,
paging (:mod:`tap_knowbe4.pagination`), pacing and retries through the run's shared
:class:`~tap_knowbe4.run.RunControl`, the bounded session (:mod:`tap_knowbe4.transport`),
and the mapping of every answer, status and body, to records or to a clear error
(:mod:`tap_knowbe4.payload`). What a stream does with its records, and how a run ends,
is :class:`tap_knowbe4.fanout.KnowBe4Stream`'s business.
"""

from __future__ import annotations

import functools
import re
import typing as t
from http import HTTPStatus
from urllib.parse import urlparse

import requests
from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_knowbe4 import schemas
from tap_knowbe4.errors import (
    AuthenticationError,
    EndpointForbiddenError,
    InvalidResponseError,
    ResourceGoneError,
    TLSVerificationError,
    UnexpectedResponseError,
    UnreachableError,
)
from tap_knowbe4.logs import DemoteRetryChatter
from tap_knowbe4.pagination import KnowBe4Paginator, PageToken
from tap_knowbe4.payload import InvalidBodyError, Page, TokenRejectedError, read_page
from tap_knowbe4.redact import REDACTOR
from tap_knowbe4.regions import REGION_CODES
from tap_knowbe4.retries import backoff_waits, retry_after_of
from tap_knowbe4.sdk_seams import SeamedStream, override
from tap_knowbe4.transport import GuardedSession, never_reached

if t.TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from tap_knowbe4.run import RunControl
    from tap_knowbe4.settings import Settings
    from tap_knowbe4.tap import TapKnowBe4

SCHEMAS = SchemaDirectory(schemas)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class KnowBe4HTTPStream(SeamedStream[PageToken]):
    """The HTTP side of every KnowBe4 stream."""

    schema: t.ClassVar[StreamSchema] = StreamSchema(SCHEMAS)

    #: Records are made to fit the schema by :mod:`tap_knowbe4.records` (nested objects
    #: included), so the SDK's per-field walk is skipped.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: Redirects would send the key's request to a host the settings did not name.
    allow_redirects = False

    #: Extra query parameters this endpoint always sends.
    params: t.ClassVar[dict[str, str]] = {}
    #: False for endpoints that return one object (no page/per_page).
    paginated: t.ClassVar[bool] = True
    #: True where the reference says the endpoint may answer everything at once.
    may_ignore_paging: t.ClassVar[bool] = False
    #: For child streams: the context key holding the parent id (also a record column).
    parent_key: t.ClassVar[str | None] = None

    _paginator: KnowBe4Paginator | None = None
    #: The page :meth:`validate_response` read, with its response, for :meth:`parse_response`
    #: (the SDK calls one right after the other; the body is decoded once).
    _validated: tuple[requests.Response, Page] | None = None

    def __init__(self, tap: TapKnowBe4, *args: t.Any, **kwargs: t.Any) -> None:
        """Create the stream of ``tap``; its logger hands retry chatter down to DEBUG."""
        super().__init__(tap, *args, **kwargs)
        #: The tap that built this stream (the SDK keeps it only in a private attribute).
        self.knowbe4_tap = tap
        if not any(isinstance(f, DemoteRetryChatter) for f in self.logger.filters):
            per_parent = self.parent_stream_type is not None
            self.logger.addFilter(DemoteRetryChatter(per_parent=per_parent))

    # -- configuration ---------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The tap's parsed settings."""
        return self.knowbe4_tap.settings

    @property
    def run(self) -> RunControl:
        """The run state shared by all streams of this tap process."""
        return self.knowbe4_tap.run

    @property
    @override
    def url_base(self) -> str:
        """The regional API base URL, or ``api_url``."""
        return self.settings.base_url

    @functools.cached_property
    @override
    def authenticator(self) -> BearerTokenAuthenticator:
        """``Authorization: Bearer <api_key>`` (the key as the settings cleaned it)."""
        return BearerTokenAuthenticator(token=self.settings.api_key)

    @property
    @override
    def http_headers(self) -> dict:
        """Ask for JSON (the SDK adds ``User-Agent`` from :attr:`user_agent`)."""
        return {"Accept": "application/json"}

    @property
    @override
    def user_agent(self) -> str:
        """The User-Agent header value."""
        return self.settings.user_agent

    @property
    @override
    def timeout(self) -> int:
        """Seconds one socket operation may take (the whole answer is bounded too)."""
        return max(1, round(self.settings.request_timeout_seconds))

    @functools.cached_property
    @override
    def requests_session(self) -> requests.Session:
        """A bounded session (whole-answer deadline, size cap); TLS always verified."""
        session = GuardedSession(deadline=self.settings.request_timeout_seconds)
        session.verify = self.settings.ca_bundle or True
        return session

    # -- requests ----------------------------------------------------------------------

    #: Set when the server refused ``cursor=true`` (HTTP 400): page by number instead.
    cursor_refused = False
    #: Set when a listing of this stream answered ``cursor=true`` with records (or named a
    #: cursor): an empty answer to ``cursor=true`` is then an empty list (``pagination.py``).
    #: A listing of the same endpoint by another stream (the callback variant of a list)
    #: counts as well (``RunControl.cursor_paths``).
    cursor_understood = False

    @override
    def get_new_paginator(self) -> KnowBe4Paginator | None:
        """Page/cursor paginator for lists; None for single-object endpoints."""
        if not self.paginated:
            self._paginator = None
            return None
        mode = self.settings.pagination
        start = self.listing_start()
        self._paginator = KnowBe4Paginator(
            self.settings.page_size,
            "page" if self.cursor_refused and mode == "auto" else mode,
            key_of=self.listing_key_reader(),
            may_ignore_paging=self.may_ignore_paging,
            start=start,
            start_keys=None if start is None else self.listing_start_keys(),
            cursor_understood=self.cursor_understood or self.path in self.run.cursor_paths,
        )
        return self._paginator

    def listing_start(self) -> PageToken | None:
        """Where the listing starts when not at its beginning (a resumed list)."""
        return None

    def listing_start_keys(self) -> str | None:
        """The fingerprint the page at :meth:`listing_start` had (``pagination.py``)."""
        return None

    @property
    def listing_fields(self) -> tuple[str, ...]:
        """The fields that identify a record within one listing (its keys but the parent's)."""
        keys = self.primary_keys
        known = self._listing_fields
        if known is None or known[0] is not keys:  # derived once per list of keys
            known = self._listing_fields = (keys, tuple(k for k in keys if k != self.parent_key))
        return known[1]

    #: :attr:`listing_fields` and the primary keys they were derived from.
    _listing_fields: tuple[t.Any, tuple[str, ...]] | None = None

    def listing_key(self, record: dict) -> t.Hashable:
        """A record's identity within one listing."""
        return tuple(map(record.get, self.listing_fields))

    def listing_key_reader(self) -> t.Callable[[dict], tuple]:
        """:meth:`listing_key` for one listing, its fields looked up once (one field: at once)."""
        fields = self.listing_fields
        if len(fields) == 1:
            (field,) = fields
            return lambda record: (record.get(field),)
        return lambda record: tuple(map(record.get, fields))

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, t.Any]:
        """The endpoint's fixed parameters plus what selects the page (the paginator's)."""
        params: dict[str, t.Any] = dict(self.params)
        if self.paginated and next_page_token is not None:
            params.update(next_page_token.as_params())
        return params

    @override
    def request_decorator(self, func: t.Callable) -> t.Callable:
        """The SDK's retries around a request that first passes the run's pacer and budget.

        A 429 is waited out here (as the server asks, or with backoff) until the run decides
        the daily quota is spent; other failures are the SDK's retries. Signals may cut the
        whole thing short (:meth:`RunControl.interruptible`).
        """
        name = self.name
        run = self.run

        @functools.wraps(func)
        def paced(*args: t.Any, **kwargs: t.Any) -> requests.Response:
            while True:
                run.before_request(name)
                wait = 0.0
                try:
                    return func(*args, **kwargs)
                except requests.exceptions.SSLError as exc:
                    run.refund(name)  # no request goes out before TLS is set up
                    host = self.settings.host
                    msg = (
                        f"The TLS certificate of {host} could not be verified "
                        f"({type(exc).__name__}). If a corporate proxy re-signs TLS, set "
                        "ca_bundle to its CA certificates."
                    )
                    raise TLSVerificationError(msg) from None
                except requests.exceptions.ConnectionError as exc:
                    if not never_reached(exc):
                        raise
                    run.refund(name)  # a connection that failed is not a request spent
                    if run.connection_test:
                        raise self._unreachable(exc) from None
                    raise
                except _Throttled as throttled:
                    wait = run.on_throttled(name, throttled.path, throttled.retry_after)
                finally:
                    run.request_ended()  # after any refund, before any wait
                run.sleep(wait)

        retried = super().request_decorator(paced)

        @functools.wraps(func)
        def interruptible(*args: t.Any, **kwargs: t.Any) -> requests.Response:
            with run.interruptible():
                return retried(*args, **kwargs)

        return interruptible

    @override
    def backoff_wait_generator(self) -> t.Generator[float, None, None]:
        """The answer's Retry-After when plausible, else 1, 2, 4 … s up to the longest wait."""
        return backoff_waits(cap=self.settings.max_retry_wait_seconds)

    @override
    def backoff_max_tries(self) -> int:
        """First try plus ``max_retries``."""
        return self.settings.max_retries + 1

    @override
    def backoff_jitter(self, value: float) -> float:
        """No jitter: the pacer already spreads requests, and Retry-After is exact."""
        return value

    @override
    def backoff_handler(self, details: Details) -> None:
        """Count the retry and log one line, without request objects or bodies."""
        exc = details.get("exception")
        response = getattr(exc, "response", None)
        what = f"HTTP {response.status_code}" if response is not None else type(exc).__name__
        self.run.report.stream(self.name).retries += 1
        self.logger.warning(
            "%s: %s on %s, retry %d in %.1f s",
            self.name,
            what,
            self.path,
            details.get("tries", 0),
            details.get("wait", 0.0),
        )

    # -- responses ---------------------------------------------------------------------

    def _describe(self, response: requests.Response) -> str:
        raw_id = response.headers.get("X-Request-Id", "")
        shown = _REQUEST_ID.fullmatch(raw_id) and not REDACTOR.found_in(raw_id.encode())
        request_id = raw_id if shown else "none"
        path = urlparse(response.url).path
        return f"GET {path} answered {response.status_code} (request id {request_id})"

    @override
    def response_error_message(self, response: requests.Response) -> str:
        """Status, path and a checked request id only: bodies can hold personal data."""
        return f"{self.name}: {self._describe(response)}"

    def _auth_error(self) -> AuthenticationError:
        return AuthenticationError(rejected_key_message(self.settings))

    def _unreachable(self, exc: BaseException) -> UnreachableError:
        settings = self.settings
        where = "api_url" if settings.api_url else f"region '{settings.region}'"
        return UnreachableError(
            f"Could not connect to {settings.host} ({connection_failure(exc)}): check {where}, "
            "the network and any proxy. No request reached the API."
        )

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Map every answer to records, a retry, a skip or one clear fatal error."""
        status = response.status_code
        self.run.answered(status)
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            raise _Throttled(urlparse(response.url).path, response)
        if status == HTTPStatus.UNAUTHORIZED:
            raise self._auth_error()
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status == HTTPStatus.FORBIDDEN:
            raise EndpointForbiddenError(self.response_error_message(response))
        if status == HTTPStatus.NOT_FOUND and self.parent_key:
            raise ResourceGoneError(self.response_error_message(response))
        if status >= HTTPStatus.MULTIPLE_CHOICES or status < HTTPStatus.OK:
            redirect = HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST
            hint = " (a redirect, which is never followed: check api_url and region)"
            error = UnexpectedResponseError(
                f"{self.response_error_message(response)}{hint if redirect else ''}; "
                "this is not retried."
            )
            error.status = status
            raise error
        try:
            page = read_page(response, is_list=self.paginated, key_fields=self.listing_fields)
        except TokenRejectedError:
            raise self._auth_error() from None
        except InvalidBodyError as exc:
            msg = f"{self.response_error_message(response)}, but {exc}"
            raise InvalidResponseError(msg, response) from None
        self.run.key_accepted = True
        self._validated = (response, page)

    @override
    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The records of the page :meth:`validate_response` read (the paginator sees it)."""
        validated, self._validated = self._validated, None
        if validated is None or validated[0] is not response:  # pragma: no cover - SDK order
            msg = f"{self.name}: a response was parsed before it was validated"
            raise RuntimeError(msg)
        page = validated[1]
        if self._paginator is None:
            return page.records
        return self._paginator.accept(page)


def rejected_key_message(settings: Settings) -> str:
    """The line for a rejected key, naming what chose the host: ``api_url`` or the region."""
    if settings.api_url:
        return (
            f"The API key was rejected by {settings.host} (set by api_url): check that the token "
            "is enabled and belongs to the account that address serves."
        )
    return (
        f"The API key was rejected by {settings.host} (region '{settings.region}'). "
        f"A Reporting API key only works in its own region ({', '.join(REGION_CODES)}): "
        "check 'region' against the console address you sign in at, and that the token "
        "is enabled."
    )


def connection_failure(exc: BaseException) -> str:
    """A short name for a network failure (``ConnectionError: connection refused``)."""
    text = str(exc).lower()
    for hint in ("connection refused", "timed out", "name or service not known", "reset"):
        if hint in text:
            return f"{type(exc).__name__}: {hint}"
    return type(exc).__name__


class _Throttled(Exception):  # noqa: N818 - an answer, not an error
    """A 429, handled by the pacing loop (never seen by the SDK's retries)."""

    def __init__(self, path: str, response: requests.Response) -> None:
        super().__init__(f"429 on {path}")
        self.path = path
        self.retry_after = retry_after_of(response.headers)
