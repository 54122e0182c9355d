"""The cyclic garbage collector of a tap process: off while its modules load, then rarely run.

Python's cyclic collector looks for reference cycles every 700 net allocations of container
objects. A tap process allocates in two ways, and neither needs it that often:

* At start-up it imports the SDK and its dependencies: a few hundred thousand objects (modules,
  classes, functions) that live until the process ends. The collector scans them again and
  again while they load: 123 young, 11 middle and 1 full collection, about a tenth of the
  start-up's instructions (``--version``: 1.44 -> 1.29 billion, cachegrind).
* During a read it decodes pages: a page's records are alive together (500 records, up to a
  thousand objects), so the default threshold runs a collection or two per page over objects
  that reference counting frees a moment later anyway. A read finds very few cycles (about
  1,500 objects in a read of 50,000 records).

So a console script (:mod:`tap_knowbe4.console`) loads its modules with the collector off,
freezes what they made (``gc.freeze``: never scanned again) and collects the young generation
every :data:`YOUNG` net allocations. The collector still runs: what cycles a read makes are
freed, a little later (memory stays flat: ``bench/throughput.py``). Only the console scripts
do this; importing the tap as a library changes nothing.
"""

from __future__ import annotations

import gc
import typing as t

#: Net allocations of container objects between two collections of the young generation.
YOUNG = 50_000
#: Young collections between two of the middle generation, middle between two full ones.
MIDDLE, OLD = 20, 100

T = t.TypeVar("T")


def load_then_collect_rarely(load: t.Callable[[], T]) -> T:
    """``load()`` (the imports) with the collector off; then freeze and set the thresholds."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return load()
    finally:
        gc.freeze()  # what the imports made: scanned by no later collection
        gc.set_threshold(YOUNG, MIDDLE, OLD)
        if enabled:
            gc.enable()
