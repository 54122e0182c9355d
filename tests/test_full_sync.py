"""A full sync emits exactly the sandbox's ground truth, in every pagination style."""

from __future__ import annotations

import pytest

from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records, minimum_requests
from tests.singer_output import ALL_STREAMS, PRIMARY_KEYS, check_singer, run_tap

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

KEYS = PRIMARY_KEYS


def assert_matches_ground_truth(run, org, streams=ALL_STREAMS) -> None:
    """Same count, same key set and the same fields, stream by stream."""
    assert run.error is None, run.error
    check_singer(run)
    for stream in streams:
        keys = KEYS[stream]
        rows = expected_records(org, stream)
        expected = {tuple(r[k] for k in keys): r for r in rows}  # the last version of a key
        emitted = {tuple(r[k] for k in keys): r for r in run.records(stream)}
        assert len(run.records(stream)) == len(rows), stream
        assert emitted.keys() == expected.keys(), stream
        for key, record in expected.items():
            assert emitted[key] == record, f"{stream} {key}"


RECIPIENTS = "/v1/phishing/security_tests/{pst_id}/recipients"

# (sandbox options, tap settings): every profile, and the paging pairings of the tidy one.
MODES = [
    pytest.param({"profile": "documented"}, {}, id="documented"),
    pytest.param({"profile": "documented"}, {"pagination": "page"}, id="documented-page"),
    pytest.param(
        {"profile": "hostile", "per_page_caps": {"/v1/users": 20, "/v1/groups": 10}},
        {"page_size": 500},
        id="hostile-capped",
    ),
    pytest.param({"profile": "hostile"}, {}, id="hostile"),
    pytest.param({"profile": "tidy"}, {}, id="tidy-auto-vs-cursor-header"),
    pytest.param({"profile": "tidy", "cursor_style": "envelope"}, {}, id="tidy-auto-vs-envelope"),
    pytest.param({"profile": "tidy", "pagination": "page"}, {}, id="tidy-auto-vs-page-only"),
    pytest.param({"profile": "tidy"}, {"pagination": "page"}, id="tidy-page-vs-both"),
    pytest.param(
        {"profile": "tidy", "pagination": "cursor", "cursor_style": "envelope"},
        {"pagination": "cursor"},
        id="tidy-cursor-vs-envelope",
    ),
    # the API as it drifts: cursor-only lists in five places, older and newer fields, keys
    # listed again with other content (issue 19)
    pytest.param({"profile": "drift"}, {}, id="drift"),
    pytest.param({"profile": "drift"}, {"pagination": "cursor"}, id="drift-cursor"),
    pytest.param({"profile": "drift", "cursor_style": "header"}, {}, id="drift-header-only"),
]


@pytest.mark.parametrize(("server", "tap"), MODES)
def test_full_sync_is_exact_and_minimal(server, tap):
    with sandbox(**server) as sb:
        config = tap_config(sb, **tap)
        run = run_tap(config)
        assert_matches_ground_truth(run, sb.org)
        paging = config.get("pagination", "auto")
        expected = minimum_requests(
            sb,
            ALL_STREAMS,
            config["page_size"],
            cursor=paging != "page",
            cursor_only=paging == "cursor",
        )
        assert sb.stats()["requests"] == expected
        assert run.tap is not None
        assert all(r.final.value == "complete" for r in run.tap.run.report.streams.values())


def full_pages(count: int) -> int:
    """A page size that splits ``count`` into at least two full pages (or one)."""
    divisors = [d for d in range(2, count // 2 + 1) if count % d == 0]
    return max(divisors) if divisors else count


@pytest.mark.parametrize("tap_paging", ["page", "auto"])
@pytest.mark.parametrize("sized_by", ["users", "groups", "training_enrollments"])
def test_lists_that_are_exact_multiples_of_the_page_size(shared_sandbox, sized_by, tap_paging):
    sb = shared_sandbox
    count = len(expected_records(sb.org, sized_by))
    page_size = full_pages(count)
    assert count % page_size == 0
    before = sb.stats()["requests"]
    run = run_tap(tap_config(sb, page_size=page_size, pagination=tap_paging), streams=[sized_by])
    assert_matches_ground_truth(run, sb.org, [sized_by])
    sent = sb.stats()["requests"] - before
    assert sent == minimum_requests(sb, [sized_by], page_size, cursor=tap_paging == "auto")


def test_a_server_that_ignores_page_fails_the_listing_without_duplicates(caplog):
    # The tidy sandbox in cursor mode ignores 'page', as the API will once page is retired:
    # page 2 repeats page 1, so the rest of the list cannot be read this way.
    with sandbox(profile="tidy", pagination="cursor") as sb:
        run = run_tap(tap_config(sb, pagination="page"), streams=["users"])
        check_singer(run)  # no duplicate keys
        assert len(run.records("users")) == 25  # the first page, once
        assert sb.stats()["requests"] == 2  # page 1, then the repeat that stopped it
        assert "GET /v1/users answered 25 records (a JSON array" in str(run.error)
        assert "ignores `page` (page 2 repeated page 1)" in caplog.text
        assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


DRIFT = ("nested-content", "landing-page-hyphen", "risk-timestamp-dates", "by-id-array")


def test_documented_drift_gives_the_current_shapes():
    """Legacy shapes from the docs (reference §7 and §8) load as today's records."""
    with sandbox(profile="tidy") as plain:
        canonical = {s: expected_records(plain.org, s) for s in ALL_STREAMS}
    with sandbox(profile="tidy", quirks=DRIFT) as sb:
        run = run_tap(tap_config(sb))
        assert run.error is None
        check_singer(run)
        for stream in ALL_STREAMS:
            keys = KEYS[stream]
            expected = {tuple(r[k] for k in keys): r for r in canonical[stream]}
            emitted = {tuple(r[k] for k in keys): r for r in run.records(stream)}
            assert emitted == expected, stream


def test_trial_account_without_subscription_fields():
    with sandbox(quirks=("trial-account",)) as sb:
        run = run_tap(tap_config(sb), streams=["account"])
        check_singer(run)
        (account,) = run.records("account")
        assert account == sb.org.account()
        assert "number_of_seats" not in account


def test_cursor_mode_against_a_page_only_server_fails_clearly():
    with sandbox(profile="tidy", pagination="page") as sb:
        run = run_tap(tap_config(sb, pagination="cursor"), streams=["users"])
        assert "names no next cursor the tap can read" in str(run.error)
        assert sb.stats()["requests"] == 2  # page 1, then the probe with one record fewer
        check_singer(run)


def test_schema_is_sent_once_per_stream(shared_sandbox):
    run = run_tap(tap_config(shared_sandbox))
    schemas = [m["stream"] for m in run.messages if m["type"] == "SCHEMA"]
    assert sorted(schemas) == sorted(set(schemas)) == sorted(ALL_STREAMS)
