"""The output is the target's: when it fails or stalls, the tap says so in one line and ends.

Issue 18, defects 5 and 8, driven through the installed tap as a real process: a target that
stops reading and then gets SIGTERM (the tap must not wait on it), stdout closed, stdout on a
full disk (``/dev/full``), in every mode that writes. Each ends with exactly one line that
names the output, no traceback (also none at exit), and claims no STATE the target did not
get: the next run resumes from the last STATE the target received.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import re
import signal
import subprocess

import pytest

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
