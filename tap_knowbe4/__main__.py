"""Allow ``python -m tap_knowbe4``."""

from tap_knowbe4.tap import TapKnowBe4

TapKnowBe4.cli()
