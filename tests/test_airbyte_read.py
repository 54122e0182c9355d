"""source-knowbe4 read: the tap's records, state and guarantees, spoken in Airbyte's protocol.

Every test drives the source in-process over real HTTP against the sandbox, as the Singer
tests drive the tap, and checks its output against the sandbox's ground truth.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tap_knowbe4.streams import endpoints
from tests.airbyte_output import AirbyteRun, Source, configured_catalog, run_source, write
from tests.cli import clean_env, run_cli
from tests.conftest import sandbox, tap_config
from tests.ground_truth import expected_records
from tests.singer_output import ALL_STREAMS, PRIMARY_KEYS
from tests.test_incremental import incremental_minimum

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

INCREMENTAL = {e.name for e in endpoints() if e.incremental}


def keyed(stream: str, rows: list[dict]) -> dict[tuple, dict]:
    return {tuple(r[k] for k in PRIMARY_KEYS[stream]): r for r in rows}


def assert_ground_truth(run: AirbyteRun, org, streams=ALL_STREAMS) -> None:
    """Every stream emitted exactly the sandbox's records."""
    for stream in streams:
        expected = keyed(stream, expected_records(org, stream))
        emitted = run.records(stream)
        assert len(emitted) == len(expected), stream
        assert keyed(stream, emitted) == expected, stream


def assert_protocol_order(run: AirbyteRun) -> None:
    """STARTED, then RUNNING before any record, then one final status, per stream;
    each state's record count equals the records of its stream since its previous state."""
    seen: dict[str, list[str]] = {}
    since: dict[str, int] = {}
    for message in run.messages:
        kind = message["type"]
        if kind == "TRACE" and message["trace"]["type"] == "STREAM_STATUS":
            status = message["trace"]["stream_status"]
            seen.setdefault(status["stream_descriptor"]["name"], []).append(status["status"])
        elif kind == "RECORD":
            stream = message["record"]["stream"]
            assert seen.get(stream, [])[-1:] == ["RUNNING"], stream
            since[stream] = since.get(stream, 0) + 1
        elif kind == "STATE":
            state = message["state"]
            stream = state["stream"]["stream_descriptor"]["name"]
            assert state["type"] == "STREAM"
            assert state["sourceStats"]["recordCount"] == since.pop(stream, 0), stream
    for stream, statuses in seen.items():
        assert statuses[0] == "STARTED", stream
        assert statuses[-1] in ("COMPLETE", "INCOMPLETE"), stream
        assert statuses.count(statuses[-1]) == 1, stream
        assert set(statuses[1:-1]) <= {"RUNNING"}, stream
    assert not any(since.values()), f"records after the last state: {since}"


def test_a_full_read_is_the_ground_truth_and_every_stream_complete(tmp_path):
    with sandbox() as sb:
        source = Source(tmp_path, tap_config(sb))
        catalog = configured_catalog(source.discover().catalog)
        run = source.read(catalog)
        assert run.code == 0, run.errors
        assert_ground_truth(run, sb.org)
        assert_protocol_order(run)
        assert run.final_statuses == dict.fromkeys(ALL_STREAMS, "COMPLETE")
        assert not run.errors
        assert {s["stream"]["stream_descriptor"]["name"] for s in run.states} == set(ALL_STREAMS)
        assert sb.api_key not in run.text


def test_a_second_read_with_the_kept_state_sends_only_the_incremental_minimum(tmp_path):
    """The same request count as the Singer path's second run (tests/test_incremental.py)."""
    with sandbox() as sb:
        config = tap_config(sb)
        source = Source(tmp_path, config)
        catalog = configured_catalog(source.discover().catalog)
        first = source.read(catalog)
        assert first.code == 0, first.errors
        first_requests = sb.stats()["requests"]
        sb.reset()
        second = source.read(catalog, first.states)
        assert second.code == 0, second.errors
        assert_protocol_order(second)
        assert sb.stats()["requests"] == incremental_minimum(sb, config["page_size"])
        assert sb.stats()["requests"] < first_requests
        for stream in ("group_risk_score_history", "user_risk_score_history"):
            assert len(second.records(stream)) < len(first.records(stream))
        # a third read from the second's state costs the same: the state round-trips
        sb.reset()
        third = source.read(catalog, second.states)
        assert third.code == 0
        assert sb.stats()["requests"] == incremental_minimum(sb, config["page_size"])


def test_full_refresh_and_cleared_streams_are_read_in_full(tmp_path):
    """An incremental stream configured full_refresh, and one whose state Airbyte cleared,
    emit every record although the state of the others is used."""
    with sandbox() as sb:
        source = Source(tmp_path, tap_config(sb))
        discovered = source.discover().catalog
        first = source.read(configured_catalog(discovered))
        full = "group_risk_score_history"
        cleared = "phishing_security_test_recipients"
        kept = [s for s in first.states if s["stream"]["stream_descriptor"]["name"] != cleared]
        run = source.read(configured_catalog(discovered, full_refresh=[full]), kept)
        assert run.code == 0, run.errors
        assert_ground_truth(run, sb.org, [full, cleared])
        # the user histories still read from their bookmarks
        assert len(run.records("user_risk_score_history")) < len(
            first.records("user_risk_score_history")
        )


def test_a_budget_stop_is_incomplete_and_the_next_read_resumes_without_loss(tmp_path):
    with sandbox() as sb:
        source = Source(tmp_path, tap_config(sb, max_requests_per_run=120))
        catalog = configured_catalog(source.discover().catalog)
        tables: dict[str, dict] = {s: {} for s in ALL_STREAMS}
        states = None
        for attempt in range(10):  # noqa: B007 - counted after the loop
            run = source.read(catalog, states)
            assert_protocol_order(run)
            for stream in ALL_STREAMS:
                tables[stream].update(keyed(stream, run.records(stream)))
            if run.code == 0:
                break
            assert run.code == 1
            (error,) = run.errors
            assert error["failure_type"] == "transient_error"
            assert "max_requests_per_run" in error["message"] or "120" in error["message"]
            incomplete = [s for s, v in run.final_statuses.items() if v == "INCOMPLETE"]
            assert incomplete
            reasons = [
                t["stream_status"].get("reasons")
                for t in run.traces("STREAM_STATUS")
                if t["stream_status"]["status"] == "INCOMPLETE"
            ]
            assert all(r and r[0]["type"] == "RATE_LIMITED" for r in reasons)
            states = run.states
        else:
            pytest.fail("ten reads did not finish the sync")
        assert attempt >= 2
        assert run.final_statuses == dict.fromkeys(ALL_STREAMS, "COMPLETE")
        for stream in ALL_STREAMS:
            assert tables[stream] == keyed(stream, expected_records(sb.org, stream)), stream


def test_a_rejected_key_is_the_singer_line_in_check_and_read(tmp_path):
    with sandbox() as sb:
        config = tap_config(sb, api_key="not-the-sandbox-key-123")
        singer_line = run_cli(tmp_path, config).assert_one_clear_line()
        source = Source(tmp_path, config)
        checked = source.check()
        (status,) = checked.of_type("CONNECTION_STATUS")
        assert status["connectionStatus"]["status"] == "FAILED"
        line = status["connectionStatus"]["message"]
        assert line in singer_line
        read = source.read(configured_catalog(source.discover().catalog))
        assert read.code == 1
        (error,) = read.errors
        assert error["message"] == line
        assert error["failure_type"] == "config_error"
        assert set(read.final_statuses.values()) == {"INCOMPLETE"}
        debug = run_source(
            "read",
            "--debug",
            "--config",
            source.config_path,
            "--catalog",
            str(tmp_path / "catalog.json"),
        )
        assert debug.code == 1
        assert debug.logs("DEBUG"), "--debug logs at DEBUG"
        assert debug.errors[0]["stack_trace"]  # tracebacks at DEBUG, redacted like the log
        for run in (checked, read, debug):
            assert config["api_key"] not in run.text
        good = Source(tmp_path, tap_config(sb)).check()
        assert good.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"


def test_state_that_is_not_ours_is_ignored_with_a_warning(tmp_path):
    with sandbox() as sb:
        source = Source(tmp_path, tap_config(sb))
        catalog = configured_catalog(source.discover().catalog, ["account_risk_score_history"])
        garbage = [
            {"type": "GLOBAL", "global": {"stream_states": []}},
            {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": {"name": "account_risk_score_history"},
                    "stream_state": {"cursor": "2020-01-01"},
                },
            },
            {"type": "STREAM", "stream": "not a stream"},
        ]
        run = source.read(catalog, garbage)
        assert run.code == 0, run.errors
        assert_ground_truth(run, sb.org, ["account_risk_score_history"])
        warnings = " ".join(run.logs("WARN"))
        assert "GLOBAL state is not one this source writes" in warnings
        assert "not one this source wrote" in warnings
        assert "not a state message" in warnings


def test_a_stream_the_key_may_not_read_is_incomplete_and_the_others_complete(tmp_path):
    with sandbox(forbidden_prefixes=("/v1/training/policies",)) as sb:
        source = Source(tmp_path, tap_config(sb))
        run = source.read(configured_catalog(source.discover().catalog))
        assert run.code == 1
        statuses = run.final_statuses
        assert statuses.pop("policies") == "INCOMPLETE"
        assert set(statuses.values()) == {"COMPLETE"}
        (error,) = run.errors
        assert "policies" in error["message"]
        assert_ground_truth(run, sb.org, [s for s in ALL_STREAMS if s != "policies"])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_read_says_so_and_the_next_read_resumes_without_loss(tmp_path, sig):
    """The installed source, stopped in the middle of the recipients fan-out: a signal ends
    it with INCOMPLETE streams, one error TRACE and 128 + signal; after SIGKILL the states
    it wrote still let the next read finish with nothing lost."""
    with sandbox(latency_ms=2) as sb:
        source = Source(tmp_path, tap_config(sb))
        catalog = configured_catalog(source.discover().catalog)
        catalog_path = write(tmp_path / "stopped-catalog.json", catalog)
        exe = Path(sys.executable).parent / "source-knowbe4"
        proc = subprocess.Popen(
            [str(exe), "read", "--config", source.config_path, "--catalog", catalog_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
        )
        lines: list[bytes] = []
        recipients = 0
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                lines.append(line)
                if b'"stream":"phishing_security_test_recipients","data"' in line:
                    recipients += 1
                    if recipients == 60:
                        proc.send_signal(sig)
                        if sig == signal.SIGKILL:
                            break
        proc.wait(timeout=60)
        stopped = AirbyteRun(
            proc.returncode, [json.loads(x) for x in lines], b"".join(lines).decode()
        )
        if sig == signal.SIGKILL:
            assert stopped.code == -signal.SIGKILL
        else:
            assert stopped.code == 128 + sig
            (error,) = stopped.errors
            assert error["message"].startswith(f"Stopped by {signal.Signals(sig).name}")
            assert error["failure_type"] == "transient_error"
            assert stopped.final_statuses["phishing_security_test_recipients"] == "INCOMPLETE"
            assert_protocol_order(stopped)
        resumed = source.read(catalog, stopped.states)
        assert resumed.code == 0, resumed.errors
        for stream in ALL_STREAMS:
            union = keyed(stream, stopped.records(stream))
            union.update(keyed(stream, resumed.records(stream)))
            assert union == keyed(stream, expected_records(sb.org, stream)), stream


def test_the_shared_budget_ledger_counts_reads_of_another_connection(tmp_path):
    """Two Airbyte connections on one account keep separate states, but the budget ledger
    they share on this machine knows what the first spent: the second stops at the daily
    limit, INCOMPLETE, instead of spending the quota twice."""
    streams = ["users", "groups", "training_enrollments"]
    with sandbox() as sb:
        first = Source(tmp_path, tap_config(sb))
        catalog = configured_catalog(first.discover().catalog, streams)
        assert first.read(catalog).code == 0
        spent = sb.stats()["requests"]
        sb.reset()
        second_dir = tmp_path / "second"
        second_dir.mkdir()
        second = Source(second_dir, tap_config(sb, daily_request_limit=spent + 2))
        run = second.read(catalog)  # no state: a new connection
        assert run.code == 1
        assert sb.stats()["requests"] == 2
        (error,) = run.errors
        assert error["failure_type"] == "transient_error"
        assert "INCOMPLETE" in run.final_statuses.values()


def test_a_cap_full_refresh_streams_use_up_is_refused_not_retried(tmp_path):
    """SIM-17 (seed 300008): Airbyte reads a full-refresh stream whole in every sync, so a
    capped sync that moves no incremental stream can never finish: one config_error line
    naming the smallest cap, not a transient error Airbyte retries for ever."""
    with sandbox() as sb:
        source = Source(tmp_path, tap_config(sb, max_requests_per_run=3, page_size=2))
        streams = ["account", "users", "groups"]
        catalog = configured_catalog(source.discover().catalog, streams)
        first = source.read(catalog)
        assert first.code == 1
        (error,) = first.errors
        assert error["failure_type"] == "config_error", error
        assert "is too small for this sync to make progress" in error["message"]
        assert "The smallest cap that can make progress is more than 3" in error["message"]
        # the state changes nothing: the next sync at this cap is the same
        again = source.read(catalog, first.states)
        assert again.code == 1
        assert again.errors[0]["message"] == error["message"]
        # a cap that an incremental stream shares is a budget stop the next sync resumes
        mixed = configured_catalog(source.discover().catalog, ["user_risk_score_history"])
        resumed = source.read(mixed)
        assert resumed.code == 1
        assert resumed.errors[0]["failure_type"] == "transient_error"


def test_sim_18_a_cap_full_refresh_streams_use_up_is_refused_with_fail_when_budget_exhausted(
    tmp_path,
):
    """SIM-18 (seed 570000): with ``fail_when_budget_exhausted`` the cap's stop is
    raised, and the source sent it as the transient 'max_requests_per_run (8) is reached'
    every sync, for ever (the SIM-17 refusal was checked only after a clean stop)."""
    with sandbox() as sb:
        config = tap_config(
            sb, max_requests_per_run=3, page_size=2, fail_when_budget_exhausted=True
        )
        source = Source(tmp_path, config)
        catalog = configured_catalog(source.discover().catalog, ["account", "users", "groups"])
        first = source.read(catalog)
        assert first.code == 1
        (error,) = first.errors
        assert error["failure_type"] == "config_error", error
        assert "The smallest cap that can make progress is more than 3" in error["message"]
        # a cap an incremental stream shares stays a budget stop the next sync resumes
        mixed = configured_catalog(source.discover().catalog, ["user_risk_score_history"])
        resumed = source.read(mixed)
        assert resumed.code == 1
        assert resumed.errors[0]["failure_type"] == "transient_error"


def test_sim_19_a_budget_stop_says_that_pyairbyte_keeps_nothing_from_a_failed_read(tmp_path):
    """SIM-19 (seed 580037): PyAirbyte 0.71.3 loads records and writes states only when the
    source exits 0, so a capped read there keeps nothing and the next starts over, for ever
    (measured: three reads capped at 20 left its cache without a table or a state). The
    budget stop's line promised nothing more than 'max_requests_per_run (120) is reached';
    it now says who resumes it and what a PyAirbyte user must give."""
    with sandbox() as sb:
        for config in (
            tap_config(sb, max_requests_per_run=120),
            tap_config(sb, max_requests_per_run=120, fail_when_budget_exhausted=True),
            tap_config(sb, daily_request_limit=60),
        ):
            source = Source(tmp_path, config)
            catalog = configured_catalog(source.discover().catalog)
            stopped = source.read(catalog)
            assert stopped.code == 1
            (error,) = stopped.errors
            assert error["failure_type"] == "transient_error", error
            assert error["message"].startswith(
                ("max_requests_per_run (120) is reached: ", "the daily request budget (60)")
            ), error
            assert "Airbyte keeps them" in error["message"]
            assert "PyAirbyte keeps nothing from a read that fails" in error["message"]
            assert "tap-knowbe4 --plan" in error["message"]
