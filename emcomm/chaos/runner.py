"""One chaos (or soak) run: start the mesh, drive traffic, execute the nemesis, collect the
history, drain, check.

Owns the run's threads and their timing: a traffic thread submitting the planned messages
through each source's local API, an inbox thread reading every node's deliveries (cursor by
inbox sequence), a sampler (soak), and the nemesis on the calling thread. Each thread has
its own API clients. It decides no invariant (the checker does) and prints nothing (the
command does, through ``progress``).

Example (what ``emcomm chaos`` does)::

    result = run(RunSettings(out_dir=Path("chaos-out"), duration_s=300, seed=1))
    print(result.report.ok)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable

from emcomm.chaos import nemesis, traffic
from emcomm.chaos.checker import CONVERGENCE_BOUND_S, ChaosReport, check
from emcomm.chaos.custody import why_held
from emcomm.chaos.history import History
from emcomm.chaos.plan import ChaosPlan, _overrides, make_plan, rostered_ids, write_mesh
from emcomm.chaos.procs import NodeProcs
from emcomm.chaos.soak import SoakReport, soak_report
from emcomm.errors import EmcommError, UsageError
from emcomm.links.profiles import make_profile
from emcomm.node.routing import is_thin
from emcomm.priority import Priority

SEND_TIMEOUT_S = 4.0
INBOX_PERIOD_S = 0.5
DRAIN_TIMEOUT_S = 120.0


@dataclasses.dataclass(frozen=True)
class RunSettings:
    out_dir: Path
    duration_s: float = 300.0
    seed: int = 1
    n_nodes: int = 8
    rate_per_s: float = 6.0
    soak: bool = False
    secure: bool = True
    drain_timeout_s: float = DRAIN_TIMEOUT_S
    sample_every_s: float = 60.0
    convergence_bound_s: float = CONVERGENCE_BOUND_S


@dataclasses.dataclass(frozen=True)
class RunResult:
    report: ChaosReport
    soak: SoakReport | None
    faults: list[nemesis.Fault]
    torn: list[dict[str, Any]]
    out_dir: Path


class _State:
    """Which nodes are up (the traffic and inbox threads skip the others) and which links the
    nemesis holds down (re-applied to a node that restarts)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down: set[str] = set()
        self.links_down: dict[str, tuple[str, str]] = {}   # link id -> its two ends

    def is_up(self, node: str) -> bool:
        with self.lock:
            return node not in self.down

    def set_down(self, node: str, down: bool) -> None:
        with self.lock:
            (self.down.add if down else self.down.discard)(node)


class ChaosRun:
    def __init__(self, settings: RunSettings, progress: Callable[[str], None] = lambda s: None):
        self.s = settings
        self.progress = progress
        out = settings.out_dir.resolve()
        if out.exists() and any(out.iterdir()):
            raise UsageError(f"output directory {out} is not empty; give a new --out (a run keeps its history there)")
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.plan: ChaosPlan = make_plan(settings.n_nodes)
        configs = write_mesh(self.plan, out, settings.seed, secure=settings.secure)
        self.procs = NodeProcs(out, configs, {n.id: n.api for n in self.plan.nodes})
        self.history = History(out / "history.jsonl")
        self.state = _State()
        self.stop = threading.Event()
        self.rnd = random.Random(settings.seed)
        self.cursors: dict[str, int] = {n.id: 0 for n in self.plan.nodes}
        # the inbox thread and the drain both read inboxes: one at a time, or both read the
        # same entries from the same cursor and the history shows each delivery twice
        self._inbox_lock = threading.Lock()
        self.torn: list[dict[str, Any]] = []
        self.final_status: dict[str, dict[str, Any]] = {}
        dur = settings.duration_s
        self.faults = [] if settings.soak else nemesis.schedule(self.plan, dur, settings.seed)
        msgs = traffic.schedule(self.plan, dur, settings.rate_per_s, settings.seed,
                                long_ttl_s=traffic.SOAK_TTL_S if settings.soak else traffic.LONG_TTL_S)
        for f in self.faults:
            if f.kind == "storm":
                msgs += traffic.flash_burst(self.plan, f.start_s + 1.0, settings.seed)
        self.messages = sorted(msgs, key=lambda m: m.t_s)
        self.t0 = 0.0
        # nodes reached only over thin links (the Beidou sensor) get third-party adverts at most
        # every NodeConfig.thin_link_advert_gap_s by design, so their view stays partial: they
        # send by the stub default route (emcomm.node.routing) and are left out of the
        # convergence check
        self.thin_only = {n.id for n in self.plan.nodes if all(_thin(l.kind) for l in self.plan.links_of(n.id))}

    # -- the run ---------------------------------------------------------------------
    def run(self) -> RunResult:
        try:
            for n in self.plan.nodes:
                self.procs.start(n.id)
            for n in self.plan.nodes:
                self.procs.wait_ready(n.id)
            self.progress(f"{len(self.plan.nodes)} nodes up ({'rostered, signed' if self.s.secure else 'INSECURE'}), "
                          f"{len(self.plan.links)} links; {len(self.messages)} messages and "
                          f"{len(self.faults)} faults planned over {self.s.duration_s:.0f} s")
            self.t0 = time.time()
            threads = [threading.Thread(target=self._traffic, name="chaos-traffic", daemon=True),
                       threading.Thread(target=self._inbox_loop, name="chaos-inbox", daemon=True)]
            if self.s.soak:
                threads.append(threading.Thread(target=self._sampler, name="chaos-sampler", daemon=True))
            for t in threads:
                t.start()
            self._nemesis()
            threads[0].join()
            self.progress("traffic done; draining (every node up, every link up)")
            self._drain()
            self.stop.set()
            for t in threads[1:]:
                t.join(30)
            self._read_inboxes()
            self._final_receipts()
            self._final_status()
            self.history.add("end", t=time.time())
        finally:
            self.stop.set()
            how = self.procs.stop_all()
            self.history.add("stopped", how=how, t=time.time())
            self._held_at_end()
            self.history.close()
        report = check(self.history, rostered=rostered_ids(self.out), convergence_bound_s=self.s.convergence_bound_s)
        soak = soak_report(self.history, self.t0, self.s.rate_per_s) if self.s.soak else None
        (self.out / "report.json").write_text(json.dumps(
            {"report": report.as_dict(), "soak": dataclasses.asdict(soak) if soak else None, "torn": self.torn,
             "settings": {k: str(v) for k, v in dataclasses.asdict(self.s).items()}}, indent=1))
        return RunResult(report, soak, self.faults, self.torn, self.out)

    def _at(self, t_s: float) -> None:
        """Sleep until ``t_s`` seconds after the start (or the run is stopped)."""
        delay = self.t0 + t_s - time.time()
        if delay > 0:
            self.stop.wait(delay)

    # -- traffic ---------------------------------------------------------------------
    def _traffic(self) -> None:
        for i, m in enumerate(self.messages):
            self._at(m.t_s)
            if self.stop.is_set():
                return
            if not self.state.is_up(m.src):
                continue
            msg_id = self.rnd.getrandbits(128).to_bytes(16, "big")
            body = (f"{m.priority} {m.src}>{m.dst} #{i} ".encode() * 64)[:m.size_bytes]
            t = time.time()
            outcome, error = "accepted", ""
            try:
                reply = self.procs.call(m.src, "send", timeout_s=SEND_TIMEOUT_S, to=m.dst, priority=m.priority,
                                        body=body, ttl_s=m.ttl_s, msg_id=msg_id)
                if reply.get("status") != "accepted":
                    outcome, error = "refused", f"status {reply.get('status')}"
            except EmcommError as exc:
                text = str(exc)
                outcome = "unknown" if "no reply" in text or "no node is running" in text else "refused"
                error = text.split(": ", 1)[-1] if outcome == "refused" else text
                if outcome == "refused":
                    error = _generic(error)
            self.history.add("submit", msg_id=msg_id.hex(), src=m.src, dst=m.dst, priority=m.priority,
                             ttl_s=m.ttl_s, t=t, t_done=time.time(), outcome=outcome, error=error)

    # -- inboxes ---------------------------------------------------------------------
    def _inbox_loop(self) -> None:
        while not self.stop.wait(INBOX_PERIOD_S):
            self._read_inboxes()

    def _read_inboxes(self) -> None:
        with self._inbox_lock:
            for n in self.plan.nodes:
                if not self.state.is_up(n.id):
                    continue
                try:
                    while True:
                        msgs = self.procs.call(n.id, "inbox", timeout_s=3.0, after_seq=self.cursors[n.id],
                                               limit=1000)["messages"]
                        for e in msgs:
                            self.history.add("deliver", node=n.id, msg_id=bytes(e["msg_id"]).hex(), src=e["src"],
                                             dst=e["dst"], priority=e["priority"], created_s=e["created_s"],
                                             delivered_s=e["delivered_s"], seq=e["seq"], t=time.time())
                            self.cursors[n.id] = max(self.cursors[n.id], e["seq"])
                        if len(msgs) < 1000:
                            break
                except EmcommError:
                    self.procs.forget_clients(n.id)   # paused or restarting: read it next round

    # -- soak sampling ---------------------------------------------------------------
    def _sampler(self) -> None:
        k = 0
        while True:
            for n in self.plan.nodes:
                self.history.add("sample", round=k, node=n.id, rss_bytes=self.procs.rss_bytes(n.id),
                                 store_bytes=self.procs.store_bytes(n.id), t=time.time())
            k += 1
            if self.stop.wait(self.s.sample_every_s) or time.time() > self.t0 + self.s.duration_s:
                return

    # -- nemesis ---------------------------------------------------------------------
    def _nemesis(self) -> None:
        for i, f in enumerate(self.faults):
            self._at(f.start_s)
            self.progress(f"t={time.time() - self.t0:6.1f} s  fault {i + 1}/{len(self.faults)}: {f.kind} "
                          f"{','.join(f.targets)}{' ' + f.link_id if f.link_id else ''} for {f.duration_s:.0f} s")
            self.history.add("fault", kind=f.kind, targets=list(f.targets), link=f.link_id, phase="start",
                             t=time.time())
            getattr(self, f"_fault_{f.kind}")(f)
            self.history.add("fault", kind=f.kind, targets=list(f.targets), link=f.link_id, phase="end",
                             t=time.time())
        self._at(self.s.duration_s)

    def _end_of(self, f: nemesis.Fault) -> None:
        self._at(f.start_s + f.duration_s)

    def _restart(self, node: str) -> None:
        self.procs.start(node)
        self.procs.wait_ready(node)
        with self.state.lock:
            held = [(lid, ends) for lid, ends in self.state.links_down.items() if node in ends]
        for lid, _ in held:                 # a restarted node brings its links up: keep the cut
            self._link(node, lid, up=False)
        self.state.set_down(node, False)

    def _fault_kill9(self, f: nemesis.Fault) -> None:
        node = f.targets[0]
        self.state.set_down(node, True)
        self.procs.kill9(node)
        self._end_of(f)
        self._restart(node)

    def _fault_pause(self, f: nemesis.Fault) -> None:
        node = f.targets[0]
        self.state.set_down(node, True)
        self.procs.pause(node)
        self._end_of(f)
        self.procs.resume(node)
        self.state.set_down(node, False)

    def _link(self, node: str, link_id: str, **conditions: Any) -> None:
        if not self.state.is_up(node):
            return
        try:
            self.procs.call(node, "link", timeout_s=5.0, link_id=link_id, **conditions)
        except EmcommError as exc:
            self.progress(f"  link {link_id} on {node}: {exc}")
            self.procs.forget_clients(node)

    def _cut(self, group: set[str], up: bool) -> list[str]:
        cut = [l for l in self.plan.links if (l.a in group) != (l.b in group)]
        with self.state.lock:
            for l in cut:
                if up:
                    self.state.links_down.pop(l.id, None)
                else:
                    self.state.links_down[l.id] = (l.a, l.b)
        for l in cut:
            for end in (l.a, l.b):
                self._link(end, l.id, up=up)
        return [l.id for l in cut]

    def _fault_partition(self, f: nemesis.Fault) -> None:
        group = set(f.targets)
        self._cut(group, up=False)
        self._end_of(f)
        t_heal = time.time()
        self._cut(group, up=True)
        self._wait_converged(f, t_heal=t_heal)

    def _fault_storm(self, f: nemesis.Fault) -> None:
        team, relay = f.targets
        self._cut({team}, up=False)
        self.state.set_down(relay, True)
        self.procs.kill9(relay)
        self._end_of(f)          # the FLASH burst goes out meanwhile (planned at start + 1 s)
        self._restart(relay)
        t_heal = time.time()
        self._cut({team}, up=True)
        self._wait_converged(f, t_heal=t_heal)

    def _fault_flap(self, f: nemesis.Fault) -> None:
        up = True
        while time.time() < self.t0 + f.start_s + f.duration_s:
            up = not up
            for end in f.targets:
                self._link(end, f.link_id, up=up)
            time.sleep(nemesis.FLAP_PERIOD_S)
        t_heal = time.time()
        for end in f.targets:
            self._link(end, f.link_id, up=True)
        self._wait_converged(f, t_heal=t_heal)

    def _fault_beidou_denied(self, f: nemesis.Fault) -> None:
        for end in f.targets:
            self._link(end, f.link_id, extra_loss=nemesis.DENIED_LOSS)
        self._end_of(f)
        for end in f.targets:
            self._link(end, f.link_id, extra_loss=0.0)

    def _fault_clock_jump(self, f: nemesis.Fault) -> None:
        node = f.targets[0]
        for offset in (nemesis.CLOCK_JUMP_S, 0.0):
            self.state.set_down(node, True)
            self.procs.stop(node)
            self.procs.offsets[node] = offset
            # deliveries numbered above inbox_seq are stamped by the process started now
            self.history.add("clock", node=node, offset_s=offset, t=time.time(),
                             inbox_seq=self.procs.inbox_seq(node))
            self._restart(node)
            if offset:
                self._end_of(f)

    def _fault_disk_full(self, f: nemesis.Fault) -> None:
        flag = self.procs.full_flag(f.targets[0])
        flag.write_text("the disk is full\n")
        self._end_of(f)
        flag.unlink()

    def _fault_torn_write(self, f: nemesis.Fault) -> None:
        node = f.targets[0]
        self.state.set_down(node, True)
        self.procs.kill9(node)
        n = self.procs.tear_last_write(node, self.s.seed)
        before = self.procs.log_tail(node, 1 << 30).count("torn last write")
        self._restart(node)
        detected = self.procs.log_tail(node, 1 << 30).count("torn last write") > before
        rec = {"node": node, "bytes_appended": n, "detected": detected}
        self.torn.append(rec)
        self.history.add("torn", t=time.time(), **rec)
        self._end_of(f)

    # -- convergence -----------------------------------------------------------------
    def _wait_converged(self, f: nemesis.Fault | None, *, t_heal: float | None = None,
                        bound_s: float | None = None, record: bool = True) -> float | None:
        """Poll every live node's link-state digest until they are all equal."""
        bound = self.s.convergence_bound_s if bound_s is None else bound_s
        t_heal = time.time() if t_heal is None else t_heal
        after: float | None = None
        while time.time() - t_heal <= bound:
            digests = set()
            for n in self.plan.nodes:
                if not self.state.is_up(n.id) or n.id in self.thin_only:
                    continue
                try:
                    digests.add(self.procs.call(n.id, "status", timeout_s=2.0)["lsdb_digest"])
                except EmcommError:
                    self.procs.forget_clients(n.id)
                    digests.add(None)
            if len(digests) == 1 and None not in digests:
                after = time.time() - t_heal
                break
            time.sleep(0.2)
        if record and f is not None:
            self.history.add("converged", fault=f.kind, targets=list(f.targets), t_heal=t_heal, after_s=after,
                             t=time.time())
            self.progress(f"  converged after {after:.1f} s" if after is not None
                          else f"  NOT converged within {bound:.0f} s")
        return after

    # -- the end ---------------------------------------------------------------------
    def _drain(self) -> None:
        """Wait until every accepted message not past its TTL has been delivered."""
        deadline = time.time() + self.s.drain_timeout_s
        while time.time() < deadline:
            self._read_inboxes()
            delivered = {d["msg_id"] for d in self.history.of("deliver")}
            now = time.time()
            waiting = [s for s in self.history.of("submit")
                       if s["outcome"] == "accepted" and s["msg_id"] not in delivered and s["t"] + s["ttl_s"] > now]
            if not waiting:
                return
            time.sleep(0.5)

    def _final_receipts(self) -> None:
        delivered = {d["msg_id"] for d in self.history.of("deliver")}
        for s in self.history.of("submit"):
            if s["outcome"] == "accepted" and s["msg_id"] not in delivered:
                try:
                    r = self.procs.call(s["src"], "receipt", timeout_s=3.0, msg_id=bytes.fromhex(s["msg_id"]))
                    self.history.add("receipt", msg_id=s["msg_id"], status=r["status"], detail=r.get("detail", ""))
                except EmcommError as exc:
                    self.history.add("receipt", msg_id=s["msg_id"], status="", detail=str(exc))


    def _final_status(self) -> None:
        """Every node's status (counters of drops by reason...) as evidence, in status/."""
        (self.out / "status").mkdir(exist_ok=True)
        for n in self.plan.nodes:
            try:
                st = self.procs.call(n.id, "status", timeout_s=5.0)
            except EmcommError as exc:
                st = {"error": str(exc)}
            self.final_status[n.id] = st
            (self.out / "status" / f"{n.id}.json").write_text(json.dumps(st, indent=1, default=str))

    def _held_at_end(self) -> None:
        """Which messages each (stopped) node still holds in custody in its store, and why
        (from the node's last status: see ``custody.why_held``)."""
        submits = {r["msg_id"]: r for r in self.history.of("submit")}
        for n in self.plan.nodes:
            path = self.procs.data_dir(n.id) / "node.db"
            if not path.exists():
                continue
            try:
                with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                    for mid, prio, state in conn.execute("SELECT msg_id, priority, state FROM messages"):
                        m = bytes(mid).hex()
                        dst = submits[m]["dst"] if m in submits else ""
                        why = (why_held(self.plan, self.final_status.get(n.id), n.id, dst, int(prio)) if dst
                               else "not a message of this run's traffic")
                        self.history.add("held", node=n.id, msg_id=m, priority=Priority(int(prio)).name.lower(),
                                         state=state, dst=dst, why=why)
            except sqlite3.Error as exc:
                self.progress(f"cannot read the store of {n.id}: {exc}")


def _thin(kind: str) -> bool:
    p = make_profile(kind, _overrides(kind))
    return is_thin(min(p.rate_up_bps, p.rate_down_bps), p.min_interval_s)


def _generic(error: str) -> str:
    """A refusal text without the message id (so equal refusals are counted once)."""
    cut = error.find("(msg_id")
    return error[:cut].rstrip() if cut >= 0 else error


def run(settings: RunSettings, progress: Callable[[str], None] = lambda s: None) -> RunResult:
    """Run one chaos (or soak) run and check it."""
    return ChaosRun(settings, progress).run()
