"""The world of a simulated sequence: two KnowBe4 accounts behind one sandbox, and a clock.

One :class:`~tap_knowbe4.sandbox.Sandbox` listens on one loopback port for the whole
sequence; before each run the world serves the account that run reads (with the key in
force, the server options the run drew, its organization-level quirks) through
``Sandbox.reconfigure``, schedules the run's faults and its mid-run events
(``Sandbox.after_requests``), and moves the shared clock. Both accounts' clocks move
together: they are one world.

The truth of an account at a clock is computed from a fresh organization built with the
same options and advanced to that clock (the sandbox's data is a pure function of options
and clock), through the tests' ground truth (:mod:`tests.ground_truth`), and memoized.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import typing as t

from tap_knowbe4.sandbox import Organization, Sandbox
from tap_knowbe4.sandbox.options import OrgOptions, profile_values
from tap_knowbe4.sandbox.times import parse_instant
from tests.ground_truth import endpoint_table, expected_records, parents_of
from tests.simulation.page_shift import LATER_REQUESTS, USERS, PageShift, delete_between_pages

if t.TYPE_CHECKING:
    from tests.simulation.plan import RunPlan, SequencePlan, TenantPlan

#: Days of data generated after the starting clock (sequences advance it by weeks at most).
HORIZON_DAYS = 400
#: A year of weekly risk points per owner keeps histories short (a few pages at most).
RISK_YEARS = 1

Rows = dict[str, dict[tuple, dict]]
KEYS = {e.name: e.primary_keys for e in endpoint_table().values()}


def key_of(stream: str, row: dict) -> tuple:
    """The primary key of ``row`` in ``stream``."""
    return tuple(row.get(k) for k in KEYS[stream])


@dataclasses.dataclass
class Truth:
    """Every stream's rows of one account at one clock (before any run's scope)."""

    rows: Rows
    #: Phishing tests by id: (started_at, has recipients).
    psts: dict[int, str | None]
    #: Stream -> key -> every version the API lists of a key it lists with other content
    #: (the drift profile's repeated keys): ``rows`` holds the one a single run leaves.
    versions: dict[str, dict[tuple, list[dict]]] = dataclasses.field(default_factory=dict)


class World:
    """The sandbox, the accounts' organizations, the clock and the truth at each clock."""

    def __init__(self, plan: SequencePlan) -> None:
        """Build both accounts at the plan's starting clock and start serving the first."""
        self.plan = plan
        self.options = {x.name: self._org_options(x) for x in plan.tenants}
        first = plan.tenants[0]
        self.sandbox = Sandbox(
            profile=first.profile,
            limits=False,
            api_key=first.key,
            **_org_kwargs(self.options[first.name]),
        )
        self.clock = parse_instant(plan.start)
        self._orgs: dict[tuple[str, tuple[str, ...]], Organization] = {}
        self._truths: dict[tuple[str, int, str], Truth] = {}
        self._lock = threading.Lock()
        #: Clocks the current run has seen (its start, then each mid-run move that happened).
        self.run_clocks: list[int] = []
        #: Users deleted between two pages of the current run's ``/v1/users`` (``page_shift``).
        self.page_shifts: list[PageShift] = []

    def _org_options(self, tenant: TenantPlan) -> OrgOptions:
        return OrgOptions.build(
            tenant.profile,
            seed=tenant.seed,
            users=tenant.users,
            risk_years=RISK_YEARS,
            now=self.plan.start,
            horizon_days=HORIZON_DAYS,
        )

    def __enter__(self) -> World:
        self.sandbox.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sandbox.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.sandbox.base_url

    # -- the clock -----------------------------------------------------------------------

    def advance(self, seconds: int) -> None:
        """Move the world's clock (every organization built so far follows)."""
        if seconds <= 0:
            return
        with self._lock:
            self.clock += seconds
            for org in self._orgs.values():
                org.advance(seconds=self.clock - org.now_epoch)
            self.run_clocks.append(self.clock)

    def _org(self, tenant: str, quirks: tuple[str, ...]) -> Organization:
        found = self._orgs.get((tenant, quirks))
        if found is None:
            options = self.options[tenant]
            if quirks:
                options = dataclasses.replace(options, quirks=quirks)
            found = Organization(options)
            found.advance(seconds=self.clock - found.now_epoch)
            self._orgs[(tenant, quirks)] = found
        return found

    # -- a run ---------------------------------------------------------------------------

    def prepare(self, run: RunPlan, on_signal: t.Callable[[str], None]) -> None:
        """Move the clock, serve the run's account as it drew it, schedule its events."""
        self.advance(run.advance)
        self.run_clocks = [self.clock]
        self.page_shifts = []
        tenant = self.plan.tenant(run.tenant)
        org = self._org(run.tenant, tuple(run.org_quirks))
        server = dict(run.server)
        quirks = {*profile_values(tenant.profile)["quirks"], *server.pop("quirks", ())}
        self.sandbox.reconfigure(
            org=org,
            profile=tenant.profile,
            api_key=run.key,
            limits=False,
            quirks=tuple(sorted(quirks | set(org.options.quirks))),
            **server,
        )
        for fault in run.faults:
            self._inject(run.tenant, fault)
        for at_request, seconds in run.midrun:
            self.sandbox.after_requests(at_request, functools.partial(self.advance, seconds))
        if run.delete_before_page:  # the first of these requests with users left to list
            delete = functools.partial(self._delete_between_pages, org, [])
            first = run.delete_before_page
            for nth in range(first, first + LATER_REQUESTS):
                self.sandbox.before_request_to(USERS, nth, delete)
        if run.signal is not None:
            name = run.signal["name"]
            self.sandbox.after_requests(run.signal["at_request"], lambda: on_signal(name))

    def _delete_between_pages(
        self, org: Organization, done: list[bool], query: dict[str, str]
    ) -> None:
        """Move the clock to the next deletion of a user the earlier pages listed (once)."""
        found = None if done else delete_between_pages(org, self.sandbox.paging, query)
        if found is None:
            return
        done.append(True)
        seconds, read, by_number = found
        before = tuple(u["id"] for u in org.users())
        self.advance(seconds)
        after = tuple(u["id"] for u in org.users())
        self.page_shifts.append(PageShift(by_number, read, before, after))

    def _inject(self, tenant: str, fault: dict[str, t.Any]) -> None:
        kind = fault["kind"]
        if kind != "404-child":
            self.sandbox.inject(kind, fault.get("path"), fault["count"], fault.get("retry_after"))
            return
        path = self._child_path(tenant, fault["child"], fault["index"])
        if path is not None:
            self.sandbox.inject("404", path, fault["count"])

    def _child_path(self, tenant: str, child: str, index: int) -> str | None:
        org = self._org(tenant, ())
        if child == "recipients":
            ids = [p["pst_id"] for p in org.security_tests() if p.get("scheduled_count")]
            template = "/v1/phishing/security_tests/{}/recipients"
        elif child in ("group_risk", "members"):
            ids = [g["id"] for g in org.groups()]
            tail = "risk_score_history" if child == "group_risk" else "members"
            template = "/v1/groups/{}/" + tail
        else:
            ids = [u["id"] for u in org.users()]
            template = "/v1/users/{}/risk_score_history"
        if not ids:
            return None
        return template.format(ids[index % len(ids)])

    # -- the truth -----------------------------------------------------------------------

    def truth(self, tenant: str, clock: int, members_from: str) -> Truth:
        """Every stream's rows of ``tenant`` at ``clock`` (memoized)."""
        memo = (tenant, clock, members_from)
        found = self._truths.get(memo)
        if found is not None:
            return found
        org = Organization(self.options[tenant])
        org.advance(seconds=clock - org.now_epoch)
        rows: Rows = {}
        versions: dict[str, dict[tuple, list[dict]]] = {}
        for stream in KEYS:
            records = expected_records(org, stream, members_from)
            rows[stream] = {key_of(stream, r): r for r in records}
            if len(rows[stream]) < len(records):
                listed: dict[tuple, list[dict]] = {}
                for record in records:
                    listed.setdefault(key_of(stream, record), []).append(record)
                versions[stream] = {k: v for k, v in listed.items() if len(v) > 1}
        table = endpoint_table(members_from)
        psts: dict[
            int, str | None
        ] = {}  # email and callback tests (their ids do not meet in the sandbox)
        for tests, recipients in (
            ("phishing_security_tests", "phishing_security_test_recipients"),
            ("callback_phishing_security_tests", "callback_phishing_security_test_recipients"),
        ):
            with_recipients = set(parents_of(org, table[recipients], table))
            psts.update(
                (key[0], row.get("started_at"))
                for key, row in rows[tests].items()
                if key[0] in with_recipients
            )
        found = Truth(rows=rows, psts=psts, versions=versions)
        if len(self._truths) > 64:
            self._truths.clear()
        self._truths[memo] = found
        return found


def _org_kwargs(options: OrgOptions) -> dict[str, t.Any]:
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
