"""A state two states were merged into never resumes an interrupted sync (SIM-9).

Meltano's ``--state-strategy merge`` (and ``--full-refresh``, which merges by default) writes
the new state onto the stored one key by key: a key the new state no longer has survives
from the old one. The record of an interrupted sync is only true whole: a fan-out position
("every group up to 3195 done"), a list position or a table version that the newer run had
dropped, or that another account's run had written, would skip rows (exit 0) or, for a
table version, let ACTIVATE_VERSION delete them. So the tap seals that record (a digest of
its content and the account) and applies it only when the seal is its own; otherwise one
warning, and the interrupted sync starts over (rows are read again, never lost).

These tests merge the tap's own dumps with the simulation's model of Meltano's merge
(``meltano.core.utils.merge``, checked against Meltano's example in ``test_simulation.py``).
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from tap_knowbe4.state import (
    Interrupted,
    ListPosition,
    StreamState,
    TapState,
    account_identity,
)
from tests.simulation.runner import meltano_merge

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
A = account_identity("https://eu.api.knowbe4.com", "kb4-key-of-account-a")
B = account_identity("https://eu.api.knowbe4.com", "kb4-key-of-account-b")
GROUPS_AT_PAGE_2 = ListPosition(2, None, 3, 3, (), (3195,))


def _singer(state: TapState) -> dict:
    return {"tap_knowbe4": state.dump(), "bookmarks": {}}


def _merged(new: TapState, old: TapState) -> dict:
    """``new`` written onto ``old`` the way Meltano merges states."""
    return meltano_merge(_singer(new), copy.deepcopy(_singer(old)))


def _load(value: dict, account: str = A) -> tuple[TapState, list[str]]:
    warnings: list[str] = []
    return TapState.load(value, account=account, now=NOW, warn=warnings.append), warnings


def _stopped_in_groups(account: str) -> TapState:
    """A sync stopped in the fan-out of groups: page 2 of groups, parents up to 3195 done."""
    return TapState(
        account=account,
        interrupted=Interrupted(
            streams_done={"account"},
            parents_done={"group_risk_score_history": 3195},
            lists={"groups": GROUPS_AT_PAGE_2},
            parents_of={"group_risk_score_history": "groups"},
        ),
    )


@pytest.mark.parametrize("accounts", [True, False], ids=["accounts", "no-accounts"])
def test_an_interrupted_sync_merged_onto_another_accounts_is_not_applied(accounts):
    """Seed 315762: a's run ignored b's state, stopped early, and Meltano merged its state
    onto b's: b's 'groups up to 3195 done' came back under a's account. The seal tells it,
    also where b's state does not name its accounts (written before they were named)."""
    a = TapState(account=A, interrupted=Interrupted(streams_done={"account"}))
    b = _singer(_stopped_in_groups(B))
    if not accounts:
        del b["tap_knowbe4"]["accounts"]
    loaded, warnings = _load(meltano_merge(_singer(a), b))
    assert loaded.interrupted is None
    assert len(warnings) == 1
    assert "merged" in warnings[0]


def test_a_position_the_newer_run_dropped_does_not_come_back_through_a_merge():
    """Same account: the newer run restarted the groups list and its fan-out (the list
    changed), a --full-refresh merged it onto the older state, whose position came back;
    its table version too (ACTIVATE_VERSION would then delete the rows of the newer read)."""
    old = _stopped_in_groups(A)
    old.interrupted.versions["groups"] = 1_790_000_000
    new = TapState(account=A, interrupted=Interrupted(streams_done={"account"}))
    loaded, warnings = _load(_merged(new, old))
    assert loaded.interrupted is None
    assert len(warnings) == 1


def test_a_merge_that_adds_nothing_keeps_the_position():
    """A newer record that has every key the older one had is the newer record: applied."""
    new = _stopped_in_groups(A)
    new.interrupted.parents_done["group_risk_score_history"] = 3300
    loaded, warnings = _load(_merged(new, _stopped_in_groups(A)))
    assert warnings == []
    assert loaded.interrupted is not None
    assert loaded.interrupted.parents_done == {"group_risk_score_history": 3300}
    assert loaded.interrupted.lists == {"groups": GROUPS_AT_PAGE_2}


def test_a_finished_sync_merged_onto_an_interrupted_one_starts_afresh():
    """``interrupted: null`` replaces the older record whole."""
    finished = TapState(account=A, streams={"groups": StreamState()})
    loaded, warnings = _load(_merged(finished, _stopped_in_groups(A)))
    assert warnings == []
    assert loaded.interrupted is None


def test_the_record_is_sealed_for_its_account():
    """The seal binds the record to the account: b's record, its account renamed to a's (a
    person editing the state), is not a's."""
    value = _singer(_stopped_in_groups(B))
    value["tap_knowbe4"]["account"] = A
    loaded, warnings = _load(value)
    assert loaded.interrupted is None
    assert len(warnings) == 1


def test_a_record_without_a_seal_is_read_as_before():
    """Written by hand, or by a release before seals: checked as before, not refused."""
    value = _singer(_stopped_in_groups(A))
    del value["tap_knowbe4"]["interrupted"]["seal"]
    loaded, warnings = _load(value)
    assert warnings == []
    assert loaded.interrupted is not None
    assert loaded.interrupted.parents_done == {"group_risk_score_history": 3195}


def test_the_tap_reads_its_own_sealed_record_back():
    value = _singer(_stopped_in_groups(A))
    assert value["tap_knowbe4"]["interrupted"]["seal"]
    loaded, warnings = _load(value)
    assert warnings == []
    assert loaded.interrupted == _stopped_in_groups(A).interrupted


def test_a_shape_the_newer_run_no_longer_had_does_not_come_back_through_a_merge():
    """Run 1 sent groups under an alias (its shape recorded), run 2 without it; merged onto
    run 1's state, run 2's state must still say groups had no shape, or a run 3 with the
    alias again would apply what run 2 kept for ``groups`` to ``groups_renamed``."""
    aliased = TapState(account=A)
    aliased.forget_reshaped({"groups": "5d1c0a7e2b9f4c31", "users": ""}, print)
    plain = TapState(account=A)
    plain.forget_reshaped({"groups": "", "users": ""}, print)
    loaded, warnings = _load(_merged(plain, aliased))
    assert warnings == []
    assert loaded.shapes.get("groups", "") == ""


def _with_bookmarks(account: str) -> TapState:
    """A complete sync's state: group 3166's risk points read up to 2026-11-01."""
    state = TapState(account=account)
    state.stream("group_risk_score_history").dates[3166] = "2026-11-01"
    return state


def test_bookmarks_merged_in_from_another_account_are_not_applied():
    """b's risk bookmarks, merged under a state a's run wrote (it had none yet: its run was
    cut short), would skip a's points of an owner with the same id before b's date."""
    a = TapState(account=A, interrupted=Interrupted(streams_done={"account"}))
    loaded, warnings = _load(_merged(a, _with_bookmarks(B)))
    assert loaded.streams == {}
    assert loaded.interrupted is None
    assert len(warnings) == 1
    assert "another account" in warnings[0]
    assert "meltano state clear" in warnings[0]


def test_a_merge_of_the_accounts_own_states_keeps_its_bookmarks():
    """The same account's older bookmarks, merged under a newer state, are its own: kept."""
    newer = _with_bookmarks(A)
    newer.stream("group_risk_score_history").dates[3167] = "2026-11-08"
    older = _with_bookmarks(A)
    older.stream("group_risk_score_history").dates[3168] = "2026-10-25"
    loaded, warnings = _load(_merged(newer, older))
    assert warnings == []
    assert loaded.stream("group_risk_score_history").dates == {
        3166: "2026-11-01",
        3167: "2026-11-08",
        3168: "2026-10-25",
    }


def test_bookmarks_forgotten_for_a_new_shape_do_not_come_back_through_a_merge():
    """Attack 4 #1: a run whose stream maps rename two streams forgets what was kept for
    them (another table received it) and stops before rewriting it; merged onto the stored
    state, the old bookmark and settled test would come back beside the new shape. The new
    shape's parts are kept under their own key (``name@<shape>``, attack 4 #1b): merged,
    the old parts stay the plain name's (the table that received them), and the renamed
    streams get only what their own runs wrote, without a warning."""
    risk, recipients = "account_risk_score_history", "phishing_security_test_recipients"
    old = TapState(
        account=A,
        streams={
            risk: StreamState(dates={0: "2026-11-19"}),
            recipients: StreamState(settled={9001: 7}),
        },
    )
    new, warnings = _load(_singer(old))
    new.forget_reshaped({risk: "1234abcd", recipients: "1234abcd"}, warnings.append)
    assert len(warnings) == 1
    new.stream(risk).dates[5] = "2026-11-19"
    loaded, warnings = _load(_merged(new, old))
    loaded.forget_reshaped({risk: "1234abcd", recipients: "1234abcd"}, warnings.append)
    assert warnings == []
    assert loaded.streams[risk].dates == {5: "2026-11-19"}
    assert loaded.streams[recipients].settled == {}


def test_a_position_dropped_within_a_run_does_not_break_the_seal_of_a_merged_record():
    """Attack 4 #4: Meltano's merge strategy merges every STATE message onto the stored
    state. A record that had the groups list position and dropped it (groups finished)
    writes it as null: merged, the record is the newest one (its seal holds) and the
    dropped position reads as nothing."""
    state = _stopped_in_groups(A)
    stored = _singer(state)
    state.interrupted.lists.pop("groups")
    state.interrupted.streams_done.add("groups")
    state.interrupted.parents_done.pop("group_risk_score_history")
    loaded, warnings = _load(meltano_merge(_singer(state), copy.deepcopy(stored)))
    assert warnings == []
    assert loaded.interrupted is not None
    assert loaded.interrupted.streams_done == {"account", "groups"}
    assert loaded.interrupted.lists == {}
    assert loaded.interrupted.parents_done == {}


def test_4b_a_query_changed_between_merged_runs_keeps_the_newer_position():
    """Attack 4 #4b: a position's ``params`` were an object, so a merge kept a query key the
    newer run no longer sent (``{"status": "active"}`` merged under ``{}`` stays), the seal
    broke and the interrupted sync started over, once per settings change. As pairs (a
    list), the merge replaces them whole and the newer position stands."""
    older = _stopped_in_groups(A)
    older.interrupted.lists["groups"] = ListPosition(2, None, 3, 3, (("status", "active"),), (9,))
    newer = _stopped_in_groups(A)
    loaded, warnings = _load(_merged(newer, older))
    assert warnings == []
    assert loaded.interrupted.lists["groups"] == GROUPS_AT_PAGE_2


@pytest.mark.parametrize(
    "position",
    [
        ListPosition(None, None, 10, 10, (("full", "true"),), ("2024-05-01",), parent=7),
        ListPosition(
            None, "c2", 10, 10, (), (5, "x"), page_keys="197b539420201b1f", ordered=False, nth=4
        ),
    ],
    ids=["first-page-asked-bare", "cursor-out-of-key-order"],
)
def test_a_position_reads_back_as_written(position):
    """SIM-15: a list's first page asked bare (no page, no cursor: an endpoint documented to
    answer at once) was written and read back as implausible, with a warning each run; a
    position out of key order keeps its fingerprint and place."""
    state = TapState(account=A, interrupted=Interrupted(lists={"x": position}))
    loaded, warnings = _load(_singer(state))
    assert warnings == []
    assert loaded.interrupted.lists["x"] == position


def test_1b_a_full_refresh_under_a_new_shape_is_never_paired_with_the_stored_bookmarks():
    """Attack 4 #1b: ``--full-refresh`` hands the tap no state, so it cannot void what the
    stored state keeps. A run adding an ``__alias__`` and stopping on its cap wrote its
    bookmarks under the stream's name; Meltano merged them onto the stored ones (another
    table's), and the next run with the alias applied the older table's bookmarks to the
    new one: owners the capped run had not reached were never read (exit 0). Keyed by
    shape, the two never meet."""
    risk = "account_risk_score_history"
    stored = TapState(
        account=A, streams={risk: StreamState(dates={0: "2026-11-19", 7: "2026-11-18"})}
    )
    stored.forget_reshaped({risk: ""}, print)
    refresh, _ = _load(None)
    refresh.forget_reshaped({risk: "1234abcd"}, print)
    refresh.stream(risk).dates[3] = "2026-11-10"  # the capped run reached owner 3 only
    merged = _merged(refresh, stored)
    assert set(merged["tap_knowbe4"]["streams"]) == {risk, f"{risk}@1234abcd"}
    aliased, warnings = _load(merged)
    aliased.forget_reshaped({risk: "1234abcd"}, warnings.append)
    assert warnings == []
    assert aliased.streams[risk].dates == {3: "2026-11-10"}  # not owner 0's or 7's
    plain, _ = _load(merged)
    plain.forget_reshaped({risk: ""}, warnings.append)
    assert len(warnings) == 1  # the state's shape is the alias's: ambiguous, read in full
    assert plain.streams.get(risk) is None


def test_1b_a_state_written_before_parts_were_keyed_by_shape_keeps_its_bookmarks():
    """The migration: a part under the plain name with a recorded shape (written before
    parts were keyed by shape) is that shape's; it moves to its key, and the plain name's
    entries are written voided so a merge cannot leave them there for the default shape."""
    risk = "account_risk_score_history"
    older = {"tap_knowbe4": {**TapState(account=A).dump(), "shapes": {risk: "1234abcd"}}}
    older["tap_knowbe4"]["streams"] = {risk: {"dates": {"2026-11-19": "0"}}}
    state, warnings = _load(older)
    state.forget_reshaped({risk: "1234abcd"}, warnings.append)
    assert warnings == []
    assert state.streams[risk].dates == {0: "2026-11-19"}
    dumped = state.dump()["streams"]
    assert dumped[f"{risk}@1234abcd"] == {"dates": {"2026-11-19": "0"}}
    assert dumped[risk] == {"dates": {"2026-11-19": ""}}  # voided
