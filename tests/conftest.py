"""Shared fixtures: a sandbox on loopback and a tap config pointing at it."""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import pathlib
import sys
import tempfile
import typing as t

import pytest

from tests.property_examples import register_fast_profile

#: Cache compiled modules (pytest's rewritten test modules, the tap's own) even where the
#: environment sets PYTHONDONTWRITEBYTECODE: rewriting every test module again costs each
#: pytest worker about 5 s of CPU. (Caches go to ``__pycache__``, which git ignores.)
sys.dont_write_bytecode = False
#: And in the processes the tests start: PyAirbyte's and Dagster's virtualenvs (``.tools/``,
#: installed by uv without bytecode) and the plugins a fresh Meltano project installs would
#: otherwise be compiled again by every process (``import airbyte, airbyte_cdk``: 12.6 s of CPU
#: from source, 6.7 s from bytecode). Each module is compiled once, by its first importer.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox

register_fast_profile()  # before the Hypothesis plugin loads ``--hypothesis-profile``

#: A small organization that still has every shape: archived users, several groups per
#: user, errored and open PSTs, enrollments without a user, ...
SMALL_ORG = {"users": 40, "seed": 11}


def every_opt_in() -> dict[str, bool]:
    """Each opt-in setting of the endpoint table, on: the tests read every stream, a new
    opt-in stream included (CONTRIBUTING, Adding a stream)."""
    from tap_knowbe4.streams import endpoints  # noqa: PLC0415 - conftest imports no tap module

    return {e.opt_in: True for e in endpoints() if e.opt_in}


def tap_config(sb: Sandbox, **overrides: t.Any) -> dict:
    """A config for the tap against ``sb`` with pacing off (the sandbox limits are off) and
    every opt-in stream on."""
    config = {
        "api_key": sb.api_key,
        "api_url": sb.base_url,
        "page_size": 25,
        "requests_per_second": 0,
        "requests_per_minute": 0,
        "max_retries": 3,
        **every_opt_in(),
    }
    config.update(overrides)
    return config


@contextlib.contextmanager
def sandbox(**options: t.Any) -> t.Iterator[Sandbox]:
    """A sandbox with the small org and limits off, unless ``options`` say otherwise."""
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - only tests that need it

    settings = {**SMALL_ORG, "limits": False, **options}
    with Sandbox(**settings) as sb:
        yield sb


@pytest.fixture(scope="session")
def _cache_homes(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[pathlib.Path]:
    """Paths for :func:`_own_budget_ledger`: new names under one directory, not created."""
    root = tmp_path_factory.mktemp("cache")
    return (root / str(n) for n in itertools.count())


@pytest.fixture(autouse=True)
def _own_budget_ledger(_cache_homes: t.Iterator[pathlib.Path], monkeypatch) -> None:
    """Each test counts requests in a budget ledger of its own (the default location is
    under ``$XDG_CACHE_HOME``; runs of the CLI inherit it).

    The directory does not exist until the tap writes its ledger there (``mkdir -p``): making
    one per test with ``tmp_path_factory.mktemp`` cost ~2 ms of CPU each (it lists every
    earlier one to number the next) and as much again to delete them all at the end.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(next(_cache_homes)))


@pytest.fixture(autouse=True)
def _fresh_secret_registry() -> t.Iterator[None]:
    """Each test starts with no secret registered for redaction and leaves none behind.

    The registries (``redact.REDACTOR``: keys; ``redact.CONFIG_TEXT``: settings' text) live
    as long as the process, and a pytest worker runs hundreds of in-process taps: a key one
    test registered would still be masked in a later test's output, hiding a tap that failed
    to register its own key. (Forked and subprocess runs register in their own process.)
    """
    from tap_knowbe4 import redact  # noqa: PLC0415 - light; the tap is not imported

    for registry in (redact.REDACTOR, redact.CONFIG_TEXT):
        registry.reset()
    yield
    for registry in (redact.REDACTOR, redact.CONFIG_TEXT):
        registry.reset()


@pytest.fixture(scope="session")
def shared_sandbox() -> t.Iterator[Sandbox]:
    """One read-only sandbox for tests that do not move its clock or change its options."""
    with sandbox() as sb:
        yield sb


#: Set (to anything) to import every test module even under ``-m`` (tests/test_module_marks.py).
COLLECT_ALL = "KNOWBE4_COLLECT_ALL"


def pytest_ignore_collect(collection_path: pathlib.Path, config: pytest.Config) -> bool | None:
    """Leave a test module unimported when the ``-m`` expression can select none of its tests.

    Decided from its ``pytestmark`` line (``tests/module_marks.py``): ``make test-fast``
    imports no slow or integration module; without ``-m`` everything is collected.
    """
    expression = config.option.markexpr
    if not expression or collection_path.suffix != ".py" or os.environ.get(COLLECT_ALL):
        return None
    if not collection_path.name.startswith("test_"):
        return None
    from tests.module_marks import may_select, module_marks  # noqa: PLC0415 - only with -m

    return None if may_select(expression, module_marks(collection_path)) else True


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the warm tap process (tests/warm_tap.py) as the tests begin when a collected
    module uses it, so that its imports overlap the first tests.

    And freeze what start-up and collection made (the SDK, Hypothesis, the test modules:
    objects that live as long as the worker), as the tap's console scripts freeze their
    imports (``tap_knowbe4/collector.py``): the cyclic collector's older generations no longer
    walk them again and again while the tests run (its CPU in a ``make test-fast`` run: ~1.1 s
    -> ~0.6 s, both workers). Garbage made later is collected as before.
    """
    gc.freeze()
    warm_tap = sys.modules.get("tests.warm_tap")
    if warm_tap is not None and session.items:
        warm_tap.prestart()


def _matrix_file() -> pathlib.Path:
    """Where fault tests append their rows (shared by pytest-xdist workers)."""
    return pathlib.Path(os.environ["KNOWBE4_FAULT_MATRIX"])


def pytest_configure(config: pytest.Config) -> None:
    """Give the session one file for the fault matrix (workers inherit the variable)."""
    if "KNOWBE4_FAULT_MATRIX" not in os.environ:
        fd, path = tempfile.mkstemp(prefix="fault-matrix-", suffix=".jsonl")
        os.close(fd)
        os.environ["KNOWBE4_FAULT_MATRIX"] = path


def record_fault_row(row: tuple[str, ...]) -> None:
    """Add one row to the fault matrix printed at the end of the session."""
    with _matrix_file().open("a") as file:
        file.write(json.dumps(row) + "\n")


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    """Print the fault matrix when fault tests ran (tests/test_fault_matrix.py)."""
    if hasattr(terminalreporter.config, "workerinput"):
        return
    path = _matrix_file()
    rows = [tuple(json.loads(line)) for line in path.read_text().splitlines() if line]
    path.unlink(missing_ok=True)
    if not rows:
        return
    from tests.test_fault_matrix import FAULTS  # noqa: PLC0415 - the rows' order

    order = {fault[0]: i for i, fault in enumerate(FAULTS)}
    rows.sort(key=lambda row: order.get(row[0], len(order)))
    header = ("fault", "outcome", "exit", "resumed", "records lost", "key leaks")
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    terminalreporter.write_sep("-", "fault matrix")
    for row in table:
        cells = (c.ljust(w) for c, w in zip(row, widths, strict=True))
        terminalreporter.write_line("| " + " | ".join(cells) + " |")
