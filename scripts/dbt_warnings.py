"""Say in one line which dbt tests warned in the last ``dbt build``, and why.

    python3 scripts/dbt_warnings.py [transform/target]

Reads dbt's artifacts (``run_results.json`` and ``manifest.json`` in the target directory). The
project's relationship tests between streams are warnings on purpose: the API returns dangling
references (recipients and enrollments of deleted users, enrollments of content the
store-purchase or policy lists do not have), so a build passes and lists them (README,
"Models"). ``make demo`` prints this line under dbt's ``PASS=... WARN=...`` summary. Standard
library only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

#: Model-name prefix left out of the line (every project model has one of these).
PREFIXES = ("stg_knowbe4__", "knowbe4__")


def _short(name: str) -> str:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _describe(node: dict, failures: int) -> tuple[bool, str]:
    """(is a dangling reference, "model.column→target n") for one warning test node."""
    meta = node.get("test_metadata") or {}
    kwargs = meta.get("kwargs") or {}
    model = _short((node.get("attached_node") or "").rsplit(".", 1)[-1] or node.get("name", "?"))
    column = node.get("column_name") or kwargs.get("column_name") or "?"
    if meta.get("name") in ("relationships", "knowbe4_relationships"):
        found = re.search(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)", str(kwargs.get("to", "")))
        target = _short(found.group(1)) if found else "?"
        return True, f"{model}.{column}→{target} {failures}"
    if meta.get("name") == "accepted_values":
        return False, f"{model}.{column} has {failures} values the documentation does not list"
    return False, f"{node.get('name', '?')} {failures}"


def explain(target_dir: Path) -> str | None:
    """One line naming every test that warned and why; None when none warned (or no build)."""
    try:
        results = json.loads((target_dir / "run_results.json").read_text())
        manifest = json.loads((target_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    nodes = manifest.get("nodes", {})
    dangling: list[str] = []
    other: list[str] = []
    for result in results.get("results", []):
        if result.get("status") != "warn":
            continue
        node = nodes.get(result.get("unique_id"), {"name": result.get("unique_id", "?")})
        is_reference, text = _describe(node, int(result.get("failures") or 0))
        (dangling if is_reference else other).append(text)
    if not dangling and not other:
        return None
    parts = []
    if dangling:
        parts.append(
            f"{len(dangling)} warn as expected, the API returns dangling references "
            f'(rows naming a deleted user or content its lists lack; README "Models"): '
            + ", ".join(dangling)
        )
    if other:
        parts.append(f"{len(other)} other: " + ", ".join(other))
    return "dbt warnings: " + "; ".join(parts)


def main(argv: list[str]) -> int:
    """Print the line for ``argv[0]`` (default transform/target)."""
    target = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "transform" / "target"
    print(explain(target) or f"dbt warnings: none (in {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
