"""Install Meltano (in ``.tools/meltano``) and the project's plugins, skipping what is current.

Standard library only, so it runs with any Python >= 3.10:

    python3 scripts/meltano_install.py                      # Meltano + every plugin
    python3 scripts/meltano_install.py tap-knowbe4 target-duckdb
    python3 scripts/meltano_install.py --tools-only         # just .tools/meltano

Meltano lives in its own virtualenv, ``.tools/meltano`` (with ``uv``, which ``meltano.yml``
selects as the venv backend). Each plugin gets its own virtualenv under ``.meltano/`` from
``meltano install``. A plugin is reinstalled only when ``meltano.yml``, ``pyproject.toml``,
the local target-duckdb fix or the Meltano version changed since it was last installed
(stamps in ``.meltano/.install-stamps/``), or when its executable is missing; repeated runs
cost nothing and need no network. The tap is
installed editable (``pip_url: -e .``), so code changes need no reinstall.

Every virtualenv is compiled to bytecode once, when installed (``uv`` does not by default):
where ``PYTHONDONTWRITEBYTECODE`` is set, as in some CI and agent shells, Python would
otherwise compile Meltano, dbt and the SDK from source on every run (Meltano's start-up alone:
3.4 s of CPU without the bytecode, 1.4 s with it).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools" / "meltano"
MELTANO = TOOLS / "bin" / "meltano"
MELTANO_REQUIREMENTS = ("meltano==4.4.1", "uv>=0.5")
STAMPS = ROOT / ".meltano" / ".install-stamps"
#: Held while installing: two installers at once (two pytest workers, a demo beside the tests)
#: would build the same virtualenv together and one of them fail half-way. A lock file of its
#: own: a caller that holds another lock on ``.meltano`` while calling ``install`` must not wait
#: for itself (flock locks of one process on two descriptors of one file exclude each other).
LOCK = ROOT / ".meltano" / ".install-plugins.lock"
#: Local packages that pip_urls in meltano.yml install (non-editable, so changes need a reinstall).
LOCAL_PACKAGES = ROOT / "scripts" / "target_duckdb_fix"

#: name -> (plugin type directory, executable) for the plugins defined in meltano.yml.
PLUGINS: dict[str, tuple[str, str]] = {
    "tap-knowbe4": ("extractors", "tap-knowbe4"),
    "target-duckdb": ("loaders", "target-duckdb-fixed"),
    "target-jsonl": ("loaders", "target-jsonl"),
    "target-csv": ("loaders", "target-csv"),
    "target-postgres": ("loaders", "target-postgres"),
    "dbt-duckdb": ("utilities", "dbt"),
    "dbt-postgres": ("utilities", "dbt"),
}
#: Plugins that inherit another's pip_url share its virtualenv (Meltano installs it there).
SHARED_VENV = {"dbt-postgres": "dbt-duckdb"}


def compile_venv(venv: Path) -> None:
    """Compile ``venv``'s modules to bytecode once (a stamp in it says it is done).

    With its own Python, so the bytecode is for the version that reads it. Files that are
    not Python 3 (templates, tests of old syntax) are skipped quietly.
    """
    stamp = venv / ".bytecode-compiled"
    python = venv / "bin" / "python"
    if stamp.exists() or not python.exists():
        return
    subprocess.run(  # noqa: S603
        [str(python), "-m", "compileall", "-qq", "-j", "0", str(venv / "lib")], check=False
    )
    stamp.touch()


def _plugin_venv(name: str) -> Path:
    kind, _ = PLUGINS[name]
    return ROOT / ".meltano" / kind / SHARED_VENV.get(name, name) / "venv"


def meltano_env() -> dict[str, str]:
    """Return the environment to run Meltano with (no telemetry, project root pinned)."""
    env = dict(os.environ)
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["MELTANO_PROJECT_ROOT"] = str(ROOT)
    env.setdefault("NO_COLOR", "1")
    return env


def _log(message: str) -> None:
    print(f"[meltano-install] {message}", flush=True)


def ensure_tools(python: str = sys.executable) -> Path:
    """Create ``.tools/meltano`` with Meltano and uv unless it is already there."""
    stamp = TOOLS / ".requirements"
    wanted = "\n".join(MELTANO_REQUIREMENTS)
    if MELTANO.exists() and stamp.exists() and stamp.read_text() == wanted:
        compile_venv(TOOLS)  # a .tools/meltano made before its bytecode was compiled
        return MELTANO
    started = time.monotonic()
    _log(f"creating {TOOLS.relative_to(ROOT)} with {', '.join(MELTANO_REQUIREMENTS)}")
    subprocess.run([python, "-m", "venv", str(TOOLS)], check=True)  # noqa: S603
    venv_python = str(TOOLS / "bin" / "python")
    pip = [venv_python, "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    # uv first (one wheel), then Meltano with uv: three times faster than pip alone.
    uv_spec = next(r for r in MELTANO_REQUIREMENTS if r.startswith("uv"))
    subprocess.run([*pip, uv_spec], check=True)  # noqa: S603
    uv = [str(TOOLS / "bin" / "uv"), "pip", "install", "--quiet", "--python", venv_python]
    if subprocess.run([*uv, *MELTANO_REQUIREMENTS], check=False).returncode != 0:  # noqa: S603
        _log("uv could not install Meltano; trying pip")
        subprocess.run([*pip, *MELTANO_REQUIREMENTS], check=True)  # noqa: S603
    stamp.write_text(wanted)
    compile_venv(TOOLS)
    _log(f"Meltano ready in {time.monotonic() - started:.1f}s")
    return MELTANO


def _is_source(path: Path) -> bool:
    return "__pycache__" not in path.parts and ".egg-info" not in str(path)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    files = [ROOT / "meltano.yml", ROOT / "pyproject.toml"]
    files += sorted(p for p in LOCAL_PACKAGES.rglob("*") if p.is_file() and _is_source(p))
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    digest.update("\n".join(MELTANO_REQUIREMENTS).encode())
    return digest.hexdigest()


def _is_current(name: str, fingerprint: str) -> bool:
    _, executable = PLUGINS[name]
    exe = _plugin_venv(name) / "bin" / executable
    stamp = STAMPS / name
    return exe.exists() and stamp.exists() and stamp.read_text() == fingerprint


@contextlib.contextmanager
def _installing() -> Iterator[None]:
    """Hold the install lock: one installer at a time on this project, the others wait."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install(plugins: list[str] | None = None, python: str = sys.executable) -> list[str]:
    """Install the given plugins (default: all) that are missing or stale; return those.

    Safe to call from several processes at once: they take turns (``LOCK``), and each skips
    what the one before it installed.
    """
    with _installing():
        return _install(plugins, python)


def _install(plugins: list[str] | None, python: str) -> list[str]:
    meltano = ensure_tools(python)
    names = list(plugins or PLUGINS)
    unknown = [n for n in names if n not in PLUGINS]
    if unknown:
        msg = f"unknown plugin(s) {', '.join(unknown)}; known: {', '.join(PLUGINS)}"
        raise SystemExit(msg)
    fingerprint = _fingerprint()
    stale = [n for n in names if not _is_current(n, fingerprint)]
    if not stale:
        for name in names:  # installed before their bytecode was compiled
            compile_venv(_plugin_venv(name))
        _log(f"up to date: {', '.join(names)}")
        return []
    started = time.monotonic()
    _log(f"meltano install {' '.join(stale)}")
    subprocess.run(  # noqa: S603
        [str(meltano), "--log-level=warning", "install", *stale],
        check=True,
        cwd=ROOT,
        env=meltano_env(),
    )
    STAMPS.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (_plugin_venv(name) / ".bytecode-compiled").unlink(missing_ok=True)
        compile_venv(_plugin_venv(name))
        (STAMPS / name).write_text(fingerprint)
    _log(f"installed {', '.join(stale)} in {time.monotonic() - started:.1f}s")
    return stale


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "plugins", nargs="*", help=f"plugins to install (default: all of {PLUGINS})"
    )
    parser.add_argument("--tools-only", action="store_true", help="only create .tools/meltano")
    args = parser.parse_args(argv)
    if args.tools_only:
        with _installing():
            ensure_tools()
    else:
        install(args.plugins or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
