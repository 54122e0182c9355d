"""A Meltano project of its own for a fleet test: this repo's meltano.yml plus a generated fleet.

The project lives in a temporary directory (``fleet.yml`` and ``fleet.meltano.yml`` there,
never in the checkout), and uses the plugins installed under the checkout's ``.meltano/``
(``MELTANO_SYS_DIR_ROOT``, as ``conftest.base_env`` does). Each account reads one sandbox,
with its key in an environment variable of its own.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t
from pathlib import Path

import yaml

from tests.integration.conftest import PAGE_SIZE, ROOT
from tests.project_scripts import load_script

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox

fleet_script = load_script("fleet")

#: The streams a fleet test's accounts select (what the tests check).
STREAMS = ("users", "groups")


@dataclasses.dataclass
class FleetAccount:
    """One account of a test fleet: its name, the sandbox it reads, the key it is given."""

    name: str
    sandbox: Sandbox
    key: str | None  # None: the variable is left unset

    @property
    def key_env(self) -> str:
        return f"FLEET_TEST_{self.name.upper()}_KEY"


def make_project(
    tmp: Path, accounts: list[FleetAccount], loader: str, streams: t.Sequence[str] = STREAMS
) -> tuple[Path, dict[str, str]]:
    """Write the project and its fleet; return its directory and the environment to run in.

    The project is this repo's ``meltano.yml`` with ``tap-knowbe4`` (and so every account,
    which inherits it) selecting ``streams`` only: the tests look at those, and each stream
    more is requests, a table and loader time in every account's run.
    """
    project = tmp / "project"
    project.mkdir()
    meltano_yml = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in meltano_yml["plugins"]["extractors"] if p["name"] == "tap-knowbe4"]
    tap["select"] = [f"{stream}.*" for stream in streams]
    (project / "meltano.yml").write_text(yaml.safe_dump(meltano_yml, sort_keys=False))
    document = {
        "loader": loader,
        "accounts": [
            {
                "name": a.name,
                "key_env": a.key_env,
                "api_url": a.sandbox.base_url,
                "config": {
                    "requests_per_second": 0,
                    "requests_per_minute": 0,
                    "page_size": PAGE_SIZE,
                    # a request may wait at the tests' rendezvous (test_fleet_dagster.py)
                    "request_timeout_seconds": 300,
                },
            }
            for a in accounts
        ],
    }
    (project / "fleet.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    assert fleet_script.main(["--project", str(project)]) == 0
    sys_dir = tmp / "meltano-sys"
    sys_dir.mkdir()
    for kind in ("extractors", "loaders", "utilities"):
        (sys_dir / kind).symlink_to(ROOT / ".meltano" / kind, target_is_directory=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_KNOWBE4", "TARGET_", "MELTANO_", "FLEET_TEST_", "DAGSTER_"))
    }
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_PROJECT_ROOT": str(project),
            "MELTANO_SYS_DIR_ROOT": str(sys_dir),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
            "NO_COLOR": "1",
            "TAP_KNOWBE4_BUDGET_LEDGER_PATH": str(tmp / "budget-ledger.json"),
            "TARGET_DUCKDB_FILEPATH": str(tmp / "warehouse.duckdb"),
        }
    )
    for account in accounts:
        if account.key is not None:
            env[account.key_env] = account.key
    return project, env


def files_under(*roots: Path) -> t.Iterator[Path]:
    """Every file below ``roots`` (what a run left behind: logs, state, storage)."""
    for root in roots:
        if root.is_file():
            yield root
            continue
        for folder, _dirs, names in os.walk(root):  # symlinks (the installed plugins) not followed
            for name in names:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    yield path


def leaked(keys: t.Iterable[str], texts: t.Iterable[str], files: t.Iterable[Path]) -> list[str]:
    """Where any key appears in ``texts`` or the bytes of ``files``."""
    found = []
    wanted = [k for k in keys if k]
    for index, text in enumerate(texts):
        found += [f"output {index}" for k in wanted if k in text]
    for path in files:
        data = path.read_bytes()
        found += [str(path) for k in wanted if k.encode() in data]
    return found
