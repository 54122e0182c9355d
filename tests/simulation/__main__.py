"""``python -m tests.simulation``: see ``campaign.py``."""

from tests.simulation.campaign import main

raise SystemExit(main())
