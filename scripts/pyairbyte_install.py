"""Install PyAirbyte (the ``airbyte`` package, with the Airbyte CDK) in ``.tools/pyairbyte``.

Standard library only, so it runs with any Python >= 3.10:

    python3 scripts/pyairbyte_install.py          # prints the virtualenv's python

PyAirbyte pins many packages (duckdb, SQLAlchemy, pandas, pydantic) that disagree with the
tap's development environment, so it lives in a virtualenv of its own, like Meltano's
(``scripts/meltano_install.py``), installed with ``uv``. The integration tests
(``tests/integration/test_pyairbyte.py``) call this script: they drive the tap's
``source-knowbe4`` (from the project's ``.venv``) with PyAirbyte as a local executable, and
check its messages with the CDK's models. A second call costs nothing (a stamp of the
requirements); the first takes about 20 s and 600 MB.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools" / "pyairbyte"
PYTHON = TOOLS / "bin" / "python"
#: PyAirbyte (its airbyte-cdk comes with it); uv to install it three times faster than pip.
REQUIREMENTS = ("airbyte==0.71.3", "uv>=0.5")
#: Held while checking and building: two callers at once (two test workers, a bench beside
#: the tests) would each ``venv --clear`` the other's half-built virtualenv.
LOCK = ROOT / ".tools" / ".pyairbyte-install.lock"


def _log(message: str) -> None:
    print(f"[pyairbyte-install] {message}", file=sys.stderr, flush=True)


def ensure(python: str = sys.executable) -> Path:
    """Create ``.tools/pyairbyte`` with PyAirbyte unless it is current; return its python.

    Callers take turns (``LOCK``); the second finds the first one's virtualenv current.
    """
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return _ensure(python)


def _ensure(python: str) -> Path:
    stamp = TOOLS / ".requirements"
    wanted = "\n".join(REQUIREMENTS)
    if PYTHON.exists() and stamp.exists() and stamp.read_text() == wanted:
        return PYTHON
    started = time.monotonic()
    _log(f"creating {TOOLS.relative_to(ROOT)} with {', '.join(REQUIREMENTS)}")
    subprocess.run([python, "-m", "venv", "--clear", str(TOOLS)], check=True)  # noqa: S603
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    uv_spec = next(r for r in REQUIREMENTS if r.startswith("uv"))
    subprocess.run([*pip, uv_spec], check=True)  # noqa: S603
    uv = [str(TOOLS / "bin" / "uv"), "pip", "install", "--quiet", "--python", str(PYTHON)]
    if subprocess.run([*uv, *REQUIREMENTS], check=False).returncode != 0:  # noqa: S603
        _log("uv could not install PyAirbyte; trying pip")
        subprocess.run([*pip, *REQUIREMENTS], check=True)  # noqa: S603
    stamp.write_text(wanted)
    _log(f"PyAirbyte ready in {time.monotonic() - started:.1f}s")
    return PYTHON


def main() -> int:
    """Command-line entry point: install, then print the virtualenv's python."""
    print(ensure())
    return 0


if __name__ == "__main__":
    sys.exit(main())
