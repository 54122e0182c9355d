"""How many examples a hypothesis property tries: all of them in ``make test``, a fifth in
``make test-fast``.

``make test-fast`` loads the ``fast`` profile (``--hypothesis-profile=fast``, registered in
tests/conftest.py): 20 examples where a property keeps Hypothesis's default of 100. A property
that needs another count says ``@settings(max_examples=examples(30))``: an explicit count would
override the profile, so it is scaled by the same factor instead (never below one example).
"""

from __future__ import annotations

from hypothesis import settings

#: The profile ``make test-fast`` loads, and its share of each property's full count.
FAST_PROFILE = "fast"
FAST_SHARE = 5
#: Hypothesis's own default, the count a property without ``max_examples`` runs in make test.
FULL_COUNT = 100


def register_fast_profile() -> None:
    """Register the ``fast`` profile (loaded by ``--hypothesis-profile=fast``)."""
    settings.register_profile(FAST_PROFILE, max_examples=FULL_COUNT // FAST_SHARE)


def examples(full: int) -> int:
    """``full`` under the loaded profile's share of Hypothesis's default count."""
    return max(1, full * settings().max_examples // FULL_COUNT)
