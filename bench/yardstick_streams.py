"""The two KnowBe4 lists the SDK yardsticks of ``bench/cpu_per_record.py`` read, in one place.

``bench/plain_sdk_tap.py`` (the SDK template's REST streams) and ``bench/sdk_floor_tap.py``
(the raw floor's reading in the SDK's record loop) read the same ``/v1/users`` and
``/v1/training/enrollments`` with the same page size, flags, keys, schemas and settings; only
their stream base class differs. Each builds its streams with :func:`streams_on` and takes its
settings from :data:`CONFIG_JSONSCHEMA`. Nothing here imports the tap.
"""

from __future__ import annotations

from pathlib import Path

from singer_sdk import Stream
from singer_sdk import typing as th

#: The tap's schema files, read by both yardsticks through the SDK's ``StreamSchema``.
SCHEMAS = Path(__file__).resolve().parent.parent / "tap_knowbe4" / "schemas"
#: Records per page; a shorter page is the last.
PER_PAGE = 500
#: What the tap asks of the enrollments list (the raw floor asks the same).
ENROLLMENT_FLAGS = {
    "include_campaign_id": "true",
    "include_store_purchase_id": "true",
    "include_employee_number": "true",
}
#: Class name, stream name, path, primary keys and extra query parameters of each list.
LISTS: tuple[tuple[str, str, str, tuple[str, ...], dict[str, str]], ...] = (
    ("UsersStream", "users", "/v1/users", ("id",), {}),
    (
        "EnrollmentsStream",
        "training_enrollments",
        "/v1/training/enrollments",
        ("enrollment_id",),
        ENROLLMENT_FLAGS,
    ),
)
#: The settings of both yardsticks: the sandbox's key and address.
CONFIG_JSONSCHEMA = th.PropertiesList(
    th.Property("api_key", th.StringType, required=True, secret=True),
    th.Property("api_url", th.StringType, required=True),
).to_dict()


def streams_on(base: type[Stream]) -> list[type[Stream]]:
    """The two lists as subclasses of ``base``, each with its name, path, keys and params."""
    return [
        type(
            class_name,
            (base,),
            {"name": name, "path": path, "primary_keys": keys, "extra_params": params},
        )
        for class_name, name, path, keys, params in LISTS
    ]
