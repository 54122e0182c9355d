"""PyAirbyte runs ``source-knowbe4``; the Airbyte CDK checks every message it sends.

PyAirbyte (the ``airbyte`` package, a client none of us wrote) lives in ``.tools/pyairbyte``
(``scripts/pyairbyte_install.py``: its pins disagree with the tap's environment) and runs the
installed ``source-knowbe4`` as a local executable, offline, into its default DuckDB cache.
The sandbox is the API; its ground truth and request counts are the measure, as in the
Singer tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests import warm_tap
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.project_scripts import load_script
from tests.singer_output import ALL_STREAMS
from tests.test_incremental import incremental_minimum

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pyairbyte")]

HERE = Path(__file__).resolve().parent
SOURCE = Path(sys.executable).parent / "source-knowbe4"
pyairbyte_install = load_script("pyairbyte_install")


@pytest.fixture(scope="session")
def pyairbyte() -> Path:
    """The python of ``.tools/pyairbyte`` (installed once, then reused)."""
    return pyairbyte_install.ensure(sys.executable)


def airbyte_env(tmp: Path) -> dict[str, str]:
    """PyAirbyte offline and quiet, its cache, logs and temporary files under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_KNOWBE4", "AIRBYTE"))}
    env.update(
        {
            "AIRBYTE_OFFLINE_MODE": "1",
            "DO_NOT_TRACK": "1",
            "AIRBYTE_CACHE_ROOT": str(tmp / "cache"),
            "AIRBYTE_LOGGING_ROOT": str(tmp / "logs"),
            "AIRBYTE_PROJECT_DIR": str(tmp),
            "NO_COLOR": "1",
        }
    )
    return env


class Driver:
    """One PyAirbyte process running the driver's steps; the test says when to go on."""

    def __init__(self, python: Path, tmp: Path, steps: list[tuple[str, dict]]) -> None:
        arguments = []
        for number, (command, config) in enumerate(steps):
            path = tmp / f"step{number}-config.json"
            path.write_text(json.dumps(config))
            arguments.append(f"{command}:{path}")
        read_end, write_end = os.pipe()
        self.log = tmp / "pyairbyte-output.txt"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(python),
                    str(HERE / "pyairbyte_driver.py"),
                    str(SOURCE),
                    str(write_end),
                    *arguments,
                ],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=airbyte_env(tmp),
                cwd=tmp,
                pass_fds=(write_end,),
            )
        os.close(write_end)
        self.results = os.fdopen(read_end)
        self.steps = 0

    def next(self) -> dict:
        """The answer of the next step (the first runs at once, the others when asked)."""
        if self.steps:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.flush()
        self.steps += 1
        line = self.results.readline()
        assert line, f"PyAirbyte stopped:\n{self.log.read_text()[-6000:]}"
        return json.loads(line)

    def close(self) -> None:
        self.results.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        assert self.proc.wait(timeout=120) == 0, self.log.read_text()[-6000:]


def truth(sb: Sandbox) -> dict[str, int]:
    return {stream: len(expected_records(sb.org, stream)) for stream in ALL_STREAMS}


def test_pyairbyte_checks_then_reads_every_stream_then_only_what_changed(pyairbyte, tmp_path):
    """In one PyAirbyte session: check with a wrong key fails with our line, check passes,
    a first read fills the cache with the ground truth, a second read from the state
    PyAirbyte kept sends only the incremental minimum and leaves the cache whole."""
    with sandbox() as sb:
        config = tap_config(sb)
        bad_key = "wrong-key-for-pyairbyte-42"
        steps = [
            ("check", tap_config(sb, api_key=bad_key)),
            ("check", config),
            ("read", config),
            ("read", config),
        ]
        driver = Driver(pyairbyte, tmp_path, steps)
        try:
            bad = driver.next()
            assert bad["ok"] is False
            assert bad["failure_reason"].startswith("The API key was rejected by 127.0.0.1:")
            assert driver.next() == {"ok": True, "failure_reason": None}
            sb.reset()
            first = driver.next()
            assert first["rows"] == truth(sb)
            assert first["state_streams"] == sorted(ALL_STREAMS)
            full_requests = sb.stats()["requests"]
            sb.reset()
            second = driver.next()
        finally:
            driver.close()
        assert sb.stats()["requests"] == incremental_minimum(sb, config["page_size"])
        assert sb.stats()["requests"] < full_requests
        assert second["processed_records"] < sum(first["rows"].values())
        assert second["rows"] == truth(sb)
        assert second["cache"] == first["cache"]
        logs = "".join(p.read_text() for p in (tmp_path / "logs").rglob("*.log"))
        logs += driver.log.read_text()
        assert bad_key not in logs
        assert sb.api_key not in logs


def run_source(tmp: Path, name: str, *args: str, files: dict[str, str]) -> int:
    """Run the installed ``source-knowbe4`` as Airbyte would (forked warm: tests/warm_tap.py);
    keep its stdout as ``name``."""
    out = tmp / f"{name}.jsonl"
    ended = warm_tap.run([str(SOURCE), *args], timeout=300)
    out.write_text(ended.stdout)
    files[name] = str(out)
    return ended.returncode


def test_the_cdk_accepts_every_message_of_every_command(pyairbyte, tmp_path):
    """spec, check (both answers), discover, full and incremental reads, a budget stop and
    a malformed catalog: every line passes the CDK's serializer and PyAirbyte's model."""
    with sandbox() as sb:
        config = tap_config(sb)
        paths = {
            name: tmp_path / f"{name}.json"
            for name in ("config", "bad", "capped", "catalog", "wrong", "state")
        }
        paths["config"].write_text(json.dumps(config))
        paths["bad"].write_text(json.dumps({**config, "api_key": "not-this-one-99"}))
        paths["capped"].write_text(json.dumps({**config, "max_requests_per_run": 40}))
        files: dict[str, str] = {}
        cfg = str(paths["config"])
        assert run_source(tmp_path, "spec", "spec", files=files) == 0
        assert run_source(tmp_path, "check", "check", "--config", cfg, files=files) == 0
        assert (
            run_source(tmp_path, "check_bad", "check", "--config", str(paths["bad"]), files=files)
            == 0
        )
        assert run_source(tmp_path, "discover", "discover", "--config", cfg, files=files) == 0
        discovered = json.loads(Path(files["discover"]).read_text().splitlines()[-1])["catalog"]
        paths["catalog"].write_text(
            json.dumps(
                {
                    "streams": [
                        {
                            "stream": stream,
                            "sync_mode": stream["supported_sync_modes"][-1],
                            "destination_sync_mode": "append_dedup",
                        }
                        for stream in discovered["streams"]
                    ]
                }
            )
        )
        read = ["read", "--config", cfg, "--catalog", str(paths["catalog"])]
        assert run_source(tmp_path, "read", *read, files=files) == 0
        states = {}
        for line in Path(files["read"]).read_text().splitlines():
            message = json.loads(line)
            if message["type"] == "STATE":
                states[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
        paths["state"].write_text(json.dumps(list(states.values())))
        again = [*read, "--state", str(paths["state"])]
        assert run_source(tmp_path, "read_incremental", *again, files=files) == 0
        capped = ["read", "--config", str(paths["capped"]), "--catalog", str(paths["catalog"])]
        assert run_source(tmp_path, "read_budget_stop", *capped, files=files) == 1
        paths["wrong"].write_text(json.dumps({"streams": [{"stream": {"name": "users"}}]}))
        wrong = ["read", "--config", cfg, "--catalog", str(paths["wrong"])]
        assert run_source(tmp_path, "read_bad_catalog", *wrong, files=files) == 1

        proc = subprocess.run(
            [str(pyairbyte), str(HERE / "airbyte_cdk_validate.py"), cfg]
            + [f"{name}={path}" for name, path in files.items()],
            capture_output=True,
            text=True,
            env=airbyte_env(tmp_path),
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-5000:]
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        total = sum(truth(sb).values())

    assert report["invalid"] == []
    assert report["records_invalid"] == []
    kinds = report["kinds"]
    for kind in ("SPEC", "CONNECTION_STATUS", "CATALOG", "RECORD", "STATE", "LOG", "TRACE"):
        assert kinds.get(kind), f"no {kind} message was checked"
    for kind in ("TRACE.ERROR", "TRACE.STREAM_STATUS"):
        assert kinds.get(kind), kind
    for status in ("STARTED", "RUNNING", "COMPLETE", "INCOMPLETE"):
        assert kinds.get(f"STATUS.{status}"), status
    assert report["secrets_found"] == [config["api_key"]]

    found = report["files"]
    assert found["check"]["connection"] == [{"status": "SUCCEEDED", "message": None}]
    (failed,) = found["check_bad"]["connection"]
    assert failed["status"] == "FAILED"
    assert failed["message"].startswith("The API key was rejected")
    assert sorted(found["discover"]["catalog_streams"]) == sorted(ALL_STREAMS)
    assert found["read"]["errors"] == []
    assert found["read"]["records"] == total
    assert all(s[-1] == "COMPLETE" for s in found["read"]["statuses"].values())
    assert found["read_incremental"]["records"] < found["read"]["records"]
    stop = found["read_budget_stop"]
    assert [e["failure_type"] for e in stop["errors"]] == ["transient_error"]
    assert "INCOMPLETE" in {s[-1] for s in stop["statuses"].values()}
    (bad_catalog,) = found["read_bad_catalog"]["errors"]
    assert bad_catalog["failure_type"] == "config_error"
    assert "streams[0].stream.json_schema is missing" in bad_catalog["message"]
