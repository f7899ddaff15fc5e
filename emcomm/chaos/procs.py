"""The chaos mesh's node processes: start, wait until answering, kill -9, pause, resume, stop,
restart with a changed environment, tear a store's last write, and read RSS / store size.

Owns the processes (each in its own process group via ``emcomm.demo.procs.Children``, so
they die with the harness) and one local API client per (thread, node). It knows nothing of
the schedule or the checker.

Example (in a program; the runner does this)::

    nodes = NodeProcs(out_dir, configs)
    nodes.start("cc"); nodes.wait_ready("cc")
    nodes.kill9("cc"); nodes.start("cc")
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from emcomm.demo.procs import Children
from emcomm.errors import EmcommError, UsageError
from emcomm.node.api import ApiClient
from emcomm.node.identity import load_identity
from emcomm.node.runtime import CLOCK_OFFSET_ENV
from emcomm.node.store import FULL_FLAG_ENV

READY_TIMEOUT_S = 30.0


class NodeProcs:
    """Every node process of one chaos run."""

    def __init__(self, out_dir: Path, configs: dict[str, Path], apis: dict[str, str]):
        self.out_dir = out_dir
        self.configs = configs
        self.apis = apis
        self.children = Children()
        self.offsets: dict[str, float] = {n: 0.0 for n in configs}
        self._clients = threading.local()
        (out_dir / "flags").mkdir(parents=True, exist_ok=True)
        (out_dir / "logs").mkdir(parents=True, exist_ok=True)

    # -- files -------------------------------------------------------------------------
    def full_flag(self, node: str) -> Path:
        return self.out_dir / "flags" / f"{node}.full"

    def log_path(self, node: str) -> Path:
        return self.out_dir / "logs" / f"{node}.log"

    def data_dir(self, node: str) -> Path:
        return self.out_dir / "data" / node

    # -- processes ---------------------------------------------------------------------
    def start(self, node: str) -> None:
        env = dict(os.environ)
        env[FULL_FLAG_ENV] = str(self.full_flag(node))
        env.pop(CLOCK_OFFSET_ENV, None)
        if self.offsets[node]:
            env[CLOCK_OFFSET_ENV] = repr(self.offsets[node])
        self.children.start(node, [sys.executable, "-m", "emcomm", "node", "--config", str(self.configs[node]),
                                   "--status-every", "0"], self.log_path(node), env=env)

    def wait_ready(self, node: str, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Wait until the node answers ``ping``; returns how long it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            proc = self.children.procs[node]
            if proc.poll() is not None:
                raise UsageError(f"node {node} exited with status {proc.returncode} at start; "
                                 f"see {self.log_path(node)}: {self.log_tail(node)}")
            try:
                self.call(node, "ping", timeout_s=0.5)
                return time.monotonic() - t0
            except EmcommError:
                time.sleep(0.1)
        raise UsageError(f"node {node} did not answer within {timeout_s:.0f} s; see {self.log_path(node)}")

    def kill9(self, node: str) -> None:
        proc = self.children.procs[node]
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        self.forget_clients(node)

    def stop(self, node: str) -> None:
        """SIGTERM (the node commits and closes its store), SIGKILL after 15 s."""
        proc = self.children.procs[node]
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except Exception:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.forget_clients(node)

    def pause(self, node: str) -> None:
        os.kill(self.children.procs[node].pid, signal.SIGSTOP)

    def resume(self, node: str) -> None:
        os.kill(self.children.procs[node].pid, signal.SIGCONT)

    def alive(self, node: str) -> bool:
        p = self.children.procs.get(node)
        return p is not None and p.poll() is None

    def stop_all(self) -> dict[str, str]:
        for node, p in self.children.procs.items():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)      # a paused node cannot act on SIGTERM
                except ProcessLookupError:
                    pass
        return self.children.stop_all()

    def log_tail(self, node: str, size: int = 600) -> str:
        try:
            return self.log_path(node).read_text(errors="replace")[-size:]
        except OSError:
            return ""

    # -- faults on files ---------------------------------------------------------------
    def tear_last_write(self, node: str, seed: int) -> int:
        """Append half a log frame of garbage to the (stopped) node's write-ahead log, as a
        write cut short by a power cut would leave; returns the bytes appended."""
        wal = self.data_dir(node) / "node.db-wal"
        page = 4096
        try:
            with open(wal, "rb") as f:
                header = f.read(32)
            if len(header) == 32:
                page = int.from_bytes(header[8:12], "big") or page
        except OSError:
            pass
        n = (page + 24) // 2
        junk = bytes((seed * 131 + i * 7) & 0xFF for i in range(n))
        with open(wal, "ab") as f:
            f.write(junk)
        return n

    def inbox_seq(self, node: str) -> int:
        """The highest inbox sequence number in the (stopped) node's store (0: none yet)."""
        path = self.data_dir(node) / "node.db"
        if not path.exists():
            return 0
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                row = conn.execute("SELECT MAX(seq) FROM inbox").fetchone()
        except sqlite3.Error as exc:
            raise UsageError(f"cannot read the inbox of stopped node {node} ({path}): {exc}") from exc
        return int(row[0] or 0)

    def rss_bytes(self, node: str) -> int | None:
        p = self.children.procs.get(node)
        if p is None or p.poll() is not None:
            return None
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def store_bytes(self, node: str) -> int:
        d = self.data_dir(node)
        return sum(os.path.getsize(d / f) for f in ("node.db", "node.db-wal") if (d / f).exists())

    # -- local API -----------------------------------------------------------------------
    def call(self, node: str, op: str, timeout_s: float = 5.0, **fields: Any) -> dict[str, Any]:
        """One API request from this thread's own client (ZeroMQ sockets are per thread)."""
        clients: dict[str, ApiClient] = self._clients.__dict__.setdefault("by_node", {})
        if node not in clients:
            clients[node] = ApiClient(self.apis[node], timeout_s=timeout_s, curve=self._curve(node))
        return clients[node].call(op, timeout_s=timeout_s, **fields)

    def _curve(self, node: str) -> tuple[bytes, bytes, bytes] | None:
        # a secure node's tcp:// API admits only the node's own key
        import tomllib
        key_dir = tomllib.loads(self.configs[node].read_text()).get("identity")
        if not key_dir:
            return None
        ident = load_identity(Path(key_dir))
        return ident.public.curve_public, ident.curve_secret, ident.public.curve_public

    def forget_clients(self, node: str) -> None:
        clients = self._clients.__dict__.get("by_node", {})
        c = clients.pop(node, None)
        if c is not None:
            c.close()
