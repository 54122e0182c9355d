"""The console scripts ``tap-knowbe4`` and ``source-knowbe4`` (and ``python -m tap_knowbe4``).

Each loads the tap's modules with the cyclic garbage collector set for a short-lived process
(:mod:`tap_knowbe4.collector`) and the SDK's modules for targets and BATCH files deferred
until called (:mod:`tap_knowbe4.deferred_imports`), then runs the command line. The imports
happen inside the functions, so that the collector is set before the SDK is loaded.
"""

from __future__ import annotations

import typing as t

from tap_knowbe4.collector import load_then_collect_rarely
from tap_knowbe4.deferred_imports import sdk_extras_deferred


def _tap_cli() -> t.Callable[[], t.Any]:
    with sdk_extras_deferred():
        from tap_knowbe4.tap import TapKnowBe4  # noqa: PLC0415 (after the collector is set)

    return TapKnowBe4.cli


def _source_main() -> t.Callable[[], t.Any]:
    with sdk_extras_deferred():
        from tap_knowbe4.airbyte.source import main  # noqa: PLC0415 (after the collector is set)

    return main


def tap() -> None:
    """``tap-knowbe4``: the Singer tap's command line."""
    load_then_collect_rarely(_tap_cli)()


def source() -> None:
    """``source-knowbe4``: the Airbyte protocol's command line."""
    load_then_collect_rarely(_source_main)()
