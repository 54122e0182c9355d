"""Per-record cost of the tap's record cleaning against the SDK's type conformance.

Run by hand:  .venv/bin/python bench/conformance.py [--records 100000]

The same recipient records (from a sandbox organization, in memory, no HTTP) go through:

* ``RecordCleaner.clean`` (``tap_knowbe4/records.py``): the whole schema, nested objects
  included: unknown fields dropped, numbers sent as text converted, impossible dates nulled,
  keys checked;
* the SDK's ``conform_record_data_types`` at ``TypeConformanceLevel.ROOT_ONLY`` (top-level
  fields only, what issue 13 asked to compare) and at ``RECURSIVE`` (the SDK's default).

It prints microseconds per record (median of five passes) and the ratios. ROOT_ONLY alone
would not be enough for the tap: it leaves nested objects (a recipient's ``user``) and values
of the wrong type as they come, which a validating target rejects.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import statistics
import sys
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_knowbe4.records import RecordCleaner
from tap_knowbe4.sandbox import Organization

STREAM = "phishing_security_test_recipients"
ROOT = Path(__file__).resolve().parent.parent


def records(count: int) -> list[dict]:
    """At least ``count`` recipient records of a documented-profile organization."""
    org = Organization(users=2000, seed=11)
    out: list[dict] = []
    for pst in org.security_tests():
        for row in org.recipients(pst["pst_id"]):
            out.append({**row, "pst_id": pst["pst_id"]})
            if len(out) >= count:
                return out
    return out


def timed(rows: list[dict], fn: t.Callable[[dict], t.Any]) -> float:
    """Median microseconds per record over five passes on fresh copies."""
    passes = []
    for _ in range(5):
        batch = copy.deepcopy(rows)
        started = time.perf_counter()
        for row in batch:
            fn(row)
        passes.append((time.perf_counter() - started) / len(batch) * 1e6)
    return statistics.median(passes)


def measure(count: int = 100_000) -> dict[str, float]:
    """Microseconds per record of the cleaner and of the SDK's two conformance levels."""
    rows = records(count)
    schema = json.loads((ROOT / "tap_knowbe4" / "schemas" / f"{STREAM}.json").read_text())
    cleaner = RecordCleaner(schema, key_fields=("pst_id", "recipient_id"))
    logger = logging.getLogger("bench.conformance")
    logger.disabled = True

    def sdk(level: TypeConformanceLevel) -> t.Callable[[dict], t.Any]:
        return lambda r: conform_record_data_types(STREAM, r, schema, level, logger)

    return {
        "records": len(rows),
        "cleaner": timed(rows, cleaner.clean),
        "root_only": timed(rows, sdk(TypeConformanceLevel.ROOT_ONLY)),
        "recursive": timed(rows, sdk(TypeConformanceLevel.RECURSIVE)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    m = measure(parser.parse_args().records)
    print(f"{m['records']:,} recipient records, microseconds per record (median of 5):\n")
    print("| what | µs/record |")
    print("|---|---:|")
    print(f"| RecordCleaner.clean (whole schema) | {m['cleaner']:.1f} |")
    print(f"| SDK conform, ROOT_ONLY | {m['root_only']:.1f} |")
    print(f"| SDK conform, RECURSIVE | {m['recursive']:.1f} |")
    print(
        f"\nRecordCleaner / ROOT_ONLY = {m['cleaner'] / m['root_only']:.2f}; "
        f"/ RECURSIVE = {m['cleaner'] / m['recursive']:.2f}"
    )


if __name__ == "__main__":
    main()
