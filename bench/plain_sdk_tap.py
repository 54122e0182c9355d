"""A plain Singer SDK tap of two KnowBe4 streams: the yardstick of ``bench/cpu_per_record.py``.

What the SDK's cookiecutter template gives for ``/v1/users`` and ``/v1/training/enrollments``
(bearer token, page numbers until a short page, the SDK's own writer and record conformance)
with the tap's schemas, and nothing of the tap's hardening. It imports nothing from the tap.
The schemas are read once, through the SDK's ``StreamSchema`` as the template does (a
``schema`` property that read the file at every access made it three times slower than a
template tap is):

    .venv/bin/python bench/plain_sdk_tap.py --config CONFIG   # {"api_key": ..., "api_url": ...}
"""

from __future__ import annotations

from pathlib import Path

from singer_sdk import SchemaDirectory, Stream, StreamSchema, Tap
from singer_sdk import typing as th
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.pagination import PageNumberPaginator
from singer_sdk.streams import RESTStream

SCHEMAS = Path(__file__).resolve().parent.parent / "tap_knowbe4" / "schemas"
PER_PAGE = 500


class ShortPageEnds(PageNumberPaginator):
    """Page numbers from 1; a page shorter than ``PER_PAGE`` is the last."""

    def has_more(self, response):
        return len(response.json()) == PER_PAGE


class KnowBe4Stream(RESTStream):
    """A list endpoint read page by page."""

    records_jsonpath = "$[*]"
    extra_params: dict[str, str] = {}
    schema = StreamSchema(SchemaDirectory(SCHEMAS))

    @property
    def url_base(self) -> str:
        return self.config["api_url"]

    @property
    def authenticator(self) -> BearerTokenAuthenticator:
        return BearerTokenAuthenticator(token=self.config["api_key"])

    def get_new_paginator(self) -> ShortPageEnds:
        return ShortPageEnds(1)

    def get_url_params(self, context, next_page_token):
        return {"page": next_page_token, "per_page": PER_PAGE, **self.extra_params}


class UsersStream(KnowBe4Stream):
    name = "users"
    path = "/v1/users"
    primary_keys = ("id",)


class EnrollmentsStream(KnowBe4Stream):
    name = "training_enrollments"
    path = "/v1/training/enrollments"
    primary_keys = ("enrollment_id",)
    extra_params = {
        "include_campaign_id": "true",
        "include_store_purchase_id": "true",
        "include_employee_number": "true",
    }


class PlainKnowBe4(Tap):
    name = "tap-plain-knowbe4"
    config_jsonschema = th.PropertiesList(
        th.Property("api_key", th.StringType, required=True, secret=True),
        th.Property("api_url", th.StringType, required=True),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        return [UsersStream(self), EnrollmentsStream(self)]


if __name__ == "__main__":
    PlainKnowBe4.cli()
