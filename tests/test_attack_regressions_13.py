"""Regression tests for the thirteenth adversarial review (/work/notes/attack-13.md).

Each test is one finding (its number in the name). The property: exit 0 means the data is
there, and nothing is deleted downstream (ACTIVATE_VERSION, an Airbyte overwrite) that exists
upstream.
"""

from __future__ import annotations

from tests.airbyte_output import Source, configured_catalog
from tests.cli import run_cli
from tests.hostile_server import HostileServer, hostile_config
from tests.hostile_server import users as make_users
from tests.singer_output import catalog_selecting
from tests.test_attack_regressions_10 import _lists_server

# -- 1: an empty groups list while users name groups, no child of users selected ----------


def _users_naming_groups() -> list[dict]:
    return [{**make_users([1])[0], "groups": [10, 20]}, {**make_users([2])[0], "groups": []}]


def test_1_an_empty_groups_list_users_name_is_not_activated_without_a_child_of_users(tmp_path):
    """``/v1/groups`` answering ``[]`` (200) while the users read in the same run name
    groups 10 and 20 is contradicted (2e255d2's sibling, bf33def), but the users' group ids
    were noted only when a child of ``users`` was read (group_members, user risk): a run
    selecting users and groups alone activated the empty list and a version-aware target
    deleted every group, exit 0. Now noted as users are read."""
    with HostileServer(_lists_server({"/v1/users": _users_naming_groups()})) as server:
        config = hostile_config(
            server, page_size=500, pagination="page", emit_activate_version_messages=True
        )
        run = run_cli(tmp_path, config, catalog=catalog_selecting(["users", "groups"]))
    assert run.returncode == 0, run.stderr[-2000:]
    activated = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated == {"users"}, run.stderr[-2000:]
    assert "listed none while users read in this run name 2 groups" in run.stderr


def test_1_airbyte_an_empty_groups_list_users_name_is_incomplete(tmp_path):
    """The same read through ``source-knowbe4`` (users and groups only): groups ended
    COMPLETE with 0 rows and an overwrite emptied the table, exit 0. Now INCOMPLETE, exit 1."""
    with HostileServer(_lists_server({"/v1/users": _users_naming_groups()})) as server:
        config = hostile_config(server, page_size=500, pagination="page")
        source = Source(tmp_path, config)
        run = source.read(configured_catalog(source.discover().catalog, ["users", "groups"]))
    assert run.code == 1, run.text[-3000:]
    assert run.final_statuses == {"users": "COMPLETE", "groups": "INCOMPLETE"}
