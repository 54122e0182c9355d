"""The tap's settings, each declared once.

Every setting is one field of :class:`Settings`: its name, its type (the field's
annotation) and a :class:`Declaration` made by :func:`setting` with its title, description,
default, bounds (``minimum``, ``maximum``), allowed values, secrecy and documented examples.
Everything else derives from that one declaration, so nothing can disagree with it: the
JSON schema the SDK validates and ``--about`` prints (:data:`CONFIG_SCHEMA`, which in turn
feeds ``meltano.yml``, the Hub definition and the README table), the parser
(:meth:`Declaration.parse`, used by :meth:`Settings.from_config`), and the reading of
settings given as text (environment variables, or a Meltano project that stored numbers as
strings). A ``check`` adds what a type and bounds cannot say (the region's aliases, a file
that must exist). Every bad value ends the run before any request, with one line naming the
setting.
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

from singer_sdk import typing as th

from tap_knowbe4.errors import ConfigError
from tap_knowbe4.regions import REGION_CODES, resolve_base_url, resolve_region

MAX_PAGE_SIZE = 500
PAGINATION_MODES = ("auto", "page", "cursor")
MEMBER_SOURCES = ("users", "endpoint")
#: Far more requests than any account is allowed in a day.
MOST_REQUESTS = 10**9
#: Header values must be visible ASCII: anything else cannot be sent, and would make
#: ``requests`` print the whole header (key included) in its error.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def _version() -> str:
    try:
        return metadata.version("tap-knowbe4")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


DEFAULT_USER_AGENT = f"tap-knowbe4/{_version()}"

Check = t.Callable[[str, t.Any], t.Any]


@dataclasses.dataclass(frozen=True)
class Declaration:
    """One setting, declared once; its JSON schema, its parser and its docs derive from it.

    ``name`` and ``type`` come from the :class:`Settings` field that holds the declaration
    (its name and its annotation: ``str``, ``int``, ``float``, ``bool`` or ``datetime``).
    """

    title: str
    description: str
    default: t.Any = None
    #: Numbers: the smallest and largest value accepted (the JSON schema says the same).
    minimum: float | None = None
    maximum: float | None = None
    #: Numbers: 0 turns the thing off; any other value must be at least this.
    zero_or_at_least: float | None = None
    required: bool = False
    secret: bool = False
    #: Text: the only values accepted (case-insensitive).
    allowed: tuple[str, ...] = ()
    #: Documented ways to write a value, as text (an environment variable, a
    #: ``meltano config set``); each must parse (tests/test_settings.py) and reach the tap
    #: through Meltano unchanged (tests/integration/test_meltano_settings.py).
    examples: tuple[str, ...] = ()
    #: What the type and bounds cannot say: a normalization or a further check of a value
    #: that is present (the region's aliases, a file that must exist).
    check: Check | None = None
    name: str = ""
    type: type = str

    def parse(self, value: object) -> t.Any:
        """The value read and checked, or :class:`ConfigError` with one line naming it."""
        name = self.name
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if self.required:
                msg = (
                    f"{name} is missing or empty: set it to your {self.title} "
                    f"(env TAP_KNOWBE4_{name.upper()})."
                )
                raise ConfigError(msg)
            return self.default
        try:
            value = _READERS[self.type](self, value)
        except ConfigError:
            if self.secret:  # the message would show (part of) the value
                msg = f"{name} must be text: the {self.title}."
                raise ConfigError(msg) from None
            raise
        return self.check(name, value) if self.check is not None else value

    def schema_type(self) -> th.JSONTypeHelper:
        """The JSON schema type with the declared bounds."""
        bounds = t.cast("dict[str, t.Any]", {"minimum": self.minimum, "maximum": self.maximum})
        if self.type is int:
            return th.IntegerType(**bounds)
        if self.type is float:
            return th.NumberType(**bounds)
        if self.type is bool:
            return th.BooleanType()
        if self.type is dt.datetime:
            return th.DateTimeType()
        return th.StringType()

    def schema_examples(self) -> list[t.Any]:
        """The examples as JSON values of the setting's type (text stays as written)."""
        if self.type not in (int, float, bool):
            return list(self.examples)
        values: list[t.Any] = []
        for text in self.examples:
            value = self.parse(text)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if value not in values:  # one type per setting: True == 1 cannot mix here
                values.append(value)
        return values


def setting(
    *,
    title: str,
    description: str,
    default: t.Any = None,
    minimum: float | None = None,
    maximum: float | None = None,
    zero_or_at_least: float | None = None,
    required: bool = False,
    secret: bool = False,
    allowed: t.Sequence[str] = (),
    examples: t.Sequence[str] = (),
    check: Check | None = None,
) -> t.Any:
    """Declare one setting: a dataclass field carrying its :class:`Declaration`."""
    declaration = Declaration(
        title=title,
        description=description,
        default=default,
        minimum=minimum,
        maximum=maximum,
        zero_or_at_least=zero_or_at_least,
        required=required,
        secret=secret,
        allowed=tuple(allowed),
        examples=tuple(examples),
        check=check,
    )
    return dataclasses.field(default=default, metadata={"setting": declaration})


# -- reading a value of each type ------------------------------------------------------


def _read_number(decl: Declaration, value: object) -> float:
    name = decl.name
    if isinstance(value, str):
        value = _from_text(name, value, float)
    if not _is_number(value) or not math.isfinite(float(t.cast("float", value))):
        msg = f"{name} must be a number, got {_show(value)}."
        raise ConfigError(msg)
    number = float(t.cast("float", value))
    _bounded(decl, number)
    floor = decl.zero_or_at_least
    if floor is not None and 0 < number < floor:
        msg = f"{name} must be 0 (no limit) or at least {floor:g}, got a number below that."
        raise ConfigError(msg)
    return number


def _read_whole(decl: Declaration, value: object) -> int:
    name = decl.name
    if isinstance(value, str):
        value = _from_text(name, value, int)
    if isinstance(value, (float, decimal.Decimal)) and math.isfinite(value) and value == int(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"{name} must be a whole number, got {_show(value)}."
        raise ConfigError(msg)
    _bounded(decl, value)
    return value


def _bounded(decl: Declaration, number: float) -> None:
    low = -math.inf if decl.minimum is None else decl.minimum
    high = math.inf if decl.maximum is None else decl.maximum
    if not low <= number <= high:  # where it lies, not the number: no value is echoed
        shown = f"a number {'below' if number < low else 'above'} that"
        msg = f"{decl.name} must be {_range(decl)}, got {shown}."
        raise ConfigError(msg)


def _range(decl: Declaration) -> str:
    if decl.minimum is not None and decl.maximum is not None:
        return f"between {decl.minimum:g} and {decl.maximum:g}"
    if decl.minimum is not None:
        return f"at least {decl.minimum:g}"
    return f"at most {decl.maximum:g}"


def _read_flag(decl: Declaration, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    msg = f"{decl.name} must be true or false, got {_show(value)}."
    raise ConfigError(msg)


def _read_text(decl: Declaration, value: object) -> str:
    if not isinstance(value, str):
        msg = f"{decl.name} must be text, got {_show(value)}."
        raise ConfigError(msg)
    if decl.allowed:
        if value.lower() not in decl.allowed:
            msg = f"{decl.name} must be one of {', '.join(decl.allowed)}, got {_show(value)}."
            raise ConfigError(msg)
        return value.lower()
    return value


def _read_instant(decl: Declaration, value: object) -> dt.datetime:
    import pendulum  # noqa: PLC0415 - only for a date setting: a tenth of the start-up

    bad = f"{decl.name} ({_show(value)}) is not a date; use ISO 8601 such as 2024-01-31."
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


_READERS: dict[type, t.Callable[[Declaration, t.Any], t.Any]] = {
    int: _read_whole,
    float: _read_number,
    bool: _read_flag,
    str: _read_text,
    dt.datetime: _read_instant,
}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def _from_text(name: str, text: str, kind: type) -> t.Any:
    try:
        return kind(text.strip())
    except (ValueError, OverflowError):
        what = "a whole number" if kind is int else "a number"
        msg = f"{name} must be {what}, got {_show(text)}."
        raise ConfigError(msg) from None


def _show(value: object) -> str:
    """A bad value for a message: described, never echoed.

    It may be a key pasted into the wrong setting; only allowed values are ever printed.
    """
    if isinstance(value, bool):
        return "true" if value else "false"  # only settings that are not flags say this
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return "blank text"
        number = _number_text(text)
        if number is not None:
            return f"{_show(number)} written as text"
        return f"text of {len(value)} characters"
    if _is_number(value):
        number = float(t.cast("float", value))
        return "a fraction" if math.isfinite(number) and number % 1 else "a number"
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), "a value")


def _number_text(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# -- checks beyond type and bounds -----------------------------------------------------


def _api_key(name: str, key: str) -> str:
    if key[:1] in ("'", '"') or key[-1:] in ("'", '"'):  # a .env file or a shell kept them
        msg = f"{name} is in quotes, which an API token never has: remove the quotes."
        raise ConfigError(msg)
    if not _HEADER_SAFE.fullmatch(key):
        msg = (
            f"{name} contains a space, a control character or a non-ASCII character, which "
            "an API token never has: copy the token again from the KnowBe4 console."
        )
        raise ConfigError(msg)
    return key


def _region(name: str, value: str) -> str:  # noqa: ARG001 - every check takes the name
    return resolve_region(value)


def _start_date(name: str, value: dt.datetime) -> dt.datetime:
    """A start after tomorrow (UTC) is refused: nothing dated after it exists yet.

    Such a date (a typo: 2062 for 2026) read no phishing test and no risk point, exit 0, and
    with ``emit_activate_version_messages`` deleted every loaded test (attack 12 #2).
    """
    tomorrow = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    if value.date() > tomorrow:
        msg = (
            f"{name} ({value.date().isoformat()}) is in the future: nothing dated after it "
            "exists yet, so no phishing test and no risk point would be read."
        )
        raise ConfigError(msg)
    return value


def _user_agent(name: str, text: str) -> str:
    if not re.fullmatch(r"[\x20-\x7e]{1,200}", text):
        msg = f"{name} must be up to 200 visible ASCII characters."
        raise ConfigError(msg)
    return text


def _ca_bundle(name: str, text: str) -> str:
    path = pathlib.Path(text).expanduser()
    if not path.is_file():
        msg = f"{name} ({_show(text)}) is not the path of a readable file of PEM certificates."
        raise ConfigError(msg)
    return str(path)


def _account_label(name: str, text: str) -> str:
    if text.startswith("eyJ"):  # base64 of '{"': how every key (a JWT) begins
        msg = f"{name} looks like a Reporting API key, which is never printed: use a short name."
        raise ConfigError(msg)
    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,40}", text):
        msg = f"{name} must be 1-40 letters, digits or . _ - @, got {_show(text)}."
        raise ConfigError(msg)
    return text


# -- the settings ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """The tap's settings, validated and normalized; each field declares one setting."""

    api_key: str = setting(
        required=True,
        secret=True,
        title="Reporting API key",
        description=(
            "KnowBe4 Reporting API token (console: Account Settings > Account Integrations > "
            "API > Reporting API). Never logged; whitespace around it is ignored."
        ),
        check=_api_key,
        default="",
    )
    region: str = setting(
        default="us",
        title="Region",
        description=(
            f"Where the KnowBe4 account lives: one of {', '.join(REGION_CODES)} "
            "(case-insensitive), or the console address you sign in at "
            "(training.knowbe4.com = us, eu.knowbe4.com = eu, ...). A key only works in its "
            "own region."
        ),
        examples=("us", "EU", "training.knowbe4.com", "https://eu.knowbe4.com/ui/dashboard"),
        check=_region,
    )
    api_url: str | None = setting(
        title="API base URL override",
        description=(
            "Base URL to use instead of the region's (a proxy, or the local sandbox such as "
            "http://127.0.0.1:8008): scheme, host and optional port and path only. Must be "
            "https unless the host is this machine (loopback)."
        ),
        examples=("http://127.0.0.1:8765", "https://eu.api.knowbe4.com"),
    )
    start_date: dt.datetime | None = setting(
        title="Start date",
        description=(
            "Earliest date to read where the API's dates bound what is read (risk-score "
            "histories; phishing tests and their recipients by started_at)."
        ),
        examples=("2024-01-31", "2024-01-01T00:00:00Z"),
        check=_start_date,
    )
    page_size: int = setting(
        default=MAX_PAGE_SIZE,
        minimum=1,
        maximum=MAX_PAGE_SIZE,
        title="Page size",
        description=(
            "Records per request (per_page), 1-500. 500 costs the fewest requests. A server "
            "that caps pages lower is detected and followed."
        ),
        examples=("500", "100"),
    )
    pagination: str = setting(
        default="auto",
        allowed=PAGINATION_MODES,
        title="Pagination",
        description=(
            "auto: ask for a cursor and follow it when the server returns one (X-Next-Cursor "
            "header, a data/pagination envelope or a Link header), else page by number. "
            "page: page numbers only. cursor: cursors only."
        ),
        examples=PAGINATION_MODES,
    )
    requests_per_second: float = setting(
        default=4,
        minimum=0,
        maximum=1000,
        zero_or_at_least=0.01,
        title="Requests per second",
        description=(
            "Most requests sent in any one second, shared by all streams and retries; below 1 "
            "it is one request per 1/rate seconds (0.5: one every two seconds). The API allows "
            "4. 0 turns this limit off (for the local sandbox); otherwise at least 0.01."
        ),
        examples=("4", "0.5", "0"),
    )
    requests_per_minute: float = setting(
        default=50,
        minimum=0,
        maximum=60000,
        zero_or_at_least=1,
        title="Requests per minute",
        description=(
            "Most requests sent in any sixty seconds, shared by all streams and retries. The "
            "API allows 50. 0 turns this limit off; otherwise at least 1."
        ),
        examples=("50", "30", "0"),
    )
    max_retries: int = setting(
        default=5,
        minimum=0,
        maximum=20,
        title="Retries per request",
        description=(
            "How often one request is retried after a 5xx, a timeout, a dropped connection or "
            "an unreadable body before the run stops (429s are waited out for "
            "quota_wait_seconds instead)."
        ),
        examples=("5", "0"),
    )
    max_retry_wait_seconds: float = setting(
        default=300,
        minimum=0,
        maximum=3600,
        title="Longest wait before a retry",
        description=(
            "Longest single wait before a retry: backoff (1, 2, 4 ... s) stops growing here, "
            "and a 429 whose Retry-After asks for longer is the daily quota being used up, so "
            "the run stops cleanly instead of waiting."
        ),
        examples=("300", "2.5"),
    )
    quota_wait_seconds: float = setting(
        default=120,
        minimum=0,
        maximum=3600,
        title="Time to wait out 429s",
        description=(
            "How long 429 answers may go on (while the tap paces itself within the API's "
            "limits) before the tap concludes the daily quota is spent and stops cleanly."
        ),
        examples=("120", "0"),
    )
    daily_request_limit: int | None = setting(
        minimum=1,
        maximum=MOST_REQUESTS,
        title="Daily request limit",
        description=(
            "Requests allowed per 24 hours (the window starts at the first request). Default: "
            "2,000 + the account's number_of_seats, as the API allows. Counted in the state "
            "and in the shared budget ledger, so every run on the account knows what is left."
        ),
        examples=("7000",),
    )
    max_requests_per_run: int | None = setting(
        minimum=1,
        maximum=MOST_REQUESTS,
        title="Most requests per run",
        description="Stop cleanly after this many requests in one run (resumes next run).",
        examples=("1000",),
    )
    fail_when_budget_exhausted: bool = setting(
        default=False,
        title="Fail when the budget runs out",
        description=(
            "When the daily budget, the API's quota or max_requests_per_run runs out, the run "
            "stops cleanly, writes state to resume from, and exits 0. Set true to exit "
            "non-zero instead."
        ),
        examples=("true", "false", "1", "0"),
    )
    request_timeout_seconds: float = setting(
        default=120,
        minimum=1,
        maximum=600,
        title="Request timeout",
        description=(
            "Seconds one request may take from sending to the last byte of the answer; a "
            "slower answer is abandoned and retried."
        ),
        examples=("120", "30"),
    )
    group_members_source: str = setting(
        default="users",
        allowed=MEMBER_SOURCES,
        title="Where group memberships come from",
        description=(
            "users: derive group_members from the group ids on each user (no extra "
            "request). endpoint: read /v1/groups/{id}/members, one request per group. "
            "Same columns either way."
        ),
        examples=MEMBER_SOURCES,
    )
    include_user_risk_score_history: bool = setting(
        default=False,
        title="Read user risk-score histories",
        description=(
            "Read user_risk_score_history, which costs one request per user per run (on a "
            "5,000-user account, 5,000 of the day's 7,000 requests). Off by default: the "
            "stream is skipped even when selected (Meltano's default selection is every "
            "stream), with one line saying so."
        ),
        examples=("true", "false", "1", "0"),
    )
    pst_lookback_days: int = setting(
        default=14,
        minimum=0,
        maximum=3650,
        title="Phishing test lookback (days)",
        description=(
            "Recipients of a phishing test are re-read while it is open, for this many days "
            "after it started, and whenever its counters change; settled tests cost nothing."
        ),
        examples=("14", "0"),
    )
    emit_activate_version_messages: bool = setting(
        default=False,
        title="Emit ACTIVATE_VERSION",
        description=(
            "Send ACTIVATE_VERSION after a full-table stream was read completely in this run, "
            "so a version-aware target drops rows that disappeared upstream. A stream that "
            "stopped early, and the incremental streams, never send it."
        ),
        examples=("true", "false", "1", "0"),
    )
    progress_interval_seconds: float = setting(
        default=30,
        minimum=1,
        maximum=3600,
        title="Progress log interval",
        description=(
            "Seconds between progress lines: records, requests done of those this run's plan "
            "expects, % done, records per second, an ETA at the configured rate and the "
            "quota left."
        ),
        examples=("30", "5"),
    )
    budget_ledger: bool = setting(
        default=True,
        title="Share the budget across runs",
        description=(
            "Count requests in a ledger file shared by every run on this machine (or volume) "
            "against the same account, so two jobs with different state IDs do not each "
            "assume the whole daily quota."
        ),
        examples=("true", "false", "1", "0"),
    )
    budget_ledger_path: str | None = setting(
        title="Budget ledger file",
        description=(
            "Where the shared budget ledger lives (default: tap-knowbe4/budget-ledger.json "
            "under the user's cache directory, $XDG_CACHE_HOME or ~/.cache). Point containers "
            "of the same account at one shared path."
        ),
        examples=("/shared/tap-knowbe4/budget-ledger.json",),
    )
    ca_bundle: str | None = setting(
        title="CA bundle",
        description=(
            "Path to a PEM file of certificate authorities to trust, for a corporate proxy "
            "that re-signs TLS. Certificates are always verified; there is no way to turn "
            "verification off."
        ),
        check=_ca_bundle,
    )
    user_agent: str = setting(
        default=DEFAULT_USER_AGENT,
        title="User-Agent",
        description="User-Agent header sent with every request.",
        examples=("acme-data-platform/1.0",),
        check=_user_agent,
    )
    account_label: str | None = setting(
        title="Account label",
        description=(
            "A short name for this account (acme, emea-subsidiary) that starts every line the "
            "tap logs and heads its run summary, so the logs of a fleet of accounts say which "
            "is which. Letters, digits and . _ - @ only, up to 40 (a key is longer, so a "
            "label is never one)."
        ),
        examples=("acme", "emea-subsidiary"),
        check=_account_label,
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
    def declared(cls) -> list[tuple[str, Declaration]]:
        """Every setting's name and declaration (with its name and type), in order."""
        return list(_DECLARED.items())

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Settings:
        """Parse and check ``config``; raise :class:`ConfigError` with one clear line."""
        values = {name: decl.parse(config.get(name)) for name, decl in cls.declared()}
        settings = cls(**values)
        _ = settings.base_url  # checks api_url against the region rules
        return settings

    @classmethod
    def defaults(cls) -> Settings:
        """Settings for a tap built without config (discovery, ``--about``)."""
        return cls.from_config({"api_key": "discovery-only"})


def _declarations() -> dict[str, Declaration]:
    """Each field's declaration, completed with the field's name and annotated type."""
    hints = t.get_type_hints(Settings)
    found = {}
    for field in dataclasses.fields(Settings):
        kinds = [k for k in t.get_args(hints[field.name]) or (hints[field.name],) if k is not None]
        kinds = [k for k in kinds if k is not type(None)]
        found[field.name] = dataclasses.replace(
            field.metadata["setting"], name=field.name, type=kinds[0]
        )
    return found


_DECLARED = _declarations()


def config_schema() -> dict[str, t.Any]:
    """The settings as the JSON schema the SDK validates and ``--about`` prints."""
    properties = []
    for name, decl in Settings.declared():
        kwargs: dict[str, t.Any] = {
            "required": decl.required,
            "secret": decl.secret,
            "title": decl.title,
            "description": decl.description,
        }
        if decl.default is not None and not decl.required:
            kwargs["default"] = decl.default
        if decl.allowed:
            kwargs["allowed_values"] = list(decl.allowed)
        if decl.examples:
            kwargs["examples"] = decl.schema_examples()
        properties.append(th.Property(name, decl.schema_type(), **kwargs))
    return th.PropertiesList(*properties).to_dict()


CONFIG_SCHEMA = config_schema()


def normalize_text_values(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Settings given as text (environment, Meltano strings) converted to their types.

    Only numbers and booleans are converted (text settings stay as given, for the SDK's
    schema check); unknown names pass through unchanged (the SDK's own settings). A value
    that cannot be read raises :class:`ConfigError` naming the setting, never echoing a
    secret.
    """
    result = dict(config)
    for name, value in config.items():
        decl = _DECLARED.get(name)
        if decl is None or not isinstance(value, str) or decl.type not in (int, float, bool):
            continue
        try:
            result[name] = decl.parse(value)
        except ConfigError:
            if decl.secret:
                msg = f"{name} has a value that cannot be read."
                raise ConfigError(msg) from None
            raise
    return result
