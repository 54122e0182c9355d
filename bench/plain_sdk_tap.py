"""A plain Singer SDK tap of two KnowBe4 streams: the yardstick of ``bench/cpu_per_record.py``.

What the SDK's cookiecutter template gives for ``/v1/users`` and ``/v1/training/enrollments``
(bearer token, page numbers until a short page, the SDK's own writer and record conformance)
with the tap's schemas, and nothing of the tap's hardening. It imports nothing from the tap;
its two lists and settings are the SDK floor's (``bench/yardstick_streams.py``).
The schemas are read once, through the SDK's ``StreamSchema`` as the template does (a
``schema`` property that read the file at every access made it three times slower than a
template tap is):

    .venv/bin/python bench/plain_sdk_tap.py --config CONFIG   # {"api_key": ..., "api_url": ...}
"""

from __future__ import annotations

from singer_sdk import SchemaDirectory, Stream, StreamSchema, Tap
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.pagination import PageNumberPaginator
from singer_sdk.streams import RESTStream
from yardstick_streams import CONFIG_JSONSCHEMA, PER_PAGE, SCHEMAS, streams_on


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


STREAMS = streams_on(KnowBe4Stream)


class PlainKnowBe4(Tap):
    name = "tap-plain-knowbe4"
    config_jsonschema = CONFIG_JSONSCHEMA

    def discover_streams(self) -> list[Stream]:
        return [stream(self) for stream in STREAMS]


if __name__ == "__main__":
    PlainKnowBe4.cli()
