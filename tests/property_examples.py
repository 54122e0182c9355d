"""How many examples a hypothesis property tries: all of them in ``make test``, a fifth in
``make test-fast``.

``make test-fast`` loads the ``fast`` profile (``--hypothesis-profile=fast``, registered in
tests/conftest.py): 20 examples where a property keeps Hypothesis's default of 100. A property
that needs another count says ``@settings(max_examples=examples(30))``: an explicit count would
override the profile, so it is scaled by the same factor instead (never below one example).

Both profiles have no ``deadline``: Hypothesis's default fails an example slower than 200 ms,
a wall-clock assertion that a loaded machine breaks (``test_fleet_file`` did, session 9). No
test asserts wall-clock time; timing belongs in ``bench/``.
"""

from __future__ import annotations

from hypothesis import settings

#: The profile ``make test-fast`` loads, and its share of each property's full count.
FAST_PROFILE = "fast"
#: The profile every other run loads: Hypothesis's defaults but the deadline.
HOUSE_PROFILE = "house"
FAST_SHARE = 5
#: Hypothesis's own default, the count a property without ``max_examples`` runs in make test.
FULL_COUNT = 100


def register_fast_profile() -> None:
    """Register the ``fast`` profile (loaded by ``--hypothesis-profile=fast``), and load
    the ``house`` profile (no deadline) for every run that names none."""
    settings.register_profile(HOUSE_PROFILE, deadline=None)
    settings.register_profile(FAST_PROFILE, max_examples=FULL_COUNT // FAST_SHARE, deadline=None)
    settings.load_profile(HOUSE_PROFILE)


def examples(full: int) -> int:
    """``full`` under the loaded profile's share of Hypothesis's default count."""
    return max(1, full * settings().max_examples // FULL_COUNT)
