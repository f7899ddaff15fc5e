"""Child processes of the demo and the one-demo-at-a-time lock.

Owns starting each child in its own session (its own process group, so a terminal's
Ctrl-C reaches only the demo, which then stops the children in order), asking the kernel
to send SIGTERM to a child if the demo itself dies (Linux ``PR_SET_PDEATHSIG``), stopping
every group with SIGTERM and then SIGKILL after a timeout, and the lock file holding the
running demo's PID. It knows nothing about nodes or the map.

Example
-------
>>> import sys, tempfile, os
>>> lock = DemoLock(os.path.join(tempfile.mkdtemp(), "demo.lock"))
>>> lock.acquire(out_dir="out")
>>> lock.holder()["pid"] == os.getpid()
True
>>> lock.release()
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Sequence

from emcomm.errors import UsageError

STOP_TIMEOUT_S = 10.0
LOCK_ENV = "EMCOMM_DEMO_LOCK"


class DemoAlreadyRunning(UsageError):
    """Another `emcomm demo` holds the lock."""


def default_lock_path() -> Path:
    """One lock per user on this machine (``$EMCOMM_DEMO_LOCK`` overrides it)."""
    env = os.environ.get(LOCK_ENV)
    if env:
        return Path(env)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"emcomm-demo-{uid}.lock"


class DemoLock:
    """An flock'ed file with the holder's PID: a second demo is refused with a plain message; a
    lock left by a demo that died (its PID gone, no flock held) is taken over and said so."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path else default_lock_path()
        self._fd: int | None = None
        self.stale_pid: int | None = None

    def holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def acquire(self, out_dir: str) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise UsageError(f"cannot lock {self.path}: {exc.strerror}") from None
            h = self.holder() or {}
            pid = h.get("pid", "?")
            raise DemoAlreadyRunning(
                f"an emcomm demo is already running (pid {pid}, output in {h.get('out_dir', '?')}); "
                f"stop it with Ctrl-C in its terminal or `kill {pid}`, then try again") from None
        old = self.holder()
        if old and isinstance(old.get("pid"), int) and old["pid"] != os.getpid():
            self.stale_pid = old["pid"]   # its process is gone or it would hold the flock
        info = json.dumps({"pid": os.getpid(), "out_dir": out_dir, "started": time.strftime("%Y-%m-%d %H:%M:%S")})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink()
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def _die_with_parent() -> None:
    # runs in the child between fork and exec: SIGTERM when the demo process dies
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG = 1
        except OSError:
            pass


class Children:
    """The demo's child processes, each in its own process group."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def start(self, name: str, argv: Sequence[str], log_path: Path, cwd: str | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(log_path, "ab")
        self._logs.append(log)
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd, env=env, start_new_session=True, preexec_fn=_die_with_parent)
        self.procs[name] = proc
        return proc

    def exited(self) -> dict[str, int]:
        """Children that have ended, with their exit status."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop_all(self, timeout_s: float = STOP_TIMEOUT_S) -> dict[str, str]:
        """SIGTERM every group, wait up to ``timeout_s``, SIGKILL what is left; how each ended."""
        how: dict[str, str] = {}
        for name, p in self.procs.items():
            if p.poll() is None:
                _signal_group(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for name, p in self.procs.items():
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
                how[name] = "stopped"
            except subprocess.TimeoutExpired:
                _signal_group(p.pid, signal.SIGKILL)
                p.wait(5)
                how[name] = "killed"
            _signal_group(p.pid, signal.SIGKILL)   # anything the child left in its group
        for log in self._logs:
            log.close()
        self._logs.clear()
        return how


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
