"""Install Dagster (its web UI and daemon too) in ``.tools/dagster``, skipping what is current.

Standard library only, so it runs with any Python >= 3.10:

    python3 scripts/dagster_install.py          # prints the virtualenv's bin directory

The fleet's definitions (``orchestrate/definitions.py``) need only ``dagster`` and PyYAML. They
live in a virtualenv of their own, like Meltano's and PyAirbyte's, never in the tap's: Dagster
pins and pulls many packages (grpcio, protobuf, SQLAlchemy, alembic), and its web UI pulls
``gql``, which pulls ``backoff``, whose module overwrites the ``backoff`` of ``python-backoff``
that the tap and the Singer SDK use. Dagster loads the definitions, which run Meltano (and so
the tap) in a subprocess, never in this virtualenv. ``make fleet-ui`` and the fleet's test
(``tests/integration/test_fleet_dagster.py``) call this script; a second call costs nothing (a
stamp of the requirements), the first took 19 s and 216 MB here. Two callers at once (test
workers) wait for each other on a lock.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools" / "dagster"
BIN = TOOLS / "bin"
#: Dagster, its web UI (``dagster dev``), PyYAML for the fleet file; uv to install them fast.
REQUIREMENTS = ("dagster==1.13.28", "dagster-webserver==1.13.28", "PyYAML>=6", "uv>=0.5")


def _log(message: str) -> None:
    print(f"[dagster-install] {message}", file=sys.stderr, flush=True)


def _current(wanted: str) -> bool:
    stamp = TOOLS / ".requirements"
    return (BIN / "dagster").exists() and stamp.exists() and stamp.read_text() == wanted


def ensure(python: str = sys.executable) -> Path:
    """Create ``.tools/dagster`` unless it is current; return its ``bin`` directory."""
    wanted = "\n".join(REQUIREMENTS)
    if _current(wanted):
        return BIN
    TOOLS.parent.mkdir(parents=True, exist_ok=True)
    with (TOOLS.parent / ".dagster.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another caller may be installing it right now
        if _current(wanted):
            return BIN
        started = time.monotonic()
        _log(f"creating {TOOLS.relative_to(ROOT)} with {', '.join(REQUIREMENTS)}")
        subprocess.run([python, "-m", "venv", "--clear", str(TOOLS)], check=True)  # noqa: S603
        venv_python = str(BIN / "python")
        pip = [venv_python, "-m", "pip", "--disable-pip-version-check", "install", "-q"]
        uv_spec = next(r for r in REQUIREMENTS if r.startswith("uv"))
        subprocess.run([*pip, uv_spec], check=True)  # noqa: S603
        uv = [str(BIN / "uv"), "pip", "install", "--quiet", "--python", venv_python]
        if subprocess.run([*uv, *REQUIREMENTS], check=False).returncode != 0:  # noqa: S603
            _log("uv could not install Dagster; trying pip")
            subprocess.run([*pip, *REQUIREMENTS], check=True)  # noqa: S603
        (TOOLS / ".requirements").write_text(wanted)
        _log(f"Dagster ready in {time.monotonic() - started:.1f}s")
    return BIN


def main() -> int:
    """Command-line entry point: install, then print the virtualenv's bin directory."""
    print(ensure())
    return 0


if __name__ == "__main__":
    sys.exit(main())
