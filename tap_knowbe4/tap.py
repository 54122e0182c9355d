"""TapKnowBe4: settings, streams, the end of a run, and one clear line when it cannot succeed."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pathlib
import re
import secrets
import signal
import sys
import typing as t

import click
from singer_sdk.exceptions import ConfigValidationError, MappingError

from tap_knowbe4 import about as _about  # noqa: F401 - registers the Markdown `--about`
from tap_knowbe4 import overrides, redact
from tap_knowbe4.account_label import label_logs
from tap_knowbe4.catalog_check import catalog_problem
from tap_knowbe4.errors import (
    ConfigError,
    KnowBe4Error,
    OutputError,
    OutputStalledError,
    TerminationRequestedError,
)
from tap_knowbe4.ledger import BudgetLedger, account_id, default_path
from tap_knowbe4.logs import ExplainedSkips, quiet_libraries
from tap_knowbe4.outcome import Outcome, StopKind
from tap_knowbe4.plan import Plan, build_plan
from tap_knowbe4.progress import ProgressLog, summary_records, summary_table
from tap_knowbe4.references import ReferenceTracker
from tap_knowbe4.resume import RESTARTS_REPORTED, Resume
from tap_knowbe4.run import RunControl
from tap_knowbe4.sdk_seams import SeamedTap, environment_settings, override, signals_taken_over
from tap_knowbe4.settings import CONFIG_SCHEMA, Settings, normalize_text_values
from tap_knowbe4.shapes import deselected_fields, stream_shape
from tap_knowbe4.state import (
    LastRun,
    StatePublisher,
    TapState,
    account_identity,
    vouched_for,
)
from tap_knowbe4.streams import CALLBACK_PREFIX, stream_classes
from tap_knowbe4.writer import BufferedRecordWriter, discard_stdout, require_output

if t.TYPE_CHECKING:
    from types import FrameType

    from tap_knowbe4.fanout import KnowBe4Stream

#: From here on, every log record of the process is redacted (``redact.py``).
redact.install()


def _cap_cannot_resume(cap: int, proof: int, where: str, stopped: str) -> str:
    """The line refusing ``max_requests_per_run`` that cannot get past a position kept."""
    pages = "its page" if proof == 1 else "the page of its parent, then its own page,"
    return (
        f"max_requests_per_run ({cap}) is too small for this sync to make progress: "
        f"{stopped} {where}, and a run resumes it by reading {pages} again as proof, "
        f"{proof} request{'s' if proof > 1 else ''} before a new page. The smallest cap that "
        f"can make progress is {proof + 1}: raise max_requests_per_run."
    )


class RunFailedError(KnowBe4Error):
    """The run ended but did not succeed (a stream failed, or stopped early)."""


class PlanInterruptedError(TerminationRequestedError):
    """A signal cut ``--plan`` short: no plan is printed."""

    @classmethod
    def by_signal(cls, signal: TerminationRequestedError) -> PlanInterruptedError:
        """The plan stopped by ``signal``: the same exit code, its own line."""
        error = cls(signal.signal_name, signal.exit_code)
        error.line = (
            f"Stopped by {signal.signal_name}: the plan is incomplete, nothing was printed."
        )
        return error


class _StreamingError(KnowBe4Error):
    """An error while writing records (a stream map's expression, say); the run stopped."""


class TapKnowBe4(SeamedTap):
    """Singer tap for the KnowBe4 Reporting API.

    Extracts the account, users, groups and memberships, risk-score histories, phishing
    campaigns, security tests and their recipients, training content, campaigns and
    enrollments, paced to the API's limits (4/s, 50/min, a daily quota shared by every run
    on the account) and frugal with requests. A run that stops early says so, to the target,
    the orchestrator and the next run.
    """

    name = "tap-knowbe4"
    package_name = "tap-knowbe4"
    config_jsonschema = CONFIG_SCHEMA
    #: msgspec lines (several times faster than the default writer), records flushed in
    #: batches, every other message at once (``writer.py``).
    message_writer_class = BufferedRecordWriter

    def __init__(
        self,
        *args: t.Any,
        config: dict | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        plan_only: bool = False,
        **kwargs: t.Any,
    ) -> None:
        """Parse the settings and the state; bad settings raise before any request.

        With ``parse_env_config``, ``TAP_KNOWBE4_*`` variables override ``config``
        (:meth:`environment_config`).
        """
        quiet_libraries()
        redact.CONFIG_TEXT.reset()  # the settings of this tap are the ones not to print
        label_logs(None)  # until this tap's settings say otherwise
        if parse_env_config:
            config = {**(config or {}), **self.environment_config()}
        if isinstance(config, dict):
            self._never_echo(config)
            key = config.get("api_key")
            _register_secret(key)
            if key is not None and not isinstance(key, str):
                # the SDK's schema error would print the value
                msg = "api_key must be text: the Reporting API token."
                raise ConfigError(msg)
            _refuse_the_key_elsewhere(config)
            config = normalize_text_values(config)
            if validate_config:  # the tap's own settings first: its lines echo no value
                # the label is on from the first line the SDK logs while it builds the tap
                label_logs(Settings.from_config(config).account_label)
        self._raw_state: object = None
        if "state" in kwargs and not isinstance(kwargs["state"], (dict, type(None))):
            self._raw_state = kwargs.pop("state")  # TapState.load says what is wrong with it
        try:
            with signals_taken_over(self.on_signal):
                super().__init__(*args, config=config, validate_config=validate_config, **kwargs)
        except MappingError as exc:  # the SDK read stream_maps: a setting, not a bug
            hint = _unselected_map(exc, config or {}, kwargs.get("catalog"))
            msg = f"stream_maps: {exc}{hint}"
            raise ConfigError(msg) from None
        _register_secret(self.config.get("api_key"))
        self.plan_only = plan_only
        self._settings: Settings | None = None
        if validate_config:
            self._refuse_unknown_settings()
        overrides.settle(self.streams.values(), kwargs.get("catalog"))
        try:
            self._settings = Settings.from_config(self.config)
        except ConfigError:
            if validate_config:
                raise
        settings = self._settings or Settings.defaults()
        label_logs(settings.account_label)
        account = account_identity(settings.base_url, settings.api_key) if self._settings else None
        self.typed_state = TapState.load(t.cast("dict", self._raw_state), account=account)
        self.typed_state.forget_reshaped(
            {
                stream.name: stream_shape(stream.name, self.config, deselected_fields(stream.mask))
                for stream in self.streams.values()
                if stream.selected
            },
            warn=lambda text: self.logger.warning("State: %s.", text),
        )
        self._publisher = StatePublisher(
            self.typed_state,
            t.cast("dict", self.state),
            vouched=vouched_for(self._raw_state, account, lambda: self.run.key_accepted),
            given=self._raw_state,
        )
        self.resume = Resume(
            self.typed_state,
            parents={
                child.name: parent.name
                for child in self.streams.values()
                for parent in self.streams.values()
                if child.parent_stream_type is type(parent)
            },
            warn=self.logger.warning,
            versioned=[
                s.name
                for s in t.cast("list[KnowBe4Stream]", list(self.streams.values()))
                if s._versioned()
            ],
        )
        self.run = RunControl(
            settings,
            self.typed_state,
            ledger=self._ledger(settings) if self._settings else None,
            logger=self.logger,
        )
        self.run.references = ReferenceTracker(
            (stream.name, ref)
            for stream in self.streams.values()
            for ref in getattr(stream, "references", ())
        )
        self._leave_out_unwanted_opt_ins(settings)
        if self.config.get("emit_activate_version_messages") and self.config.get("batch_config"):
            self.logger.warning(UNVERSIONED_BATCHES)
        if self.resume.resumed:
            self._resume_interrupted_sync()
        self.publish_state(force=True)

    @staticmethod
    def _ledger(settings: Settings) -> BudgetLedger | None:
        if not settings.budget_ledger:
            return None
        path = settings.budget_ledger_path
        account = account_id(settings.host, settings.api_key)
        if path is None:
            return BudgetLedger(default_path(), account)
        # a configured path is named by its setting (a setting's text is never printed)
        return BudgetLedger(pathlib.Path(path).expanduser(), account, label="(budget_ledger_path)")

    @classmethod
    def _never_echo(cls, config: t.Mapping[str, t.Any]) -> None:
        """Mask every text in ``config`` that is not an allowed value, wherever printed.

        A key pasted into the wrong setting is then never echoed, by the tap, the SDK or a
        library's exception text (``redact.CONFIG_TEXT``).
        """
        schema: dict[str, t.Any] = {"properties": dict(cls.config_jsonschema["properties"])}
        cls.append_builtin_config(schema)
        for name, value in config.items():
            if name == "api_key":
                continue
            if not isinstance(name, str) or not _looks_like_a_setting(name):
                redact.CONFIG_TEXT.add(str(name))
            spec = schema["properties"].get(name, {})
            for path, text in _texts(value):
                if not _may_echo(name, spec, path, text):
                    redact.CONFIG_TEXT.add(text)

    def _refuse_unknown_settings(self) -> None:
        known = set(self.config_jsonschema.get("properties", {}))
        unknown = sorted(set(self.config) - known)
        if unknown:
            shown = [n if _looks_like_a_setting(n) else "(a long or odd name)" for n in unknown]
            msg = (
                f"Unknown setting(s) {', '.join(shown)}: check the spelling; "
                "`tap-knowbe4 --about` lists the settings."
            )
            raise ConfigError(msg)

    @classmethod
    def environment_config(cls) -> dict[str, t.Any]:
        """Settings from ``TAP_KNOWBE4_*`` variables (and a ``.env`` file, as the SDK reads one).

        The tap's settings are read like text values in a config file (a bad one is named
        in one line); the SDK's own settings (stream maps, flattening, batch) as the SDK
        reads them. A value that cannot be read is named, never echoed.
        """
        prefix = f"{cls.name.upper().replace('-', '_')}_"
        ours = dict(Settings.declared())
        schema: dict[str, t.Any] = {"properties": {}}
        cls.append_builtin_config(schema)
        raw = {
            name: os.environ[prefix + name.upper()]
            for name in schema["properties"].keys() | ours.keys()
            if prefix + name.upper() in os.environ and name != "api_key"
        }
        cls._never_echo(raw)  # before anything can fail on them
        values: dict[str, t.Any] = {}
        for name, spec in schema["properties"].items():
            if name in ours:
                continue
            try:  # loads .env into the environment first, so it precedes reading ours
                read = environment_settings({"properties": {name: spec}}, prefix)
                if name in read and "boolean" in spec.get("type", ()):
                    _refuse_a_non_flag(os.environ[prefix + name.upper()])
            except Exception:  # whatever the SDK's parser raised: one line
                variable = prefix + name.upper()
                msg = f"{variable} holds a value the SDK cannot read as {name}"
                raise ConfigError(msg) from None
            values.update(read)
        _register_secret(os.environ.get(prefix + "API_KEY"))
        values.update(
            {
                name: os.environ[prefix + name.upper()]
                for name in ours
                if prefix + name.upper() in os.environ
            }
        )
        if values:
            cls.logger.info("Settings from %s* variables: %s.", prefix, ", ".join(sorted(values)))
        return normalize_text_values(values)

    @override
    def load_state(self, state: dict[str, t.Any]) -> None:
        """Keep the state for :class:`TapState` (the tap's one owner of state).

        The SDK's own ``bookmarks`` are not loaded: the tap decides nothing from them.
        """
        if self._raw_state is None:
            self._raw_state = state

    def publish_state(self, *, force: bool = False) -> None:
        """Write the typed state into the Singer state (the SDK emits it from there)."""
        self._publisher.publish(force=force)

    def _leave_out_unwanted_opt_ins(self, settings: Settings) -> None:
        """Costly streams are read only when their setting says so, selected or not.

        Said once, at the end of a sync (:meth:`_say_what_was_left_out`), instead of the
        SDK's "Skipping deselected stream": not in ``--discover``, ``--plan`` or a
        connection test, where nothing is synced.
        """
        self._left_out: dict[str, str] = {}
        for stream in self.streams.values():
            opt_in = getattr(stream, "opt_in", None)
            if opt_in and stream.selected and not getattr(settings, opt_in):
                stream.selected = False
                self._left_out[stream.name] = opt_in
        ExplainedSkips.on(self.logger, self._left_out)

    def _say_what_was_left_out(self) -> None:
        for name, opt_in in sorted(self._left_out.items()):
            self.logger.info(
                "%s was not read: it is selected, but %s is false (set it to true to read it; "
                "`--plan` shows what it costs).",
                name,
                opt_in,
            )

    def _resume_interrupted_sync(self) -> None:
        """Streams an interrupted run finished emit nothing; their unfinished children go on."""
        done = [s for s in self.streams.values() if self.resume.stream_done_before(s.name)]
        for stream in done:
            stream.selected = False
            report = self.run.report.stream(stream.name)
            report.end(Outcome.COMPLETE, "finished by the interrupted run")
            report.carried = True
        self.logger.info(
            "Resuming an interrupted sync: %s already done.",
            ", ".join(sorted(s.name for s in done)) or "no stream",
        )

    @property
    def settings(self) -> Settings:
        """The parsed settings (validated on first use when the tap skipped validation)."""
        if self._settings is None:
            self._settings = Settings.from_config(self.config)
        return self._settings

    @override
    def discover_streams(self) -> list[KnowBe4Stream]:
        """One stream per Reporting API resource."""
        source = str(self.config.get("group_members_source") or "users").lower()
        source = source if source in ("users", "endpoint") else "users"
        return [stream_class(tap=self) for stream_class in stream_classes(source)]

    @override
    def stream_order(self, stream: t.Any) -> tuple[str, bool]:
        """By name (the SDK's order), a callback stream right after its email sibling.

        By name alone each callback (voice) phishing stream came before every phishing
        stream. A callback list is its sibling's endpoint with ``campaign_type=callback``:
        read after the sibling answered ``cursor=true`` with records, its empty answer is
        believed at once (``RunControl.cursor_paths``), so an account without callback
        phishing pays one request for its campaigns (two when read first) and none for its
        tests (``summarized_by``). No other stream moves.
        """
        name = str(stream.name)
        return name.removeprefix(CALLBACK_PREFIX), name.startswith(CALLBACK_PREFIX)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT stop the run; the state is written and the exit is non-zero.

        The target gets about a second to read what is written from then on
        (:meth:`BufferedRecordWriter.bound`); a second signal exits at once. (The SDK's own
        handler writes the state and exits 0, which an orchestrator would
        take for a complete run; :func:`~tap_knowbe4.sdk_seams.signals_taken_over`.)
        """
        writer = self.message_writer
        bounded = isinstance(writer, BufferedRecordWriter) or hasattr(writer, "bound")
        if bounded:  # the target may not be reading (the Airbyte source's writer too)
            t.cast("BufferedRecordWriter", writer).bound(signal.Signals(signum).name, 128 + signum)
        run = getattr(self, "run", None)
        if run is None:
            raise SystemExit(128 + signum)
        try:
            run.handle_signal(signum, frame)
        except SystemExit:  # a second signal: at once, without waiting on the target
            if bounded:
                t.cast("BufferedRecordWriter", writer).abandon(
                    TerminationRequestedError(signal.Signals(signum).name, 128 + signum)
                )
            raise

    # -- the run ----------------------------------------------------------------------

    def make_plan(self) -> Plan:
        """Estimate the requests of a sync (reads the selected lists)."""
        streams = t.cast("list[KnowBe4Stream]", list(self.streams.values()))
        return build_plan(streams, self.run)

    @override
    def sync_and_settle(self, sync_streams: t.Callable[[], None]) -> None:
        """Sync every selected stream, then settle the run: state, summary, exit.

        ``sync_streams`` is the SDK's loop over the streams (``sdk_seams.SeamedTap``).
        """
        run = self.run
        if self.plan_only:
            self._plan()
            return
        parents = {
            child.name: stream.name
            for stream in self.streams.values()
            for child in stream.child_streams
        }
        run.plan.track(
            (s.name, parents.get(s.name))
            for s in self.streams.values()
            if s.selected or s.has_selected_descendents
        )
        progress = ProgressLog(run, interval=run.settings.progress_interval_seconds)
        progress.start()
        try:
            self._refuse_a_cap_that_cannot_resume()
            sync_streams()
            evidence = run.report.listed_anything
            for stream, version in run.empty_reads:
                stream.activate_empty_read(version, evidence)
        except TerminationRequestedError as exc:
            if isinstance(exc, OutputStalledError):  # cut short while writing records
                run.report.interrupted(exc)
            run.stop(StopKind.SIGNAL, exc)
        except KnowBe4Error as exc:  # says itself what failed (a BATCH file, say)
            run.report.interrupted(exc)
            run.stop(StopKind.ERROR, exc)
        except Exception as exc:
            cut = run.report.interrupted(exc)
            where = f" in stream '{cut[0]}'" if cut else ""
            error = _StreamingError(
                f"Unexpected error{where}: {type(exc).__name__}: {exc} (a stream map's "
                "expression, say; TAP_KNOWBE4_LOGLEVEL=DEBUG shows where). The state lets "
                "the next run resume."
            )
            error.__cause__ = exc
            run.stop(StopKind.ERROR, error)
        finally:
            progress.stop()
        try:
            self._settle()
        finally:
            self._flush_output()

    def _plan(self) -> None:
        """``--plan``: print the plan, only when it is complete (an interrupted plan is none)."""
        run = self.run
        plan = self.make_plan()
        run.budget.flush()
        report = run.report
        if report.stop_kind is StopKind.SIGNAL:
            reason = t.cast("TerminationRequestedError", report.stop_reason)
            raise PlanInterruptedError.by_signal(reason)
        if report.stop_kind is not None:
            why = str(report.stop_reason).rstrip(".")
            msg = f"No plan: it could not be completed ({why}). Nothing was printed."
            raise RunFailedError(msg)
        self._write_output(plan.render() + "\n")

    @override
    def run_discovery(self) -> str:
        """``--discover``: the catalog, written like every other output (``writer.py``)."""
        text = self.catalog_json_text
        self._write_output(text + "\n")
        return text

    def _write_output(self, text: str) -> None:
        writer = self.message_writer
        if isinstance(writer, BufferedRecordWriter):
            writer.write_text(text)
        else:  # pragma: no cover - another writer class
            sys.stdout.write(text)

    def _flush_output(self) -> None:
        """Write the records the message writer still holds (``writer.py``).

        When the output failed, the run ends with that failure (nothing it claims was sent).
        """
        writer = self.message_writer
        if not isinstance(writer, BufferedRecordWriter):  # the Airbyte writer, say
            flush = getattr(writer, "flush", None)
            if flush is not None:
                flush()
            return
        with contextlib.suppress(OutputError, OutputStalledError):
            writer.flush()
        if writer.abandoned is not None:
            raise writer.abandoned

    def _settle(self) -> None:
        run = self.run
        report = run.report
        for stream in self.streams.values():
            report.stream(stream.name).selected = stream.selected or self.resume.stream_done_before(
                stream.name
            )
        run.references.summarize(report)
        if not run.stopped:
            self.resume.finish()
        elif report.stop_kind is StopKind.BUDGET and not run.budget.run_cap_reached:
            self.resume.count_stall(run.answered_requests)
        self.typed_state.last_run = LastRun(
            requests=run.total_requests,
            records=run.total_records,
            seconds=run.elapsed,
            requests_by_stream={n: r.requests for n, r in report.streams.items() if r.requests},
        )
        run.budget.flush()
        self.publish_state(force=True)
        with contextlib.suppress(OutputError, OutputStalledError):  # _flush_output raises it
            self.state_writer.write_state(self.state)
        label = self.settings.account_label
        self.logger.info(
            "Run summary%s:\n%s",
            f" of account {label}" if label else "",
            summary_table(report),
            extra={"run_summary": summary_records(report)},
        )
        self._say_what_was_left_out()
        code = report.exit_code(fail_on_budget=self.settings.fail_when_budget_exhausted)
        if report.stop_kind is StopKind.BUDGET:
            unfinished = [
                f"{n} ({self._continues(n)})"
                for n, r in sorted(report.streams.items())
                if r.selected and not r.final.done
            ]
            unsettled = self.resume.unsettled_lists()
            cap = run.budget.max_per_run
            proof, where = self.resume.proof_pages()
            unresumable = sorted(self.resume.unresumable)
            if run.budget.run_cap_reached and unresumable:
                report.stop_kind = StopKind.ERROR
                names = ", ".join(unresumable)
                report.stop_reason = RunFailedError(
                    f"max_requests_per_run ({cap}) is too small for this sync to make "
                    f"progress: {names} {'is' if len(unresumable) == 1 else 'are'} listed out "
                    "of key order by page number, so no page proves where a run stopped (a "
                    "record sorted anew before it would be skipped): such a list is read whole "
                    f"in one run, and {run.total_requests} requests did not reach its end. The "
                    f"smallest cap that can make progress is more than {run.total_requests}: "
                    "raise max_requests_per_run."
                )
                code = 1
            elif run.budget.run_cap_reached and cap is not None and cap <= proof:
                report.stop_kind = StopKind.ERROR
                report.stop_reason = RunFailedError(
                    _cap_cannot_resume(cap, proof, where, "this run stopped in")
                    + " The state keeps what this run read."
                )
                code = 1
            elif run.budget.run_cap_reached and not self.resume.progressed():
                report.stop_kind = StopKind.ERROR
                spent = ", ".join(
                    f"{n} {r.requests}" for n, r in sorted(report.streams.items()) if r.requests
                )
                report.stop_reason = RunFailedError(
                    f"max_requests_per_run ({cap}) is too small for this sync to make "
                    f"progress: its requests ({spent}) got no further than the previous run "
                    "(a list resumes by reading again, as proof, the page it stopped in, after "
                    "the page of the parent it stopped in) and the run stopped before it "
                    "finished anything earlier runs had not "
                    f"(not finished: {', '.join(unfinished)}). Raise max_requests_per_run; the "
                    "state is as the previous run left it."
                )
                code = 1
            elif not run.budget.run_cap_reached and self.resume.stalled() >= RESTARTS_REPORTED:
                report.stop_kind = StopKind.ERROR
                report.stop_reason = RunFailedError(
                    f"the API's quota stopped {self.resume.stalled()} runs in a row before they "
                    "got further than the run before: each read again the pages that prove "
                    "where the sync stopped, then the quota was spent "
                    f"(not finished: {', '.join(unfinished)}). What the account's quota leaves "
                    "this tap (other integrations share it) is too small for this sync to make "
                    "progress: run it when more of the day's quota is left, or give it a larger "
                    "share. The state keeps what was read; a run that gets further ends this."
                )
                code = 1
            elif run.budget.run_cap_reached and unsettled:
                report.stop_kind = StopKind.ERROR
                report.stop_reason = RunFailedError(
                    f"{', '.join(unsettled)} had to be read from the first page again in "
                    f"{RESTARTS_REPORTED} runs in a row (the list changed between runs, the server "
                    "refused the position kept, or runs under another page_size, query or "
                    "selection took turns on this state) and max_requests_per_run "
                    f"({cap}) stops "
                    "it before its end: it may never finish. Raise max_requests_per_run."
                )
                code = 1
            else:
                # A per-run cap is lifted by the next run; only a daily limit has a reset time.
                resets = None if run.budget.run_cap_reached else run.budget.resets_at
                self.logger.warning(
                    "Stopped early: %s. Not finished: %s. The state records these positions; "
                    "the next run continues from them%s.",
                    report.stop_reason,
                    ", ".join(unfinished) or "none",
                    f" (the daily window resets at {resets:%Y-%m-%d %H:%M} UTC)" if resets else "",
                )
        if code == 0:
            return
        if report.stop_kind is StopKind.SIGNAL:
            raise t.cast("BaseException", report.stop_reason)
        if report.stop_kind in (StopKind.ERROR, StopKind.BUDGET):
            raise t.cast("BaseException", report.stop_reason)
        failed = sorted(
            f"{n} ({r.reason or r.final.value})"
            for n, r in report.streams.items()
            if r.selected and (r.final in (Outcome.FAILED, Outcome.PARTIAL) or r.forbidden)
        )
        msg = f"The run did not complete: {'; '.join(failed)}. The state lets the next run resume."
        raise RunFailedError(msg)

    def _refuse_a_cap_that_cannot_resume(self) -> None:
        """Fail before the first request when the cap cannot get past the position kept.

        Resuming reads the page of each level of the position again, as proof
        (``resume.py``): a cap no larger than that sends them all and reads nothing new, in
        every run.
        """
        cap = self.run.budget.max_per_run
        read = {s.name for s in self.streams.values() if s.selected or s.has_selected_descendents}
        proof, where = self.resume.proof_pages(read)
        if cap is not None and cap <= proof:
            msg = _cap_cannot_resume(cap, proof, where, "the interrupted sync stopped in")
            raise RunFailedError(f"{msg} No request was sent; the state is as it was.")

    def _continues(self, name: str) -> str:
        """Where the next run continues stream ``name``, in words (from the state)."""
        interrupted = self.typed_state.interrupted
        position = interrupted.lists.get(name) if interrupted else None
        parent = None if position is None else position.parent
        inside = "" if parent is None else f"inside parent {parent}, "
        if position is not None and position.cursor not in (None, "true"):
            return f"continues {inside}at the cursor it stopped at"
        if position is not None:
            return f"continues {inside}at page {position.page or 1}"
        parent = interrupted.parents_done.get(name) if interrupted else None
        if parent is not None:
            return f"continues after parent {parent}"
        return "read again from its start"

    # -- the command line --------------------------------------------------------------

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus ``--plan``; whatever fails in it ends in one line.

        Click calls the tap's code through the command's callback and its options'
        callbacks (``--config``, ``--discover``, ``--test``...): each is guarded by
        :meth:`_one_line_on_failure`.
        """
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--plan"],
                is_flag=True,
                default=False,
                help=(
                    "Print how many requests a sync would send per stream, and whether it fits "
                    "today's budget, instead of syncing (costs the list requests, which are "
                    "counted in the shared budget ledger)."
                ),
            )
        )
        for param in command.params:
            if param.callback is not None:
                param.callback = cls._one_line_on_failure(param.callback)
        if command.callback is not None:
            command.callback = cls._one_line_on_failure(command.callback)
        return command

    @override
    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """``--config``: the SDK reads the files; one that cannot be read is one line."""
        try:
            return super().cb_config(ctx, param, value)
        except Exception as exc:  # whatever reading it raised: one line
            msg = f"could not read the --config file ({type(exc).__name__}: {exc})"
            raise ConfigError(msg) from None

    @classmethod
    def _one_line_on_failure(cls, callback: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """``callback``, its failures logged as one line with a non-zero exit (:meth:`_fail`)."""

        @functools.wraps(callback)
        def guarded(*args: t.Any, **kwargs: t.Any) -> t.Any:
            try:
                if _writes_output(*args):
                    require_output()
                return callback(*args, **kwargs)
            except (click.exceptions.Exit, click.ClickException, click.Abort):
                raise  # click's own ends: --help, usage errors, ctx.exit()
            except (Exception, TerminationRequestedError) as exc:
                cls._fail(exc)

        return guarded

    @classmethod
    def _fail(cls, exc: BaseException, code: int = 1) -> t.NoReturn:
        """Log ``exc`` as one line (a traceback only at DEBUG) and exit with its code."""
        debug = cls.logger.isEnabledFor(logging.DEBUG)
        message, code = cls.failure_line(exc, code)
        if isinstance(exc, OSError | ValueError | OutputError):  # nothing more into it
            discard_stdout()
        cls.logger.error(message, exc_info=debug)
        sys.exit(code)

    @classmethod
    def failure_line(cls, exc: BaseException, code: int = 1) -> tuple[str, int]:
        """The one line (redacted) and the exit code a run that ended with ``exc`` reports.

        The Singer command logs it; the Airbyte entry point sends it as its error TRACE and
        as a failed connection check (``tap_knowbe4/airbyte``).
        """
        if isinstance(exc, ConfigValidationError):
            details = "; ".join(exc.errors) if exc.errors else str(exc)
            message = f"Invalid configuration: {details}"
        elif isinstance(exc, ConfigError):
            message = f"Invalid configuration: {exc}"
        elif isinstance(exc, TerminationRequestedError):
            message, code = exc.line, exc.exit_code
        elif isinstance(exc, KnowBe4Error):
            message = str(exc)
        elif isinstance(exc, OSError | ValueError):  # print() of --about, --discover...
            message = str(OutputError.from_exception(exc, sync=False))
        else:  # pragma: no cover - a bug: say how to see the traceback
            message = (
                f"Unexpected error {type(exc).__name__}: {exc} (run with "
                "TAP_KNOWBE4_LOGLEVEL=DEBUG to see where it happened, and please report it)."
            )
        return redact.scrub(message), code

    @override
    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
        plan: bool = False,
    ) -> None:
        """Run the CLI; expected failures end with one line and a non-zero exit code.

        The SDK's ``Tap.invoke`` with two changes: the tap is built knowing ``--plan``, and
        a state or catalog file that is not what it should be is refused in one line.
        """
        require_output()
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        try:
            tap = cls(
                config=getattr(config, "config", None) or {},
                state=None if state is None else _read_json(state, "state", dict),
                catalog=None if catalog is None else _read_catalog(catalog),
                parse_env_config=getattr(config, "parse_env", False),
                validate_config=True,
                plan_only=plan,
            )
            tap.sync_all()
        except (KnowBe4Error, ConfigValidationError, TerminationRequestedError) as exc:
            cls._fail(exc)

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:  # noqa: ARG003
        """``--test``: read one record per stream; a rejected key fails like a sync does."""
        if value in ("", "disabled", None):
            return
        config = ctx.params.get("config")
        try:
            tap = cls(
                config=getattr(config, "config", {}),
                parse_env_config=getattr(config, "parse_env", False),
                validate_config=True,
            )
            if value == "schema":
                tap.write_schemas()
            else:
                tap.run.connection_test = True
                tap.run_connection_test()
                report = tap.run.report
                if report.stop_kind is StopKind.ERROR:
                    raise t.cast("BaseException", report.stop_reason)
        except (KnowBe4Error, ConfigValidationError) as exc:
            cls._fail(exc)
        ctx.exit()


def _unselected_map(exc: Exception, config: t.Mapping[str, t.Any], catalog: object) -> str:
    """A hint when the stream a failing map names is not selected in ``catalog``."""
    maps = config.get("stream_maps")
    if not isinstance(maps, dict) or not isinstance(catalog, dict):
        return ""
    for entry in catalog.get("streams") or []:
        name = entry.get("tap_stream_id") if isinstance(entry, dict) else None
        if name not in maps or f"'{name}'" not in str(exc):
            continue
        top = [m for m in entry.get("metadata") or [] if m.get("breadcrumb") == []]
        if top and top[0].get("metadata", {}).get("selected") is False:
            return f" ({name} is not selected in the catalog: remove its stream map, or select it)"
    return ""


def _writes_output(*args: t.Any) -> bool:
    """True for a callback call that will write to stdout (``--discover``, ``--test``)."""
    if len(args) != 3 or not isinstance(args[1], click.Parameter):
        return False
    return args[1].name in ("discover", "test") and args[2] not in (None, False, "", "disabled")


def _read_json(file: t.IO[str], what: str, kind: type) -> t.Any:
    """A JSON document from ``file``; an unreadable one is one clear line."""
    import json  # noqa: PLC0415

    try:
        text = file.read()
    except (OSError, ValueError) as exc:  # a directory, bytes that are not UTF-8...
        msg = f"could not read the {what} file ({type(exc).__name__})"
        raise ConfigError(msg) from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        msg = f"the {what} file is not valid JSON ({exc}; {len(text)} characters)"
        raise ConfigError(msg) from None
    if not isinstance(value, kind):
        if what == "state":
            logging.getLogger("tap-knowbe4").warning(
                "The state file is not a JSON object: starting without state."
            )
            return {}
        msg = f"the {what} file is not a JSON {kind.__name__}"
        raise ConfigError(msg)
    return value


def _read_catalog(file: t.IO[str]) -> dict:
    catalog = _read_json(file, "catalog", dict)
    problem = catalog_problem(catalog)
    if problem:
        msg = f"the catalog file is not a Singer catalog: {problem}"
        raise ConfigError(msg)
    return catalog


def _looks_like_a_setting(name: str) -> bool:
    """A lower-case identifier of at most 40 characters (a name that may be printed)."""
    return re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name) is not None


#: Said once when both settings are on: BATCH files carry no table version (attack 5 #4).
UNVERSIONED_BATCHES = (
    "emit_activate_version_messages is ignored with batch_config: rows loaded from BATCH files "
    "carry no table version, and a version-aware target deletes such rows on ACTIVATE_VERSION "
    "(target-postgres: every row the files loaded). No ACTIVATE_VERSION is sent; rows deleted "
    "upstream stay in the target."
)
#: The words the SDK reads a flag variable from; anything else it takes for false, silently.
_FLAG_WORDS = frozenset({"true", "1", "yes", "on", "false", "0", "no", "off", ""})


def _refuse_a_non_flag(text: str) -> None:
    """Raise for a flag variable that is no flag (``TAP_KNOWBE4_FLATTENING_ENABLED=tru``)."""
    if text.strip().lower() not in _FLAG_WORDS:
        raise ValueError


#: A key shorter than this is refused only where a setting is exactly it (a real key is
#: hundreds of characters; a short test key could be part of a path by chance).
_KEY_INSIDE_FROM = 8


def _refuse_the_key_elsewhere(config: t.Mapping[str, t.Any]) -> None:
    """Refuse a setting other than ``api_key`` whose text is, or holds, the key.

    Masking keeps it out of the log (:meth:`TapKnowBe4._never_echo`), but a setting's value
    goes further: ``budget_ledger_path`` and ``batch_config``'s root name files and
    directories, ``user_agent`` is sent with every request, a stream map writes text into
    the records. Refused in one line naming the setting, never the value.
    """
    key = config.get("api_key")
    key = key.strip() if isinstance(key, str) else ""
    if not key:
        return
    for name, value in config.items():
        if name == "api_key":
            continue
        for path, text in _texts(value):
            found = text.strip()
            if found == key or (len(key) >= _KEY_INSIDE_FROM and key in found):
                where = ".".join(p for p in (str(name), *path) if _looks_like_a_setting(p))
                msg = (
                    f"{where or 'a setting'} holds the api_key (pasted into the wrong "
                    "setting?): the key goes in api_key only; a path, a user agent or a "
                    "stream map would carry it into file names, request headers or records."
                )
                raise ConfigError(msg)


def _texts(value: object, path: tuple[str, ...] = ()) -> t.Iterator[tuple[tuple[str, ...], str]]:
    """Every text in a setting's value, with where it is.

    Object keys count as text unless they read as names (a stream's, a field's).
    """
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not _looks_like_a_setting(str(key)):
                yield path, str(key)
            yield from _texts(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, path)


def _may_echo(name: str, spec: dict[str, t.Any], path: tuple[str, ...], text: str) -> bool:
    """True when ``text`` at ``path`` of setting ``name`` is one of its allowed values.

    Allowed: a value of an ``enum`` in the setting's schema; for the tap's own settings, a
    value the setting's parser accepts when the parser refuses arbitrary text (a region, a
    URL, a date, a number). Free text (``user_agent``, a path, a stream map's expression) is
    never allowed: it may be anything, the key included.
    """
    node: t.Any = spec
    for part in path:
        properties = node.get("properties", {}) if isinstance(node, dict) else {}
        node = properties.get(part) or (
            node.get("additionalProperties") if isinstance(node, dict) else None
        )
    if isinstance(node, dict) and text in (node.get("enum") or ()):
        return True
    if path or name not in dict(Settings.declared()):
        return False
    probe = "kb4-probe-" + secrets.token_hex(16)
    return _parses(name, text) and not _parses(name, probe)


def _parses(name: str, text: str) -> bool:
    try:
        Settings.from_config({"api_key": "echo-probe", name: text})
    except ConfigError:
        return False
    return True


def _register_secret(value: object) -> None:
    if isinstance(value, str):
        redact.REDACTOR.add(value)
