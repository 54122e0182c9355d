"""The tap's settings and catalog for a benchmark against the sandbox, pacing off.

Every benchmark that runs the tap against a :class:`~tap_knowbe4.sandbox.Sandbox` started
with ``limits=False`` gives it the sandbox's address and key and turns the pacing off (the
sandbox does not limit, and the figures must not include waits)::

    from unpaced import selecting, unpaced_config
    config.write_text(json.dumps(unpaced_config(sb, pagination="page")))
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

if t.TYPE_CHECKING:
    from tap_knowbe4.sandbox import Sandbox

TAP = Path(sys.executable).parent / "tap-knowbe4"


def unpaced_config(sb: Sandbox, **settings: t.Any) -> dict[str, t.Any]:
    """The settings that point the tap at ``sb`` with pacing off, plus ``settings``."""
    return {
        "api_key": sb.api_key,
        "api_url": sb.base_url,
        "requests_per_second": 0,
        "requests_per_minute": 0,
        **settings,
    }


def selecting(streams: t.Container[str] | None, config: Path | None = None) -> dict:
    """The tap's discovered catalog with exactly ``streams`` selected (every one when None)."""
    command = [str(TAP), "--discover"] + (["--config", str(config)] if config else [])
    catalog = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = streams is None or entry["tap_stream_id"] in streams
    return catalog
