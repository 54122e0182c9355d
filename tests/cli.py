"""Run the tap's command line as a user would, and read what it printed."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import typing as t

from tests import warm_tap

if t.TYPE_CHECKING:
    from pathlib import Path


@dataclasses.dataclass
class CliRun:
    """Exit code, Singer messages and log of one ``tap-knowbe4`` run."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[dict]:
        """The Singer messages on stdout."""
        out = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def records(self, stream: str) -> list[dict]:
        """The records of one stream."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def final_state(self) -> dict:
        """The last STATE value."""
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    @property
    def error_lines(self) -> list[str]:
        """Lines logged at ERROR or CRITICAL."""
        return [line for line in self.stderr.splitlines() if "ERROR" in line or "CRITICAL" in line]

    def assert_one_clear_line(self, *, code: int | None = None) -> str:
        """Non-zero exit (or ``code``), exactly one ERROR line, no traceback; the line."""
        assert self.returncode != 0 if code is None else self.returncode == code, (
            self.returncode,
            self.stderr[-3000:],
        )
        assert "Traceback" not in self.stderr, self.stderr[-3000:]
        assert len(self.error_lines) == 1, self.stderr[-3000:]
        return self.error_lines[0]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without TAP_KNOWBE4_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_KNOWBE4")}
    env.update(extra)
    return env


def tap_command(
    tmp_path: Path,
    config: dict | str | None,
    *,
    state: dict | str | None = None,
    catalog: dict | None = None,
) -> list[str]:
    """``python -m tap_knowbe4`` with its files written under ``tmp_path``.

    ``config``/``state`` may be raw text (to test malformed files); ``config=None`` passes
    ``--config ENV``.
    """
    command = [sys.executable, "-m", "tap_knowbe4"]
    if config is None:
        command += ["--config", "ENV"]
    else:
        path = tmp_path / "config.json"
        path.write_text(config if isinstance(config, str) else json.dumps(config))
        command += ["--config", str(path)]
    if state is not None:
        path = tmp_path / "state.json"
        path.write_text(state if isinstance(state, str) else json.dumps(state))
        command += ["--state", str(path)]
    if catalog is not None:
        path = tmp_path / "catalog.json"
        path.write_text(json.dumps(catalog))
        command += ["--catalog", str(path)]
    return command


def run_cli(
    tmp_path: Path,
    config: dict | str | None,
    *args: str,
    state: dict | str | None = None,
    catalog: dict | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> CliRun:
    """Run :func:`tap_command` plus ``args`` to its end and keep what it printed.

    The run is a new process forked from a warm one that has imported the tap
    (``tests/warm_tap.py``): the same command line, environment and exit code, without
    the second of imports.
    """
    command = tap_command(tmp_path, config, state=state, catalog=catalog)
    proc = warm_tap.run(
        [*command, *args], env=env if env is not None else clean_env(), timeout=timeout
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
