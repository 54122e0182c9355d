"""README "Add it to your Meltano project", followed as written from an empty directory.

The test reads the section's ``sh`` blocks from README.md and runs every command in them, in
order, in a temporary directory, against the sandbox. It changes only what cannot work here,
each change checked to apply exactly once:

- ``git clone <repository>``: not run, the checkout under test is the clone;
- ``make -C tap-knowbe4 dist``: ``make -C <checkout> dist DIST=<temporary>/dist``, so the
  checkout's own ``dist/`` is left alone, and ``export KB4_DIST=...`` points at that directory;
- ``$KNOWBE4_API_KEY`` is the sandbox's key; ``api_url`` and the pacing limits (off) come from
  the environment, as a user would point the tap at a proxy.

Everything else runs as printed (the commands that only configure the project, ``meltano
add``, ``config set`` and ``select``, one after the other through Meltano's own command line in
one Meltano process, ``meltano_cli_driver.py``, as test_meltano_settings.py does: a Meltano
start costs seconds; ``init``, ``config test``, the loader's ``add`` and every ``run`` are
processes of their own): ``meltano init``, the tap and the loader added from the definitions
``make dist`` wrote (installing the tap's wheel and a tested loader, no Hub), the settings,
``meltano config test``, ``meltano run``. Checks along the way: Meltano stores typed
settings (a boolean, integers, an object), the secret goes to ``.env``, the default selection
leaves out ``user_risk_score_history`` (no per-user request reaches the sandbox), ``meltano
run`` loads every default stream with the stream map and flattening applied, and the opt-in
works.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml

from tests.integration.checks import DEFAULT_STREAMS, OPT_IN_STREAMS
from tests.integration.conftest import ROOT, drive_meltano, meltano_install, printed

#: A group per integration module (tests/integration/conftest.py says why): its tests share
#: one worker and its module fixtures; the groups spread over the workers.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fresh_project")]


SECTION = "## Add it to your Meltano project"
#: The per-user endpoint that the default selection must never reach.
PER_USER = "/v1/users/{user_id}/risk_score_history"


def readme_blocks() -> list[list[list[str]]]:
    """The commands of each ``sh`` block of the README section, as argv lists."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL):
        text = block.replace("\\\n", " ")
        commands = [shlex.split(line, comments=True) for line in text.splitlines()]
        blocks.append([argv for argv in commands if argv])
    return blocks


class FreshProject:
    """Runs Meltano commands in one new project, recording their output."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.meltano = str(meltano_install.ensure_tools())
        self.tmp = tmp
        self.dir = tmp / "my-project"
        self.env = env
        self.used: list[str] = []

    def in_one_process(self, argvs: list[list[str]]) -> list[str]:
        """Run README ``meltano`` commands that only configure the project, in order, in one
        Meltano process (``meltano_cli_driver.py``); return what each printed."""
        steps = []
        for argv in argvs:
            assert argv[0] == "meltano", argv
            assert argv[1] in ("add", "config", "select"), argv
            assert argv[1:3] != ["config", "test"], argv
            steps.append({"args": [_expand(arg, self.env) for arg in argv[1:]]})
        return printed(drive_meltano(Path(self.meltano), steps, cwd=self.dir, env=self.env))

    def run(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            [self.meltano, *args],
            cwd=cwd or self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"meltano {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
            )
        return proc.stdout + proc.stderr

    def readme_command(self, argv: list[str]) -> str:
        """Run one README command (a ``meltano`` one, or one of the first block's)."""
        if argv[0] == "export":  # KB4_DIST="$PWD/tap-knowbe4/dist": where make dist wrote
            name, _, value = argv[1].partition("=")
            assert (name, value) == ("KB4_DIST", "$PWD/tap-knowbe4/dist"), argv
            self.env[name] = str(self.tmp / "dist")
            self.used.append("export")
            return ""
        args = [_expand(arg, self.env) for arg in argv]
        if args[:2] == ["git", "clone"]:
            self.used.append("clone")
            return ""
        if args[:2] == ["make", "-C"] and args[3:] == ["dist"]:
            self.used.append("dist")
            dist = self.tmp / "dist"
            subprocess.run(
                ["make", "-s", "-C", str(ROOT), "dist", f"DIST={dist}"],
                env=self.env,
                check=True,
                capture_output=True,
                timeout=600,
            )
            return ""
        assert args[0] == "meltano", args
        if args[1] == "init":
            assert args[3:] == ["&&", "cd", args[2]], args
            assert args[2] == self.dir.name
            return self.run("init", args[2], "--no_usage_stats", cwd=self.tmp)
        return self.run(*args[1:])

    def extractor(self) -> dict[str, t.Any]:
        project = yaml.safe_load((self.dir / "meltano.yml").read_text())
        return next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-knowbe4")


def _expand(arg: str, env: dict[str, str]) -> str:
    """What the shell makes of ``$NAME`` / ``${NAME}`` in a double-quoted argument."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], arg)


def _selection(out: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for item in json.loads(out[out.index("{") : out.rindex("}") + 1])["streams"]:
        found.setdefault(item["stream"], set()).add(item["selection"])
    return found


def _records(directory: Path, stream: str) -> list[dict[str, t.Any]]:
    files = sorted(directory.glob(f"{stream}*.jsonl"))
    files = [f for f in files if re.fullmatch(rf"{stream}(-\d{{8}}T\d{{6}})?\.jsonl", f.name)]
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line]


@pytest.fixture
def tmp_project_dir(tmp_path: Path) -> t.Iterator[Path]:
    """``tmp_path``, without the project's plugin virtualenvs afterwards (~100 MB each)."""
    yield tmp_path
    shutil.rmtree(tmp_path / "my-project" / ".meltano", ignore_errors=True)


def test_readme_add_it_to_your_project(tmp_project_dir: Path) -> None:
    from tap_knowbe4.sandbox import Sandbox  # noqa: PLC0415 - integration tests only

    tmp_path = tmp_project_dir
    blocks = readme_blocks()
    assert len(blocks) == 5, "expected: get it, add/configure/select, typed settings, run, opt in"
    get_block, add_block, typed_block, run_block, opt_in_block = blocks

    with Sandbox(users=40, seed=1, limits=False) as sb:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TAP_KNOWBE4", "TARGET_", "MELTANO_", "KNOWBE4_", "KB4_"))
        }
        env.update(
            {
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "NO_COLOR": "1",
                # Speed only: install plugins with the uv next to Meltano in .tools/meltano.
                "MELTANO_VENV_BACKEND": "uv",
                "PATH": f"{meltano_install.ensure_tools().parent}{os.pathsep}{env['PATH']}",
                "KNOWBE4_API_KEY": sb.api_key,
                "TAP_KNOWBE4_API_URL": sb.base_url,
                "TAP_KNOWBE4_REQUESTS_PER_SECOND": "0",
                "TAP_KNOWBE4_REQUESTS_PER_MINUTE": "0",
            }
        )
        project = FreshProject(tmp_path, env)

        # 0. Get the tap: make dist, and a new project.
        for argv in get_block:
            project.readme_command(argv)
        dist = tmp_path / "dist"
        assert sorted(p.name for p in (dist / "loaders").glob("*.yml")) == [
            "target-csv.yml",
            "target-duckdb.yml",
            "target-jsonl.yml",
            "target-postgres.yml",
        ]
        assert (project.dir / "meltano.yml").is_file()

        # 1. Add from the definition make dist wrote, set the key and region, select; 2. typed
        # settings; and the selection as JSON (what the checks below read).
        selection_json = ["meltano", "select", "tap-knowbe4", "--json", "--all"]
        *_, selected = project.in_one_process([*add_block, *typed_block, selection_json])
        added = project.extractor()
        assert added["pip_url"].endswith(".whl"), added["pip_url"]  # not the Hub
        kinds = {s["name"]: s.get("kind") for s in added["settings"]}
        assert kinds["page_size"] == "integer"
        assert kinds["flattening_enabled"] == "boolean"
        # Meltano 4.4 drops the definition's `select` on `add --from-ref`: the default is
        # "*.*", which is why the costly stream is a setting instead.
        assert "select" not in added
        assert added["config"]["region"] == "eu"
        assert sb.api_key not in (project.dir / "meltano.yml").read_text()
        assert f"TAP_KNOWBE4_API_KEY='{sb.api_key}'" in (project.dir / ".env").read_text()

        # Typed settings: stored as a boolean, integers and an object, not strings.
        config = added["config"]
        assert config["page_size"] == 500
        assert type(config["page_size"]) is int
        assert config["flattening_enabled"] is True
        assert config["flattening_max_depth"] == 1
        expression = 'md5(record["email"]) if record.get("email") else None'
        assert config["stream_maps"] == {"users": {"email": expression}}

        selection = _selection(selected)
        for stream in OPT_IN_STREAMS:  # selected, read only with its setting
            assert "selected" in selection.pop(stream), stream
        assert set(selection) == set(DEFAULT_STREAMS)

        # 3. config test, add a loader (a tested one, from dist/), run.
        outputs = [project.readme_command(argv) for argv in run_block]
        assert "Plugin configuration is valid" in outputs[0]
        stats = sb.stats()
        assert PER_USER not in stats["by_endpoint"], stats["by_endpoint"]

        out_dir = project.dir / "output" / "jsonl"  # the definition's default, as README says
        for stream in DEFAULT_STREAMS:
            assert _records(out_dir, stream), f"no records for {stream}"
        for stream in OPT_IN_STREAMS:
            assert not _records(out_dir, stream), stream
        users = _records(out_dir, "users")
        emails = [u["email"] for u in users if u.get("email")]
        assert emails
        assert all(re.fullmatch(r"[0-9a-f]{32}", e) for e in emails), "stream map not applied"
        enrollments = _records(out_dir, "training_enrollments")
        assert any("user__email" in row for row in enrollments), "flattening not applied"
        assert not any("user" in row for row in enrollments)

        # 4. Opting in to the per-user history: the next run reads it.
        project.in_one_process(opt_in_block)
        assert project.extractor()["config"]["include_user_risk_score_history"] is True
        project.readme_command(run_block[-1])
        assert PER_USER in sb.stats()["by_endpoint"]
        assert _records(out_dir, "user_risk_score_history")

    assert project.used == ["clone", "dist", "export"]
