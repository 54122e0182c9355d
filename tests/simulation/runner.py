"""Runs one seeded sequence: chaotic runs, then clean runs until the tap has converged.

Two *pipelines* (each a Meltano project: a warehouse and a state store) read the world's
two accounts; the plan says which pipeline runs, which account it reads (a pipeline may be
pointed at the other account), and which state it is handed:

* ``resume``: the last STATE the target acknowledged (what Meltano hands the next run);
* ``lose``: none (``meltano state clear``);
* ``older``: the state acknowledged ``back`` runs earlier;
* ``edit``: the current state edited the way a person would (never in a way that claims
  data was loaded when it was not);
* ``foreign``: the other pipeline's current state (a reused Meltano state ID);
* ``merge``: the current state, and afterwards the new state merged onto it the way
  Meltano's ``--state-strategy merge`` does;
* ``full-refresh``: none, and afterwards the new state merged onto the stored one (Meltano's
  ``--full-refresh``, which merges under the default ``auto`` strategy).

After every run the oracle (:mod:`tests.simulation.oracle`) checks the invariants; the
sequence stops at the first run that breaks one. After the chaotic runs, clean runs of the
last pipeline follow until a sync cycle that began in the clean phase completes, and the
warehouse is compared with the truth.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import pathlib
import shutil
import time
import typing as t

from tests.ground_truth import minimum_requests
from tests.simulation import oracle
from tests.simulation.inputs import (
    airbyte_catalog,
    airbyte_keys,
    catalog,
    source_config,
    tap_config,
)
from tests.simulation.page_shift import Hidden
from tests.simulation.plan import RISK_STREAMS, RunPlan, SequencePlan, clean_run, draw_sequence
from tests.simulation.quota_clock import wait_out_short_verdicts
from tests.simulation.table_clock import TableClock
from tests.simulation.tap_process import TapProcess
from tests.simulation.warehouse import Warehouse
from tests.simulation.world import World

if t.TYPE_CHECKING:
    from tests.simulation.tap_process import Exit

#: State operations after which Meltano merges the new state onto the stored one.
MERGED = ("merge", "full-refresh")
#: The shared budget ledger, under a sequence's directory (its machine's cache).
LEDGER = pathlib.Path("cache", "tap-knowbe4", "budget-ledger.json")
#: Most runs one sync cycle may take in the clean phase (a smaller cap is raised).
CYCLE_RUNS = 30
#: Requests a resumed run spends again as proof of where it stopped (a parent's page and the
#: page of the child list inside it).
PROOF_PAGES = 2
#: Longest clean phase, in runs, whatever the cap.
MOST_CLEAN_RUNS = 150


@dataclasses.dataclass
class Saved:
    """A state a pipeline holds, and the clocks of the interrupted cycle it continues."""

    #: A Singer state, or an Airbyte run's per-stream states.
    value: dict | list
    cycle: list[int]
    cycle_start: int
    #: The account and key of the run that wrote it.
    identity: tuple[str, str] = ("", "")


@dataclasses.dataclass
class Pipeline:
    """A warehouse and the states its target acknowledged."""

    warehouse: Warehouse = dataclasses.field(default_factory=Warehouse)
    current: Saved | None = None
    history: list[Saved] = dataclasses.field(default_factory=list)
    #: Handed another pipeline's state of the same account: that state rightly tells the tap
    #: that rows are loaded (in the other warehouse), so this warehouse may lack them until
    #: its state is cleared. The oracle does not ask this pipeline for owed rows meanwhile.
    tainted: bool = False
    #: Run -> users a deletion between two pages hid from that run's read by page number.
    hidden: dict[int, frozenset[int]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunResult:
    """One run: its plan, how it ended, what the oracle found."""

    index: int
    plan: RunPlan
    exit: Exit
    violations: list[oracle.Violation]

    def line(self, seed: int) -> str:
        """One log line."""
        mark = "FAIL " if self.violations else ""
        return (
            f"{mark}seed {seed} run {self.index}: exit {self.exit.code} "
            f"{self.exit.seconds:.1f}s {self.plan.describe()}"
        )


@dataclasses.dataclass
class SequenceResult:
    """A whole sequence."""

    plan: SequencePlan
    runs: list[RunResult]
    violations: list[tuple[int, oracle.Violation]]
    workdir: pathlib.Path

    @property
    def failed(self) -> bool:
        """True when an invariant broke."""
        return bool(self.violations)


def meltano_merge(src: dict, dest: dict) -> dict:
    """Meltano's ``merge`` (``meltano.core.utils``): ``src`` onto ``dest`` at depth."""
    for key, value in src.items():
        if isinstance(value, dict):
            node = dest.setdefault(key, {})
            if isinstance(node, dict):
                meltano_merge(value, node)
            else:
                dest[key] = copy.deepcopy(value)
        else:
            dest[key] = value
    return dest


def _interrupted(value: dict | list | None) -> object:
    if isinstance(value, list):
        return oracle.airbyte_interrupted(value)
    own = (value or {}).get("tap_knowbe4")
    return own.get("interrupted") if isinstance(own, dict) else None


#: Exit codes after which PyAirbyte loads a read's records and states (0.71.3,
#: ``_executors/base.py``: any other code raises before ``_write_all_stream_data``).
PYAIRBYTE_SUCCESS = (0, -15)


def airbyte_kept(handed: object, acked: list[dict]) -> list[dict]:
    """The per-stream states Airbyte keeps after a run: the newest state of each stream.

    Both runners key their store by stream and replace a stream's row with its newest state
    (the platform's per-stream state persistence; PyAirbyte's ``SqlStateWriter``); a stream
    this run did not send keeps its stored state (deselected streams included), and every
    stored state is handed to the next read (PyAirbyte asks its cache with no stream filter).
    Whether a run's states count at all is :func:`airbyte_loads`'s question.
    """
    kept: dict[str, dict] = {}
    for state in [*(handed if isinstance(handed, list) else []), *acked]:
        kept[str(state["stream"]["stream_descriptor"]["name"])] = state
    return list(kept.values())


def airbyte_loads(runner: str, code: int) -> bool:
    """True when an Airbyte runner keeps what a run that exited ``code`` sent.

    The platform keeps every record and state the destination acknowledged, also from a
    sync that failed (a retried sync resumes from them). PyAirbyte keeps nothing from a read
    whose source did not exit 0 (or -15): it loads the records and writes the newest state
    of each stream only after the whole message stream was read, and a failed exit raises
    first (measured: three reads capped at 20 requests left the cache with no table and no
    state; an uncapped read then kept all 14 streams' states).
    """
    return runner != "pyairbyte" or code in PYAIRBYTE_SUCCESS


def airbyte_overwrite(configured: dict, exit_: Exit, warehouse: Warehouse) -> None:
    """The platform's ``overwrite``: a sync that succeeded replaces the table of each stream
    it read in full refresh (and COMPLETE) by the rows it sent. PyAirbyte merges instead."""
    statuses = oracle.final_statuses(exit_)
    for stream in configured.get("streams", ()):
        name = stream["stream"]["name"]
        if stream.get("sync_mode") == "full_refresh" and statuses.get(name) == "COMPLETE":
            warehouse.overwrite(name)


def edited(value: dict, edit: str) -> dict:
    """``value`` edited as a person would (see the module docstring)."""
    out = copy.deepcopy(value)
    own = out.get("tap_knowbe4")
    if not isinstance(own, dict):
        return out
    if edit == "drop-interrupted":
        own["interrupted"] = None
    elif edit == "drop-streams":
        own["streams"] = {}
        out.pop("bookmarks", None)
    elif edit == "drop-budget":
        own.pop("budget", None)
    elif edit == "earlier-bookmarks":
        for name in RISK_STREAMS:
            dates = (own.get("streams") or {}).get(name, {}).get("dates")
            if isinstance(dates, dict):
                moved = {}
                for day, owners in dates.items():
                    earlier = dt.date.fromisoformat(day) - dt.timedelta(days=28)
                    moved[earlier.isoformat()] = owners
                own["streams"][name]["dates"] = moved
    elif edit == "wrong-types":
        settled = (own.get("streams") or {}).get("phishing_security_test_recipients", {})
        if isinstance(settled.get("settled"), dict):
            settled["settled"] = {k: str(v) for k, v in settled["settled"].items()}
        own["last_run"] = ["not", "an", "object"]
    return out


def touch_ledger(cache: pathlib.Path, op: str) -> None:
    """Do ``op`` to the shared budget ledger, as another tool or a person might.

    ``truncate`` cuts it in half, ``garbage`` replaces it with text, ``foreign`` with
    another tool's JSON, ``symlink`` moves it to a shared folder and links it back,
    ``remove`` deletes it. Nothing happens when there is no ledger yet.
    """
    path = cache.parent / LEDGER
    if not path.is_file():
        return
    data = path.read_bytes()
    if op == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif op == "garbage":
        path.write_text("this is not a ledger\n")
    elif op == "foreign":
        path.write_text('{"tool": "another", "entries": [1, 2, 3]}\n')
    elif op == "symlink" and not path.is_symlink():
        shared = cache / "shared-volume"
        shared.mkdir(exist_ok=True)
        target = shared / "ledger.json"
        path.replace(target)
        path.symlink_to(target)
    elif op == "remove":
        path.unlink()


class Sequence:
    """Runs a :class:`SequencePlan` in a world of its own."""

    def __init__(
        self,
        plan: SequencePlan,
        workdir: pathlib.Path,
        log: t.Callable[[str], None] = print,
        *,
        converge: bool = True,
    ) -> None:
        """Prepare to run ``plan`` with its files under ``workdir``."""
        self.plan = plan
        self.workdir = workdir
        self.log = log
        self.converge = converge
        self.pipelines = [Pipeline(), Pipeline()]
        self.results: list[RunResult] = []
        self.keys = {x.key for x in plan.tenants} | {r.key for r in plan.runs}
        self.keys |= {r.stale_key for r in plan.runs if r.stale_key}
        #: Each run's table version is newer than every one seen before (``table_clock``).
        self.table_clock = TableClock()
        #: Seconds waited for "quota spent" verdicts about to end (``quota_clock``).
        self.verdict_waited = 0.0
        #: Answers the sandbox's forget-cursor fault took a next cursor out of (a drawn fault
        #: fires only where a list pages by cursor).
        self.cursors_forgotten = 0

    def run(self) -> SequenceResult:
        """Run every chaotic run, then the clean phase; stop at the first violation."""
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        violations: list[tuple[int, oracle.Violation]] = []
        with World(self.plan) as world:
            for run in self.plan.runs:
                result = self._one(world, run)
                if result.violations:
                    violations = [(result.index, v) for v in result.violations]
                    break
            if not violations and self.converge and self.plan.runs:
                violations = self._clean_phase(world)
        return SequenceResult(self.plan, self.results, violations, self.workdir)

    # -- one run -------------------------------------------------------------------------

    def _handed(self, run: RunPlan) -> Saved | None:
        pipeline = self.pipelines[run.pipeline]
        op = run.state.get("op", "resume")
        if op == "lose":
            pipeline.current = None
            pipeline.tainted = False
            return None
        if op == "full-refresh":
            return None  # the stored state stays: the new one is merged onto it
        if op == "older":
            back = int(run.state.get("back", 1))
            history = pipeline.history
            return history[-1 - back] if len(history) > back else None
        if op == "foreign":
            other = self.pipelines[1 - run.pipeline].current
            if other is not None and other.identity == (run.tenant, run.key):
                pipeline.tainted = True
            return other
        if op == "edit" and pipeline.current is not None:
            current = pipeline.current.value
            if not isinstance(current, dict):  # Airbyte's states are not edited by hand
                return pipeline.current
            value = edited(current, str(run.state.get("edit")))
            return dataclasses.replace(pipeline.current, value=value)
        return pipeline.current

    def _one(self, world: World, run: RunPlan) -> RunResult:
        index = len(self.results)
        pipeline = self.pipelines[run.pipeline]
        handed = self._handed(run)
        run_dir = self.workdir / f"run-{index:03d}"
        tap = TapProcess(run_dir, self.workdir / "cache")
        hang = run.target.get("kind") == "hang"
        plan_only = run.mode == "plan"
        if run.ledger:
            touch_ledger(self.workdir / "cache", run.ledger)
        world.prepare(run, on_signal=(lambda _name: None) if hang else tap.signal)
        scope = oracle.Scope.of(run, self.plan.start)
        warehouse = pipeline.warehouse
        airbyte = run.protocol == "airbyte"
        warehouse.begin_run(index, airbyte_keys() if airbyte else None)
        pyairbyte = airbyte and run.airbyte_runner == "pyairbyte"
        before = warehouse.snapshot() if pyairbyte else None
        problems = len(warehouse.problems)
        config = tap_config(run, world.base_url, self.plan.start, run_dir)
        given: dict | list | None = None if handed is None else handed.value
        if pyairbyte and given is None:
            given = []  # PyAirbyte always passes --state: "[]" when its cache has none
        configured = airbyte_catalog(run) if airbyte else catalog(run)
        self.table_clock.wait_for_a_new_second()
        self.verdict_waited += wait_out_short_verdicts(given, self.workdir / LEDGER)
        exit_ = tap.run(
            source_config(config) if airbyte else config,
            configured,
            given,
            warehouse,
            {"kind": "text"} if plan_only else run.target,
            signal_name=run.signal["name"] if hang and run.signal else None,
            plan_only=plan_only,
            airbyte=airbyte,
        )
        exit_.traces = list(warehouse.traces)
        self.cursors_forgotten += world.sandbox.stats()["faults"].get("forget-cursor", 0)
        acked = exit_.acked
        self.table_clock.see(warehouse.newest_version)
        for state in acked:
            self.table_clock.see_state(state)
        if before is not None and not airbyte_loads(run.airbyte_runner, exit_.code):
            acked = []
            warehouse.restore(before)  # PyAirbyte loaded none of this read's records
        if airbyte and not pyairbyte and exit_.code == 0:
            airbyte_overwrite(configured, exit_, warehouse)
        clocks = list(world.run_clocks)
        continues = handed is not None and _interrupted(handed.value) is not None
        cycle = [*handed.cycle, *clocks] if continues and handed else clocks
        cycle_start = handed.cycle_start if continues and handed else index
        for shift in world.page_shifts:
            pipeline.hidden[index] = pipeline.hidden.get(index, frozenset()) | shift.hidden()
        hidden = Hidden(
            frozenset().union(*(ids for i, ids in pipeline.hidden.items() if i >= cycle_start)),
            scope.members_from,
        )
        violations = [
            *oracle.check_bounded(exit_),
            *oracle.check_singer(warehouse.problems[problems:], exit_),
            *oracle.check_no_leak(self.keys, exit_, self._files(run_dir), self.workdir.rglob("*")),
            *oracle.check_honest_exit(run, exit_, given),
        ]
        if not plan_only:
            violations += [
                *oracle.check_activations(
                    world, run.tenant, clocks, scope, warehouse, index, hidden
                ),
            ]
            if not pipeline.tainted:
                violations += oracle.check_never(
                    world, run.tenant, cycle, scope, warehouse, exit_, hidden, given
                )
        if acked:
            value: dict | list = copy.deepcopy(acked[-1])
            if airbyte:
                value = airbyte_kept(None if handed is None else handed.value, acked)
            elif run.state.get("op") in MERGED and pipeline.current is not None:
                stored = pipeline.current
                if isinstance(value, dict) and isinstance(stored.value, dict):
                    value = meltano_merge(value, copy.deepcopy(stored.value))
                if oracle.own_state(given, exit_) is None and _interrupted(stored.value):
                    # the run wrote no state of its own (a rejected key, a stop before any
                    # answer): the merge kept the stored interrupted sync, and its cycle
                    # (SIM-26, seed 950009: a --full-refresh under a stale key)
                    cycle, cycle_start = [*stored.cycle, *clocks], stored.cycle_start
            saved = Saved(value, cycle, cycle_start, (run.tenant, run.key))
            pipeline.current = saved
            pipeline.history.append(saved)
        result = RunResult(index, run, exit_, violations)
        self.results.append(result)
        self.log(result.line(self.plan.seed))
        for shift in world.page_shifts:
            gone = sorted(set(shift.before) - set(shift.after))
            way = "page numbers" if shift.by_number else "cursor"
            self.log(
                f"    users {gone} deleted after {shift.read} read by {way}; hidden: "
                f"{sorted(shift.hidden())}"
            )
        for violation in violations:
            self.log(f"    {violation}")
        return result

    def _files(self, run_dir: pathlib.Path) -> list[pathlib.Path]:
        """Where a key could leak to on disk: the ledger, BATCH files, the state given."""
        found = [run_dir / "state.json"]
        for folder in ("cache", "batch"):
            root = self.workdir / folder
            if root.is_dir():
                found += [p for p in root.rglob("*") if p.is_file()]
        return found

    # -- the clean phase -----------------------------------------------------------------

    def needed(self, world: World, run: RunPlan) -> int:
        """The fewest requests one whole sync of ``run``'s streams takes now."""
        scope = oracle.Scope.of(run, self.plan.start)
        return minimum_requests(
            world.sandbox,
            sorted(scope.streams),
            int(run.config.get("page_size", 500)),
            cursor=run.config.get("pagination", "auto") != "page",
            members_from=scope.members_from,
        )

    def clean_runs_allowed(self, world: World, run: RunPlan) -> int:
        """Runs the clean phase may take: a few, plus what the cap needs for a whole sync."""
        cap = run.config.get("max_requests_per_run")
        if not cap:
            return 4
        # two cycles: the clean phase may begin inside a chaotic cycle, and only a cycle that
        # began in it counts (seeds 315748 at cap 3, 530027 at cap 5: ~36 runs a cycle)
        return min(MOST_CLEAN_RUNS, 4 + 4 * math.ceil(2 * self.needed(world, run) / cap))

    def fit_cap(self, world: World, run: RunPlan) -> None:
        """Raise a cap under which one sync would take more than :data:`CYCLE_RUNS` runs.

        A person whose sync needs 633 requests does not keep ``max_requests_per_run: 5``
        (two cycles would be over 400 runs: CI seed 2 with session 5's draws). The clean
        runs then continue the interrupted sync under the new cap; a cap that fits is kept.
        A PyAirbyte pipeline's cap that a whole sync does not fit is dropped (SIM-19: no read
        it fails keeps anything, and the source's budget-stop line says to give none).
        """
        cap = run.config.get("max_requests_per_run")
        if not cap:
            return
        if run.protocol == "airbyte" and run.airbyte_runner == "pyairbyte":
            # PyAirbyte keeps nothing from a read that fails: a sync must fit in one read, and
            # the source's line says so (SIM-19); a person then gives no cap
            if cap < self.needed(world, run) + PROOF_PAGES:
                run.config.pop("max_requests_per_run")
            return
        fitting = math.ceil(self.needed(world, run) / CYCLE_RUNS) + PROOF_PAGES
        if cap < fitting:
            run.config["max_requests_per_run"] = fitting

    def _clean_phase(self, world: World) -> list[tuple[int, oracle.Violation]]:
        last = self.plan.runs[-1]
        cursor_only = self.plan.tenant(last.tenant).profile == "drift"
        template = clean_run(last, cursor_only=cursor_only)
        self.fit_cap(world, template)
        if self.pipelines[template.pipeline].tainted:  # a full refresh, as a person would
            template.state = {"op": "lose"}
        first = len(self.results)
        allowed = None
        for _ in range(MOST_CLEAN_RUNS):
            result = self._one(world, dataclasses.replace(template))
            template.state = {"op": "resume"}
            if allowed is None:
                allowed = self.clean_runs_allowed(world, template)
            if result.violations:
                return [(result.index, v) for v in result.violations]
            saved = self.pipelines[template.pipeline].current
            complete = (
                result.exit.code == 0
                and oracle.STOPPED_EARLY not in result.exit.text
                and saved is not None
                and _interrupted(saved.value) is None
                and saved.cycle_start >= first
            )
            if complete and saved is not None:
                scope = oracle.Scope.of(template, self.plan.start)
                cycle_runs = set(range(saved.cycle_start, result.index + 1))
                found = oracle.check_eventually(
                    world,
                    template.tenant,
                    world.clock,
                    scope,
                    self.pipelines[template.pipeline].warehouse,
                    cycle_runs,
                )
                return [(result.index, v) for v in found]
            if len(self.results) - first >= allowed:
                break
            if oracle.CAP_REFUSED in result.exit.text:
                cap = template.config.get("max_requests_per_run")
                profile = next(x.profile for x in self.plan.tenants if x.name == template.tenant)
                if (
                    oracle.honest_refusal(result.exit.text, cap)
                    or oracle.honest_order_refusal(result.exit.text, profile)
                    or oracle.honest_full_refresh_refusal(result.exit.text, cap)
                ):
                    return []  # the oracle agrees: no run at this cap can get further
                break  # the tap says more runs at this cap get nowhere: no need to try them
        last_result = self.results[-1]
        lines = oracle.error_lines(last_result.exit.stderr)
        lines += [str(x.get("error", {}).get("message")) for x in oracle.errors(last_result.exit)]
        why = lines[-1].split("|")[-1].strip() if lines else "no error line"
        detail = (
            f"no complete sync cycle after {len(self.results) - first} clean runs "
            f"(cap {template.config.get('max_requests_per_run')}); last exit "
            f"{last_result.exit.code}: {why[:200]}"
        )
        return [(last_result.index, oracle.Violation("eventually", detail))]


def run_seed(
    seed: int,
    workdir: pathlib.Path,
    log: t.Callable[[str], None] = print,
    *,
    keep: bool = False,
    chaos_runs: int | None = None,
) -> SequenceResult:
    """Draw and run the sequence of ``seed``; its files are removed unless it failed."""
    started = time.monotonic()
    plan = draw_sequence(seed, chaos_runs)
    sequence = Sequence(plan, workdir / f"seed-{seed}", log)
    result = sequence.run()
    if not result.failed and not keep:
        shutil.rmtree(result.workdir, ignore_errors=True)
    waited = sequence.table_clock.waited
    log(
        f"seed {seed}: {len(result.runs)} runs in {time.monotonic() - started:.0f}s "
        f"({waited:.1f}s waiting for new table versions, {sequence.verdict_waited:.1f}s for "
        f"quota verdicts to end; {sequence.cursors_forgotten} cursors forgotten), "
        f"{'FAILED' if result.failed else 'ok'}"
    )
    return result
