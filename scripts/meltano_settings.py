"""Generate the extractor's Meltano definition from the tap: the Hub file and meltano.yml.

One definition, two copies, both generated from the installed tap so they can never drift
from it or from each other:

- ``hub/tap-knowbe4.yml``: the Meltano Hub plugin definition (the Hub's format: sorted keys,
  settings sorted by name). Users add the tap with
  ``meltano add --plugin-type extractor tap-knowbe4 --from-ref <raw URL of that file>``, and
  it is what a Hub listing (``_data/meltano/extractors/tap-knowbe4/<variant>.yml``) would
  hold. ``tests/test_hub_definition.py`` validates it against the Hub's extractor-definition
  JSON schema (restated in ``hub/extractor-definition.schema.json``).
- the block between the two marker comments of the ``tap-knowbe4`` extractor in
  ``meltano.yml``: the same definition minus the Hub-only keys, with ``pip_url: -e .``
  (this checkout) kept outside the block.

Sources:

- ``tap-knowbe4 --about --format=json``: capabilities, settings, required settings,
  supported Python versions;
- ``tap-knowbe4 --discover``: streams the tap does not select by default
  (``selected-by-default: false``) become exclusions of the default ``select``, so
  Meltano's ``*.*`` does not read them (none today: ``select`` is ``["*.*"]``, and the
  costly ``user_risk_score_history`` is read only with ``include_user_risk_score_history``);
- ``pyproject.toml``: the repository URL (``[project.urls] Repository``: ``repo``, the
  ``git+`` ``pip_url``, the variant name = the repository owner) and the executable;
- :data:`HUB_METADATA` below: label, description and the Hub's catalogue fields.

Commands (``make settings`` runs the first, and regenerates the README's settings table):

    .venv/bin/python scripts/meltano_settings.py          # rewrite both
    .venv/bin/python scripts/meltano_settings.py --check  # exit 1 if either is stale

Mapping from JSON Schema to Meltano setting kinds. Every documented form of every setting
(the ``examples`` of its declaration in ``tap_knowbe4/settings.py``) must reach the tap
through ``meltano config set`` and through ``TAP_KNOWBE4_*`` variables unchanged;
``tests/integration/test_meltano_settings.py`` checks that with Meltano itself. What works
in Meltano 4.4.1:

- ``enum`` -> ``options`` (``pagination``, ``group_members_source``: lower-case words);
- any other string -> ``string``, examples or not: ``options`` would make Meltano refuse
  what the tap documents (``region``: ``EU``, ``eu.knowbe4.com``, a console URL);
- ``format: date-time`` / ``date`` -> ``date_iso8601``; integer -> ``integer``; boolean ->
  ``boolean``; array -> ``array``;
- number -> ``string``. Not ``decimal``: Meltano turns a ``decimal`` setting given as text
  (an environment variable, ``.env``) into a ``Decimal`` and then fails writing the tap's
  config ("Object of type Decimal is not JSON serializable"). Not ``integer``: ``meltano
  config set tap-knowbe4 requests_per_second 0.5`` ends in a traceback (``int('0.5')``).
  As ``string``, every form arrives: ``meltano config set`` stores ``'0.5'``, a YAML number
  in ``meltano.yml`` stays a number, and the tap reads numbers given as text;
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
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

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
MELTANO_YML = ROOT / "meltano.yml"
HUB_YML = ROOT / "hub" / "tap-knowbe4.yml"
PYPROJECT = ROOT / "pyproject.toml"
EXTRACTOR = "tap-knowbe4"
NAMESPACE = "tap_knowbe4"
#: The Hub fields that no tool output provides. ``quality`` is required by the Hub's schema
#: and assigned by the Hub's maintainers; ``logo_url`` is where a Hub listing keeps the logo.
HUB_METADATA: dict[str, Any] = {
    "label": "KnowBe4",
    "description": "KnowBe4 security awareness training and simulated phishing (Reporting API)",
    "domain_url": "https://www.knowbe4.com",
    "logo_url": "/assets/logos/extractors/knowbe4.png",
    "keywords": ["api", "meltano_sdk", "security", "phishing", "knowbe4"],
    "maintenance_status": "active",
    "quality": "unknown",
}
#: Keys of the Hub definition that the extractor in meltano.yml repeats (in this order),
#: between the markers. The rest is Hub catalogue metadata, or ``pip_url``, which the
#: project points at this checkout.
MELTANO_KEYS = (
    "namespace",
    "label",
    "description",
    "docs",
    "repo",
    "executable",
    "capabilities",
    "settings_group_validation",
    "settings",
    "select",
)
HUB_HEADER = """\
# Meltano plugin definition of tap-knowbe4, in Meltano Hub's format. Add the tap to a project:
#   meltano add --plugin-type extractor tap-knowbe4 --from-ref {raw_url}
# Generated by scripts/meltano_settings.py from `tap-knowbe4 --about` and `--discover`
# (`make settings`); do not edit by hand. Validated against the Hub's JSON schema by
# tests/test_hub_definition.py.
"""
BEGIN = "# >>> generated by `make settings`: hub/tap-knowbe4.yml without its Hub-only keys"
END = "# <<< end of the generated definition"
INDENT = "    "  # keys of a plugin entry under `plugins: extractors: - name: ...`


def _run_captured(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end, failing on a non-zero exit; its output as text."""
    return subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603


#: How the commands below run the tap: a command line in, a finished process (text) out.
Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def load_about(executable: str | None = None, run: Runner = _run_captured) -> dict[str, Any]:
    """Run ``tap-knowbe4 --about --format=json`` and return the parsed document."""
    exe = executable or str(ROOT / ".venv" / "bin" / "tap-knowbe4")
    return json.loads(run([exe, "--about", "--format=json"]).stdout)


def load_catalog(executable: str | None = None, run: Runner = _run_captured) -> dict[str, Any]:
    """Run ``tap-knowbe4 --discover`` (no request is sent) and return the catalog."""
    exe = executable or str(ROOT / ".venv" / "bin" / "tap-knowbe4")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({"api_key": "discovery-only"}))
        return json.loads(run([exe, "--config", str(config), "--discover"]).stdout)


def load_project(path: Path = PYPROJECT) -> dict[str, Any]:
    """Return the ``[project]`` table of ``pyproject.toml``."""
    return dict(tomllib.loads(path.read_text())["project"])


def repository_url(project: dict[str, Any]) -> str:
    """``[project.urls] Repository``, without a trailing slash or ``.git``."""
    url = str(project["urls"]["Repository"]).rstrip("/")
    return url.removesuffix(".git")


def hub_raw_url(project: dict[str, Any], ref: str = "main") -> str:
    """The raw URL of ``hub/tap-knowbe4.yml`` at ``ref`` (what ``--from-ref`` takes)."""
    owner_repo = urlparse(repository_url(project)).path.strip("/")
    relative = HUB_YML.relative_to(ROOT).as_posix()
    return f"https://raw.githubusercontent.com/{owner_repo}/{ref}/{relative}"


def default_select(catalog: dict[str, Any]) -> list[str]:
    """``*.*`` minus every stream the tap does not select by default."""
    opt_in = []
    for entry in catalog["streams"]:
        for meta in entry.get("metadata", []):
            if not meta.get("breadcrumb") and meta["metadata"].get("selected-by-default") is False:
                opt_in.append(entry["tap_stream_id"])
    return ["*.*", *(f"!{stream}.*" for stream in sorted(opt_in))]


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
    if "enum" in prop:
        return "options"
    if prop.get("format") in {"date-time", "date"}:
        return "date_iso8601"
    if "array" in types:
        return "array"
    if "object" in types:
        return "object"
    for json_type, kind in (("boolean", "boolean"), ("integer", "integer"), ("number", "string")):
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
        values = prop.get("enum") or []
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


def hub_definition(
    about: dict[str, Any], catalog: dict[str, Any], project: dict[str, Any]
) -> dict[str, Any]:
    """Return the Hub plugin definition (keys sorted and settings by name, as the Hub does)."""
    repo = repository_url(project)
    owner = urlparse(repo).path.strip("/").split("/")[0].lower()
    executables = list(project.get("scripts", {}))
    generated = definition_from_about(about)
    definition: dict[str, Any] = {
        **HUB_METADATA,
        "name": EXTRACTOR,
        "namespace": NAMESPACE,
        "variant": owner,
        "docs": str(project["urls"].get("Documentation", repo)),
        "repo": repo,
        "pip_url": f"git+{repo}.git",
        "executable": EXTRACTOR if EXTRACTOR in executables else executables[0],
        "capabilities": generated["capabilities"],
        "settings": [
            {key: setting[key] for key in sorted(setting)}
            for setting in sorted(generated["settings"], key=lambda s: s["name"])
        ],
        "select": default_select(catalog),
    }
    if generated.get("settings_group_validation"):
        definition["settings_group_validation"] = [
            sorted(group) for group in generated["settings_group_validation"]
        ]
    if about.get("supported_python_versions"):
        definition["supported_python_versions"] = list(about["supported_python_versions"])
    return {key: definition[key] for key in sorted(definition)}


def meltano_definition(hub: dict[str, Any], about: dict[str, Any]) -> dict[str, Any]:
    """The keys of the Hub definition that meltano.yml's extractor repeats, in its order.

    Settings keep the tap's order there (api_key, region, api_url, ...; ``meltano config
    list`` shows them so) instead of the Hub's alphabetical one.
    """
    order = [s["name"] for s in definition_from_about(about)["settings"]]
    found = {key: hub[key] for key in MELTANO_KEYS if key in hub}
    found["settings"] = [
        {key: setting[key] for key in sorted(setting, key=_SETTING_KEY_ORDER.index)}
        for setting in sorted(hub["settings"], key=lambda s: order.index(s["name"]))
    ]
    return found


#: How a setting's keys are ordered in meltano.yml (the Hub sorts them alphabetically).
_SETTING_KEY_ORDER = ("name", "kind", "label", "description", "value", "sensitive", "options")


def definition_in_meltano_yml(path: Path = MELTANO_YML) -> dict[str, Any]:
    """Return the :data:`MELTANO_KEYS` of the ``tap-knowbe4`` extractor in ``meltano.yml``."""
    project = read_yaml(path)
    for plugin in project["plugins"]["extractors"]:
        if plugin["name"] == EXTRACTOR:
            return {key: plugin[key] for key in MELTANO_KEYS if key in plugin}
    msg = f"no extractor named {EXTRACTOR} in {path}"
    raise LookupError(msg)


def render_hub(hub: dict[str, Any], project: dict[str, Any]) -> str:
    """Return the text of ``hub/tap-knowbe4.yml``."""
    body = yaml.safe_dump(
        hub, sort_keys=False, default_flow_style=False, width=96, allow_unicode=True
    )
    return HUB_HEADER.format(raw_url=hub_raw_url(project)) + body


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


def generate(
    about: dict[str, Any], catalog: dict[str, Any], project: dict[str, Any]
) -> tuple[str, str]:
    """Return the wanted text of (``hub/tap-knowbe4.yml``, ``meltano.yml``)."""
    hub = hub_definition(about, catalog, project)
    block = render_block(meltano_definition(hub, about))
    meltano_yml = replace_block(MELTANO_YML.read_text(), block)
    return render_hub(hub, project), meltano_yml


def stale_files(about: dict[str, Any], catalog: dict[str, Any]) -> list[Path]:
    """The generated files that differ from what the tap implies now."""
    hub_text, meltano_text = generate(about, catalog, load_project())
    stale = []
    if not HUB_YML.exists() or HUB_YML.read_text() != hub_text:
        stale.append(HUB_YML)
    if MELTANO_YML.read_text() != meltano_text:
        stale.append(MELTANO_YML)
    return stale


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) ``hub/tap-knowbe4.yml`` and ``meltano.yml``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    parser.add_argument("--tap", help="tap-knowbe4 executable (default: .venv/bin/tap-knowbe4)")
    args = parser.parse_args(argv)
    about, catalog = load_about(args.tap), load_catalog(args.tap)
    if args.check:
        stale = stale_files(about, catalog)
        for path in stale:
            print(
                f"{path.relative_to(ROOT)} differs from `tap-knowbe4 --about`/`--discover`; "
                "run `make settings`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    hub_text, meltano_text = generate(about, catalog, load_project())
    for path, text in ((HUB_YML, hub_text), (MELTANO_YML, meltano_text)):
        name = path.relative_to(ROOT)
        if path.exists() and path.read_text() == text:
            print(f"{name}: already up to date")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"{name}: updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
