"""``--about --format=markdown`` whose title renders as a title.

The SDK's Markdown formatter builds its header with ``textwrap.dedent`` around the plugin's
description. A description of several lines (the tap's docstring, whose later lines are
indented differently from the template's) leaves nothing to dedent, so the title comes out
indented eight spaces: Markdown shows it as a code block. :class:`MarkdownAbout` takes the
formatter's place (the SDK's registry of ``--about`` formats, by name) and renders the same
document with the description as a plain paragraph.
"""

from __future__ import annotations

import dataclasses
import inspect

from singer_sdk.about import AboutInfo, MarkdownFormatter

_PLACEHOLDER = "DESCRIPTION-OF-THE-PLUGIN"


class MarkdownAbout(MarkdownFormatter, format_name="markdown"):
    """The SDK's Markdown ``--about``, its header unindented and its description a paragraph."""

    def format_about(self, about_info: AboutInfo) -> str:
        """Render as the SDK does, with the description put in after the header is built."""
        description = inspect.cleandoc(about_info.description or "")
        one_line = dataclasses.replace(about_info, description=_PLACEHOLDER)
        return super().format_about(one_line).replace(_PLACEHOLDER, description, 1)
