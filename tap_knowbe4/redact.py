"""One redaction step for everything the tap prints.

The API key must never reach a log, an error message or the state, including text that
comes from a library's exception (``requests`` puts a bad header value, key included, in
its error). :class:`Redactor` removes the key, the ``Authorization`` value and the userinfo
of any URL from a string; :class:`RedactingFilter` applies it to every log record (message,
arguments and formatted traceback) on every handler of the root logger, so whatever logs,
the SDK, ``backoff``, ``urllib3`` or the tap itself, passes through it.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback

#: ``scheme://user:password@host`` (also ``user@host``): the userinfo part is removed.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")
#: ``Bearer <anything>`` up to a quote or whitespace: the credential of any header dump.
_BEARER = re.compile(r"(?i)(bearer:?\s*)[^\s'\"\\]+")
MASK = "[redacted]"


class Redactor:
    """Removes registered secrets, ``Bearer`` credentials and URL userinfo from text."""

    def __init__(self) -> None:
        """Start with no secrets; :meth:`add` registers them."""
        self._secrets: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        r"""Register a secret (and its stripped form); short values are ignored.

        Matching ignores case (a host name or a log may lower-case it) and also finds the
        escaped form a ``bytes`` repr shows (``b'Bearer x\\n'``).
        """
        if not secret:
            return
        with self._lock:
            for value in {secret, secret.strip()}:
                if len(value) >= 4 and value not in self._secrets:
                    self._secrets.append(value)
            forms = set()
            for value in self._secrets:
                forms.add(value)
                forms.add(value.encode("unicode_escape").decode("ascii", "replace"))
            ordered = sorted(forms, key=len, reverse=True)
            if ordered:  # an empty pattern would match everywhere
                self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)

    def found_in(self, data: bytes) -> bool:
        """True when a registered secret occurs in ``data`` (a response body, say)."""
        lowered = data.lower()
        return any(secret.lower().encode() in lowered for secret in self._secrets)

    def __call__(self, text: str) -> str:
        """``text`` without any secret, bearer credential or URL userinfo."""
        if not text:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        return _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)


#: The process-wide redactor (one tap per process; tests add their keys too).
REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """A handler filter: formats the record once, redacted, traceback included."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        """Filter with ``redactor``."""
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message and traceback by their redacted text."""
        redact = self.redactor
        if getattr(record, "_knowbe4_redacted", False):
            return True
        metric = record.msg == "METRIC: %s"  # structured logging reads the Point itself
        if not metric:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = str(record.msg)
            record.msg = redact(message)
            record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(text.rstrip("\n"))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        record._knowbe4_redacted = True
        return True


def install(redactor: Redactor = REDACTOR) -> None:
    """Put the redacting filter on every handler of the root logger (once each)."""
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))
