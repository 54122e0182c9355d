"""The main job in one command (``make demo``): KnowBe4 -> Meltano -> DuckDB -> dbt -> a report.

Standard library only; run it with any Python >= 3.10 (``python3 scripts/demo.py``). It

1. creates ``.tools/meltano`` (Meltano + uv) and installs the ``tap-knowbe4``,
   ``target-duckdb`` and ``dbt-duckdb`` plugins under ``.meltano/`` (skipped when current);
2. starts the KnowBe4 sandbox on 127.0.0.1 on a free port, unless ``TAP_KNOWBE4_API_KEY``
   and ``TAP_KNOWBE4_REGION`` are both set, in which case the real API is used; each later
   run moves the sandbox's clock a week further (``DEMO_SANDBOX_DAYS_PER_RUN``, default 7),
   so the incremental run has new tests, changed and deleted users to pick up;
3. runs ``meltano run tap-knowbe4 target-duckdb`` into ``output/knowbe4.duckdb`` (real API:
   ``output/knowbe4-<region>.duckdb``), with Meltano's system database keeping the state, so
   the next ``make demo`` is incremental;
4. stops the sandbox (also when something fails), after reading how many requests it served;
5. runs ``meltano run dbt-duckdb:build``: the dbt project in ``transform/`` (staging views,
   marts, the users snapshot that accumulates a version per change, run after run, and tests),
   and says in one line which tests warned and why (``scripts/dbt_warnings.py``: the API's
   dangling references);
6. prints a report from the marts (``scripts/demo_report.py``), and the requests this run sent
   compared with the first (full) run, which is remembered in ``output/demo-runs.json``.

Deleting ``output/`` starts over with a full run (``--full-refresh``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dbt_warnings import explain as explain_dbt_warnings
from meltano_install import MELTANO, ROOT, install, meltano_env

OUTPUT = ROOT / "output"
TRANSFORM = ROOT / "transform"  # the dbt project (its artifacts: transform/target/)
RUNS = OUTPUT / "demo-runs.json"
PLUGIN_VENVS = ROOT / ".meltano"
SANDBOX_EXE = PLUGIN_VENVS / "extractors" / "tap-knowbe4" / "venv" / "bin" / "tap-knowbe4-sandbox"
#: The report reads DuckDB with dbt's Python (the last writer of the file).
REPORT_PYTHON = PLUGIN_VENVS / "utilities" / "dbt-duckdb" / "venv" / "bin" / "python"
SCHEMA = "knowbe4"  # the extractor's load_schema in meltano.yml (and dbt's schema prefix)
DBT = "dbt-duckdb"  # the dbt utility in meltano.yml
SANDBOX_USERS = int(os.environ.get("DEMO_SANDBOX_USERS", "250"))
SANDBOX_SEED = int(os.environ.get("DEMO_SANDBOX_SEED", "1"))
SANDBOX_DAYS_PER_RUN = float(os.environ.get("DEMO_SANDBOX_DAYS_PER_RUN", "7"))


def say(message: str) -> None:
    """Print one progress line."""
    print(f"[demo] {message}", flush=True)


def free_port(preferred: int = 0) -> int:
    """Return ``preferred`` when it is free on 127.0.0.1 right now, else any free port.

    The state says which API address it was written for (a sandbox on another port is
    another account), so a demo run asks for the port of the run before it.
    """
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the sandbox binds
            with contextlib.suppress(OSError):
                sock.bind(("127.0.0.1", port))
                return int(sock.getsockname()[1])
    msg = "no free TCP port on 127.0.0.1"
    raise RuntimeError(msg)


def _get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
        return json.load(response)


@contextlib.contextmanager
def sandbox(log_path: Path, advance_days: float = 0, port: int = 0) -> Iterator[dict[str, Any]]:
    """Run ``tap-knowbe4-sandbox`` in the background; yield its URL, key and a stats getter.

    ``advance_days`` moves its clock forward before anything reads it; ``port`` is the port
    to ask for first (the previous run's).
    """
    port = free_port(port)
    command = [
        str(SANDBOX_EXE),
        "--port",
        str(port),
        "--users",
        str(SANDBOX_USERS),
        "--seed",
        str(SANDBOX_SEED),
        "--no-limits",
    ]
    log = log_path.open("w")
    proc = subprocess.Popen(  # noqa: S603
        command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                msg = f"the sandbox exited with {proc.returncode}:\n{log_path.read_text()}"
                raise RuntimeError(msg)
            with contextlib.suppress(OSError, ValueError):
                _get_json(f"{base_url}/_sandbox/stats", timeout=2)
                break
            if time.monotonic() > deadline:
                msg = f"the sandbox did not answer on {base_url} within 60s"
                raise RuntimeError(msg)
            time.sleep(0.2)
        printed = log_path.read_text()
        keys = re.findall(r"kb4-[A-Za-z0-9_-]+", printed)
        api_key = keys[0] if keys else "kb4-sandbox-demo-key-0000000000000000"
        clock = ""
        if advance_days:
            url = f"{base_url}/_sandbox/advance?days={advance_days:g}"
            request = urllib.request.Request(url, method="POST")  # noqa: S310 - loopback
            try:
                with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                    clock = f", clock {json.load(response)['clock']}"
            except urllib.error.HTTPError as exc:  # past the sandbox's horizon: stay put
                clock = f", clock not moved ({exc.code})"
        say(f"sandbox up at {base_url} ({SANDBOX_USERS} users, seed {SANDBOX_SEED}{clock})")
        yield {
            "port": port,
            "base_url": base_url,
            "api_key": api_key,
            "stats": lambda: _get_json(f"{base_url}/_sandbox/stats"),
        }
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()
        say("sandbox stopped")


def _requests_from_metrics(log_text: str) -> int | None:
    """Sum the tap's ``http_request_count`` metrics in a Meltano log (real-API mode).

    Meltano shows the SDK's metric lines as ``METRIC metric_name=http_request_count
    metric_value=N``; plain SDK output has ``METRIC: {"metric": "http_request_count", ...}``.
    """
    values = [
        int(float(m))
        for m in re.findall(r"metric_name=http_request_count\s+metric_value=([0-9.]+)", log_text)
    ]
    pattern = r'"metric":\s*"http_request_count",\s*"value":\s*([0-9.]+)'
    values += [int(float(m)) for m in re.findall(pattern, log_text)]
    return sum(values) if values else None


def load_runs() -> dict[str, Any]:
    """Return what earlier demo runs recorded (per mode)."""
    try:
        return json.loads(RUNS.read_text())
    except (OSError, ValueError):
        return {}


def run_meltano(env: dict[str, str], state_suffix: str, full: bool, log_path: Path) -> float:
    """Run ``meltano run tap-knowbe4 target-duckdb``; return seconds taken."""
    command = [str(MELTANO), "run", f"--state-id-suffix={state_suffix}"]
    if full:
        command.append("--full-refresh")
    command += ["tap-knowbe4", "target-duckdb"]
    shown = " ".join(["meltano", *command[1:]])
    say(f"{shown}   (log: {log_path.relative_to(ROOT)})")
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.run(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    took = time.monotonic() - started
    if proc.returncode != 0:
        tail = log_path.read_text().splitlines()[-60:]
        print("\n".join(tail), file=sys.stderr)
        msg = f"meltano run failed with exit code {proc.returncode}; full log: {log_path}"
        raise RuntimeError(msg)
    return took


def run_dbt(env: dict[str, str], log_path: Path) -> float:
    """Run ``meltano run dbt-duckdb:build`` (models, snapshot, tests); return seconds taken."""
    command = [str(MELTANO), "run", f"{DBT}:build"]
    say(f"meltano run {DBT}:build   (log: {log_path.relative_to(ROOT)})")
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.run(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    took = time.monotonic() - started
    text = log_path.read_text()
    if proc.returncode != 0:
        tail = text.splitlines()[-60:]
        print("\n".join(tail), file=sys.stderr)
        msg = f"dbt build failed with exit code {proc.returncode}; full log: {log_path}"
        raise RuntimeError(msg)
    done = re.findall(r"Done\. (PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+)", text)
    say(f"dbt build took {took:.1f}s ({done[-1] if done else 'see the log'})")
    target = Path(env.get("DBT_TARGET_PATH") or "target")
    warnings = explain_dbt_warnings(target if target.is_absolute() else TRANSFORM / target)
    if warnings:
        say(warnings)
    return took


def main() -> int:
    """Run the demo; return the exit code."""
    started = time.monotonic()
    api_key = os.environ.get("TAP_KNOWBE4_API_KEY", "").strip()
    region = os.environ.get("TAP_KNOWBE4_REGION", "").strip().lower()
    real_api = bool(api_key and region)
    mode = f"api-{re.sub(r'[^a-z0-9]+', '-', region)}" if real_api else "sandbox"
    database = OUTPUT / ("knowbe4.duckdb" if not real_api else f"knowbe4-{mode[4:]}.duckdb")
    (OUTPUT / "logs").mkdir(parents=True, exist_ok=True)

    install(["tap-knowbe4", "target-duckdb", DBT])
    setup_done = time.monotonic()

    runs = load_runs()
    full = not (database.exists() and mode in runs)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log_path = OUTPUT / "logs" / f"meltano-run-{mode}-{stamp}.log"
    env = meltano_env()
    env["TARGET_DUCKDB_FILEPATH"] = str(database)
    env["DBT_DUCKDB_PATH"] = str(database)
    env["DBT_KNOWBE4_SOURCE_SCHEMA"] = SCHEMA
    env["DBT_KNOWBE4_SCHEMA"] = SCHEMA
    if real_api:
        say(f"TAP_KNOWBE4_API_KEY and TAP_KNOWBE4_REGION are set: using the real API ({region})")
        stats = None
        took = run_meltano(env, mode, full, log_path)
        requests = _requests_from_metrics(log_path.read_text())
    else:
        if api_key or region:
            say("only one of TAP_KNOWBE4_API_KEY / TAP_KNOWBE4_REGION is set: using the sandbox")
        earlier = runs.get(mode, {}).get("sandbox_runs", 0) if not full else 0
        days = SANDBOX_DAYS_PER_RUN * earlier
        ledger = OUTPUT / "sandbox-budget-ledger.json"
        ledger.unlink(missing_ok=True)
        port = runs.get(mode, {}).get("sandbox_port", 0) if not full else 0
        with sandbox(OUTPUT / "logs" / "sandbox.log", days, port) as sb:
            runs.setdefault(mode, {})["sandbox_port"] = sb["port"]
            env.update(
                {
                    "TAP_KNOWBE4_API_URL": sb["base_url"],
                    "TAP_KNOWBE4_API_KEY": sb["api_key"],
                    "TAP_KNOWBE4_REQUESTS_PER_SECOND": "0",
                    "TAP_KNOWBE4_REQUESTS_PER_MINUTE": "0",
                    # The sandbox's requests count against no real quota: a fresh ledger of
                    # the demo's own, so the shared one (~/.cache) is neither filled nor read
                    # (it counts per host:port, and the sandbox takes any free port).
                    "TAP_KNOWBE4_BUDGET_LEDGER_PATH": str(ledger),
                }
            )
            env.pop("TAP_KNOWBE4_REGION", None)
            # target-duckdb ignores ACTIVATE_VERSION, so staging tells deleted users by the
            # gap between two runs' extraction times (README "Models"). The unthrottled
            # sandbox reads everything in seconds and demo runs follow each other closely:
            # a short gap keeps them apart (600 s, the default, suits the paced real API).
            env["DBT_KNOWBE4_SYNC_GAP_SECONDS"] = "5"
            took = run_meltano(env, mode, full, log_path)
            stats = sb["stats"]()
            # The tap stamps _sdc_extracted_at with this machine's clock, the sandbox answers
            # from a clock of its own: the repeat-clicker window ends when the tests were read,
            # in the sandbox's time (against the real API the two agree and nothing is set).
            env["DBT_KNOWBE4_AS_OF"] = str(stats["clock"])
        requests = int(stats["requests"])

    record: dict[str, Any] = {
        "at": stamp,
        "requests": requests,
        "seconds": round(took, 1),
        "full": full,
    }
    if stats is not None:
        record["by_endpoint"] = stats.get("by_endpoint")
    entry = runs.setdefault(mode, {})
    if full:
        entry["first"] = record
        entry["sandbox_runs"] = 0
    entry["last"] = record
    if stats is not None:
        entry["sandbox_runs"] = entry.get("sandbox_runs", 0) + 1
    RUNS.write_text(json.dumps(runs, indent=2) + "\n")

    say(f"extraction took {took:.1f}s ({'full' if full else 'incremental'} run)")
    dbt_took = run_dbt(env, OUTPUT / "logs" / f"dbt-build-{mode}-{stamp}.log")
    print(flush=True)
    subprocess.run(  # noqa: S603
        [str(REPORT_PYTHON), str(ROOT / "scripts" / "demo_report.py"), str(database), SCHEMA],
        check=True,
    )
    first = entry["first"]["requests"]
    if requests is None or first is None:
        print("Requests: not counted (the tap logged no http_request_count metrics).")
    elif full:
        print(f"This run sent {requests} requests (a full extraction).")
        print("Run `make demo` again: the next run is incremental and sends fewer.")
    else:
        saved = f"{100 * (1 - requests / first):.0f}%" if first else "n/a"
        print(f"This run sent {requests} requests; the first run sent {first} (saved {saved}).")
    print(
        f"Done in {time.monotonic() - started:.0f}s "
        f"(setup {setup_done - started:.0f}s, extract {took:.0f}s, dbt {dbt_took:.0f}s). "
        f"Data: {database.relative_to(ROOT)}, schemas {SCHEMA} (raw), {SCHEMA}_staging, "
        f"{SCHEMA}_marts, {SCHEMA}_snapshots."
    )
    print(
        "Many accounts: cp fleet.example.yml fleet.yml, list yours, `make fleet`, then run each "
        "as tap-knowbe4--<name> or all under Dagster (README 'Many accounts')."
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"[demo] FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("[demo] interrupted", file=sys.stderr)
        sys.exit(130)
