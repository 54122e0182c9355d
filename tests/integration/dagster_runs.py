"""Print what a Dagster instance recorded of the fleet's asset, as one JSON object.

Runs inside ``.tools/dagster`` (``scripts/dagster_install.py``), not the project's
virtualenv, which has no Dagster:

    .tools/dagster/bin/python tests/integration/dagster_runs.py DAGSTER_HOME ASSET

``{"materialized": [partition, ...], "failures": {partition: "step failure messages"}}``:
the partitions the instance records as materialised, and for each failed run its partition
and the messages of its failed steps (``tests/integration/test_fleet_dagster.py``).
"""

from __future__ import annotations

import json
import sys
import warnings


def main(home: str, asset: str) -> int:
    """Read the instance under ``home``; print the JSON object."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dagster as dg  # noqa: PLC0415 - after the warnings filter

        with dg.DagsterInstance.from_config(home) as instance:
            done = sorted(instance.get_materialized_partitions(dg.AssetKey(asset)))
            failures = {}
            for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE])):
                events = [
                    e.dagster_event
                    for e in instance.all_logs(run.run_id)
                    if e.dagster_event is not None
                    and e.dagster_event.event_type_value == "STEP_FAILURE"
                ]
                errors = [getattr(e.event_specific_data, "error", None) for e in events]
                messages = [str(getattr(error, "message", "")) for error in errors]
                failures[run.tags.get("dagster/partition", "?")] = " ".join(messages)
    print(json.dumps({"materialized": done, "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
