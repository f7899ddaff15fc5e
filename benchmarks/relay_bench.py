"""Relay benchmark: one emcomm relay hop (durable, group commit) side by side with a bare pyzmq relay.

Measured in one run, on loopback TCP, with the same harness process as source and sink:

- bare relay: a process that only unpacks and repacks msgpack (PULL → PUSH);
- emcomm relay: a real ``emcomm node`` process (emulation off) between a source and a sink
  that speak the wire format; the relay acks the source only after the message is committed
  and synced to SQLite, and forwards it to the sink, which hop-acks it back;
- minimal Python relay: ``minimal_relay`` below, with the same harness: the floor under any
  relay written in Python that keeps custody (read, check, hand on, commit, ack, and nothing
  else), so the table shows how much of the gap to the bare relay is the node's own work and
  how much is Python, ZeroMQ and a synced store.

Figures: 1 KiB messages/s (and the ratio emcomm / bare), 64 KiB goodput in Mbps, per-hop
latency p50/p99 at light load (one message in flight at a time, a pause between messages,
far below capacity), the relay's own CPU time per message (user + system, from /proc: a
figure that a busy machine disturbs less than the rates), the latency of one synced
one-record commit on the same disk (a hop acknowledges only after such a commit, so this is
the floor under the per-hop latency), and the idle CPU share and RSS of a node. Message ids are random, as real ones are (sequential ids would flatter the store). Targets (issue 5): ratio ≥ 0.25, goodput ≥ 300 Mbps, p99 < 5 ms, idle < 2 % CPU,
RSS < 150 MB. The last line printed is one JSON object.

Run: ``.venv/bin/python benchmarks/relay_bench.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import msgpack
import zmq

from emcomm.node.store import Batch, MessageRecord, Store
from emcomm.node.wire import Envelope, FrameType, HopAck, decode, encode_envelope, encode_hop_ack, Flags

ROOT = Path(__file__).resolve().parent.parent
STALL_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bare_relay(in_ep: str, out_ep: str) -> None:
    """The baseline: receive, unpack, repack, send. Nothing else."""
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind(in_ep)
    push = ctx.socket(zmq.PUSH)
    push.connect(out_ep)
    unpackb, packb = msgpack.unpackb, msgpack.packb
    while True:
        push.send(packb(unpackb(pull.recv())))


def minimal_relay(config_path: str) -> None:
    """The floor under any relay written in Python that keeps custody: read a peer frame, check
    it (``wire.decode_data``, the node's own check), drop a duplicate, hand it on with its hop
    count raised, and commit its record and seen id on a writer thread (the node's ``Store`` and
    ``GroupCommitter``); ack the previous hop once the commit is synced. A record the next hop
    acks before its commit is never written, as in the node. No priority queues, routing,
    retransmission, liveness, security, audit or status: the node's rate over this one's is
    what all of that costs; this one's over the bare relay's is what Python, ZeroMQ and a
    synced store cost before any of it. Speaks the node's peer protocol to the harness.
    """
    import tomllib

    from emcomm.node.committer import GroupCommitter
    from emcomm.node.core import SEEN_MARGIN_S
    from emcomm.node.wire import MAX_ACKS_PER_FRAME, decode_data, encode_in_transit

    cfg = tomllib.loads(Path(config_path).read_text())
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    me = roster = None
    if "identity" in cfg:       # MinimalSecureRelay: CURVE on every link, as the node with a roster
        from emcomm.node.identity import load_identity
        from emcomm.node.roster import load_roster
        me, roster = load_identity(cfg["identity"]), load_roster(cfg["roster"])
        router.curve_secretkey, router.curve_publickey = me.curve_secret, me.public.curve_public
        router.curve_server = True
    router.bind(cfg["listen"])
    out = {}
    for nb in cfg["neighbour"]:
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.ROUTING_ID, cfg["id"].encode())
        d.setsockopt(zmq.SNDHWM, 100_000)
        if me is not None and roster is not None:
            peer = roster.active(nb["id"])
            assert peer is not None
            d.curve_publickey, d.curve_secretkey = me.public.curve_public, me.curve_secret
            d.curve_serverkey = peer.curve_public
        d.connect(nb["endpoint"])
        out[nb["id"]] = (d, f"{cfg['id']}-{nb['id']}/{nb['kind']}".encode())
    (sink, sink_link), (src, src_link) = out["sink"], out["src"]
    data_dir = Path(cfg["data_dir"])
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(data_dir / "minimal.db")
    committer = GroupCommitter(store)
    held: dict[bytes, MessageRecord] = {}       # handed on, not yet acked by the next hop
    seen: set[bytes] = set()
    puts: dict[bytes, MessageRecord] = {}       # this batch's records (an acked one is dropped)
    batch_seen: list[tuple[bytes, float, int]] = []
    forgets: list[bytes] = []                   # committed earlier, acked since
    recv, noblock, noblock_more = router.recv, zmq.NOBLOCK, zmq.NOBLOCK | zmq.SNDMORE
    while True:
        router.poll(1 if committer.busy or batch_seen else 100)    # idle: no busy wake-ups beside the others
        now = time.time()
        for _ in range(1024):
            try:
                recv(noblock)
            except zmq.Again:
                break
            recv()
            data = recv()
            env = decode_data(data)
            if env is None:
                f = decode(data)
                if isinstance(f, HopAck):
                    for mid in f.msg_ids:   # a record not in this batch is in (or on its way to) the store
                        if held.pop(mid, None) is not None and puts.pop(mid, None) is None:
                            forgets.append(mid)
                continue
            mid = env.msg_id
            if mid in seen:
                continue
            seen.add(mid)
            fwd = encode_in_transit(env, env.ttl_s, env.hop_count + 1)
            sink.send(sink_link, noblock_more)
            sink.send(fwd, noblock)
            rec = MessageRecord(mid, env.priority, data, "queued", {"exp": now + env.ttl_s}, now)
            held[mid] = puts[mid] = rec
            batch_seen.append((mid, now + env.ttl_s + SEEN_MARGIN_S, env.hop_count))
        done = committer.result()
        if done is not None:
            ids, err = done
            if err is not None:
                raise err
            for i in range(0, len(ids), MAX_ACKS_PER_FRAME):
                src.send_multipart([src_link, encode_hop_ack(ids[i:i + MAX_ACKS_PER_FRAME])])
        if not committer.busy and batch_seen:
            committer.submit(Batch(puts=tuple(puts.values()), seen=tuple(batch_seen), forgets=tuple(forgets)),
                             token=[m for m, _, _ in batch_seen])
            puts, batch_seen, forgets = {}, [], []


# -- bare relay ----------------------------------------------------------------------
class Bare:
    def __init__(self, ctx: zmq.Context):
        self.in_ep = f"tcp://127.0.0.1:{free_port()}"
        self.out_ep = f"tcp://127.0.0.1:{free_port()}"
        self.sink = ctx.socket(zmq.PULL)
        self.sink.bind(self.out_ep)
        self.proc = subprocess.Popen([sys.executable, __file__, "--bare-relay", self.in_ep, self.out_ep])
        self.src = ctx.socket(zmq.PUSH)
        self.src.setsockopt(zmq.SNDHWM, 2000)
        self.src.connect(self.in_ep)
        self.rate(200, 64)  # wait until the path works

    def rate(self, n: int, size: int) -> float:
        body = os.urandom(size)
        frames = [msgpack.packb([1, i, body]) for i in range(n)]
        sent = got = 0
        t0 = time.perf_counter()
        last = t0
        while got < n:
            while sent < n:
                try:
                    self.src.send(frames[sent], zmq.NOBLOCK)
                    sent += 1
                except zmq.Again:
                    break
            if self.sink.poll(1):
                while True:
                    try:
                        msgpack.unpackb(self.sink.recv(zmq.NOBLOCK))
                        got += 1
                        last = time.perf_counter()
                    except zmq.Again:
                        break
            if time.perf_counter() - last > STALL_S:
                raise RuntimeError("bare relay stalled")
        return n / (time.perf_counter() - t0)

    def latencies(self, n: int, size: int) -> list[float]:
        body = os.urandom(size)
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            self.src.send(msgpack.packb([1, i, body]))
            msgpack.unpackb(self.sink.recv())
            out.append(time.perf_counter() - t0)
        return out

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


# -- emcomm relay --------------------------------------------------------------------
def _waiting_frames(sock: zmq.Socket) -> Iterator[bytes]:
    """The frame of each peer message waiting on ``sock`` ([routing id, link id, frame])."""
    recv = sock.recv
    while True:
        try:
            recv(zmq.NOBLOCK)
        except zmq.Again:
            return
        recv()
        yield recv()


class Relay:
    """A real `emcomm node` process between a source and a sink played by this process."""

    # the sink's msgpack parse: the same work as the bare relay's sink (SecureRelay must allow
    # the signature's integer ext keys)
    strict_map_key = True

    def __init__(self, ctx: zmq.Context, data_dir: Path, extra_toml: str = ""):
        ports = {k: free_port() for k in ("relay", "api", "src", "sink")}
        self.relay_ep = f"tcp://127.0.0.1:{ports['relay']}"
        # Loopback "fibre" with frames big enough for a 64 KiB message: the benchmark measures
        # the relay itself, not fragmentation for a 1,400-byte link.
        over = "[neighbour.overrides]\nmtu_bytes = 131072\nrate_up_bps = 10e9\nrate_down_bps = 10e9\nloss = 0.0\n"
        toml = (f'id = "relay"\nlisten = "{self.relay_ep}"\napi = "tcp://127.0.0.1:{ports["api"]}"\n'
                f'data_dir = "{data_dir}"\nemulation = false\n{extra_toml}'
                f'[[neighbour]]\nid = "src"\nendpoint = "tcp://127.0.0.1:{ports["src"]}"\nkind = "fibre"\n{over}'
                f'[[neighbour]]\nid = "sink"\nendpoint = "tcp://127.0.0.1:{ports["sink"]}"\nkind = "fibre"\n{over}')
        cfg = data_dir.parent / f"{data_dir.name}.toml"
        cfg.write_text(toml)
        self.src_link, self.sink_link = b"relay-src/fibre", b"relay-sink/fibre"
        self.src_in = self._server(ctx, "src", ports["src"])
        self.sink_in = self._server(ctx, "sink", ports["sink"])
        self.src_out = self._dealer(ctx, b"src")
        self.sink_out = self._dealer(ctx, b"sink")
        self.proc = subprocess.Popen(self._command(cfg), cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            self.rate(200, 64)  # warm up: the path works, routes are known
        except BaseException:
            self.close()
            raise

    def _command(self, cfg: Path) -> list[str]:
        return [sys.executable, "-m", "emcomm", "node", "--config", str(cfg), "--status-every", "0", "--quiet"]

    def _server(self, ctx: zmq.Context, who: str, port: int) -> zmq.Socket:
        s = ctx.socket(zmq.ROUTER)
        self._secure_server(s, who)
        s.bind(f"tcp://127.0.0.1:{port}")
        return s

    def _dealer(self, ctx: zmq.Context, ident: bytes) -> zmq.Socket:
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.ROUTING_ID, ident)
        s.setsockopt(zmq.SNDHWM, 100_000)
        self._secure_client(s, ident.decode())
        s.connect(self.relay_ep)
        return s

    def _secure_server(self, s: zmq.Socket, who: str) -> None:
        """Socket options for the source's or sink's listener before it binds (SecureRelay: CURVE)."""

    def _secure_client(self, s: zmq.Socket, who: str) -> None:
        """Socket options for the source's or sink's link to the relay (SecureRelay: CURVE)."""

    # the messages the source sends (subclasses: another class, TTL, or signed)
    priority, ttl_s = 3, 3600.0

    def _seal(self, env: Envelope) -> Envelope:
        return env

    def _frames(self, n: int, size: int) -> list[bytes]:
        body, seal = os.urandom(size), self._seal
        return [encode_envelope(seal(Envelope(msg_id=os.urandom(16), src="src", dst="sink", priority=self.priority,
                                              content_type=0, created_s=time.time(), ttl_s=self.ttl_s, body=body,
                                              flags=int(Flags.NO_RECEIPT)))) for _ in range(n)]

    def _drain(self) -> tuple[int, int]:
        """Read hop-acks at the source and data at the sink (acking it). Returns (acked, received).

        The relay's peer messages are always [routing id, link id, frame], so each is read with
        three plain ``recv`` calls (``recv_multipart`` asks the socket about every part): the
        harness shares the machine's cores with the relay and should take no more than it must.
        """
        acked = got = 0
        for data in _waiting_frames(self.src_in):
            f = decode(data)
            if isinstance(f, HopAck):
                acked += len(f.msg_ids)
        ids = []
        unpackb, strict = msgpack.unpackb, self.strict_map_key
        for data in _waiting_frames(self.sink_in):
            f = unpackb(data, strict_map_key=strict)
            if f[1] == FrameType.DATA:
                ids.append(f[2])
        for i in range(0, len(ids), 1000):
            self.sink_out.send_multipart([self.sink_link, encode_hop_ack(ids[i:i + 1000])])
        return acked, len(ids)

    def rate(self, n: int, size: int, window: int = 4000) -> float:
        frames = self._frames(n, size)
        sent = acked = got = 0
        poller = zmq.Poller()
        poller.register(self.src_in, zmq.POLLIN)
        poller.register(self.sink_in, zmq.POLLIN)
        t0 = time.perf_counter()
        last = t0
        send, link, more = self.src_out.send, self.src_link, zmq.SNDMORE
        while got < n:
            while sent < n and sent - acked < window:
                send(link, more)
                send(frames[sent])
                sent += 1
            poller.poll(5)
            a, g = self._drain()
            acked, got = acked + a, got + g
            if a or g:
                last = time.perf_counter()
            elif time.perf_counter() - last > STALL_S:
                raise RuntimeError(f"emcomm relay stalled: sent {sent}, acked {acked}, received {got}")
        return n / (time.perf_counter() - t0)

    def latencies(self, n: int, size: int) -> list[float]:
        out = []
        for frame in self._frames(n, size):
            t0 = time.perf_counter()
            self.src_out.send_multipart([self.src_link, frame])
            got = 0
            while not got:
                self.sink_in.poll(1000)
                _, got = self._drain()
            out.append(time.perf_counter() - t0)
            time.sleep(0.002)
            self._drain()
        return out

    def cpu_s(self) -> float:
        """User + system CPU seconds the relay process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def idle(self, seconds: float) -> tuple[float, float]:
        """CPU share and RSS (MB) of the relay process while nothing is sent."""
        self._drain()
        cpu_s = self.cpu_s
        c0, t0 = cpu_s(), time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:  # keep answering heartbeats like a peer would
            time.sleep(0.2)
            self._drain()
        share = (cpu_s() - c0) / (time.monotonic() - t0)
        rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
                      if line.startswith("VmRSS:"))
        return share, rss_kb / 1024

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- security on vs off (issue 6) -------------------------------------------------------
# ZMTP CURVE (RFC 26, https://rfc.zeromq.org/spec/26/): each frame travels as a MESSAGE
# command: 8-byte name "\x07MESSAGE", 8-byte short nonce, 1 flags byte inside the box and a
# 16-byte Poly1305 tag, i.e. 33 bytes more than the plain frame; a peer message is 2 frames.
CURVE_BYTES_PER_FRAME = 33


class SecureRelay(Relay):
    """The same relay with every security feature on: CURVE + ZAP on its links, the sender
    check on every frame, end-to-end signed envelopes (verified at the relay when the class
    asks for it), per-sender rate limits and the hash-chained audit log."""

    strict_map_key = False

    def __init__(self, ctx: zmq.Context, data_dir: Path, *, priority: int = 3):
        from emcomm.node.identity import Identity
        from emcomm.node.roster import Roster
        from emcomm.node.signing import Signer

        self.priority = priority
        auth = Identity.generate("authority", name="Bench", org="bench", phone="", role="authority")
        ids = {n: Identity.generate(n, name=n, org="bench", phone="", role="commander") for n in ("relay", "src", "sink")}
        roster = Roster.empty(auth.public.verify_key)
        for ident in ids.values():
            roster = roster.add(ident.public)
        keys = data_dir.parent / f"{data_dir.name}-keys"
        keys.mkdir(parents=True)
        roster.sign(auth, 0.0).save(keys / "roster.json")
        ids["relay"].save(keys / "relay")
        self.ids, self.signer = ids, Signer(ids["src"])
        super().__init__(ctx, data_dir, extra_toml=(
            f'identity = "{keys / "relay"}"\nroster = "{keys / "roster.json"}"\n'
            # the source is one sender sending as fast as it can: its bucket must not be the limit here
            'rate_limits = {routine = [1e7, 1e7], immediate = [1e7, 1e7]}\n'))

    def _secure_server(self, s: zmq.Socket, who: str) -> None:
        s.curve_secretkey, s.curve_publickey = self.ids[who].curve_secret, self.ids[who].public.curve_public
        s.curve_server = True

    def _secure_client(self, s: zmq.Socket, who: str) -> None:
        me = self.ids[who]
        s.curve_publickey, s.curve_secretkey = me.public.curve_public, me.curve_secret
        s.curve_serverkey = self.ids["relay"].public.curve_public

    def _seal(self, env: Envelope) -> Envelope:
        return self.signer.sign(env)


class MinimalRelay(Relay):
    """``minimal_relay`` in a process of its own, in place of the node, with the same harness."""

    def _command(self, cfg: Path) -> list[str]:
        return [sys.executable, __file__, "--minimal-relay", str(cfg)]


class MinimalSecureRelay(MinimalRelay, SecureRelay):
    """``minimal_relay`` with CURVE on its links and signed messages (no sender check, rate
    limits or audit): the floor under a secure relay written in Python."""


def security_section(ctx: zmq.Context, tmp: Path, bare: Bare, relay: Relay, n1k: int, n64k: int,
                     rounds: int) -> dict[str, float]:
    """Security off vs on, side by side in this run (interleaved with the bare relay)."""
    secure = SecureRelay(ctx, tmp / "secure-data")
    checked = SecureRelay(ctx, tmp / "checked-data", priority=1)   # IMMEDIATE: verified at the relay too
    floor = MinimalSecureRelay(ctx, tmp / "minimal-secure-data")
    try:
        b1, off1, on1, chk1, on64, m1 = [], [], [], [], [], []
        for _ in range(rounds):
            b1.append(bare.rate(n1k, 1024))
            off1.append(relay.rate(n1k, 1024))
            on1.append(secure.rate(n1k, 1024))
            chk1.append(checked.rate(n1k, 1024))
            m1.append(floor.rate(n1k, 1024))
            on64.append(secure.rate(n64k, 65536))
    finally:
        floor.close()
        secure.close()
        checked.close()
    plain = Envelope(msg_id=os.urandom(16), src="src", dst="sink", priority=3, content_type=0,
                     created_s=time.time(), ttl_s=3600.0, body=b"x" * 1024)
    sig_bytes = len(encode_envelope(secure.signer.sign(plain))) - len(encode_envelope(plain))
    b1m, off1m, on1m, chk1m, on64m, m1m = (statistics.median(x) for x in (b1, off1, on1, chk1, on64, m1))
    print(f"\nsecurity (issue 6)        {'bare relay':>14}{'security off':>14}{'security on':>14}  note")
    print(f"{'1 KiB msgs/s ROUTINE':26}{b1m:>14,.0f}{off1m:>14,.0f}{on1m:>14,.0f}  "
          f"on/bare {on1m / b1m:.3f} (target ≥ 0.15)")
    print(f"{'1 KiB msgs/s IMMEDIATE':26}{'':>14}{'':>14}{chk1m:>14,.0f}  every message verified at the relay too: "
          f"on/bare {chk1m / b1m:.3f}")
    print(f"{'1 KiB msgs/s, minimal':26}{'':>14}{'':>14}{m1m:>14,.0f}  a minimal Python relay with CURVE links and signed "
          f"messages (no checks, limits or audit): {m1m / b1m:.3f}")
    print(f"{'64 KiB goodput Mbps':26}{'':>14}{'':>14}{on64m * 65536 * 8 / 1e6:>14,.0f}  target ≥ 300")
    print(f"{'overhead bytes per msg':26}{'':>14}{0:>14}{sig_bytes:>14}  signature block, on every link kind "
          f"(target ≤ 100); CURVE adds {2 * CURVE_BYTES_PER_FRAME} per message on a ZeroMQ link")
    return {"secure_vs_bare_1k": round(on1m / b1m, 4), "secure_goodput_mbps_64k": round(on64m * 65536 * 8 / 1e6, 1),
            "secure_msgs_per_s_1k": round(on1m), "insecure_msgs_per_s_1k_same_rounds": round(off1m),
            "secure_verified_vs_bare_1k": round(chk1m / b1m, 4),
            "minimal_secure_python_relay_vs_bare_1k": round(m1m / b1m, 4),
            "secure_overhead_bytes_per_msg": sig_bytes, "curve_overhead_bytes_per_msg": 2 * CURVE_BYTES_PER_FRAME}


def store_commit_latencies(data_dir: Path, n: int) -> list[float]:
    """Seconds per synced one-record commit on this disk: the floor under a light-load hop.

    A relay acknowledges a message only after such a commit (WAL, synchronous=FULL), so the
    per-hop latency can be no better than the disk's fsync; printed next to the relay's p99.
    """
    out = []
    with Store.open(data_dir / "fsync-probe.db") as store:
        prev = None
        for _ in range(n):
            rec = MessageRecord(os.urandom(16), 3, os.urandom(1100), "queued", {"exp": 1.0}, 0.0)
            t0 = time.perf_counter()
            store.commit(Batch(puts=(rec,), seen=((rec.msg_id, 1e9, 0),), forgets=(prev,) if prev else ()))
            out.append(time.perf_counter() - t0)
            prev = rec.msg_id
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer messages (a smoke run)")
    ap.add_argument("--bare-relay", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--minimal-relay", metavar="CONFIG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare_relay:
        bare_relay(*args.bare_relay)
        return
    if args.minimal_relay:
        minimal_relay(args.minimal_relay)
        return
    n1k, n64k, nlat, idle_s, rounds = (5000, 300, 200, 3.0, 1) if args.quick else (40000, 2000, 1000, 10.0, 3)
    ctx = zmq.Context()
    with tempfile.TemporaryDirectory() as tmp:
        bare = Bare(ctx)
        relay = Relay(ctx, Path(tmp) / "relay-data")
        floor = MinimalRelay(ctx, Path(tmp) / "minimal-data")
        try:
            idle_cpu, rss_mb = relay.idle(idle_s)   # a fresh node, as a responder's laptop runs it
            b1, r1, b64, r64, cpu1, m1, mcpu1 = [], [], [], [], [], [], []
            for _ in range(rounds):  # interleaved so both see the same machine load
                b1.append(bare.rate(n1k, 1024))
                c0 = relay.cpu_s()
                r1.append(relay.rate(n1k, 1024))
                cpu1.append((relay.cpu_s() - c0) / n1k)
                c0 = floor.cpu_s()
                m1.append(floor.rate(n1k, 1024))
                mcpu1.append((floor.cpu_s() - c0) / n1k)
                b64.append(bare.rate(n64k, 65536))
                r64.append(relay.rate(n64k, 65536))
            floor.close()       # not running beside the latency and idle figures
            bare_lat = bare.latencies(nlat, 1024)
            relay_lat = relay.latencies(nlat, 1024)
            disk_lat = store_commit_latencies(Path(tmp), nlat // 2)
            _, rss_after_mb = relay.idle(4.0)     # idle again after holding up to a window of 64 KiB messages
            sec = security_section(ctx, Path(tmp), bare, relay, n1k, n64k // 2, rounds)
        finally:
            floor.close()
            relay.close()
            bare.close()
    b1m, r1m, b64m, r64m, m1m = (statistics.median(x) for x in (b1, r1, b64, r64, m1))
    goodput = r64m * 65536 * 8 / 1e6
    rows = [
        ("1 KiB msgs/s", f"{b1m:,.0f}", f"{r1m:,.0f}", f"ratio {r1m / b1m:.3f} (target ≥ 0.25)"),
        ("64 KiB goodput Mbps", f"{b64m * 65536 * 8 / 1e6:,.0f}", f"{goodput:,.0f}", "target ≥ 300"),
        ("relay CPU µs/msg (1 KiB)", "", f"{statistics.median(cpu1) * 1e6:.0f}", "user + system, whole process"),
        ("minimal Python relay", f"{m1m:,.0f}", f"{statistics.median(mcpu1) * 1e6:.0f}",
         f"1 KiB msgs/s and CPU µs/msg; ratio {m1m / b1m:.3f}: read, check, hand on, commit, ack, nothing else"),
        ("latency p50 ms (1 KiB)", f"{pct(bare_lat, 50) * 1e3:.2f}", f"{pct(relay_lat, 50) * 1e3:.2f}", ""),
        ("latency p99 ms (1 KiB)", f"{pct(bare_lat, 99) * 1e3:.2f}", f"{pct(relay_lat, 99) * 1e3:.2f}", "target < 5"),
        ("disk commit p50/p99 ms", "", f"{pct(disk_lat, 50) * 1e3:.2f}/{pct(disk_lat, 99) * 1e3:.2f}",
         "one synced 1-record commit: the floor under a hop"),
        ("idle CPU %", "", f"{idle_cpu * 100:.2f}", "target < 2"),
        ("idle RSS MB", "", f"{rss_mb:.1f}", "target < 150"),
        ("RSS MB idle after the load", "", f"{rss_after_mb:.1f}",
         "4 s after the last frame; the source's window of 4,000 × 64 KiB passed through"),
    ]
    print(f"{'':26}{'bare relay':>14}{'emcomm relay':>14}  note")
    for name, a, b, note in rows:
        print(f"{name:26}{a:>14}{b:>14}  {note}")
    print(json.dumps({
        "relay_vs_bare_1k": round(r1m / b1m, 4), "goodput_mbps_64k": round(goodput, 1),
        "bare_msgs_per_s_1k": round(b1m), "relay_msgs_per_s_1k": round(r1m),
        "relay_cpu_us_per_msg_1k": round(statistics.median(cpu1) * 1e6, 1),
        "minimal_python_relay_vs_bare_1k": round(m1m / b1m, 4), "minimal_python_relay_msgs_per_s_1k": round(m1m),
        "minimal_python_relay_cpu_us_per_msg_1k": round(statistics.median(mcpu1) * 1e6, 1),
        "relay_latency_p50_ms": round(pct(relay_lat, 50) * 1e3, 3),
        "relay_latency_p99_ms": round(pct(relay_lat, 99) * 1e3, 3),
        "bare_latency_p99_ms": round(pct(bare_lat, 99) * 1e3, 3),
        "disk_commit_p50_ms": round(pct(disk_lat, 50) * 1e3, 3),
        "disk_commit_p99_ms": round(pct(disk_lat, 99) * 1e3, 3),
        "idle_cpu_pct": round(idle_cpu * 100, 2), "rss_mb": round(rss_mb, 1),
        "rss_after_load_mb": round(rss_after_mb, 1), "rounds": rounds, **sec,
    }))


if __name__ == "__main__":
    main()
