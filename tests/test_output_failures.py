"""The output is the target's: when it fails or stalls, the tap says so in one line and ends.

Issue 18, defects 5 and 8, driven through the installed tap as a real process: a target that
stops reading and then gets SIGTERM (the tap must not wait on it), stdout closed, stdout on a
full disk (``/dev/full``), in every mode that writes. Each ends with exactly one line that
names the output, no traceback (also none at exit), and claims no STATE the target did not
get: the next run resumes from the last STATE the target received.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import typing as t

import pytest

from tests.airbyte_output import Source, configured_catalog, write
from tests.cli import clean_env, tap_command
from tests.conftest import sandbox, tap_config
from tests.singer_output import catalog_selecting

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

KEY = "kb4-output-failures-SECRET-4e1d"
RESUMES = "the next run resumes from the last STATE the target received"


def _blocked_writing(pid: int) -> bool:
    """True while ``pid`` is blocked writing into a full pipe (as the kernel says)."""
    try:
        if "pipe_write" in pathlib.Path(f"/proc/{pid}/wchan").read_text():
            return True
        return pathlib.Path(f"/proc/{pid}/syscall").read_text().split()[0] == "1"  # write
    except (OSError, IndexError):
        return False


def _wait_until_blocked(proc: subprocess.Popen) -> None:
    """The event the test waits for: the tap blocked on a target that does not read."""
    while not _blocked_writing(proc.pid):
        assert proc.poll() is None, "the tap ended before its output filled the pipe"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)  # a poll interval, not a stand-in for the event


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


# -- defect 5: a signal while the target is not reading -----------------------------------


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGTERM], [signal.SIGINT], [signal.SIGTERM, signal.SIGTERM]],
    ids=["SIGTERM", "SIGINT", "SIGTERM-twice"],
)
def test_a_signal_ends_the_run_although_the_target_does_not_read(tmp_path, signals):
    with sandbox(api_key=KEY, users=300) as sb:
        command = tap_command(tmp_path, tap_config(sb, budget_ledger=False))
        with (tmp_path / "stderr").open("w") as log:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=clean_env())
            assert proc.stdout is not None
            first = proc.stdout.readline()  # the run has begun; from now on nobody reads
            _wait_until_blocked(proc)
            for sig in signals:
                proc.send_signal(sig)
            try:
                code = proc.wait(timeout=60)  # bounds a hang; the tap needs about a second
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail("the tap still waits on the target after the signal")
            received = first + proc.stdout.read()  # what the target would have had
            proc.stdout.close()
    stderr = (tmp_path / "stderr").read_text()
    assert code == 128 + signals[0], stderr[-2000:]
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert KEY not in stderr
    if len(signals) == 1:
        [line] = _error_lines(stderr)
        assert f"Stopped by {signals[0].name} while the target was not reading" in line
        assert RESUMES in line
    lines = received.decode().split("\n")
    states = [json.loads(line) for line in lines[:-1] if '"type":"STATE"' in line]
    assert states, "the target received no STATE to resume from"


#: How Python buffers the tap's stdout: the raw file under PYTHONUNBUFFERED (most container
#: images and CI runners), whose writes may be partial, or the buffered writer.
BUFFERING = {"unbuffered": {"PYTHONUNBUFFERED": "1"}, "buffered": {}}


def _env(buffering: str) -> dict[str, str]:
    env = clean_env(**BUFFERING[buffering])
    if buffering == "buffered":
        env.pop("PYTHONUNBUFFERED", None)
    return env


@pytest.mark.parametrize("buffering", list(BUFFERING))
def test_a_signal_ends_discovery_although_the_reader_does_not_read(tmp_path, buffering):
    """``--discover`` writes a catalog larger than a pipe holds: the same rule.

    Before: with the SDK's ``print`` the tap waited for ever (buffered), or the signal cut
    the write short and the tap exited 0 with a third of the catalog lost (unbuffered).
    """
    command = tap_command(tmp_path, {"api_key": KEY})
    with (tmp_path / "stderr").open("w") as log:
        proc = subprocess.Popen(
            [*command, "--discover"], stdout=subprocess.PIPE, stderr=log, env=_env(buffering)
        )
        assert proc.stdout is not None
        _wait_until_blocked(proc)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("discovery still waits on its reader after the signal")
        proc.stdout.close()
    stderr = (tmp_path / "stderr").read_text()
    assert code == 128 + signal.SIGTERM, stderr[-2000:]
    assert "Traceback" not in stderr
    [line] = _error_lines(stderr)
    assert "Stopped by SIGTERM while the target was not reading" in line


@pytest.mark.parametrize("buffering", ["unbuffered"])  # where a write may be partial
def test_a_signal_while_the_target_is_slow_loses_no_byte_of_a_block(tmp_path, buffering):
    """SIGTERM lands while a block waits for a target that is slow, not stalled.

    A signal may cut a raw write short (unbuffered; the discovery test above shows it
    deterministically); a tap that went on after it would leave the rest of the block out
    under a STATE that claims it. The property: whatever the target receives is a prefix of
    the tap's output, every whole line a Singer message, its records the first ones of a
    whole run.
    """
    with sandbox(api_key=KEY, users=300) as sb:
        config = tap_config(sb, budget_ledger=False)
        command = tap_command(tmp_path, config, catalog=catalog_selecting(["users"]))
        whole_run = subprocess.run(
            command, capture_output=True, check=True, env=_env(buffering), timeout=120
        )
        with (tmp_path / "stderr").open("w") as log:
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, env=_env(buffering)
            )
            assert proc.stdout is not None
            first = proc.stdout.readline()  # the run has begun; the target pauses
            _wait_until_blocked(proc)
            proc.send_signal(signal.SIGTERM)
            received = first + proc.stdout.read()  # and reads again at once, to the end
            proc.stdout.close()
            code = proc.wait(timeout=60)
    stderr = (tmp_path / "stderr").read_text()
    assert code == 128 + signal.SIGTERM, stderr[-2000:]
    assert "Traceback" not in stderr
    *whole, _cut = received.decode().split("\n")  # a grace that ran out may cut the last
    got = _user_ids(json.loads(line) for line in whole)  # every whole line is one message
    expected = _user_ids(json.loads(line) for line in whole_run.stdout.decode().splitlines())
    assert len(expected) == 300
    assert got == expected[: len(got)], "records missing before the last one received"


def _user_ids(messages: t.Iterable[dict]) -> list[int]:
    return [m["record"]["id"] for m in messages if m["type"] == "RECORD"]


@pytest.mark.parametrize("mode", ["sync", "--discover"])
@pytest.mark.parametrize("buffering", list(BUFFERING))
def test_a_non_blocking_output_gets_every_byte(tmp_path, buffering, mode):
    """A parent may leave the tap's stdout non-blocking: the tap waits for the pipe to take
    more, as with a blocking one.

    Before: unbuffered, a write the full pipe could not take was dropped and the run exited
    0 (the catalog cut at 64 KiB); buffered, the run failed ("could not complete without
    blocking") although nothing was wrong with the target.
    """
    with sandbox(api_key=KEY, users=300) as sb:
        config = tap_config(sb, budget_ledger=False)
        command = tap_command(tmp_path, config, catalog=catalog_selecting(["users"]))
        read_end, write_end = os.pipe()
        flags = fcntl.fcntl(write_end, fcntl.F_GETFL)
        fcntl.fcntl(write_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        extra = ["--discover"] if mode == "--discover" else []
        with (tmp_path / "stderr").open("w") as log:
            proc = subprocess.Popen(
                [*command, *extra], stdout=write_end, stderr=log, env=_env(buffering)
            )
        _wait_until_full(write_end, proc)  # the tap meets a pipe that takes no more
        os.close(write_end)  # the tap's is the only one left: the target reads to its end
        with os.fdopen(read_end, "rb") as target:
            received = target.read()
        code = proc.wait(timeout=60)
    stderr = (tmp_path / "stderr").read_text()
    assert code == 0, stderr[-2000:]
    text = received.decode()
    if mode == "--discover":
        assert {s["tap_stream_id"] for s in json.loads(text)["streams"]} >= {"users"}
        return
    messages = [json.loads(line) for line in text.splitlines()]
    users = {m["record"]["id"] for m in messages if m["type"] == "RECORD"}
    assert len(users) == 300


@pytest.mark.parametrize("buffering", list(BUFFERING))
def test_the_airbyte_source_gets_every_byte_out_on_a_non_blocking_output(tmp_path, buffering):
    """The same class in ``source-knowbe4 read`` (its own output, ``airbyte/output.py``)."""
    with sandbox(api_key=KEY, users=300) as sb:
        source = Source(tmp_path, tap_config(sb, budget_ledger=False))
        catalog = configured_catalog(source.discover().catalog, ["users"])
        catalog_path = write(tmp_path / "catalog.json", catalog)
        exe = pathlib.Path(sys.executable).parent / "source-knowbe4"
        read_end, write_end = os.pipe()
        flags = fcntl.fcntl(write_end, fcntl.F_GETFL)
        fcntl.fcntl(write_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        proc = subprocess.Popen(
            [str(exe), "read", "--config", source.config_path, "--catalog", catalog_path],
            stdout=write_end,
            stderr=subprocess.DEVNULL,
            env=_env(buffering),
        )
        _wait_until_full(write_end, proc)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as target:
            received = target.read().decode()
        code = proc.wait(timeout=60)
    messages = [json.loads(line) for line in received.splitlines()]
    assert code == 0, [m for m in messages if m["type"] == "TRACE"][-3:]
    users = {m["record"]["data"]["id"] for m in messages if m["type"] == "RECORD"}
    assert len(users) == 300


def _wait_until_full(write_fd: int, proc: subprocess.Popen) -> None:
    """The event: the pipe takes no more (the tap's next write would block)."""
    poller = select.poll()
    poller.register(write_fd, select.POLLOUT)
    while poller.poll(0):
        assert proc.poll() is None, "the tap ended before its output filled the pipe"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)  # a poll interval, not a stand-in for the event


# -- defect 8: a write error on stdout -----------------------------------------------------


#: Shell redirections of the tap's stdout, and what the line must say.
BROKEN_OUTPUTS = {
    "closed": ("exec >&-", "is closed"),
    "full disk": ("exec >/dev/full", "No space left on device"),
}


@pytest.mark.parametrize("mode", [[], ["--plan"], ["--discover"], ["--about"], ["--test"]])
@pytest.mark.parametrize("output", list(BROKEN_OUTPUTS))
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, output, mode):
    redirect, says = BROKEN_OUTPUTS[output]
    with sandbox(api_key=KEY) as sb:
        command = tap_command(tmp_path, tap_config(sb), catalog=catalog_selecting(["users"]))
        shell = f"{redirect}; exec {' '.join([*command, *mode])}"
        ended = subprocess.run(
            ["bash", "-c", shell],
            check=False,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=120,
        )
        requests = sb.stats()["requests"]
    assert ended.returncode == 1, ended.stderr[-2000:]
    assert "Traceback" not in ended.stderr
    assert "Exception ignored" not in ended.stderr
    [line] = _error_lines(ended.stderr)
    assert says in line
    assert "output" in line
    assert "please report" not in line
    assert "--config" not in line  # not "Could not read the --config ... file"
    assert "the state written" not in line  # nothing claimed that the target did not get
    if output == "closed":
        assert requests == 0  # known before any request
    assert KEY not in ended.stderr


def test_a_target_that_stops_reading_mid_run_gets_one_line_and_no_later_output(tmp_path):
    """EPIPE while records are written (not at the end): the streams cut short fail."""
    with sandbox(api_key=KEY, users=300) as sb:
        command = tap_command(tmp_path, tap_config(sb, budget_ledger=False))
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        for line in proc.stdout:
            if '"stream":"users"' in line and '"RECORD"' in line:
                break
        proc.stdout.close()
        with proc.stderr:
            stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 1
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    [line] = _error_lines(stderr)
    assert "The target stopped reading" in line
    assert RESUMES in line
    summary = stderr[stderr.index("Run summary") :]
    assert re.search(r"\n\w+ +failed ", summary), summary  # the stream cut short
