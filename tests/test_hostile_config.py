"""Hostile input on the command line: config, environment, state, signals, test and plan modes.

Every case runs ``python -m tap_knowbe4`` as a user would and checks the exit code, that an
error is exactly one line without a traceback, and that the key never appears anywhere.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess

import pytest

from tests.cli import CliRun, clean_env, run_cli, tap_command
from tests.conftest import sandbox, tap_config
from tests.hostile_server import HostileServer, json_answer
from tests.singer_output import catalog_selecting, state_of

pytestmark = pytest.mark.slow  # `make test-fast` leaves this module out

KEY = "kb4-ZX81-distinctive-secret-7f3a9c"


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert KEY[:8] not in text


def _refusing_server():
    """A server that records requests and answers nothing useful (none should arrive)."""
    return HostileServer(lambda request: json_answer({"message": "Not Found"}, 404))


# -- 1: whitespace around the key is never part of it -----------------------------------


@pytest.mark.parametrize("padded", [KEY + "\n", f"  {KEY}\t", f"\n{KEY}\r\n"])
def test_a_key_with_whitespace_works_and_is_never_printed(tmp_path, padded):
    with sandbox(api_key=KEY) as sb:
        config = tap_config(sb, api_key=padded)
        result = run_cli(tmp_path, config, catalog=catalog_selecting(["users"]))
        env_result = run_cli(
            tmp_path,
            None,
            catalog=catalog_selecting(["users"]),
            env=clean_env(
                TAP_KNOWBE4_API_KEY=padded,
                TAP_KNOWBE4_API_URL=sb.base_url,
                TAP_KNOWBE4_REQUESTS_PER_SECOND="0",
                TAP_KNOWBE4_REQUESTS_PER_MINUTE="0",
                TAP_KNOWBE4_BUDGET_LEDGER="false",
            ),
        )
    for run in (result, env_result):
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.records("users")
        _no_secret(run.stdout, run.stderr)


@pytest.mark.parametrize(
    "key", [KEY + "\u00e9", "kb4 with space", "kb4-\x00-nul", KEY + "\u0085x"], ids=repr
)
def test_a_key_no_header_can_carry_is_refused_in_one_line(tmp_path, key):
    with _refusing_server() as server:
        result = run_cli(tmp_path, {"api_key": key, "api_url": server.url})
        assert not server.requests
    line = result.assert_one_clear_line()
    assert "api_key" in line
    _no_secret(result.stdout, result.stderr)


# -- 2: api_url read with the parser requests uses --------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example:8000\\@127.0.0.1:{port}",
        "http://user:hunter2@127.0.0.1:{port}",
        "http://127.0.0.1:{port}/?token=x",
        "http://127.0.0.1:{port}/#frag",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:abc",
        "http://localhost.evil.example:{port}",
        "http://127.0.0.1:{port} /x",
        "ftp://127.0.0.1:{port}",
    ],
)
def test_api_urls_that_could_send_the_key_elsewhere_are_refused(tmp_path, url):
    with _refusing_server() as server:
        port = server.url.rsplit(":", 1)[1]
        result = run_cli(tmp_path, {"api_key": KEY, "api_url": url.format(port=port)})
        assert not server.requests
    line = result.assert_one_clear_line()
    assert "api_url" in line
    assert "hunter2" not in line  # userinfo is never echoed
    _no_secret(result.stdout, result.stderr)


# -- 11, 15, 18: settings as text, out of range, from the environment ---------------------


@pytest.mark.parametrize(
    ("env", "mentions"),
    [
        ({"TAP_KNOWBE4_PAGE_SIZE": "abc"}, "page_size"),
        ({"TAP_KNOWBE4_PST_LOOKBACK_DAYS": "99999999999"}, "pst_lookback_days"),
        ({"TAP_KNOWBE4_REQUESTS_PER_SECOND": "fast"}, "requests_per_second"),
        ({"TAP_KNOWBE4_FAIL_WHEN_BUDGET_EXHAUSTED": "maybe"}, "fail_when_budget_exhausted"),
        ({"TAP_KNOWBE4_FLATTENING_MAX_DEPTH": "deep"}, "TAP_KNOWBE4"),
        # the SDK reads any word but true/1/yes/on as false, silently
        ({"TAP_KNOWBE4_FLATTENING_ENABLED": "tru"}, "TAP_KNOWBE4_FLATTENING_ENABLED"),
    ],
)
def test_bad_settings_from_the_environment_are_one_line(tmp_path, env, mentions):
    result = run_cli(tmp_path, None, env=clean_env(TAP_KNOWBE4_API_KEY=KEY, **env))
    assert mentions in result.assert_one_clear_line()
    _no_secret(result.stdout, result.stderr)


def test_numbers_and_fractions_from_the_environment_work(tmp_path):
    with sandbox(api_key=KEY) as sb:
        env = clean_env(
            TAP_KNOWBE4_API_KEY=KEY,
            TAP_KNOWBE4_API_URL=sb.base_url,
            TAP_KNOWBE4_REQUESTS_PER_SECOND="20.5",
            TAP_KNOWBE4_REQUESTS_PER_MINUTE="600",
            TAP_KNOWBE4_PAGE_SIZE="500",
            TAP_KNOWBE4_BUDGET_LEDGER="false",
        )
        result = run_cli(tmp_path, None, catalog=catalog_selecting(["users"]), env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.records("users")


@pytest.mark.parametrize(
    "config",
    [
        {"api_key": KEY, "page_size": "500", "requests_per_second": "0.5", "max_retries": "3"},
        {"api_key": KEY, "requests_per_second": 0.5, "fail_when_budget_exhausted": "true"},
    ],
)
def test_numbers_stored_as_text_by_a_meltano_project_are_read(tmp_path, config):
    with sandbox(api_key=KEY) as sb:
        config = {**config, "api_url": sb.base_url, "budget_ledger": False}
        result = run_cli(tmp_path, config, "--discover")
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("{not json", "config"),
        ("[1, 2]", "config"),
        ('{"api_key": "' + KEY + '", "pst_lookback_days": 99999999999}', "pst_lookback_days"),
        ('{"api_key": "' + KEY + '", "request_timeout_seconds": "Infinity"}', "request_timeout"),
    ],
)
def test_a_malformed_config_file_is_one_line(tmp_path, text, mentions):
    result = run_cli(tmp_path, text)
    assert mentions in result.assert_one_clear_line()
    _no_secret(result.stdout, result.stderr)


@pytest.mark.parametrize(
    "state",
    [
        "{not json",
        "[]",
        '{"tap_knowbe4": "nonsense"}',
        '{"tap_knowbe4": {"version": 3, "account": ACCOUNT, "budget": {"window_start": '
        '"9999-12-31T00:00:00Z", "used": -5}, "interrupted": {"streams_done": "users"}, '
        '"streams": []}}',
        '{"tap_knowbe4": {"version": 3, "account": ACCOUNT, "budget": {"window_start": 17, '
        '"used": "many"}, "streams": {"group_risk_score_history": {"dates": {"9999-12-31": '
        '"1-99999999999"}}}}}',
        '{"request_budget": {"window_start": "9999-01-01T00:00:00Z", "used": 10},'
        ' "sync_progress": {"streams_done": ["groups"], "parents_done_through": {"x": "y"}}}',
        '{"bookmarks": "nope"}',
        '{"bookmarks": {"users": 5, "groups": {"settled": {"1": "x"}}}}',
    ],
)
def test_a_malformed_or_implausible_state_is_repaired_or_ignored(tmp_path, state):
    with sandbox(api_key=KEY) as sb:
        config = tap_config(sb, budget_ledger=False)
        account = json.dumps(state_of(config)["tap_knowbe4"]["account"])
        state = state.replace("ACCOUNT", account)  # the state of this account, malformed
        result = run_cli(tmp_path, config, state=state, catalog=catalog_selecting(["users"]))
        expected = len(sb.org.users())
    if state.startswith("{not"):
        assert "state" in result.assert_one_clear_line()
        return
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(result.records("users")) == expected  # nothing skipped on the state's word
    budget = result.final_state["tap_knowbe4"]["budget"]
    assert budget["window_start"] < "9999"
    assert budget["used"] >= 0


# -- 7 (issue 18): the key pasted into another setting is never echoed ------------------


@pytest.mark.parametrize("setting", ["region", "pagination", "group_members_source", "ca_bundle"])
@pytest.mark.parametrize("arrival", ["config file", "environment"])
def test_the_key_pasted_into_a_text_setting_is_not_echoed(tmp_path, setting, arrival):
    """``{"api_key": "eu", "region": "<token>"}``: the line names the setting, not the token."""
    with _refusing_server() as server:
        config = {"api_key": "eu", "api_url": server.url}
        env = clean_env()
        if arrival == "config file":
            config[setting] = KEY
        else:
            env["TAP_KNOWBE4_" + setting.upper()] = KEY
        result = run_cli(tmp_path, config, "--config", "ENV", env=env)
        assert not server.requests
    line = result.assert_one_clear_line(code=1)
    assert setting in line
    _no_secret(result.stdout, result.stderr)


#: Settings whose text leaves the log (SIM-5): file names, a request header, record values.
#: ``{key}`` stands for the key.
KEY_CARRIERS = {
    "ledger-file": ("budget_ledger_path", "{key}"),
    "ledger-dir": ("budget_ledger_path", "ledgers/{key}/count.json"),
    "user-agent": ("user_agent", "{key}"),
    "batch-root": (
        "batch_config",
        {"encoding": {"format": "jsonl"}, "storage": {"root": "file://batches/{key}"}},
    ),
    "stream-map": ("stream_maps", {"users": {"email": "'{key}'"}}),
}


@pytest.mark.parametrize("case", list(KEY_CARRIERS))
def test_the_key_pasted_into_a_setting_that_leaves_the_log_is_refused(tmp_path, case):
    """SIM-5: ``budget_ledger_path: <key>`` was accepted: the run exited 0 and left
    ``./<key>`` and ``./<key>.lock`` in the working directory (masking keeps it out of the
    log, not out of a file listing, a request header or a record)."""
    setting, value = KEY_CARRIERS[case]
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    with sandbox(api_key=KEY) as sb:
        config = tap_config(sb)
        config[setting] = json.loads(json.dumps(value).replace("{key}", KEY))
        command = tap_command(tmp_path, config, catalog=catalog_selecting(["users"]))
        ended = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=workdir,
            timeout=120,
        )
        requests = sb.stats()["requests"]
    result = CliRun(ended.returncode, ended.stdout, ended.stderr)
    line = result.assert_one_clear_line(code=1)
    assert setting in line
    assert "api_key" in line
    assert requests == 0
    _no_secret(result.stdout, result.stderr)
    named = [p for p in tmp_path.rglob("*") if KEY[:8] in p.name]
    assert not named, named


# -- 16: a signal stops the run; the state is written; the exit says so ------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_sync_writes_the_state_and_exits_non_zero(tmp_path, sig):
    with sandbox(api_key=KEY, latency_ms=30) as sb:
        config = tap_config(sb, budget_ledger=False)
        command = tap_command(tmp_path, config, catalog=catalog_selecting())
        with (tmp_path / "stderr").open("w") as log:
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True, env=clean_env()
            )
            assert proc.stdout is not None
            # The first RECORD means the API has answered (a run's state is its own only then:
            # a run under a rejected key writes none) and the handlers are in place: a fixed
            # sleep raced with a slow start on a busy machine.
            with proc.stdout:
                stdout = ""
                for line in proc.stdout:
                    stdout += line
                    if '"RECORD"' in line:
                        break
                proc.send_signal(sig)
                stdout += proc.stdout.read()
            proc.wait(timeout=60)
        stderr = (tmp_path / "stderr").read_text()
    assert '"RECORD"' in stdout, stderr[-2000:]
    assert proc.returncode == 128 + sig, stderr[-2000:]
    assert "Traceback" not in stderr
    states = [json.loads(line)["value"] for line in stdout.splitlines() if '"STATE"' in line]
    assert states[-1]["tap_knowbe4"]["interrupted"] is not None  # resumable
    assert '"ACTIVATE_VERSION"' not in stdout or "complete" in stderr
    _no_secret(stdout, stderr)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_before_the_api_answers_hands_the_given_state_back(tmp_path, sig):
    # Nothing was read, so nothing of the run's own is known: the state it was given comes
    # back unchanged (here a previous run's, under another key's fingerprint, which a STATE of
    # this run's own would displace in Meltano's store), and the exit says it was stopped.
    given = {"tap_knowbe4": {"version": 3, "account": "api.eu.knowbe4.com|0123456789abcdef"}}
    with sandbox(api_key=KEY, latency_ms=3000) as sb:
        config = tap_config(sb, budget_ledger=False)
        command = tap_command(tmp_path, config, state=given, catalog=catalog_selecting())
        with (tmp_path / "stderr").open("w") as log:
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True, env=clean_env()
            )
            assert proc.stdout is not None
            with proc.stdout:
                stdout = proc.stdout.readline()  # the sync has begun; its first request waits
                proc.send_signal(sig)
                stdout += proc.stdout.read()
            proc.wait(timeout=60)
        stderr = (tmp_path / "stderr").read_text()
    assert '"RECORD"' not in stdout
    assert proc.returncode == 128 + sig, stderr[-2000:]
    assert "Traceback" not in stderr
    states = [json.loads(line)["value"] for line in stdout.splitlines() if '"STATE"' in line]
    assert states, stdout  # the interrupted run says where it stands: where it was given
    assert [s.get("tap_knowbe4") for s in states] == [given["tap_knowbe4"]] * len(states)
    _no_secret(stdout, stderr)


def test_a_target_that_stops_reading_is_one_line(tmp_path):
    # The pipe breaks while a stream is syncing (not at the end of the run): the SDK
    # then logs its own ERROR line per stream, which the tap demotes: one line, not three.
    with sandbox(api_key=KEY, users=300) as sb:
        config = tap_config(sb, budget_ledger=False)
        command = tap_command(tmp_path, config, catalog=catalog_selecting())
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        for line in proc.stdout:  # a target that reads into the groups stream, then dies
            if _is_record_of(line, "groups"):
                break
        proc.stdout.close()
        with proc.stderr:
            stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 1
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    errors = [line for line in stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1
    assert "The target stopped reading" in errors[0]
    _no_secret(stderr)


def _is_record_of(line: str, stream: str) -> bool:
    message = json.loads(line)
    return bool(message.get("type") == "RECORD" and message.get("stream") == stream)


# -- 17: start_date is an instant --------------------------------------------------------


def test_start_date_with_an_offset_is_compared_as_an_instant():
    from tests.hostile_server import hostile_config  # noqa: PLC0415
    from tests.singer_output import run_tap  # noqa: PLC0415

    tests = [
        {"pst_id": 1, "status": "Closed", "started_at": "2026-01-01T06:00:00.000Z"},
        {"pst_id": 2, "status": "Closed", "started_at": "2026-01-01T05:59:59.000Z"},
    ]
    with HostileServer(lambda request: json_answer(tests)) as server:
        # 2026-01-01T20:00+14:00 is 2026-01-01T06:00Z: test 1 started at that very instant
        config = hostile_config(server, start_date="2026-01-01T20:00:00+14:00", page_size=500)
        run = run_tap(config, streams=["phishing_security_tests"])
    assert [t["pst_id"] for t in run.records("phishing_security_tests")] == [1]


# -- 20: --test fails like a sync -------------------------------------------------------


@pytest.mark.parametrize("quirk", [False, True], ids=["401", "200-invalid-token"])
def test_test_mode_with_a_rejected_key_fails_in_one_line(tmp_path, quirk):
    with sandbox(api_key=KEY, invalid_token_200=quirk) as sb:
        result = run_cli(tmp_path, tap_config(sb, api_key="not-the-key"), "--test")
    assert "rejected" in result.assert_one_clear_line(code=1)


def test_test_mode_with_a_good_key_logs_no_error(tmp_path):
    with sandbox(api_key=KEY) as sb:
        result = run_cli(tmp_path, tap_config(sb), "--test")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not result.error_lines, result.error_lines
    assert {m["stream"] for m in result.messages if m["type"] == "RECORD"} >= {"users", "groups"}
    _no_secret(result.stdout, result.stderr)


# -- 21: --plan's requests are counted ----------------------------------------------------


def test_plan_requests_are_counted_in_the_shared_budget(tmp_path):
    with sandbox(api_key=KEY) as sb:
        env = clean_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
        config = tap_config(sb)
        plan = run_cli(tmp_path, config, "--plan", env=env)
        planned = sb.stats()["requests"]
        sync = run_cli(tmp_path, config, catalog=catalog_selecting(["account"]), env=env)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert planned > 0
    assert sync.final_state["tap_knowbe4"]["budget"]["used"] == planned + 1


# -- 6 (issue 18): an interrupted plan is no plan -------------------------------------------


def test_a_plan_cut_short_by_a_signal_prints_nothing_and_fails(tmp_path):
    with sandbox(api_key=KEY, latency_ms=200) as sb:
        command = tap_command(tmp_path, tap_config(sb, budget_ledger=False))
        with (tmp_path / "stderr").open("w") as log:
            proc = subprocess.Popen(
                [*command, "--plan"], stdout=subprocess.PIPE, stderr=log, env=clean_env()
            )
            while sb.stats()["requests"] < 2:  # the plan is being made
                assert proc.poll() is None, "the plan ended before the signal"
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.05)
            proc.send_signal(signal.SIGTERM)
            stdout, _ = proc.communicate(timeout=60)
    result = CliRun(proc.returncode, stdout.decode(), (tmp_path / "stderr").read_text())
    line = result.assert_one_clear_line(code=128 + signal.SIGTERM)
    assert "plan is incomplete" in line
    assert result.stdout == ""  # no partial plan, no "the sync fits"


def test_a_plan_the_run_cap_cuts_short_prints_nothing_and_fails(tmp_path):
    with sandbox(api_key=KEY) as sb:
        result = run_cli(tmp_path, tap_config(sb, max_requests_per_run=2), "--plan")
    line = result.assert_one_clear_line(code=1)
    assert "No plan" in line
    assert "max_requests_per_run" in line
    assert result.stdout == ""


# -- SIM-4: a stream map the SDK refuses is a setting, not a bug ----------------------------


@pytest.mark.parametrize(
    ("maps", "selected", "says"),
    [
        ({"users": {"__filter__": "True"}}, ["groups"], "users is not selected"),
        ({"users": {"x": "1 +"}}, ["users"], "Failed to parse expression"),
        ({"users": {"__key_properties__": ["nope"]}}, ["users"], "Invalid key properties"),
    ],
    ids=["map-of-an-unselected-stream", "unparsable-expression", "unknown-key-property"],
)
def test_a_stream_map_the_sdk_refuses_is_one_configuration_line(tmp_path, maps, selected, says):
    with _refusing_server() as server:
        config = {"api_key": KEY, "api_url": server.url, "stream_maps": maps}
        result = run_cli(tmp_path, config, catalog=catalog_selecting(selected))
        assert not server.requests
    line = result.assert_one_clear_line(code=1)
    assert "Invalid configuration: stream_maps: " in line
    assert says in line
    assert "please report" not in line
