"""A key pasted into the wrong setting is never echoed (issue 18, defect 7).

Property: for every setting (the tap's and the SDK's), whichever way the value arrives (a
config file, text as Meltano writes it, a ``TAP_KNOWBE4_*`` variable), a token that is not
one of the setting's allowed values appears in no line the tap logs or fails with, nor in a
library's exception text that reaches the log. The real command line is driven for the
settings the defect named in ``test_hostile_config.py``.
"""

from __future__ import annotations

import json
import logging
import re
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_knowbe4 import redact
from tap_knowbe4.tap import TapKnowBe4

pytestmark = pytest.mark.slow  # hundreds of taps built: `make test`, not `make test-fast`


def _every_setting() -> dict[str, dict]:
    """Every setting's schema, the SDK's own settings included."""
    schema: dict = {"properties": dict(TapKnowBe4.config_jsonschema["properties"])}
    TapKnowBe4.append_builtin_config(schema)
    return schema["properties"]


SCHEMA = _every_setting()
#: Every setting but the key itself.
SETTINGS = sorted(name for name in SCHEMA if name != "api_key")

#: How a value reaches the tap: as written in a config file, as text (Meltano, a ``.env``),
#: from the environment.
ARRIVALS = ("config", "text", "environment")

#: Tokens shaped like Reporting API keys (JWT-like), optionally padded as pasted.
TOKENS = st.builds(
    lambda head, body, pad: pad + "eyJ" + head + "." + body + pad,
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=12),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=8),
    st.sampled_from(["", " ", "\n"]),
)


@pytest.fixture(autouse=True)
def _forget_registered_values() -> t.Iterator[None]:
    """Values masked by one case do not slow every later redaction in the process."""
    before = redact.CONFIG_TEXT.secrets
    yield
    redact.CONFIG_TEXT.reset(before)


def _values(name: str, token: str) -> list[object]:
    """The token as the setting's value; also inside an object or a list where it takes one."""
    kinds = json.dumps(SCHEMA[name].get("type", ""))
    nested: list[object] = [{"users": {"field": token}}, {token: "x"}] if "object" in kinds else []
    return [token, *nested, *([[token]] if "array" in kinds else [])]


def _build(
    name: str, value: object, arrival: str, monkeypatch: pytest.MonkeyPatch, key: str = "eu"
) -> str:
    """Build the tap as the CLI would; the failure line, or "" when it was built."""
    config: dict[str, object] = {"api_key": key, "budget_ledger": False}
    env = False
    if arrival == "config":
        config[name] = value
    elif arrival == "text":
        config[name] = value if isinstance(value, str) else json.dumps(value)
    else:
        text = value if isinstance(value, str) else json.dumps(value)
        monkeypatch.setenv("TAP_KNOWBE4_" + name.upper(), text)
        env = True
    try:
        TapKnowBe4(config=config, parse_env_config=env, validate_config=True)
    except Exception as exc:
        return TapKnowBe4.failure_line(exc)[0]
    finally:
        monkeypatch.delenv("TAP_KNOWBE4_" + name.upper(), raising=False)
    return ""


@pytest.mark.parametrize("arrival", ARRIVALS)
@pytest.mark.parametrize("name", SETTINGS)
@settings(
    max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=TOKENS)
def test_a_token_in_any_setting_is_never_echoed(name, arrival, token, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    core = token.strip()
    for value in _values(name, token):
        caplog.clear()
        line = _build(name, value, arrival, monkeypatch)
        printed = line + "\n" + caplog.text
        assert core not in printed, (name, arrival, value, printed[-2000:])
        if not line:  # built: whatever prints the value later (a library's exception
            # text, a warning) masks it too
            assert core not in redact.scrub(f"boom: {value!r} / {value}")


@pytest.mark.parametrize("arrival", ARRIVALS)
@pytest.mark.parametrize("name", SETTINGS)
@settings(
    max_examples=1, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=TOKENS)
def test_the_key_itself_in_any_other_setting_is_refused(name, arrival, token, monkeypatch):
    """SIM-5's class: masked in the log is not enough where a value names a file, travels in
    a header or lands in a record; the key in any other setting, alone or inside its text,
    is refused in one line naming the setting."""
    core = token.strip()
    for value in [*_values(name, token), f"/var/cache/{core}/ledger"]:
        line = _build(name, value, arrival, monkeypatch, key=token)
        assert line, (name, arrival, value)
        assert core not in line
        if arrival != "environment":  # a variable may be unreadable as its type first
            assert re.search(rf"\b{name}(\.\w+)* holds the api_key", line), line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("region", "eu.knowbe4.com"),
        ("pagination", "cursor"),
        ("group_members_source", "endpoint"),
        ("api_url", "https://eu.api.knowbe4.com"),
        ("start_date", "2024-01-31"),
    ],
)
def test_allowed_values_are_still_printed(name, value):
    """A setting's allowed values are not masked (messages may name them)."""
    TapKnowBe4(config={"api_key": "eu-key-for-allowed", name: value, "budget_ledger": False})
    assert redact.scrub(f"{name} is {value}") == f"{name} is {value}"
