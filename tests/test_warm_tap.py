"""A warm run (tests/warm_tap.py) is the cold run it stands for: same output, exit, env, cwd."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from tests import warm_tap
from tests.cli import clean_env, tap_command
from tests.conftest import tap_config
from tests.singer_output import catalog_selecting

pytestmark = pytest.mark.slow  # cold runs to compare with: `make test-fast` leaves this module out


def _both(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, ...]:
    warm = warm_tap.run(command, env=env)
    cold = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=180, check=False
    )
    return warm, cold


def _without_clock(stderr: str) -> list[str]:
    """Log lines without their timestamps (and without timings, which vary run to run)."""
    return [line.split(" | ", 1)[-1] for line in stderr.splitlines() if "seconds" not in line]


def _singer(stdout: str) -> list[dict]:
    """The messages; a STATE as its bookmarks only (the rest holds the run's clock)."""
    messages = [json.loads(line) for line in stdout.splitlines()]
    for message in messages:
        message.pop("time_extracted", None)
        if message["type"] == "STATE":
            message["value"] = message["value"].get("bookmarks")
    return messages


def test_a_sync_prints_what_a_cold_run_prints(shared_sandbox, tmp_path):
    catalog = catalog_selecting(["users", "groups", "training_campaigns"])
    command = tap_command(
        tmp_path, tap_config(shared_sandbox, budget_ledger=False), catalog=catalog
    )
    warm, cold = _both(command, clean_env())
    assert (warm.returncode, cold.returncode) == (0, 0), warm.stderr[-2000:]
    assert _singer(warm.stdout) == _singer(cold.stdout)
    assert len(_singer(warm.stdout)) > 40


@pytest.mark.parametrize(
    "args",
    [["--config", "/nonexistent.json"], ["--about", "--format=json"], ["--version"], ["--help"]],
    ids=["missing-config", "about", "version", "help"],
)
def test_the_command_line_answers_as_a_cold_run(args):
    warm, cold = _both([sys.executable, "-m", "tap_knowbe4", *args], clean_env())
    assert warm.returncode == cold.returncode
    assert warm.stdout == cold.stdout
    assert _without_clock(warm.stderr) == _without_clock(cold.stderr)


def test_the_installed_script_runs_warm_as_itself():
    script = warm_tap._entry_script()
    warm, cold = _both([script, "--help"], clean_env())
    assert warm.stdout == cold.stdout
    assert warm.stdout.startswith("Usage: tap-knowbe4 ")


def test_the_installed_airbyte_source_runs_warm_as_itself():
    source = warm_tap._entry_script("source-knowbe4")
    assert warm_tap._target([source, "spec"]) == ("script", source)
    warm, cold = _both([source, "spec"], clean_env())
    assert (warm.returncode, warm.stdout) == (cold.returncode, cold.stdout)
    assert json.loads(warm.stdout.splitlines()[-1])["type"] == "SPEC"


def test_the_environment_and_directory_are_the_runs_own(shared_sandbox, tmp_path):
    """Settings from the environment reach the child; the key never shows, even forked."""
    env = clean_env(
        TAP_KNOWBE4_API_KEY=shared_sandbox.api_key,
        TAP_KNOWBE4_API_URL=shared_sandbox.base_url,
        TAP_KNOWBE4_REQUESTS_PER_SECOND="0",
        TAP_KNOWBE4_REQUESTS_PER_MINUTE="0",
        TAP_KNOWBE4_BUDGET_LEDGER="false",
    )
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_selecting(["groups"])))
    command = [sys.executable, "-m", "tap_knowbe4", "--config", "ENV", "--catalog", "catalog.json"]
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the catalog is found relative to the run's own directory
    try:
        warm = warm_tap.run(command, env=env)
    finally:
        os.chdir(cwd)
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert any(m["type"] == "RECORD" for m in _singer(warm.stdout))
    assert shared_sandbox.api_key not in warm.stdout + warm.stderr


def test_a_warm_run_is_a_process_of_its_own_that_a_signal_ends(monkeypatch):
    """The pid handed back is the run's: SIGKILL to it ends the run with -9, as Popen says."""
    started = threading.Event()
    real_start = warm_tap._WarmProcess.start

    def start_then_kill(self, *args, **kwargs):
        pid, *rest = real_start(self, *args, **kwargs)
        assert pid != os.getpid()
        os.kill(pid, 9)
        started.set()
        return (pid, *rest)

    monkeypatch.setattr(warm_tap._WarmProcess, "start", start_then_kill)
    ended = warm_tap.run([sys.executable, "-m", "tap_knowbe4", "--help"], env=clean_env())
    assert started.is_set()
    assert ended.returncode == -9


def test_what_python_reads_at_start_up_runs_cold():
    """A run whose PYTHON* variables differ from the warm process's is started cold."""
    env = clean_env(PYTHONWARNINGS="error::DeprecationWarning")
    assert warm_tap._warm_process(clean_env()) is not None
    assert warm_tap._warm_process(env) is None
    ended = warm_tap.run([sys.executable, "-m", "tap_knowbe4", "--version"], env=env)
    assert ended.returncode == 0


def _popen(command: list[str], tmp_path, *, warm: bool, stdout=subprocess.PIPE, term=None):
    """Run ``command`` through ``warm_tap.popen`` (or cold ``Popen``); its exit code, the
    messages it wrote and its log lines. ``term``: a list the run's process is put into (the
    sandbox signals it from there)."""
    env = clean_env()
    errors = tmp_path / f"stderr-{warm}.txt"
    with errors.open("wb") as stderr:
        if warm:
            proc = warm_tap.popen(command, env=env, cwd=tmp_path, stdout=stdout, stderr=stderr)
            assert isinstance(proc, warm_tap.WarmPopen)
        else:
            proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=stdout, stderr=stderr)
        if term is not None:
            term.append(proc)
        output = proc.stdout.read() if proc.stdout is not None else b""
        code = proc.wait(timeout=120)
        if proc.stdout is not None:
            proc.stdout.close()
    return code, _singer(output.decode()), _without_clock(errors.read_text())


def _terminate_at_second_request(sb, monkeypatch) -> list:
    """The sandbox sends SIGTERM to the run (put into the list returned) when its second
    request comes, then answers it: the signal meets the run mid-list, whatever the speed."""
    runs: list = []
    answer = sb.app.api
    seen = itertools.count()

    def api(*args, **kwargs):
        if next(seen) == 1:
            runs[-1].send_signal(signal.SIGTERM)
        return answer(*args, **kwargs)

    monkeypatch.setattr(sb.app, "api", api)
    return runs


def test_a_run_read_while_it_works_is_the_cold_one(shared_sandbox, tmp_path, monkeypatch):
    """``warm_tap.popen`` (the simulation's runs): stdout read as it comes, the same exit and
    output as ``subprocess.Popen``; a SIGTERM mid-run ends both alike."""
    catalog = catalog_selecting(["users", "groups", "training_campaigns"])
    command = tap_command(
        tmp_path, tap_config(shared_sandbox, budget_ledger=False, page_size=5), catalog=catalog
    )
    warm = _popen(command, tmp_path, warm=True)
    cold = _popen(command, tmp_path, warm=False)
    assert warm[0] == cold[0] == 0
    assert warm[1] == cold[1]
    assert len(warm[1]) > 40
    terminated = []
    for is_warm in (True, False):
        with monkeypatch.context() as patch:
            term = _terminate_at_second_request(shared_sandbox, patch)
            terminated.append(_popen(command, tmp_path, warm=is_warm, term=term))
    (code, messages, log), (cold_code, cold_messages, cold_log) = terminated
    assert code == cold_code != 0
    assert messages == cold_messages
    assert 0 < len(messages) < len(warm[1])
    assert log[-1] == cold_log[-1]


def test_a_run_writing_to_a_full_disk_fails_as_the_cold_one(shared_sandbox, tmp_path):
    catalog = catalog_selecting(["users"])
    command = tap_command(
        tmp_path, tap_config(shared_sandbox, budget_ledger=False), catalog=catalog
    )
    with open("/dev/full", "wb") as full:
        warm = _popen(command, tmp_path, warm=True, stdout=full)
        cold = _popen(command, tmp_path, warm=False, stdout=full)
    assert warm[0] == cold[0] != 0
    assert warm[2][-1] == cold[2][-1]
