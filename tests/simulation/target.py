"""The target's side of the pipe: reads the tap's stdout into the warehouse, as drawn.

Behaviours (``RunPlan.target``):

* ``normal``: reads every line as it comes;
* ``slow``: sleeps ``ms`` milliseconds every ``every`` lines;
* ``pause``: after ``after`` lines stops reading for ``seconds``, then goes on;
* ``hang``: after ``after`` lines stops reading for good (only drawn with a signal: the tap
  must still end within its bound while its stdout is full);
* ``close``: after ``after`` lines closes its end of the pipe (the tap sees a broken pipe);
* ``text``: keeps what it reads without applying it (``--plan`` prints text, not Singer).

(``full-disk``, stdout on ``/dev/full``, has no reader: ``tap_process`` handles it.)

Every STATE the target applies is acknowledged (everything before it was applied), as
Meltano stores the states a target emits. The bytes read are kept for the leak check.
"""

from __future__ import annotations

import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from tests.simulation.warehouse import Warehouse


class Target(threading.Thread):
    """Reads ``pipe`` line by line into ``warehouse`` with the drawn behaviour."""

    def __init__(self, pipe: t.BinaryIO, warehouse: Warehouse, behaviour: dict[str, t.Any]) -> None:
        """Prepare to read ``pipe`` (call ``start()``)."""
        super().__init__(name="sim-target", daemon=True)
        self.pipe = pipe
        self.warehouse = warehouse
        self.behaviour = behaviour
        self.lines = 0
        self.acked: list[dict] = []
        self.output = bytearray()
        self.read_to_end = False
        self.stopped_reading = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        """Read until the end of the output or until the behaviour stops reading."""
        kind = self.behaviour.get("kind", "normal")
        after = int(self.behaviour.get("after", 0))
        try:
            for line in self.pipe:
                self.output += line
                self.lines += 1
                if kind == "text":
                    continue
                state = self.warehouse.apply_line(line)
                if state is not None:
                    self.acked.append(state)
                if kind == "slow" and self.lines % int(self.behaviour["every"]) == 0:
                    time.sleep(float(self.behaviour["ms"]) / 1000)
                elif kind == "pause" and self.lines == after:
                    time.sleep(float(self.behaviour["seconds"]))
                elif kind == "hang" and self.lines >= after:
                    self.stopped_reading.set()
                    return
                elif kind == "close" and self.lines >= after:
                    self.stopped_reading.set()
                    self.pipe.close()
                    return
            self.read_to_end = True
        except (OSError, ValueError) as exc:  # the pipe closed under us
            self.error = exc
        finally:
            self.stopped_reading.set()

    def drain(self) -> bytes:
        """What is left in the pipe (not applied: the target stopped reading), for leak checks."""
        if self.pipe.closed:
            return b""
        try:
            return self.pipe.read() or b""
        except (OSError, ValueError):
            return b""
