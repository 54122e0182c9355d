"""Build what a release publishes, and Meltano definitions that install it from this machine.

    .venv/bin/python scripts/dist.py [--outdir DIR]       # `make dist` (DIR: dist/)

Until the tap is on PyPI and Meltano Hub, this is how another Meltano project gets it with
neither: ``DIR`` receives

- the tap's wheel and sdist (``python -m build``; a release uploads these to PyPI and attaches
  them to the release, see README "Releases");
- the wheel of ``scripts/target_duckdb_fix``, the wrapper that fixes target-duckdb 0.8.0's lost
  first row (jwills/target-duckdb#58, merged upstream but unreleased);
- ``tap-knowbe4.yml``: ``hub/tap-knowbe4.yml`` with ``pip_url`` the tap's wheel in ``DIR``
  (``meltano add --plugin-type extractor tap-knowbe4 --from-ref DIR/tap-knowbe4.yml``);
- ``loaders/<name>.yml``: the loaders this repository's tests run, as ``meltano.yml`` defines
  them (``target-duckdb`` with the wrapper's wheel), for ``meltano add --plugin-type loader
  <name> --from-ref DIR/loaders/<name>.yml``; the ``config`` meltano.yml gives them becomes
  their settings' defaults (``target-jsonl`` writes ``output/jsonl/``, ``target-duckdb``
  ``output/knowbe4.duckdb`` with the metadata columns the dbt project reads).

The tap's and the loaders' own dependencies still come from PyPI (or a mirror of it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

#: libyaml's safe parser where PyYAML has it, else PyYAML's own (both build plain data only).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """``path`` parsed as safe YAML; libyaml reads meltano.yml in 9 ms, PyYAML's parser in 77."""
    return yaml.load(path.read_text(), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli comes with pytest and build there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
HUB_YML = ROOT / "hub" / "tap-knowbe4.yml"
MELTANO_YML = ROOT / "meltano.yml"
DUCKDB_FIX = ROOT / "scripts" / "target_duckdb_fix"
#: The loaders of meltano.yml that the integration tests run, and what pins them.
TESTED_LOADERS = ("target-duckdb", "target-jsonl", "target-csv", "target-postgres")
#: Keys of a plugin entry that are a definition (config and the like are the project's).
DEFINITION_KEYS = (
    "name",
    "namespace",
    "label",
    "description",
    "pip_url",
    "executable",
    "capabilities",
    "settings",
)


def build(source: Path, outdir: Path, *, sdist: bool) -> Path:
    """Build ``source``'s wheel (and sdist) into ``outdir``; return the wheel's path."""
    kinds = ["--sdist", "--wheel"] if sdist else ["--wheel"]
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "build", *kinds, "--outdir", str(outdir), str(source)],
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        msg = f"python -m build {source.name} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    name = str(project["name"]).replace("-", "_")
    wheel = outdir / f"{name}-{project['version']}-py3-none-any.whl"
    if not wheel.is_file():
        msg = f"python -m build wrote no {wheel.name}"
        raise FileNotFoundError(msg)
    return wheel


def extractor_definition(wheel: Path) -> dict[str, Any]:
    """The Hub definition, installing ``wheel``."""
    definition = read_yaml(HUB_YML)
    definition["pip_url"] = str(wheel.resolve())
    return definition


def with_defaults(settings: list[dict[str, Any]], config: dict[str, Any]) -> list[dict[str, Any]]:
    """``settings`` with ``config``'s values as their defaults (``value``)."""
    names = {setting["name"] for setting in settings}
    unknown = set(config) - names
    if unknown:
        msg = f"meltano.yml configures {', '.join(sorted(unknown))} without a setting"
        raise LookupError(msg)
    return [
        {**setting, "value": config[setting["name"]]} if setting["name"] in config else setting
        for setting in settings
    ]


def loader_definitions(duckdb_fix: Path) -> dict[str, dict[str, Any]]:
    """The tested loaders of meltano.yml, ``target-duckdb`` installing the wrapper's wheel."""
    project = read_yaml(MELTANO_YML)
    found = {}
    for plugin in project["plugins"]["loaders"]:
        if plugin["name"] not in TESTED_LOADERS:
            continue
        definition = {key: plugin[key] for key in DEFINITION_KEYS if key in plugin}
        definition["settings"] = with_defaults(plugin["settings"], plugin.get("config", {}))
        definition["variant"] = "tap-knowbe4-tested"  # a definition from a file, not the Hub
        if plugin["name"] == "target-duckdb":
            pins = [p for p in plugin["pip_url"].split() if not p.startswith(".")]
            definition["pip_url"] = " ".join([*pins, str(duckdb_fix.resolve())])
        found[plugin["name"]] = definition
    missing = set(TESTED_LOADERS) - set(found)
    if missing:
        msg = f"meltano.yml defines no {', '.join(sorted(missing))}"
        raise LookupError(msg)
    return found


def main(argv: list[str] | None = None) -> int:
    """Build into ``--outdir`` and write the definitions next to the wheels."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    outdir: Path = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    wheel = build(ROOT, outdir, sdist=True)
    duckdb_fix = build(DUCKDB_FIX, outdir, sdist=False)
    written = [outdir / "tap-knowbe4.yml"]
    written[0].write_text(yaml.safe_dump(extractor_definition(wheel), sort_keys=False))
    (outdir / "loaders").mkdir(exist_ok=True)
    for name, definition in loader_definitions(duckdb_fix).items():
        path = outdir / "loaders" / f"{name}.yml"
        path.write_text(yaml.safe_dump(definition, sort_keys=False))
        written.append(path)
    for path in (wheel, duckdb_fix, *written):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
