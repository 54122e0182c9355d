"""A budget ledger shared by every run against the same account.

The daily quota belongs to the KnowBe4 account, not to one pipeline: two Meltano jobs on
the same account (different state IDs) would each believe they have the whole quota if
each kept count only in its own state. The ledger is a small JSON file (by default in the
user's cache directory) holding, per account, the current 24-hour window, the requests
counted in it by every run, and the server's last "quota spent" verdict. Accounts are keyed
by API host and a hash of the key (never the key). Writes take an exclusive lock and are
batched (at most one per second, and at the end of a run).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pathlib
import time
import typing as t

from tap_knowbe4.state import WINDOW, BudgetState, iso, utcnow

try:  # POSIX; elsewhere the ledger works without a lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("tap-knowbe4.ledger")
FLUSH_SECONDS = 1.0
#: How long to wait for another run holding the ledger's lock before counting without it.
LOCK_SECONDS = 10.0


class LedgerBusyError(OSError):
    """Another process held the ledger's lock for longer than :data:`LOCK_SECONDS`."""


def default_path() -> pathlib.Path:
    """``$XDG_CACHE_HOME/tap-knowbe4/budget-ledger.json`` (``~/.cache`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(cache) / "tap-knowbe4" / "budget-ledger.json"


def account_id(host: str, api_key: str) -> str:
    """``host|<16 hex>``: which account, without the key."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return f"{host}|{digest}"


class BudgetLedger:
    """The shared count for one account, merged into a file under a lock."""

    def __init__(self, path: pathlib.Path, account: str) -> None:
        """Use the ledger at ``path`` for ``account`` (see :func:`account_id`)."""
        self.path = path
        self.account = account
        self.pending = 0
        #: Set when a request was answered: the account's "quota spent" verdict is lifted.
        self.clear_verdict = False
        self._last_flush = 0.0
        self.broken = False

    @contextlib.contextmanager
    def _locked(self) -> t.Iterator[dict[str, t.Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            _lock(lock)
            try:
                try:
                    document = json.loads(self.path.read_text() or "{}")
                except (FileNotFoundError, ValueError):
                    document = {}
                if not isinstance(document, dict) or not isinstance(document.get("accounts"), dict):
                    document = {"accounts": {}}
                yield document
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(document, indent=1, sort_keys=True))
                tmp.replace(self.path)
            finally:
                if fcntl is not None:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def merge(self, budget: BudgetState, *, force: bool = False, adopt: bool = False) -> None:
        """Add this run's pending requests to the file and take the shared view back.

        ``budget`` is updated in place with the account's window, count and verdict.
        Without ``force`` the file is touched at most once per :data:`FLUSH_SECONDS`.
        With ``adopt`` (the first merge of a run), a count the state knows and the file
        does not (a ledger created or lost since) is kept.
        """
        now_mono = time.monotonic()
        if self.broken or (not force and now_mono - self._last_flush < FLUSH_SECONDS):
            return
        self._last_flush = now_mono
        try:
            with self._locked() as document:
                entry = document["accounts"].get(self.account) or {}
                shared = BudgetState.load(entry, utcnow(), lambda _text: None)
                _combine(shared, budget)
                if adopt and shared.window_start == budget.window_start:
                    shared.used = max(shared.used, budget.used)
                if self.clear_verdict:
                    shared.quota_spent_at = shared.quota_resets_at = None
                    self.clear_verdict = False
                shared.used += self.pending
                self.pending = 0
                dumped = shared.dump()
                dumped["updated"] = iso(utcnow())
                document["accounts"][self.account] = dumped
                _prune(document["accounts"])
            budget.window_start, budget.used = shared.window_start, shared.used
            budget.quota_spent_at = shared.quota_spent_at
            budget.quota_resets_at = shared.quota_resets_at
        except OSError as exc:
            self.broken = True
            logger.warning(
                "The shared budget ledger %s cannot be used (%s); counting in the state "
                "only. Set budget_ledger_path to a writable file, or budget_ledger false.",
                self.path,
                exc if isinstance(exc, LedgerBusyError) else type(exc).__name__,
            )


def _lock(file: t.IO[str]) -> None:
    """Take the exclusive lock, waiting at most :data:`LOCK_SECONDS`."""
    if fcntl is None:  # pragma: no cover
        return
    deadline = time.monotonic() + LOCK_SECONDS
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                msg = f"the lock was held for more than {LOCK_SECONDS:g} s"
                raise LedgerBusyError(msg) from None
            time.sleep(0.05)
        else:
            return


def _combine(shared: BudgetState, local: BudgetState) -> None:
    """Fold what this run knows (its window and the server's verdict) into the file's view."""
    if (
        (
            shared.window_start is None
            or (local.window_start is not None and local.window_start < shared.window_start)
        )
        and local.window_start is not None
        and utcnow() - local.window_start < WINDOW
    ):
        shared.window_start = local.window_start
    if local.quota_spent_at is not None and (
        shared.quota_spent_at is None or local.quota_spent_at > shared.quota_spent_at
    ):
        shared.quota_spent_at = local.quota_spent_at
        shared.quota_resets_at = local.quota_resets_at


def _prune(accounts: dict[str, t.Any]) -> None:
    """Forget accounts whose window ended long ago (the file never grows without bound)."""
    now = utcnow()
    for key in list(accounts):
        start = accounts[key].get("window_start") if isinstance(accounts[key], dict) else None
        updated = accounts[key].get("updated") if isinstance(accounts[key], dict) else None
        stamp = start or updated
        if not isinstance(stamp, str) or stamp < iso(now - 2 * WINDOW):  # type: ignore[operator]
            del accounts[key]
