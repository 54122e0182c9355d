"""The tap's settings, each declared once.

Every setting is one field of :class:`Settings`: its type, default, title, description and
how a raw value is checked are declared together by :func:`setting`. From those fields
come the JSON schema the SDK validates and ``--about`` prints (:data:`CONFIG_SCHEMA`, which
in turn feeds ``meltano.yml``, the Hub definition and the README table), the parsed
settings the streams use (:meth:`Settings.from_config`), and the reading of settings given
as text (environment variables, or a Meltano project that stored numbers as strings).
Every bad value ends the run before any request, with one line naming the setting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import pathlib
import re
import typing as t
from importlib import metadata

import pendulum
from singer_sdk import typing as th

from tap_knowbe4.errors import ConfigError
from tap_knowbe4.regions import REGION_CODES, resolve_base_url, resolve_region

MAX_PAGE_SIZE = 500
PAGINATION_MODES = ("auto", "page", "cursor")
MEMBER_SOURCES = ("users", "endpoint")
#: Header values must be visible ASCII: anything else cannot be sent, and would make
#: ``requests`` print the whole header (key included) in its error.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def _version() -> str:
    try:
        return metadata.version("tap-knowbe4")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


DEFAULT_USER_AGENT = f"tap-knowbe4/{_version()}"

Parser = t.Callable[[str, t.Any], t.Any]


def setting(
    jsonschema_type: th.JSONTypeHelper | type[th.JSONTypeHelper],
    *,
    title: str,
    description: str,
    parse: Parser,
    default: t.Any = None,
    required: bool = False,
    secret: bool = False,
    allowed: t.Sequence[str] | None = None,
    examples: t.Sequence[t.Any] | None = None,
) -> t.Any:
    """Declare one setting: a dataclass field carrying everything about it."""
    info = {
        "type": jsonschema_type,
        "title": title,
        "description": description,
        "parse": parse,
        "default": default,
        "required": required,
        "secret": secret,
        "allowed": allowed,
        "examples": examples,
    }
    return dataclasses.field(default=default, metadata={"setting": info})


# -- value checks, shared by the declarations ------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def _number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, str):
        value = _from_text(name, value, float)
    if not _is_number(value) or not math.isfinite(float(t.cast("float", value))):
        msg = f"{name} must be a number, got {_show(value)}."
        raise ConfigError(msg)
    number = float(t.cast("float", value))
    if not low <= number <= high:
        msg = f"{name} must be between {low:g} and {high:g}, got {number:g}."
        raise ConfigError(msg)
    return number


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, str):
        value = _from_text(name, value, int)
    if isinstance(value, (float, decimal.Decimal)) and math.isfinite(value) and value == int(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"{name} must be a whole number, got {_show(value)}."
        raise ConfigError(msg)
    if not low <= value <= high:
        msg = f"{name} must be between {low} and {high}, got {value}."
        raise ConfigError(msg)
    return value


def _from_text(name: str, text: str, kind: type) -> t.Any:
    try:
        return kind(text.strip())
    except (ValueError, OverflowError):
        what = "a whole number" if kind is int else "a number"
        msg = f"{name} must be {what}, got {_show(text)}."
        raise ConfigError(msg) from None


def _show(value: object) -> str:
    """A bad value for a message; long text is not echoed (it may be a misplaced key)."""
    text = repr(value)
    if len(text) <= 18:
        return text
    return f"a {type(value).__name__} of {len(str(value))} characters"


def number_between(low: float, high: float, default: float | None) -> Parser:
    """A number in ``[low, high]`` (fractions allowed)."""

    def parse(name: str, value: object) -> float | None:
        if value is None or value == "":
            return default
        return _number(name, value, low, high)

    return parse


def rate_limit(slowest: float, high: float, default: float) -> Parser:
    """0 (no limit) or a rate in ``[slowest, high]``: a rate near 0 is a wait of ages."""

    def parse(name: str, value: object) -> float | None:
        if value is None or value == "":
            return default
        number = _number(name, value, 0, high)
        if 0 < number < slowest:
            msg = f"{name} must be 0 (no limit) or at least {slowest:g}, got {number:g}."
            raise ConfigError(msg)
        return number

    return parse


def whole_between(low: int, high: int, default: int | None) -> Parser:
    """A whole number in ``[low, high]``; ``None`` keeps ``default``."""

    def parse(name: str, value: object) -> int | None:
        if value is None or value == "":
            return default
        return _whole(name, value, low, high)

    return parse


def flag(default: bool) -> Parser:
    """A boolean (``true``/``false``, ``1``/``0``, ``yes``/``no`` as text)."""

    def parse(name: str, value: object) -> bool:
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        msg = f"{name} must be true or false, got {_show(value)}."
        raise ConfigError(msg)

    return parse


def choice(options: t.Sequence[str]) -> Parser:
    """One of ``options`` (case-insensitive); the first is the default."""

    def parse(name: str, value: object) -> str:
        text = str(value if value not in (None, "") else options[0]).strip().lower()
        if text not in options:
            msg = f"{name} must be one of {', '.join(options)}, got {_show(value)}."
            raise ConfigError(msg)
        return text

    return parse


def _api_key(name: str, value: object) -> str:
    key = value.strip() if isinstance(value, str) else ""
    if not key:
        msg = (
            f"{name} is missing or empty: set it to your Reporting API token "
            "(env TAP_KNOWBE4_API_KEY)."
        )
        raise ConfigError(msg)
    if not _HEADER_SAFE.fullmatch(key):
        msg = (
            f"{name} contains a space, a control character or a non-ASCII character, which "
            "an API token never has: copy the token again from the KnowBe4 console."
        )
        raise ConfigError(msg)
    return key


def _region(name: str, value: object) -> str:  # noqa: ARG001 - every parser takes the name
    return resolve_region(None if value in (None, "") else str(value))


def _text(name: str, value: object) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        msg = f"{name} must be text, got {_show(value)}."
        raise ConfigError(msg)
    return value.strip()


def _user_agent(name: str, value: object) -> str:
    text = _text(name, value) or DEFAULT_USER_AGENT
    if not re.fullmatch(r"[\x20-\x7e]{1,200}", text):
        msg = f"{name} must be up to 200 visible ASCII characters."
        raise ConfigError(msg)
    return text


def _start_date(name: str, value: object) -> dt.datetime | None:
    if value in (None, ""):
        return None
    bad = f"{name} {_show(value)} is not a date; use ISO 8601 such as 2024-01-31."
    try:
        parsed = pendulum.parse(str(value))
    except (ValueError, TypeError, OverflowError, pendulum.parsing.exceptions.ParserError):
        raise ConfigError(bad) from None
    if isinstance(parsed, dt.datetime):
        result = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    elif isinstance(parsed, dt.date):
        result = dt.datetime(parsed.year, parsed.month, parsed.day, tzinfo=dt.timezone.utc)
    else:
        raise ConfigError(bad)
    try:
        return dt.datetime.fromtimestamp(result.timestamp(), tz=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):  # the calendar's edges have no UTC instant
        raise ConfigError(bad) from None


def _ca_bundle(name: str, value: object) -> str | None:
    text = _text(name, value)
    if text is None:
        return None
    path = pathlib.Path(text).expanduser()
    if not path.is_file():
        msg = f"{name} {text!r} is not a readable file of PEM certificates."
        raise ConfigError(msg)
    return str(path)


def _ledger_path(name: str, value: object) -> str | None:
    return _text(name, value)


# -- the settings ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """The tap's settings, validated and normalized; each field declares one setting."""

    api_key: str = setting(
        th.StringType,
        required=True,
        secret=True,
        title="Reporting API key",
        description=(
            "KnowBe4 Reporting API token (console: Account Settings > Account Integrations > "
            "API > Reporting API). Never logged; whitespace around it is ignored."
        ),
        parse=_api_key,
        default="",
    )
    region: str = setting(
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
        parse=_region,
    )
    api_url: str | None = setting(
        th.StringType,
        title="API base URL override",
        description=(
            "Base URL to use instead of the region's (a proxy, or the local sandbox such as "
            "http://127.0.0.1:8008): scheme, host and optional port and path only. Must be "
            "https unless the host is this machine (loopback)."
        ),
        parse=_text,
    )
    start_date: dt.datetime | None = setting(
        th.DateTimeType,
        title="Start date",
        description=(
            "Earliest date to read where the API's dates bound what is read (risk-score "
            "histories; phishing tests and their recipients by started_at)."
        ),
        parse=_start_date,
    )
    page_size: int = setting(
        th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
        default=MAX_PAGE_SIZE,
        title="Page size",
        description=(
            "Records per request (per_page), 1-500. 500 costs the fewest requests. A server "
            "that caps pages lower is detected and followed."
        ),
        parse=whole_between(1, MAX_PAGE_SIZE, MAX_PAGE_SIZE),
    )
    pagination: str = setting(
        th.StringType,
        default="auto",
        allowed=PAGINATION_MODES,
        title="Pagination",
        description=(
            "auto: ask for a cursor and follow it when the server returns one (X-Next-Cursor "
            "header, a data/pagination envelope or a Link header), else page by number. "
            "page: page numbers only. cursor: cursors only."
        ),
        parse=choice(PAGINATION_MODES),
    )
    requests_per_second: float = setting(
        th.NumberType(minimum=0, maximum=1000),
        default=4,
        title="Requests per second",
        description=(
            "Most requests sent in any one second, shared by all streams and retries; below 1 "
            "it is one request per 1/rate seconds (0.5: one every two seconds). The API allows "
            "4. 0 turns this limit off (for the local sandbox); otherwise at least 0.01."
        ),
        parse=rate_limit(0.01, 1000, 4),
    )
    requests_per_minute: float = setting(
        th.NumberType(minimum=0, maximum=60000),
        default=50,
        title="Requests per minute",
        description=(
            "Most requests sent in any sixty seconds, shared by all streams and retries. The "
            "API allows 50. 0 turns this limit off; otherwise at least 1."
        ),
        parse=rate_limit(1, 60000, 50),
    )
    max_retries: int = setting(
        th.IntegerType(minimum=0, maximum=20),
        default=5,
        title="Retries per request",
        description=(
            "How often one request is retried after a 5xx, a timeout, a dropped connection or "
            "an unreadable body before the run stops (429s are waited out for "
            "quota_wait_seconds instead)."
        ),
        parse=whole_between(0, 20, 5),
    )
    max_retry_wait_seconds: float = setting(
        th.NumberType(minimum=0, maximum=3600),
        default=300,
        title="Longest wait before a retry",
        description=(
            "Longest single wait before a retry: backoff (1, 2, 4 ... s) stops growing here, "
            "and a 429 whose Retry-After asks for longer is the daily quota being used up, so "
            "the run stops cleanly instead of waiting."
        ),
        parse=number_between(0, 3600, 300),
    )
    quota_wait_seconds: float = setting(
        th.NumberType(minimum=0, maximum=3600),
        default=120,
        title="Time to wait out 429s",
        description=(
            "How long 429 answers may go on (while the tap paces itself within the API's "
            "limits) before the tap concludes the daily quota is spent and stops cleanly."
        ),
        parse=number_between(0, 3600, 120),
    )
    daily_request_limit: int | None = setting(
        th.IntegerType(minimum=1),
        title="Daily request limit",
        description=(
            "Requests allowed per 24 hours (the window starts at the first request). Default: "
            "2,000 + the account's number_of_seats, as the API allows. Counted in the state "
            "and in the shared budget ledger, so every run on the account knows what is left."
        ),
        parse=whole_between(1, 10**9, None),
    )
    max_requests_per_run: int | None = setting(
        th.IntegerType(minimum=1),
        title="Most requests per run",
        description="Stop cleanly after this many requests in one run (resumes next run).",
        parse=whole_between(1, 10**9, None),
    )
    fail_when_budget_exhausted: bool = setting(
        th.BooleanType,
        default=False,
        title="Fail when the budget runs out",
        description=(
            "When the daily budget, the API's quota or max_requests_per_run runs out, the run "
            "stops cleanly, writes state to resume from, and exits 0. Set true to exit "
            "non-zero instead."
        ),
        parse=flag(False),
    )
    request_timeout_seconds: float = setting(
        th.NumberType(minimum=1, maximum=600),
        default=120,
        title="Request timeout",
        description=(
            "Seconds one request may take from sending to the last byte of the answer; a "
            "slower answer is abandoned and retried."
        ),
        parse=number_between(1, 600, 120),
    )
    group_members_source: str = setting(
        th.StringType,
        default="users",
        allowed=MEMBER_SOURCES,
        title="Where group memberships come from",
        description=(
            "users: derive group_members from the group ids on each user (no extra "
            "request). endpoint: read /v1/groups/{id}/members, one request per group. "
            "Same columns either way."
        ),
        parse=choice(MEMBER_SOURCES),
    )
    include_user_risk_score_history: bool = setting(
        th.BooleanType,
        default=False,
        title="Read user risk-score histories",
        description=(
            "Read user_risk_score_history, which costs one request per user per run (on a "
            "5,000-user account, 5,000 of the day's 7,000 requests). Off by default: the "
            "stream is skipped even when selected (Meltano's default selection is every "
            "stream), with one line saying so."
        ),
        parse=flag(False),
    )
    pst_lookback_days: int = setting(
        th.IntegerType(minimum=0, maximum=3650),
        default=14,
        title="Phishing test lookback (days)",
        description=(
            "Recipients of a phishing test are re-read while it is open, for this many days "
            "after it started, and whenever its counters change; settled tests cost nothing."
        ),
        parse=whole_between(0, 3650, 14),
    )
    emit_activate_version_messages: bool = setting(
        th.BooleanType,
        default=False,
        title="Emit ACTIVATE_VERSION",
        description=(
            "Send ACTIVATE_VERSION after a full-table stream was read completely in this run, "
            "so a version-aware target drops rows that disappeared upstream. A stream that "
            "stopped early, and the incremental streams, never send it."
        ),
        parse=flag(False),
    )
    progress_interval_seconds: float = setting(
        th.NumberType(minimum=1, maximum=3600),
        default=30,
        title="Progress log interval",
        description=(
            "Seconds between progress lines: records, requests done of those expected (from "
            "the previous run), % done, records per second, an ETA and the quota left."
        ),
        parse=number_between(1, 3600, 30),
    )
    budget_ledger: bool = setting(
        th.BooleanType,
        default=True,
        title="Share the budget across runs",
        description=(
            "Count requests in a ledger file shared by every run on this machine (or volume) "
            "against the same account, so two jobs with different state IDs do not each "
            "assume the whole daily quota."
        ),
        parse=flag(True),
    )
    budget_ledger_path: str | None = setting(
        th.StringType,
        title="Budget ledger file",
        description=(
            "Where the shared budget ledger lives (default: tap-knowbe4/budget-ledger.json "
            "under the user's cache directory, $XDG_CACHE_HOME or ~/.cache). Point containers "
            "of the same account at one shared path."
        ),
        parse=_ledger_path,
    )
    ca_bundle: str | None = setting(
        th.StringType,
        title="CA bundle",
        description=(
            "Path to a PEM file of certificate authorities to trust, for a corporate proxy "
            "that re-signs TLS. Certificates are always verified; there is no way to turn "
            "verification off."
        ),
        parse=_ca_bundle,
    )
    user_agent: str = setting(
        th.StringType,
        default=DEFAULT_USER_AGENT,
        title="User-Agent",
        description="User-Agent header sent with every request.",
        parse=_user_agent,
    )

    # -- derived -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API base URL: ``api_url`` when given, else the region's."""
        return resolve_base_url(self.region, self.api_url)

    @property
    def host(self) -> str:
        """The API host (and port), for messages."""
        return self.base_url.split("://", 1)[-1].split("/", 1)[0]

    @classmethod
    def declared(cls) -> list[tuple[str, dict[str, t.Any]]]:
        """Every setting's name and declaration, in order."""
        return [(f.name, f.metadata["setting"]) for f in dataclasses.fields(cls)]

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Settings:
        """Parse and check ``config``; raise :class:`ConfigError` with one clear line."""
        values = {
            name: info["parse"](name, config.get(name, info["default"]))
            for name, info in cls.declared()
        }
        settings = cls(**values)
        _ = settings.base_url  # checks api_url against the region rules
        return settings

    @classmethod
    def defaults(cls) -> Settings:
        """Settings for a tap built without config (discovery, ``--about``)."""
        return cls.from_config({"api_key": "discovery-only"})


def config_schema() -> dict[str, t.Any]:
    """The settings as the JSON schema the SDK validates and ``--about`` prints."""
    properties = []
    for name, info in Settings.declared():
        kwargs: dict[str, t.Any] = {
            "required": info["required"],
            "secret": info["secret"],
            "title": info["title"],
            "description": info["description"],
        }
        if info["default"] is not None and not info["required"]:
            kwargs["default"] = info["default"]
        if info["allowed"]:
            kwargs["allowed_values"] = list(info["allowed"])
        if info["examples"]:
            kwargs["examples"] = list(info["examples"])
        properties.append(th.Property(name, info["type"], **kwargs))
    return th.PropertiesList(*properties).to_dict()


CONFIG_SCHEMA = config_schema()


def normalize_text_values(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Settings given as text (environment, Meltano strings) converted to their types.

    Unknown names pass through unchanged (the SDK's own settings); a value that cannot be
    read raises :class:`ConfigError` naming the setting, never echoing a secret.
    """
    result = dict(config)
    kinds = dict(Settings.declared())
    for name, value in config.items():
        info = kinds.get(name)
        if info is None or not isinstance(value, str):
            continue
        schema = t.cast("dict", th.Property(name, info["type"]).to_dict()[name])
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else types
        if not {"integer", "number", "boolean"} & set(types):
            continue
        try:
            result[name] = info["parse"](name, value)
        except ConfigError:
            if info["secret"]:
                msg = f"{name} has a value that cannot be read."
                raise ConfigError(msg) from None
            raise
    return result
