"""A budget ledger shared by every run against the same account: a small database, kept so.

The daily quota belongs to the KnowBe4 account, not to one pipeline: two Meltano jobs on
the same account (different state IDs) would each believe they have the whole quota if
each kept count only in its own state. The ledger is a small JSON file (by default in the
user's cache directory) holding, per account, the current 24-hour window, the requests
counted in it by every run, and the server's last "quota spent" verdict. Accounts are keyed
by API host and a hash of the key (never the key). Writes take an exclusive lock and are
batched (at most one per second, and at the end of a run).

Other writers share the file, so the tap treats it as theirs too:

* a symlink is followed: the file it points at is the one read and replaced (with the lock
  beside it), so every pipeline linking to one shared ledger keeps counting in it; a file's
  permissions survive the replacement;
* a file that is not a ledger (another tool's, text that is not JSON, a JSON document of
  another shape) is left untouched: the run counts in its state only, and says so;
* a damaged ledger (cut short, not valid JSON any more) is kept beside it as
  ``<name>.damaged-<time>`` and a new one started, with a warning; what can still be read
  of this account's count is kept;
* a count it cannot read is never dropped silently: an entry whose count is not a number
  stops the ledger for the run (untouched, with a warning); a window that starts in the
  future (a host whose clock runs ahead) keeps its count; a window is over only once it is
  over by every clock (:data:`~tap_knowbe4.state.CLOCK_SLACK`); of two counts for the same
  window the larger is kept;
* entries of other accounts are kept as they are, unless both their window and their last
  write ended two days ago (then the ledger says it forgot them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import pathlib
import re
import time
import typing as t

from tap_knowbe4.state import (
    CLOCK_SLACK,
    MOST_PLAUSIBLE_USED,
    WINDOW,
    BudgetState,
    iso,
    parse_instant,
    utcnow,
)

try:  # POSIX; elsewhere the ledger works without a lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("tap-knowbe4.ledger")
FLUSH_SECONDS = 1.0
#: How long to wait for another run holding the ledger's lock before counting without it.
LOCK_SECONDS = 10.0
#: Written into every ledger, so that a file of another tool is never taken for one.
MARK = {"written_by": "tap-knowbe4", "format": 1}
#: An account key: ``host|`` and 16 hex digits (:func:`account_id`).
_ACCOUNT = re.compile(r"[^|\s]+\|[0-9a-f]{16}")
#: The fields of an account's entry.
_FIELDS = {"window_start", "used", "quota_spent_at", "quota_resets_at", "updated"}


class LedgerBusyError(OSError):
    """Another process held the ledger's lock for longer than :data:`LOCK_SECONDS`."""


class LedgerRefusedError(Exception):
    """The file is not a ledger this tap may write, or holds a count it cannot read."""


def default_path() -> pathlib.Path:
    """``$XDG_CACHE_HOME/tap-knowbe4/budget-ledger.json`` (``~/.cache`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(cache) / "tap-knowbe4" / "budget-ledger.json"


def account_id(host: str, api_key: str) -> str:
    """``host|<16 hex>``: which account, without the key."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return f"{host}|{digest}"


@dataclasses.dataclass
class _Read:
    """What a read of the file found."""

    document: dict[str, t.Any]
    #: Said once, when the file was damaged and set aside.
    note: str | None = None
    #: This account's count salvaged from a damaged file, if any.
    salvaged: BudgetState | None = None


class BudgetLedger:
    """The shared count for one account, merged into a file under a lock."""

    def __init__(self, path: pathlib.Path, account: str, *, label: str | None = None) -> None:
        """Use the ledger at ``path`` for ``account`` (see :func:`account_id`).

        ``label`` names the ledger in messages (``budget_ledger_path``, whose value is never
        printed); the default ledger is named by its path.
        """
        self.path = path
        self.account = account
        self.label = label or str(path)
        self.pending = 0
        #: Set when a request was answered: the account's "quota spent" verdict is lifted.
        self.clear_verdict = False
        self._last_flush = 0.0
        self.broken = False
        #: How long to wait for the lock (None: :data:`LOCK_SECONDS`); see :meth:`hurry`.
        self.lock_seconds: float | None = None

    def hurry(self, seconds: float) -> None:
        """Wait at most ``seconds`` for the lock from now on (the run was asked to stop)."""
        current = LOCK_SECONDS if self.lock_seconds is None else self.lock_seconds
        self.lock_seconds = min(current, seconds)

    # -- the file --------------------------------------------------------------------

    @property
    def real_path(self) -> pathlib.Path:
        """The file the path names, symlinks followed (resolved at every write)."""
        return self.path.expanduser().resolve()

    @contextlib.contextmanager
    def _locked(self, account: str) -> t.Iterator[_Read]:
        real = self.real_path
        real.parent.mkdir(parents=True, exist_ok=True)
        with open(real.with_suffix(".lock"), "a+") as lock:  # the name every version locks
            _lock(lock, LOCK_SECONDS if self.lock_seconds is None else self.lock_seconds)
            try:
                read = _read(real, account)
                yield read
                _replace(real, read.document)
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
            with self._locked(self.account) as read:
                if read.note:
                    logger.warning("The shared budget ledger %s %s", self.label, read.note)
                accounts = read.document["accounts"]
                shared = _entry(accounts.get(self.account), utcnow())
                if read.salvaged is not None:
                    _keep_larger(shared, read.salvaged)
                _combine(shared, budget)
                if adopt:
                    _keep_larger(shared, budget)
                if self.clear_verdict:
                    shared.quota_spent_at = shared.quota_resets_at = None
                    self.clear_verdict = False
                shared.used += self.pending
                self.pending = 0
                dumped = shared.dump()
                dumped["updated"] = iso(utcnow())
                accounts[self.account] = dumped
                forgotten = _prune(accounts, keep=self.account)
            if forgotten:
                logger.info(
                    "The shared budget ledger %s forgot %d account(s) whose window and last "
                    "write ended over two days ago.",
                    self.label,
                    forgotten,
                )
            budget.window_start, budget.used = shared.window_start, shared.used
            budget.quota_spent_at = shared.quota_spent_at
            budget.quota_resets_at = shared.quota_resets_at
        except LedgerRefusedError as exc:
            self.broken = True
            logger.warning(
                "The shared budget ledger %s is left untouched: %s. This run counts its "
                "requests in its state only, so runs of other pipelines on the account are "
                "not counted: fix or move the file, or set budget_ledger_path.",
                self.label,
                exc,
            )
        except OSError as exc:
            self.broken = True
            logger.warning(
                "The shared budget ledger %s cannot be used (%s); counting in the state "
                "only. Set budget_ledger_path to a writable file, or budget_ledger false.",
                self.label,
                exc if isinstance(exc, LedgerBusyError) else type(exc).__name__,
            )


def _read(real: pathlib.Path, account: str) -> _Read:
    """The ledger at ``real``: new, ours, damaged (set aside) or refused (raises)."""
    if real.exists() and not real.is_file():
        msg = "it is not a regular file"
        raise LedgerRefusedError(msg)
    try:
        raw = real.read_bytes()
    except FileNotFoundError:
        return _Read({**MARK, "accounts": {}})
    if not raw.strip():  # empty: nothing anyone wrote
        return _Read({**MARK, "accounts": {}})
    try:
        document = json.loads(raw)
    except ValueError:
        return _damaged(real, raw, account)
    if not _is_ledger(document):
        msg = "it is not a tap-knowbe4 budget ledger (another tool's file?)"
        raise LedgerRefusedError(msg)
    return _Read(document)


def _is_ledger(document: object) -> bool:
    """A ledger: marked as one, or (written before the mark) nothing but accounts."""
    if not isinstance(document, dict) or not isinstance(document.get("accounts"), dict):
        return False
    if all(document.get(k) == v for k, v in MARK.items()):
        return True
    return set(document) == {"accounts"} and all(
        isinstance(key, str)
        and _ACCOUNT.fullmatch(key)
        and isinstance(entry, dict)
        and set(entry) <= _FIELDS
        for key, entry in document["accounts"].items()
    )


def _damaged(real: pathlib.Path, raw: bytes, account: str) -> _Read:
    """Text that looks like a ledger cut short is set aside; anything else is refused.

    This account's count is salvaged when the text still holds it (a file cut short keeps
    what came before the cut).
    """
    text = raw.decode("utf-8", "replace")
    if '"accounts"' not in text:
        msg = "it is not JSON, and not a tap-knowbe4 budget ledger (another tool's file?)"
        raise LedgerRefusedError(msg)
    aside = real.with_name(f"{real.name}.damaged-{utcnow():%Y%m%dT%H%M%S.%fZ}")
    os.replace(real, aside)
    salvaged = _salvage(text, account)
    kept = f"; this account's count ({salvaged.used}) was read from it" if salvaged else ""
    note = (
        f"was damaged (not valid JSON): it is kept as {aside.name} and a new one started{kept}. "
        "Counts of other runs in it could not be read: until the window resets the account "
        "may have used more of its quota than the ledger shows."
    )
    return _Read({**MARK, "accounts": {}}, note=note, salvaged=salvaged)


def _salvage(text: str, account: str) -> BudgetState | None:
    """The account's window and count from a ledger's text cut short, if still there."""
    start = text.find(json.dumps(account))
    if start < 0:
        return None
    end = text.find("}", start)
    entry = text[start : end if end >= 0 else len(text)]
    used = re.search(r'"used":\s*(\d{1,9})\b', entry)
    window = re.search(r'"window_start":\s*"([^"]{1,40})"', entry)
    when = parse_instant(window.group(1)) if window else None
    if used is None or when is None:
        return None
    return BudgetState(min(when, utcnow()), int(used.group(1)))


def _entry(raw: object, now: dt.datetime) -> BudgetState:
    """The account's entry; a count that cannot be read refuses the ledger (never 0)."""
    problems: list[str] = []
    if raw is None:
        return BudgetState()
    if not isinstance(raw, dict):
        msg = "this account's entry is not an object"
        raise LedgerRefusedError(msg)
    used = raw.get("used", 0)
    if isinstance(used, bool) or not isinstance(used, int) or not 0 <= used <= MOST_PLAUSIBLE_USED:
        msg = "this account's count is not a number of requests"
        raise LedgerRefusedError(msg)
    start = parse_instant(raw.get("window_start"))
    if start is None and raw.get("window_start") is not None:
        msg = "this account's window start is not a time"
        raise LedgerRefusedError(msg)
    start = min(start, now) if start is not None else None  # a clock ahead of ours
    if start is not None and now - start >= WINDOW + CLOCK_SLACK:  # over by every clock
        start, used = None, 0
    verdict = BudgetState.load(
        {k: raw.get(k) for k in ("quota_spent_at", "quota_resets_at")}, now, problems.append
    )
    state = BudgetState(start, used if start is not None else 0)
    state.quota_spent_at, state.quota_resets_at = verdict.quota_spent_at, verdict.quota_resets_at
    return state


def _keep_larger(shared: BudgetState, other: BudgetState) -> None:
    """Two counts of one window: the larger stands (a lost count never frees quota)."""
    if other.window_start is None or utcnow() - other.window_start >= WINDOW:
        return
    if shared.window_start is None or other.window_start < shared.window_start:
        shared.window_start = other.window_start
    shared.used = max(shared.used, other.used)


def _replace(real: pathlib.Path, document: dict[str, t.Any]) -> None:
    """Write ``document`` to ``real``: a temporary file renamed over it, permissions kept.

    A file with other hard links is rewritten in place instead (a rename would leave the
    other names holding the old ledger).
    """
    document.update(MARK)
    text = json.dumps(document, indent=1, sort_keys=True)
    with contextlib.suppress(FileNotFoundError):
        if real.stat().st_nlink > 1:
            with open(real, "r+", encoding="utf-8") as file:
                file.write(text)
                file.truncate()
            return
    tmp = real.with_name(f".{real.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, real.stat().st_mode & 0o7777)
        os.replace(tmp, real)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _lock(file: t.IO[str], seconds: float) -> None:
    """Take the exclusive lock, waiting at most ``seconds``."""
    if fcntl is None:  # pragma: no cover
        return
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                msg = f"the lock was held for more than {seconds:g} s"
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


def _prune(accounts: dict[str, t.Any], *, keep: str) -> int:
    """Forget accounts whose window and last write both ended over two days ago.

    An entry whose times cannot be read is kept as it is (it is not this tap's to judge).
    Returns how many were forgotten.
    """
    cutoff = utcnow() - 2 * WINDOW
    forgotten = 0
    for key in list(accounts):
        entry = accounts[key]
        if key == keep or not isinstance(entry, dict):
            continue
        written = [entry.get(k) for k in ("window_start", "updated") if entry.get(k) is not None]
        stamps = [parse_instant(stamp) for stamp in written]
        if stamps and None not in stamps and all(t.cast("dt.datetime", s) < cutoff for s in stamps):
            del accounts[key]
            forgotten += 1
    return forgotten
