"""source-knowbe4: a read whose every list answered empty replaces no table.

The Singer tap sends no ACTIVATE_VERSION for a run whose every list answered empty with 200
(attack 10 #5: a wrong region may, by the reference, "401 or empty results"; a proxy may), so
a version-aware target keeps its rows. The Airbyte source said COMPLETE for each of those
streams and exited 0: a destination replacing full-refresh tables (overwrite, or a refresh)
swaps a table once its stream is COMPLETE, and every table became empty. Now those streams
end INCOMPLETE with one error TRACE, exit 1; a read in which some list held a record is
COMPLETE as before, its empty streams included.
"""

from __future__ import annotations

from tests.airbyte_output import Source, configured_catalog
from tests.hostile_server import HostileServer, hostile_config, json_answer
from tests.test_attack_regressions_10 import POLICIES, _lists_server

STREAMS = ["users", "groups", "policies"]


def _read(tmp_path, lists: dict[str, list[dict]], streams: list[str] = STREAMS):
    with HostileServer(_lists_server(lists)) as server:
        source = Source(tmp_path, hostile_config(server, page_size=500))
        catalog = configured_catalog(source.discover().catalog, streams)
        return source.read(catalog)


def test_a_read_whose_every_list_is_empty_completes_no_stream(tmp_path):
    """Before: users, groups and policies COMPLETE with 0 records, exit 0 (a destination
    overwriting them emptied three tables). Now INCOMPLETE, one error TRACE that says why
    and what to do, exit 1: a destination keeps its tables."""
    run = _read(tmp_path, {})
    assert run.code == 1, run.text[-3000:]
    assert run.final_statuses == dict.fromkeys(STREAMS, "INCOMPLETE")
    (error,) = run.errors
    assert "Every list this sync read answered empty" in error["message"]
    assert error["failure_type"] == "system_error"
    assert not run.records("users")


def test_control_an_empty_list_beside_one_with_records_is_complete(tmp_path):
    """Over-correction guard: policies listed two records, so the API sees the account and
    the empty users and groups lists are believed: every stream COMPLETE, exit 0 (the
    Singer tap activates them too)."""
    run = _read(tmp_path, {"/v1/training/policies": POLICIES})
    assert run.code == 0, run.text[-3000:]
    assert run.final_statuses == dict.fromkeys(STREAMS, "COMPLETE")
    assert len(run.records("policies")) == 2
    assert not run.errors


def test_control_the_account_record_is_evidence_for_empty_lists(tmp_path):
    """An account with no user, group or policy, read with the account stream (as PyAirbyte's
    select_all_streams does): its one record is the evidence, every stream COMPLETE, exit 0."""
    account = {"name": "Acme", "number_of_seats": 5}
    with HostileServer(_account_only(account)) as server:
        source = Source(tmp_path, hostile_config(server, page_size=500))
        catalog = configured_catalog(source.discover().catalog, ["account", *STREAMS])
        run = source.read(catalog)
    assert run.code == 0, run.text[-3000:]
    assert run.final_statuses == dict.fromkeys(["account", *STREAMS], "COMPLETE")


def _account_only(account: dict):
    lists = _lists_server({})

    def handler(request):
        if request.path == "/v1/account":
            return json_answer(account)
        return lists(request)

    return handler
