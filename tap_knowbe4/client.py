"""KnowBe4Stream: the one base class every stream shares.

It owns what all endpoints have in common: the base URL from the region, Bearer auth,
paging (:mod:`tap_knowbe4.pagination`), pacing and retries through the run's shared
:class:`~tap_knowbe4.run.RunControl`, the mapping of HTTP answers to clear errors, and
record normalization (legacy field names, parent ids) in ``post_process``.
"""

from __future__ import annotations

import functools
import typing as t
from http import HTTPStatus
from urllib.parse import urlparse

import backoff
import requests
from singer_sdk import RESTStream, SchemaDirectory, StreamSchema
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_knowbe4 import schemas
from tap_knowbe4.errors import (
    AuthenticationError,
    EndpointForbiddenError,
    GaveUpError,
    KnowBe4Error,
    ResourceGoneError,
    TLSVerificationError,
    UnexpectedResponseError,
)
from tap_knowbe4.pagination import KnowBe4Paginator, PageToken
from tap_knowbe4.payload import InvalidBodyError, parsed_body, records_of, says_invalid_token
from tap_knowbe4.regions import REGION_CODES
from tap_knowbe4.retries import parse_retry_after, wait_generator
from tap_knowbe4.run import BudgetExhaustedError, RunControl, StopRunError

if t.TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from tap_knowbe4.settings import Settings

SCHEMAS = SchemaDirectory(schemas)


class KnowBe4Stream(RESTStream[PageToken]):
    """Base class for KnowBe4 Reporting API streams."""

    schema: t.ClassVar[StreamSchema] = StreamSchema(SCHEMAS)

    #: Records come from JSON already typed as the schemas say; ``post_process`` drops
    #: unknown fields and coerces numbers sent as text, so the SDK's per-field walk
    #: (the largest per-record cost in a profile) is skipped.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    #: Extra query parameters this endpoint always sends.
    params: t.ClassVar[dict[str, str]] = {}
    #: False for endpoints that return one object (no page/per_page).
    paginated: t.ClassVar[bool] = True
    #: For child streams: the context key holding the parent id (also a record column).
    parent_key: t.ClassVar[str | None] = None
    #: Renames of legacy field names to current ones (reference §8).
    renames: t.ClassVar[dict[str, str]] = {}

    _paginator: KnowBe4Paginator | None = None
    _schema_sent = False
    _forbidden = False
    _warned_unknown: frozenset[str] = frozenset()

    # -- configuration ---------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The tap's parsed settings."""
        return self._tap.settings  # type: ignore[attr-defined]

    @property
    def run(self) -> RunControl:
        """The run state shared by all streams of this tap process."""
        return self._tap.run  # type: ignore[attr-defined]

    @property
    def url_base(self) -> str:
        """The regional API base URL, or ``api_url``."""
        return self.settings.base_url

    @functools.cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        """``Authorization: Bearer <api_key>``."""
        return BearerTokenAuthenticator(token=self.config["api_key"])

    @property
    def http_headers(self) -> dict:
        """Ask for JSON (the SDK adds ``User-Agent`` from :attr:`user_agent`)."""
        return {"Accept": "application/json"}

    @property
    def user_agent(self) -> str:
        """The User-Agent header value."""
        return self.settings.user_agent

    def _write_schema_message(self) -> None:
        """Send SCHEMA once per stream per run.

        The SDK sends it at every ``sync(context)``, i.e. once per parent record for child
        streams (thousands per run); targets such as target-duckdb flush on each one.
        """
        if not self._schema_sent:
            super()._write_schema_message()
            self._schema_sent = True

    # -- requests ----------------------------------------------------------------------

    def get_new_paginator(self) -> KnowBe4Paginator | None:
        """Page/cursor paginator for lists; None for single-object endpoints."""
        if not self.paginated:
            self._paginator = None
            return None
        self._paginator = KnowBe4Paginator(self.settings.page_size, self.settings.pagination)
        return self._paginator

    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, t.Any]:
        """The endpoint's fixed parameters plus ``per_page`` and the page or cursor."""
        params: dict[str, t.Any] = dict(self.params)
        if self.paginated:
            params["per_page"] = self.settings.page_size
            if next_page_token is not None:
                params.update(next_page_token.as_params())
        return params

    #: What is retried: the SDK's list (server errors, 429, timeouts, dropped connections).
    RETRIED = (
        ConnectionResetError,
        RetriableAPIError,
        requests.exceptions.Timeout,
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    )

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """Retry like the SDK, but every attempt passes the shared pacer and budget first.

        Built from the SDK's hooks (wait generator, max tries, jitter, handler); giving up
        is not logged here, because the run ends with its own one-line error.
        """
        name = self.name

        @functools.wraps(func)
        def paced(*args: t.Any, **kwargs: t.Any) -> requests.Response:
            self.run.before_request(name)
            try:
                return func(*args, **kwargs)
            except requests.exceptions.SSLError as exc:
                host = self.settings.host
                msg = (
                    f"The TLS certificate of {host} could not be verified ({type(exc).__name__}). "
                    "If a corporate proxy re-signs TLS, set ca_bundle to its CA certificates."
                )
                raise TLSVerificationError(msg) from None

        decorator: t.Callable = backoff.on_exception(
            self.backoff_wait_generator,
            self.RETRIED,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=self.backoff_jitter,
            logger=None,
        )
        return decorator(paced)

    def backoff_wait_generator(self) -> t.Generator[float, None, None]:
        """Retry-After when the server sends one, else 1, 2, 4 … s up to the longest wait."""
        return wait_generator(cap=min(60.0, self.settings.max_retry_wait_seconds))

    def backoff_max_tries(self) -> int:
        """First try plus ``max_retries``."""
        return self.settings.max_retries + 1

    @property
    def timeout(self) -> int:
        """Seconds to wait for a response (``request_timeout_seconds``)."""
        return self.settings.request_timeout_seconds  # type: ignore[return-value]

    @functools.cached_property
    def requests_session(self) -> requests.Session:
        """The SDK's session; TLS verified always, against ``ca_bundle`` when given."""
        session = super().requests_session
        session.verify = self.settings.ca_bundle or True
        return session

    def backoff_jitter(self, value: float) -> float:
        """No jitter: the pacer already spreads requests, and Retry-After is exact."""
        return value

    def backoff_handler(self, details: Details) -> None:
        """Log one line per retry, without request objects or bodies."""
        exc = details.get("exception")
        response = getattr(exc, "response", None)
        what = f"HTTP {response.status_code}" if response is not None else type(exc).__name__
        self.run.counters[self.name].retries += 1
        if response is not None and response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            self.run.counters[self.name].throttled += 1
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
        request_id = response.headers.get("X-Request-Id", "none")
        path = urlparse(response.url).path
        return f"GET {path} answered {response.status_code} (request id {request_id})"

    def response_error_message(self, response: requests.Response) -> str:
        """Status, path and request id only: bodies can hold personal data."""
        return f"{self.name}: {self._describe(response)}"

    def _gave_up(self, exc: Exception) -> GaveUpError:
        response = getattr(exc, "response", None)
        what = self._describe(response) if response is not None else type(exc).__name__
        return GaveUpError(
            f"{self.name}: still failing after {self.settings.max_retries} retries ({what}). "
            "The API may be down or unreachable; the state written lets the next run resume."
        )

    def _auth_error(self) -> AuthenticationError:
        settings = self.settings
        return AuthenticationError(
            f"The API key was rejected by {settings.host} (region '{settings.region}'). "
            f"A Reporting API key only works in its own region ({', '.join(REGION_CODES)}): "
            "check 'region' against the console address you sign in at, and that the token "
            "is enabled."
        )

    def validate_response(self, response: requests.Response) -> None:
        """Map KnowBe4 answers to retriable errors, skips, and clear fatal errors."""
        status = response.status_code
        if status == HTTPStatus.UNAUTHORIZED:
            raise self._auth_error()
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            self._check_quota(response)
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status == HTTPStatus.FORBIDDEN:
            raise EndpointForbiddenError(self.response_error_message(response))
        if status == HTTPStatus.NOT_FOUND and self.parent_key:
            raise ResourceGoneError(self.response_error_message(response))
        if status >= HTTPStatus.BAD_REQUEST:
            raise UnexpectedResponseError(
                f"{self.response_error_message(response)}; this is not retried."
            )
        try:
            body = parsed_body(response)
        except InvalidBodyError as exc:
            msg = f"{self.response_error_message(response)} with a body that is not valid JSON"
            raise RetriableAPIError(msg, response) from exc
        if says_invalid_token(body):
            raise self._auth_error()

    def _check_quota(self, response: requests.Response) -> None:
        """A 429 asking to wait longer than ``max_retry_wait_seconds`` is the daily quota."""
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is not None and wait > self.settings.max_retry_wait_seconds:
            self.run.budget.exhaust(wait)
            msg = (
                f"the API's daily quota is used up (it asked to wait {wait / 3600:.1f} h, "
                f"request id {response.headers.get('X-Request-Id', 'none')})"
            )
            raise BudgetExhaustedError(msg)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Records of a bare array, a cursor envelope or a single object."""
        if self._paginator is not None and self._paginator.is_repeat(response):
            self.logger.warning(
                "%s: the server returned the same page twice (it ignores 'page'); stopped "
                "paging to avoid duplicates. Set pagination to 'auto' or 'cursor'.",
                self.name,
            )
            return []
        return records_of(parsed_body(response))

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Sync records, resuming where an interrupted run stopped.

        403 skips the stream, 404 on a child skips that parent, a rejected key or the
        budget running out stops the run (other streams then send nothing).
        """
        run = self.run
        progress = run.progress
        parent_id = context.get(self.parent_key) if (self.parent_key and context) else None
        if run.stopped or self._forbidden or self._finished_before(context):
            return
        if parent_id is not None:
            self.note_parent(parent_id)
            if progress.skip_parent(self.name, parent_id) or self.skip_context(context or {}):
                return
        try:
            yield from super().get_records(context)
        except StopRunError:
            return
        except EndpointForbiddenError as exc:
            self._forbidden = True
            self.logger.warning(
                "Skipping stream '%s': the API key may not read it (%s). The other streams go on.",
                self.name,
                exc,
            )
        except ResourceGoneError as exc:
            self.logger.warning(
                "%s: %s vanished before it could be read (%s); skipped.",
                self.name,
                dict(context or {}),
                exc,
            )
        except KnowBe4Error as exc:  # rejected key, budget, TLS, an unexpected 4xx
            run.stop(exc)
            return
        except (RetriableAPIError, requests.exceptions.RequestException) as exc:
            run.stop(self._gave_up(exc))
            return
        if run.stopped:
            return
        if parent_id is not None:
            self.parent_done(context or {})
            progress.mark_parent_done(self.name, parent_id)
        elif context is None:
            finished = [self, *self._selected_descendants()]
            for stream in finished:
                stream.sync_finished()
            progress.mark_done(*(stream.name for stream in finished))

    # -- hooks for streams that keep their own state -----------------------------------

    def note_parent(self, parent_id: int) -> None:
        """Child streams: called for every parent id, skipped or not."""

    def skip_context(self, context: Context) -> bool:
        """Child streams: True when the state says this parent's children cannot have changed."""
        return False

    def parent_done(self, context: Context) -> None:
        """Child streams: every record of this parent was emitted."""

    def planned_requests(self, context: Context, parent: dict) -> int:
        """Child streams: requests this parent's children will cost (for ``--plan``)."""
        progress = self.run.progress
        parent_id = context.get(self.parent_key or "")
        if progress.is_done(self.name) or (
            parent_id is not None and progress.is_parent_done(self.name, parent_id)
        ):
            return 0
        return 0 if self.skip_context(context) else 1

    def sync_finished(self) -> None:
        """The whole stream (all parents) was synced in this run."""

    def _finished_before(self, context: Context | None) -> bool:
        """True when an interrupted run already finished this stream and its children."""
        progress = self.run.progress
        if not progress.is_done(self.name):
            return False
        return all(progress.is_done(stream.name) for stream in self._selected_descendants())

    def _selected_descendants(self) -> list[KnowBe4Stream]:
        found: list[KnowBe4Stream] = []
        for child in self.child_streams:
            if isinstance(child, KnowBe4Stream) and (
                child.selected or child.has_selected_descendents
            ):
                found.append(child)
                found.extend(child._selected_descendants())
        return found

    # -- children ----------------------------------------------------------------------

    #: For parent streams: child context key -> field of the parent record holding it.
    child_context_fields: t.ClassVar[dict[str, str]] = {}

    def child_context(self, record: dict) -> dict | None:
        """The context this record gives its children; None skips them (no request)."""
        context = {key: record.get(field) for key, field in self.child_context_fields.items()}
        if any(context.get(key) in (None, 0) for key in self.child_id_keys):
            return None
        return context

    #: Context keys that hold parent ids (a record without them has no children).
    child_id_keys: t.ClassVar[tuple[str, ...]] = ()

    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> t.Iterable[Context | None]:
        """One context per parent record, only when a child stream is selected."""
        if not self.child_context_fields or not any(
            child.selected or child.has_selected_descendents for child in self.child_streams
        ):
            return
        child = self.child_context(record)
        if child is not None:
            yield child

    # -- records -----------------------------------------------------------------------

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Stream-specific reshaping; the default applies ``renames`` only."""
        return record

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Rename legacy fields, add the parent id, reshape, and flag unknown fields."""
        for old, new in self.renames.items():
            if old in row:
                value = row.pop(old)
                row.setdefault(new, value)
        if self.parent_key and context:
            row[self.parent_key] = context[self.parent_key]
        record = self.normalize(row, context)
        if record is not None:
            self._coerce_numbers(record)
            self._drop_unknown_fields(record)
            self.run.counters[self.name].records += 1
        return record

    @functools.cached_property
    def _numeric_fields(self) -> dict[str, type]:
        """Top-level integer/number properties and the Python type to convert to."""
        fields: dict[str, type] = {}
        for name, prop in self.schema["properties"].items():
            types = prop.get("type", [])
            types = [types] if isinstance(types, str) else types
            if "integer" in types:
                fields[name] = int
            elif "number" in types:
                fields[name] = float
        return fields

    def _coerce_numbers(self, record: dict) -> None:
        """Numbers sent as strings ("14.5") become numbers; unreadable ones become null."""
        for name, kind in self._numeric_fields.items():
            value = record.get(name)
            if isinstance(value, str):
                try:
                    record[name] = kind(float(value)) if kind is int else float(value)
                except ValueError:
                    record[name] = None
                    self.logger.warning(
                        "Stream '%s': field %s held text where a number belongs; loaded as null.",
                        self.name,
                        name,
                    )

    @functools.cached_property
    def _known_fields(self) -> frozenset[str]:
        return frozenset(self.schema["properties"])

    def _drop_unknown_fields(self, record: dict) -> None:
        """Fields the schema does not know are dropped, and named once in a warning."""
        unknown = record.keys() - self._known_fields
        if not unknown:
            return
        for name in unknown:
            del record[name]
        if not unknown <= self._warned_unknown:
            self._warned_unknown = self._warned_unknown | unknown
            self.logger.warning(
                "Stream '%s' received fields its schema does not know, which are not "
                "loaded: %s. Please report them so the schema can grow.",
                self.name,
                ", ".join(sorted(unknown)),
            )
