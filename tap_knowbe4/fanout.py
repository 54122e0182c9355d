"""KnowBe4Stream: how a stream is read, how it ends, and what its ending allows.

Every reading of a list (a stream, or one parent's children) is guarded by one error
policy and ends with an :class:`~tap_knowbe4.outcome.Outcome`:

* 403 skips the stream (the key may not read it), 404 on a child skips that parent (it
  vanished); a rejected key, an unexpected answer, or retries exhausted stop the run with
  one line; the budget or the API's quota stop it cleanly; a signal stops it;
* a listing whose paging went wrong (cursors in a circle, pages repeating) fails.

From those outcomes, and nothing else, come the consequences: parent hooks that advance
bookmarks or mark a test settled run only for a parent read to the end; ACTIVATE_VERSION
is sent only after a full-table stream was read completely; the resume position
(:class:`~tap_knowbe4.resume.Resume`) records finished streams, parents and list positions;
the summary reports it all.

The end of a stream is a step of its own (:meth:`KnowBe4Stream._end`), taken after the
SDK's ``sync`` wrote what the stream read, for the stream and its fan-out children at once.
Nothing it allows happens before the records it covers were written: a parent's bookmark or
settled mark waits for the BATCH file holding its children's records; ACTIVATE_VERSION and
"done" follow the stream's last BATCH message; a BATCH file that cannot be written fails the
stream and stops the run.
"""

from __future__ import annotations

import functools
import logging
import typing as t

import requests
from singer_sdk.batch import BaseBatcher, Batcher
from singer_sdk.exceptions import RetriableAPIError

from tap_knowbe4.client import KnowBe4HTTPStream, connection_failure
from tap_knowbe4.errors import (
    BatchWriteError,
    BudgetExhaustedError,
    EndpointForbiddenError,
    GaveUpError,
    InvalidResponseError,
    KnowBe4Error,
    ResourceGoneError,
    StopRunError,
    TerminationRequestedError,
    UnexpectedResponseError,
)
from tap_knowbe4.logs import DebugLogger
from tap_knowbe4.outcome import Outcome, StopKind, StreamReport
from tap_knowbe4.pagination import KnowBe4Paginator, PageToken
from tap_knowbe4.plan import count_of, pages
from tap_knowbe4.records import RecordCleaner
from tap_knowbe4.redact import REDACTOR
from tap_knowbe4.references import Reference
from tap_knowbe4.repeats import ListingRepeats, describe_key
from tap_knowbe4.resume import ListTrail, comparable_key, within
from tap_knowbe4.sdk_seams import SDK_RETRIED, override
from tap_knowbe4.state import ListPosition, TapState
from tap_knowbe4.transport import never_reached

if t.TYPE_CHECKING:
    from singer_sdk import metrics
    from singer_sdk.helpers.types import Context

    from tap_knowbe4.resume import Resume
    from tap_knowbe4.sdk_seams import BaseBatchFileEncoding, BatchConfig


#: Statuses that refuse ``cursor=true`` (the first request under ``pagination: auto``): the
#: listing is asked again by page number (``_cursor_was_refused``).
CURSOR_REFUSED_STATUSES = frozenset({400, 404, 410, 422})


class KnowBe4Stream(KnowBe4HTTPStream):
    """Base class of every KnowBe4 stream: outcomes, fan-out, resume and record cleaning."""

    #: Renames of legacy field names to current ones (reference §8).
    renames: t.ClassVar[dict[str, str]] = {}
    #: Fields naming records of other streams (counted in the summary when dangling).
    references: t.ClassVar[tuple[Reference, ...]] = ()
    #: For parent streams: child context key -> field of the record holding the id.
    child_context_fields: t.ClassVar[dict[str, str]] = {}
    #: A boolean setting that must be true for the stream to be read (costly streams).
    opt_in: t.ClassVar[str | None] = None
    #: The stream keeps state that saves requests (the endpoint table's ``incremental``).
    incremental: t.ClassVar[bool] = False
    #: ACTIVATE_VERSION waits for the end of the run even when records were read: what may
    #: contradict the read (:meth:`contradicted_read`) is read by a later stream.
    activated_at_the_end: t.ClassVar[bool] = False
    #: A stream whose records summarize this one's (the endpoint table's ``summarized_by``).
    summarized_by: t.ClassVar[str | None] = None

    _repeats: ListingRepeats | None = None
    _named_repeats = 0
    #: Whether a child stream of this one is selected, for the listing being read (None:
    #: not asked yet).
    _children_wanted: bool | None = None
    _pending_version: int | None = None
    _warned: frozenset[tuple[str, str]] = frozenset()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Create the stream; per-request metric lines are logged at DEBUG."""
        super().__init__(*args, **kwargs)
        self.metrics_logger = DebugLogger(self.metrics_logger)  # type: ignore[assignment]

    # -- what the tap shares ---------------------------------------------------------

    @property
    def resume(self) -> Resume:
        """The run's resume position."""
        return self.knowbe4_tap.resume

    @property
    def report(self) -> StreamReport:
        """The report of this stream for the run."""
        return self.run.report.stream(self.name)

    @property
    def typed_state(self) -> TapState:
        """The tap's typed state (the SDK's ``tap_state`` is the raw Singer dict)."""
        return self.knowbe4_tap.typed_state

    # -- ACTIVATE_VERSION when the stream is complete ------------------------------------

    @override
    def hold_activate_version(self, version: int) -> None:
        """Keep the SDK's ACTIVATE_VERSION (it would go out as the stream *starts*).

        A version-aware target deletes every row not re-sent after it, so it may only go
        out once every record of the stream was emitted in this run (:meth:`_end`).
        """
        self._pending_version = version

    @override
    def table_version(self, version: int) -> int:
        """The version of the read an interrupted run began, when this run continues it."""
        carried = self.resume.version_before(self.name)
        if carried is None or carried > version:
            return version
        self.report.continued = True
        return carried

    # -- lists read across runs ------------------------------------------------------------

    @override
    def listing_start(self) -> PageToken | None:
        """The page an interrupted run stopped at, when this list may resume there.

        For a child stream: the page of the children of the parent being read, when the
        interrupted run stopped inside them (a history longer than a run's cap).
        """
        self._resumed_at = None
        if self._restarted:
            return None
        position = self.resume.list_before(self.name)
        if self.parent_stream_type is not None:
            reading = self._reading_for
            if position is None or reading is None or position.parent != reading[1]:
                return None
            if not self._fits(position, reading[0]):
                self._not_resumed(position)
                return None
        elif position is None:
            return None
        elif not self._fits(position) or self._children_unaccounted():
            self._not_resumed(position)
            return None
        self._resumed_at = position
        self.report.resumed_list = True
        return PageToken(page=position.page, cursor=position.cursor, per_page=position.per_page)

    def _not_resumed(self, position: ListPosition) -> None:
        """The list starts at its first page: the position kept is for another reading.

        That is a restart like any other (``restarts`` in a row go on): configurations
        taking turns on one state (another ``page_size``, query or selection each run)
        discard each other's position every run, and a capped run would say "the next run
        continues" for ever without reading the list to its end.
        """
        self._restarts = position.restarts + 1

    _resumed_at: ListPosition | None = None
    #: A child stream: the context and id of the parent whose children are being read.
    _reading_for: tuple[Context, int] | None = None
    _output_failed = False
    _restarted = False
    _restarts = 0
    _trail: ListTrail | None = None
    #: Records the last listing read to its end listed (before any was cleaned or dropped).
    _listed = 0

    def _children_unaccounted(self) -> bool:
        """True when a child read now was not part of the interrupted sync.

        The kept position skips the parents before it because every child then read was
        done for them (or, for a child that stopped inside a parent's children, for every
        parent before that one); a child selected since (the catalog changed between the
        runs) is done for none, and needs every parent.
        """
        return any(
            child.parent_stream_type is type(self)
            and not self.resume.stream_done_before(child.name)
            and self.resume.parents_before.get(child.name) is None
            and not self._stopped_inside(child.name)
            for child in self._descendants()
        )

    def _stopped_inside(self, child: str) -> bool:
        """True when the interrupted sync stopped inside the children of one of its parents."""
        position = self.resume.list_before(child)
        return position is not None and position.parent is not None

    def _fits(self, position: ListPosition, context: Context | None = None) -> bool:
        """True when ``position`` was taken from this very list (same query, same pages).

        A list read only for its children now may resume where it stopped while its records
        were sent (a parent the interrupted run finished before its children): what it sent
        before the position is not needed now. Not the other way round (``UNSENT``).
        """
        mode = self.settings.pagination
        params = self._list_params(context)
        if UNSENT in params and UNSENT not in position.params:
            params = tuple(param for param in params if param != UNSENT)
        return (
            position.page_size == self.settings.page_size
            and position.params == params
            and not (position.cursor is not None and (mode == "page" or self.cursor_refused))
            and not (position.page is not None and mode == "cursor")
        )

    def _list_params(self, context: Context | None = None) -> tuple[tuple[str, str], ...]:
        """The query that defines the list (paging aside), and whether its records are sent.

        A list read only for its children (the stream itself not selected) sent none of the
        records before its position: a run that selects the stream must read them, so the
        two readings are different lists (``UNSENT``).
        """
        params = {
            str(k): str(v)
            for k, v in self.get_url_params(context, None).items()
            if k not in ("page", "per_page", "cursor")
        }
        if not self.selected:
            params.update([UNSENT])
        return tuple(sorted(params.items()))

    def _restart(self, context: Context | None, why: str) -> t.Generator[dict, None, Outcome]:
        """Read the list again from its first page: the position kept was not proven."""
        self.logger.warning(
            "Stream '%s': %s; read from its first page again (nothing is skipped).",
            self.name,
            why,
        )
        self._restarted = True
        self._restarts = self.resume.restart_list(self.name)
        self.report.resumed_list = False
        if self.report.continued:  # every row is sent again: under this run's version
            self.report.continued = False
            self.own_table_version()
        return (yield from self._read_under_policy(context))

    def _proven(self, resumed: ListPosition, first: tuple | None) -> bool:
        """True when the page answered at ``resumed`` proves where the list stopped.

        In a list read in key order: it begins (at ``first``) at or after the first key it
        had and at or before the last record read, so nothing moved to a page before it.
        Out of key order only a server's cursor is kept (its own position), and the page
        there must have its fingerprint (the same records in the same order).
        """
        paginator = self._paginator
        if first is None:
            return False
        if resumed.ordered:
            return within(resumed.first or first, first, resumed.after)
        return resumed.cursor is not None and paginator is not None and paginator.start_proven

    @override
    def listing_start_keys(self) -> str | None:
        """The fingerprint of the page :meth:`listing_start` resumes at."""
        return self._resumed_at.page_keys if self._resumed_at is not None else None

    def _position(
        self, through: tuple, context: Context | None = None, parent: int | None = None
    ) -> ListPosition | None:
        """A position for this list that counts every record up to key ``through`` read.

        ``context`` and ``parent``: for the children of that parent (a child stream).
        """
        trail = self._trail
        holding = trail.page_holding(through) if trail is not None else None
        if trail is None or holding is None:
            return None
        index, token, page_first, page_keys = holding
        if not trail.ordered and token.cursor is None:
            return None  # by page number out of key order: no page proves the ones before it
        if token.cursor is not None and REDACTOR.found_in(token.cursor.encode()):
            return None  # a cursor naming the key is never kept
        first = self._resumed_at.nth if self._resumed_at is not None else 1
        return ListPosition(
            page=None if token.cursor is not None else token.page,
            cursor=token.cursor,
            per_page=token.per_page or self.settings.page_size,
            page_size=self.settings.page_size,
            params=self._list_params(context),
            after=through,
            restarts=self._restarts,
            parent=parent,
            page_keys=page_keys,
            ordered=trail.ordered,
            nth=first + index,
            first=page_first,
        )

    # -- BATCH files: per stream, not per parent; written before what they allow ---------

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> t.Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """Gather the stream's records; write them whenever ``batch_size`` are pending.

        The SDK batches each ``sync(context)`` on its own: one file per parent record (a
        thousand files for a thousand users), and a stream's file only after its records
        were all read, when ACTIVATE_VERSION and bookmarks had already been decided. Here
        records of a stream are gathered (a child stream's across its parents) and written
        by :meth:`_flush_batches`, BATCH message included, whenever ``batch_size`` records
        are pending and when the stream ends (:meth:`_end`). Nothing is yielded to the SDK.

        A record is gathered as its RECORD message would have held it
        (:meth:`records_as_written`): selection, stream maps, flattening; each stream map's
        records (its alias) go to files and BATCH messages of their own.
        """
        pending = self._pending_batch
        for record in self.records_without_messages(context):
            for stream, written in self.records_as_written(record):
                held = pending.setdefault(stream, [])
                held.append(written)
                if len(held) >= batch_config.batch_size:
                    self._flush_batches()
        yield from ()

    @property
    def _pending_batch(self) -> dict[str, list[dict]]:
        """Records read but not yet written to a BATCH file, by the stream (alias) they go to."""
        return self.__dict__.setdefault("_pending_records", {})

    def _flush_batches(self) -> None:
        """Write the pending records as BATCH files, then their BATCH message(s).

        Every file is written before any message names it; an error writing one fails the
        stream (:class:`~tap_knowbe4.errors.BatchWriteError`) before anything it would have
        allowed. Then what was waiting for these records to be written happens.
        """
        batch_config = self.get_batch_config(self.config)
        pending = self._pending_batch
        if batch_config is not None and any(pending.values()):
            gathered = {stream: records for stream, records in pending.items() if records}
            pending.clear()
            encoder = batch_encoder(batch_config.encoding.format)
            try:
                manifests = [
                    (stream, manifest)
                    for stream, records in gathered.items()
                    for manifest in encoder(self.tap_name, stream, batch_config).get_batches(
                        records=iter(records)
                    )
                ]
            except OSError as exc:
                self._output_failed = True
                self.__dict__.pop("_when_written", None)  # what waited for them never happens
                self.report.end(Outcome.FAILED, "its BATCH file could not be written")
                msg = (
                    f"Stream '{self.name}': its records could not be written to a BATCH file "
                    f"({type(exc).__name__}: {exc}); check batch_config's storage root. The "
                    "stream is not marked done and the next run reads it again."
                )
                raise BatchWriteError(msg) from None
            for stream, manifest in manifests:
                self.send_batch(stream, batch_config.encoding, manifest)
        self._release_written()

    def _once_written(self, commit: t.Callable[[], None]) -> None:
        """Do ``commit`` (a bookmark, a settled test, a resume mark) once it is true.

        That is once every record this stream emitted so far is written: at once, or after
        the BATCH file that holds them.
        """
        if any(self._pending_batch.values()):
            self.__dict__.setdefault("_when_written", []).append(commit)
        else:
            commit()

    def _release_written(self) -> None:
        waiting = self.__dict__.pop("_when_written", [])
        for commit in waiting:
            commit()
        if waiting or self.get_batch_config(self.config) is not None:
            self.knowbe4_tap.publish_state()
            self.send_state()  # a STATE after the BATCH it covers

    # -- logs that grow with parents go to DEBUG --------------------------------------

    @override
    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """Per-parent lines of child streams ("Beginning sync ...") at DEBUG."""
        if self.parent_stream_type is not None and level == logging.INFO:
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    def _quiet(self, meter: metrics.Meter) -> t.Any:
        if self.parent_stream_type is not None:
            meter.logger = DebugLogger(meter.logger)  # type: ignore[assignment]
        return meter

    @override
    def get_record_counter(self, **kwargs: t.Any) -> metrics.Counter:
        """The SDK's record counter (its lines at DEBUG for child streams)."""
        return self._quiet(super().get_record_counter(**kwargs))

    @override
    def get_sync_timer(self) -> metrics.Timer:
        """The SDK's sync timer (its lines at DEBUG for child streams)."""
        return self._quiet(super().get_sync_timer())

    @override
    def get_http_request_counter(self) -> metrics.Counter:
        """The SDK's request counter (its lines at DEBUG for child streams)."""
        return self._quiet(super().get_http_request_counter())

    # -- reading -------------------------------------------------------------------------

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The stream's records, read under the error policy; outcomes recorded."""
        if self.parent_key and context:
            yield from self._read_for_parent(context)
        else:
            yield from self._read_stream(context)

    def read_listing(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """The raw records of one listing (override for streams that send no request)."""
        return iter(super().get_records(context))

    def _guarded(self, context: Context | None) -> t.Generator[dict, None, Outcome]:
        """Read one listing under the error policy; return how it ended.

        While it is under way the stream is in the run's ``listings``: when the code writing
        its records raises, the listing never ends and the tap can tell which streams were
        cut short, innermost first (``RunReport.interrupted``).
        """
        listings = self.run.report.listings
        listings.append(self.name)
        outcome = yield from self._read_under_policy(context)
        del listings[len(listings) - 1 - listings[::-1].index(self.name)]  # its own entry
        return outcome

    def _read_under_policy(self, context: Context | None) -> t.Generator[dict, None, Outcome]:
        run, report = self.run, self.report
        limit = self.ABORT_AT_RECORD_COUNT
        count = 0
        self._repeats = ListingRepeats()  # what this listing sent, by primary key
        self._children_wanted = None  # asked at its first record
        trail = self._trail = ListTrail()
        top = self.parent_stream_type is None
        listing_key = self.listing_key_reader()
        paginator = None  # the listing's, made as its first page is asked for
        try:
            for record in self.read_listing(context):
                if limit is not None and count >= limit:
                    report.end(Outcome.PARTIAL, f"stopped at the record limit ({limit})")
                    return Outcome.PARTIAL
                if paginator is None:
                    paginator = self._paginator
                if paginator is not None:
                    read = listing_key(record)
                    key = (  # one int (most lists): as it is, as comparable_key gives it
                        read
                        if type(read) is tuple and len(read) == 1 and type(read[0]) is int
                        else comparable_key(read)
                    )
                    if not count:
                        resumed = self._resumed_at
                        if resumed is not None and not self._proven(resumed, key):
                            why = "the page it stopped in is not the page it was (the list changed)"
                            return (yield from self._restart(context, why))
                    token = paginator.current_value
                    pages = trail.pages
                    last_token = pages[-1][0] if pages else token  # the same object on a page
                    if top and last_token is not token and last_token != token and trail.last:
                        self._pages_emitted(trail.last)
                    trail.see(token, key, paginator.page_keys)
                count += 1
                yield record
        except (StopRunError, TerminationRequestedError):
            report.end(Outcome.PARTIAL, "the run stopped before its end")
            return Outcome.PARTIAL
        except EndpointForbiddenError as exc:
            report.forbidden = True
            report.end(Outcome.SKIPPED, "skipped: the API key may not read it (403)")
            self.logger.warning(
                "Skipping stream '%s': the API key may not read it (%s). The other streams go on.",
                self.name,
                exc,
            )
            return Outcome.SKIPPED
        except ResourceGoneError:
            return self._gone(context)
        except BudgetExhaustedError as exc:
            run.stop(StopKind.BUDGET, exc)
            report.end(Outcome.PARTIAL, "the run stopped before its end")
            return Outcome.PARTIAL
        except UnexpectedResponseError as exc:
            if self._resumed_at is not None and not count:
                why = f"the server refused the position kept (HTTP {exc.status})"
                return (yield from self._restart(context, why))
            if self._cursor_was_refused(exc, count):
                self.logger.warning(
                    "Stream '%s': the server refused the cursor parameter (HTTP %s); "
                    "paging by number instead.",
                    self.name,
                    exc.status,
                )
                return (yield from self._read_under_policy(context))
            run.stop(StopKind.ERROR, exc)
            report.end(Outcome.FAILED, type(exc).__name__)
            return Outcome.FAILED
        except KnowBe4Error as exc:  # rejected key, TLS, too large
            run.stop(StopKind.ERROR, exc)
            report.end(Outcome.FAILED, type(exc).__name__)
            return Outcome.FAILED
        except (RetriableAPIError, requests.exceptions.RequestException) as exc:
            run.stop(StopKind.ERROR, self._gave_up(exc))
            retried = isinstance(exc, SDK_RETRIED)
            report.end(Outcome.FAILED, "retries exhausted" if retried else type(exc).__name__)
            return Outcome.FAILED
        self._report_repeats(self._repeats)
        paginator = self._paginator
        if paginator is not None:
            self._learn_cursor_support(paginator)
            for note in paginator.notes:
                report.note(note)
            if paginator.resume_unproven and self._resumed_at is not None:
                why = "the page at the position kept names no next cursor now"
                return (yield from self._restart(context, why))
            if paginator.broken:
                self.logger.warning(
                    "Stream '%s': %s; stopped paging, records may be missing.",
                    self.name,
                    paginator.broken,
                )
                report.end(Outcome.FAILED, f"{paginator.broken}; records may be missing")
                return Outcome.FAILED
        if self._resumed_at is not None and not count:
            why = "the page the interrupted run stopped at is empty now"
            return (yield from self._restart(context, why))
        self._listed = count
        return Outcome.COMPLETE

    def _gone(self, context: Context | None) -> Outcome:
        """A child listing answered 404: skip the parent only if it is gone.

        A 404 on ``/v1/groups/7/members`` is no proof that group 7 vanished (a proxy, a
        server fault); ``/v1/groups/7`` answering 404 too is. Anything else there fails
        this parent, to be read again, rather than load its children as "none".
        """
        report = self.report
        answer = self._parent_answer(context)
        if answer == 404:
            report.note(f"parents that vanished before their {self.name} could be read")
            return Outcome.SKIPPED
        if answer is None:  # the run stopped before the question could be asked
            return Outcome.PARTIAL
        report.note(f"parents whose {self.name} answered 404 while they still exist")
        self.logger.warning(
            "Stream '%s': %s answered 404, but %s answered %s: the parent was not gone; "
            "read again next run.",
            self.name,
            self.get_url(context),
            self._parent_url(context),
            answer,
        )
        return Outcome.FAILED

    def _parent_url(self, context: Context | None) -> str:
        key = "{" + str(self.parent_key) + "}"
        path = self.path[: self.path.index(key) + len(key)]
        return self.url_base + path.replace(key, str((context or {})[str(self.parent_key)]))

    def _parent_answer(self, context: Context | None) -> int | str | None:
        """The status of the parent by id (one request, paced and counted), or a word."""
        try:
            self.run.before_request(self.name)
        except StopRunError:
            return None
        try:
            response = self.requests_session.get(
                self._parent_url(context),
                headers={**self.http_headers, "User-Agent": self.user_agent},
                auth=self.authenticator,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            if never_reached(exc):
                self.run.refund(self.name)  # a connection that failed is not a request spent
            return connection_failure(exc)
        finally:
            self.run.request_ended()
        self.run.answered(response.status_code)
        return response.status_code

    def _report_repeats(self, repeats: ListingRepeats) -> None:
        """Count exact repeats; count and name (the first few) keys sent with other content."""
        report = self.report
        if repeats.exact:
            report.note("records sent again unchanged in one listing: loaded once", repeats.exact)
        if repeats.changed:
            report.note(
                "records whose key came again with other content: all loaded, the last "
                "listed is the row a target keeps",
                sum(repeats.changed.values()),
            )
        for key, times in repeats.changed.items():
            if self._named_repeats >= MOST_NAMED_REPEATS:
                break
            self._named_repeats += 1
            report.note(f"{describe_key(self.primary_keys, key)}: {times + 1} versions", 1)

    def _learn_cursor_support(self, paginator: KnowBe4Paginator) -> None:
        """Remember what this listing showed of the server's cursors (attack 8 #1).

        ``cursor=true`` answered with records, or a cursor named: an empty answer to
        ``cursor=true`` is believed in later listings of this stream. ``cursor=true``
        answered empty while page 1 held records: the server does not read ``cursor`` here,
        and later listings page by number (as after a 400).
        """
        if paginator.cursor_start_answered:
            self.cursor_understood = True
            self.run.cursor_paths.add(self.path)
        if paginator.cursor_answered_empty and not self.cursor_refused:
            self.cursor_refused = True
            self.logger.warning(
                "Stream '%s': the server answered cursor=true with no records, but page 1 "
                "with some; paging by number instead.",
                self.name,
            )

    def _cursor_was_refused(self, exc: UnexpectedResponseError, records: int) -> bool:
        """True (once) when ``pagination: auto``'s first ``cursor=true`` was refused.

        400, and the statuses a server answers a cursor it cannot read with (404, 410, 422:
        an expired kept cursor gets them too, ``_restart``): each made every run fail on a
        server that lists by page number (attack 8 #2). Page 1 by number tells; if it is
        refused as well, that answer is the stream's error line.
        """
        paginator = self._paginator
        if (
            exc.status not in CURSOR_REFUSED_STATUSES
            or records
            or self.cursor_refused
            or paginator is None
            or paginator.mode != "auto"
            or paginator.current_value.cursor != "true"
        ):
            return False
        self.cursor_refused = True
        return True

    def _gave_up(self, exc: BaseException) -> GaveUpError:
        response = getattr(exc, "response", None)
        if isinstance(exc, InvalidResponseError):
            what = str(exc).removeprefix(f"{self.name}: ")
            why = "The API answered something this tap cannot read (a proxy, or an API change?)"
        else:
            reached = f"{connection_failure(exc)} from {self.settings.host}"
            what = self._describe(response) if response is not None else reached
            why = "The API may be down or unreachable"
        if isinstance(exc, SDK_RETRIED):
            failing = f"still failing after {self.settings.max_retries} retries"
        else:  # requests' InvalidHeader, InvalidURL...: the SDK's retry does not take these
            failing = "failed (this error is not retried)"
            why = "The server's answer could not be read"
        then = "" if self.run.connection_test else "; the state written lets the next run resume"
        return GaveUpError(f"{self.name}: {failing} ({what}). {why}{then}.")

    def _read_stream(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        report = self.report
        report.selected = self.selected
        if self.run.stopped:
            report.end(Outcome.SKIPPED, "not started: the run had stopped")
            return
        outcome = yield from self._guarded(context)
        self.run.plan.listing_ended(self.name)
        report.end(outcome)  # what it allows happens when the stream ends (:meth:`_end`)

    def plan_listing(self) -> list[dict]:
        """The raw records of this stream's list, read under the error policy (``--plan``)."""
        records: list[dict] = []
        reading = self._guarded(None)
        while True:
            try:
                records.append(next(reading))
            except StopIteration as end:
                self.report.end(end.value)
                return records

    def _read_for_parent(self, context: Context) -> t.Iterator[dict[str, t.Any]]:
        run, report = self.run, self.report
        parent_id = context[t.cast("str", self.parent_key)]
        if report.forbidden:
            return
        if run.stopped:
            report.end(Outcome.PARTIAL, "the run stopped before every parent was read")
            return
        if self.resume.parent_done_before(self.name, parent_id):
            report.parents_resumed += 1
            return
        if self.parent_unchanged(context):
            report.parent_ended(Outcome.UNCHANGED)
            return
        self._reading_for, self._restarted, self._trail = (context, parent_id), False, None
        dropped = report.dropped
        outcome = yield from self._guarded(context)
        if outcome is Outcome.COMPLETE and self.children_missing(context, self._listed):
            # what the parent says it has was not listed: one answer is no proof of none
            # (a proxy's or the API's empty 200); the list is asked once more from its start
            report.note(
                f"parents whose {self.name} answered none against their own count: asked again"
            )
            self._restarted, self._trail = True, None
            outcome = yield from self._guarded(context)
        report.parent_ended(outcome)
        if outcome is Outcome.COMPLETE:
            whole = report.dropped == dropped
            missing = self.children_missing(context, self._listed)
            self._once_written(
                lambda: self._parent_done(context, parent_id, whole=whole, missing=missing)
            )
        elif outcome in (Outcome.FAILED, Outcome.PARTIAL):
            self.resume.hold(self.name, parent_id)
            if outcome is Outcome.PARTIAL:
                self._keep_children_position(context, parent_id)

    def _keep_children_position(self, context: Context, parent_id: int) -> None:
        """The run stopped inside this parent's children: keep the page they got to.

        Every record read of them was handed to the SDK before the request that stopped
        (written, or pending in a BATCH file: then the position waits for the file). A
        history longer than ``max_requests_per_run`` is read across runs this way. Nothing
        read in this run (stopped before its first page): the position kept stands.
        """
        trail = self._trail
        if trail is None or trail.last is None:
            return
        position = self._position(trail.last, context, parent_id)
        if position is None and not trail.ordered:
            self.resume.unresumable.add(self.name)
        self._once_written(lambda: self.resume.keep_list(self.name, position))

    def _parent_done(
        self, context: Context, parent_id: int, *, whole: bool = True, missing: str = ""
    ) -> None:
        """Every record of this parent was read and written: its state may move.

        Not when a record was dropped (``whole`` False: its key could not be read): a test
        settled or a bookmark moved past it would never read it again once the API sends it
        readable (attack 8 #4); the parent is done for this sync only.
        """
        if missing:  # what the parent says it has was not listed twice (children_missing)
            self.report.note(missing)
            self.report.contradicted += 1
        elif whole:
            self.parent_complete(context)
        else:
            self.report.note(
                f"parents read again next run: a record of their {self.name} was dropped"
            )
        self.resume.mark_parent_done(self.name, parent_id)
        self.knowbe4_tap.publish_state()

    # -- the end of a stream: a step of its own -----------------------------------------

    @override
    def sync_then_end(
        self, sync: t.Callable[[Context | None], None], context: Context | None
    ) -> None:
        """Read and write the stream (the SDK's ``sync``), then end it.

        A top-level stream ends with its selected descendants (:meth:`_end`), after the
        SDK wrote everything it read, never in the tail of a generator that is drained or
        not. Child streams are synced once per parent and end with their ancestor.
        """
        if self.parent_stream_type is not None:
            sync(context)
            return
        try:
            sync(context)
        except BaseException as exc:
            self._end(cut_short=exc)
            raise
        self._end()

    def _end(self, cut_short: BaseException | None = None) -> None:
        """End this stream and every selected descendant: settle each from its outcome.

        In order, for each: the records still pending are written (BATCH files and their
        message; an error fails the stream and stops the run), its outcome is decided, then,
        only for a complete stream whose every record was written, ACTIVATE_VERSION, its
        bookmark and its "done" mark. A child is complete when every parent was listed and
        each of its own readings ended well; when the parents' list did not end well, or the
        stream was ``cut_short`` by an error while its records were written, neither did it.
        """
        own = self.report.outcome
        written = cut_short is None
        for stream in [self, *self._descendants()]:
            report = stream.report
            report.selected = stream.selected
            if cut_short is not None:
                stream.__dict__.pop("_when_written", None)
                report.end(Outcome.PARTIAL, f"cut short by {type(cut_short).__name__}")
            else:
                try:
                    stream._flush_batches()
                except BatchWriteError as exc:
                    self.run.stop(StopKind.ERROR, exc)
            written = written and not self._output_failed
            if stream is not self and self.report.dropped:
                # parents dropped for a key that could not be read had no children read:
                # the child is not read whole, so it is not activated (attack 8 #6)
                skipped = report.parents.get(Outcome.SKIPPED, 0) + self.report.dropped
                report.parents[Outcome.SKIPPED] = skipped
            if stream is not self:
                stream._check_vanished(report)
                if own is Outcome.COMPLETE:
                    report.end(Outcome.COMPLETE)
                elif own is Outcome.SKIPPED and self.report.forbidden:
                    # a parent the key may not read (403), selected or read only for its
                    # children: the children were not read either, and say so (SIM-22)
                    report.forbidden = True
                    report.end(Outcome.SKIPPED, f"not read: {self.name} answered 403")
                elif own is Outcome.SKIPPED:
                    report.end(Outcome.SKIPPED, f"skipped with {self.name}")
                else:
                    report.end(Outcome.PARTIAL, f"{self.name} was not read to its end")
            final = report.final
            if final is Outcome.COMPLETE and not report.dropped:  # (attack 8 #4, as above)
                stream.stream_complete()
                if stream.selected:
                    stream._activate(report)
            if final.done and stream.selected:  # (a parent read only for its children
                self.resume.mark_stream_done(stream.name)  # sent nothing: not done)
            stream._log_end(report)
        self._keep_positions(written=written)
        self.knowbe4_tap.publish_state(force=True)

    def _pages_emitted(self, through: tuple) -> None:
        """Every record of the list up to key ``through`` was emitted: keep where it stands.

        Called as the first record of a page arrives, so the pages before it were handed to
        the SDK (written, children and all, or pending in a BATCH file). The position, with
        the table version, goes out in the next STATE once those records are written: a run
        killed mid-list (SIGKILL: it never ends) is resumed from there, never past a record
        the STATE does not follow. (``--plan`` emits no record: it keeps nothing.)
        """
        if self.knowbe4_tap.plan_only:
            return

        def keep() -> None:
            self._keep_positions(written=not self._output_failed, through=through)
            self.knowbe4_tap.publish_state()
            if self.selected:
                self.send_state()

        self._once_written(keep)

    def _keep_positions(self, *, written: bool, through: tuple | None = None) -> None:
        """What the next run continues from: table versions, and where this list stopped.

        A full-table stream not finished keeps its table version while its read is clean
        (:attr:`StreamReport.clean_so_far`). The list keeps the page holding the last record
        counted as read: its own last record when the list was cut short (``through`` while
        it is read, :meth:`_pages_emitted`), and for each child stream not finished, the
        last parent it is done for. Nothing moves when the records were not all written
        (``written`` false).
        """
        midway = through is not None
        tree = [self, *self._descendants()]
        unversioned: set[str] = set()  # versioned streams whose read cannot be continued
        for stream in tree:
            report = stream.report
            if report.final.done and not midway:
                continue
            versioned = stream._versioned()
            if versioned and stream._pending_version is None:
                continue  # its read did not start in this run: version and positions stand
            version = stream._pending_version if versioned else None
            started = report.outcome is not None or bool(report.parents)
            started = started or (midway and stream is self)
            clean = written and started and report.clean_so_far and not stream._output_failed
            self.resume.keep_version(stream.name, version if clean else None)
            if versioned and not clean:  # SIM-21: no position without the version before it
                self.resume.forget_positions(stream.name)
                unversioned.add(stream.name)
        trail = self._trail
        if not written or trail is None or not trail.pages:
            return  # this run read none of the list: the position it had stands
        bounds: list[tuple | None] = []
        if midway:
            bounds.append(through)
        elif self.report.outcome is not Outcome.COMPLETE:
            bounds.append(trail.last)
        for child in tree[1:]:
            if child.parent_stream_type is type(self) and not child.report.final.done:
                through_child = self._children_through(child.name)
                bounds.append(None if child.name in unversioned else through_child)
        if not bounds or None in bounds or self.name in unversioned:
            self.resume.keep_list(self.name, None)  # finished, or nothing of it is done
            return
        through = min(t.cast("list[tuple]", bounds))
        position = self._position(through)
        if position is None and not trail.ordered and not midway:
            self.report.note("records out of key order: after a stop the list is read again")
            self.resume.unresumable.add(self.name)
        self.resume.keep_list(self.name, position)

    def _children_through(self, child: str) -> tuple | None:
        """The parent up to which ``child`` needs nothing before it (None: not one is known).

        The first parent this run did not finish (it holds the fan-out position): every
        parent listed before it was read, found unchanged or gone, or gives no children; it
        is listed again, and read again (from where its children stopped, when they kept a
        page). Without one, the last parent done: parents given no children after it (a
        start date, settled tests) are read past again, at no cost but their pages.
        """
        held = self.resume.held(child)
        if held is not None:
            return (held,)
        done = self.resume.parents_done(child)
        return None if done is None else (done,)

    def _versioned(self) -> bool:
        """True when the stream's rows carry a table version that ACTIVATE_VERSION ends."""
        return (
            self.selected
            and self.emit_activate_version_messages
            and self.replication_method == "FULL_TABLE"
        )

    def _log_end(self, report: StreamReport) -> None:
        """One line per stream: its outcome, records and requests; then its anomalies."""
        final = report.final
        # a connection test ends with one line saying whether the API answered
        level = logging.DEBUG if self.run.connection_test else logging.INFO
        self.run.logger.log(
            level,
            "Stream '%s': %s, %d records, %d requests%s.",
            self.name,
            final.value,
            report.records,
            report.requests,
            f" ({report.reason})" if report.reason else "",
        )
        notable = {
            text: n
            for text, n in report.anomalies.items()
            if "converted" not in text and "rewritten" not in text
        }
        if notable:
            self.run.logger.warning(
                "Stream '%s': %s.",
                self.name,
                "; ".join(f"{n:,} {text}" for text, n in sorted(notable.items())),
            )

    def _check_vanished(self, report: StreamReport) -> None:
        """Most parents answering 404 is not churn: the endpoint is not there (failed)."""
        vanished = report.parents.get(Outcome.SKIPPED, 0)
        read = sum(n for o, n in report.parents.items() if o is not Outcome.UNCHANGED)
        if vanished >= 2 and vanished * 2 > read:
            report.end(
                Outcome.FAILED,
                f"{vanished} of {read} parents answered 404: the endpoint may not be available",
            )

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """As the setting says, but never for a stream incremental by its own state.

        An incremental stream's run reads only part of it, so the rows of earlier runs must
        stay. One with a replication key (risk histories) is read in full only when the
        catalog asks for ``FULL_TABLE``, and only then activated (:meth:`_activate`); one
        that keeps its own state per parent (recipients: only the tests that can change are
        read) never is.

        Nor with ``batch_config``: rows loaded from BATCH files carry no table version, and
        a version-aware target (target-postgres) deletes the rows without one too, i.e.
        every row the files just loaded (attack 5 #4; ``tap.py`` says so in one line).
        """
        own_state = self.incremental and self.replication_key is None
        if own_state or self.get_batch_config(self.config) is not None:
            return False
        return bool(self.config.get("emit_activate_version_messages"))

    def _activate(self, report: StreamReport) -> None:
        if not self._versioned() or not report.emitted_everything:
            return
        version = self._pending_version or self.knowbe4_tap.initialized_at // 1000
        if not report.records or self.activated_at_the_end:  # attack 10 #5: at the run's end
            self.run.empty_reads.append((self, version))
            return
        self.send_activate_version(version)
        report.activated = True

    def activate_empty_read(self, version: int, evidence: bool) -> None:
        """ACTIVATE_VERSION for this stream's empty read, when another list held records.

        ``evidence``: some stream of the run listed a record. An account every list of
        which answers empty is no evidence that every row the target holds was deleted
        upstream: a wrong region may answer empty lists with 200 (the reference), as may a
        proxy, and ACTIVATE_VERSION would delete them all.
        """
        contradicted = self.contradicted_read()
        unread = self.witnesses_not_read()
        if contradicted:
            self.report.note(contradicted)
            self.report.contradicted += 1
        elif unread:
            self.report.note(
                f"not activated: {', '.join(unread)} (whose records can contradict its read) "
                "not read whole in this run, the target keeps its rows"
            )
        elif evidence:
            self.send_activate_version(version)
            self.report.activated = True
        else:
            self.report.note("every list empty: no ACTIVATE_VERSION, the target keeps its rows")

    def witnesses(self) -> set[str]:
        """Streams whose records, read in a run, can contradict an empty read of this one.

        Those whose references name its records (:meth:`contradicted_read`); kinds add
        their own (the users' ``groups``, the campaigns' test counts).
        """
        return {stream for stream, ref in self.run.references.pairs if ref.target == self.name}

    def witnesses_not_read(self) -> list[str]:
        """Selected witnesses (:meth:`witnesses`) not read from their start to end in this run.

        Finished by an earlier run of the sync (carried, a list or fan-out resumed), or not
        reached by this one: what they say is not known now, and an empty read they may
        contradict is no proof that the rows the target holds were deleted upstream (attack
        13 #2: campaigns saying they have tests read in the run before the empty tests list,
        which was activated on another list's records and deleted every test).
        """
        streams, reports = self.knowbe4_tap.streams, self.run.report.streams
        unread = []
        for name in sorted(self.witnesses()):
            stream, report = streams.get(name), reports.get(name)
            carried = report is not None and report.carried  # deselected for this run
            if stream is None or not (stream.selected or carried):
                continue
            if (
                report is None
                or carried
                or report.final is not Outcome.COMPLETE
                or report.resumed_list
                or report.parents_resumed
            ):
                unread.append(name)
        return unread

    def contradicted_read(self) -> str:
        """Why this stream's empty read cannot be all it has ("" when nothing says so).

        Records of this run naming one of its records (an enrollment's ``user.id``, a
        test's ``campaign_id``: :class:`~tap_knowbe4.references.Reference`) while its list
        answered none: the empty answer is no proof that the rows the target holds were
        deleted upstream (a proxy's or the API's empty 200 on one list). Called at the end
        of the run, when every list was read.
        """
        if self._listed or self.report.records:
            return ""  # records were listed (then dropped or filtered): not an empty answer
        named, what = self.run.references.naming(self.name)
        if not named:
            return ""
        return (
            f"listed none while {what} read in this run name one: not activated, "
            "the target keeps its rows"
        )

    def _descendants(self) -> list[KnowBe4Stream]:
        found: list[KnowBe4Stream] = []
        for child in self.child_streams:
            if isinstance(child, KnowBe4Stream) and (
                child.selected or child.has_selected_descendents
            ):
                found.append(child)
                found.extend(child._descendants())
        return found

    # -- hooks of the kinds ----------------------------------------------------------

    def parent_unchanged(self, context: Context) -> bool:
        """Child streams: True when the state says this parent's children cannot have changed."""
        return False

    def parent_complete(self, context: Context) -> None:
        """Child streams: every record of this parent was read (advance its state)."""

    def children_missing(self, context: Context, records: int) -> str:
        """Child streams: why the ``records`` listed for this parent cannot be all it has.

        "" when they can. Otherwise the list is asked once more from its start; still
        contradicted, the parent is done for this sync only: its state does not move (a test
        is not settled), the stream is not activated (:attr:`StreamReport.contradicted`: a
        version-aware target keeps the rows of that parent), and the reason is one summary
        line.
        """
        return ""

    def stream_complete(self) -> None:
        """Top-level streams: every record was read (advance the stream's state)."""

    def planned_requests(self, context: Context, parent: dict) -> int:
        """Child streams: requests this parent's children will cost (for ``--plan``)."""
        parent_id = context.get(self.parent_key or "")
        if self.resume.stream_done_before(self.name) or (
            parent_id is not None and self.resume.parents_before.get(self.name, -1) >= parent_id
        ):
            return 0
        return 0 if self.parent_unchanged(context) else 1

    def listing_pages(self, count: object) -> int:
        """Requests one of this child stream's listings of ``count`` records costs (plans).

        The pages as :func:`tap_knowbe4.plan.pages` counts them; under ``pagination: auto``
        an empty listing costs one more until a listing of the endpoint has records (an
        empty answer to ``cursor=true`` is checked by page 1 by number, attack 8 #1), as the
        paginator asks in the run (``cursor_understood``). Listings are priced in the order
        the run reads them; pricing one changes nothing the run decides with.
        """
        requests = pages(count, self.settings.page_size)
        if self.settings.pagination != "auto" or self.may_ignore_paging:
            return requests
        priced = self.run.priced_paths.setdefault(self.path, set())
        if count_of(count) > 0:
            priced.add(self.name)
            return requests
        understood = self.cursor_understood or self.path in self.run.cursor_paths or priced
        return requests if understood else requests + 1

    def observe_for_plan(self, records: list[dict]) -> None:
        """Top-level streams: learn from a page what prices the children (plans)."""

    def price_children(
        self, records: list[dict], *, whole: bool = False
    ) -> tuple[int, dict[str, int]]:
        """How many of ``records`` are parents, and what their selected children will cost.

        ``whole``: ``records`` is the whole list, priced again from its first record (what
        pricing page by page learned is forgotten first: see ``listing_pages``).
        """
        children = [c for c in self.child_streams if isinstance(c, KnowBe4Stream) and c.selected]
        if whole:
            for child in children:
                self.run.priced_paths.get(child.path, set()).discard(child.name)
        costs = dict.fromkeys((child.name for child in children), 0)
        parents = 0
        if children:
            for record in records:
                context = self.get_child_context(record, None)
                if context is None:
                    continue
                parents += 1
                for child in children:
                    costs[child.name] += child.planned_requests(context, record)
        return parents, costs

    @override
    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The page's records; this run's plan learns what their children will cost.

        A page shorter than ``page_size`` is taken as the list's last (for the estimate
        only: when a listing ends is decided by the paginator).
        """
        records = list(super().parse_response(response))
        if self.parent_stream_type is None:
            self.observe_for_plan(records)
        parents, costs = self.price_children(records)
        last = not self.paginated or len(records) < self.settings.page_size
        self.run.plan.page_listed(self.name, parents, costs, last=last)
        return records

    # -- children --------------------------------------------------------------------

    @override
    def get_child_context(self, record: dict, context: Context | None) -> dict | None:
        """The context this record gives its children; None skips them (no request).

        Only whole-number ids make a parent: a page priced before it is cleaned may hold an
        id the cleaner will drop (``"U-1"``, an object), which crashed every fan-out
        comparing it with the ids of the state (attack 8 #6).
        """
        child = {key: record.get(field) for key, field in self.child_context_fields.items()}
        for key in self.child_context_fields:
            value = child.get(key)
            if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
                value = child[key] = int(value)  # as the cleaner reads it
            if value in (None, 0) or not isinstance(value, int) or isinstance(value, bool):
                return None
        return child

    @override
    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> t.Iterable[Context | None]:
        """One context per parent record, only when a child stream is selected.

        Whether one is, is asked once per listing (the catalog's selection does not change
        while a list is read), not once per record.
        """
        wanted = self._children_wanted
        if wanted is None:
            wanted = self._children_wanted = bool(self.child_context_fields) and any(
                child.selected or child.has_selected_descendents for child in self.child_streams
            )
        if not wanted:
            return
        child = self.get_child_context(record, context)
        if child is not None:
            yield child

    # -- records ---------------------------------------------------------------------

    @property
    def cleaner(self) -> RecordCleaner:
        """The record cleaner of this stream (compiled once)."""
        cleaner = self.__dict__.get("_cleaner")
        if cleaner is None:
            depth = 0
            if self.config.get("flattening_enabled"):
                depth = int(self.config.get("flattening_max_depth") or 10)
            cleaner = RecordCleaner(
                self.schema,
                key_fields=self.primary_keys,
                report=self._problem,
                expand_null_objects=depth,
            )
            self.__dict__["_cleaner"] = cleaner
        return cleaner

    def _problem(self, kind: str, field: str) -> None:
        """Count a problem the cleaner met (``kind`` of ``field``); say it once per stream.

        The report and the note's text are kept per problem: a conversion may come on every
        record (``employee_number`` sent as a number: 16,252 in a read of 50,622 records).
        """
        noted = self.__dict__.get("_noted")
        if noted is None:
            noted = self.__dict__["_noted"] = {}
        known = noted.get((field, kind))
        if known is not None:
            report, text = known
            report.note(text)
            return
        report, text = self.report, f"{field}: {kind}"
        noted[field, kind] = report, text
        report.note(text)
        if (field, kind) not in self._warned:
            self._warned = self._warned | {(field, kind)}
            level = logging.INFO if "converted" in kind or "rewritten" in kind else logging.WARNING
            self.run.logger.log(level, "Stream '%s', field %s: %s.", self.name, field, kind)

    def normalize(self, record: dict, context: Context | None) -> dict | None:
        """Stream-specific reshaping before cleaning; the default changes nothing."""
        return record

    @override
    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Rename legacy fields, add the parent id, reshape, clean, count references."""
        renames = self.renames
        if renames:
            for old, new in renames.items():
                if old in row and new not in row:  # both sent: the old one is kept as unknown
                    row[new] = row.pop(old)
        parent_key = self.parent_key
        if parent_key and context:
            row[parent_key] = context[parent_key]
        record = self.normalize(row, context)
        if record is None:
            return None
        clean, report, key_of, observe, seen = self.__dict__.get("_steps") or self._steps()
        cleaned = clean(record)
        if cleaned is None:
            report.dropped += 1
            return None
        repeats = self._repeats
        # the same key twice in one listing: exact repeats dropped
        if repeats is not None and not repeats.admit(key_of(cleaned), cleaned):
            return None
        report.records += 1
        if observe is not None:
            observe(cleaned)
        if seen is not None:
            seen(cleaned)
        return cleaned

    def _steps(
        self,
    ) -> tuple[
        t.Callable[[dict], dict | None],
        StreamReport,
        t.Callable[[dict], tuple],
        t.Callable[[dict], None] | None,
        t.Callable[[dict], None] | None,
    ]:
        """What :meth:`post_process` does to a cleaned record, looked up once per stream.

        The cleaner; the stream's report; its primary key (as ``tuple(map(record.get,
        primary_keys))``); the reference counts its records feed, and the ids it keeps for
        other streams' references (None: none).
        """
        run, keys = self.run, tuple(self.primary_keys)
        tracker = run.references
        if len(keys) == 1:
            (field,) = keys
            key_of: t.Callable[[dict], tuple] = lambda record: (record.get(field),)  # noqa: E731
        else:
            key_of = lambda record: tuple(map(record.get, keys))  # noqa: E731
        steps = (
            self.cleaner.clean,
            run.report.stream(self.name),
            key_of,
            tracker.observer(self.name, self.references) if self.references else None,
            tracker.seer(self.name, keys),
        )
        self.__dict__["_steps"] = steps
        return steps


@functools.cache
def batch_encoder(encoding: str) -> type[BaseBatcher]:
    """The SDK's BATCH file writer for ``encoding`` (``jsonl``, ``parquet``), looked up once.

    ``Batcher`` looks it up among the installed packages' entry points at every file
    (about 40 ms each: most of a fan-out's time in BATCH mode with small ``batch_size``).
    """
    return Batcher.get_batcher(encoding)


#: How many keys sent with other content a stream names in the summary.
MOST_NAMED_REPEATS = 5
#: Kept with the position of a list whose records were not sent (read for its children).
UNSENT = ("(records)", "not sent")
