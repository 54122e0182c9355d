"""Reshaping of records that drifted from the current API (reference §4, §7, §8).

Each function takes one API record (already holding its parent id) and returns the
record as the stream's schema describes it. They only touch what needs touching.
"""

from __future__ import annotations

LEGACY_USER_FIELDS = {"adi_manageable": "provisioning_managed", "adi_guid": "provisioning_guid"}
LEGACY_GROUP_FIELDS = {"adi_guid": "provisioning_guid"}
LEGACY_PST_FIELDS = {"landing-page": "landing_page"}
LEGACY_POLICY_FIELDS = {"id": "policy_id"}
#: A column name cannot hold a hyphen comfortably; the field's only name had one.
LEGACY_RECIPIENT_FIELDS = {"vulnerable-plugins_at": "vulnerable_plugins_at"}


def risk_point(record: dict) -> dict:
    """Risk-score ``date`` as ``YYYY-MM-DD`` (some responses send midnight timestamps)."""
    value = record.get("date")
    if isinstance(value, str) and len(value) > 10:
        record["date"] = value[:10]
    return record


def user(record: dict) -> dict:
    """Group ids on a user: plain integers even when ``expand=group`` sent objects."""
    groups = record.get("groups")
    if isinstance(groups, list) and any(isinstance(g, dict) for g in groups):
        record["groups"] = [
            g.get("group_id", g.get("id")) if isinstance(g, dict) else g for g in groups
        ]
    return record


def group(record: dict) -> dict:
    """``adi_managed_group`` is now ``provisioning_managed_group``."""
    if record.get("group_type") == "adi_managed_group":
        record["group_type"] = "provisioning_managed_group"
    return record


def recipient(record: dict) -> dict:
    """The user stub's ``active_directory_guid`` is now ``provisioning_guid``."""
    stub = record.get("user")
    if (
        isinstance(stub, dict)
        and "active_directory_guid" in stub
        and "provisioning_guid" not in stub
    ):
        stub["provisioning_guid"] = stub.pop("active_directory_guid")
    return record


def _flatten(items: list) -> list:
    flat: list = []
    for item in items:
        if isinstance(item, list):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def training_campaign(record: dict) -> dict:
    """``content`` as one flat list (docs nest it; 2018 accounts call it ``modules``)."""
    if "content" not in record and "modules" in record:
        record["content"] = record.pop("modules")
    if isinstance(record.get("content"), list):
        record["content"] = _flatten(record["content"])
    return record
