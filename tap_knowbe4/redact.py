"""One redaction step for everything the tap prints.

The API key must never reach a log, an error message or the state, including text that
comes from a library's exception (``requests`` puts a bad header value, key included, in
its error). :class:`Redactor` removes the key, the ``Authorization`` value and the userinfo
of any URL from a string; :func:`install` applies it to every log record as it is created
(message, arguments and formatted traceback), so whatever logs, the SDK, ``backoff``,
``urllib3`` or the tap itself, to whatever handler, passes through it.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import traceback
import typing as t
import urllib.parse

#: ``scheme://user:password@host`` (also ``user@host``): the userinfo part is removed.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")
#: ``Bearer <anything>`` up to a quote or whitespace: the credential of any header dump.
_BEARER = re.compile(r"(?i)(bearer:?\s*)[^\s'\"\\]+")
MASK = "[redacted]"
#: A JSON escape of an ASCII character (``\u0041``), undone before looking for the key.
_ASCII_ESCAPE = re.compile(rb"\\u00([0-7][0-9a-fA-F])")


def _unescape(match: re.Match[bytes]) -> bytes:
    return bytes([int(match.group(1), 16)])


class Redactor:
    """Removes registered secrets, ``Bearer`` credentials and URL userinfo from text."""

    def __init__(self, mask: str = MASK) -> None:
        """Start with no secrets; :meth:`add` registers them; each is replaced by ``mask``."""
        self.mask = mask
        self._secrets: list[str] = []
        self._forms: list[bytes] = []
        self._pattern: re.Pattern[str] | None = None
        self._json_pattern: re.Pattern[bytes] | None = None
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        r"""Register a secret (and its stripped form); short values are ignored.

        Matching ignores case (a host name or a log may lower-case it) and also finds the
        forms a server or a library may turn the key into: the escaped form a ``bytes``
        repr shows (``b'Bearer x\n'``), percent-encoding, hex and base64 (at any
        alignment, standard or URL-safe), see :func:`encoded_forms`.
        """
        if not secret:
            return
        with self._lock:
            for value in {secret, secret.strip()}:
                if len(value) >= 4 and value not in self._secrets:
                    self._secrets.append(value)
            forms = {form for value in self._secrets for form in encoded_forms(value)}
            ordered = sorted(forms, key=len, reverse=True)
            self._forms = [form.lower().encode() for form in ordered]
            if ordered:  # an empty pattern would match everywhere
                self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)
                wide = [value for value in self._secrets if not value.isascii()]
                self._json_pattern = (
                    re.compile(b"|".join(_json_escaped(value) for value in wide), re.IGNORECASE)
                    if wide
                    else None
                )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The registered secrets."""
        return tuple(self._secrets)

    def reset(self, secrets: tuple[str, ...] = ()) -> None:
        """Keep only ``secrets`` (a test that registered many values puts things back)."""
        with self._lock:
            self._secrets, self._forms = [], []
            self._pattern = self._json_pattern = None
        for secret in secrets:
            self.add(secret)

    def found_in(self, data: bytes) -> bool:
        r"""True when a registered secret occurs in ``data`` (a response body, say).

        Any form of :func:`encoded_forms` counts, and so does the key written with JSON
        escapes (``\u0061`` for ``a``, ``\/``), which a body decodes back into the key.
        """
        lowered = data.lower()
        if any(form in lowered for form in self._forms):
            return True
        if b"\\" not in data:
            return False
        unescaped = _ASCII_ESCAPE.sub(_unescape, data.replace(b"\\/", b"/")).lower()
        if any(form in unescaped for form in self._forms):
            return True
        # a key beyond ASCII, escaped: the slow, exact pattern
        return self._json_pattern is not None and bool(self._json_pattern.search(data))

    def __call__(self, text: str) -> str:
        """``text`` without any secret, bearer credential or URL userinfo."""
        if not text:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(self.mask, text)
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        return _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)


def encoded_forms(secret: str) -> set[str]:
    """``secret`` and the encodings of it a server, a header or a library may print.

    Percent-encoding, hex, and base64 of the UTF-8 bytes: for base64 the part every
    encoding of the secret shares wherever it starts in the encoded data (three
    alignments, standard and URL-safe alphabets), so the key inside a longer base64 value
    is found too. Parts shorter than 8 characters are left out (they would mask noise).
    """
    raw = secret.encode("utf-8", "surrogatepass")
    forms = {
        secret,
        secret.encode("unicode_escape").decode("ascii", "replace"),
        urllib.parse.quote(secret, safe=""),
        raw.hex(),
    }
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + raw).decode("ascii")
            core = encoded[4:-4]  # the blocks made of the secret's bytes alone
            if len(core) >= 8:
                forms.add(core)
    return {form for form in forms if form}


def _json_escaped(secret: str) -> bytes:
    r"""A pattern for ``secret`` as JSON may write it: any character as ``\uXXXX``."""
    parts = []
    for char in secret:
        options = [re.escape(char.encode("utf-8", "surrogatepass"))]
        if ord(char) < 0x10000:
            options.append(rb"\\u" + f"{ord(char):04x}".encode())
        if char in '"\\/':
            options.append(rb"\\" + re.escape(char.encode()))
        parts.append(b"(?:" + b"|".join(options) + b")")
    return b"".join(parts)


#: The process-wide redactor (one tap per process; tests add their keys too).
REDACTOR = Redactor()
#: The text of settings that may not be printed: every value that is not one of its setting's
#: allowed values (a key pasted into the wrong setting is one), see ``tap.py``.
CONFIG_TEXT = Redactor(mask="[a setting's value]")


def scrub(text: str) -> str:
    """``text`` without the key (:data:`REDACTOR`) or a setting's text (:data:`CONFIG_TEXT`)."""
    return CONFIG_TEXT(REDACTOR(text))


def redact_record(record: logging.LogRecord, redactor: t.Callable[[str], str] = scrub) -> None:
    """Replace ``record``'s message and traceback by their redacted text (formatted once)."""
    if record.msg != "METRIC: %s":  # structured logging reads the metric's Point itself
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redactor(message)
        record.args = ()
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = redactor(text.rstrip("\n"))
        record.exc_info = None  # a structured formatter would print the exception's own text
    elif record.exc_text:
        record.exc_text = redactor(record.exc_text)


class RedactingFilter(logging.Filter):
    """A handler filter: what :func:`install` does, for records made before it ran."""

    def __init__(self, redactor: t.Callable[[str], str] = scrub) -> None:
        """Filter with ``redactor``."""
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` (see :func:`redact_record`); keep it."""
        redact_record(record, self.redactor)
        return True


class _RedactingFactory:
    """A log record factory: every record, of any logger, is redacted as it is created."""

    def __init__(
        self, make: t.Callable[..., logging.LogRecord], redactor: t.Callable[[str], str]
    ) -> None:
        self.make = make
        self.redactor = redactor

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
        record = self.make(*args, **kwargs)
        redact_record(record, self.redactor)
        return record


def install(redactor: t.Callable[[str], str] = scrub) -> None:
    """Redact every log record of the process from now on (once; later calls do nothing).

    Records are redacted where they are created, so every path is covered: any logger, any
    handler (a logging config from ``SINGER_SDK_LOG_CONFIG`` may add its own, anywhere),
    warnings captured by logging, and the SDK's hook for uncaught exceptions.
    """
    if not isinstance(logging.getLogRecordFactory(), _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(logging.getLogRecordFactory(), redactor))
