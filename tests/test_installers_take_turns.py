"""Installers of the project's tools take turns (scripts/meltano_install.py, pyairbyte_install.py).

CI once failed here: `make test` ran two pytest workers whose session fixtures both called
`meltano install target-csv ...`, and one failed removing the virtualenv the other was
building ("Directory not empty"). Any two installers (two workers, a demo beside the tests)
must take turns; the second then finds everything current and installs nothing. The same
for PyAirbyte's virtualenv (`venv --clear` of one caller removed the other's `bin/uv`).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.project_scripts import ROOT, load_script

meltano_install = load_script("meltano_install")
pyairbyte_install = load_script("pyairbyte_install")

TRY_LOCK = textwrap.dedent(
    """
    import fcntl, sys
    with open(sys.argv[1], "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("held")
        else:
            print("free")
    """
)


def _lock_from_another_process(lock: Path = meltano_install.LOCK) -> str:
    done = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(lock)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_an_installer_holds_the_project_lock_while_it_installs() -> None:
    with meltano_install._installing():
        assert _lock_from_another_process() == "held"
    assert _lock_from_another_process() == "free"


def test_pyairbyte_is_checked_and_built_under_its_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def build(python: str) -> Path:
        seen.append(_lock_from_another_process(pyairbyte_install.LOCK))
        return Path(python)

    monkeypatch.setattr(pyairbyte_install, "_ensure", build)
    pyairbyte_install.ensure(sys.executable)
    assert seen == ["held"]
    assert _lock_from_another_process(pyairbyte_install.LOCK) == "free"


def test_the_lock_is_under_the_project_meltano_directory() -> None:
    assert meltano_install.LOCK.parent == ROOT / ".meltano"


def test_make_test_installs_the_plugins_before_any_test_worker_starts() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "meltano-install" in test_rule.split(":", 1)[1].split()
