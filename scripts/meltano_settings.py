"""Keep the extractor's settings in ``meltano.yml`` equal to ``tap-knowbe4 --about``.

The block between the two marker comments in ``meltano.yml`` (capabilities,
settings_group_validation and settings of the ``tap-knowbe4`` extractor) is generated from
``tap-knowbe4 --about --format=json``, so the Meltano definition can never drift from the tap:

    .venv/bin/python scripts/meltano_settings.py          # rewrite the block
    .venv/bin/python scripts/meltano_settings.py --check  # exit 1 if it is stale

``tests/integration/test_meltano_project.py`` runs the same comparison.

Mapping from JSON Schema to Meltano setting kinds:

- ``enum`` -> ``options``; a string with ``examples`` (e.g. ``region``) -> ``options`` too,
  so Meltano UIs offer the values (the tap still accepts anything it documents);
- ``format: date-time`` / ``date`` -> ``date_iso8601``; integer -> ``integer``; boolean ->
  ``boolean``; array -> ``array``; everything else -> ``string``;
- number -> ``integer``, not ``decimal``: Meltano 4.4.1 turns a ``decimal`` setting given as a
  string (environment variable, ``.env``, ``meltano config set``) into a ``Decimal`` and then
  fails writing the tap's config ("Object of type Decimal is not JSON serializable"). As
  ``integer``, ``TAP_KNOWBE4_REQUESTS_PER_SECOND=0`` works; a fraction can still be given as a
  YAML number in ``meltano.yml`` (Meltano only casts strings);
- ``secret`` / ``writeOnly`` -> ``sensitive: true``;
- an object whose sub-properties are all known (``faker_config``, ``batch_config``) becomes
  dotted settings (``faker_config.locale``); an open object (``stream_maps``) -> ``object``;
- ``default`` -> ``value``, except a default that contains the tap's version (``user_agent``),
  which would otherwise change ``meltano.yml`` on every release;
- the schema's ``required`` list -> ``settings_group_validation``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MELTANO_YML = ROOT / "meltano.yml"
EXTRACTOR = "tap-knowbe4"
BEGIN = "# >>> generated from `tap-knowbe4 --about --format=json` by scripts/meltano_settings.py"
END = "# <<< end of generated settings"
INDENT = "    "  # keys of a plugin entry under `plugins: extractors: - name: ...`


def load_about(executable: str | None = None) -> dict[str, Any]:
    """Run ``tap-knowbe4 --about --format=json`` and return the parsed document."""
    exe = executable or str(ROOT / ".venv" / "bin" / "tap-knowbe4")
    out = subprocess.run(  # noqa: S603
        [exe, "--about", "--format=json"], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def _types(prop: dict[str, Any]) -> list[str]:
    raw = prop.get("type")
    if raw is None:
        found: list[str] = []
        for option in prop.get("anyOf", []) + prop.get("oneOf", []):
            if isinstance(option, dict):
                found.extend(_types(option))
        return [t for t in found if t != "null"]
    if isinstance(raw, str):
        raw = [raw]
    return [t for t in raw if t != "null"]


def _kind(prop: dict[str, Any]) -> str:
    types = _types(prop)
    if "enum" in prop or (types == ["string"] and prop.get("examples")):
        return "options"
    if prop.get("format") in {"date-time", "date"}:
        return "date_iso8601"
    if "array" in types:
        return "array"
    if "object" in types:
        return "object"
    for json_type, kind in (("boolean", "boolean"), ("integer", "integer"), ("number", "integer")):
        if types == [json_type]:
            return kind
    return "string"


def _is_closed_object(prop: dict[str, Any]) -> bool:
    return (
        "object" in _types(prop)
        and bool(prop.get("properties"))
        and prop.get("additionalProperties") in (None, False)
    )


def _setting(name: str, prop: dict[str, Any], version: str) -> dict[str, Any]:
    setting: dict[str, Any] = {"name": name, "kind": _kind(prop)}
    if prop.get("title"):
        setting["label"] = prop["title"]
    if prop.get("description"):
        setting["description"] = " ".join(str(prop["description"]).split())
    default = prop.get("default")
    if default is not None and not (version and isinstance(default, str) and version in default):
        setting["value"] = default
    if prop.get("secret") or prop.get("writeOnly"):
        setting["sensitive"] = True
    if setting["kind"] == "options":
        values = prop.get("enum") or prop.get("examples") or []
        setting["options"] = [{"label": str(v), "value": v} for v in values if v is not None]
    return setting


def _walk(prefix: str, props: dict[str, Any], version: str) -> list[dict[str, Any]]:
    settings: list[dict[str, Any]] = []
    for key, prop in props.items():
        name = f"{prefix}{key}"
        if _is_closed_object(prop):
            settings.extend(_walk(f"{name}.", prop["properties"], version))
        else:
            settings.append(_setting(name, prop, version))
    return settings


def definition_from_about(about: dict[str, Any]) -> dict[str, Any]:
    """Return the Meltano keys (capabilities, validation, settings) that ``about`` implies."""
    schema = about["settings"]
    version = str(about.get("version") or "")
    if version.startswith("["):  # "[could not be detected]"
        version = ""
    generated: dict[str, Any] = {"capabilities": sorted(about.get("capabilities", []))}
    if schema.get("required"):
        generated["settings_group_validation"] = [list(schema["required"])]
    generated["settings"] = _walk("", schema.get("properties", {}), version)
    return generated


def definition_in_meltano_yml(path: Path = MELTANO_YML) -> dict[str, Any]:
    """Return the same keys as :func:`definition_from_about`, read from ``meltano.yml``."""
    project = yaml.safe_load(path.read_text())
    for plugin in project["plugins"]["extractors"]:
        if plugin["name"] == EXTRACTOR:
            keys = ("capabilities", "settings_group_validation", "settings")
            found = {k: plugin[k] for k in keys if k in plugin}
            found["capabilities"] = sorted(found.get("capabilities", []))
            return found
    msg = f"no extractor named {EXTRACTOR} in {path}"
    raise LookupError(msg)


def render_block(generated: dict[str, Any]) -> str:
    """Return the YAML text of the generated keys, indented for the extractor entry."""
    text = yaml.safe_dump(
        generated, sort_keys=False, default_flow_style=False, width=96, allow_unicode=True
    )
    lines = [f"{INDENT}{line}" if line else line for line in text.splitlines()]
    return "\n".join([f"{INDENT}{BEGIN}", *lines, f"{INDENT}{END}"]) + "\n"


def replace_block(text: str, block: str) -> str:
    """Return ``text`` (meltano.yml) with the marked block replaced by ``block``."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        msg = f"meltano.yml must contain the markers once each:\n  {BEGIN}\n  {END}"
        raise ValueError(msg)
    return "".join(lines[: starts[0]]) + block + "".join(lines[ends[0] + 1 :])


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) the generated block of ``meltano.yml``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if meltano.yml is stale")
    parser.add_argument("--about-json", type=Path, help="read --about JSON from this file")
    args = parser.parse_args(argv)
    about = json.loads(args.about_json.read_text()) if args.about_json else load_about()
    generated = definition_from_about(about)
    if args.check:
        if definition_in_meltano_yml() != generated:
            print(
                "meltano.yml settings differ from `tap-knowbe4 --about`; run "
                "`.venv/bin/python scripts/meltano_settings.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    text = MELTANO_YML.read_text()
    new = replace_block(text, render_block(generated))
    if new != text:
        MELTANO_YML.write_text(new)
        print("meltano.yml: settings block updated")
    else:
        print("meltano.yml: settings block already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
