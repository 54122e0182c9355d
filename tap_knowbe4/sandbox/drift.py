"""The API as it drifts: older field names, older fields, new fields, one key listed twice.

Four quirks (``QUIRKS`` in :mod:`tap_knowbe4.sandbox.options`), applied to what the
``Organization`` methods return, deterministically (a function of the records alone):

* ``legacy-names`` (reference §8): users ``adi_manageable``/``adi_guid``, groups ``adi_guid``
  and group type ``adi_managed_group``, a recipient's user stub ``active_directory_guid``,
  training campaigns ``modules`` instead of ``content``, policies ``id`` instead of
  ``policy_id``;
* ``legacy-fields`` (reference §8, the 2018-2021 docs and payloads): PSTs
  ``vulnerable_plugin_count`` and ``exploited_count``, recipients ``vulnerable-plugins_at`` and
  ``exploited_at``, an inline ``risk_score_history`` on the account, users and groups;
* ``new-fields``: fields no client knows yet (:data:`NEW_FIELDS`, and :data:`NEW_STUB_FIELD`
  inside user stubs) on the second half of every list: they appear mid-sync;
* ``repeated-keys``: one key listed more than once with other content (a public fixture lists
  one enrollment three times): every tenth enrollment is followed by a version in another
  campaign and status, then by an exact repeat of itself; every risk-score history lists its
  newest date three times with three scores;
* ``offset-times``: every timestamp (``...T10:00:00.000Z``) sent as the same instant at an
  offset from UTC (``...T05:00:00.000-05:00``, ``+05:30``, ``+14:00``, ``+00:00``...), one
  offset per value (a function of the value); risk-score ``date`` fields are left alone.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import zlib
from typing import Any

Record = dict[str, Any]

QUIRKS = {
    "legacy-names": "the 2018-2021 field names (adi_*, active_directory_guid, modules, policy id)",
    "legacy-fields": "fields the API dropped (vulnerable/exploited counts and times, inline "
    "risk_score_history)",
    "new-fields": "fields no client knows, on the second half of every list (mid-sync)",
    "repeated-keys": "one key listed again with other content (enrollments, risk-score dates)",
    "offset-times": "timestamps sent at an offset from UTC (the same instant: -05:00, +05:30...)",
}

#: The offsets ``offset-times`` sends timestamps at, in minutes east of UTC.
OFFSETS = (-5 * 60, 5 * 60 + 30, 14 * 60, 0, -12 * 60, 9 * 60 + 45, -(3 * 60 + 30))
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z")

#: Fields the tap cannot know, added to the second half of every list.
NEW_FIELDS: dict[str, Any] = {
    "drift_note": "added in 2026",
    "drift_level": 3,
    "drift_tags": ["new", "unknown"],
    "drift_detail": {"source": "sandbox", "weight": 0.5},
}
#: A field the tap cannot know inside user stubs (recipients, enrollments).
NEW_STUB_FIELD = ("drift_badge", "blue")

_USERS = ("users", "user", "group_members")
_GROUPS = ("groups", "group")
_PSTS = ("security_tests", "security_test", "campaign_security_tests")
_RECIPIENTS = ("recipients", "recipient")
_RISK = ("account_risk_score_history", "group_risk_score_history", "user_risk_score_history")


def active(quirks: frozenset[str]) -> bool:
    """True when any drift quirk is on."""
    return not quirks.isdisjoint(QUIRKS)


def apply(method: str, answer: Any, quirks: frozenset[str]) -> Any:
    """``answer`` of ``Organization.<method>`` as the drifted API sends it."""
    records = answer if isinstance(answer, list) else [answer]
    if "legacy-names" in quirks:
        for record in records:
            _legacy_names(method, record)
    if "legacy-fields" in quirks:
        for record in records:
            _legacy_fields(method, record)
    if "offset-times" in quirks:
        for record in records:
            _offset_times(record)
    if isinstance(answer, list):
        if "new-fields" in quirks:
            for record in records[len(records) // 2 :]:
                _new_fields(record)
        if "repeated-keys" in quirks:
            return _repeated(method, records)
    return answer


def _rename(record: Record, old: str, new: str) -> None:
    if old in record:
        record[new] = record.pop(old)


def _legacy_names(method: str, record: Record) -> None:
    if method in _USERS:
        _rename(record, "provisioning_managed", "adi_manageable")
        _rename(record, "provisioning_guid", "adi_guid")
    elif method in _GROUPS:
        _rename(record, "provisioning_guid", "adi_guid")
        if record.get("group_type") == "provisioning_managed_group":
            record["group_type"] = "adi_managed_group"
    elif method in _RECIPIENTS and isinstance(record.get("user"), dict):
        _rename(record["user"], "provisioning_guid", "active_directory_guid")
    elif method in ("training_campaigns", "training_campaign"):
        _rename(record, "content", "modules")
    elif method in ("policies", "policy"):
        _rename(record, "policy_id", "id")


def _legacy_fields(method: str, record: Record) -> None:
    if method in _PSTS:
        record["vulnerable_plugin_count"] = 0
        record["exploited_count"] = record.get("pst_id", 0) % 3
    elif method in _RECIPIENTS:
        exploited = record.get("recipient_id", 0) % 7 == 0
        record["vulnerable-plugins_at"] = None
        record["exploited_at"] = record.get("clicked_at") if exploited else None
    elif method in ("account", *_USERS, *_GROUPS):
        score = record.get("current_risk_score")
        record["risk_score_history"] = (
            [] if score is None else [{"risk_score": score, "date": "2021-06-30"}]
        )


def _new_fields(record: Record) -> None:
    for name, value in NEW_FIELDS.items():
        record[name] = copy.deepcopy(value)
    stub = record.get("user")
    if isinstance(stub, dict):
        stub[NEW_STUB_FIELD[0]] = NEW_STUB_FIELD[1]


def at_offset(timestamp: str) -> str:
    """``timestamp`` (``...T10:00:00.000Z``) as the same instant at one of :data:`OFFSETS`."""
    minutes = OFFSETS[zlib.crc32(timestamp.encode()) % len(OFFSETS)]
    zone = dt.timezone(dt.timedelta(minutes=minutes))
    instant = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(zone)
    wall = instant.replace(tzinfo=None).isoformat(timespec="milliseconds")
    sign = "-" if minutes < 0 else "+"
    return f"{wall}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _offset_times(node: Any) -> None:
    """Every timestamp in ``node`` (at any depth) at an offset; ``date`` fields left alone."""
    pending = [node]
    while pending:
        item = pending.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, value in list(pairs):
            if isinstance(value, str) and key != "date" and _TIMESTAMP.fullmatch(value):
                item[key] = at_offset(value)
            elif isinstance(value, dict | list):
                pending.append(value)


def _repeated(method: str, records: list[Record]) -> list[Record]:
    if method == "enrollments":
        out: list[Record] = []
        for index, record in enumerate(records):
            out.append(record)
            if index % 10 == 0:
                other = copy.deepcopy(record)
                other["campaign_name"] = f"{record.get('campaign_name')} (again)"
                other["status"] = "Passed"
                other["completion_date"] = other.get("enrollment_date")
                out += [other, copy.deepcopy(record)]
        return out
    if method in _RISK and records:
        last = records[-1]
        score = last.get("risk_score") or 0.0
        again = [{**last, "risk_score": round(score + step, 3)} for step in (1.5, -0.75)]
        return [*records, *again]
    return records
