"""Regression tests for the fourth adversarial review: seams between features across runs.

Each test is one finding (its number in the name and in /work/notes/attack-4.md), driven
through the tap's command line (``tests.cli.run_cli``) over real HTTP against the sandbox,
across the runs the seam needs. States are handed between runs as Meltano hands them; with
``--state-strategy merge`` (and ``--full-refresh``) Meltano writes each new state onto the
stored one key by key (``tests.simulation.runner.meltano_merge``): a key the new state no
longer has survives from the old one.
"""

from __future__ import annotations

import copy

import pytest

from tests.cli import CliRun, run_cli
from tests.conftest import sandbox, tap_config
from tests.simulation.runner import meltano_merge
from tests.singer_output import PRIMARY_KEYS, catalog_selecting

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

RISK = "account_risk_score_history"
RENAMED = "risk_renamed"
ALIAS = {"stream_maps": {RISK: {"__alias__": RENAMED}}}
RISK_AND_USERS = catalog_selecting(["users", RISK])


def _keys(records: list[dict]) -> set[tuple]:
    return {tuple(r[k] for k in PRIMARY_KEYS[RISK]) for r in records}


def _merged(new: dict, old: dict) -> dict:
    """``new`` written onto ``old`` as Meltano's merge strategy writes it."""
    return meltano_merge(copy.deepcopy(new), copy.deepcopy(old))


# -- 1: a bookmark forgotten for a new shape comes back through a merge ----------------------


def test_1_a_bookmark_forgotten_for_a_new_alias_does_not_come_back_through_a_merge(tmp_path):
    """Run 1 reads the risk history in full (bookmark kept). Run 2 adds an ``__alias__``:
    the bookmark is forgotten (another table), the history is read from its start, and the
    run stops on its cap. Meltano merges run 2's state (no bookmark: it was forgotten) onto
    run 1's: run 1's bookmark survives, now beside run 2's shape. Run 3 (same alias)
    applies it: ``risk_renamed`` gets the newest point only, the history between run 2's
    position and the bookmark never (complete, exit 0)."""
    with sandbox(users=12) as sb:
        config = tap_config(sb, page_size=10)
        first = run_cli(tmp_path, config, catalog=catalog_selecting([RISK]))
        assert first.returncode == 0, first.stderr[-2000:]
        assert first.final_state["tap_knowbe4"]["streams"][RISK]
        capped = {**config, **ALIAS, "max_requests_per_run": 2}
        second = run_cli(tmp_path, capped, catalog=RISK_AND_USERS, state=first.final_state)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "not applied" in second.stderr  # the bookmark was forgotten, as it should be
        state = _merged(second.final_state, first.final_state)
        third = run_cli(tmp_path, {**config, **ALIAS}, catalog=RISK_AND_USERS, state=state)
    assert third.returncode == 0, third.stderr[-2000:]
    sent = _keys(second.records(RENAMED) + third.records(RENAMED))
    assert sent == _keys(first.records(RISK)), (
        f"exit 0 with {len(_keys(first.records(RISK)) - sent)} risk points never sent to {RENAMED}"
    )


def test_1b_a_full_refresh_under_a_new_alias_never_applies_the_stored_bookmark(tmp_path):
    """#1b: as #1, but run 2 is ``--full-refresh``: Meltano hands it no state, so it cannot
    void the stored bookmark; its state (the history read from its start under the alias,
    stopped on its cap) is merged onto run 1's. The bookmarks of each shape are kept under
    their own key now (``account_risk_score_history@<shape>``), so the merge cannot pair
    them: run 3 (same alias) reads on from run 2's own, and every point reaches
    ``risk_renamed``."""
    with sandbox(users=12) as sb:
        config = tap_config(sb, page_size=10)
        first = run_cli(tmp_path, config, catalog=catalog_selecting([RISK]))
        assert first.returncode == 0, first.stderr[-2000:]
        capped = {**config, **ALIAS, "max_requests_per_run": 2}
        second = run_cli(tmp_path, capped, catalog=RISK_AND_USERS)  # --full-refresh: no state
        assert second.returncode == 0, second.stderr[-2000:]
        state = _merged(second.final_state, first.final_state)
        third = run_cli(tmp_path, {**config, **ALIAS}, catalog=RISK_AND_USERS, state=state)
    assert third.returncode == 0, third.stderr[-2000:]
    sent = _keys(second.records(RENAMED) + third.records(RENAMED))
    assert sent == _keys(first.records(RISK)), (
        f"exit 0 with {len(_keys(first.records(RISK)) - sent)} risk points never sent to {RENAMED}"
    )


# -- 2: a shape dropped from the state comes back through a merge ---------------------------


def test_2_a_stream_back_under_its_own_name_is_not_read_in_full_every_merged_run(tmp_path):
    """Run 1 sends the risk history under an alias (its shape recorded). Run 2 drops the
    alias: read in full once, rightly, and its state records no shape (none applies).
    Merged onto run 1's, the old shape survives; every later run sees a shape change that
    did not happen and reads the whole history again (every request counts)."""
    with sandbox(users=12) as sb:
        config = tap_config(sb, page_size=10)
        risk = catalog_selecting([RISK])
        first = run_cli(tmp_path, {**config, **ALIAS}, catalog=risk)
        second = run_cli(tmp_path, config, catalog=risk, state=first.final_state)
        assert second.returncode == 0, second.stderr[-2000:]
        state = _merged(second.final_state, first.final_state)
        third = run_cli(tmp_path, config, catalog=risk, state=state)
        unmerged = run_cli(tmp_path, config, catalog=risk, state=second.final_state)
    assert third.returncode == 0, third.stderr[-2000:]
    assert len(third.records(RISK)) == len(unmerged.records(RISK)) < len(first.records(RENAMED))


# -- 3: a nested field left out by the catalog is no shape ---------------------------------


TE = "training_enrollments"


def _nested_field_off(stream: str, *crumb: str) -> dict:
    """A catalog selecting ``stream`` with the nested property at ``crumb`` left out."""
    catalog = copy.deepcopy(catalog_selecting([stream]))
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    entry["metadata"].append({"breadcrumb": list(crumb), "metadata": {"selected": False}})
    return catalog


def test_3_a_list_stopped_with_a_nested_field_left_out_is_read_from_its_start(tmp_path):
    """Run 1 leaves out ``user.email`` of training_enrollments (the SDK prunes it from the
    records) and stops on its cap in the list; run 2 selects every field and resumed at the
    kept cursor: the enrollments of run 1's pages never got their user's e-mail address
    (complete, exit 0). A top-level field left out was a shape change already."""
    no_email = _nested_field_off(TE, "properties", "user", "properties", "email")
    with sandbox(users=37) as sb:
        config = tap_config(sb, page_size=10)
        first = run_cli(tmp_path, {**config, "max_requests_per_run": 2}, catalog=no_email)
        assert first.returncode == 0, first.stderr[-2000:]
        assert "email" not in first.records(TE)[0]["user"]
        assert first.final_state["tap_knowbe4"]["interrupted"]["lists"].get(TE)
        second = run_cli(tmp_path, config, catalog=catalog_selecting([TE]), state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    with_email = {r["enrollment_id"] for r in second.records(TE) if "email" in (r["user"] or {})}
    missing = {r["enrollment_id"] for r in first.records(TE) if r["user"]} - with_email
    assert not missing, f"exit 0 with {len(missing)} enrollments never sent with user.email"


def test_3_nested_fields_left_out_are_part_of_the_shape():
    from tap_knowbe4.shapes import deselected_fields, stream_shape  # noqa: PLC0415

    mask = {
        (): True,
        ("properties", "id"): True,
        ("properties", "job_title"): False,
        ("properties", "user"): True,
        ("properties", "user", "properties", "email"): False,
    }
    assert deselected_fields(mask) == ["job_title", "user.email"]
    assert stream_shape(TE, {}, ["user.email"]) != stream_shape(TE, {})
    assert stream_shape(TE, {}, ["job_title"]) == stream_shape(
        TE, {}, deselected_fields({**mask, ("properties", "user", "properties", "email"): True})
    )


# -- 4: a capped sync under Meltano's merge strategy never finishes ------------------------


def _stored_after(stored: dict, run: CliRun) -> dict:
    """The state Meltano's merge strategy stores: each STATE message merged onto the last."""
    for message in run.messages:
        if message["type"] == "STATE":
            stored = _merged(message["value"], stored)
    return stored


def test_4_a_capped_sync_under_the_merge_strategy_continues_where_it_stopped(tmp_path):
    """With ``--state-strategy merge`` Meltano merges every STATE message onto the stored
    state as it arrives. A run drops a list position when its list ends (groups) and a
    fan-out position when it finishes: merged, the dropped keys stay, the seal of the
    interrupted sync is not its own, and every next run starts that sync over. With a run
    cap, every run reads the same first requests and says "the next run continues from
    them"; the sync never finishes (each run exit 0)."""
    streams = ["users", "groups", "group_members"]
    with sandbox(users=37) as sb:
        config = tap_config(sb, page_size=5, max_requests_per_run=4)
        stored: dict = {}
        for _run in range(20):
            run = run_cli(tmp_path, config, catalog=catalog_selecting(streams), state=stored)
            assert run.returncode == 0, run.stderr[-2000:]
            assert "starts over" not in run.stderr, f"run {_run + 1}: {run.stderr[-1500:]}"
            stored = _stored_after(stored, run)
            if stored["tap_knowbe4"]["interrupted"] is None:
                break
    assert stored["tap_knowbe4"]["interrupted"] is None, "20 capped runs and not finished"
