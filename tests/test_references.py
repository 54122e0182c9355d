"""Dangling references are counted exactly: what ``references.py`` notes for the summary.

Records of a referencing stream name a user by ``user.id`` (the user may be null, missing,
not an object, or an id ``users`` does not list). Whatever they hold, the notes equal a
plain count: records without a user, and records naming a user the complete ``users``
stream did not send.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tap_knowbe4.outcome import Outcome, RunReport
from tap_knowbe4.references import Reference, ReferenceTracker
from tests.property_examples import examples

USER = Reference("user.id", "users", "user", "recipients")
CAMPAIGN = Reference("campaign.id", "campaigns", "campaign", "recipients", count_nulls=False)
IDS = st.integers(1, 6)
USERS_FIELD: st.SearchStrategy[object] = st.one_of(
    st.none(), st.just("gone"), st.builds(dict), st.fixed_dictionaries({"id": IDS | st.none()})
)


@settings(max_examples=examples(100), deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(["user", "campaign"]), USERS_FIELD), max_size=12),
    st.sets(IDS),
)
def test_the_notes_are_plain_counts(records, listed):
    tracker = ReferenceTracker([("recipients", USER), ("recipients", CAMPAIGN)])
    for user_id in listed:
        tracker.seen("users", {"id": user_id}, ["id"])
    for record in records:
        tracker.observe("recipients", (USER, CAMPAIGN), record)
    report = RunReport()
    report.stream("users").end(Outcome.COMPLETE, "")
    tracker.summarize(report)

    def user_id(record: dict) -> object:
        user = record.get("user")
        return user.get("id") if isinstance(user, dict) else None

    without = sum(user_id(r) is None for r in records)
    dangling = sum(user_id(r) is not None and user_id(r) not in listed for r in records)
    expected = {
        "recipients without a user": without,
        "recipients name a user that users does not list": dangling,
    }
    notes = report.stream("recipients").anomalies
    assert notes == {text: n for text, n in expected.items() if n}
