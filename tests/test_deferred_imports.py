"""``joblib`` and ``upath`` deferred while a console script loads the tap (deferred_imports.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

_AFTER_LOADING = """
import sys
from tap_knowbe4 import console
console.{load}()
for module in ("joblib", "upath", "fsspec"):
    assert module not in sys.modules, "imported at start-up: " + module
from singer_sdk import target_base
from singer_sdk.helpers import _batch
# where BATCH files go: the stand-in's UPath makes the real one
split = _batch.StorageTarget.split_url("file:///tmp/b/one.json.gz")
assert split == ("file:///tmp/b", "one.json.gz"), split
import upath
assert sys.modules["upath"] is upath and isinstance(upath.UPath, type), upath
# the SDK's three names work as joblib's: the real module is imported at the first call
with target_base.parallel_config(backend="threading", n_jobs=2):
    squares = target_base.Parallel()(target_base.delayed(pow)(n, 2) for n in range(4))
assert squares == [0, 1, 4, 9], squares
import joblib
assert sys.modules["joblib"] is joblib and joblib.__version__, joblib
assert isinstance(target_base.parallel_config(n_jobs=1), joblib.parallel_config)
print("ok")
"""


@pytest.mark.parametrize("load", ["_tap_cli", "_source_main"])
def test_a_console_script_loads_the_tap_without_joblib_or_upath_and_the_sdk_s_names_work(load):
    """After a console script loaded its modules neither joblib nor upath (nor fsspec) is
    loaded; the SDK's ``Parallel``, ``delayed``, ``parallel_config`` and ``UPath`` import
    them when called and behave as theirs; then an import gets the real module."""
    code = _AFTER_LOADING.format(load=load)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_importing_the_tap_as_a_library_loads_joblib_as_the_sdk_does():
    """Only the console scripts defer it: ``import tap_knowbe4.tap`` is the SDK's import."""
    code = (
        "import sys, tap_knowbe4.tap; "
        "print(type(sys.modules['joblib'].Parallel).__name__, sys.modules['upath'].__file__ > '')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["type", "True"]
