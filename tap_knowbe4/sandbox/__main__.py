"""Allow ``python -m tap_knowbe4.sandbox``."""

from tap_knowbe4.sandbox.cli import main

raise SystemExit(main())
