"""The oracle: what must hold after every run, checked against the sandbox's truth.

Definitions
-----------

**The truth** of an account at a clock: every stream's rows as the tests' ground truth
(:mod:`tests.ground_truth`) derives them from the sandbox's organization at that clock, with
the tap's documented conversions. The sandbox's clock moves only where the plan says: between
runs, and at a drawn request of a run (``RunPlan.midrun``).

**The scope** of a run (:class:`Scope`): what its settings and catalog ask for.

* Selected streams: every stream of the catalog not deselected; ``user_risk_score_history``
  only with ``include_user_risk_score_history`` (an opt-in stream is not read otherwise).
  A deselected parent of a selected child is read for its children, not loaded.
* ``start_date``: risk-history points dated before it, phishing tests started before it and
  their recipients are out of scope. Within one pipeline the plan only moves ``start_date``
  later (moving it earlier is documented to have no effect once state exists).
* Stream maps (``plan.MAPS``): a filtered-out row is out of scope of its own stream only: its
  children are still owed (a map shapes its own stream; the tap's seam 12 reads the children of
  every parent record, SIM-12); a dropped property
  is not compared; an aliased stream is loaded under its alias; a map that raises fails its
  stream (nothing of it is owed).
* Flattening: only top-level scalar fields are compared (nested ones change shape).

**Owed rows** after a run: the rows of the run's scope that existed upstream *throughout
the sync cycle the run completed* — at every clock the cycle saw. A cycle starts with a run
handed a state that records no interrupted sync, and goes on through every run resuming an
interrupted one; a row that appeared after a list was read, or vanished before the cycle
ended, is not owed. (Recipients of a test the tap settled in an earlier cycle are owed: they
were loaded then, and the warehouse keeps them.) Nor is, in that cycle, a user that a deletion
between two pages of ``/v1/users`` moved onto the pages a read by page number had already read,
nor its risk history and memberships (the documented limit of page numbers: ``page_shift``).

Invariants
----------

* **never** — after a run that exited 0 and whose output the target read to its end, every
  owed row is in the warehouse: of every selected stream, or, when the run stopped on the
  budget, of every stream the state records as finished. And at any time, an
  ACTIVATE_VERSION never deletes a row that is in scope and existed upstream throughout the
  run.
* **eventually** — after clean runs (no fault, no signal, a normal target, the state
  resumed, the clock still), the warehouse holds every owed row, the rows written by the
  final clean cycle equal the truth, and the cycle completed within a number of runs that
  the cap allows (``runner.clean_runs_allowed``).
* **honest exit** — exit 0 only when every selected stream completed (the final STATE
  records no interrupted sync), or the run stopped on the budget in the documented way
  ("Stopped early: ..." in the log, an interrupted sync in the state, and not with
  ``fail_when_budget_exhausted``). Any other exit is 1, or 143/130 after SIGTERM/SIGINT, and
  comes with exactly one ERROR line and no traceback. (A signal that lands as the interpreter
  exits, once CPython has put the default handlers back, kills the process: -15/-2, which a
  shell reports as 143/130; accepted after that signal once the run had said why it ended: its
  one ERROR line, or its closing summary after a budget stop.)
* **no leak** — the key (as text, upper-cased, base64 or hex) is in no byte of stdout,
  stderr, the states, the budget ledger or the BATCH files.
* **bounded** — every run ends within ``tap_process.RUN_DEADLINE``, and within
  ``tap_process.SIGNAL_BOUND`` of a signal.
* **singer** — the output is Singer a target can apply (JSON lines, SCHEMA before RECORD,
  keys present, BATCH files readable).

An **Airbyte** run (``source-knowbe4 read``, ``RunPlan.protocol``) is judged by the same
invariants in Airbyte's terms: exit 0 only when every configured stream's last status is
COMPLETE (a budget stop is INCOMPLETE there, never exit 0); any other exit comes with
exactly one error TRACE (when the target read the output to its end); an unfinished sync is
what the newest run's stream states record (:func:`airbyte_interrupted`).
"""

from __future__ import annotations

import base64
import dataclasses
import pathlib
import re
import time
import typing as t

from tap_knowbe4.sandbox.times import parse_instant
from tests.simulation.inputs import start_date
from tests.simulation.page_shift import Hidden
from tests.simulation.plan import RISK_STREAMS, STREAMS, aliases, removed_by

if t.TYPE_CHECKING:
    from tests.simulation.plan import RunPlan
    from tests.simulation.tap_process import Exit
    from tests.simulation.warehouse import Warehouse
    from tests.simulation.world import Truth, World

ERROR_LINE = re.compile(r"\| (ERROR|CRITICAL)\s*\|")
STOPPED_EARLY = "Stopped early:"
#: How a run says its cap cannot make progress (issue 18 defect 4: "refuse the cap").
CAP_REFUSED = "is too small for this sync to make progress"
#: The stream a refused cap stopped in, and the smallest cap the tap names.
SMALLEST_CAP = re.compile(r"stopped in (\w+), .* The smallest cap that can make progress is (\d+)")
#: Streams read per parent: resuming inside one reads the parent's page, then its own.
CHILD_STREAMS = frozenset(
    (
        "group_members",
        "group_risk_score_history",
        "user_risk_score_history",
        "phishing_security_test_recipients",
        "callback_phishing_security_test_recipients",
    )
)
#: Callback (voice) phishing (attack 10 #6): always selected (the plans' draws over
#: :data:`STREAMS` stay as seeds froze them), owed and checked like their email siblings.
CALLBACK_STREAMS = (
    "callback_phishing_campaigns",
    "callback_phishing_security_test_recipients",
    "callback_phishing_security_tests",
)
CHECKED = (*STREAMS, *CALLBACK_STREAMS)
SIGNAL_CODES = {"SIGTERM": 143, "SIGINT": 130}
#: The last row of the summary a run prints as it ends.
RUN_SUMMARY = re.compile(r"^total\s+\d", re.MULTILINE)


def _another_version(scope: Scope, truth: Truth, stream: str, key: tuple, loaded: dict) -> bool:
    """True when ``loaded`` is another version the API lists of ``key`` (a repeated key).

    One listing drops a version equal to one it sent before (README), so a single run leaves
    ``truth.rows``' version; a run resumed between the versions cannot know what an earlier
    run sent before its position and sends the versions from there: any listed one is a
    row a target may keep (SIM-15: a list out of key order resumes now).
    """
    for version in truth.versions.get(stream, {}).get(key, ()):
        want = scope.comparable(stream, version)
        if scope.flattening:
            want = {k: v for k, v in want.items() if k in loaded}
        if {k: loaded.get(k, "<absent>") for k in want} == want:
            return True
    return False


#: Streams each profile lists out of key order (the drift profile repeats a key: README).
OUT_OF_ORDER = {
    "drift": frozenset(
        (
            "training_enrollments",
            "account_risk_score_history",
            "group_risk_score_history",
            "user_risk_score_history",
        )
    )
}
#: The lists a refused cap names as out of key order.
OUT_OF_ORDER_REFUSED = re.compile(r"progress: ([\w, ]+?) (?:is|are) listed out of key order")


def honest_order_refusal(text: str, profile: str) -> bool:
    """True when a cap is refused for lists the oracle knows come out of key order.

    Such a list paged by number keeps no position (a record sorted anew before the page a
    run stopped in would be skipped), so it is read whole in one run or never: a cap that
    does not reach its end can never converge, and saying so at once is the honest answer.
    """
    found = OUT_OF_ORDER_REFUSED.search(text)
    if found is None:
        return False
    names = {name.strip() for name in found.group(1).split(",")}
    return bool(names) and names <= OUT_OF_ORDER.get(profile, frozenset())


def honest_refusal(text: str, cap: object) -> bool:
    """True when a refused cap is one the oracle's own arithmetic says cannot get further.

    A list resumes by reading the page it stopped in again as proof (one request), a child
    stream's list by its parent's page, then its own (two); a run gets further only with a
    request left for a new page. The tap must name that smallest cap, and refuse only a cap
    below it; any other refusal of a cap the config allows is no excuse for not converging.
    """
    found = SMALLEST_CAP.search(text)
    if found is None or not isinstance(cap, int) or isinstance(cap, bool):
        return False
    proof = 2 if found.group(1) in CHILD_STREAMS else 1
    return int(found.group(2)) == proof + 1 and cap <= proof


#: An Airbyte cap that full-refresh streams alone used up: the requests it names.
FULL_REFRESH_REFUSED = re.compile(r"whole in every sync, and (\d+) requests moved no incremental")


def honest_full_refresh_refusal(text: str, cap: object) -> bool:
    """True when an Airbyte source refuses a cap its full-refresh streams used up alone.

    Airbyte reads a full-refresh stream whole in every sync (SIM-17): a capped sync that
    moved no incremental stream is what every sync at that cap will be. The oracle agrees
    when the requests the line names are the whole cap (the run was the cap's, not a fault's).
    """
    found = FULL_REFRESH_REFUSED.search(text)
    if found is None or not isinstance(cap, int) or isinstance(cap, bool):
        return False
    return int(found.group(1)) == cap


@dataclasses.dataclass(frozen=True)
class Violation:
    """One broken invariant."""

    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.invariant}] {self.detail}"


@dataclasses.dataclass
class Scope:
    """What a run's settings and catalog ask for (see the module docstring)."""

    streams: frozenset[str]
    start: int | None
    members_from: str
    maps: str
    flattening: int
    fields_off: dict[str, list[str]]

    @classmethod
    def of(cls, run: RunPlan, world_start: str) -> Scope:
        """The scope of ``run``."""
        config = run.config
        streams = set(CHECKED) - set(run.catalog.get("deselect", ()))
        if not config.get("user_risk"):
            streams.discard("user_risk_score_history")
        if config.get("maps") == "raises":
            streams.discard("policies")
        kept = removed_by(config.get("maps") or "")
        if kept is not None:  # __else__: null: the other streams send nothing, nothing owed
            streams &= kept
        start = start_date(world_start, config.get("start_offset_days"))
        return cls(
            streams=frozenset(streams),
            start=None if start is None else parse_instant(start),
            members_from="endpoint" if config.get("members_endpoint") else "users",
            maps=config.get("maps") or "",
            flattening=int(config.get("flattening") or 0),
            fields_off=dict(run.catalog.get("fields_off", {})),
        )

    def table(self, stream: str) -> str:
        """The warehouse table ``stream`` loads into (its alias, with a stream map)."""
        return aliases(self.maps).get(stream, stream)

    def stream_of(self, table: str) -> str:
        """The stream a warehouse table holds."""
        return {v: k for k, v in aliases(self.maps).items()}.get(table, table)

    def owed(self, truth: Truth, stream: str) -> dict[tuple, dict]:
        """The rows of ``stream`` in this scope at one clock."""
        rows = truth.rows[stream]
        start = self.start
        if stream in RISK_STREAMS and start is not None:
            day = _day(start)
            return {k: r for k, r in rows.items() if str(r.get("date")) >= day}
        if stream.endswith("phishing_security_tests") and start is not None:
            return {k: r for k, r in rows.items() if _started_in(r.get("started_at"), start)}
        if stream.endswith("phishing_security_test_recipients"):
            tests = {
                p for p, when in truth.psts.items() if start is None or _started_in(when, start)
            }
            return {k: r for k, r in rows.items() if k[0] in tests}
        if stream == "users" and self.maps == "active-users":
            return {k: r for k, r in rows.items() if r.get("status") == "active"}
        return rows

    def filtered_out(self, stream: str, row: dict) -> bool:
        """True when the run's stream map filters ``row`` out of ``stream``."""
        return stream == "users" and self.maps == "active-users" and row.get("status") != "active"

    def comparable(self, stream: str, row: dict) -> dict:
        """The part of a truth row that the loaded row must equal."""
        out = dict(row)
        for name in self.fields_off.get(stream, ()):
            out.pop(name, None)
        if self.maps == "drop-comment" and stream == "users":
            out.pop("comment", None)
        if self.flattening:
            out = {k: v for k, v in out.items() if not isinstance(v, (dict, list))}
        return out


def _day(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _started_in(started_at: object, start: int) -> bool:
    if not isinstance(started_at, str):
        return True  # errored tests have no start: kept, as the tap keeps them
    return parse_instant(started_at) >= start


def owed_throughout(
    world: World, tenant: str, clocks: t.Sequence[int], scope: Scope, stream: str
) -> set[tuple]:
    """Keys of ``stream`` in scope at every one of ``clocks``."""
    owed: set[tuple] | None = None
    for clock in sorted(set(clocks)):
        keys = set(scope.owed(world.truth(tenant, clock, scope.members_from), stream))
        owed = keys if owed is None else owed & keys
    return owed or set()


# -- the checks ---------------------------------------------------------------------------


def check_bounded(exit_: Exit) -> list[Violation]:
    """Every run ends within its bounds."""
    return [Violation("bounded", exit_.killed)] if exit_.killed else []


def key_forms(key: str) -> list[bytes]:
    """The key as text, upper-cased, in base64 and in hex."""
    raw = key.encode()
    return [raw, raw.upper(), base64.b64encode(raw).rstrip(b"="), raw.hex().encode()]


def check_no_leak(
    keys: t.Iterable[str],
    exit_: Exit,
    files: t.Iterable[pathlib.Path],
    names: t.Iterable[pathlib.Path] = (),
) -> list[Violation]:
    """No byte of the output, the log, the ledger or a BATCH file holds a key, nor a name."""
    places: list[tuple[str, bytes]] = [("stdout", exit_.stdout), ("stderr", exit_.stderr.encode())]
    for path in files:
        if path.is_file():
            places.append((str(path), path.read_bytes()))
    places += [(f"the file name {path}", str(path).encode()) for path in names]
    found = []
    for key in keys:
        forms = key_forms(key)
        for where, data in places:
            if any(form in data for form in forms):
                found.append(Violation("no-leak", f"the key of {key[:12]}... is in {where}"))
    return found


def error_lines(stderr: str) -> list[str]:
    """Lines logged at ERROR or CRITICAL."""
    return [line for line in stderr.splitlines() if ERROR_LINE.search(line)]


def final_interrupted(exit_: Exit) -> tuple[bool, dict | None]:
    """(was any STATE acknowledged, the interrupted record of the last one)."""
    if not exit_.acked:
        return False, None
    own = exit_.acked[-1].get("tap_knowbe4")
    return True, own.get("interrupted") if isinstance(own, dict) else None


def airbyte_interrupted(states: list[dict]) -> object:
    """Where an unfinished sync stood, from Airbyte's per-stream states (None: finished).

    Only states the newest run wrote say so (each is stamped ``checkpoint: [run start, n]``):
    a stream the newest run did not read keeps the state of an older one.
    """

    def parts(state: dict) -> tuple[int, object]:
        blob = state.get("stream", {}).get("stream_state") or {}
        own = (blob.get("tap_state") or {}).get("tap_knowbe4") or {}
        checkpoint = blob.get("checkpoint") or [0]
        return int(checkpoint[0]), own.get("interrupted")

    found = [parts(x) for x in states if isinstance(x, dict)]
    newest = max((run for run, _ in found), default=0)
    return next((where for run, where in found if run == newest and where is not None), None)


def errors(exit_: Exit) -> list[dict]:
    """An Airbyte run's error TRACE messages."""
    return [x for x in exit_.traces if x.get("type") == "ERROR"]


def final_statuses(exit_: Exit) -> dict[str, str]:
    """An Airbyte run's last status of each stream."""
    found = {}
    for trace in exit_.traces:
        status = trace.get("stream_status") if trace.get("type") == "STREAM_STATUS" else None
        if isinstance(status, dict):
            found[str(status["stream_descriptor"]["name"])] = str(status.get("status"))
    return found


def _expected_codes(exit_: Exit, *, said_why: bool) -> set[int]:
    expected = {1}
    if exit_.signal_sent in SIGNAL_CODES:
        code = SIGNAL_CODES[exit_.signal_sent]
        expected.add(code)
        if said_why:
            # killed by it after saying why it failed: a signal in the last instant of the
            # interpreter's exit, once CPython restored the default handlers (a shell
            # reports this as the same code)
            expected.add(-(code - 128))
    return expected


#: Targets that leave the output unwritable: the source's last line goes to stderr instead.
DEAD_OUTPUT = ("full-disk", "close", "hang")


def check_honest_airbyte(exit_: Exit, target: str = "normal") -> list[Violation]:
    """An Airbyte run: exit 0 only when every stream is COMPLETE; else one error TRACE
    (or, when the output cannot be written, ``target`` in :data:`DEAD_OUTPUT`, none)."""
    found = []
    statuses = final_statuses(exit_)
    if exit_.code == 0:
        incomplete = sorted(s for s, status in statuses.items() if status != "COMPLETE")
        if errors(exit_):
            found.append(Violation("honest-exit", "exit 0 with an error TRACE"))
        if incomplete and exit_.read_to_end:
            found.append(Violation("honest-exit", f"exit 0, yet {incomplete[:3]} not COMPLETE"))
        return found
    if "Traceback" in exit_.text:
        found.append(Violation("honest-exit", f"exit {exit_.code} with a traceback"))
    said = len(errors(exit_))
    if said > 1 or (said == 0 and exit_.read_to_end and target not in DEAD_OUTPUT):
        found.append(Violation("honest-exit", f"exit {exit_.code} with {said} error TRACEs"))
    expected = _expected_codes(exit_, said_why=said == 1)
    found.extend(_unexpected_code(exit_, expected))
    return found


def _unexpected_code(exit_: Exit, expected: set[int]) -> list[Violation]:
    """A violation when the exit code is none of ``expected``."""
    if exit_.code in expected:
        return []
    sent = exit_.signal_sent
    text = f"exit {exit_.code} (signal sent: {sent}); expected one of {sorted(expected)}"
    return [Violation("honest-exit", text)]


def own_state(given: object, exit_: Exit) -> dict | None:
    """The tap's part of the last STATE acknowledged, when the run wrote it (else None).

    A run writes no state of its own until the API vouched for its key (793f0de): stopped
    before any readable page (the quota, the day's budget, a signal), its STATE is the one
    it was given (none if none), handed back: it records nothing this run did.
    """
    if not exit_.acked:
        return None
    written = exit_.acked[-1].get("tap_knowbe4")
    handed = given.get("tap_knowbe4") if isinstance(given, dict) else None
    return written if isinstance(written, dict) and written != handed else None


def check_honest_exit(run: RunPlan, exit_: Exit, given: object = None) -> list[Violation]:
    """Exit 0 only when complete or cleanly stopped on the budget; else one line.

    ``given``: the state the run was given. A run writes no state of its own until the API
    vouched for its key (793f0de): stopped before any readable page (the quota, the day's
    budget), its STATE is the one given (none if none), and it read nothing to resume.
    """
    if exit_.killed or (exit_.signal_sent == "SIGKILL" and exit_.code == -9):
        return []
    if run.protocol == "airbyte":
        return check_honest_airbyte(exit_, str(run.target.get("kind")))
    found = []
    if run.mode == "plan":
        if exit_.code == 0 and exit_.signal_sent:
            return [Violation("honest-exit", f"--plan exited 0 after {exit_.signal_sent}")]
        if exit_.code == 0 and not exit_.stdout.strip():
            return [Violation("honest-exit", "--plan exited 0 without printing a plan")]
        if exit_.code == 0:
            return []
    stopped = STOPPED_EARLY in exit_.stderr
    _, interrupted = final_interrupted(exit_)
    if exit_.code == 0:
        if stopped and run.config.get("fail_on_budget"):
            found.append(Violation("honest-exit", "exit 0 on the budget with fail_on_budget"))
        if not stopped and interrupted is not None and exit_.read_to_end:
            found.append(
                Violation(
                    "honest-exit",
                    "exit 0 without a budget stop, but the final STATE records an "
                    f"interrupted sync {interrupted}",
                )
            )
        own = own_state(given, exit_) is not None  # else: the given state passed through
        if stopped and own and interrupted is None and exit_.read_to_end:
            found.append(
                Violation("honest-exit", "a budget stop whose final STATE records no position")
            )
        if exit_.signal_sent and interrupted is not None:
            found.append(Violation("honest-exit", f"exit 0 after {exit_.signal_sent}"))
        return found
    lines = error_lines(exit_.stderr)
    # killed by the signal after its run had ended (its summary printed): the line it ended
    # with may be "Stopped early" (an exit 0) rather than an ERROR
    ended = exit_.signal_sent in SIGNAL_CODES and RUN_SUMMARY.search(exit_.stderr) is not None
    if "Traceback" in exit_.stderr:
        found.append(Violation("honest-exit", f"exit {exit_.code} with a traceback"))
    if len(lines) != 1 and not (ended and exit_.code < 0 and not lines):
        shown = " / ".join(line.split("|")[-1].strip()[:160] for line in lines[:3])
        found.append(
            Violation("honest-exit", f"exit {exit_.code} with {len(lines)} ERROR lines: {shown}")
        )
    expected = _expected_codes(exit_, said_why=len(lines) == 1 or ended)
    found.extend(_unexpected_code(exit_, expected))
    return found


def check_singer(problems: list[str], exit_: Exit) -> list[Violation]:
    """The output is Singer a target can apply; every STATE has the tap's documented shape.

    (The oracle reads ``tap_knowbe4.interrupted``: a change of that shape must fail here,
    not make the oracle blind.) A STATE with no ``tap_knowbe4`` at all is the one other
    shape: a run given none writes none until the API has vouched for its key
    (tests/test_rejected_key_state.py), and never again once it has written one.
    """
    if exit_.killed:
        return []
    found = [Violation("singer", p) for p in problems[:3]]
    written = False
    for message in exit_.acked:
        state = message
        if message.get("type") == "STREAM":  # an Airbyte stream state: the tap's state inside
            blob = message["stream"].get("stream_state") or {}
            state = blob.get("tap_state") or {}
        own = state.get("tap_knowbe4")
        if own is None and not written:
            continue
        written = True
        if not isinstance(own, dict) or "interrupted" not in own:
            found.append(Violation("singer", f"a STATE without tap_knowbe4.interrupted: {state}"))
            break
    return found


def check_activations(
    world: World,
    tenant: str,
    clocks: t.Sequence[int],
    scope: Scope,
    warehouse: Warehouse,
    run_id: int,
    hidden: Hidden | None = None,
) -> list[Violation]:
    """No ACTIVATE_VERSION (or Airbyte overwrite) of this run deleted a row that existed
    throughout it (but one a deletion between two pages hid from page numbers: ``hidden``)."""
    hidden = hidden or Hidden()
    found = []
    for deletion in warehouse.deletions:
        if deletion.run != run_id or not deletion.keys:
            continue
        stream = scope.stream_of(deletion.stream)
        if stream not in CHECKED:
            continue
        alive = owed_throughout(world, tenant, clocks, scope, stream)
        wrong = [k for k in deletion.keys if k in alive and not hidden.covers(stream, k)]
        what = deletion.kind
        if deletion.kind == "ACTIVATE_VERSION":
            what = f"ACTIVATE_VERSION {deletion.version}"
        if wrong:
            found.append(
                Violation(
                    "never",
                    f"{what} of {deletion.stream} deleted "
                    f"{len(wrong)} rows that exist upstream, e.g. {wrong[0]}",
                )
            )
    return found


def check_never(
    world: World,
    tenant: str,
    cycle_clocks: t.Sequence[int],
    scope: Scope,
    warehouse: Warehouse,
    exit_: Exit,
    hidden: Hidden | None = None,
    given: object = None,
) -> list[Violation]:
    """After exit 0 (output read to its end), every owed row is in the warehouse (but one
    a deletion between two pages hid from page numbers in this cycle: ``hidden``).

    After a budget stop, only the streams its own STATE says are done are owed: a state it
    was given and handed back (:func:`own_state`) says nothing of this run (SIM: seed
    930034, a stop before any request under a merged state whose record listed every stream
    done by an earlier run of the other account).
    """
    if exit_.code != 0 or exit_.killed or not exit_.read_to_end:
        return []
    hidden = hidden or Hidden()
    streams = set(scope.streams)
    if STOPPED_EARLY in exit_.stderr:
        interrupted = (own_state(given, exit_) or {}).get("interrupted")
        done = set((interrupted or {}).get("streams_done") or ())
        streams &= done
    found = []
    for stream in sorted(streams):
        owed = owed_throughout(world, tenant, cycle_clocks, scope, stream)
        missing = owed - warehouse.keys(scope.table(stream))
        missing = {k for k in missing if not hidden.covers(stream, k)}
        if missing:
            example = min(missing, key=repr)
            found.append(
                Violation(
                    "never",
                    f"exit 0 but {len(missing)} of {len(owed)} rows of {stream} that exist "
                    f"upstream are not in the warehouse, e.g. {example}",
                )
            )
    return found


def check_eventually(
    world: World,
    tenant: str,
    clock: int,
    scope: Scope,
    warehouse: Warehouse,
    clean_runs: t.Collection[int],
) -> list[Violation]:
    """After the clean phase: every owed row present; rows it wrote equal the truth."""
    truth = world.truth(tenant, clock, scope.members_from)
    found = []
    for stream in sorted(scope.streams):
        owed = scope.owed(truth, stream)
        table = warehouse.rows(scope.table(stream))
        missing = set(owed) - set(table)
        if missing:
            found.append(
                Violation(
                    "eventually",
                    f"{len(missing)} of {len(owed)} rows of {stream} missing after the clean "
                    f"runs, e.g. {min(missing, key=repr)}",
                )
            )
        stale = []
        for key, row in table.items():
            if row.run not in clean_runs:
                continue
            expected = owed.get(key)
            if expected is None:
                if key not in truth.rows[stream]:
                    stale.append((key, "a row that does not exist upstream"))
                elif scope.filtered_out(stream, row.record):
                    stale.append((key, "a row the stream map filters out"))
                continue
            want = scope.comparable(stream, expected)
            if scope.flattening:  # a null object is flattened into its null leaves
                want = {k: v for k, v in want.items() if k in row.record}
            got = {k: row.record.get(k, "<absent>") for k in want}
            if got != want and _another_version(scope, truth, stream, key, row.record):
                continue
            if got != want:
                diff = sorted(k for k in want if got[k] != want[k])
                stale.append((key, f"fields {diff[:4]} differ"))
        if stale:
            key, why = stale[0]
            found.append(
                Violation(
                    "eventually",
                    f"{len(stale)} rows of {stream} written by the clean runs differ from the "
                    f"truth, e.g. {key}: {why}",
                )
            )
    return found
