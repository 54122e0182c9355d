"""What one account's run costs the machine: CPU seconds and peak memory of a fleet run.

    .venv/bin/python bench/fleet_run_cost.py [--users 250] [--seed 1]

Runs, against a local sandbox with pacing off (so the run is as short as it can be):

1. the tap alone (``tap-knowbe4 --config ... > /dev/null``): CPU per request;
2. ``meltano run tap-knowbe4 target-duckdb`` (Meltano, the tap and the loader), in a
   throwaway Meltano system database and DuckDB file;
3. ``dagster asset materialize --partition bench`` of a one-account fleet (Dagster's run in
   its process, and the ``meltano run`` of the account under it): one partition's whole cost.
   Dagster is the one of ``.tools/dagster`` (``scripts/dagster_install.py`` installs it).

For each it prints wall seconds, CPU seconds (user + system, whole process tree), peak RSS of
the process tree (the sum over its processes, sampled every 50 ms) and the requests served.
The fleet arithmetic (README "Many accounts") divides these: with the API paced to 50 requests
a minute, a run's CPU is spread over (requests / 50) minutes of waiting.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from unpaced import unpaced_config

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"


def tools_bin(installer: str) -> str:
    """The bin directory ``scripts/<installer>`` prints once its virtualenv is current."""
    script = ROOT / "scripts" / installer
    found = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


def measure(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Run ``command``; its wall time, tree CPU seconds and peak tree RSS (MiB)."""
    started = time.monotonic()
    before = os.times()
    proc = psutil.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [proc, *proc.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            peak = max(peak, total)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    after = os.times()
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-3000:])
        raise SystemExit(f"{command[0]} exited {proc.returncode}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return {"wall_s": time.monotonic() - started, "cpu_s": cpu, "peak_rss_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=250)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415

    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        Sandbox(users=args.users, seed=args.seed, limits=False) as sb,
    ):
        tmp = Path(tmp_dir)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TAP_KNOWBE4", "TARGET_", "MELTANO_"))
        }
        env.update(
            {
                "TAP_KNOWBE4_API_URL": sb.base_url,
                "TAP_KNOWBE4_API_KEY": sb.api_key,
                "TAP_KNOWBE4_REQUESTS_PER_SECOND": "0",
                "TAP_KNOWBE4_REQUESTS_PER_MINUTE": "0",
                "TAP_KNOWBE4_BUDGET_LEDGER_PATH": str(tmp / "ledger.json"),
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
                "TARGET_DUCKDB_FILEPATH": str(tmp / "bench.duckdb"),
                "NO_COLOR": "1",
            }
        )
        config = tmp / "config.json"
        config.write_text(
            json.dumps(unpaced_config(sb, budget_ledger_path=str(tmp / "ledger-tap.json")))
        )
        tap = str(Path(sys.executable).parent / "tap-knowbe4")
        rows = []
        sb.reset()
        tap_only = measure([tap, "--config", str(config)], env, ROOT)
        tap_only["requests"] = sb.stats()["requests"]
        rows.append(("tap alone", tap_only))
        sb.reset()
        pipeline = measure([str(MELTANO), "run", "tap-knowbe4", "target-duckdb"], env, ROOT)
        pipeline["requests"] = sb.stats()["requests"]
        rows.append(("meltano run tap-knowbe4 target-duckdb", pipeline))
        project = tmp / "project"
        project.mkdir()
        (project / "meltano.yml").write_text((ROOT / "meltano.yml").read_text())
        (project / "fleet.yml").write_text(
            json.dumps(
                {
                    "loader": "target-duckdb",
                    "accounts": [
                        {
                            "name": "bench",
                            "key_env": "BENCH_KEY",
                            "api_url": sb.base_url,
                            "config": {"requests_per_second": 0, "requests_per_minute": 0},
                        }
                    ],
                }
            )
        )
        fleet_script = ROOT / "scripts" / "fleet.py"
        subprocess.run(
            [sys.executable, str(fleet_script), "--project", str(project)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        home = tmp / "dagster"
        home.mkdir()
        (home / "dagster.yaml").write_text((ROOT / "orchestrate" / "dagster.yaml").read_text())
        sys_dir = tmp / "sys"
        sys_dir.mkdir()
        for kind in ("extractors", "loaders", "utilities"):
            (sys_dir / kind).symlink_to(ROOT / ".meltano" / kind, target_is_directory=True)
        dagster_env = {
            **env,
            "BENCH_KEY": sb.api_key,
            "DAGSTER_HOME": str(home),
            "MELTANO_PROJECT_ROOT": str(project),
            "MELTANO_SYS_DIR_ROOT": str(sys_dir),
            "KNOWBE4_MELTANO": str(MELTANO),
        }
        dagster = str(Path(tools_bin("dagster_install.py")) / "dagster")
        sb.reset()
        partition = measure(
            [
                dagster,
                "asset",
                "materialize",
                "-f",
                str(ROOT / "orchestrate" / "definitions.py"),
                "--select",
                "knowbe4_account_tables",
                "--partition",
                "bench",
            ],
            dagster_env,
            tmp,
        )
        partition["requests"] = sb.stats()["requests"]
        rows.append(("dagster asset materialize (one partition)", partition))
    print(f"sandbox: {args.users} users, seed {args.seed}, pacing off")
    print(
        f"{'run':42s} {'wall s':>7s} {'CPU s':>7s} {'peak RSS MiB':>13s} {'requests':>9s} "
        f"{'CPU ms/request':>15s}"
    )
    for name, r in rows:
        print(
            f"{name:42s} {r['wall_s']:7.1f} {r['cpu_s']:7.1f} {r['peak_rss_mib']:13.0f} "
            f"{r['requests']:9d} {1000 * r['cpu_s'] / max(1, r['requests']):15.0f}"
        )
    p = rows[1][1]
    minutes = p["requests"] / 50
    print(
        f"paced at 50 requests/min the same run takes {minutes:.1f} min of API time; its "
        f"{p['cpu_s']:.1f} CPU s over that is {p['cpu_s'] / (minutes * 60):.3f} of a core"
    )


if __name__ == "__main__":
    main()
