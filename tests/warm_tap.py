"""Run the tap's command line in a new process that skips the ~1 s of Python imports.

A tap run started with ``subprocess`` spends most of its CPU importing the Singer SDK before
it sends a request; the CLI tests run hundreds of them. Here each pytest worker starts one
*warm* process that imports the tap once and then, for each run, forks a child that runs
``python -m tap_knowbe4`` (or the installed ``tap-knowbe4`` script) exactly as Python would:
its own pid, the test's environment, working directory, argv, stdin/stdout/stderr pipes,
exit code (or the signal that ended it), atexit handlers and a fresh random seed.

What a forked child cannot reproduce falls back to a cold ``subprocess.run``: another
program, or an environment that differs in what Python reads only at start-up (``PYTHON*``,
``LANG``, ``LC_*``). ``KNOWBE4_COLD_TAP=1`` makes every run cold (tests/test_warm_tap.py
checks that both give the same output). The installed ``source-knowbe4`` (the Airbyte
source) runs warm too.

:func:`popen` is ``subprocess.Popen`` for a run that is read while it works and may be sent a
signal at some request (the simulation's runs, tests/simulation/tap_process.py): the child's
own pid takes the signal, its stdout may be a pipe or any file (``/dev/full``), and its exit
code is the one ``Popen`` reports. Tests whose claim is about the process from its first
instruction (a signal before the tap has started, say) keep using ``subprocess.Popen``.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import pathlib
import random
import runpy
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t

#: Environment variables Python reads only at start-up: a run whose values differ from the
#: warm process's is started cold.
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LANG")

_MAX_MESSAGE = 1 << 20


def _startup_env(env: t.Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(_STARTUP_PREFIXES)}


def _entry_script(name: str = "tap-knowbe4") -> str:
    """The installed ``tap-knowbe4`` (or ``source-knowbe4``) script next to this interpreter."""
    return str(pathlib.Path(sys.executable).parent / name)


def _target(command: t.Sequence[str]) -> tuple[str, str] | None:
    """``("module", "tap_knowbe4")`` or ``("script", path)`` when ``command`` runs the tap
    (or the Airbyte source the package installs)."""
    if len(command) >= 3 and list(command[:3]) == [sys.executable, "-m", "tap_knowbe4"]:
        return ("module", "tap_knowbe4")
    for script in (_entry_script(), _entry_script("source-knowbe4")):
        if command and str(command[0]) == script:
            return ("script", script)
    return None


# --- the warm process (``python -m tests.warm_tap FD``) ---------------------------------


def _serve(control: socket.socket) -> dict:
    """Fork a child per request; return (in the child only) the request it must run.

    Each request forks a *waiter* that forks the tap child, sends back its pid, waits for
    it and sends its exit code (negative: the signal that ended it, like ``Popen``) and the
    CPU seconds it used. Waiters are reaped here (at each request, and all of them before
    this process exits), so the taps' CPU counts in this process's children, and so in the
    test worker's and in ``make test-fast``'s (bench/first_hour.py): a waiter the kernel
    reaped took its tap's CPU out of every count.
    """
    while True:
        _reap(block=False)
        message, fds, _flags, _addr = socket.recv_fds(control, _MAX_MESSAGE, 4)
        if not message:
            _reap(block=True)
            os._exit(0)  # the test worker has gone
        request = json.loads(message)
        status_fd, stdin_fd, stdout_fd, stderr_fd = fds
        if os.fork() == 0:  # the waiter
            control.close()
            pid = os.fork()
            if pid == 0:  # the tap
                for target, fd in ((0, stdin_fd), (1, stdout_fd), (2, stderr_fd)):
                    os.dup2(fd, target)
                for fd in fds:
                    os.close(fd)
                return request
            for fd in (stdin_fd, stdout_fd, stderr_fd):
                os.close(fd)
            os.write(status_fd, f"{pid}\n".encode())
            _, status, usage = os.wait4(pid, 0)
            code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
            os.write(status_fd, f"{code} {cpu}\n".encode())
            os._exit(0)
        for fd in fds:
            os.close(fd)


def _reap(*, block: bool) -> None:
    """Collect the waiters that have ended (with ``block``: every waiter, as it ends)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, 0 if block else os.WNOHANG)[0] > 0:
            pass


def _become(request: dict) -> None:
    """Turn this forked child into the run ``request`` describes (environment, cwd, argv)."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    random.seed()
    sys.argv = list(request["argv"])


def main() -> None:
    """The warm process: import the tap, then serve forks on the socket given as argv[1]."""
    control = socket.socket(fileno=int(sys.argv[1]))
    import tap_knowbe4.tap  # noqa: F401, PLC0415 - the import every child skips

    if threading.active_count() != 1:  # a fork copies only this thread: refuse to serve
        sys.exit("the tap started a thread at import; warm runs are unsafe")
    gc.freeze()  # what the import made is never collected: children do not copy it to scan it
    request = _serve(control)
    _become(request)
    kind, target = request["target"]
    if kind == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(target, run_name="__main__")


# --- the test side -------------------------------------------------------------------------


class _WarmProcess:
    """This worker's warm process and the socket to it."""

    def __init__(self, env: t.Mapping[str, str]) -> None:
        self.startup_env = _startup_env(env)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.warm_tap", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        atexit.register(self.stop)

    def stop(self) -> None:
        """End the warm process (it exits when its socket closes); forks already running go on."""
        self.control.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def start(
        self,
        kind_target: tuple[str, str],
        argv: list[str],
        env: t.Mapping[str, str],
        out_w: int,
        err_w: int,
        cwd: str | None = None,
    ) -> tuple[int, _Status]:
        """Fork a child writing to ``out_w``/``err_w`` (closed here); its pid and status."""
        status_ours, status_theirs = socket.socketpair()
        stdin = os.open(os.devnull, os.O_RDONLY)
        request = {
            "target": kind_target,
            "argv": argv,
            "env": dict(env),
            "cwd": cwd or os.getcwd(),
        }
        try:
            with self.lock:
                socket.send_fds(
                    self.control,
                    [json.dumps(request).encode()],
                    [status_theirs.fileno(), stdin, out_w, err_w],
                )
        finally:
            for fd in (status_theirs.fileno(), stdin, out_w, err_w):
                os.close(fd)
            status_theirs.detach()
        status = _Status(status_ours)
        pid_line = status.line(None)
        if not pid_line:
            status.close()
            msg = "the warm tap process is gone"
            raise RuntimeError(msg)
        return int(pid_line), status


class _Status:
    """The lines a run's waiter sends: the child's pid, then its exit code and CPU seconds."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def line(self, timeout: float | None) -> str | None:
        """The next line ("" once the waiter has gone), or None after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.sock], [], [], remaining)[0]:
                return None
            data = self.sock.recv(4096)
            if not data:
                return ""
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def exit_code(self, timeout: float | None) -> int | None:
        """The child's exit code once it has ended (its CPU seconds are noted), or None after
        ``timeout`` seconds."""
        line = self.line(timeout)
        if line is None:
            return None
        if not line:
            msg = "the warm tap process lost a run"
            raise RuntimeError(msg)
        code, cpu = line.split()
        _cpu_seconds.append(float(cpu))
        return int(code)

    def close(self) -> None:
        self.sock.close()


_warm: _WarmProcess | None = None

#: CPU seconds of each warm run of this worker (a cold run's are the worker's children's).
_cpu_seconds: list[float] = []


def warm_cpu_seconds() -> float:
    """CPU seconds the warm runs of this worker used so far (for measuring the suite)."""
    return sum(_cpu_seconds)


def _warm_process(env: t.Mapping[str, str]) -> _WarmProcess | None:
    """This worker's warm process, started on first use; None when ``env`` needs a cold run."""
    global _warm  # noqa: PLW0603 - one per pytest worker
    if os.environ.get("KNOWBE4_COLD_TAP") == "1":
        return None
    if _warm is None or _warm.process.poll() is not None:
        _warm = _WarmProcess(env)
    if _startup_env(env) != _warm.startup_env:
        return None
    return _warm


def prestart() -> None:
    """Start this worker's warm process now (when it has none): it imports the tap (~1 s)
    while the first tests run, instead of holding up the first run that needs it."""
    _warm_process(os.environ)


def _read_all(fds: list[int], deadline: float) -> dict[int, bytes] | None:
    """Everything written to ``fds`` until each is closed; None at ``deadline``."""
    chunks: dict[int, list[bytes]] = {fd: [] for fd in fds}
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        open_fds = set(fds)
        while open_fds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, 1 << 16)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    open_fds.discard(key.fd)
    return {fd: b"".join(parts) for fd, parts in chunks.items()}


def _text(data: bytes) -> str:
    """What ``subprocess.run(text=True)`` makes of ``data`` (universal newlines)."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def run(
    command: t.Sequence[str],
    *,
    env: t.Mapping[str, str] | None = None,
    timeout: float = 180,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command, capture_output=True, text=True, ...)``, warm when it can be.

    ``command`` that runs the tap (``python -m tap_knowbe4 ...`` or the installed script) is
    forked from the warm process; anything else runs cold.
    """
    env = dict(os.environ if env is None else env)
    target = _target(command)
    warm = _warm_process(env) if target is not None else None
    if warm is None or target is None:
        return subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=check,
        )
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid, status = warm.start(target, _argv(command, target), env, out_w, err_w)
    try:
        output = _read_all([out_r, err_r], time.monotonic() + timeout)
        if output is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(list(command), timeout)
        returncode = t.cast("int", status.exit_code(None))
    finally:
        for fd in (out_r, err_r):
            os.close(fd)
        status.close()
    result = subprocess.CompletedProcess(
        list(command), returncode, _text(output[out_r]), _text(output[err_r])
    )
    if check:
        result.check_returncode()
    return result


def _argv(command: t.Sequence[str], target: tuple[str, str]) -> list[str]:
    argv = [str(part) for part in command]
    return argv[2:] if target[0] == "module" else argv  # runpy sets argv[0] for a module


class WarmPopen:
    """The part of ``subprocess.Popen`` a run read while it works needs, for a forked child."""

    def __init__(
        self, args: list[str], pid: int, status: _Status, stdout: t.BinaryIO | None
    ) -> None:
        self.args = args
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._status = status
        self._lock = threading.Lock()

    def _ended(self, timeout: float | None) -> bool:
        if not self._lock.acquire(blocking=timeout != 0):
            return self.returncode is not None  # another thread is waiting for the end
        try:
            if self.returncode is None:
                self.returncode = self._status.exit_code(timeout)
                if self.returncode is not None:
                    self._status.close()
            return self.returncode is not None
        finally:
            self._lock.release()

    def poll(self) -> int | None:
        """The exit code, or None while the child runs."""
        self._ended(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        if not self._ended(timeout):
            raise subprocess.TimeoutExpired(self.args, t.cast("float", timeout))
        return t.cast("int", self.returncode)

    def send_signal(self, sig: int) -> None:
        """Signal the child (nothing once it has ended, as ``Popen`` does)."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the child."""
        self.send_signal(signal.SIGKILL)


def popen(
    command: t.Sequence[str],
    *,
    env: t.Mapping[str, str],
    cwd: pathlib.Path,
    stdout: t.BinaryIO | int,
    stderr: t.BinaryIO,
) -> subprocess.Popen[bytes] | WarmPopen:
    """``subprocess.Popen(command, stdin=DEVNULL, stdout=..., stderr=...)``, warm when it can be.

    ``stdout`` is ``subprocess.PIPE`` (then ``.stdout`` reads it) or an open file; ``stderr``
    an open file.
    """
    target = _target(command)
    warm = _warm_process(env) if target is not None else None
    if warm is None or target is None:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=dict(env),
            cwd=cwd,
        )
    if stdout == subprocess.PIPE:
        out_r, out_w = os.pipe()
    else:
        out_r, out_w = None, os.dup(t.cast("t.BinaryIO", stdout).fileno())
    err_w = os.dup(stderr.fileno())
    try:
        pid, status = warm.start(target, _argv(command, target), env, out_w, err_w, str(cwd))
    except BaseException:
        if out_r is not None:
            os.close(out_r)
        raise
    reader = None if out_r is None else open(out_r, "rb")  # noqa: SIM115 - the caller closes it
    return WarmPopen([str(part) for part in command], pid, status, reader)


if __name__ == "__main__":
    main()
