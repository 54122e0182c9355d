"""Modules the Singer SDK imports for targets and BATCH files, loaded only if something calls them.

``import singer_sdk`` imports its target base class, and with it ``joblib`` (``from joblib
import Parallel, delayed, parallel_config``: draining a target's sinks in parallel), and its
BATCH helpers, and with them ``universal_pathlib`` and ``fsspec`` (``from upath import
UPath``: where BATCH files go): about 0.08 CPU-s of every tap process's start-up, for code
that a read without BATCH messages never runs. While a console script loads the tap
(:mod:`tap_knowbe4.console`), each is a stand-in whose names import the real module when
called and call it; once the tap is loaded the stand-ins are removed, so any later import
gets the real module. Importing the tap as a library changes nothing
(``tests/test_deferred_imports.py``).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
import typing as t

#: The modules deferred, and the names the SDK imports from each (all called, never
#: subclassed or compared by type).
DEFERRED: dict[str, tuple[str, ...]] = {
    "joblib": ("Parallel", "delayed", "parallel_config"),
    "upath": ("UPath",),
}


def _calling_the_real(module: str, name: str) -> t.Callable[..., t.Any]:
    def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, the real one imported at the first call."
    return call


@contextlib.contextmanager
def sdk_extras_deferred() -> t.Iterator[None]:
    """Within: importing a module of :data:`DEFERRED` gives its stand-in (unless loaded)."""
    stand_ins: dict[str, types.ModuleType] = {}
    for module, names in DEFERRED.items():
        if module in sys.modules:
            continue
        stand_in = types.ModuleType(module, "A stand-in: tap_knowbe4.deferred_imports.")
        for name in names:
            setattr(stand_in, name, _calling_the_real(module, name))
        stand_ins[module] = sys.modules[module] = stand_in
    try:
        yield
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]
