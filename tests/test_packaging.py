"""The package a team can pin: it builds, passes `twine check`, and says what it needs.

The sdist and the wheel are built once per test run (``python -m build``: the sdist, then the
wheel from the sdist, in an isolated environment, as a release would be).
"""

from __future__ import annotations

import ast
import dataclasses
import email.parser
import importlib.metadata
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: `make test-fast` leaves this module out; one xdist group, so that the session's build (the
#: ``dist`` fixture, ~15 CPU-s) runs on one worker only, not once per worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tap_knowbe4"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PYPROJECT["version"]


@dataclasses.dataclass
class Dist:
    """The built sdist and wheel."""

    sdist: Path
    wheel: Path

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as whl:
            return set(whl.namelist())

    def wheel_text(self, name: str) -> str:
        with zipfile.ZipFile(self.wheel) as whl:
            return whl.read(name).decode()

    def metadata(self) -> email.message.Message:
        return email.parser.Parser().parsestr(
            self.wheel_text(f"tap_knowbe4-{VERSION}.dist-info/METADATA")
        )


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"python -m build failed:\n{proc.stdout[-3000:]}{proc.stderr}"
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dist(sdist=sdist, wheel=wheel)


def test_twine_check_passes(dist: Dist) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist.sdist), str(dist.wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_wheel_holds_every_schema_and_the_license(dist: Dist) -> None:
    names = dist.wheel_names()
    schemas = sorted(p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.json"))
    assert schemas, "no schema files found in the source tree"
    missing = [s for s in schemas if s not in names]
    assert not missing, f"schema files missing from the wheel: {missing}"
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text, "LICENSE must be the full text"
    assert dist.wheel_text(f"tap_knowbe4-{VERSION}.dist-info/licenses/LICENSE") == license_text
    metadata = dist.metadata()
    assert metadata["License-Expression"] == PYPROJECT["license"] == "Apache-2.0"
    assert "tap_knowbe4/sandbox/__init__.py" in names
    entry_points = dist.wheel_text(f"tap_knowbe4-{VERSION}.dist-info/entry_points.txt")
    assert "tap-knowbe4 = tap_knowbe4.console:tap" in entry_points
    assert "source-knowbe4 = tap_knowbe4.console:source" in entry_points


def test_sdist_holds_the_license_changelog_and_hub_definition(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for required in ("LICENSE", "CHANGELOG.md", "README.md", "hub/tap-knowbe4.yml"):
        assert required in names, required
    assert not any(n.startswith((".venv", ".tools", ".meltano", "output")) for n in names)


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", "tap_knowbe4"}


def test_every_imported_package_is_declared(dist: Dist) -> None:
    """Each third-party module the package imports comes from a declared dependency."""
    providers = importlib.metadata.packages_distributions()
    imported: dict[str, set[str]] = {}
    for module in sorted(_imported_top_level_modules()):
        assert module in providers, f"{module} is imported but no installed package provides it"
        imported[module] = {canonicalize_name(d) for d in providers[module]}
    declared = {
        canonicalize_name(Requirement(r).name)
        for r in dist.metadata().get_all("Requires-Dist", [])
        if "extra ==" not in r
    }
    undeclared = {m: d for m, d in imported.items() if not d & declared}
    assert not undeclared, f"imported but not declared in [project] dependencies: {undeclared}"
    unused = declared - set().union(*imported.values())
    assert not unused, f"declared but never imported: {unused}"
    assert {"backoff", "click"} <= set(imported)
    assert "python-backoff" in declared


def test_every_dependency_has_version_bounds() -> None:
    for spec in PYPROJECT["dependencies"]:
        req = Requirement(spec)
        operators = {s.operator for s in req.specifier}
        bounded_above = bool(operators & {"<", "<=", "~=", "=="})
        bounded_below = bool(operators & {">", ">=", "~=", "=="})
        assert bounded_above, f"{spec}: no upper bound (a major release could break installs)"
        assert bounded_below, f"{spec}: no lower bound"


def test_the_version_is_written_once() -> None:
    """pyproject.toml holds it; the installed tap and `--about` read it back; no copies."""
    assert importlib.metadata.version("tap-knowbe4") == VERSION, "run `make install`"
    exe = Path(sys.executable).parent / "tap-knowbe4"
    about = json.loads(
        subprocess.run(
            [str(exe), "--about", "--format=json"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert about["version"] == VERSION
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "__version__ =" not in text, f"{path}: a second copy of the version"
        assert f'"{VERSION}"' not in text, f"{path}: the version written out"


def test_changelog_keeps_a_changelog_and_matches_the_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "keepachangelog.com" in text
    assert "docs/versioning.md" in text
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", text, flags=re.MULTILINE)
    assert headings[0][0] == "Unreleased"
    releases = headings[1:]
    assert releases, "no release in CHANGELOG.md"
    for version, rest in releases:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
        assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", rest), f"{version}: '## [X.Y.Z] - DATE'"
    assert releases[0][0] == VERSION, "the newest release in CHANGELOG.md is not pyproject's"
    for version, _ in headings:
        assert re.search(rf"^\[{re.escape(version)}\]: https://", text, flags=re.MULTILINE), (
            f"no link for [{version}]"
        )


def test_metadata_for_a_team_to_pin(dist: Dist) -> None:
    metadata = dist.metadata()
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL", []))
    assert {"Repository", "Documentation", "Changelog", "Issues"} <= set(urls)
    assert metadata["Author"] or metadata["Author-email"]
    classifiers = metadata.get_all("Classifier", [])
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    pythons = [c.rsplit(" :: ", 1)[1] for c in classifiers if re.search(r":: 3\.\d+$", c)]
    assert pythons, "no Python version classifiers"
    minimum = metadata["Requires-Python"].removeprefix(">=")
    assert pythons[0] == minimum, "Requires-Python and the oldest classifier disagree"
    readme = (ROOT / "README.md").read_text()
    assert "docs/versioning.md" in readme
    assert "CHANGELOG.md" in readme
