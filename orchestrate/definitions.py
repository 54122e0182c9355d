r"""A fleet of KnowBe4 accounts under Dagster: one partition per account of ``fleet.yml``.

    make fleet                                 # fleet.yml -> fleet.meltano.yml (the extractors)
    make fleet-ui                              # Dagster in .tools/dagster, then `dagster dev`
    DAGSTER_HOME=$PWD/orchestrate .tools/dagster/bin/dagster asset materialize \\
        -f orchestrate/definitions.py --select knowbe4_account_tables --partition acme

The asset ``knowbe4_account_tables`` is partitioned by account name (static partitions read
from the fleet file, ``$KNOWBE4_FLEET_FILE`` or ``fleet.yml`` in the Meltano project). A
partition's run is one ``meltano run tap-knowbe4--<name> <loader>``: that account's
extractor, its state ID and its schema ``knowbe4_<name>``. A run fails when Meltano exits
non-zero (the tap exits 0 only when the data is there), and only that account's partition
fails. The job ``knowbe4_fleet`` and the schedule ``knowbe4_fleet_daily`` (off until turned
on) request one run per account.

How many run at once is the instance's business (``orchestrate/dagster.yaml``): the run queue
admits at most one run per account (``dagster/partition``: each account has its own quota and
its own state) and ``max_concurrent_runs`` in all; the asset's pool ``knowbe4_fleet`` caps the
Meltano runs in progress however runs were started (the CLI above, a backfill, the schedule).

The Meltano project and binary: ``$MELTANO_PROJECT_ROOT`` (default: this checkout) and
``$KNOWBE4_MELTANO`` (default: ``.tools/meltano/bin/meltano`` there, else ``meltano`` on PATH).
This module needs ``dagster`` and PyYAML only (in a deployment of your own, the code
location's environment; here ``.tools/dagster``, by ``scripts/dagster_install.py``, never
the tap's virtualenv). Keys are read by Meltano from each account's variable; this module
only checks that the variable is set, and never reads, logs or stores a key.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import dagster as dg

ROOT = Path(__file__).resolve().parent.parent
POOL = "knowbe4_fleet"
#: Lines of a failed run's log shown with the failure (the whole log is a file).
TAIL_LINES = 40


def _fleet_module() -> ModuleType:
    """``scripts/fleet.py``, the one reader of the fleet file (it is not a package)."""
    name = "knowbe4_fleet_file"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "fleet.py")
    if spec is None or spec.loader is None:  # pragma: no cover - the checkout is incomplete
        raise ImportError(name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fleet_file = _fleet_module()
PROJECT = Path(os.environ.get("MELTANO_PROJECT_ROOT") or ROOT)
FLEET = fleet_file.load(project=PROJECT)
ACCOUNTS = dg.StaticPartitionsDefinition(FLEET.names)


def _meltano() -> str:
    configured = os.environ.get("KNOWBE4_MELTANO")
    if configured:
        return configured
    local = ROOT / ".tools" / "meltano" / "bin" / "meltano"
    return str(local) if local.exists() else (shutil.which("meltano") or "meltano")


class MeltanoProject(dg.ConfigurableResource):
    """Where ``meltano run`` runs and where each run's whole log is kept."""

    project_dir: str = str(PROJECT)
    executable: str = _meltano()
    log_dir: str = str(PROJECT / "output" / "fleet" / "logs")


def _last_error(lines: list[str]) -> str:
    """The most telling line of a failed run: the tap's error, else Meltano's last error."""
    for marker in ("[error", "ERROR", "error"):
        found = [line for line in lines if marker in line]
        if found:
            tap = [line for line in found if "tap-knowbe4" in line]
            return (tap or found)[0].strip()
    return lines[-1].strip() if lines else "(no output)"


@dg.asset(
    partitions_def=ACCOUNTS,
    pool=POOL,
    kinds={"meltano"},
    group_name="knowbe4",
    description=(
        "The KnowBe4 tables of one account (partition = account name in the fleet file), "
        "loaded by `meltano run tap-knowbe4--<name> <loader>` into schema knowbe4_<name>."
    ),
)
def knowbe4_account_tables(
    context: dg.AssetExecutionContext, meltano: MeltanoProject
) -> dg.MaterializeResult:
    """Run one account's extractor into its schema; fail this partition alone on any error."""
    account = FLEET.account(context.partition_key)
    if not os.environ.get(account.key_env):
        raise dg.Failure(
            description=(
                f"account {account.name}: the environment variable {account.key_env} that "
                "holds its Reporting API key is not set."
            )
        )
    log_dir = Path(meltano.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{account.name}-{context.run_id}.log"
    command = [meltano.executable, "run", account.extractor, FLEET.loader]
    context.log.info("account %s: %s (log: %s)", account.name, " ".join(command[1:]), log)
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(  # noqa: S603 - the command is built from the checked fleet file
            command, cwd=meltano.project_dir, stdout=out, stderr=subprocess.STDOUT, check=False
        ).returncode
    seconds = round(time.monotonic() - started, 1)
    lines = log.read_text(errors="replace").splitlines()
    metadata = {
        "account": account.name,
        "extractor": account.extractor,
        "schema": account.schema,
        "state_id": account.state_id(FLEET.loader, os.environ.get("MELTANO_ENVIRONMENT", "dev")),
        "seconds": seconds,
        "log": dg.MetadataValue.path(str(log)),
    }
    if code != 0:
        raise dg.Failure(
            description=(
                f"account {account.name}: meltano run exited {code} after {seconds} s: "
                f"{_last_error(lines)}"
            ),
            metadata={
                **metadata,
                "log_tail": dg.MetadataValue.md("```\n" + "\n".join(lines[-TAIL_LINES:]) + "\n```"),
            },
        )
    return dg.MaterializeResult(metadata=metadata)


knowbe4_fleet = dg.define_asset_job(
    "knowbe4_fleet", selection=[knowbe4_account_tables], partitions_def=ACCOUNTS
)


@dg.schedule(
    job=knowbe4_fleet,
    cron_schedule="0 2 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def knowbe4_fleet_daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Every account once a day; the run queue keeps one run per account at a time."""
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [dg.RunRequest(partition_key=name, run_key=f"{name}:{day}") for name in FLEET.names]


defs = dg.Definitions(
    assets=[knowbe4_account_tables],
    jobs=[knowbe4_fleet],
    schedules=[knowbe4_fleet_daily],
    resources={"meltano": MeltanoProject()},
    # A run is one step (one account's `meltano run`): no subprocess per step is needed.
    executor=dg.in_process_executor,
)
