"""One run of the installed tap as a real subprocess, read by the target model.

The command is the console script installed next to this Python
(``.venv/bin/tap-knowbe4 --config ... --catalog ... [--state ...]``), with the environment
cleared of ``TAP_KNOWBE4_*`` and its cache (where the shared budget ledger lives) in the
sequence's directory: one machine per sequence. stderr goes to a file; stdout to the target.
The process is forked from a warm one that has imported the tap (``tests/warm_tap.py``: its own
pid, environment, directory, signals and exit code, without ~0.8 CPU-s of imports per run);
``KNOWBE4_COLD_TAP=1`` starts every run cold.

Bounds: the run must end within :data:`RUN_DEADLINE` seconds, and within
:data:`SIGNAL_BOUND` seconds of a signal (the README promises about one second; the margin is
for a loaded machine). A run past its bound is killed (SIGKILL) and reported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import typing as t

from tests import warm_tap
from tests.cli import clean_env
from tests.simulation.target import Target

if t.TYPE_CHECKING:
    from tests.simulation.warehouse import Warehouse

RUN_DEADLINE = 120.0
SIGNAL_BOUND = 10.0
HANG_SIGNAL_DELAY = 0.5
#: The tap the package installed (the program under test), next to this interpreter.
TAP = pathlib.Path(sys.executable).with_name("tap-knowbe4")
#: The same program as an Airbyte source.
SOURCE = TAP.with_name("source-knowbe4")


@dataclasses.dataclass
class Exit:
    """How the process ended and what it wrote."""

    code: int
    stdout: bytes
    stderr: str
    acked: list[dict]
    read_to_end: bool
    seconds: float
    signal_sent: str | None = None
    signal_at: float | None = None
    #: Seconds from the signal to the end of the process.
    after_signal: float | None = None
    killed: str = ""
    #: An Airbyte run's TRACE messages (statuses, errors) as the target read them.
    traces: list[dict] = dataclasses.field(default_factory=list)

    @property
    def text(self) -> str:
        """What the run said: stderr, and stdout where an Airbyte source logs."""
        return self.stderr + self.stdout.decode("utf-8", "replace")


class TapProcess:
    """Runs the tap once; ``signal(name)`` may be called from any thread while it runs."""

    def __init__(self, run_dir: pathlib.Path, cache_dir: pathlib.Path) -> None:
        """Files of the run go to ``run_dir``; the machine's cache is ``cache_dir``."""
        self.run_dir = run_dir
        self.cache_dir = cache_dir
        self._proc: subprocess.Popen[bytes] | warm_tap.WarmPopen | None = None
        self._signal: str | None = None
        self._signal_at: float | None = None
        self._lock = threading.Lock()

    def signal(self, name: str) -> None:
        """Send SIGTERM or SIGINT to the running tap (once)."""
        with self._lock:
            proc = self._proc
            if proc is None or self._signal is not None or proc.poll() is not None:
                return
            self._signal, self._signal_at = name, time.monotonic()
            proc.send_signal(getattr(signal, name))

    def run(
        self,
        config: dict,
        catalog: dict,
        state: dict | list | None,
        warehouse: Warehouse,
        target: dict[str, t.Any],
        signal_name: str | None = None,
        *,
        plan_only: bool = False,
        airbyte: bool = False,
    ) -> Exit:
        """Run the tap (``airbyte``: ``source-knowbe4 read``) to its end (or its bound) with
        the target reading its output."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        command = [str(TAP), *(["--plan"] if plan_only else [])]
        if airbyte:
            command = [str(SOURCE), "read"]
        for name, value in (("config", config), ("catalog", catalog), ("state", state)):
            if value is None:
                continue
            path = self.run_dir / f"{name}.json"
            path.write_text(json.dumps(value))
            command += [f"--{name}", str(path)]
        env = clean_env(XDG_CACHE_HOME=str(self.cache_dir))
        stderr_path = self.run_dir / "stderr.txt"
        started = time.monotonic()
        full_disk = target.get("kind") == "full-disk"
        with (
            stderr_path.open("wb") as stderr,
            open(os.devnull if not full_disk else "/dev/full", "wb") as full,
        ):
            proc = warm_tap.popen(
                command,
                stdout=full if full_disk else subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=self.run_dir,
            )
            with self._lock:
                self._proc = proc
            pipe = io.BytesIO() if proc.stdout is None else proc.stdout
            reader = Target(t.cast("t.BinaryIO", pipe), warehouse, target)
            reader.start()
            hang = signal_name if target.get("kind") == "hang" else None
            killed = self._wait(proc, started, reader, hang)
        reader.join(timeout=SIGNAL_BOUND)
        leftover = reader.drain() if not reader.is_alive() else b""
        if not reader.is_alive():
            pipe.close()
        with self._lock:
            self._proc = None
        ended = time.monotonic()
        (self.run_dir / "stdout.jsonl").write_bytes(bytes(reader.output) + leftover)
        after = None if self._signal_at is None else ended - self._signal_at
        return Exit(
            code=t.cast("int", proc.returncode),
            stdout=bytes(reader.output) + leftover,
            stderr=stderr_path.read_text(errors="replace"),
            acked=reader.acked,
            read_to_end=reader.read_to_end,
            seconds=ended - started,
            signal_sent=self._signal,
            signal_at=None if self._signal_at is None else self._signal_at - started,
            after_signal=after,
            killed=killed,
        )

    def _wait(
        self,
        proc: subprocess.Popen[bytes] | warm_tap.WarmPopen,
        started: float,
        reader: Target,
        hang: str | None,
    ) -> str:
        """Wait for the end; kill past a bound and say which.

        A target drawn to hang stops reading for good; the signal drawn with it is sent
        :data:`HANG_SIGNAL_DELAY` seconds later (an orchestrator's timeout), whatever the
        request count.
        """
        hung_at: float | None = None
        while proc.poll() is None:
            now = time.monotonic()
            why = ""
            if now - started > RUN_DEADLINE:
                why = f"still running after {RUN_DEADLINE:.0f} s"
            elif self._signal_at is not None and now - self._signal_at > SIGNAL_BOUND:
                why = f"still running {SIGNAL_BOUND:.0f} s after {self._signal}"
            if why:
                proc.kill()
                proc.wait()
                return why
            if hang is not None and reader.stopped_reading.is_set() and hung_at is None:
                hung_at = now
            if hung_at is not None and now - hung_at >= HANG_SIGNAL_DELAY:
                self.signal(t.cast("str", hang))
            # Back as soon as the run ends (a 20 ms sleep here noticed the end up to 20 ms late).
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.02)
        return ""
