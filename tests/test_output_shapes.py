"""What the state keeps for a stream holds only for the shape its output had (SIM-8).

A stream map's ``__alias__``, a map that drops or computes fields, flattening and the
catalog's field selection change what the target receives without changing what the tap
reads. A "done" mark, a list position or a bookmark kept under one shape does not count
under another (``tap_knowbe4/shapes.py``); under the same shape it does (the controls).
"""

from __future__ import annotations

import copy
import typing as t

import pytest

from tap_knowbe4.shapes import maps_of, stream_shape
from tap_knowbe4.state import part_key
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import PRIMARY_KEYS, catalog_selecting, run_tap

pytestmark = pytest.mark.slow  # several syncs: `make test`, not `make test-fast`

RISK = "account_risk_score_history"
ALIAS = {"stream_maps": {"groups": {"__alias__": "groups_renamed"}}}
FLAT = {"flattening_enabled": True, "flattening_max_depth": 1}


def _keys(records: t.Iterable[dict], stream: str) -> set[tuple]:
    return {tuple(r[k] for k in PRIMARY_KEYS[stream]) for r in records}


def _without(streams: list[str], stream: str, field: str) -> dict:
    """A catalog selecting ``streams`` with ``field`` of ``stream`` deselected."""
    catalog = copy.deepcopy(catalog_selecting(streams))
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    entry["metadata"].append({"breadcrumb": ["properties", field], "metadata": {"selected": False}})
    return catalog


def test_a_stream_finished_under_an_alias_is_read_again_under_its_own_name():
    """Run 1 sends groups as ``groups_renamed`` and stops on its cap in users; run 2 has no
    alias: groups was "already done", and the ``groups`` table never got a row."""
    streams = ["groups", "users"]
    with sandbox(users=37) as sb:
        config = tap_config(sb, page_size=10)
        first = run_tap({**config, **ALIAS, "max_requests_per_run": 3}, streams=streams)
        assert first.error is None, first.error
        assert first.records("groups_renamed")
        assert not first.records("groups")
        assert "groups" in first.final_state["tap_knowbe4"]["interrupted"]["streams_done"]
        second = run_tap(config, streams=streams, state=first.final_state)
        truth = _keys(expected_records(sb.org, "groups"), "groups")
    assert second.error is None, second.error
    assert _keys(second.records("groups"), "groups") == truth


def test_the_same_alias_in_both_runs_resumes_as_before():
    """The control: the shape did not change, so the finished stream is not read again."""
    streams = ["groups", "users"]
    with sandbox(users=37) as sb:
        config = {**tap_config(sb, page_size=10), **ALIAS}
        first = run_tap({**config, "max_requests_per_run": 3}, streams=streams)
        second = run_tap(config, streams=streams, state=first.final_state)
    assert second.error is None, second.error
    assert not second.records("groups_renamed")
    assert second.tap.run.report.streams["groups"].carried


@pytest.mark.parametrize(
    ("before", "catalog_before"),
    [({}, _without(["users"], "users", "job_title")), (FLAT, None)],
    ids=["a-field-deselected", "flattened"],
)
def test_a_list_stopped_under_another_shape_is_read_from_its_start(before, catalog_before):
    """Run 1 stops in the users list (a position kept) with a field left out, or flattened;
    run 2 sends every field unflattened: resuming at the position would leave the users
    before it without the column (or with their values under other column names)."""
    with sandbox(users=37) as sb:
        config = tap_config(sb, page_size=10)
        first = run_tap(
            {**config, **before, "max_requests_per_run": 2},
            streams=["users"],
            catalog=catalog_before,
        )
        assert first.error is None, first.error
        assert first.final_state["tap_knowbe4"]["interrupted"]["lists"].get("users")
        second = run_tap(config, streams=["users"], state=first.final_state)
        truth = _keys(expected_records(sb.org, "users"), "users")
    assert second.error is None, second.error
    assert _keys(second.records("users"), "users") == truth


def _aliased_part(config: dict[str, t.Any]) -> str:
    """Where the state keeps the risk history's part for the shape ``config`` gives it."""
    return part_key(RISK, stream_shape(RISK, config))


def test_a_bookmark_kept_under_an_alias_does_not_limit_the_stream_under_its_name():
    """A risk history read in full as ``risk_renamed`` keeps its bookmark; without the
    alias, reading from that bookmark would leave ``account_risk_score_history`` with the
    newest point only."""
    alias = {"stream_maps": {RISK: {"__alias__": "risk_renamed"}}}
    with sandbox(users=12) as sb:
        config = tap_config(sb)
        first = run_tap({**config, **alias}, streams=[RISK])
        assert first.error is None, first.error
        assert first.final_state["tap_knowbe4"]["streams"][_aliased_part(alias)]["dates"]
        second = run_tap(config, streams=[RISK], state=first.final_state)
    assert second.error is None, second.error
    assert _keys(second.records(RISK), RISK) == _keys(first.records("risk_renamed"), RISK)


def test_a_stream_a_run_leaves_out_keeps_its_state_and_shape():
    """A run that does not select the risk history (its catalog leaves every field of it
    out) does not forget its bookmark: the next run with the alias reads from it again."""
    alias = {"stream_maps": {RISK: {"__alias__": "risk_renamed"}}}
    with sandbox(users=12) as sb:
        config = tap_config(sb)
        first = run_tap({**config, **alias}, streams=[RISK])
        between = run_tap(config, streams=["groups"], state=first.final_state)
        third = run_tap({**config, **alias}, streams=[RISK], state=between.final_state)
    assert between.final_state["tap_knowbe4"]["streams"][_aliased_part(alias)]["dates"]
    assert len(third.records("risk_renamed")) < len(first.records("risk_renamed"))


def test_only_the_settings_that_shape_a_stream_count_for_it():
    """A map of another stream changes nothing for this one; patterns and ``__source__``
    count as the SDK matches them."""
    maps = {
        "users": {"email": None},
        "group*": {"__alias__": "g"},
        "copy": {"__source__": "policies"},
    }
    config = {"stream_maps": maps}
    assert stream_shape("account", config) == ""
    assert [k for k, _ in maps_of("groups", maps)] == ["group*"]
    assert [k for k, _ in maps_of("policies", maps)] == ["copy"]
    assert stream_shape("users", config) != stream_shape("users", {})
    assert stream_shape("users", {}, ["job_title"]) != ""
    assert stream_shape("users", {"flattening_enabled": "false"}) == ""
    assert stream_shape("users", FLAT) != stream_shape("users", {**FLAT, "flattening_max_depth": 2})
