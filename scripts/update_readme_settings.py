"""Regenerate the README's generated tables: settings (from ``--about``) and streams.

The settings table lives between ``<!-- settings:start -->`` and ``<!-- settings:end -->``
in README.md and comes from ``tap-knowbe4 --about --format=markdown``; the streams table lives
between ``<!-- streams:start -->`` and ``<!-- streams:end -->`` and comes from the tap's
endpoint table (``tap_knowbe4.streams``):

    .venv/bin/python scripts/update_readme_settings.py          # rewrite the sections
    .venv/bin/python scripts/update_readme_settings.py --check  # exit 1 if one is stale

``tests/test_about.py`` checks the same thing, so the README cannot drift from the tap.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START = "<!-- settings:start -->"
END = "<!-- settings:end -->"
NOTE = (
    "<!-- Generated from `tap-knowbe4 --about --format=markdown` by "
    "scripts/update_readme_settings.py; do not edit by hand. -->"
)


def about_markdown(executable: str | None = None) -> str:
    """Run ``tap-knowbe4 --about --format=markdown`` and return its output."""
    exe = executable or str(ROOT / ".venv" / "bin" / "tap-knowbe4")
    return subprocess.run(  # noqa: S603
        [exe, "--about", "--format=markdown"], check=True, capture_output=True, text=True
    ).stdout


def settings_table(markdown: str) -> list[str]:
    """Return the lines of the settings table in ``--about --format=markdown`` output."""
    lines = markdown.splitlines()
    try:
        heading = next(i for i, line in enumerate(lines) if line.strip() == "## Settings")
    except StopIteration:
        msg = "no '## Settings' section in the --about markdown"
        raise ValueError(msg) from None
    table: list[str] = []
    for line in lines[heading + 1 :]:
        if line.strip().startswith("|"):
            table.append(line.strip())
        elif table:
            break
    if len(table) < 3:
        msg = "the '## Settings' section of the --about markdown has no table"
        raise ValueError(msg)
    return table


def render_section(markdown: str) -> str:
    """Return the text that belongs between the markers (newline-terminated lines)."""
    return "\n".join([NOTE, "", *settings_table(markdown), ""]) + "\n"


def read_section(text: str) -> str:
    """Return the text between the markers of ``text`` (README.md)."""
    if text.count(START) != 1 or text.count(END) != 1:
        msg = f"README.md must contain {START} and {END} once each"
        raise ValueError(msg)
    body = text.split(START, 1)[1].split(END, 1)[0]
    return body.removeprefix("\n")


def replace_section(text: str, section: str) -> str:
    """Return ``text`` with the marked section replaced by ``section``."""
    read_section(text)  # validates the markers
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{START}\n{section}{END}{tail}"


STREAMS_START = "<!-- streams:start -->"
STREAMS_END = "<!-- streams:end -->"


def streams_section() -> str:
    """The streams table, from the tap's endpoint table (one row per stream)."""
    from tap_knowbe4.streams import endpoints  # noqa: PLC0415 - the .venv's tap

    rows = [
        "<!-- Generated from the endpoint table (tap_knowbe4/streams/__init__.py) by "
        "scripts/update_readme_settings.py; do not edit by hand. -->",
        "",
        "| stream | primary key | replication | requests per run | what it holds |",
        "|---|---|---|---|---|",
    ]
    for endpoint in sorted(endpoints(), key=lambda e: e.name):
        keys = ", ".join(f"`{k}`" for k in endpoint.primary_keys)
        rows.append(
            f"| `{endpoint.name}` | {keys} | {endpoint.replication} | {endpoint.requests} | "
            f"{endpoint.description} |"
        )
    return "\n".join(rows) + "\n\n"


def _section(text: str, start: str, end: str) -> str:
    if text.count(start) != 1 or text.count(end) != 1:
        msg = f"README.md must contain {start} and {end} once each"
        raise ValueError(msg)
    return text.split(start, 1)[1].split(end, 1)[0].removeprefix("\n")


def _replace(text: str, start: str, end: str, section: str) -> str:
    _section(text, start, end)  # validates the markers
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{section}{end}{rest.split(end, 1)[1]}"


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) README.md's generated sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    text = README.read_text()
    wanted = {
        (START, END): render_section(about_markdown()),
        (STREAMS_START, STREAMS_END): streams_section(),
    }
    if args.check:
        stale = [s for (s, e), body in wanted.items() if _section(text, s, e) != body]
        if stale:
            print(
                f"README.md {', '.join(stale)} is stale; run "
                "`.venv/bin/python scripts/update_readme_settings.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    new = text
    for (start, end), body in wanted.items():
        new = _replace(new, start, end, body)
    if new != text:
        README.write_text(new)
        print("README.md: generated sections updated")
    else:
        print("README.md: generated sections already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
