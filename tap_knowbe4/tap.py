"""TapKnowBe4: settings, streams, and one clear line when a run cannot succeed."""

from __future__ import annotations

import logging
import sys
import typing as t

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_knowbe4.errors import ConfigError, KnowBe4Error
from tap_knowbe4.limits import RequestPacer
from tap_knowbe4.run import RunControl
from tap_knowbe4.settings import CONFIG_SCHEMA, Settings
from tap_knowbe4.streams import STREAM_CLASSES

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

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        """Parse the settings; with ``validate_config``, bad settings raise before any request."""
        super().__init__(*args, validate_config=validate_config, **kwargs)
        self._settings: Settings | None = None
        try:
            self._settings = Settings.from_config(dict(self.config))
        except ConfigError:
            if validate_config:
                raise
        pacing = self._settings or Settings.defaults()
        self.run = RunControl(RequestPacer(pacing.requests_per_second, pacing.requests_per_minute))

    @property
    def settings(self) -> Settings:
        """The parsed settings (validated on first use when the tap skipped validation)."""
        if self._settings is None:
            self._settings = Settings.from_config(dict(self.config))
        return self._settings

    def discover_streams(self) -> list[KnowBe4Stream]:
        """One stream per Reporting API resource."""
        return [stream_class(tap=self) for stream_class in STREAM_CLASSES]

    # The SDK marks sync_all final; extending it (not replacing it) is the one place where
    # the end of a run can be reported once, after every stream has written its state.
    def sync_all(self) -> None:  # type: ignore[misc]
        """Sync every selected stream; then fail with the error that stopped the run."""
        super().sync_all()
        if self.run.error is not None:
            raise self.run.error

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:
        """Run the CLI; expected failures end with one line and exit code 1."""
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
