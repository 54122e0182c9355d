"""The tap's settings: their JSON schema (shown by ``--about``) and their parsed form."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
from importlib import metadata

import pendulum
from singer_sdk import typing as th

from tap_knowbe4.errors import ConfigError
from tap_knowbe4.regions import REGION_CODES, resolve_base_url, resolve_region

MAX_PAGE_SIZE = 500
PAGINATION_MODES = ("auto", "page", "cursor")


def _version() -> str:
    try:
        return metadata.version("tap-knowbe4")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


DEFAULT_USER_AGENT = f"tap-knowbe4/{_version()}"

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        title="Reporting API key",
        description=(
            "KnowBe4 Reporting API token (console: Account Settings > Account Integrations > "
            "API > Reporting API). Never logged."
        ),
    ),
    th.Property(
        "region",
        th.StringType,
        default="us",
        title="Region",
        description=(
            f"Where the KnowBe4 account lives: one of {', '.join(REGION_CODES)} "
            "(case-insensitive), or the console address you sign in at "
            "(training.knowbe4.com = us, eu.knowbe4.com = eu, ...). A key only works in its "
            "own region."
        ),
        examples=list(REGION_CODES),
    ),
    th.Property(
        "api_url",
        th.StringType,
        title="API base URL override",
        description=(
            "Base URL to use instead of the region's (a proxy, or the local sandbox such as "
            "http://127.0.0.1:8008). Must be https unless the host is loopback."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description=(
            "Earliest date to read where the API's dates bound what is read (risk-score "
            "histories; phishing tests and their recipients by started_at)."
        ),
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
        default=MAX_PAGE_SIZE,
        title="Page size",
        description="Records per request (per_page), 1-500. 500 costs the fewest requests.",
    ),
    th.Property(
        "pagination",
        th.StringType,
        default="auto",
        allowed_values=list(PAGINATION_MODES),
        title="Pagination",
        description=(
            "auto: ask for a cursor and follow it when the server returns one (X-Next-Cursor "
            "header or a data/pagination envelope), else page by number. page: page numbers "
            "only. cursor: cursors only."
        ),
    ),
    th.Property(
        "requests_per_second",
        th.NumberType(minimum=0),
        default=4,
        title="Requests per second",
        description=(
            "Most requests sent in any one second, shared by all streams and retries. The "
            "API allows 4. 0 turns this limit off (for the local sandbox)."
        ),
    ),
    th.Property(
        "requests_per_minute",
        th.NumberType(minimum=0),
        default=50,
        title="Requests per minute",
        description=(
            "Most requests sent in any sixty seconds, shared by all streams and retries. The "
            "API allows 50. 0 turns this limit off."
        ),
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0, maximum=20),
        default=5,
        title="Retries per request",
        description=(
            "How often one request is retried after a 429, a 5xx, a timeout, a dropped "
            "connection or a truncated body before the run fails."
        ),
    ),
    th.Property(
        "max_retry_wait_seconds",
        th.NumberType(minimum=0),
        default=300,
        title="Longest wait before a retry",
        description=(
            "Longest single wait before a retry: backoff stops growing here, and a 429 whose "
            "Retry-After asks for longer is the daily quota being used up, so the run stops "
            "cleanly instead of waiting."
        ),
    ),
    th.Property(
        "daily_request_limit",
        th.IntegerType(minimum=1),
        title="Daily request limit",
        description=(
            "Requests allowed per 24 hours (the window starts at the first request). Default: "
            "2,000 + the account's number_of_seats, as the API allows. Counted in the state, "
            "so a second run the same day knows what is left."
        ),
    ),
    th.Property(
        "max_requests_per_run",
        th.IntegerType(minimum=1),
        title="Most requests per run",
        description="Stop cleanly after this many requests in one run (resumes next run).",
    ),
    th.Property(
        "fail_when_budget_exhausted",
        th.BooleanType,
        default=False,
        title="Fail when the budget runs out",
        description=(
            "When the daily budget or max_requests_per_run runs out, the run stops cleanly, "
            "writes state to resume from, and exits 0. Set true to exit non-zero instead."
        ),
    ),
    th.Property(
        "request_timeout_seconds",
        th.NumberType(minimum=1),
        default=120,
        title="Request timeout",
        description="Seconds to wait for a response before retrying the request.",
    ),
    th.Property(
        "group_members_source",
        th.StringType,
        default="users",
        allowed_values=["users", "endpoint"],
        title="Where group memberships come from",
        description=(
            "users: derive group_members from the group ids on each user (no extra "
            "request). endpoint: read /v1/groups/{id}/members, one request per group. "
            "Same columns either way."
        ),
    ),
    th.Property(
        "pst_lookback_days",
        th.IntegerType(minimum=0),
        default=14,
        title="Phishing test lookback (days)",
        description=(
            "Recipients of a phishing test are re-read while it is open, for this many days "
            "after it started, and whenever its counters change; settled tests cost nothing."
        ),
    ),
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType,
        default=False,
        title="Emit ACTIVATE_VERSION",
        description=(
            "Send ACTIVATE_VERSION for full-table streams so a version-aware target drops rows "
            "that disappeared upstream (archived memberships, deleted content). The "
            "incremental streams never send it."
        ),
    ),
    th.Property(
        "ca_bundle",
        th.StringType,
        title="CA bundle",
        description=(
            "Path to a PEM file of certificate authorities to trust, for a corporate proxy "
            "that re-signs TLS. Certificates are always verified; there is no way to turn "
            "verification off."
        ),
    ),
    th.Property(
        "user_agent",
        th.StringType,
        default=DEFAULT_USER_AGENT,
        title="User-Agent",
        description="User-Agent header sent with every request.",
    ),
).to_dict()


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated, normalized configuration used by streams."""

    base_url: str
    region: str
    page_size: int
    pagination: str
    user_agent: str
    start_date: dt.datetime | None
    requests_per_second: float = 4
    requests_per_minute: float = 50
    max_retries: int = 5
    max_retry_wait_seconds: float = 300
    request_timeout_seconds: float = 120
    daily_request_limit: int | None = None
    max_requests_per_run: int | None = None
    fail_when_budget_exhausted: bool = False
    group_members_source: str = "users"
    pst_lookback_days: int = 14
    ca_bundle: str | None = None

    @property
    def host(self) -> str:
        """The API host name, for messages."""
        return self.base_url.split("://", 1)[-1].split("/", 1)[0]

    @classmethod
    def defaults(cls) -> Settings:
        """Settings for a tap built without config (discovery, ``--about``)."""
        return cls.from_config({"api_key": "-"})

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        """Parse and check ``config``; raise :class:`ConfigError` with one clear line."""
        api_key = config.get("api_key")
        if not isinstance(api_key, str) or not api_key.strip():
            msg = (
                "api_key is missing or empty: set it to your Reporting API token "
                "(env TAP_KNOWBE4_API_KEY)."
            )
            raise ConfigError(msg)
        region = resolve_region(config.get("region"))
        base_url = resolve_base_url(region, config.get("api_url"))
        page_size = config.get("page_size", MAX_PAGE_SIZE)
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            msg = f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size!r}."
            raise ConfigError(msg)
        pagination = str(config.get("pagination") or "auto").lower()
        if pagination not in PAGINATION_MODES:
            msg = f"pagination must be one of {', '.join(PAGINATION_MODES)}, got {pagination!r}."
            raise ConfigError(msg)
        return cls(
            base_url=base_url,
            region=region,
            page_size=page_size,
            pagination=pagination,
            user_agent=config.get("user_agent") or DEFAULT_USER_AGENT,
            start_date=_parse_start_date(config.get("start_date")),
            requests_per_second=_number(config, "requests_per_second", 4),
            requests_per_minute=_number(config, "requests_per_minute", 50),
            max_retries=int(_number(config, "max_retries", 5)),
            max_retry_wait_seconds=_number(config, "max_retry_wait_seconds", 300),
            request_timeout_seconds=_number(config, "request_timeout_seconds", 120, low=1),
            daily_request_limit=_optional_count(config, "daily_request_limit"),
            max_requests_per_run=_optional_count(config, "max_requests_per_run"),
            fail_when_budget_exhausted=bool(config.get("fail_when_budget_exhausted", False)),
            group_members_source=_choice(config, "group_members_source", ("users", "endpoint")),
            pst_lookback_days=int(_number(config, "pst_lookback_days", 14)),
            ca_bundle=_ca_bundle(config.get("ca_bundle")),
        )


def _ca_bundle(value: object) -> str | None:
    if value in (None, ""):
        return None
    path = pathlib.Path(str(value)).expanduser()
    if not path.is_file():
        msg = f"ca_bundle {str(value)!r} is not a readable file of PEM certificates."
        raise ConfigError(msg)
    return str(path)


def _choice(config: dict, name: str, choices: tuple[str, ...]) -> str:
    value = str(config.get(name) or choices[0]).lower()
    if value not in choices:
        msg = f"{name} must be one of {', '.join(choices)}, got {value!r}."
        raise ConfigError(msg)
    return value


def _optional_count(config: dict, name: str) -> int | None:
    value = config.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{name} must be a whole number of at least 1, got {value!r}."
        raise ConfigError(msg)
    return value


def _number(config: dict, name: str, default: float, low: float = 0) -> float:
    value = config.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        msg = f"{name} must be a number of at least {low:g}, got {value!r}."
        raise ConfigError(msg)
    return value


def _parse_start_date(value: object) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = pendulum.parse(str(value))
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        msg = f"start_date {value!r} is not a date; use ISO 8601 such as 2024-01-31."
        raise ConfigError(msg) from exc
    if not isinstance(parsed, dt.datetime):
        if isinstance(parsed, dt.date):
            return dt.datetime(parsed.year, parsed.month, parsed.day, tzinfo=dt.timezone.utc)
        msg = f"start_date {value!r} is not a date; use ISO 8601 such as 2024-01-31."
        raise ConfigError(msg)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed
