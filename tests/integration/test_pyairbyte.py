"""PyAirbyte runs ``source-knowbe4``; the Airbyte CDK checks every message it sends.

PyAirbyte (the ``airbyte`` package, a client none of us wrote) lives in ``.tools/pyairbyte``
(``scripts/pyairbyte_install.py``: its pins disagree with the tap's environment) and runs the
installed ``source-knowbe4`` as a local executable, offline, into its default DuckDB cache.
The sandbox is the API; its ground truth and request counts are the measure, as in the
Singer tests.
"""

from __future__ import annotations

import dataclasses
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
from tests.hostile_server import HostileServer, hostile_config
from tests.project_scripts import load_script
from tests.singer_output import ALL_STREAMS
from tests.test_attack_regressions_10 import _lists_server
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


@dataclasses.dataclass
class CdkFiles:
    """The installed source's output of every command (one sandbox), and what to expect."""

    config: dict
    config_path: str
    files: dict[str, str]
    #: Command name -> exit code.
    codes: dict[str, int]
    #: The records the sandbox's streams hold (the full read must send them all).
    total: int


def cdk_files(tmp: Path) -> CdkFiles:
    """spec, check (both answers), discover, full and incremental reads, a budget stop and
    a malformed catalog, each run as Airbyte would (no PyAirbyte), into ``tmp``."""
    tmp.mkdir()
    with sandbox() as sb:
        config = tap_config(sb)
        paths = {
            name: tmp / f"{name}.json"
            for name in ("config", "bad", "capped", "catalog", "wrong", "state")
        }
        paths["config"].write_text(json.dumps(config))
        paths["bad"].write_text(json.dumps({**config, "api_key": "not-this-one-99"}))
        paths["capped"].write_text(json.dumps({**config, "max_requests_per_run": 40}))
        files: dict[str, str] = {}
        codes: dict[str, int] = {}
        cfg = str(paths["config"])

        def run(name: str, *args: str) -> None:
            codes[name] = run_source(tmp, name, *args, files=files)

        run("spec", "spec")
        run("check", "check", "--config", cfg)
        run("check_bad", "check", "--config", str(paths["bad"]))
        run("discover", "discover", "--config", cfg)
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
        run("read", *read)
        states = {}
        for line in Path(files["read"]).read_text().splitlines():
            message = json.loads(line)
            if message["type"] == "STATE":
                states[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
        paths["state"].write_text(json.dumps(list(states.values())))
        run("read_incremental", *read, "--state", str(paths["state"]))
        capped = ["read", "--config", str(paths["capped"]), "--catalog", str(paths["catalog"])]
        run("read_budget_stop", *capped)
        paths["wrong"].write_text(json.dumps({"streams": [{"stream": {"name": "users"}}]}))
        run("read_bad_catalog", "read", "--config", cfg, "--catalog", str(paths["wrong"]))
        return CdkFiles(config, cfg, files, codes, sum(truth(sb).values()))


#: The streams of the read from a server whose every list answers empty: not ``account``
#: (its one record is the evidence that the API sees the account; answered ``[]`` it fails).
EMPTY_READ = ["users", "groups", "policies", "training_campaigns"]


@dataclasses.dataclass
class Session:
    """What the module's one PyAirbyte process answered, step by step, and what its sandbox
    saw between the steps."""

    api_key: str
    bad_key: str
    answers: dict[str, dict] = dataclasses.field(default_factory=dict)
    #: Per read: the sandbox's ground truth (rows per stream) and its requests.
    truths: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    requests: dict[str, int] = dataclasses.field(default_factory=dict)
    incremental_minimum: int = 0
    logs: str = ""
    cdk: CdkFiles | None = None


@pytest.fixture(scope="module")
def session(pyairbyte: Path, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """One PyAirbyte process for both tests (``import airbyte, airbyte_cdk`` costs ~6-7 s of
    CPU from bytecode, twice that from source): the installed source's output of every
    command is made first (``cdk_files``, a sandbox of its own); then, with another sandbox,
    PyAirbyte checks with a wrong key, checks, reads, reads again from the state it kept,
    reads from a server whose every list answers empty, and last checks the first sandbox's
    files with the CDK (``validate``). Each test asserts on its part."""
    tmp = tmp_path_factory.mktemp("pyairbyte")
    cdk = cdk_files(tmp / "cdk")
    with sandbox() as sb, HostileServer(_lists_server({})) as empty:
        config = tap_config(sb)
        found = Session(api_key=sb.api_key, bad_key="wrong-key-for-pyairbyte-42", cdk=cdk)
        validate_args = {"config": cdk.config_path, "files": cdk.files}
        steps = [
            ("check", tap_config(sb, api_key=found.bad_key)),
            ("check", config),
            ("read", config),
            ("read", config),
            ("read", {**hostile_config(empty, page_size=500), "__select": EMPTY_READ}),
            ("validate", validate_args),
        ]
        driver = Driver(pyairbyte, tmp, steps)
        try:
            found.answers["check_bad"] = driver.next()
            found.answers["check"] = driver.next()
            for read in ("first", "second"):
                sb.reset()
                found.answers[read] = driver.next()
                found.truths[read] = truth(sb)
                found.requests[read] = sb.stats()["requests"]
            found.incremental_minimum = incremental_minimum(sb, config["page_size"])
            found.answers["all_empty"] = driver.next()
            found.answers["validate"] = driver.next()
        finally:
            driver.close()
    logs = "".join(p.read_text() for p in (tmp / "logs").rglob("*.log"))
    found.logs = logs + driver.log.read_text()
    return found


def test_pyairbyte_checks_then_reads_every_stream_then_only_what_changed(session: Session):
    """In one PyAirbyte session: check with a wrong key fails with our line, check passes,
    a first read fills the cache with the ground truth, a second read from the state
    PyAirbyte kept sends only the incremental minimum and leaves the cache whole."""
    bad = session.answers["check_bad"]
    assert bad["ok"] is False
    assert bad["failure_reason"].startswith("The API key was rejected by 127.0.0.1:")
    assert session.answers["check"] == {"ok": True, "failure_reason": None}
    first, second = session.answers["first"], session.answers["second"]
    assert first["rows"] == session.truths["first"]
    assert first["state_streams"] == sorted(ALL_STREAMS)
    assert session.requests["second"] == session.incremental_minimum
    assert session.requests["second"] < session.requests["first"]
    assert second["processed_records"] < sum(first["rows"].values())
    assert second["rows"] == session.truths["second"]
    assert second["cache"] == first["cache"]
    assert session.bad_key not in session.logs
    assert session.api_key not in session.logs


def test_pyairbyte_keeps_its_tables_when_every_list_answers_empty(session: Session):
    """A read of four streams (not ``account``) from an API whose every list answers ``[]``
    with 200 (a wrong region, a proxy; attack 10 #5's class) after two good reads of the
    sandbox, into the same cache: the source ends every stream INCOMPLETE with one error
    TRACE, PyAirbyte fails the read (exit code 1; the line in its log), and the cache's
    tables keep the second read's rows. (Before: exit 0, every stream COMPLETE; PyAirbyte
    0.71.3 happens to write nothing for a stream without records, but a destination replacing
    full-refresh tables on COMPLETE emptied them.)"""
    answer = session.answers["all_empty"]
    assert "'exit_code': 1" in answer["failed"], answer  # PyAirbyte: the source failed
    assert "Every list this sync read answered empty" in session.logs  # printed, with its line
    assert answer["rows"] == session.truths["second"]
    assert all(answer["rows"][stream] for stream in EMPTY_READ)
    assert answer["cache"] == session.answers["first"]["cache"]
    assert session.api_key not in session.logs


def run_source(tmp: Path, name: str, *args: str, files: dict[str, str]) -> int:
    """Run the installed ``source-knowbe4`` as Airbyte would (forked warm: tests/warm_tap.py);
    keep its stdout as ``name``."""
    out = tmp / f"{name}.jsonl"
    ended = warm_tap.run([str(SOURCE), *args], timeout=300)
    out.write_text(ended.stdout)
    files[name] = str(out)
    return ended.returncode


def test_the_cdk_accepts_every_message_of_every_command(session: Session):
    """spec, check (both answers), discover, full and incremental reads, a budget stop and
    a malformed catalog (``cdk_files``): every line passes the CDK's serializer and
    PyAirbyte's model (the ``validate`` step of the module's PyAirbyte process)."""
    cdk = session.cdk
    assert cdk is not None
    assert cdk.codes == {
        "spec": 0,
        "check": 0,
        "check_bad": 0,
        "discover": 0,
        "read": 0,
        "read_incremental": 0,
        "read_budget_stop": 1,
        "read_bad_catalog": 1,
    }
    config = cdk.config
    report = session.answers["validate"]
    total = cdk.total

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
