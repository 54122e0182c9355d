"""The files a run is given: its config and its catalog, from the run's plan.

Every run is quick by construction: pacing off (``requests_per_second: 0``), waits of at
most a tenth of a second between retries unless drawn, a daily budget no sequence reaches unless
the plan draws a small one, progress lines off.
"""

from __future__ import annotations

import copy
import functools
import typing as t

from tap_knowbe4.sandbox.times import iso_z, parse_instant
from tests.simulation.plan import STREAM_MAPS
from tests.singer_output import catalog_selecting

if t.TYPE_CHECKING:
    import pathlib

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
        "api_key": run.key,
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
        config["stream_maps"] = copy.deepcopy(STREAM_MAPS[drawn["maps"]])
    if any(f["kind"] == "slow" for f in run.faults):
        config["request_timeout_seconds"] = 1  # the slow answer (1.5 s) is abandoned, retried
    if run.misplaced_key:
        config[run.misplaced_key] = run.key
    return config


@functools.lru_cache(maxsize=1)
def _discovered() -> dict:
    return catalog_selecting(None)


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
