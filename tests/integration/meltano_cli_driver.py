"""Run several ``meltano`` commands in one Meltano process, for tests.

Meltano takes about four seconds to start; a test that sets every documented form of every
setting runs dozens of commands. This script runs them through Meltano's own command line
(``meltano.cli.cli``, the function the ``meltano`` executable calls) one after the other in
one process. It runs with Meltano's Python (``.tools/meltano/bin/python``), in the project
directory:

    .tools/meltano/bin/python meltano_cli_driver.py < steps.json

``steps.json`` is a list of ``{"args": [...], "env": {...}}``; each command runs with the
process environment plus ``env``. The output is one JSON list with, per step, the exit code,
what the command printed to stdout, the last lines of its error (if any) and how long
it took.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback

from meltano.cli import cli


def run(args: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run one ``meltano`` command; return its exit code, stdout, error and duration."""
    started = time.monotonic()
    saved = dict(os.environ)
    os.environ.update(env)
    out = io.StringIO()
    code: object = 0
    error = ""
    try:
        with contextlib.redirect_stdout(out):
            cli.main(args, standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    except Exception:  # reported to the test, which decides
        code = 1
        error = "".join(traceback.format_exc().splitlines(keepends=True)[-6:])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {
        "args": args,
        "code": code or 0,
        "stdout": out.getvalue(),
        "error": error,
        "seconds": round(time.monotonic() - started, 2),
    }


def main() -> int:
    """Run the steps read from stdin; print their results as JSON."""
    steps = json.load(sys.stdin)
    results = [run(step["args"], step.get("env", {})) for step in steps]
    sys.stdout.write(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
