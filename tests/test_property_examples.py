"""`make test-fast` tries a fifth of each property's examples; `make test` tries them all."""

from __future__ import annotations

import re

from hypothesis import settings

from tests.project_scripts import ROOT
from tests.property_examples import FAST_PROFILE, FULL_COUNT, HOUSE_PROFILE, examples


def _recipe(target: str) -> str:
    """The command lines of one Makefile target."""
    text = (ROOT / "Makefile").read_text()
    found = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, flags=re.MULTILINE)
    assert found, f"no {target} target in the Makefile"
    return found.group(1)


def test_only_test_fast_loads_the_fast_profile() -> None:
    assert f"--hypothesis-profile={FAST_PROFILE}" in _recipe("test-fast")
    assert "--hypothesis-profile" not in _recipe("test")


def test_the_fast_profile_scales_every_count_and_the_default_keeps_it() -> None:
    default = settings.get_profile(HOUSE_PROFILE)
    fast = settings.get_profile(FAST_PROFILE)
    assert default.max_examples == FULL_COUNT
    assert fast.max_examples < FULL_COUNT
    before = settings()
    try:
        settings.load_profile(HOUSE_PROFILE)
        assert [examples(n) for n in (1, 30, 40, 100)] == [1, 30, 40, 100]
        settings.load_profile(FAST_PROFILE)
        assert [examples(n) for n in (1, 30, 40, 100)] == [1, 6, 8, 20]
    finally:
        settings.register_profile("_restored", before)
        settings.load_profile("_restored")


def test_no_property_has_a_deadline() -> None:
    """Hypothesis's 200 ms deadline is a wall-clock assertion: a loaded machine failed
    test_fleet_file with it. Every run loads a profile without one."""
    assert settings().deadline is None  # the profile this run loaded (house or fast)
    assert settings.get_profile(HOUSE_PROFILE).deadline is None
    assert settings.get_profile(FAST_PROFILE).deadline is None
