"""TapKnowBe4: settings, streams, and one clear line when a run cannot succeed."""

from __future__ import annotations

import logging
import sys
import typing as t

import click
from singer_sdk import Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError

from tap_knowbe4.budget import STATE_KEY as BUDGET_KEY
from tap_knowbe4.budget import RequestBudget
from tap_knowbe4.errors import ConfigError, KnowBe4Error
from tap_knowbe4.limits import RequestPacer
from tap_knowbe4.plan import Plan, build_plan
from tap_knowbe4.progress import STATE_KEY as PROGRESS_KEY
from tap_knowbe4.progress import SyncProgress
from tap_knowbe4.run import RunControl
from tap_knowbe4.settings import CONFIG_SCHEMA, Settings
from tap_knowbe4.streams import stream_classes

if t.TYPE_CHECKING:
    from tap_knowbe4.client import KnowBe4Stream


class TapKnowBe4(Tap):
    """Singer tap for the KnowBe4 Reporting API.

    Extracts the account, users, groups and memberships, risk-score histories, phishing
    campaigns, security tests and their recipients, training content, campaigns and
    enrollments — paced to the API's limits (4/s, 50/min, a daily quota) and frugal with
    requests.
    """

    name = "tap-knowbe4"
    package_name = "tap-knowbe4"
    config_jsonschema = CONFIG_SCHEMA
    #: msgspec serializes Singer messages several times faster than the default writer.
    message_writer_class = MsgSpecWriter

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        """Parse the settings; with ``validate_config``, bad settings raise before any request."""
        super().__init__(*args, validate_config=validate_config, **kwargs)
        self._settings: Settings | None = None
        if validate_config:
            self._refuse_unknown_settings()
        try:
            self._settings = Settings.from_config(dict(self.config))
        except ConfigError:
            if validate_config:
                raise
        settings = self._settings or Settings.defaults()
        state = t.cast("dict[str, t.Any]", self.state)  # holds our two keys besides bookmarks
        self.run = RunControl(
            pacer=RequestPacer(settings.requests_per_second, settings.requests_per_minute),
            budget=RequestBudget(
                state,
                daily_limit=settings.daily_request_limit,
                max_per_run=settings.max_requests_per_run,
            ),
            progress=SyncProgress(state),
            logger=self.logger,
        )
        if self.run.progress.resumed:
            self._resume_interrupted_sync()

    def _refuse_unknown_settings(self) -> None:
        known = set(self.config_jsonschema.get("properties", {}))
        unknown = sorted(set(self.config) - known)
        if unknown:
            msg = (
                f"Unknown setting(s) {', '.join(unknown)}: check the spelling; "
                "`tap-knowbe4 --about` lists the settings."
            )
            raise ConfigError(msg)

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Load bookmarks (SDK), plus the request budget and the interrupted sync's progress."""
        super().load_state(state)
        for key in (BUDGET_KEY, PROGRESS_KEY):
            if state.get(key) is not None:
                t.cast("dict[str, t.Any]", self.state)[key] = state[key]

    def _resume_interrupted_sync(self) -> None:
        """Streams an interrupted run finished emit nothing; their unfinished children go on."""
        done = [s for s in self.streams.values() if self.run.progress.is_done(s.name)]
        for stream in done:
            stream.selected = False
        self.logger.info(
            "Resuming an interrupted sync: %s already done.",
            ", ".join(sorted(s.name for s in done)) or "no stream",
        )

    @property
    def settings(self) -> Settings:
        """The parsed settings (validated on first use when the tap skipped validation)."""
        if self._settings is None:
            self._settings = Settings.from_config(dict(self.config))
        return self._settings

    def discover_streams(self) -> list[KnowBe4Stream]:
        """One stream per Reporting API resource."""
        source = self.config.get("group_members_source") or "users"
        return [stream_class(tap=self) for stream_class in stream_classes(source)]

    # The SDK marks sync_all final; extending it (not replacing it) is the one place where
    # the end of a run can be reported once, after every stream has written its state.
    #: Set by ``--plan``: print the request plan instead of syncing.
    plan_only: t.ClassVar[bool] = False

    def make_plan(self) -> Plan:
        """Estimate the requests of a sync (reads the selected lists)."""
        return build_plan(t.cast("list[KnowBe4Stream]", list(self.streams.values())), self.run)

    def sync_all(self) -> None:  # type: ignore[misc]
        """Sync every selected stream, then report: summary, clean stop, or the error."""
        if type(self).plan_only:
            plan = self.make_plan()
            if self.run.error is not None:
                raise self.run.error
            sys.stdout.write(plan.render() + "\n")
            return
        super().sync_all()
        run = self.run
        if not run.stopped:
            run.progress.finish()
        self.state_writer.write_state(self.state)
        self.logger.info("Run summary:\n%s", run.summary())
        if run.stopped_cleanly:
            unfinished = sorted(
                s.name
                for s in self.streams.values()
                if s.selected and not run.progress.is_done(s.name)
            )
            resets = run.budget.resets_at
            self.logger.warning(
                "Stopped early: %s. Not finished: %s. The state records where each stream "
                "stopped; the next run continues from there%s.",
                run.error,
                ", ".join(unfinished) or "none",
                f" (the daily window resets at {resets:%Y-%m-%d %H:%M} UTC)" if resets else "",
            )
            if not self.settings.fail_when_budget_exhausted:
                return
        if run.error is not None:
            raise run.error

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus ``--plan``."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--plan"],
                is_flag=True,
                default=False,
                help=(
                    "Print how many requests a sync would send per stream, and whether it fits "
                    "today's budget, instead of syncing (costs the list requests)."
                ),
            )
        )
        return command

    @classmethod
    def invoke(cls, *args: t.Any, plan: bool = False, **kwargs: t.Any) -> None:
        """Run the CLI; expected failures end with one line and exit code 1."""
        cls.plan_only = plan
        try:
            super().invoke(*args, **kwargs)
        except (KnowBe4Error, ConfigValidationError) as exc:
            debug = cls.logger.isEnabledFor(logging.DEBUG)
            if isinstance(exc, ConfigValidationError):
                details = "; ".join(exc.errors) if exc.errors else str(exc)
                message = f"Invalid configuration: {details}"
            elif isinstance(exc, ConfigError):
                message = f"Invalid configuration: {exc}"
            else:
                message = str(exc)
            cls.logger.error(message, exc_info=debug)
            sys.exit(1)
