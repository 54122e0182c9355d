"""Every run of a sequence gets a table version newer than any the sequence has seen.

A table version is the second a tap run started (the SDK's ``initialized_at // 1000``; the
tap carries it in the state while a full-table read spans runs), and a version-aware target's
ACTIVATE_VERSION deletes only the rows of *older* versions. Two runs that start in the same
wall-clock second share a version, so whether a run's ACTIVATE_VERSION may delete the rows an
earlier run sent depended on how fast the box was: SIM-21 (seed 600019) failed only when its
runs crossed a second, and passed when replayed at full speed.

Real runs are minutes apart, so a new version per run is the realistic case, and here it is
exact: before each run the sequence waits until the wall clock is past every table version it
has seen (any ``version`` in a message a target read, any version kept in a state a target
acknowledged). The tap reads the clock after its process starts, so its version is newer than
all of them. The wait (under a second) falls only after a run that sent or kept a version.
"""

from __future__ import annotations

import time
import typing as t

#: Margin past the second boundary (the tap reads the same clock, later).
MARGIN = 0.001
#: The longest wait: a version is a second the wall clock has seen, so one second and the
#: margin suffice unless the clock was set back (then the wait would never end: capped).
LONGEST = 1.5


def versions_in_state(value: object) -> t.Iterator[int]:
    """Table versions a Singer state (or Airbyte per-stream states) keeps."""
    if isinstance(value, dict) and isinstance(value.get("stream"), dict):
        value = [value]  # one Airbyte STREAM state
    if isinstance(value, list):
        for item in value:
            blob = item.get("stream", {}).get("stream_state") if isinstance(item, dict) else None
            yield from versions_in_state((blob or {}).get("tap_state"))
        return
    own = value.get("tap_knowbe4") if isinstance(value, dict) else None
    interrupted = own.get("interrupted") if isinstance(own, dict) else None
    versions = interrupted.get("versions") if isinstance(interrupted, dict) else None
    for version in (versions or {}).values() if isinstance(versions, dict) else ():
        if isinstance(version, int) and not isinstance(version, bool):
            yield version


class TableClock:
    """The newest table version a sequence has seen, and the wait for a newer one."""

    def __init__(self, sleep: t.Callable[[float], None] = time.sleep) -> None:
        """No version seen yet."""
        self.newest = 0
        #: Seconds waited so far (the cost of exactness, for the campaign's figures).
        self.waited = 0.0
        self._sleep = sleep

    def see(self, version: object) -> None:
        """A version a target read or a state kept."""
        if isinstance(version, int) and not isinstance(version, bool):
            self.newest = max(self.newest, version)

    def see_state(self, value: object) -> None:
        """Every version a state keeps."""
        for version in versions_in_state(value):
            self.see(version)

    def wait_for_a_new_second(self, now: t.Callable[[], float] = time.time) -> float:
        """Sleep until the wall clock is past the newest version seen; the seconds slept."""
        left = min(self.newest + 1 + MARGIN - now(), LONGEST)
        if left <= 0:
            return 0.0
        self._sleep(left)
        self.waited += left
        return left
