"""The console scripts set the cyclic collector for a short-lived process (``collector.py``).

Each check runs in a process of its own: the test process's collector is left as it is.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

from tap_knowbe4 import collector


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_modules_load_with_the_collector_off_then_it_runs_rarely() -> None:
    out = _run(
        """
        import gc
        from tap_knowbe4.collector import load_then_collect_rarely, YOUNG, MIDDLE, OLD
        def load():
            import tap_knowbe4.tap
            return gc.isenabled()
        during = load_then_collect_rarely(load)
        assert during is False, "the collector ran while the modules loaded"
        assert gc.isenabled()
        assert gc.get_threshold() == (YOUNG, MIDDLE, OLD), gc.get_threshold()
        assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()
        print("ok")
        """
    )
    assert out == "ok"


def test_a_cycle_made_later_is_still_freed_without_asking() -> None:
    """The collector still runs: a cycle is freed once enough objects were allocated."""
    out = _run(
        """
        import gc, weakref
        from tap_knowbe4.collector import load_then_collect_rarely, YOUNG
        load_then_collect_rarely(lambda: None)
        class Node: pass
        a, b = Node(), Node()
        a.other, b.other = b, a
        freed = []
        weakref.finalize(a, freed.append, True)
        del a, b
        kept = [[] for _ in range(YOUNG + 10)]  # net allocations past the threshold
        print(bool(freed))
        """
    )
    assert out == "True"


def test_a_collector_turned_off_stays_off() -> None:
    out = _run(
        """
        import gc
        from tap_knowbe4.collector import load_then_collect_rarely
        gc.disable()
        load_then_collect_rarely(lambda: None)
        print(gc.isenabled())
        """
    )
    assert out == "False"


def test_the_installed_console_scripts_set_it() -> None:
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts["tap-knowbe4"] == "tap_knowbe4.console:tap"
    assert scripts["source-knowbe4"] == "tap_knowbe4.console:source"
    assert collector.YOUNG >= 10_000
