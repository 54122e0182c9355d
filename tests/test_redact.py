"""The key never reaches a log, whatever logger, handler or path the line takes.

``redact.install`` (called once, when the tap module is imported) redacts every log record
as it is created; these drive the paths a handler filter on the root logger missed: a
handler on another logger that does not propagate (as a ``SINGER_SDK_LOG_CONFIG`` logging
config may set up), a warning captured by logging, a traceback, and structured logging.
"""

from __future__ import annotations

import io
import json
import logging
import typing as t
import warnings

import pytest
from singer_sdk.logging import StructuredFormatter

from tap_knowbe4 import redact
from tap_knowbe4.tap import TapKnowBe4

KEY = "kb4-redact-paths-SECRET-51d0c3"


@pytest.fixture
def stream_on(request: pytest.FixtureRequest) -> t.Iterator[io.StringIO]:
    """A handler of its own on the logger ``request.param``, not propagating to the root."""
    TapKnowBe4(config={"api_key": KEY, "budget_ledger": False})  # registers the key
    logger = logging.getLogger(request.param)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate, logger.level, before = False, logging.DEBUG, (logger.propagate, logger.level)
    yield out
    logger.removeHandler(handler)
    logger.propagate, logger.level = before


@pytest.mark.parametrize("stream_on", ["tap-knowbe4.elsewhere", "urllib3.x"], indirect=True)
def test_a_handler_on_any_logger_never_sees_the_key(stream_on):
    logger = logging.getLogger("tap-knowbe4.elsewhere")
    library = logging.getLogger("urllib3.x")
    for target in (logger, library):
        target.warning("header Authorization: Bearer %s", KEY)
        target.info("url https://user:%s@example.com/", KEY.upper())
        try:
            raise ValueError(f"bad value {KEY!r}")
        except ValueError:
            target.exception("failed")
    text = stream_on.getvalue()
    assert "failed" in text
    assert KEY.lower() not in text.lower()


@pytest.mark.parametrize("stream_on", ["py.warnings"], indirect=True)
def test_a_warning_captured_by_logging_never_holds_the_key(stream_on):
    logging.captureWarnings(capture=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn(f"deprecated use of {KEY}", UserWarning, stacklevel=1)
    finally:
        logging.captureWarnings(capture=False)
    assert "deprecated use of [redacted]" in stream_on.getvalue()


def test_structured_logging_never_holds_the_key():
    TapKnowBe4(config={"api_key": KEY, "budget_ledger": False})
    try:
        raise RuntimeError(KEY)
    except RuntimeError as exc:
        record = logging.getLogRecordFactory()(
            "tap-knowbe4", logging.ERROR, __file__, 1, "key %s", (KEY,), (RuntimeError, exc, None)
        )
    line = StructuredFormatter().format(record)
    assert KEY not in line
    assert json.loads(line)["message"] == "key [redacted]"


def test_install_is_idempotent():
    factory = logging.getLogRecordFactory()
    redact.install()
    assert logging.getLogRecordFactory() is factory


# Two tests in this order on one worker (the group): what the first registers, the second
# does not see (tests/conftest.py empties the registries around every test).
@pytest.mark.xdist_group("redact-registry")
def test_a_test_starts_with_no_secret_registered_and_may_register_its_own():
    assert redact.REDACTOR.secrets == redact.CONFIG_TEXT.secrets == ()
    TapKnowBe4(config={"api_key": KEY, "budget_ledger": False})
    redact.CONFIG_TEXT.add("a-settings-value-of-this-test")
    assert KEY in redact.REDACTOR.secrets
    assert redact.scrub(f"{KEY} a-settings-value-of-this-test") == "[redacted] [a setting's value]"


@pytest.mark.xdist_group("redact-registry")
def test_what_an_earlier_test_registered_is_not_masked_in_a_later_one():
    assert redact.REDACTOR.secrets == redact.CONFIG_TEXT.secrets == ()
    assert redact.scrub(f"{KEY} a-settings-value-of-this-test") == (
        f"{KEY} a-settings-value-of-this-test"
    )
