"""The request deadlines' watchdog (``transport.Watchdog``): one thread for every request.

It replaced a ``threading.Timer`` per request (a thread started and stopped per page). What
the Timer promised still holds: an armed callback is called once its time passed, a disarmed
one never is, whatever order requests are armed and end in; a forked child has its own thread.
"""

from __future__ import annotations

import os
import threading

from tap_knowbe4.transport import Watchdog


def test_an_armed_callback_is_called_and_a_disarmed_one_never_is():
    dog = Watchdog()
    called: list[str] = []
    last = threading.Event()
    early = dog.arm(0.01, lambda: called.append("disarmed"))
    dog.disarm(early)
    dog.arm(0.02, lambda: called.append("first"))
    dog.arm(0.03, lambda: (called.append("second"), last.set()))
    assert last.wait(10)
    assert called == ["first", "second"]  # in deadline order; the disarmed one's time passed


def test_a_later_request_armed_first_does_not_hold_back_an_earlier_deadline():
    dog = Watchdog()
    soon = threading.Event()
    late = dog.arm(3600, lambda: None)  # the thread sleeps until this one's time
    dog.arm(0.01, soon.set)  # earlier: the thread is woken to wait for it instead
    assert soon.wait(10)
    dog.disarm(late)


def test_requests_that_end_leave_no_entries_behind():
    dog = Watchdog()
    for _ in range(1000):
        dog.disarm(dog.arm(3600, lambda: None))
    assert len(dog._heap) <= 64 + 2  # disarmed entries are let go as they pile up


def test_a_forked_child_has_a_watchdog_of_its_own():
    dog = Watchdog()
    dog.disarm(dog.arm(3600, lambda: None))  # the parent's thread runs
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parent's thread is not here
        fired = threading.Event()
        dog.arm(0.01, fired.set)
        os.write(write, b"1" if fired.wait(10) else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
