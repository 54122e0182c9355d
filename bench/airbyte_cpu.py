"""CPU of a full read through ``source-knowbe4`` (Airbyte) against ``tap-knowbe4`` (Singer).

Run by hand:  .venv/bin/python bench/airbyte_cpu.py [--users 600 --repeat 3]

One sandbox (limits off) serves both; every stream is read, ``user_risk_score_history``
included (the most records), with no state, stdout to /dev/null:

* Singer: ``tap-knowbe4 --config C --catalog S`` (every stream selected);
* Airbyte: ``source-knowbe4 read --config C --catalog A`` (every stream configured as
  PyAirbyte configures it: incremental where supported, else full refresh).

The two commands alternate, each run with a fresh budget ledger, and each process's CPU
(user + system, from ``wait4``) is taken; medians of ``--repeat`` runs and their ratio are
printed, with the records and requests of each (which must be equal: the same reading).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from unpaced import selecting, unpaced_config

from tap_knowbe4.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"


def cpu_seconds(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run ``cmd``; its CPU seconds (user + system) and the RECORD lines it wrote.

    (Both protocols write a record as ``{"type":"RECORD",...}``.)
    """
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"{cmd[0]} exited {code}")
        out.seek(0)
        records = sum(1 for line in out if line.startswith(b'{"type":"RECORD"'))
    return usage.ru_utime + usage.ru_stime, records


def measure(users: int = 600, repeat: int = 3) -> dict:
    """Median CPU seconds of each path, their ratio, records and requests per run."""
    with Sandbox(limits=False, users=users, seed=7) as sb, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        config = tmpdir / "config.json"
        config.write_text(json.dumps(unpaced_config(sb, include_user_risk_score_history=True)))
        singer_catalog = selecting(None, config)
        (tmpdir / "singer.json").write_text(json.dumps(singer_catalog))
        discovered = subprocess.run(
            [str(BIN / "source-knowbe4"), "discover", "--config", str(config)],
            capture_output=True,
            check=True,
        ).stdout
        streams = next(
            json.loads(line)["catalog"]["streams"]
            for line in discovered.splitlines()
            if line.startswith(b'{"type":"CATALOG"')
        )
        configured = {
            "streams": [
                {"stream": s, "sync_mode": "incremental", "destination_sync_mode": "append_dedup"}
                for s in streams
            ]
        }
        (tmpdir / "airbyte.json").write_text(json.dumps(configured))
        commands = {
            "singer": [
                str(BIN / "tap-knowbe4"),
                *("--config", str(config), "--catalog", str(tmpdir / "singer.json")),
            ],
            "airbyte": [
                str(BIN / "source-knowbe4"),
                "read",
                *("--config", str(config), "--catalog", str(tmpdir / "airbyte.json")),
            ],
        }
        runs: dict[str, list[float]] = {"singer": [], "airbyte": []}
        records: dict[str, set[int]] = {"singer": set(), "airbyte": set()}
        requests: dict[str, set[int]] = {"singer": set(), "airbyte": set()}
        for turn in range(repeat):
            order = ["singer", "airbyte"] if turn % 2 == 0 else ["airbyte", "singer"]
            for name in order:
                env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_KNOWBE4")}
                env["XDG_CACHE_HOME"] = tempfile.mkdtemp(dir=tmpdir)  # a fresh ledger
                sb.reset()
                seconds, count = cpu_seconds(commands[name], env)
                runs[name].append(seconds)
                records[name].add(count)
                requests[name].add(sb.stats()["requests"])
    singer, airbyte = statistics.median(runs["singer"]), statistics.median(runs["airbyte"])
    if records["singer"] != records["airbyte"] or requests["singer"] != requests["airbyte"]:
        raise SystemExit(f"the two paths read differently: {records}, {requests}")
    return {
        "users": users,
        "records": records["singer"].pop(),
        "requests": requests["singer"].pop(),
        "singer": singer,
        "airbyte": airbyte,
        "ratio": airbyte / singer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    r = measure(args.users, args.repeat)
    print("| users | records | requests | Singer CPU s | Airbyte CPU s | Airbyte / Singer |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {r['users']:,} | {r['records']:,} | {r['requests']:,} | {r['singer']:.2f} | "
        f"{r['airbyte']:.2f} | {r['ratio']:.2f} |"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
