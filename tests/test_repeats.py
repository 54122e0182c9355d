"""``ListingRepeats``: exact repeats within the window dropped, nothing else ever dropped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tap_knowbe4.repeats import ListingRepeats
from tests.property_examples import examples

_KEYS = st.integers(min_value=0, max_value=6)
_RECORDS = st.fixed_dictionaries({"v": st.integers(min_value=0, max_value=2)})


@settings(max_examples=examples(200), deadline=None)
@given(
    rows=st.lists(st.tuples(_KEYS, _RECORDS), max_size=60),
    window=st.integers(min_value=1, max_value=5),
)
def test_only_exact_repeats_are_dropped_and_every_one_within_the_window(rows, window):
    """A record is dropped only when the same version of its key was sent before in the
    listing; and it is dropped whenever that version was sent while its key stayed among
    the last ``window`` distinct keys sent. Keys sent again are counted as changed, once per
    sending."""
    repeats = ListingRepeats(window=window)
    sent: dict[int, list[dict]] = {}
    kept: dict[int, list[dict]] = {}  # versions sent since the key last left the window
    recency: list[int] = []  # keys by their last sending, most recent last
    resent: dict[int, int] = {}
    for key, record in rows:
        admitted = repeats.admit(key, record)
        within = key in recency[-window:]
        if not admitted:
            assert record in sent.get(key, []), (key, record)
            continue
        assert not (within and record in kept[key]), (key, record)
        if key in sent:
            resent[key] = resent.get(key, 0) + 1
        sent.setdefault(key, []).append(dict(record))
        kept[key] = [*kept[key], dict(record)] if within else [dict(record)]
        if key in recency:
            recency.remove(key)
        recency.append(key)
    assert repeats.changed == resent
    assert repeats.exact == len(rows) - sum(len(v) for v in sent.values())


def test_a_record_changed_after_it_was_admitted_is_compared_as_it_was_sent():
    """What the stream does to a record after admitting it (trimming a property) does not
    change the version kept: the same record sent again is still an exact repeat."""
    repeats = ListingRepeats()
    record = {"id": 1, "name": "a"}
    assert repeats.admit((1,), record)
    del record["name"]
    assert not repeats.admit((1,), {"id": 1, "name": "a"})
    assert repeats.admit((1,), {"id": 1})  # not the version sent
    assert repeats.changed == {(1,): 1}
