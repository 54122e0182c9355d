"""``source-knowbe4``: the Airbyte protocol's four commands over the tap.

    source-knowbe4 spec
    source-knowbe4 check --config config.json
    source-knowbe4 discover --config config.json
    source-knowbe4 read --config config.json --catalog catalog.json [--state state.json]

Every command runs the tap itself (:class:`~tap_knowbe4.tap.TapKnowBe4`): the same settings,
streams, pacing, budget and ledger, state and outcomes as a Singer run; only the messages
differ (:mod:`tap_knowbe4.airbyte.writer`). What a run ends with comes from the tap's run
report: a stream is COMPLETE only when the tap read it to its end (or an interrupted run
did), every other configured stream is INCOMPLETE, and then the source sends one error TRACE
with the line the tap prints for the same failure and exits non-zero (1, or 130/143 after a
signal). A budget stop, which a Singer run may end with exit 0, is INCOMPLETE here too:
Airbyte retries the sync, and the state it kept resumes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import typing as t
from pathlib import Path

from singer_sdk.exceptions import ConfigValidationError

from tap_knowbe4 import redact
from tap_knowbe4.airbyte import catalog as catalogs
from tap_knowbe4.airbyte.output import LogHandler, Output
from tap_knowbe4.airbyte.protocol import ProtocolError, load, models
from tap_knowbe4.airbyte.spec import setting_names, specification
from tap_knowbe4.airbyte.state import stream_part, tap_state_from
from tap_knowbe4.airbyte.writer import AirbyteWriter
from tap_knowbe4.errors import (
    AuthenticationError,
    BudgetExhaustedError,
    ConfigError,
    GaveUpError,
    KnowBe4Error,
    TerminationRequestedError,
    TLSVerificationError,
)
from tap_knowbe4.outcome import StopKind
from tap_knowbe4.tap import TapKnowBe4

if t.TYPE_CHECKING:
    from tap_knowbe4.outcome import RunReport

logger = logging.getLogger("source-knowbe4")
#: The variable the SDK sets the tap's log level from (the Singer command reads it too).
LOGLEVEL = "TAP_KNOWBE4_LOGLEVEL"

#: What ends a command with one line (anything else is a bug, reported as one too).
EXPECTED = (KnowBe4Error, ConfigValidationError, TerminationRequestedError, BrokenPipeError)


class UsageError(ConfigError):
    """The command line is not one of the four commands."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> t.NoReturn:
        raise UsageError(f"{message} (usage: {self.format_usage().strip()})")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="source-knowbe4", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="log at DEBUG")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("spec", help="the connector's settings")
    for name in ("check", "discover", "read"):
        command = commands.add_parser(name)
        command.add_argument("--config", required=True)
        command.add_argument("--debug", action="store_true", help="log at DEBUG")
        if name == "read":
            command.add_argument("--catalog", required=True)
            command.add_argument("--state")
    return parser


def main() -> None:
    """The console script."""
    sys.exit(run())


def run(argv: t.Sequence[str] | None = None, stdout: t.BinaryIO | None = None) -> int:
    """Run one command; return the exit code. Every line on ``stdout`` is an Airbyte message."""
    output = Output(stdout if stdout is not None else sys.stdout.buffer)
    root = logging.getLogger()
    level = _log_level(argv)
    handler = LogHandler(output, level)
    saved = (root.level, root.handlers[:])
    root.handlers = [handler]  # stdout carries messages only; the log goes there as LOG
    root.setLevel(level)
    # the SDK sets its metrics logger from TAP_KNOWBE4_LOGLEVEL: --debug must reach it too
    saved_env = os.environ.get(LOGLEVEL)
    if level == logging.DEBUG:
        os.environ[LOGLEVEL] = "DEBUG"
    logging.captureWarnings(capture=True)
    redact.install()
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args, output)
    except (Exception, TerminationRequestedError) as exc:  # a bug too: one line, no traceback
        return fail(output, exc)
    finally:
        with contextlib.suppress(OSError):  # stdout gone: already said on stderr
            output.flush()
        root.handlers = saved[1]
        root.setLevel(saved[0])
        if saved_env is None:
            os.environ.pop(LOGLEVEL, None)
        else:
            os.environ[LOGLEVEL] = saved_env
        logging.captureWarnings(capture=False)


def _log_level(argv: t.Sequence[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--debug" in args:
        return logging.DEBUG
    text = os.environ.get(LOGLEVEL) or os.environ.get("LOGLEVEL") or "INFO"
    level = logging.getLevelName(text.strip().upper())
    return level if isinstance(level, int) else logging.INFO


def failure_type(exc: BaseException) -> models.FailureType:
    """Whose move it is: the user's settings, a passing condition, or a fault."""
    if isinstance(exc, ConfigError | ConfigValidationError | AuthenticationError):
        return models.FailureType.config_error
    if isinstance(exc, TLSVerificationError):
        return models.FailureType.config_error
    if isinstance(exc, BudgetExhaustedError | GaveUpError | TerminationRequestedError):
        return models.FailureType.transient_error
    return models.FailureType.system_error


#: What follows a budget stop's line: who keeps the states it sent (SIM-19).
RESUME_NOTE = (
    ": the next sync resumes from the states this one sent where a failed sync's states are "
    "kept (Airbyte keeps them); PyAirbyte keeps nothing from a read that fails, so there "
    "every read starts over: a whole sync must fit in max_requests_per_run (give none, or "
    "what tap-knowbe4 --plan counts) and in the day's budget."
)


def fail(output: Output, exc: BaseException) -> int:
    """Send ``exc`` as one error TRACE (the tap's line); return the exit code.

    A budget stop's line says who resumes it (:data:`RESUME_NOTE`): the Airbyte platform
    keeps the states a failed sync sent, PyAirbyte loads nothing of a read that fails.
    """
    line, code = TapKnowBe4.failure_line(exc)
    if isinstance(exc, BudgetExhaustedError):
        line = line.rstrip(".") + RESUME_NOTE
    trace = None
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        import traceback  # noqa: PLC0415 - only at DEBUG

        trace = redact.REDACTOR("".join(traceback.format_exception(exc)))
    if output.abandoned is None:
        try:
            output.error(line, failure_type(exc), internal=type(exc).__name__, stack_trace=trace)
        except (OSError, ValueError, TerminationRequestedError):
            pass  # the output failed as the line went out: abandoned now
        else:
            return code
    # stdout is gone (the reader stopped, a full disk): say it where a person may look
    sys.stderr.write(line + "\n")
    return code


# -- files ---------------------------------------------------------------------------------


def _read_json(path: str, what: str) -> object:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"could not read the {what} file ({type(exc).__name__}: {exc})"
        raise ConfigError(msg) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        msg = f"the {what} file is not valid JSON ({exc}; {len(text)} characters)"
        raise ConfigError(msg) from None


def read_config(path: str) -> dict[str, t.Any]:
    """The settings file: an object of the tap's settings (others are refused)."""
    config = _read_json(path, "config")
    if not isinstance(config, dict):
        msg = "the config file is not a JSON object"
        raise ConfigError(msg)
    key = config.get("api_key")
    if isinstance(key, str):
        redact.REDACTOR.add(key)
    unknown = sorted(set(config) - set(setting_names()))
    if unknown:
        msg = (
            f"Unknown setting(s) {', '.join(unknown)}: check the spelling; "
            "`source-knowbe4 spec` lists the settings."
        )
        raise ConfigError(msg)
    return config


def read_catalog(path: str) -> models.ConfiguredAirbyteCatalog:
    """The configured catalog, checked against the protocol's model."""
    try:
        return load(models.ConfiguredAirbyteCatalog, _read_json(path, "catalog"))
    except ProtocolError as exc:
        msg = f"the catalog file is not an Airbyte configured catalog: {exc}"
        raise ConfigError(msg) from None


def read_states(path: str | None) -> list[models.AirbyteStateMessage]:
    """The stored states: a list of state messages (anything else is ignored, with a warning)."""
    if path is None:
        return []
    raw = _read_json(path, "state")
    if isinstance(raw, dict) and not raw:
        return []
    if not isinstance(raw, list):
        logger.warning("The state file is not a list of state messages: starting without state.")
        return []
    states = []
    for i, item in enumerate(raw):
        try:
            states.append(load(models.AirbyteStateMessage, item, f"[{i}]"))
        except ProtocolError as exc:
            logger.warning("State %s is not a state message (%s): ignored.", i, exc)
    return states


# -- the commands --------------------------------------------------------------------------


def _tap(config: dict[str, t.Any], writer: AirbyteWriter, **kwargs: t.Any) -> TapKnowBe4:
    return TapKnowBe4(
        config=config,
        parse_env_config=False,
        validate_config=True,
        message_writer=writer,
        **kwargs,
    )


def _silent(output: Output) -> AirbyteWriter:
    return AirbyteWriter(output, [], run_started_ms=0, data=False)


def spec(args: argparse.Namespace, output: Output) -> int:  # noqa: ARG001 - one signature
    """``spec``: the settings."""
    output.message(models.AirbyteMessage(type=models.Type.SPEC, spec=specification()))
    return 0


def check(args: argparse.Namespace, output: Output) -> int:
    """``check``: the tap's connection test; FAILED with the line a sync would end with."""
    try:
        tap = _tap(read_config(args.config), _silent(output))
        tap.run_connection_test()
        tap.run.budget.flush()
        report = tap.run.report
        if report.stop_kind is StopKind.ERROR:
            raise t.cast("BaseException", report.stop_reason)
    except EXPECTED as exc:
        line, _ = TapKnowBe4.failure_line(exc)
        status = models.AirbyteConnectionStatus(status=models.Status.FAILED, message=line)
    else:
        status = models.AirbyteConnectionStatus(status=models.Status.SUCCEEDED)
    output.message(
        models.AirbyteMessage(type=models.Type.CONNECTION_STATUS, connectionStatus=status)
    )
    return 0


def discover(args: argparse.Namespace, output: Output) -> int:
    """``discover``: every stream these settings can read."""
    tap = _tap(read_config(args.config), _silent(output))
    found = catalogs.discover(catalogs.stream_facts(tap))
    output.message(models.AirbyteMessage(type=models.Type.CATALOG, catalog=found))
    return 0


def read(args: argparse.Namespace, output: Output) -> int:
    """``read``: sync the configured streams; statuses and the exit code from the outcomes."""
    config = read_config(args.config)
    configured = read_catalog(args.catalog)
    states = read_states(args.state)
    discovery = _tap(config, _silent(output))
    plan = catalogs.plan_read(configured, catalogs.stream_facts(discovery))
    tap_state = tap_state_from(states, plan.incremental, warn=_warn_state)
    writer = AirbyteWriter(output, plan.streams, run_started_ms=int(time.time() * 1000))
    tap: TapKnowBe4 | None = None
    error: BaseException | None = None
    try:
        if plan.streams:
            tap = _tap(
                config,
                writer,
                catalog=catalogs.singer_catalog(discovery, plan.streams),
                state=tap_state,
            )
            tap.sync_all()
    except EXPECTED as exc:
        error = exc
    if tap is not None:
        writer.checkpoint(tap.state, final=True)
    report = tap.run.report if tap is not None else None
    unproven = _all_empty(plan, report, error)
    contradicted = {} if unproven else _contradicted(plan, report, error, tap)
    unproven |= set(contradicted)
    incomplete = _send_statuses(output, writer, plan, report, tap, unproven=unproven)
    # fail_when_budget_exhausted raises the cap's stop: refused all the same (SIM-18)
    budget_stop = error is None or (report is not None and error is report.stop_reason)
    refusal = cap_too_small_for_full_refresh(plan, report, tap, tap_state)
    if refusal is not None and budget_stop:
        output.error(refusal, models.FailureType.config_error)
        return 1
    if error is not None:
        return fail(output, error)
    if plan.unavailable:
        text = "; ".join(plan.unavailable.values())
        output.error(text[:1].upper() + text[1:] + ".", models.FailureType.config_error)
        return 1
    if incomplete:
        if report is not None and report.stop_reason is not None:
            return max(1, fail(output, report.stop_reason))
        if contradicted:
            said = "; ".join(f"{name} {why}" for name, why in contradicted.items())
            output.error(f"Reads contradicted: {said}.", models.FailureType.system_error)
            return 1
        if unproven:
            output.error(ALL_EMPTY, models.FailureType.system_error)
            return 1
        text = (
            f"The sync did not complete: {', '.join(incomplete)}. "
            "The state lets the next sync resume."
        )
        output.error(text, models.FailureType.system_error)
        return 1
    return 0


def cap_too_small_for_full_refresh(
    plan: catalogs.ReadPlan,
    report: RunReport | None,
    tap: TapKnowBe4 | None,
    state_in: t.Mapping[str, t.Any] | None,
) -> str | None:
    """The line refusing ``max_requests_per_run`` when no sync at that cap can finish.

    Airbyte reads a full-refresh stream whole in every sync (its state is not used), so
    what a capped sync keeps is only what its incremental streams kept. A sync stopped by
    the cap that moved none of them (no bookmark, no position: ``state_in`` and the state
    after the run agree for every incremental stream) is what every later sync at that cap
    will be: transient it is not (SIM-17). One that moved any, the next sync resumes.
    """
    if tap is None or report is None or report.stop_kind is not StopKind.BUDGET:
        return None
    budget = tap.run.budget
    if not budget.run_cap_reached:
        return None
    if any(stream_part(state_in, n) != stream_part(tap.state, n) for n in plan.incremental):
        return None
    unfinished = [name for name in plan.streams if not stream_complete(report, name)]
    spent = tap.run.total_requests
    return (
        f"max_requests_per_run ({budget.max_per_run}) is too small for this sync to make "
        "progress: Airbyte reads a full-refresh stream whole in every sync, and "
        f"{spent} requests moved no incremental stream further and did not finish "
        f"{', '.join(unfinished)}; the next sync at this cap would do the same. The "
        f"smallest cap that can make progress is more than {spent}: raise "
        "max_requests_per_run."
    )


#: The line of a read whose every list answered empty (:func:`_all_empty`).
ALL_EMPTY = (
    "Every list this sync read answered empty: no evidence the API sees the account (a wrong "
    "region may answer empty lists with 200, as may a proxy), so no stream is COMPLETE and the "
    "destination keeps its tables. Check the region; an account that has no record at all: "
    "select the account stream (its record is that evidence)."
)


def _all_empty(
    plan: catalogs.ReadPlan, report: RunReport | None, error: BaseException | None
) -> set[str]:
    """The streams a read whose every list answered empty would call COMPLETE.

    The Singer tap sends no ACTIVATE_VERSION for such a read (attack 10 #5), so a
    version-aware target keeps its rows. Airbyte's counterpart is the stream's status: a
    destination replaces a full-refresh (overwrite, or refreshed) table only when its stream
    ends COMPLETE (the Java destination CDK's ``AbstractStreamOperation.finalizeTable``
    overwrites a truncate sync's table only on that status). These streams end INCOMPLETE, and
    the read with one error TRACE (:data:`ALL_EMPTY`), exit 1.
    """
    if report is None or error is not None or report.listed_anything:
        return set()
    # a read the cap or the quota stopped too: the streams it ended COMPLETE are overwritten
    # by a destination all the same (attack 13 #3)
    return {name for name in plan.streams if stream_complete(report, name)}


def _contradicted(
    plan: catalogs.ReadPlan,
    report: RunReport | None,
    error: BaseException | None,
    tap: TapKnowBe4 | None,
) -> dict[str, str]:
    """Streams read whole whose read the run contradicts.

    Empty while records of the read name one of theirs; memberships derived from users
    missing a group that says it has members; a full-refresh child stream a parent of which
    said it has children that were listed none, twice (``StreamReport.contradicted``).

    The Singer tap does not activate such a stream (``KnowBe4Stream.contradicted_read``);
    here it is INCOMPLETE, so a destination keeps its table. Nor is an empty full-refresh
    read whose witnesses (``KnowBe4Stream.witnesses_not_read``) were not read whole, the cap
    or the quota having stopped the read before them. Also in a read that stopped: the
    streams it ended COMPLETE are overwritten all the same (attack 13 #3).
    """
    if tap is None or report is None or error is not None:
        return {}
    found = {}
    for name in plan.streams:
        stream = tap.streams.get(name)
        done = report.streams.get(name)
        if stream is None or done is None or not stream_complete(report, name):
            continue
        reader = t.cast("t.Any", stream)
        why = reader.contradicted_read()
        empty = not done.records and not reader._listed and not done.carried
        unread = reader.witnesses_not_read() if empty and name not in plan.incremental else []
        if why:
            found[name] = why
        elif unread:
            found[name] = (
                f"listed none while {', '.join(unread)} (whose records can name its rows) "
                "were not read whole"
            )
        elif done.contradicted and name not in plan.incremental:
            # a parent's count contradicted its children twice (children_missing): the
            # Singer tap does not activate the stream; read in full here, it is overwritten
            found[name] = "; ".join(
                text for text in done.anomalies if "asked twice" in text or "not settled" in text
            )
    return found


def _warn_state(text: str) -> None:
    logger.warning("State: %s.", text)


def stream_complete(report: RunReport | None, name: str) -> bool:
    """True when the run read stream ``name`` to its end (or an interrupted run had)."""
    found = report.streams.get(name) if report is not None else None
    return found is not None and found.selected and found.final.done and not found.forbidden


def _send_statuses(
    output: Output,
    writer: AirbyteWriter,
    plan: catalogs.ReadPlan,
    report: RunReport | None,
    tap: TapKnowBe4 | None,
    *,
    unproven: t.Collection[str] = (),
) -> list[str]:
    """COMPLETE or INCOMPLETE for every configured stream; return the incomplete ones.

    ``unproven``: streams read to their end that are INCOMPLETE all the same (:func:`_all_empty`).
    """
    reasons = None
    if tap is not None and report is not None and report.stop_kind is StopKind.BUDGET:
        budget = tap.run.budget
        resets = None if budget.run_cap_reached else budget.resets_at
        reasons = [
            models.AirbyteStreamStatusReason(
                type=models.AirbyteStreamStatusReasonType.RATE_LIMITED,
                rate_limited=models.AirbyteStreamStatusRateLimitedReason(
                    quota_reset=int(resets.timestamp() * 1000) if resets else None
                ),
            )
        ]
    incomplete = []
    for name in plan.configured:
        writer.start(name)
        if name in plan.streams and stream_complete(report, name) and name not in unproven:
            output.stream_status(name, models.AirbyteStreamStatus.COMPLETE)
        else:
            incomplete.append(name)
            output.stream_status(name, models.AirbyteStreamStatus.INCOMPLETE, reasons)
    return incomplete


COMMANDS: dict[str, t.Callable[[argparse.Namespace, Output], int]] = {
    "spec": spec,
    "check": check,
    "discover": discover,
    "read": read,
}
