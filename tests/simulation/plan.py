"""What a simulated sequence does, drawn from one seed before anything runs.

A :class:`SequencePlan` is a pure function of its seed (:func:`draw_sequence`): the world
(two accounts on one sandbox, their sizes, profiles and keys, the starting clock) and one
:class:`RunPlan` per run. Each run plan is self-contained (the whole config and catalog in
force, not a difference from the previous run) and JSON-able, so a failing sequence can be
cut down to a few runs and pasted into a regression test (:meth:`SequencePlan.from_json`).

Outcomes never feed back into the draws: replaying a seed replays the same plans; what the
tap does with them is the part under test.
"""

from __future__ import annotations

import dataclasses
import json
import random
import typing as t

#: The sandbox clock starts in 2025, far behind the wall clock the tap reads (``utcnow``): the
#: tap's wall-clock rules (a test is re-read while started within ``pst_lookback_days``; a
#: risk bookmark younger than 150 days reads the six-month window) are then in one fixed
#: regime whatever day a seed is replayed, so a replay is exact.
EPOCH_DAYS = ("2025-01-15", "2025-02-20", "2025-03-10", "2025-04-05", "2025-05-01")

#: Streams a catalog may deselect or override, and the risk streams (incremental).
STREAMS = (
    "account",
    "account_risk_score_history",
    "group_members",
    "group_risk_score_history",
    "groups",
    "phishing_campaigns",
    "phishing_security_test_recipients",
    "phishing_security_tests",
    "policies",
    "store_purchases",
    "training_campaigns",
    "training_enrollments",
    "user_risk_score_history",
    "users",
)
RISK_STREAMS = ("account_risk_score_history", "group_risk_score_history", "user_risk_score_history")

#: Settings a key may be pasted into by mistake (issue 18 defect 7 and its siblings).
MISPLACED_KEY_SETTINGS = (
    "region",
    "pagination",
    "group_members_source",
    "ca_bundle",
    "start_date",
    "page_size",
    "api_url",
    "user_agent",
    "budget_ledger_path",
)
#: What may happen to the shared budget ledger between runs (issue 18 defect 9).
LEDGER_OPS = ("truncate", "garbage", "foreign", "symlink", "remove")

#: Stream maps the warehouse model can mirror (``truth.apply_maps``): name -> maps.
STREAM_MAPS: dict[str, dict[str, t.Any]] = {
    "drop-comment": {"users": {"comment": None}},
    "hash-email": {"users": {"email_hash": "md5(record['email'])"}},
    "alias-groups": {"groups": {"__alias__": "groups_renamed"}},
    "active-users": {"users": {"__filter__": "record['status'] == 'active'"}},
    "raises": {"policies": {"oops": "1/0"}},
}

#: Aliases drawn by :func:`draw_extras` (a stream's rows loaded under another name, SIM-8's
#: class): a parent, a fan-out child, an incremental child. Kept apart from
#: :data:`STREAM_MAPS` so the first draws' choice among those stays the same.
ALIAS_MAPS: dict[str, dict[str, t.Any]] = {
    "alias-users": {"users": {"__alias__": "users_renamed"}},
    "alias-members": {"group_members": {"__alias__": "members_renamed"}},
    "alias-risk": {"group_risk_score_history": {"__alias__": "group_risk_renamed"}},
}
#: Maps drawn by :func:`draw_session_10` (attack 10 #1): ``__else__: null`` removes every
#: stream no map names, for one run; only ``groups`` (renamed) is sent.
ELSE_MAPS: dict[str, dict[str, t.Any]] = {
    "else-null": {"groups": {"__alias__": "groups_renamed"}, "__else__": None},
}
#: Every map a plan may name.
MAPS: dict[str, dict[str, t.Any]] = {**STREAM_MAPS, **ALIAS_MAPS, **ELSE_MAPS}


def removed_by(maps: str) -> frozenset[str] | None:
    """The streams a map's ``__else__: null`` keeps (None: it removes none)."""
    body = MAPS.get(maps, {})
    if "__else__" not in body:
        return None
    return frozenset(k for k in body if not k.startswith("__"))


def aliases(maps: str) -> dict[str, str]:
    """Stream -> the name its rows are loaded under, for the maps called ``maps``."""
    found = {}
    for stream, body in MAPS.get(maps, {}).items():
        if isinstance(body, dict) and "__alias__" in body:
            found[stream] = body["__alias__"]
    return found


#: Draws added in session 4, from a second random stream (:func:`draw_extras`), so every
#: earlier seed draws what it drew before and gets these on top (feature -> what it is).
EXTRA_DRAWS: dict[str, str] = {
    "drift": "an account served by the sandbox's drift profile (cursor-only lists, legacy and "
    "new fields, one key listed again with other content)",
    "members-flip": "group_members_source switched between runs of a pipeline",
    "alias": "an __alias__ map on users, group_members or group risk added, changed or dropped",
    "reselect": "one parent or child stream selected or deselected for one run",
    "sigkill": "SIGKILL at a drawn request (often mid-list)",
    "airbyte": "a pipeline that runs the Airbyte source (source-knowbe4 read, per-stream states)",
}

#: Draws added in session 5, from a third random stream (:func:`session_5_random`), so seeds
#: keep every earlier draw (``--quarantine session-5`` replays a seed as it ran before them).
SESSION_5_DRAWS: dict[str, str] = {
    "full-refresh": "Meltano's --full-refresh: no state in, the new state merged onto the stored "
    "one; half the time with an alias changed and a cap set in the same run (attack 4 #1b)",
    "switch-merge": "a run pointed at the other account or with a rotated key, under Meltano's "
    "--state-strategy merge",
    "airbyte-cap": "a run cap on an Airbyte pipeline",
}

#: Draws added in session 7, from a fourth random stream (:func:`session_7_random`), so seeds
#: keep every earlier draw.
SESSION_7_DRAWS: dict[str, str] = {
    "pyairbyte": "an Airbyte pipeline run by PyAirbyte, not the Airbyte platform: a read that "
    "fails keeps nothing (neither its records nor its states; PyAirbyte 0.71.3 loads both only "
    "when the source exits 0 or -15), where the platform keeps every state the destination "
    "acknowledged",
}

#: Draws added in session 8, from a fifth random stream (:func:`session_8_random`), so seeds
#: keep every earlier draw.
SESSION_8_DRAWS: dict[str, str] = {
    "cursor-styles": "a server that names its next cursor in any place the sandbox offers "
    "(_metadata, a Link header, a links envelope, one place per list), on every list or on "
    "enrollments only (session 4 drew the header and the data/pagination envelope only)",
    "server-pagination": "a server that ignores the cursor parameter (page numbers only) or "
    "pages by cursor only on its cursor lists, for one run",
    "delete-between-pages": "a user the earlier pages of /v1/users listed is deleted upstream "
    "just before a later page is answered (by page number, the user moved onto the pages read "
    "is missed by that read: the documented limit the oracle excuses, page_shift.py)",
    "stale-key": "a run configured with a key the account no longer accepts (rotated in "
    "KnowBe4, not in the pipeline: 401, or a 200 'Invalid Token' on a hostile server), from a "
    "stream of its own ('session-8-key:<seed>')",
}
#: Draws added in session 10, from a sixth random stream (:func:`session_9_random`, named for
#: attack 9 #5, the finding it draws), so seeds keep every earlier draw.
SESSION_9_DRAWS: dict[str, str] = {
    "forget-cursor": "a server (or a proxy stripping X-Next-Cursor) that leaves the next cursor "
    "out of one page that has one (the sandbox's forget-cursor fault, once per run: twice on "
    "one page is the end of a list by the tap's evidence), on one list or the first anywhere",
}
#: Draws added in session 10 (attack 10), from a seventh random stream
#: (:func:`session_10_random`), so seeds keep every earlier draw.
SESSION_10_DRAWS: dict[str, str] = {
    "else-null": "a Singer run whose stream maps remove every stream but one "
    "(`__else__: null`, groups renamed), for that run only (attack 10 #1)",
}
#: Where a session-9 server forgets a cursor (None: the first answer naming one, anywhere).
FORGET_PATHS = (None, None, None, "/v1/training/enrollments", "/v1/users", "/v1/groups")
#: The places a session-8 server may name its next cursor in.
MORE_CURSOR_STYLES = ("metadata", "link", "links", "varied")

#: Features not drawn while a defect they trigger is open (feature -> finding). A quarantined
#: feature is still drawn (the seed's other draws stay the same) and then left out. The
#: campaign's ``--everything`` lifts the quarantine; each entry goes when its fix lands.
QUARANTINE: dict[str, str] = {}
#: Features an open finding triggers that a campaign may leave out by hand (``--quarantine
#: NAME``) and CI need not (its seeds pass with them: seed 12 caps a drift account at 8).
OPEN_FINDINGS: dict[str, str] = {
    "cap-drift": "SIM-15, SIM-16 (core): a run cap on an account served by the drift profile "
    "(cursor-only lists) never completes, refused or cycling",
}
#: Streams other streams fan out from (SIM-3).
PARENTS = ("users", "groups", "phishing_security_tests")
#: The quarantine in force (the campaign may empty it).
quarantined: set[str] = set(QUARANTINE)

FAULT_PATHS = (
    None,
    "/v1/users",
    "/v1/groups",
    "/v1/phishing/security_tests",
    "/v1/training/enrollments",
    "/v1/account",
    "/v1/training",
)


@dataclasses.dataclass
class TenantPlan:
    """One KnowBe4 account of the world."""

    name: str
    seed: int
    users: int
    profile: str
    key: str


@dataclasses.dataclass
class RunPlan:
    """Everything one run draws. ``clean`` runs are the convergence phase's (no chaos)."""

    pipeline: int
    tenant: str
    key: str
    advance: int = 0
    midrun: list[list[int]] = dataclasses.field(default_factory=list)
    url: str = "ip"
    server: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    org_quirks: list[str] = dataclasses.field(default_factory=list)
    faults: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    config: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    catalog: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    state: dict[str, t.Any] = dataclasses.field(default_factory=lambda: {"op": "resume"})
    signal: dict[str, t.Any] | None = None
    target: dict[str, t.Any] = dataclasses.field(default_factory=lambda: {"kind": "normal"})
    clean: bool = False
    #: ``sync``, or ``plan`` for ``--plan`` (text on stdout, no state).
    mode: str = "sync"
    #: A setting the key is pasted into instead of ``api_key`` (the key stays there too).
    misplaced_key: str = ""
    #: What happens to the shared budget ledger file before the run (see ``runner``).
    ledger: str = ""
    #: ``singer`` (``tap-knowbe4``), or ``airbyte`` (``source-knowbe4 read``: see
    #: :func:`as_airbyte`); a pipeline speaks one of them throughout.
    protocol: str = "singer"
    #: Who runs an Airbyte pipeline: ``platform`` (Airbyte: keeps the states the destination
    #: acknowledged, also from a sync that failed) or ``pyairbyte`` (keeps nothing from a
    #: read that failed; see :data:`SESSION_7_DRAWS`).
    airbyte_runner: str = "platform"
    #: The request of this run to ``/v1/users`` before which a user its earlier pages listed
    #: is deleted upstream (0: none; see ``page_shift``).
    delete_before_page: int = 0
    #: A key the run is configured with that the account no longer accepts ("": ``key``).
    stale_key: str = ""

    def describe(self) -> str:
        """One short line: what is unusual about this run."""
        parts = [f"p{self.pipeline}/{self.tenant}"]
        if self.advance:
            parts.append(f"+{self.advance / 3600:g}h")
        if self.midrun:
            parts.append("mid:" + ",".join(f"{n}+{s / 3600:g}h" for n, s in self.midrun))
        if self.url != "ip":
            parts.append(f"url={self.url}")
        if self.server:
            parts.append("server=" + ",".join(sorted(self.server)))
        if self.org_quirks:
            parts.append("quirks=" + ",".join(self.org_quirks))
        for fault in self.faults:
            parts.append(f"fault={fault['kind']}x{fault['count']}@{fault.get('path') or '*'}")
        config = self.config
        for name in ("page_size", "max_requests_per_run", "start_date", "pagination"):
            if name in config:
                parts.append(f"{name}={config[name]}")
        for flag in (
            "batch",
            "flattening",
            "maps",
            "activate",
            "members_endpoint",
            "user_risk",
            "fail_on_budget",
        ):
            if config.get(flag):
                parts.append(flag if config[flag] is True else f"{flag}={config[flag]}")
        if self.catalog.get("deselect"):
            parts.append("deselect=" + ",".join(self.catalog["deselect"]))
        if self.catalog.get("override"):
            parts.append("override=" + ",".join(sorted(self.catalog["override"])))
        if self.catalog.get("fields_off"):
            parts.append("fields_off")
        if self.state.get("op") != "resume":
            parts.append("state=" + json.dumps(self.state, separators=(",", ":")))
        if self.signal:
            parts.append(f"{self.signal['name']}@{self.signal['at_request']}")
        if self.target.get("kind") != "normal":
            parts.append("target=" + json.dumps(self.target, separators=(",", ":")))
        if self.mode != "sync":
            parts.append(f"--{self.mode}")
        if self.misplaced_key:
            parts.append(f"key-in={self.misplaced_key}")
        if self.ledger:
            parts.append(f"ledger={self.ledger}")
        if self.delete_before_page:
            parts.append(f"delete-before-users-page-{self.delete_before_page}")
        if self.stale_key:
            parts.append("stale-key")
        if self.protocol != "singer":
            parts.append(self.protocol)
            if self.airbyte_runner != "platform":
                parts.append(self.airbyte_runner)
        if self.clean:
            parts.append("clean")
        return " ".join(parts)


@dataclasses.dataclass
class SequencePlan:
    """The world and the runs of one seed."""

    seed: int
    start: str
    tenants: list[TenantPlan]
    runs: list[RunPlan]

    def tenant(self, name: str) -> TenantPlan:
        """The tenant called ``name``."""
        return next(x for x in self.tenants if x.name == name)

    def to_json(self) -> str:
        """The plan as JSON (one run per line, for regression files)."""
        head = {
            "seed": self.seed,
            "start": self.start,
            "tenants": [dataclasses.asdict(x) for x in self.tenants],
        }
        runs = ",\n".join(
            "  " + json.dumps(dataclasses.asdict(r), sort_keys=True) for r in self.runs
        )
        return json.dumps(head)[:-1] + ', "runs": [\n' + runs + "\n]}"

    @classmethod
    def from_json(cls, text: str) -> SequencePlan:
        """Read :meth:`to_json`'s output back."""
        raw = json.loads(text)
        return cls(
            seed=raw["seed"],
            start=raw["start"],
            tenants=[TenantPlan(**x) for x in raw["tenants"]],
            runs=[RunPlan(**r) for r in raw["runs"]],
        )


# -- drawing ------------------------------------------------------------------------------


def _key(r: random.Random, name: str) -> str:
    return f"kb4-sim-{name}-" + "".join(r.choice("0123456789abcdef") for _ in range(32))


def draw_world(seed: int, r: random.Random) -> tuple[str, list[TenantPlan]]:
    """The starting clock and the two accounts."""
    day = r.choice(EPOCH_DAYS)
    start = f"{day}T{r.randrange(6, 20):02d}:{r.randrange(60):02d}:00Z"
    profiles = ("documented", "documented", "documented", "tidy", "hostile")
    tenants = [
        TenantPlan("a", seed * 7 + 1, r.randrange(8, 31), r.choice(profiles), _key(r, "a")),
        TenantPlan("b", seed * 7 + 2, r.randrange(6, 16), r.choice(profiles), _key(r, "b")),
    ]
    return start, tenants


def draw_config(r: random.Random, previous: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """A pipeline's settings: the previous ones with a few changed (or all new)."""
    config = dict(previous or {})
    fresh = previous is None
    if fresh or r.random() < 0.3:
        config["page_size"] = r.choice((3, 5, 10, 25, 100, 500))
    if fresh or r.random() < 0.15:
        config.pop("max_requests_per_run", None)
        if r.random() < 0.35:
            config["max_requests_per_run"] = r.choice((3, 5, 8, 13, 21, 34, 55))
        if "cap" in quarantined:
            config.pop("max_requests_per_run", None)
    if fresh or r.random() < 0.1:
        config["activate"] = r.random() < 0.65
    if fresh or r.random() < 0.08:
        config["batch"] = r.choice((False, False, False, "jsonl", "gzip", "unwritable"))
        if "batch" in quarantined:
            config["batch"] = False
    if fresh or r.random() < 0.06:
        config["flattening"] = r.choice((0, 0, 0, 1, 2))
    if fresh or r.random() < 0.06:
        config["maps"] = r.choice(("", "", "", *STREAM_MAPS))
    if fresh or r.random() < 0.05:
        config["members_endpoint"] = r.random() < 0.2
    if fresh or r.random() < 0.05:
        config["user_risk"] = r.random() < 0.3
    if fresh or r.random() < 0.08:
        config["pagination"] = r.choice(("auto", "auto", "auto", "auto", "page", "cursor"))
    if fresh or r.random() < 0.1:
        config["max_retries"] = r.choice((0, 1, 2, 3))
    if fresh or r.random() < 0.05:
        config["fail_on_budget"] = r.random() < 0.15
    if fresh or r.random() < 0.05:
        config["quota_wait_seconds"] = r.choice((0, 1, 2))
        config["max_retry_wait_seconds"] = r.choice((0, 0.1, 0.1, 2))
    if fresh or r.random() < 0.04:
        config["daily_request_limit"] = r.choice((None, None, None, None, 60, 150))
    # start_date only moves later within a pipeline (see oracle.py, "owed")
    if (fresh or r.random() < 0.06) and r.random() < 0.3:
        offset = r.randrange(30, 360)
        current = config.get("start_offset_days")
        if current is None or offset < current:
            config["start_offset_days"] = offset
    return config


def draw_catalog(r: random.Random) -> dict[str, t.Any]:
    """Meltano's default (everything selected) most of the time, else a few changes."""
    catalog: dict[str, t.Any] = {}
    if r.random() < 0.25:
        catalog["deselect"] = sorted(r.sample(STREAMS, r.randrange(1, 6)))
        if "deselect-parents" in quarantined:
            catalog["deselect"] = [s for s in catalog["deselect"] if s not in PARENTS]
    if r.random() < 0.05:
        catalog["fields_off"] = {"users": ["comment", "job_title"]}
    if r.random() < 0.08:
        stream = r.choice((*RISK_STREAMS, "users", "groups"))
        if stream in RISK_STREAMS:
            catalog["override"] = {stream: {"replication-method": "FULL_TABLE"}}
        else:
            catalog["override"] = {
                stream: {"replication-method": "INCREMENTAL", "replication-key": "id"}
            }
        if "override" in quarantined:
            del catalog["override"]
    return catalog


def draw_faults(r: random.Random) -> list[dict[str, t.Any]]:
    """Scheduled faults of one run (none most of the time)."""
    if r.random() < 0.55:
        return []
    faults = []
    for _ in range(r.randrange(1, 4)):
        kind = r.choice(
            ("500", "502", "503", "drop", "truncate", "429", "429", "404-child", "403", "401")
        )
        if kind == "404-child" and "404-child" in quarantined:
            kind = "503"
        fault: dict[str, t.Any] = {
            "kind": kind,
            "path": r.choice(FAULT_PATHS),
            "count": r.choice((1, 1, 2, 3, 5)),
        }
        if kind == "429":
            fault["retry_after"] = r.choice((None, None, 0, 1, 30))
        if kind == "503" and r.random() < 0.1:  # an answer slower than the request timeout
            fault.update(kind="slow", retry_after=1.5, count=1)
        if kind == "404-child":
            fault["child"] = r.choice(("recipients", "group_risk", "members", "user_risk"))
            fault["index"] = r.randrange(0, 50)
            fault["path"] = None
        faults.append(fault)
    return faults


def draw_server(r: random.Random) -> dict[str, t.Any]:
    """Server behaviour that differs from the tenant's profile this run (usually none)."""
    if r.random() < 0.8:
        return {}
    server: dict[str, t.Any] = {}
    for _ in range(r.randrange(1, 3)):
        choice = r.randrange(7)
        if choice == 0:
            server["cursor_style"] = r.choice(("header", "envelope"))
        elif choice == 1:
            server["cursor_scope"] = r.choice(("all", "enrollments"))
        elif choice == 2:
            # round caps only: the tap finds a cap that is a multiple of 10 or 25 (README, "How
            # the tap decides a list ended"); a short first page of another size ends the list
            server["per_page_caps"] = {
                r.choice(("/v1/users", "/v1/groups", "/v1/training/enrollments")): r.choice(
                    (10, 20, 25)
                )
            }
        elif choice == 3:
            server["unpaginated"] = ["/v1/users/{user_id}/risk_score_history"]
        elif choice == 4:
            server["retry_after"] = r.random() < 0.5
        elif choice == 5:
            server["quirks"] = [r.choice(("by-id-array", "bearer-colon"))]
        else:
            server["fault_rate"] = r.choice((0.02, 0.05))
    return server


def draw_state_op(r: random.Random) -> dict[str, t.Any]:
    """Which state the run is given."""
    roll = r.random()
    if roll < 0.72:
        return {"op": "resume"}
    if roll < 0.78:
        return {"op": "lose"}
    if roll < 0.85:
        return {"op": "older", "back": r.randrange(1, 5)}
    if roll < 0.91:
        return {
            "op": "edit",
            "edit": r.choice(
                (
                    "drop-interrupted",
                    "drop-streams",
                    "drop-budget",
                    "earlier-bookmarks",
                    "wrong-types",
                )
            ),
        }
    if roll < 0.95:
        return {"op": "foreign"}
    return {"op": "merge"}


def draw_target(r: random.Random, signal: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """How the target reads this run."""
    roll = r.random()
    if signal is not None and roll < 0.25:
        after = r.randrange(1, 40)
        if "hang" not in quarantined and signal["name"] != "SIGKILL":
            return {"kind": "hang", "after": after}
    if roll < 0.78:
        return {"kind": "normal"}
    if roll < 0.86:
        return {"kind": "slow", "every": r.choice((20, 100)), "ms": r.choice((5, 20))}
    if roll < 0.93:
        return {"kind": "pause", "after": r.randrange(1, 200), "seconds": r.choice((0.5, 1.5))}
    if roll < 0.98:
        return {"kind": "close", "after": r.randrange(1, 300)}
    return {"kind": "full-disk"}


def draw_run(
    r: random.Random,
    pipeline: int,
    tenant: TenantPlan,
    key: str,
    config: dict[str, t.Any],
) -> RunPlan:
    """One chaotic run of ``pipeline`` (reading ``tenant`` with ``key``)."""
    plan = RunPlan(pipeline=pipeline, tenant=tenant.name, key=key, config=config)
    roll = r.random()
    if roll < 0.35:
        plan.advance = r.randrange(1, 72) * 3600
    elif roll < 0.45:
        plan.advance = r.randrange(3, 21) * 86400
    if r.random() < 0.15:
        plan.midrun = [[r.randrange(1, 60), r.randrange(1, 96) * 3600]]
    plan.url = r.choice(("ip",) * 12 + ("localhost", "slash"))
    plan.server = draw_server(r)
    if r.random() < 0.04:
        plan.org_quirks = r.sample(
            ("nested-content", "landing-page-hyphen", "risk-timestamp-dates"), r.randrange(1, 3)
        )
    plan.faults = draw_faults(r)
    plan.catalog = draw_catalog(r)
    maps = config.get("maps")
    if maps and "map-deselected" in quarantined and plan.catalog.get("deselect"):
        mapped = set(MAPS[maps])
        plan.catalog["deselect"] = [s for s in plan.catalog["deselect"] if s not in mapped]
    plan.state = draw_state_op(r)
    if r.random() < 0.1:
        plan.signal = {
            "name": r.choice(("SIGTERM", "SIGTERM", "SIGTERM", "SIGINT", "SIGKILL")),
            "at_request": r.randrange(1, 80),
        }
    plan.target = draw_target(r, plan.signal)
    if r.random() < 0.03:
        plan.mode = "plan"
        plan.target = {"kind": "normal"}
    if r.random() < 0.03:
        plan.misplaced_key = r.choice(MISPLACED_KEY_SETTINGS)
        if plan.misplaced_key == "budget_ledger_path" and "key-in-ledger-path" in quarantined:
            plan.misplaced_key = "region"
    if r.random() < 0.04:
        plan.ledger = r.choice(LEDGER_OPS)
    return plan


def extras_random(seed: int) -> random.Random:
    """The second random stream of ``seed`` (session 4's draws)."""
    return random.Random(f"session-4:{seed}")


def draw_extra_world(extra: random.Random, tenants: list[TenantPlan]) -> None:
    """Session 4: an account may be served by the drift profile."""
    for tenant in tenants:
        if extra.random() < 0.2 and "drift" not in quarantined:
            tenant.profile = "drift"


def draw_extra_config(extra: random.Random, config: dict[str, t.Any]) -> None:
    """Session 4: a pipeline's settings change where the state must notice (in place)."""
    if extra.random() < 0.06 and "members-flip" not in quarantined:
        config["members_endpoint"] = not config.get("members_endpoint")
    if extra.random() < 0.07 and "alias" not in quarantined:
        config["maps"] = extra.choice(("", "alias-groups", *ALIAS_MAPS))


def draw_extra_run(extra: random.Random, run: RunPlan) -> None:
    """Session 4: a run's selection or its end changes (in place)."""
    roll = extra.random()
    if roll < 0.08 and "reselect" not in quarantined:
        stream = extra.choice((*PARENTS, "group_members", "group_risk_score_history"))
        deselected = set(run.catalog.get("deselect", ())) ^ {stream}
        mapped = set(MAPS.get(run.config.get("maps") or "", {}))
        run.catalog["deselect"] = sorted(deselected - mapped)
    roll = extra.random()
    if roll < 0.06 and run.signal is None and run.mode == "sync" and "sigkill" not in quarantined:
        run.signal = {"name": "SIGKILL", "at_request": extra.randrange(2, 60)}
        if run.target.get("kind") == "full-disk":
            run.target = {"kind": "normal"}


def as_airbyte(run: RunPlan) -> None:
    """``run`` as an Airbyte connection runs it (in place).

    The source takes the tap's own settings only (no stream maps, flattening or BATCH: the
    configured catalog describes the records), selects whole streams (no field selection or
    replication overrides in the plan), has no ``--plan``, and its states are a list of
    per-stream states that nobody edits or merges by hand.
    """
    run.protocol = "airbyte"
    run.config = {**run.config, "batch": False, "maps": "", "flattening": 0, "activate": False}
    run.catalog = {k: v for k, v in run.catalog.items() if k == "deselect"}
    run.mode = "sync"
    if run.state.get("op") in ("edit", "merge"):
        run.state = {"op": "resume"}
    if run.target.get("kind") in ("full-disk", "close") and "airbyte-dead-output" in quarantined:
        run.target = {"kind": "normal"}
    if run.target.get("kind") == "hang" and "airbyte-hang" in quarantined:
        run.target = {"kind": "normal"}


def session_8_random(seed: int) -> random.Random:
    """The fifth random stream of ``seed`` (session 8's draws)."""
    return random.Random(f"session-8:{seed}")


def draw_session_8(s8: random.Random, run: RunPlan) -> None:
    """Session 8: where a server names its cursor, how it pages, a deletion between pages.

    Four rolls per chaotic run whatever is quarantined (the other runs stay the same); a
    server option the run drew already stays as drawn.
    """
    style, scope, paging, delete = s8.random(), s8.random(), s8.random(), s8.random()
    if style < 0.1 and "cursor-styles" not in quarantined:
        run.server.setdefault("cursor_style", MORE_CURSOR_STYLES[int(style * 1000) % 4])
        run.server.setdefault("cursor_scope", "all" if scope < 0.6 else "enrollments")
    if paging < 0.05 and "server-pagination" not in quarantined:
        run.server.setdefault("pagination", ("page", "cursor")[int(paging * 1000) % 2])
    if delete < 0.25 and "delete-between-pages" not in quarantined:
        # users come last in a run, often in one or two pages: mostly the first boundary
        run.delete_before_page = (2, 2, 2, 3)[int(delete * 1000) % 4]


def session_9_random(seed: int) -> random.Random:
    """The sixth random stream of ``seed`` (session 10's draws, for attack 9 #5)."""
    return random.Random(f"session-9:{seed}")


def draw_session_9(s9: random.Random, run: RunPlan) -> None:
    """A cursor forgotten once in 30 % of the runs (two rolls per run, always)."""
    roll, where = s9.random(), s9.random()
    if roll < 0.3 and "forget-cursor" not in quarantined:
        path = FORGET_PATHS[int(where * 1000) % len(FORGET_PATHS)]
        run.faults.append({"kind": "forget-cursor", "path": path, "count": 1})


def session_10_random(seed: int) -> random.Random:
    """The seventh random stream of ``seed`` (session 10's draws)."""
    return random.Random(f"session-10:{seed}")


def draw_session_10(s10: random.Random, run: RunPlan) -> None:
    """``__else__: null`` for one Singer run (one roll per run, always)."""
    roll = s10.random()
    if roll < 0.06 and run.protocol == "singer" and "else-null" not in quarantined:
        run.config["maps"] = "else-null"


def draw_stale_key(stale: random.Random, run: RunPlan) -> None:
    """Session 8: a run given a key its account no longer accepts (two draws per run)."""
    roll, bits = stale.random(), stale.getrandbits(128)
    if roll < 0.04 and "stale-key" not in quarantined:
        run.stale_key = f"kb4-sim-{run.tenant}-revoked-{bits:032x}"


def session_7_random(seed: int) -> random.Random:
    """The fourth random stream of ``seed`` (session 7's draws)."""
    return random.Random(f"session-7:{seed}")


def session_5_random(seed: int) -> random.Random:
    """The third random stream of ``seed`` (session 5's draws)."""
    return random.Random(f"session-5:{seed}")


@dataclasses.dataclass
class Session5:
    """What session 5 draws for one run, before its plan exists (always the same rolls)."""

    refresh: bool
    shape: bool
    cap: int | None
    merge: bool

    @classmethod
    def draw(cls, s5: random.Random, airbyte: bool) -> Session5:
        """Four rolls per run, whatever is quarantined (the other runs stay the same).

        Meltano's state operations (a full refresh, a merge) are drawn for Singer pipelines
        only; an Airbyte pipeline may get a cap.
        """
        refresh, shape, cap, merge = s5.random(), s5.random(), s5.random(), s5.random()
        caps = (5, 8, 13, 21, 34)
        return cls(
            refresh=refresh < 0.06 and not airbyte and "full-refresh" not in quarantined,
            shape=shape < 0.5,
            cap=caps[int(cap * 100) % len(caps)] if cap < 0.5 else None,
            merge=merge < 0.5 and not airbyte and "switch-merge" not in quarantined,
        )

    def shape_config(self, config: dict[str, t.Any], airbyte: bool) -> None:
        """A pipeline's settings changed with a full refresh, or capped on Airbyte (in place)."""
        if airbyte and self.cap and "airbyte-cap" not in quarantined:
            config.setdefault("max_requests_per_run", self.cap)
        if self.refresh and self.shape:
            current = config.get("maps") or ""
            config["maps"] = "" if current in ALIAS_MAPS else "alias-groups"
            if self.cap:
                config["max_requests_per_run"] = self.cap

    def shape_run(self, run: RunPlan, switched: bool) -> None:
        """The state a run is given: a full refresh, or a merge after a switch (in place)."""
        if self.refresh:
            run.state = {"op": "full-refresh"}
        elif switched and self.merge:
            run.state = {"op": "merge"}


def draw_sequence(seed: int, chaos_runs: int | None = None) -> SequencePlan:
    """The world and the chaotic runs of ``seed`` (the convergence runs are added later)."""
    r = random.Random(seed)
    extra = extras_random(seed)
    s5 = session_5_random(seed)
    start, tenants = draw_world(seed, r)
    draw_extra_world(extra, tenants)
    airbyte = {p for p in (0, 1) if extra.random() < 0.15 and "airbyte" not in quarantined}
    s7 = session_7_random(seed)
    pyairbyte = {p for p in (0, 1) if s7.random() < 0.5 and "pyairbyte" not in quarantined}
    s8 = session_8_random(seed)
    stale = random.Random(f"session-8-key:{seed}")
    s9 = session_9_random(seed)
    s10 = session_10_random(seed)
    n = chaos_runs if chaos_runs is not None else r.randrange(5, 14)
    keys = {x.name: x.key for x in tenants}
    reading = {0: "a", 1: "b"}
    configs: dict[int, dict[str, t.Any] | None] = {0: None, 1: None}
    runs = []
    pipeline = 0
    for _ in range(n):
        if r.random() < 0.15:
            pipeline = 1 - pipeline
        switched = r.random() < 0.04
        if switched:  # the same pipeline is pointed at the other account
            reading[pipeline] = "b" if reading[pipeline] == "a" else "a"
        tenant_name = reading[pipeline]
        if r.random() < 0.03:  # the account's key is rotated
            keys[tenant_name] = _key(r, tenant_name)
            switched = True
        config = draw_config(r, configs[pipeline])
        draw_extra_config(extra, config)
        session_5 = Session5.draw(s5, pipeline in airbyte)
        session_5.shape_config(config, pipeline in airbyte)
        configs[pipeline] = config
        tenant = next(x for x in tenants if x.name == tenant_name)
        run = draw_run(r, pipeline, tenant, keys[tenant_name], dict(config))
        draw_extra_run(extra, run)
        session_5.shape_run(run, switched)
        if tenant.profile == "drift" and "cap-drift" in quarantined:
            run.config.pop("max_requests_per_run", None)
        if pipeline in airbyte:
            as_airbyte(run)
            run.airbyte_runner = "pyairbyte" if pipeline in pyairbyte else "platform"
        draw_session_8(s8, run)
        draw_stale_key(stale, run)
        draw_session_9(s9, run)
        draw_session_10(s10, run)
        runs.append(run)
    return SequencePlan(seed=seed, start=start, tenants=tenants, runs=runs)


def clean_run(last: RunPlan, *, cursor_only: bool = False) -> RunPlan:
    """A convergence run after ``last``: same pipeline, account, key and settings, no chaos.

    Settings that cannot complete by design (a BATCH root that cannot be written, a stream
    map that raises, a stream map on a deselected stream, page numbers on a server that
    pages by cursor only: ``cursor_only``) are dropped: the convergence phase asks whether
    the tap gets there, not whether a broken configuration stays broken.
    """
    config = dict(last.config)
    if config.get("batch") == "unwritable":
        config["batch"] = "jsonl"
    maps = config.get("maps")
    if maps == "raises" or (maps and set(MAPS[maps]) & set(last.catalog.get("deselect", ()))):
        config["maps"] = ""
    if maps in ELSE_MAPS:  # every stream is owed again: what the map's run kept must not hide it
        config["maps"] = ""
    if config.get("daily_request_limit"):
        config["daily_request_limit"] = None
    if config.get("pagination") == "cursor" and not cursor_only:
        config["pagination"] = "auto"  # only enrollments page by cursor (documented)
    if config.get("pagination") == "page" and cursor_only:
        config["pagination"] = "auto"  # the server ignores page: the listing fails (README)
    return RunPlan(
        pipeline=last.pipeline,
        tenant=last.tenant,
        key=last.key,
        url=last.url,
        config=config,
        catalog={k: v for k, v in last.catalog.items() if k != "override"},
        clean=True,
        protocol=last.protocol,
        airbyte_runner=last.airbyte_runner,
    )
