"""A full sync emits exactly the sandbox's ground truth, in every pagination style."""

from __future__ import annotations

import pytest

from tap_knowbe4.tap import TapKnowBe4
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records, minimum_requests
from tests.singer_output import ALL_STREAMS, PRIMARY_KEYS, check_singer, run_tap

KEYS = PRIMARY_KEYS


def test_streams_and_primary_keys_are_the_fixed_ones():
    tap = TapKnowBe4(config={}, validate_config=False)
    assert {name: tuple(s.primary_keys) for name, s in tap.streams.items()} == PRIMARY_KEYS


def assert_matches_ground_truth(run, org, streams=ALL_STREAMS) -> None:
    """Same count, same key set and the same fields, stream by stream."""
    assert run.error is None, run.error
    check_singer(run)
    for stream in streams:
        keys = KEYS[stream]
        expected = {tuple(r[k] for k in keys): r for r in expected_records(org, stream)}
        emitted = {tuple(r[k] for k in keys): r for r in run.records(stream)}
        assert len(run.records(stream)) == len(expected), stream
        assert emitted.keys() == expected.keys(), stream
        for key, record in expected.items():
            assert emitted[key] == record, f"{stream} {key}"


# (sandbox pagination, cursor style, tap pagination)
MODES = [
    pytest.param("both", "header", "auto", id="auto-vs-cursor-header"),
    pytest.param("both", "envelope", "auto", id="auto-vs-cursor-envelope"),
    pytest.param("page", "header", "auto", id="auto-vs-page-only"),
    pytest.param("cursor", "header", "auto", id="auto-vs-page-ignored"),
    pytest.param("both", "header", "page", id="page-vs-both"),
    pytest.param("cursor", "envelope", "cursor", id="cursor-vs-cursor-envelope"),
]


@pytest.mark.parametrize(("server_paging", "cursor_style", "tap_paging"), MODES)
def test_full_sync_is_exact_and_minimal(server_paging, cursor_style, tap_paging):
    with sandbox(pagination=server_paging, cursor_style=cursor_style) as sb:
        config = tap_config(sb, pagination=tap_paging)
        run = run_tap(config)
        assert_matches_ground_truth(run, sb.org)
        uses_cursor = tap_paging != "page" and server_paging != "page"
        expected = minimum_requests(sb.org, ALL_STREAMS, config["page_size"], cursor=uses_cursor)
        assert sb.stats()["requests"] == expected


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
    assert sent == minimum_requests(sb.org, [sized_by], page_size, cursor=tap_paging == "auto")


def test_a_server_that_ignores_page_stops_without_duplicates(caplog):
    # The sandbox in cursor mode ignores 'page', as the API will once page is retired.
    with sandbox(pagination="cursor") as sb:
        run = run_tap(tap_config(sb, pagination="page"), streams=["users"])
        check_singer(run)  # no duplicate keys
        assert len(run.records("users")) == 25  # the first page, once
        assert sb.stats()["requests"] == 2  # page 1, then the repeat that stopped it
        assert "same page twice" in caplog.text


DRIFT = ("nested-content", "landing-page-hyphen", "risk-timestamp-dates", "by-id-array")


def test_documented_drift_gives_the_current_shapes():
    """Legacy shapes from the docs (reference §7 and §8) load as today's records."""
    with sandbox() as plain:
        canonical = {s: expected_records(plain.org, s) for s in ALL_STREAMS}
    with sandbox(quirks=DRIFT) as sb:
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
    with sandbox(pagination="page") as sb:
        run = run_tap(tap_config(sb, pagination="cursor"), streams=["users"])
        assert "without a next cursor" in str(run.error)
        check_singer(run)


def test_schema_is_sent_once_per_stream(shared_sandbox):
    run = run_tap(tap_config(shared_sandbox))
    schemas = [m["stream"] for m in run.messages if m["type"] == "SCHEMA"]
    assert sorted(schemas) == sorted(set(schemas)) == sorted(ALL_STREAMS)
