"""Catalog and Meltano overrides are honoured completely or refused (issue 18, defect 3).

Never ACTIVATE_VERSION after a read limited by a bookmark or any partial read. Each class
of override the SDK accepts is checked against that rule: replication method (both ways),
replication key, key properties, field selection, stream selection.
"""

from __future__ import annotations

import copy
import typing as t

import pytest

from tests.cli import run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import PRIMARY_KEYS, catalog_selecting, run_tap

RISK = "account_risk_score_history"


def _keys(records: t.Iterable[dict], stream: str) -> set[tuple]:
    return {tuple(r[k] for k in PRIMARY_KEYS[stream]) for r in records}


def _root(entry: dict) -> dict:
    return next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])


def overridden(streams: t.Sequence[str], stream: str, **asked: t.Any) -> dict:
    """A discovered catalog selecting ``streams``, with ``asked`` set on ``stream``: keys
    ``metadata`` (merged into its stream metadata, as Meltano's ``metadata`` extra does),
    ``entry`` (top-level keys of its entry) and ``fields`` (property -> metadata)."""
    catalog = copy.deepcopy(catalog_selecting(streams))
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    _root(entry).update(asked.get("metadata", {}))
    entry.update(asked.get("entry", {}))
    for field, metadata in asked.get("fields", {}).items():
        item = next(m for m in entry["metadata"] if m["breadcrumb"] == ["properties", field])
        item["metadata"].update(metadata)
    return catalog


def activated(run) -> list[str]:
    return [m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


# -- replication method: FULL_TABLE on an incremental stream is honoured completely -------


@pytest.mark.parametrize(
    "asked",
    [
        {"metadata": {"replication-method": "FULL_TABLE"}},  # Meltano's metadata extra
        {"metadata": {"forced-replication-method": "FULL_TABLE"}},
        {"entry": {"replication_method": "FULL_TABLE"}},
    ],
    ids=["meltano-replication-method", "forced-replication-method", "entry"],
)
@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
@pytest.mark.parametrize("stream", [RISK, "group_risk_score_history"])
def test_full_table_on_a_risk_history_reads_it_all_before_activating(asked, stream):
    """Defect 3 as reported: run 2 read from the bookmark (6 of 10 points), then sent
    ACTIVATE_VERSION, and a version-aware target deleted the other 4."""
    streams = ["groups", stream]
    with sandbox() as sb:
        config = tap_config(sb, emit_activate_version_messages=True)
        first = run_tap(config, streams=streams)
        assert first.error is None, first.error
        assert stream not in activated(first)  # incremental: never activated
        sb.advance(days=7)  # new points after the bookmarks
        second = run_tap(
            config, catalog=overridden(streams, stream, **asked), state=first.final_state
        )
        truth = _keys(expected_records(sb.org, stream), stream)
    assert second.error is None, second.error
    assert _keys(second.records(stream), stream) == truth  # every point, not those after it
    assert stream in activated(second)
    kinds = [m["type"] for m in second.messages if m.get("stream") == stream]
    assert kinds[-1] == "ACTIVATE_VERSION"


def test_full_table_stopped_early_is_not_activated():
    """Honoured completely also means: a FULL_TABLE read the cap cut short activates nothing."""
    streams = ["groups", "group_risk_score_history"]
    with sandbox() as sb:
        config = tap_config(sb, emit_activate_version_messages=True, max_requests_per_run=5)
        catalog = overridden(
            streams, "group_risk_score_history", metadata={"replication-method": "FULL_TABLE"}
        )
        run = run_tap(config, catalog=catalog)
    assert run.error is None, run.error
    assert "group_risk_score_history" not in activated(run)


# -- a catalog that leaves things out gets the stream's own -------------------------------


def test_a_hand_written_catalog_without_keys_keeps_the_streams_own():
    """The SDK cleared the key properties and the replication key of an entry that did not
    repeat them: every user after the first counted as a repeat (1 of 40 sent, then
    ACTIVATE_VERSION), and the risk history became a full table activated after a read from
    its bookmark."""
    minimal = {
        "streams": [
            {
                "tap_stream_id": name,
                "schema": {"type": "object", "properties": {}},
                "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
            }
            for name in ("users", RISK)
        ]
    }
    with sandbox() as sb:
        config = tap_config(sb, emit_activate_version_messages=True, page_size=500)
        first = run_tap(config, catalog=minimal)
        second = run_tap(config, catalog=minimal, state=first.final_state)
        users = _keys(expected_records(sb.org, "users"), "users")
    assert first.error is None, first.error
    assert _keys(first.records("users"), "users") == users
    assert activated(first) == ["users"]
    assert activated(second) == ["users"]  # the risk history stays incremental
    assert len(second.records(RISK)) < len(first.records(RISK))


# -- what the tap cannot honour is refused in one line, before any request ---------------


REFUSED = {
    "incremental-full-table": (
        "users",
        {"metadata": {"replication-method": "INCREMENTAL", "replication-key": "joined_on"}},
    ),
    "incremental-without-key": ("users", {"entry": {"replication_method": "INCREMENTAL"}}),
    "replication-key-on-full-table": ("groups", {"entry": {"replication_key": "name"}}),
    "other-replication-key": (RISK, {"metadata": {"replication-key": "risk_score"}}),
    "log-based": (RISK, {"metadata": {"forced-replication-method": "LOG_BASED"}}),
    "two-methods": (
        RISK,
        {
            "metadata": {
                "replication-method": "FULL_TABLE",
                "forced-replication-method": "INCREMENTAL",
            }
        },
    ),
    "other-key-properties": ("users", {"entry": {"key_properties": ["status"]}}),
    "no-key-properties": ("users", {"entry": {"key_properties": []}}),
    "table-key-properties": ("groups", {"metadata": {"table-key-properties": ["name"]}}),
    "key-field-deselected": (
        "users",
        {"fields": {"id": {"inclusion": "available", "selected": False}}},
    ),
    "date-deselected": (
        RISK,
        {"fields": {"date": {"inclusion": "available", "selected": False}}},
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_an_override_the_tap_cannot_honour_is_refused_in_one_line(tmp_path, case):
    stream, asked = REFUSED[case]
    with sandbox() as sb:
        config = tap_config(sb, emit_activate_version_messages=True)
        catalog = overridden(["users", "groups", RISK], stream, **asked)
        result = run_cli(tmp_path, config, catalog=catalog)
        requests = sb.stats()["requests"]
    line = result.assert_one_clear_line(code=1)
    assert f"stream '{stream}'" in line
    assert requests == 0
    assert not result.messages or not [m for m in result.messages if m["type"] == "RECORD"]


def test_key_fields_deselected_as_meltano_does_stay_in_the_records():
    """``meltano select users.name`` deselects every other field; the key's inclusion is
    ``automatic`` (as discovery writes it), so it stays: nothing to refuse."""
    catalog = overridden(["users"], "users", fields={"id": {"selected": False}})
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"][:1] == ["properties"] and item["breadcrumb"][1] != "id":
                item["metadata"]["selected"] = item["breadcrumb"][1] == "email"
    with sandbox() as sb:
        run = run_tap(tap_config(sb), catalog=catalog)
        expected = len(sb.org.users())
    assert run.error is None, run.error
    assert len(run.records("users")) == expected
    assert all(set(r) == {"id", "email"} for r in run.records("users"))


def test_recipients_may_be_called_incremental():
    """Recipients are incremental per test (never activated) whatever the catalog calls
    them."""
    streams = ["phishing_security_tests", "phishing_security_test_recipients"]
    catalog = overridden(
        streams,
        "phishing_security_test_recipients",
        metadata={"replication-method": "INCREMENTAL"},
    )
    with sandbox() as sb:
        run = run_tap(tap_config(sb, emit_activate_version_messages=True), catalog=catalog)
    assert run.error is None, run.error
    assert run.records("phishing_security_test_recipients")
    assert "phishing_security_test_recipients" not in activated(run)


# -- stream selection: a parent read only for its children is not done --------------------


@pytest.mark.slow  # a whole sync or more: `make test`, not `make test-fast`
def test_a_parent_read_only_for_its_children_is_not_marked_done():
    """Run 1 selects only user risk histories (users is read, not sent) and stops on its
    cap after the users list ended; run 2 selects users too. users was marked done by run 1,
    so run 2 skipped it: no user sent, exit 0."""
    with sandbox(users=37) as sb:  # one short page: no probe of a server's page cap
        config = tap_config(sb, page_size=500)  # users in one page, read before the cap
        first = run_tap({**config, "max_requests_per_run": 10}, streams=["user_risk_score_history"])
        assert first.error is None, first.error
        assert not first.records("users")
        assert first.tap.run.report.streams["users"].final.value == "complete"
        second = run_tap(
            config, streams=["users", "user_risk_score_history"], state=first.final_state
        )
        users = _keys(expected_records(sb.org, "users"), "users")
    assert second.error is None, second.error
    assert _keys(second.records("users"), "users") == users
