"""The Singer SDK's standard tap tests, against a sandbox on loopback."""

from __future__ import annotations

import atexit
import contextlib

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_knowbe4.tap import TapKnowBe4
from tests.conftest import sandbox, tap_config
from tests.singer_output import catalog_selecting

#: Two hundred tests of the SDK's (every stream, a sandbox started at import): `make test`, not
#: `make test-fast` (the quick loop's largest module by CPU).
pytestmark = pytest.mark.slow

# The SDK builds its test class from a config at import time, so the sandbox it talks to
# starts here and stops when the test process exits.
_stack = contextlib.ExitStack()
_sandbox = _stack.enter_context(sandbox())
atexit.register(_stack.close)

TestTapKnowBe4 = get_tap_test_class(
    tap_class=TapKnowBe4,
    config=tap_config(_sandbox),
    catalog=catalog_selecting(),  # every stream, the opt-in one too
    suite_config=SuiteConfig(max_records_limit=50),
    parse_env_config=False,
)
