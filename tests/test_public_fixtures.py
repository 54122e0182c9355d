"""Public response bodies of the API load with 0 records lost and 0 fields dropped.

Each body other clients keep as test data (``tests/fixtures/public``, sources in its
``SOURCES.json``) is served at its endpoint by a loopback server, and the tap reads the
stream it belongs to. Every record arrives (an exact repeat once, a key listed again with
other content as often as it differs), and every value of every record, at any depth, is
in the loaded record: in its column (under the documented new name, converted as
documented) or in ``_extra_fields`` under its path.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import pathlib
import typing as t

import pytest

from tests.hostile_server import HostileServer, hostile_config, json_answer
from tests.singer_output import check_singer, run_tap

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

PUBLIC = pathlib.Path(__file__).parent / "fixtures" / "public"
SOURCES = json.loads((PUBLIC / "SOURCES.json").read_text())
EXTRA = "_extra_fields"

#: The documented renames (README, "What it extracts"): an older name -> today's.
RENAMED = {
    "landing-page": "landing_page",
    "adi_manageable": "provisioning_managed",
    "adi_guid": "provisioning_guid",
    "active_directory_guid": "provisioning_guid",
    "vulnerable-plugins_at": "vulnerable_plugins_at",
}
#: Parents a child endpoint needs listed (the smallest records that lead to it).
PARENTS = {
    "group_risk_score_history": ("/v1/groups", lambda i: {"id": i, "name": "G"}),
    "user_risk_score_history": ("/v1/users", lambda i: {"id": i, "email": "u@example.com"}),
    "phishing_security_test_recipients": (
        "/v1/phishing/security_tests",
        lambda i: {"pst_id": i, "campaign_id": 1, "status": "Open", "scheduled_count": 1},
    ),
}


def _records(body: t.Any) -> list[dict]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return body["data"]
    return [body]


def _as_documented(stream: str, record: dict) -> dict:
    """The source record under today's names (the tap's documented renames)."""
    record = copy.deepcopy(record)
    if stream == "training_campaigns":
        content = record.get("content")
        if isinstance(content, list) and any(isinstance(i, list) for i in content):
            record["content"] = [x for i in content for x in (i if isinstance(i, list) else [i])]
        if "content" not in record and "modules" in record:
            record["content"] = record.pop("modules")
    if stream == "groups" and record.get("group_type") == "adi_managed_group":
        record["group_type"] = "provisioning_managed_group"
    if stream == "policies" and "policy_id" not in record and "id" in record:
        record["policy_id"] = record.pop("id")
    return _renamed(record)


def _renamed(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new = RENAMED.get(key, key)
            out[key if new in value else new] = _renamed(item)
        return out
    if isinstance(value, list):
        return [_renamed(item) for item in value]
    return value


def _leaves(value: t.Any, path: str = "") -> t.Iterator[tuple[str, t.Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _loaded_leaves(record: dict) -> dict[str, t.Any]:
    leaves = dict(_leaves({k: v for k, v in record.items() if k != EXTRA}))
    for path, value in (record.get(EXTRA) or {}).items():
        leaves.update(_leaves(value, path))
    return leaves


def _same(sent: t.Any, loaded: t.Any) -> bool:
    """Equal, or equal through a documented conversion (text ids, instants, dates)."""
    if sent == loaded or str(sent) == str(loaded):
        return True
    if isinstance(sent, str) and isinstance(loaded, str):
        if len(loaded) == 10 and sent.startswith(loaded) and sent[10:] in ("", "T00:00:00.000Z"):
            return True  # a risk date sent as a midnight timestamp
        try:
            return dt.datetime.fromisoformat(sent) == dt.datetime.fromisoformat(loaded)
        except ValueError:
            return False
    return False


def _serve(name: str, spec: dict, body: t.Any):
    endpoint, parent = spec["endpoint"], spec.get("parent")
    parent_list = PARENTS.get(spec["stream"])

    def answer(request):
        if request.path == endpoint:
            if int(request.query.get("page", 1)) > 1:
                return json_answer([])
            return json_answer(body)
        if parent_list is not None and request.path == parent_list[0]:
            return json_answer([parent_list[1](parent)])
        return json_answer({"message": "Not Found"}, 404)

    return answer


@pytest.mark.parametrize("name", sorted(SOURCES["files"]))
def test_a_public_body_loads_with_nothing_lost(name):
    spec = SOURCES["files"][name]
    body = json.loads((PUBLIC / name).read_text())
    stream = spec["stream"]
    sent: list[dict] = []
    for record in _records(body):
        if record not in sent:  # an exact repeat is loaded once
            sent.append(record)
    with HostileServer(_serve(name, spec, body)) as server:
        run = run_tap(hostile_config(server, page_size=500), streams=[stream])
    assert run.error is None, run.error
    check_singer(run)
    loaded = run.records(stream)
    assert len(loaded) == len(sent), "records lost or added"
    for source, record in zip(sent, loaded, strict=True):
        have = _loaded_leaves(record)
        for path, value in _leaves(_as_documented(stream, source)):
            assert path in have, f"{name}: {path} dropped"
            assert _same(value, have[path]), f"{name}: {path} sent {value!r}, loaded {have[path]!r}"


def test_every_public_body_names_its_source():
    on_disk = {str(p.relative_to(PUBLIC)) for p in PUBLIC.glob("*/*.json")}
    assert on_disk == set(SOURCES["files"])
    for spec in SOURCES["files"].values():
        assert len(spec["commit"]) == 40
        assert spec["path"]


def test_a_key_listed_three_times_keeps_what_differs():
    """JupiterOne's fixture lists enrollment 2525523 three times: not started, passed (with a
    completion date), not started again. The exact repeat goes; the passed one is loaded, and
    is the last version, the one an upserting target keeps."""
    spec = SOURCES["files"]["jupiterone/training-enrollments.json"]
    body = json.loads((PUBLIC / "jupiterone/training-enrollments.json").read_text())
    with HostileServer(_serve("enrollments", spec, body)) as server:
        run = run_tap(hostile_config(server, page_size=500), streams=["training_enrollments"])
    versions = [r for r in run.records("training_enrollments") if r["enrollment_id"] == 2525523]
    assert [v["status"] for v in versions] == ["Not Started", "Passed"]
    assert versions[-1]["completion_date"] == "2018-06-18T21:49:00.000Z"
    report = run.tap.run.report.stream("training_enrollments")
    assert report.anomalies["enrollment_id 2525523: 2 versions"] == 1
    assert report.anomalies["records sent again unchanged in one listing: loaded once"] == 1
