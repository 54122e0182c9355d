"""``joblib``, which the Singer SDK imports for targets, loaded only if something calls it.

``import singer_sdk`` imports its target base class, and with it ``joblib`` (``from joblib
import Parallel, delayed, parallel_config``): about 0.05 CPU-s of every tap process's
start-up, for code that only a target runs (draining sinks in parallel). While a console
script loads the tap (:mod:`tap_knowbe4.console`), ``joblib`` is a stand-in whose three
names import the real ``joblib`` when called and call it; once the tap is loaded the
stand-in is removed, so any later ``import joblib`` gets the real module. Importing the tap
as a library changes nothing (``tests/test_deferred_imports.py``).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
import typing as t

#: The module deferred, and the names the SDK imports from it (all called, never subclassed).
MODULE = "joblib"
NAMES = ("Parallel", "delayed", "parallel_config")


def _calling_the_real(name: str) -> t.Callable[..., t.Any]:
    def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        return getattr(importlib.import_module(MODULE), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{MODULE}.{name}``, the real one imported at the first call."
    return call


@contextlib.contextmanager
def joblib_deferred() -> t.Iterator[None]:
    """Within: ``import joblib`` gives the stand-in (unless it is loaded already)."""
    if MODULE in sys.modules:
        yield
        return
    stand_in = types.ModuleType(MODULE, "A stand-in: tap_knowbe4.deferred_imports.")
    for name in NAMES:
        setattr(stand_in, name, _calling_the_real(name))
    sys.modules[MODULE] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(MODULE) is stand_in:
            del sys.modules[MODULE]
