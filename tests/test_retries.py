import datetime as dt

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_knowbe4.retries import parse_retry_after, wait_generator


def test_retry_after_seconds_and_http_date():
    now = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Sun, 01 Nov 2026 12:00:42 GMT", now) == 42.0
    assert parse_retry_after("Sun, 01 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def _error(status: int, retry_after: str | None) -> RetriableAPIError:
    response = requests.Response()
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return RetriableAPIError("x", response)


def test_wait_generator_prefers_retry_after_then_backs_off_exponentially():
    gen = wait_generator(base=1.0, cap=5.0)
    gen.send(None)
    assert gen.send(_error(429, "7")) == 7.0
    assert gen.send(_error(500, None)) == 2.0
    assert gen.send(ConnectionError()) == 4.0
    assert gen.send(_error(503, None)) == 5.0  # capped
    assert gen.send(_error(429, "30")) == 30.0  # the server's wait is never capped here
