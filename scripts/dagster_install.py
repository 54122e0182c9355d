"""Install Dagster's web UI and daemon in ``.tools/dagster``, skipping what is current.

Standard library only, so it runs with any Python >= 3.10:

    python3 scripts/dagster_install.py          # (make fleet-ui runs it, then `dagster dev`)

The fleet's definitions (``orchestrate/definitions.py``) need only ``dagster`` and PyYAML, which
install beside the tap (the ``orchestrate`` extra, and the dev extra for the tests). Dagster's
web UI does not: ``dagster-webserver`` pulls ``gql``, which pulls ``backoff``, whose module
overwrites the ``backoff`` of ``python-backoff`` that the tap and the Singer SDK use. So the UI
and the daemon get a virtualenv of their own; they load the definitions, which run Meltano (and
so the tap) in a subprocess, never in this virtualenv.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools" / "dagster"
REQUIREMENTS = ("dagster==1.13.28", "dagster-webserver==1.13.28", "PyYAML>=6", "uv>=0.5")


def ensure_tools(python: str = sys.executable) -> Path:
    """Create ``.tools/dagster`` unless it is already there with these requirements."""
    stamp = TOOLS / ".requirements"
    wanted = "\n".join(REQUIREMENTS)
    dagster = TOOLS / "bin" / "dagster"
    if dagster.exists() and stamp.exists() and stamp.read_text() == wanted:
        return dagster
    started = time.monotonic()
    print(f"[dagster-install] creating {TOOLS.relative_to(ROOT)}", flush=True)
    subprocess.run([python, "-m", "venv", str(TOOLS)], check=True)  # noqa: S603
    venv_python = str(TOOLS / "bin" / "python")
    pip = [venv_python, "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    uv_spec = next(r for r in REQUIREMENTS if r.startswith("uv"))
    subprocess.run([*pip, uv_spec], check=True)  # noqa: S603
    uv = [str(TOOLS / "bin" / "uv"), "pip", "install", "--quiet", "--python", venv_python]
    if subprocess.run([*uv, *REQUIREMENTS], check=False).returncode != 0:  # noqa: S603
        print("[dagster-install] uv could not install Dagster; trying pip", flush=True)
        subprocess.run([*pip, *REQUIREMENTS], check=True)  # noqa: S603
    stamp.write_text(wanted)
    print(f"[dagster-install] Dagster ready in {time.monotonic() - started:.1f}s", flush=True)
    return dagster


if __name__ == "__main__":
    print(ensure_tools())
