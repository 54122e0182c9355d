import bisect
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_knowbe4.limits import MINUTE_WINDOW, SECOND_WINDOW, RequestPacer
from tests.property_examples import examples

EPS = 1e-6  # float rounding of the fake clock


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _send(pacer, clock, count):
    times = []
    for _ in range(count):
        pacer.acquire()
        times.append(clock.now)
    return times


def test_never_more_than_the_limits_in_any_window():
    clock = FakeClock()
    pacer = RequestPacer(4, 50, clock=clock, sleep=clock.sleep)
    times = _send(pacer, clock, 120)
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t - start < SECOND_WINDOW - EPS) <= 4
        assert sum(1 for t in times[i:] if t - start < MINUTE_WINDOW - EPS) <= 50
    # and it waits no more than needed: request 101 opens the third minute, and the last
    # 20 follow at 4/s
    assert times[100] - times[0] < 2 * MINUTE_WINDOW + EPS
    assert times[-1] - times[100] < 20 / 4 * SECOND_WINDOW


def test_per_second_only():
    clock = FakeClock()
    pacer = RequestPacer(4, 0, clock=clock, sleep=clock.sleep)
    times = _send(pacer, clock, 9)
    assert times[4] - times[0] >= SECOND_WINDOW - EPS
    assert times[8] - times[4] >= SECOND_WINDOW - EPS
    assert pacer.waited_seconds > 0


def test_off_never_waits():
    clock = FakeClock()
    pacer = RequestPacer(0, 0, clock=clock, sleep=clock.sleep)
    assert _send(pacer, clock, 100) == [1000.0] * 100
    assert not pacer.enabled


@pytest.mark.parametrize("rate", [0.5, 1.5, 2.5, 3.5, 4.0])
def test_fractional_rates_never_exceed_the_rate_in_any_second(rate):
    clock = FakeClock()
    pacer = RequestPacer(rate, 0, clock=clock, sleep=clock.sleep)
    times = _send(pacer, clock, 30)
    most = max(1, math.floor(rate))
    for i, start in enumerate(times):
        in_a_second = sum(1 for t in times[i:] if t - start < 1.0)
        assert in_a_second <= most
    if rate < 1:  # one request every 1/rate seconds
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 1 / rate - EPS


def _most_in_any_window(instants: list[float], span: float) -> int:
    """The largest number of ``instants`` inside one half-open window ``[t, t + span)``."""
    ordered = sorted(instants)
    return max(bisect.bisect_left(ordered, start + span) - i for i, start in enumerate(ordered))


@settings(max_examples=examples(100), deadline=None)
@given(
    rates=st.sampled_from([(4, 50), (20, 300), (2, 0), (0, 12)]),
    trips=st.lists(st.tuples(st.floats(0, 2.5), st.floats(0, 1)), min_size=1, max_size=60),
)
def test_the_server_never_counts_more_than_the_limits_whatever_each_request_took(rates, trips):
    """The server counts a request at some moment between the pacer letting it through and
    the request ending (it left late, was slow to arrive, or slow to answer): spaced from
    its end (``finished``), no server-side window of a second or a minute holds more than the
    limits, whatever the delays. (Spaced from when each was let through, a request delayed on
    its way and then a quick one land two in one of the server's windows: the 429 that
    test_limits' paced run met under load.)"""
    per_second, per_minute = rates
    clock = FakeClock()
    pacer = RequestPacer(per_second, per_minute, clock=clock, sleep=clock.sleep)
    counted = []
    for took, share in trips:
        pacer.acquire()
        counted.append(clock.now + took * share)  # when the server counted it
        clock.now += took
        pacer.finished()
    if per_second:
        assert _most_in_any_window(counted, 1.0) <= per_second
    if per_minute:
        assert _most_in_any_window(counted, 60.0) <= per_minute
