"""Allow ``python -m tap_knowbe4`` (the ``tap-knowbe4`` console script)."""

from tap_knowbe4.console import tap

tap()
