"""Check ``source-knowbe4``'s output with Airbyte's own code; print what it found as JSON.

Runs inside ``.tools/pyairbyte`` (which has the Airbyte CDK), never in the project's
virtualenv, and imports nothing of the tap:

    python airbyte_cdk_validate.py CONFIG.json NAME=MESSAGES.jsonl [NAME=MESSAGES.jsonl ...]

or, from a process that has imported the CDK already (``pyairbyte_driver.py``'s ``validate``
step: one PyAirbyte process for the whole module, not two), ``report(CONFIG, {NAME: PATH})``.

For every line of every file:

* the CDK's serializer (``AirbyteMessageSerializer.load``: serpyco-rs checks every field
  against the protocol's dataclasses) and PyAirbyte's pydantic model
  (``AirbyteMessage.model_validate_json``) must both accept it; the CDK's test wrapper
  would silently take a line it cannot read for a log line, so this is asked line by line;
* RECORDs must be valid against their stream's schema from the file named ``discover``.

Per file, the CDK's test wrapper (``airbyte_cdk.test.entrypoint_wrapper.EntrypointOutput``)
reads the messages as the CDK's own tests do: message types, error traces, stream statuses,
the connection status, the catalog. The spec must mark the API key ``airbyte_secret`` so the
CDK's secret masking finds it (``get_secrets``), and CONFIG must pass the CDK's check of a
config against the spec.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import orjson
from airbyte_cdk.models import (
    AirbyteMessageSerializer,
    ConnectorSpecificationSerializer,
    Type,
)
from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets
from airbyte_protocol.models import AirbyteMessage as PydanticMessage
from jsonschema import Draft7Validator


def _strict(path: Path) -> tuple[list[dict], collections.Counter]:
    invalid: list[dict] = []
    kinds: collections.Counter = collections.Counter()
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            message = AirbyteMessageSerializer.load(orjson.loads(line))
            PydanticMessage.model_validate_json(line)
        except Exception as exc:
            invalid.append({"file": path.name, "line": number, "error": str(exc)[:300]})
            continue
        kinds[message.type.value] += 1
        if message.type is Type.TRACE:
            kinds[f"TRACE.{message.trace.type.value}"] += 1
            if message.trace.stream_status is not None:
                kinds[f"STATUS.{message.trace.stream_status.status.value}"] += 1
    return invalid, kinds


def _summary(output: EntrypointOutput) -> dict:
    statuses = collections.defaultdict(list)
    for message in output.get_message_by_types([Type.TRACE]):
        status = message.trace.stream_status
        if status is not None:
            statuses[status.stream_descriptor.name].append(status.status.value)
    connection = [m.connectionStatus for m in output.connection_status_messages]
    return {
        "records": len(output.records),
        "states": len(output.state_messages),
        "logs": len(output.logs),
        "errors": [
            {"message": e.trace.error.message, "failure_type": e.trace.error.failure_type.value}
            for e in output.errors
        ],
        "statuses": dict(statuses),
        "connection": [
            {"status": c.status.value, "message": c.message} for c in connection if c is not None
        ],
        "catalog_streams": [s.name for s in output.catalog.catalog.streams]
        if output.get_message_by_types([Type.CATALOG])
        else [],
    }


def report(config_path: str, files: dict[str, str]) -> dict:
    """What the CDK and PyAirbyte's model found in ``files`` (name -> JSON-lines path), with
    the config at ``config_path`` checked against the spec (the file named ``spec``)."""
    config = json.loads(Path(config_path).read_text())
    report: dict = {"invalid": [], "kinds": collections.Counter(), "files": {}}
    for name, file in files.items():
        invalid, kinds = _strict(Path(file))
        report["invalid"] += invalid
        report["kinds"].update(kinds)
        report["files"][name] = _summary(EntrypointOutput(message_file=Path(file), command=[name]))
    spec_output = EntrypointOutput(message_file=Path(files["spec"]))
    (spec_message,) = spec_output.spec_messages
    spec = ConnectorSpecificationSerializer.load(
        ConnectorSpecificationSerializer.dump(spec_message.spec)
    )
    check_config_against_spec_or_exit(config, spec)
    report["secrets_found"] = get_secrets(spec.connectionSpecification, config)
    schemas = {
        stream.name: Draft7Validator(stream.json_schema)
        for stream in EntrypointOutput(message_file=Path(files["discover"])).catalog.catalog.streams
    }
    report["records_invalid"] = []
    for name, file in files.items():
        for record in EntrypointOutput(message_file=Path(file)).records_iterator:
            data = record.record
            errors = list(schemas[data.stream].iter_errors(data.data))
            if errors:
                report["records_invalid"].append([name, data.stream, errors[0].message[:200]])
    return report


def main() -> int:
    files = dict(arg.split("=", 1) for arg in sys.argv[2:])
    print(json.dumps(report(sys.argv[1], files), default=dict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
