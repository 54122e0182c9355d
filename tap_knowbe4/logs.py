"""Keeping the log readable: lines that grow with parents go to DEBUG.

A fan-out child stream is synced once per parent (a user, a phishing test): the SDK logs
"Beginning sync" and METRIC lines each time, 15,000 lines for 5,000 users. Those lines
are demoted to DEBUG here; the tap logs one line per stream instead, and a summary at the
end. ``backoff``'s own retry lines repeat what the tap already says once per retry.
"""

from __future__ import annotations

import logging
import typing as t


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


class DemoteRetryChatter(logging.Filter):
    """A logger filter: ``backoff``'s "Backing off"/"Giving up" lines become DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote the record, and drop it when DEBUG is not enabled."""
        if str(record.msg).startswith(("Backing off ", "Giving up ")):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True
