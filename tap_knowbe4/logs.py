"""Keeping the log readable: lines that grow with parents go to DEBUG.

A fan-out child stream is synced once per parent (a user, a phishing test): the SDK logs
"Beginning sync" and METRIC lines each time, 15,000 lines for 5,000 users. Those lines
are demoted to DEBUG here; the tap logs one line per stream instead, and a summary at the
end. ``backoff``'s own retry lines repeat what the tap already says once per retry.
"""

from __future__ import annotations

import logging
import typing as t

from tap_knowbe4.sdk_seams import SDK_LINES_DEMOTED


class DebugLogger:
    """Looks like a logger to the SDK's meters, but logs their ``info`` lines at DEBUG."""

    def __init__(self, logger: logging.Logger) -> None:
        """Wrap ``logger``."""
        self._logger = logger

    def info(self, msg: object, *args: t.Any, **kwargs: t.Any) -> None:
        """Log at DEBUG instead."""
        self._logger.debug(msg, *args, **kwargs)

    def __getattr__(self, name: str) -> t.Any:
        """Everything else as the wrapped logger does it."""
        return getattr(self._logger, name)


class DemoteByPrefix(logging.Filter):
    """Log records whose message starts with one of ``prefixes`` become DEBUG."""

    prefixes: tuple[str, ...] = ()

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote matching records, and drop them when DEBUG is not enabled."""
        if str(record.msg).startswith(self.prefixes):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


class DemoteLibraryNoise(DemoteByPrefix):
    """Library lines that only alarm or mislead: DEBUG instead.

    urllib3's warning about a malformed header comes with a traceback (the tap judges the
    answer itself); the SDK's lines in :data:`~tap_knowbe4.sdk_seams.SDK_LINES_DEMOTED`
    other than its per-stream error line (:class:`DemoteRetryChatter`).
    """

    prefixes = (
        "Failed to parse headers",
        "Connection pool is full",
        SDK_LINES_DEMOTED["environment"],
    )


def quiet_libraries() -> None:
    """Install :class:`DemoteLibraryNoise` on urllib3's, the SDK's and the tap's loggers (once)."""
    loggers = ("urllib3.connectionpool", "urllib3.response", "urllib3.connection", "singer_sdk")
    for name in (*loggers, "tap-knowbe4"):
        library = logging.getLogger(name)
        if not any(isinstance(f, DemoteLibraryNoise) for f in library.filters):
            library.addFilter(DemoteLibraryNoise())


class DemoteRetryChatter(DemoteByPrefix):
    """A stream logger's filter: retry chatter, repeated and per-parent lines become DEBUG.

    ``backoff``'s "Backing off"/"Giving up" lines always, and the SDK's "An unhandled error
    occurred while syncing" (the tap ends every stopped run with one line that says why,
    and a second ERROR line before it only says less); for child streams also the SDK's
    "Starting incremental sync" line, logged once per parent.
    """

    def __init__(self, *, per_parent: bool = False) -> None:
        """Demote the per-parent lines too when ``per_parent``."""
        super().__init__()
        self.prefixes = (
            "Backing off ",
            "Giving up ",
            SDK_LINES_DEMOTED["stream error"],
        )
        if per_parent:
            self.prefixes = (*self.prefixes, "Starting incremental sync")


class ExplainedSkips(logging.Filter):
    """Drops the SDK's "Skipping deselected stream" line for streams the tap explains itself.

    An opt-in stream that is selected but not switched on is deselected by the tap, which
    says so in its own line at the end of the run; the SDK's line would say a second, less
    true thing (the user did select it).
    """

    SDK_LINE = "Skipping deselected stream '%s'."

    def __init__(self) -> None:
        """Explain nothing yet."""
        super().__init__()
        self.lines: frozenset[str] = frozenset()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the SDK's skip line of an explained stream (as it reads, formatted)."""
        return not self.lines or record.getMessage() not in self.lines

    @classmethod
    def on(cls, logger: logging.Logger, streams: t.Iterable[str]) -> None:
        """Explain ``streams`` on ``logger`` (one filter per logger, its streams replaced)."""
        found = next((f for f in logger.filters if isinstance(f, cls)), None)
        if found is None:
            found = cls()
            logger.addFilter(found)
        found.lines = frozenset(cls.SDK_LINE % name for name in streams)
