"""The files a run is given: its config and its catalog, from the run's plan.

Every run is quick by construction: pacing off (``requests_per_second: 0``), waits of at
most a tenth of a second between retries unless drawn, a daily budget no sequence reaches unless
the plan draws a small one, progress lines off.
"""

from __future__ import annotations

import copy
import functools
import json
import pathlib
import subprocess
import tempfile
import typing as t

from tap_knowbe4.sandbox.times import iso_z, parse_instant
from tests.airbyte_output import configured_catalog
from tests.cli import clean_env
from tests.simulation.plan import MAPS
from tests.simulation.tap_process import SOURCE
from tests.singer_output import catalog_selecting

if t.TYPE_CHECKING:
    from tests.simulation.plan import RunPlan


#: A daily limit no sequence reaches (the draws sometimes set a small one).
UNREACHABLE_LIMIT = 1_000_000
#: Records per BATCH file.
BATCH_SIZE = 40


def start_date(world_start: str, offset_days: int | None) -> str | None:
    """``start_offset_days`` before the world's starting clock, as the setting's text."""
    if offset_days is None:
        return None
    return iso_z(parse_instant(world_start) - offset_days * 86400)


def url_of(base_url: str, variant: str) -> str:
    """The same server named three ways (the state of one is not the state of another)."""
    if variant == "localhost":
        return base_url.replace("127.0.0.1", "localhost")
    if variant == "slash":
        return base_url + "/"
    return base_url


def tap_config(
    run: RunPlan, base_url: str, world_start: str, run_dir: pathlib.Path
) -> dict[str, t.Any]:
    """The config file of ``run``."""
    drawn = run.config
    config: dict[str, t.Any] = {
        "api_key": run.stale_key or run.key,
        "api_url": url_of(base_url, run.url),
        "requests_per_second": 0,
        "requests_per_minute": 0,
        "max_retry_wait_seconds": drawn.get("max_retry_wait_seconds", 0.1),
        "request_timeout_seconds": 10,
        "progress_interval_seconds": 3600,
        "page_size": drawn.get("page_size", 500),
        "max_retries": drawn.get("max_retries", 2),
        "quota_wait_seconds": drawn.get("quota_wait_seconds", 1),
        "daily_request_limit": drawn.get("daily_request_limit") or UNREACHABLE_LIMIT,
        "pagination": drawn.get("pagination", "auto"),
        "emit_activate_version_messages": bool(drawn.get("activate")),
        "include_user_risk_score_history": bool(drawn.get("user_risk")),
        "group_members_source": "endpoint" if drawn.get("members_endpoint") else "users",
        "fail_when_budget_exhausted": bool(drawn.get("fail_on_budget")),
    }
    if drawn.get("max_requests_per_run"):
        config["max_requests_per_run"] = drawn["max_requests_per_run"]
    start = start_date(world_start, drawn.get("start_offset_days"))
    if start is not None:
        config["start_date"] = start
    batch = drawn.get("batch")
    if batch:
        root = run_dir.parent / "batch"
        if batch == "unwritable":
            blocker = run_dir.parent / "not-a-directory"
            blocker.write_text("a file where the BATCH root should be\n")
            root = blocker / "batch"
        else:
            root.mkdir(exist_ok=True)
        config["batch_config"] = {
            "encoding": {"format": "jsonl", "compression": "gzip" if batch == "gzip" else "none"},
            "storage": {"root": f"file://{root}", "prefix": f"{run_dir.name}-"},
            "batch_size": BATCH_SIZE,
        }
    if drawn.get("flattening"):
        config["flattening_enabled"] = True
        config["flattening_max_depth"] = drawn["flattening"]
    if drawn.get("maps"):
        config["stream_maps"] = copy.deepcopy(MAPS[drawn["maps"]])
    if any(f["kind"] == "slow" for f in run.faults):
        config["request_timeout_seconds"] = 1  # the slow answer (1.5 s) is abandoned, retried
    if run.misplaced_key:
        config[run.misplaced_key] = run.stale_key or run.key  # the key the person has
    return config


#: Settings of the Singer command that the Airbyte source refuses (the SDK's own).
SINGER_ONLY = ("batch_config", "stream_maps", "flattening_enabled", "flattening_max_depth")


def source_config(config: dict[str, t.Any]) -> dict[str, t.Any]:
    """The config file of an Airbyte run: the tap's own settings only."""
    return {k: v for k, v in config.items() if k not in SINGER_ONLY}


@functools.lru_cache(maxsize=1)
def _discovered() -> dict:
    return catalog_selecting(None)


@functools.lru_cache(maxsize=1)
def _airbyte_discovered() -> dict:
    """``source-knowbe4 discover``'s catalog (discovery sends no request)."""
    config = {
        "api_key": "kb4-sim-discovery-key-0000",
        "api_url": "http://127.0.0.1:9",
        "include_user_risk_score_history": True,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "config.json"
        path.write_text(json.dumps(config))
        command = [str(SOURCE), "discover", "--config", str(path)]
        done = subprocess.run(command, capture_output=True, check=True, env=clean_env())
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message.get("type") == "CATALOG":
            return message["catalog"]
    msg = "source-knowbe4 discover printed no catalog"
    raise AssertionError(msg)


def airbyte_catalog(run: RunPlan) -> dict:
    """The configured catalog of an Airbyte ``run``: the streams it selects.

    The platform's connection reads a stream incremental where the source supports it
    (deduplicated by key), else in full refresh (overwrite). PyAirbyte (0.71.3,
    ``Source.get_configured_catalog``) configures every stream ``incremental``, whether the
    source supports it or not.
    """
    deselect = set(run.catalog.get("deselect", ()))
    if not run.config.get("user_risk"):  # the source refuses what the settings cannot read
        deselect.add("user_risk_score_history")
    wanted = [s["name"] for s in _airbyte_discovered()["streams"] if s["name"] not in deselect]
    configured = configured_catalog(_airbyte_discovered(), wanted)
    if run.airbyte_runner == "pyairbyte":
        for stream in configured["streams"]:
            stream["sync_mode"] = "incremental"
    return configured


def airbyte_keys() -> dict[str, tuple[str, ...]]:
    """Each stream's primary key as the discovered catalog declares it."""
    found = {}
    for stream in _airbyte_discovered()["streams"]:
        key = stream.get("source_defined_primary_key") or []
        found[stream["name"]] = tuple(part[0] for part in key)
    return found


def catalog(run: RunPlan) -> dict:
    """The catalog of ``run``: every stream selected, then the plan's changes."""
    out = copy.deepcopy(_discovered())
    deselect = set(run.catalog.get("deselect", ()))
    fields_off: dict[str, list[str]] = run.catalog.get("fields_off", {})
    override: dict[str, dict[str, t.Any]] = run.catalog.get("override", {})
    for entry in out["streams"]:
        name = entry["tap_stream_id"]
        for item in entry["metadata"]:
            crumb = item["breadcrumb"]
            if crumb == []:
                item["metadata"]["selected"] = name not in deselect
                item["metadata"].update(override.get(name, {}))
            elif len(crumb) == 2 and crumb[1] in fields_off.get(name, ()):
                item["metadata"]["selected"] = False
        if name in override and "replication-method" in override[name]:
            entry["replication_method"] = override[name]["replication-method"]
            if "replication-key" in override[name]:
                entry["replication_key"] = override[name]["replication-key"]
    return out
