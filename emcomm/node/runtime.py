"""The relay node process: drives one NodeCore with ZeroMQ sockets, a clock and the store.

This module owns the I/O of a live node: a ROUTER socket bound for peers (each peer's
routing id is its node id; a secure node names a peer by its CURVE key), one DEALER per
neighbour (monitored: a completed handshake tells the core to resend what was lost), a
PUB socket for telemetry, the local API socket, the emulated link each outgoing frame
passes through, the SQLite store with group commit, signals and the event loop. It must not make protocol decisions (the core
does): it executes the core's actions in order and feeds it frames, API requests, time
and link changes.

Frames between peers are two-part messages ``[link_id, data]``. A frame is handed to the
core only if its sender's routing id is a configured neighbour *and* the link id is one of
the links to that neighbour; anything else is dropped with a logged reason and a counter.

Custody: ``Persist``/``Forget``/``Deliver`` actions are gathered while a burst of input is
processed and committed in one synced transaction (group commit); only then is
``core.stored`` called, which releases the hop-acks and "accepted" receipts. ZeroMQ drops
frames queued towards a peer that disconnects; the core's hop-acks and retransmissions
recover them.

The clock is wall-clock seconds (``time.time``): times the core persists (expiry of seen
ids, retransmission deadlines) stay meaningful across a restart or a reboot, which a
monotonic clock does not promise.

Example (in a program; ``emcomm node`` does this)::

    rt = NodeRuntime(load_config("node.toml"))
    rt.start()
    rt.run()          # until SIGINT/SIGTERM or rt.stop()
"""

from __future__ import annotations

import collections
import dataclasses
import fcntl
import gc
import json
import logging
import math
import os
import signal
import socket
import threading
import time
import zlib
from typing import Any, Callable

import msgpack
import zmq

from emcomm.errors import EmcommError, RemoteInputError, UsageError
from emcomm.links.emulation import EmulatedLink, Sent
from emcomm.node import api as API
from emcomm.node import heap
from emcomm.node.actions import Deliver, Dropped, Forget, Persist, Receipt, Telemetry, Transmit
from emcomm.node.committer import GroupCommitter
from emcomm.node.config import RunConfig
from emcomm.node.terminal_link import TerminalLinks
from emcomm.node.core import SEEN_IDS_MAX, LinkConfig, NodeConfig, NodeCore
from emcomm.node.store import Batch, InboxEntry, MessageRecord, Store
from emcomm.node import wire
from emcomm.node.wire import ContentType
from emcomm.priority import Priority

log = logging.getLogger("emcomm.node")

MAX_BURST = 1024               # frames read from peers before one group commit
MAX_BURST_BYTES = 8 << 20      # ... or this many bytes of them
# While a commit runs, the next batch gathers until it holds this many messages or bytes;
# then the loop stops reading peers (ZeroMQ buffers, the senders' windows push back) so a
# batch, the write-ahead log and memory stay bounded under any load.
MAX_BATCH = 2 * MAX_BURST
MAX_BATCH_BYTES = 2 * MAX_BURST_BYTES
MAX_POLL_S = 5.0               # longest sleep when idle (signals and stop() wake the loop at once)
STATUS_PERIOD_S = 1.0          # snapshot published on the PUB socket this often
SEEN_PRUNE_PERIOD_S = 60.0     # expired duplicate-suppression ids are deleted from the store this often
HEAP_TRIM_AFTER_FRAMES = 20_000  # after this many frames in, once no frame has come for
HEAP_TRIM_QUIET_S = 2.0          # ... this long, the C heap's free memory goes back to the system
STORE_RETRY_S = 1.0            # wait before retrying a commit that failed
# The latest news of each submitted message (accepted, delivered, expired...) is kept in the
# store for `emcomm send` polling, across restarts, for RECEIPT_KEEP_S; the last RECENT_RECEIPTS
# are also kept in memory (most polls come soon after the send).
RECENT_RECEIPTS = 1_000
RECEIPT_KEEP_S = 7 * 86400.0
# Delivered messages stay in the inbox for the application this long: past the longest lifetime
# a message can have (a copy still on its way could not be delivered again after it), so a
# long-running node's store levels off.
INBOX_KEEP_S = wire.MAX_TTL_S + 86400.0
RUNTIME_FILE = "node.json"     # written in the data directory: how clients find the node
LOCK_FILE = "node.lock"
GC_THRESHOLDS = (50_000, 20, 100)   # CPython's default is (700, 10, 10); see tune_gc


def tune_gc() -> None:
    """Garbage-collector settings for a node process: call once, after ``start``, from the
    program that owns the process (``emcomm node`` does), not from a library or a test run.

    A relay allocates a few container objects per frame and keeps thousands in flight; with
    CPython's default thresholds the cyclic collector rescans them, and every object the
    imports left behind, over and over: 15-20 % of the relay's CPU per message in
    benchmarks/relay_bench.py. Everything alive after start-up is frozen (never scanned
    again) and collections run about 70 times less often. Reference counting still frees
    acyclic garbage at once; the core breaks its own message/copy cycles when it is done.

    Example (a program)::

        rt.start(); tune_gc(); rt.run()
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# Fault injection for chaos runs: a node started with this variable set runs its clock that many
# seconds ahead (or behind, when negative) of the machine's, as a laptop with a wrong clock would.
CLOCK_OFFSET_ENV = "EMCOMM_CLOCK_OFFSET_S"


def offset_clock(offset_text: str | None) -> Callable[[], float]:
    """``time.time``, shifted by ``offset_text`` seconds when given (see ``CLOCK_OFFSET_ENV``).

    >>> abs(offset_clock("-30")() + 30 - time.time()) < 1.0
    True
    """
    if not offset_text:
        return time.time
    try:
        offset_s = float(offset_text)
    except ValueError:
        raise UsageError(f"{CLOCK_OFFSET_ENV} must be a number of seconds, got {offset_text!r}") from None
    return lambda: time.time() + offset_s


class _Pending:
    """Store writes gathered during one burst, in action order, for one group commit."""

    def __init__(self) -> None:
        self.puts: dict[bytes, MessageRecord] = {}
        self.forgets: set[bytes] = set()
        self.replaced: set[bytes] = set()    # put again after a forget of this batch: maybe on disk
        self.seen: dict[bytes, tuple[float, int]] = {}   # msg_id -> (expires_s, hops it arrived with)
        self.kv: dict[str, bytes] = {}
        self.inbox: dict[bytes, InboxEntry] = {}
        self.receipts: dict[bytes, tuple[str, str, float]] = {}
        self.stored_ids: list[bytes] = []
        self.size_bytes = 0          # envelope bytes put (to bound a batch)

    def __bool__(self) -> bool:
        return bool(self.puts or self.forgets or self.seen or self.kv or self.inbox or self.receipts
                    or self.stored_ids)

    def persist(self, p: Persist) -> None:
        for r in p.records:
            self.put(r)
            self.stored_ids.append(r.msg_id)
        seen = self.seen
        for m, t, h in p.seen:
            seen[m] = (t, h)
        self.kv.update(p.kv)

    def put(self, r: MessageRecord) -> None:
        m = r.msg_id
        if m in self.forgets:       # forgotten and taken again (a message that looped back)
            self.forgets.discard(m)
            self.replaced.add(m)
        old = self.puts.get(m)
        if old is not None:
            self.size_bytes -= len(old.envelope)
        self.puts[m] = r
        self.size_bytes += len(r.envelope)

    def forget(self, ids: tuple[bytes, ...]) -> None:
        # a record forgotten before its commit is never written (a relayed message the next hop
        # acked first). The core takes an id in only while it does not hold it, so an earlier
        # commit can hold a record put in this batch only if it was forgotten and put again
        # here: only then does the delete go too (a delete that finds no row costs a lookup)
        for m in ids:
            r = self.puts.pop(m, None)
            if r is None:
                self.forgets.add(m)
                continue
            self.size_bytes -= len(r.envelope)
            if m in self.replaced:
                self.forgets.add(m)

    def discard(self, ids: list[bytes]) -> None:
        """Records (and their seen ids) that must never be stored: the core gave them up."""
        gone = set(ids)
        for m in gone:
            r = self.puts.pop(m, None)
            if r is not None:
                self.size_bytes -= len(r.envelope)
            self.seen.pop(m, None)
        self.stored_ids = [m for m in self.stored_ids if m not in gone]

    def batch(self) -> Batch:
        return Batch(tuple(self.puts.values()), tuple(self.forgets), tuple((m, *th) for m, th in self.seen.items()),
                     tuple(self.kv.items()), tuple(self.inbox.values()),
                     tuple((m, *r) for m, r in self.receipts.items()))


_NOBLOCK = int(zmq.NOBLOCK)                      # plain ints: no enum conversion per send
_NOBLOCK_SNDMORE = int(zmq.NOBLOCK | zmq.SNDMORE)


def _recv_parts(recv: Callable[..., Any], *, user_id: bool = False) -> Any:
    """One multipart message from a ROUTER socket (``recv`` is its bound method), as bytes;
    with ``user_id``, ``(parts, the connection's ZAP user id or None)``.

    ``recv_multipart`` asks the socket after every part whether more follow (``RCVMORE``):
    three socket-option calls per peer frame, more than half of its cost. A ROUTER message
    always has its sender's id and at least one more part; the later parts come as ZeroMQ
    frames, whose ``more`` flag (and metadata) is free. Raises ``zmq.Again`` when nothing is
    waiting.
    """
    parts = [recv(_NOBLOCK)]
    while True:
        frame = recv(copy=False)        # the rest of a multipart message has arrived with it
        parts.append(frame.bytes)
        if not frame.more:
            return (parts, frame.get("User-Id")) if user_id else parts


def _send_on(out: tuple[zmq.Socket, bytes], data: bytes) -> bool:
    """Send one frame on a link: ``out`` is (the peer's DEALER, the link id as bytes). False
    when ZeroMQ cannot take it now (not connected, or its queue is full)."""
    sock, link_bytes = out
    try:
        # send_multipart without its list handling; a DEALER takes the second part once it
        # took the first (ZeroMQ multipart messages are atomic), so Again comes on the first
        sock.send(link_bytes, _NOBLOCK_SNDMORE)
        sock.send(data, _NOBLOCK, copy=len(data) < 65536)
    except zmq.Again:
        return False
    return True


@dataclasses.dataclass
class _Peer:
    node_id: str
    endpoint: str
    socket: zmq.Socket
    link_ids: set[str]
    monitor: zmq.Socket | None = None     # handshake-succeeded events of ``socket``


class NodeRuntime:
    """One node process. ``start`` opens everything (clear errors), ``run`` loops, ``close`` ends."""

    def __init__(self, cfg: RunConfig, *, clock: Callable[[], float] | None = None,
                 context: zmq.Context | None = None, core_config: NodeConfig | None = None):
        self.cfg = cfg
        self.clock = clock or offset_clock(os.environ.get(CLOCK_OFFSET_ENV))
        self._ctx = context or zmq.Context.instance()
        self._core_config = core_config
        self._stop = threading.Event()
        # stop() and signals write a byte here so the poll returns at once
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._signals_installed = False
        self._wake_w.setblocking(False)
        self.counters: collections.Counter[str] = collections.Counter()
        self.receipts: collections.OrderedDict[bytes, tuple[str, str]] = collections.OrderedDict()
        self._waiting: dict[bytes, list[bytes]] = {}        # msg_id -> API client routing ids
        self._pending = _Pending()
        self._failed: _Pending | None = None                 # a batch whose commit failed, retried
        self._retry_at = 0.0
        self._next_status = 0.0
        self._next_seen_prune = 0.0
        self._frames_at_trim = 0          # frames_in at the last heap trim
        self._last_input_s = -math.inf    # when the last frame came in
        self._status_cb: Callable[[dict[str, Any]], None] | None = None
        self._status_cb_every_s = 0.0
        self._next_status_cb = 0.0
        self._sockets: list[zmq.Socket] = []
        self._lock_fd: int | None = None
        self.store: Store | None = None
        self._committer: GroupCommitter | None = None   # runs the group commits on a writer thread
        self.core: NodeCore | None = None
        self.links: dict[str, EmulatedLink] = {}
        self.terminals = TerminalLinks()      # links through serial Beidou/Tiantong terminals ([[terminal]])
        self.peers: dict[str, _Peer] = {}
        self._link_peer: dict[str, _Peer] = {}
        self._link_out: dict[str, tuple[zmq.Socket, bytes]] = {}    # link id -> (socket, id as bytes)
        # the links whose frames go straight to their socket (emulation off, not a terminal),
        # learnt at their first frame: _execute sends on these without the per-frame dispatch
        self._direct: dict[str, tuple[zmq.Socket, bytes]] = {}
        # (peer routing id, link id part) -> link id, for frames that passed the check once
        self._inbound: dict[tuple[bytes, bytes], str] = {}
        self.router: zmq.Socket | None = None
        self.api: zmq.Socket | None = None
        self.pub: zmq.Socket | None = None
        self.netsec: Any = None        # emcomm.node.netsec.NetSecurity when security is on

    # -- start / stop ----------------------------------------------------------------
    def start(self) -> None:
        """Lock the data directory, open and load the store, build the core, bind and connect."""
        cfg = self.cfg
        try:
            cfg.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the data directory {cfg.data_dir}: {exc.strerror}") from None
        self._lock()
        now = self.clock()
        self.store = Store.open(cfg.store_path,
                                max_size_bytes=int(cfg.store_max_mb * 1e6) if cfg.store_max_mb else None)
        self._committer = GroupCommitter(self.store, self._commit_done)
        if cfg.secure:
            from emcomm.node.netsec import NetSecurity   # PyNaCl and key files only when security is on
            self.netsec = NetSecurity(cfg)
            self._ctx = self.netsec.context               # its own context: one ZAP handler per node
        else:
            log.warning("node %s runs INSECURE (no roster): links are not authenticated and messages not signed; "
                        "for drills and local tests only", cfg.node_id)
        links = {n.link_id: LinkConfig(n.id, n.profile) for n in cfg.neighbours}
        self.terminals = TerminalLinks.open(cfg.terminals, self.clock)
        links.update(self.terminals.core_links())
        # per-message telemetry events only when a PUB socket will carry them
        core_cfg = (dataclasses.replace(self._core_config, links=links) if self._core_config
                    else NodeConfig(links=links, telemetry=bool(cfg.telemetry),
                                    seen_ids_max=cfg.seen_ids_max or SEEN_IDS_MAX))
        restored = self.store.load(now, seen_max=core_cfg.seen_ids_max)
        self.core = NodeCore(cfg.node_id, core_cfg, restored=restored,
                             security=self.netsec.security if self.netsec is not None else None)
        for n in cfg.neighbours:
            seed = (cfg.seed * 1_000_003) ^ zlib.crc32(f"{cfg.node_id}>{n.link_id}".encode())
            self.links[n.link_id] = EmulatedLink(n.profile, seed=seed, enabled=cfg.emulation)
        self.router = self._bind(zmq.ROUTER, cfg.listen, "listen")
        if self.netsec is None:
            # a restarted peer takes its routing id (= node id) back. A secure node names a
            # peer by its CURVE key instead (ZAP's User-Id): its peers connect without a routing
            # id, so no connection can take over another's (see NetSecurity.peer_of)
            self.router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.api = self._bind(zmq.ROUTER, cfg.api_endpoint, "api")
        if cfg.telemetry:
            self.pub = self._bind(zmq.PUB, cfg.telemetry, "telemetry")
        for n in cfg.neighbours:
            peer = self.peers.get(n.id)
            if peer is None:
                s = self._ctx.socket(zmq.DEALER)
                if self.netsec is None:
                    s.setsockopt(zmq.ROUTING_ID, cfg.node_id.encode())
                s.setsockopt(zmq.LINGER, 0)
                s.setsockopt(zmq.IMMEDIATE, 1)        # queue only towards a connected peer
                s.setsockopt(zmq.SNDHWM, 10_000)
                s.setsockopt(zmq.RECONNECT_IVL, 100)
                s.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
                s.setsockopt(zmq.HEARTBEAT_IVL, 1000)
                s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
                if self.netsec is not None:
                    self.netsec.client_socket(s, n.id)
                # told when the connection is up: what the core sent before it was lost
                monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
                s.connect(n.endpoint)
                self._sockets += [monitor, s]
                peer = self.peers[n.id] = _Peer(n.id, n.endpoint, s, set(), monitor)
            peer.link_ids.add(n.link_id)
            self._link_peer[n.link_id] = peer
        self._write_runtime_file()
        self._execute(self.core.tick(now), now)
        self._flush(now, wait=True)
        log.info("node %s up: listen %s, api %s, %d neighbour link(s), %d message(s) restored",
                 cfg.node_id, cfg.listen, cfg.api_endpoint, len(cfg.neighbours), len(restored.records))

    def _bind(self, kind: int, endpoint: str, what: str) -> zmq.Socket:
        s = self._ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if kind == zmq.ROUTER:
            s.setsockopt(zmq.ROUTER_MANDATORY, 0)
            s.setsockopt(zmq.RCVHWM, 100_000)
            if self.netsec is not None and what == "listen":
                self.netsec.server_socket(s)
        if self.netsec is not None and what in ("api", "telemetry"):
            self.netsec.local_server_socket(s, what, endpoint)   # CURVE on tcp://, file mode on ipc://
        if endpoint.startswith("ipc://"):
            path = endpoint[len("ipc://"):]
            if os.path.exists(path):
                os.unlink(path)   # left by a node that died; the data-dir lock says it is ours
        try:
            s.bind(endpoint)
        except zmq.ZMQError as exc:
            s.close(0)
            if exc.errno == zmq.EADDRINUSE:
                raise UsageError(f"{what} endpoint {endpoint} is in use (another node or program has it); "
                                 "choose another port") from None
            raise UsageError(f"cannot bind the {what} endpoint {endpoint}: {exc}") from None
        self._sockets.append(s)
        if self.netsec is not None and what in ("api", "telemetry"):
            self.netsec.bound(endpoint)
        return s

    def _lock(self) -> None:
        path = self.cfg.data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"another node is already running on the data directory {self.cfg.data_dir}; "
                             "stop it or give this node its own --data-dir") from None
        self._lock_fd = fd

    def _write_runtime_file(self) -> None:
        info = {"id": self.cfg.node_id, "pid": os.getpid(), "listen": self.cfg.listen,
                "api": self.cfg.api_endpoint, "telemetry": self.cfg.telemetry}
        if self.netsec is not None:   # clients need the server key of a tcp:// API or telemetry socket
            info["curve_public"] = self.netsec.identity.public.curve_public.decode("ascii")
        tmp = self.cfg.data_dir / (RUNTIME_FILE + ".tmp")
        tmp.write_text(json.dumps(info, indent=1))
        os.replace(tmp, self.cfg.data_dir / RUNTIME_FILE)

    def on_status(self, every_s: float, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(status)`` from the loop every ``every_s`` seconds (e.g. to print it)."""
        self._status_cb, self._status_cb_every_s = callback, float(every_s)
        self._next_status_cb = self.clock() + every_s

    def stop(self) -> None:
        """Ask the loop to end (thread- and signal-safe)."""
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # the buffer is full: the loop is already being woken

    def install_signal_handlers(self) -> None:
        """Ctrl-C and SIGTERM end the loop cleanly (store committed and closed)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._signals_installed = True

    def close(self) -> None:
        """Commit what is pending, close sockets and the store, release the data directory."""
        if self.store is not None and self.core is not None:
            try:
                self._flush(self.clock(), wait=True)
            except EmcommError as exc:
                log.error("final commit failed: %s", exc)
        if self._committer is not None:
            self._committer.close()
            self._committer = None
        for s in self._sockets:
            s.close(0)
        self._sockets.clear()
        self.terminals.close()
        if self.netsec is not None:
            self.netsec.close()
            self.netsec = None
        if self._signals_installed:
            signal.set_wakeup_fd(-1)
            self._signals_installed = False
        self._wake_r.close()
        self._wake_w.close()
        if self.store is not None:
            self.store.close()
            self.store = None
        try:
            (self.cfg.data_dir / RUNTIME_FILE).unlink()
        except OSError:
            pass
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- the loop --------------------------------------------------------------------
    def run(self) -> None:
        """Serve until ``stop`` (or a signal). Call ``start`` first."""
        assert self.core is not None and self.router is not None and self.api is not None
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.api, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        for fd in self.terminals.fds():
            poller.register(fd, zmq.POLLIN)
        if self.netsec is not None:
            poller.register(self.netsec.zap.socket, zmq.POLLIN)
        monitors = {p.monitor: p for p in self.peers.values() if p.monitor is not None}
        for m in monitors:
            poller.register(m, zmq.POLLIN)
        no_peers = zmq.Poller()           # used while the next batch is full (see _backlogged)
        for sock, events in poller.sockets:
            if sock is not self.router:
                no_peers.register(sock, events)
        while not self._stop.is_set():
            now = self.clock()
            timeout_s = self._timeout(now)
            ready = dict((no_peers if self._backlogged() else poller).poll(
                int(timeout_s * 1000) if timeout_s > 0 else 0))
            if self._wake_r.fileno() in ready:
                try:
                    self._wake_r.recv(4096)
                except OSError:
                    pass
            if self.netsec is not None and self.netsec.zap.socket in ready:
                self.netsec.zap.serve()
            for m in monitors.keys() & ready.keys():
                self._peer_connected(monitors[m], self.clock())
            self.step(now=self.clock(), peers=self.router in ready, api=self.api in ready)

    def _peer_connected(self, peer: _Peer, now: float) -> None:
        """The connection to ``peer`` completed its handshake: frames the core handed over
        before were dropped (ZeroMQ queues nothing for an unconnected peer), so the core
        resends its link-state and unacked frames on that peer's links now."""
        assert peer.monitor is not None and self.core is not None
        events = 0
        while True:
            try:
                peer.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            events += 1
        if not events:
            return
        self.counters["peer.connected"] += events
        log.info("connected to %s (%s)", peer.node_id, peer.endpoint)
        for link_id in sorted(peer.link_ids):
            self._execute(self.core.link_connected(link_id, now), now)
        self._flush(now)

    def step(self, now: float, *, peers: bool = True, api: bool = True) -> None:
        """One turn of the loop: read a burst, run timers, commit once, send what is due."""
        core = self.core
        assert core is not None
        if peers and not self._backlogged():
            self._read_peers(now)
        if api:
            self._read_api(now)
        self._execute(self.terminals.pump(core, now), now)
        wake = core.next_wakeup()
        if wake is not None and wake <= now:
            self._execute(core.tick(now), now)
        self._flush(now)
        if self.netsec is not None:
            self.netsec.after_step(self)
        self._release_due(now)
        if now >= self._next_seen_prune and self._committer is not None and not self._committer.busy:
            # every relayed message leaves a seen id in the store; without this the table only grows
            self._next_seen_prune = now + SEEN_PRUNE_PERIOD_S
            try:
                with self._store_access() as st:
                    self.counters["store.seen_expired"] += st.expire_seen(now)
                    self.counters["store.receipts_expired"] += st.expire_receipts(now - RECEIPT_KEEP_S)
                    self.counters["store.inbox_expired"] += st.expire_inbox(now - INBOX_KEEP_S)
            except EmcommError as exc:
                log.error("pruning expired seen ids failed (retried in %.0f s): %s", SEEN_PRUNE_PERIOD_S, exc)
        trim_at = self._heap_trim_at()
        if trim_at is not None and now >= trim_at:
            # a busy spell is over: without this RSS stays at its busiest level (heap.py)
            self._frames_at_trim = self.counters["frames_in"]
            if heap.trim():
                self.counters["heap_trims"] += 1
        if now >= self._next_status and (self.pub is not None or self._status_cb is not None):
            self._next_status = now + STATUS_PERIOD_S
            st = self.status(now)
            self._publish(b"status", st)
            if self._status_cb is not None and now >= self._next_status_cb:
                self._next_status_cb = now + self._status_cb_every_s
                self._status_cb(st)

    def _timeout(self, now: float) -> float:
        deadlines = [now + MAX_POLL_S, *self.terminals.deadlines()]
        if self.pub is not None or self._status_cb is not None:
            deadlines.append(self._next_status)
        wake = self.core.next_wakeup() if self.core else None
        if wake is not None:
            deadlines.append(wake)
        for link in self.links.values():
            t = link.next_arrival_s()
            if t is not None:
                deadlines.append(t)
        if self._failed is not None:
            deadlines.append(self._retry_at)
        trim_at = self._heap_trim_at()
        if trim_at is not None:
            deadlines.append(trim_at)
        return max(0.0, min(deadlines) - now)

    def _heap_trim_at(self) -> float | None:
        """When the heap is to be trimmed: once no frame has come for HEAP_TRIM_QUIET_S after
        HEAP_TRIM_AFTER_FRAMES since the last trim (None: not enough frames yet)."""
        if self.counters["frames_in"] - self._frames_at_trim < HEAP_TRIM_AFTER_FRAMES:
            return None
        return self._last_input_s + HEAP_TRIM_QUIET_S

    # -- input -----------------------------------------------------------------------
    def _read_peers(self, now: float) -> None:
        core, router = self.core, self.router
        assert core is not None and router is not None
        netsec = self.netsec
        budget_bytes = MAX_BURST_BYTES
        burst: list[tuple[str, bytes]] = []
        recv = router.recv
        inbound = self._inbound
        n_in = 0
        for _ in range(MAX_BURST):
            if budget_bytes <= 0:
                break
            try:
                if netsec is None:
                    parts = _recv_parts(recv)
                else:
                    parts, user_id = _recv_parts(recv, user_id=True)
                    node = netsec.peer_of(parts[0], user_id)
                    if node is None:
                        n_in += 1
                        self._drop_input("identity_mismatch", f"frame with routing id {parts[0]!r} from the connection "
                                         f"of {user_id!r} (a peer may only speak as the node its key is rostered to)")
                        continue
                    parts[0] = node.encode()     # the sender is who holds the key, whatever id it chose
            except zmq.Again:
                break
            n_in += 1
            if len(parts) != 3:
                self._drop_input("malformed", f"{len(parts) - 1} message part(s), expected 2 (link id, frame)")
                continue
            ident, link_raw, data = parts
            link_id = inbound.get((ident, link_raw))
            if link_id is None:
                peer_id = ident.decode("utf-8", "replace")
                link_id = link_raw.decode("utf-8", "replace")
                peer = self._link_peer.get(link_id)
                if peer is None or peer.node_id != peer_id:
                    self._drop_input("unknown_peer", f"frame from {peer_id!r} on link {link_id!r}, which is not configured")
                    continue
                if len(inbound) < 4 * len(self._link_peer) + 16:   # peers' ids are few; a forger's are not kept
                    inbound[(ident, link_raw)] = link_id
            budget_bytes -= len(data)
            burst.append((link_id, data))
        self.counters["frames_in"] += n_in
        if n_in:
            self._last_input_s = now
        if burst:   # one call for the burst: the core passes over its links once, not per frame
            self._execute(core.handle_frames(burst, now), now)

    def _backlogged(self) -> bool:
        """True while a commit runs and the next batch is already full: peers wait."""
        p = self._pending
        return (self._committer is not None and self._committer.busy
                and (len(p.stored_ids) >= MAX_BATCH or p.size_bytes >= MAX_BATCH_BYTES))

    def _drop_input(self, reason: str, detail: str) -> None:
        self.counters[f"dropped.{reason}"] += 1
        n = self.counters[f"dropped.{reason}"]
        if n <= 10 or n % 1000 == 0:   # log, but never let a flood of bad frames flood the log
            log.warning("dropped frame (%s, %d so far): %s", reason, n, detail)

    def _read_api(self, now: float) -> None:
        api = self.api
        assert api is not None
        for _ in range(256):
            try:
                parts = api.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            client, payload = parts[0], parts[-1]
            try:
                req = API.decode_request(payload)
                reply = self._serve(client, req, now)
            except RemoteInputError as exc:
                self.counters[f"api.{exc.reason}"] += 1
                reply = {"ok": False, "error": str(exc)}
            except EmcommError as exc:
                reply = {"ok": False, "error": str(exc)}
            except (TypeError, ValueError, KeyError) as exc:
                reply = {"ok": False, "error": f"bad request: {exc}"}
            if reply is not None:
                self._reply(client, reply)

    def _reply(self, client: bytes, reply: dict[str, Any]) -> None:
        assert self.api is not None
        try:
            self.api.send_multipart([client, b"", API.encode(reply)], zmq.NOBLOCK)
        except zmq.ZMQError:
            self.counters["api.reply_lost"] += 1

    def _serve(self, client: bytes, req: dict[str, Any], now: float) -> dict[str, Any] | None:
        core, store = self.core, self.store
        assert core is not None and store is not None
        op = req["op"]
        if op == "ping":
            return {"ok": True, "node": self.cfg.node_id}
        if op == "send":
            body = req.get("body", b"")
            if isinstance(body, str):
                body = body.encode("utf-8")
            if not isinstance(body, bytes):
                raise UsageError("send: body must be bytes or text")
            msg_id = req.get("msg_id")
            msg_id, actions = core.submit(
                str(req.get("to", "")), Priority.parse(req.get("priority", "routine")),
                ContentType.parse(req.get("content_type", "text")), body, now,
                ttl_s=req.get("ttl_s"), msg_id=bytes(msg_id) if msg_id else None)
            self._waiting.setdefault(msg_id, []).append(client)
            self._execute(actions, now)
            return None   # answered by the "accepted" receipt once stored
        if op == "receipt":
            status, detail = self._lookup_receipt(bytes(req.get("msg_id", b"")))
            return {"ok": True, "status": status, "detail": detail}
        if op == "status":
            return {"ok": True, **self.status(now)}
        if op == "inbox":
            with self._store_access() as st:
                entries = st.inbox(int(req.get("after_seq", 0)), min(int(req.get("limit", 1000)), 10_000))
            return {"ok": True, "messages": [dataclasses.asdict(e) for e in entries]}
        if op == "link":
            return {"ok": True, **self.set_link(str(req.get("link_id", "")), now,
                                                **{k: req[k] for k in ("up", "capacity_factor", "extra_loss",
                                                                       "extra_latency_s") if k in req})}
        raise UsageError(f"unknown op {op!r}")  # pragma: no cover - decode_request checks

    def _lookup_receipt(self, msg_id: bytes) -> tuple[str, str]:
        """The latest news of a message submitted here: recent ones from memory, older ones
        (or from before a restart) from the store; ("unknown", "") when there is none."""
        if msg_id in self.receipts:
            return self.receipts[msg_id]
        for batch in (self._pending, self._failed):
            if batch is not None and msg_id in batch.receipts:
                return batch.receipts[msg_id][:2]
        with self._store_access() as st:
            found = st.receipt(msg_id) if msg_id else None
        return found or ("unknown", "")

    def reconnect_peers(self) -> None:
        """Close every peer connection so each must pass ZAP again (after a roster change or
        a cut-off): the listener is re-bound and every DEALER reconnects; a DEALER towards a
        node that is no longer rostered, or was cut off, is closed for good. Frames lost on the
        way are recovered by hop-acks."""
        assert self.router is not None and self.netsec is not None
        self._rebind(self.router, self.cfg.listen)
        if self.pub is not None and self.cfg.telemetry and self.cfg.telemetry.startswith("tcp://"):
            # a CURVE telemetry socket: drop every subscriber so each must pass ZAP again (a
            # revoked or cut-off key's subscription ends here; the others reconnect by themselves)
            self._rebind(self.pub, self.cfg.telemetry)
        sec = self.netsec.security
        for peer in self.peers.values():
            peer.socket.disconnect(peer.endpoint)
            if sec.roster.active(peer.node_id) is not None and peer.node_id not in sec.blocked:
                self.netsec.client_socket(peer.socket, peer.node_id)
                peer.socket.connect(peer.endpoint)
            else:
                log.warning("no longer connecting to %s: revoked or cut off", peer.node_id)
        self.counters["security.reconnects"] += 1

    @staticmethod
    def _rebind(sock: zmq.Socket, endpoint: str) -> None:
        """Unbind and bind ``sock`` again: every connection to it is closed."""
        sock.unbind(sock.getsockopt(zmq.LAST_ENDPOINT).decode() if endpoint.endswith(":0") else endpoint)
        for attempt in range(200):      # the I/O thread releases the address asynchronously
            try:
                sock.bind(endpoint)
                return
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EADDRINUSE or attempt == 199:
                    raise
                time.sleep(0.01)

    def set_link(self, link_id: str, now: float, **conditions: Any) -> dict[str, Any]:
        """Change an emulated link's conditions and tell the core (as a hazard would)."""
        link = self.links.get(link_id)
        if link is None:
            raise UsageError(f"unknown link {link_id!r}; this node's links: {', '.join(sorted(self.links)) or 'none'}")
        lost = link.set_state(now, **conditions)
        self.counters["emulation.went_down"] += len(lost)
        self._execute(self.core.link_changed(link_id, link.state.up, now, rate_bps=link.rate_bps,  # type: ignore[union-attr]
                                             latency_s=link.latency_s, loss=link.loss), now)
        self._flush(now)
        return {"link_id": link_id, "up": link.state.up, "lost_in_flight": len(lost)}

    # -- actions ---------------------------------------------------------------------
    def _execute(self, actions: list[Any], now: float) -> None:
        pending, direct = self._pending, self._direct
        sent = 0
        for a in actions:
            kind = type(a)
            if kind is Transmit:
                out = direct.get(a.link_id)
                if out is None:
                    self._transmit(a, now)
                elif _send_on(out, a.data):
                    sent += 1
                else:
                    self.counters["dropped.peer_unreachable"] += 1
            elif kind is Persist:
                pending.persist(a)
            elif kind is Forget:
                pending.forget(a.msg_ids)
            elif kind is Deliver:
                e = a.envelope
                pending.inbox[e.msg_id] = InboxEntry(e.msg_id, e.src, e.dst, int(e.priority), int(e.content_type),
                                                     float(e.created_s), e.payload(), now)
                self.counters["delivered"] += 1
            elif kind is Receipt:
                self._receipt(a, now)
            elif kind is Dropped:
                self.counters[f"core_dropped.{a.reason}"] += 1
                log.debug("core dropped (%s): %s", a.reason, a.detail)
            elif kind is Telemetry:
                if self.pub is not None:
                    self._publish(b"event", a.event.as_dict())
        if sent:
            self.counters["frames_out"] += sent

    def _transmit(self, t: Transmit, now: float) -> None:
        if self.terminals.transmit(t, now):
            return
        link = self.links.get(t.link_id)
        if link is None:
            self.counters["dropped.unknown_link"] += 1
            log.error("core sent on unknown link %r", t.link_id)
            return
        if not self.cfg.emulation:
            self._send_now(t.link_id, t.data)
            self._direct[t.link_id] = self._link_out[t.link_id]
            return
        out = link.send(t.data, now)
        if not isinstance(out, Sent):
            self.counters[f"emulation.{out.reason}"] += 1
        elif out.arrival_s <= now:
            for arrival in link.arrivals(now):
                self._send_now(t.link_id, arrival.frame)

    def _release_due(self, now: float) -> None:
        for link_id, link in self.links.items():
            t = link.next_arrival_s()
            if t is not None and t <= now:
                for arrival in link.arrivals(now):
                    self._send_now(link_id, arrival.frame)

    def _send_now(self, link_id: str, data: bytes) -> None:
        out = self._link_out.get(link_id)
        if out is None:
            out = self._link_out[link_id] = (self._link_peer[link_id].socket, link_id.encode())
        if _send_on(out, data):
            self.counters["frames_out"] += 1
        else:   # not connected (or its queue is full): the hop-ack timeout will resend it
            self.counters["dropped.peer_unreachable"] += 1

    def _receipt(self, r: Receipt, now: float) -> None:
        self.receipts[r.msg_id] = (r.status, r.detail)
        self.receipts.move_to_end(r.msg_id)
        while len(self.receipts) > RECENT_RECEIPTS:
            self.receipts.popitem(last=False)
        self._pending.receipts[r.msg_id] = (r.status, r.detail, now)
        for client in self._waiting.pop(r.msg_id, []):
            self._reply(client, {"ok": True, "msg_id": r.msg_id, "status": r.status, "detail": r.detail})

    def _publish(self, topic: bytes, obj: dict[str, Any]) -> None:
        if self.pub is not None:
            try:
                self.pub.send_multipart([topic, msgpack.packb(obj, use_bin_type=True, default=str)], zmq.NOBLOCK)
            except zmq.ZMQError:
                self.counters["telemetry.lost"] += 1

    # -- group commit ----------------------------------------------------------------
    def _flush(self, now: float, *, wait: bool = False) -> None:
        """Hand what is pending to the writer thread as one group commit, and release what
        waited on a commit that has finished. ``wait`` commits everything before returning
        (start-up and shutdown); otherwise the loop goes on reading while the commit runs."""
        committer = self._committer
        assert committer is not None and self.core is not None
        while True:
            self._collect(now, block=wait)
            if committer.busy:
                if wait:
                    continue
                return   # keep gathering: the next batch goes when this commit is done
            if self._failed is not None:
                if now < self._retry_at:
                    return   # keep gathering; nothing is acknowledged until the retry succeeds
                failed, self._failed = self._failed, None
                self._merge(failed)
            if not self._pending:
                return
            pending, self._pending = self._pending, _Pending()
            if wait:        # start-up and shutdown: nothing else to do meanwhile
                committer.commit_here(pending.batch(), pending)
                continue
            # every other commit runs on the writer thread, however small: relayed messages are
            # handed on before their commit (cut-through), and a sync or a WAL checkpoint on the
            # loop's thread would hold up the next frames' forwarding
            committer.submit(pending.batch(), pending)
            return

    def _collect(self, now: float, *, block: bool) -> None:
        """Act on the outcome of a finished commit: ``core.stored`` (acks, receipts) or a retry."""
        assert self._committer is not None and self.core is not None
        done = self._committer.result(block=block)
        if done is None:
            return
        pending, exc = done
        if exc is not None:
            self.counters["store.errors"] += 1
            # submissions are given up (their senders hear "not accepted" and may send again);
            # frames from peers wait unacknowledged for the retry (the peer keeps custody)
            discarded, actions = self.core.persist_failed(pending.stored_ids, now)
            pending.discard(discarded)
            self.counters["store.refused_submissions"] += len(discarded)
            log.error("%s; nothing in this batch is acknowledged, %d submission(s) refused, the rest retried "
                      "in %.0f s", exc, len(discarded), STORE_RETRY_S)
            self._failed, self._retry_at = pending, now + STORE_RETRY_S
            for m in discarded:
                for client in self._waiting.pop(m, []):
                    self._reply(client, {"ok": False, "error": f"not accepted: {exc}. Nothing was stored; "
                                         f"send it again when the store has room (msg_id {m.hex()})"})
            self._execute(actions, now)
            return
        self.counters["store.commits"] += 1
        self.counters["store.records"] += len(pending.puts)
        if pending.stored_ids:
            self._execute(self.core.stored(pending.stored_ids, now), now)

    def _commit_done(self) -> None:
        # on the writer thread: wake the poll so the loop acts on the outcome at once
        try:
            self._wake_w.send(b"c")
        except OSError:
            pass  # the buffer is full (the loop is already being woken) or the node is closing

    def _store_access(self) -> Any:
        """The store, for reads from the loop's thread (waits for a running commit)."""
        assert self._committer is not None
        return self._committer.access()

    def _merge(self, older: _Pending) -> None:
        """Put a failed batch back in front of what was gathered since."""
        newer, self._pending = self._pending, older
        for m in newer.forgets:
            self._pending.forget((m,))
        self._pending.replaced |= newer.replaced
        for r in newer.puts.values():
            self._pending.put(r)
        self._pending.stored_ids += newer.stored_ids
        self._pending.seen.update(newer.seen)
        self._pending.kv.update(newer.kv)
        self._pending.inbox.update(newer.inbox)
        self._pending.receipts.update(newer.receipts)

    # -- status ----------------------------------------------------------------------
    def status(self, now: float) -> dict[str, Any]:
        """The core's snapshot plus runtime counters and emulated link figures."""
        assert self.core is not None and self.store is not None
        snap = dict(self.core.snapshot(now))
        with self._store_access() as st:
            held_in_store, inbox = st.count(), st.inbox_count()
        snap["runtime"] = {
            "counters": dict(self.counters),
            "held_in_store": held_in_store,
            "inbox": inbox,
            "emulation": self.cfg.emulation,
            "links": {lid: {"kind": l.profile.kind.value, "up": l.state.up, "in_flight": l.in_flight,
                            "rate_bps": l.rate_bps, "latency_s": l.latency_s, "loss": l.loss,
                            "neighbour": self._link_peer[lid].node_id,
                            "drops": {k: v for k, v in l.drops.items() if v}}
                      for lid, l in self.links.items()},
        }
        snap["runtime"]["terminals"] = self.terminals.status()
        return snap
