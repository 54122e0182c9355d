import datetime as dt
import math

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_knowbe4.retries import backoff_waits, parse_retry_after


def test_retry_after_seconds_and_http_date():
    now = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Sun, 01 Nov 2026 12:00:42 GMT", now) == 42.0
    assert parse_retry_after("Sun, 01 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "inf",
        "Infinity",
        "nan",
        "1e20",
        "100000000000000000000",
        "-5",
        "86401",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 99 Foo 2026 99:99:99 GMT",
        "\u00e9\u00e9",
    ],
)
def test_implausible_retry_after_is_ignored(value, caplog):
    assert parse_retry_after(value) is None
    assert "implausible" in caplog.text


def _error(status: int, retry_after: str | None) -> RetriableAPIError:
    response = requests.Response()
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return RetriableAPIError("x", response)


def test_backoff_prefers_a_plausible_retry_after_then_backs_off_exponentially():
    gen = backoff_waits(base=1.0, cap=5.0)
    gen.send(None)
    assert gen.send(_error(503, "3")) == 3.0
    assert gen.send(_error(500, None)) == 2.0
    assert gen.send(ConnectionError()) == 4.0
    assert gen.send(_error(503, None)) == 5.0  # capped
    assert gen.send(_error(503, "30")) == 5.0  # capped too
    assert all(math.isfinite(gen.send(_error(503, "inf"))) for _ in range(3))
