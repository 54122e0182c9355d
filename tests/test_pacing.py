import itertools
import math

import pytest

from tap_knowbe4.limits import MINUTE_WINDOW, SECOND_WINDOW, RequestPacer

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
