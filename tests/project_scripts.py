"""Import the project's stand-alone scripts (``scripts/*.py``) in tests, and find the tap."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` as module ``name`` (they are not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def installed_tap() -> str:
    """The ``tap-knowbe4`` executable of this environment (the scripts run it as users do)."""
    exe = Path(sys.executable).parent / "tap-knowbe4"
    found = str(exe) if exe.exists() else shutil.which("tap-knowbe4")
    assert found, "tap-knowbe4 is not installed in this environment (run `make install`)"
    return found
