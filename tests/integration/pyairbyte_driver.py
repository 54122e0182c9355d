"""Drive ``source-knowbe4`` with PyAirbyte, as a notebook or script would.

Runs inside ``.tools/pyairbyte`` (``scripts/pyairbyte_install.py``), not the project's
virtualenv, and imports nothing of the tap:

    python pyairbyte_driver.py EXECUTABLE RESULT_FD STEP [STEP ...]

Each STEP is ``check:CONFIG.json``, ``read:CONFIG.json`` or ``validate:ARGS.json``.
``check`` answers whether the check passed and PyAirbyte's failure reason; ``read`` selects
every stream (or those its config names under ``__select``), reads into PyAirbyte's default
DuckDB cache (under ``$AIRBYTE_CACHE_ROOT``) and answers the rows each stream's table holds
and the streams whose state the cache keeps (a read the source failed: its error line and the
rows the tables still hold); ``validate`` answers ``airbyte_cdk_validate.report`` of ARGS'
``config`` and ``files`` (the Airbyte CDK is imported already: one process of this
virtualenv, not two, costs ~6-7 s of CPU less). Each answer is one JSON
line on file descriptor RESULT_FD (PyAirbyte's own progress goes to stdout); before each
further step the driver waits for a line on stdin, so the caller can look at the API between
two reads. PyAirbyte is imported once for all steps (it takes seconds).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import airbyte as ab
from airbyte import exceptions as ab_exc

#: A key of a step's config naming the streams to select (every stream without it); it is
#: taken out before the config goes to the source.
SELECT = "__select"


def _source(executable: str, config_path: str) -> ab.Source:
    config = json.loads(Path(config_path).read_text())
    config.pop(SELECT, None)
    return ab.get_source(
        "source-knowbe4",
        config=config,
        local_executable=executable,
        install_if_missing=False,
    )


def read(executable: str, config_path: str) -> dict:
    source = _source(executable, config_path)
    streams = json.loads(Path(config_path).read_text()).get(SELECT)
    if streams:
        source.select_streams(streams)
    else:
        source.select_all_streams()
    cache = ab.get_default_cache()
    try:
        result = source.read(cache=cache)
    except ab_exc.AirbyteConnectorFailedError as exc:  # the source's error TRACE, exit 1
        rows = {name: len(dataset) for name, dataset in cache.streams.items()}
        inner = exc.original_exception
        said = [exc.message, getattr(inner, "message", None), exc.log_text, exc.context]
        text = "\n".join(str(part) for part in said if part)
        return {"failed": text, "rows": rows, "cache": str(cache.db_path)}
    rows = {name: len(dataset) for name, dataset in result.streams.items()}
    provider = cache.get_state_provider(source_name=source.name)
    return {
        "rows": rows,
        "processed_records": result.processed_records,
        "state_streams": sorted(provider.known_stream_names),
        "cache": str(cache.db_path),
    }


def check(executable: str, config_path: str) -> dict:
    source = _source(executable, config_path)
    try:
        source.check()
    except ab_exc.AirbyteConnectorCheckFailedError as exc:
        return {"ok": False, "failure_reason": (exc.context or {}).get("failure_reason")}
    return {"ok": True, "failure_reason": None}


def validate(executable: str, args_path: str) -> dict:
    from airbyte_cdk_validate import report  # noqa: PLC0415 - this script's folder

    args = json.loads(Path(args_path).read_text())
    return report(args["config"], args["files"])


def main() -> int:
    executable, result_fd, *steps = sys.argv[1:]
    with os.fdopen(int(result_fd), "w") as results:
        for number, step in enumerate(steps):
            if number:
                sys.stdin.readline()  # the caller says when to go on
            command, config_path = step.split(":", 1)
            run = {"read": read, "check": check, "validate": validate}[command]
            answer = run(executable, config_path)
            results.write(json.dumps(answer, default=dict) + "\n")
            results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
