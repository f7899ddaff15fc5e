"""The demo loop: start the mesh (and the map), play the hazard script and the traffic in
accelerated time, narrate, then summarise and stop everything it started.

Owns the order of things and the wall clock of the demo (it is the one part that reads
a clock: it maps wall seconds to scenario seconds by ``speed``). Decisions about routes,
custody and delivery stay in the nodes; the story stays in the scenario file.

Example (what ``emcomm demo --headless --duration 60`` does)::

    run_demo(DemoOptions(out_dir=Path("emcomm-demo"), headless=True, duration_s=60.0))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import signal
import socket
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any, Callable

import msgpack
import zmq

from emcomm.demo.ledger import Ledger
from emcomm.demo.plan import DESK, DemoPlan, make_plan, node_toml, write_keys
from emcomm.demo.procs import Children, DemoLock
from emcomm.demo.record import DemoRecorder
from emcomm.demo.script import Change, build_script
from emcomm.demo.traffic import Send, expand
from emcomm.drill.scenario import load_scenario
from emcomm.errors import EmcommError, UsageError
from emcomm.node.api import ApiClient, NodeNotRunningError
from emcomm.priority import Priority

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent.parent / "drills" / "demo_lekima_2019.toml"
MARKER = ".emcomm-demo"
START_TIMEOUT_S = 30.0
UI_START_TIMEOUT_S = 30.0
CHECKIN_GAP_S = 3.0        # one FLASH check-in per node per this many wall seconds
INBOX_POLL_S = 1.0
STATUS_POLL_S = 2.0
FAILING_ROLES = ("team", "sensor")
POWER_EVERY_S = 2.0        # site power re-announced to the map this often (a map opened late learns it)


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    out_dir: Path
    scenario: Path = DEFAULT_SCENARIO
    headless: bool = False
    duration_s: float = 150.0          # wall seconds the scripted disaster takes
    speed: float | None = None         # scenario seconds per wall second (default: fits duration_s)
    drain_s: float = 60.0              # wall seconds to wait for the last deliveries
    step_s: float = 600.0              # scenario seconds between samples of the hazard script
    port: int | None = None            # the map's port (default: a free one)
    seed: int = 1
    secure: bool = True                # rostered identities, signed messages, CURVE links


def _raise_stop(*_: Any) -> None:
    # SIGTERM and SIGINT stop the demo like Ctrl-C: the finally clause stops every child
    raise KeyboardInterrupt


def run_demo(opts: DemoOptions, say: Callable[[str], None] = lambda s: print(s, flush=True)) -> int:
    """Run the demo; 0 when nothing accepted was lost and every FLASH was delivered, else 1."""
    if not opts.duration_s > 0:
        raise UsageError(f"--duration must be a positive number of seconds, got {opts.duration_s!r}")
    if opts.speed is not None and not opts.speed > 0:
        raise UsageError(f"--speed must be a positive factor (scenario seconds per real second), got {opts.speed!r}")
    lock = DemoLock()
    lock.acquire(out_dir=str(opts.out_dir))
    children = Children()
    old_term = signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)   # also when started with SIGINT ignored (a background job)
    try:
        if lock.stale_pid is not None:
            say(f"(a lock left by an earlier demo, pid {lock.stale_pid}, which is no longer running, was taken over)")
        return _Demo(opts, children, say).run()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)    # a second Ctrl-C must not cut the clean-up short
        try:
            how = children.stop_all()
            if how:
                killed = [n for n, h in how.items() if h == "killed"]
                say(f"stopped {len(how)} process(es)" + (f"; had to kill {', '.join(killed)}" if killed else ""))
        finally:
            lock.release()
            signal.signal(signal.SIGTERM, old_term)
            signal.signal(signal.SIGINT, signal.default_int_handler)


def prepare_out_dir(out: Path) -> None:
    """Create the output directory, or clear an earlier demo's nodes from it; refuse a directory
    that holds other things."""
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"--out {out} is a file; give a directory for the demo's data")
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise UsageError(f"--out {out} is not empty and was not made by `emcomm demo`; give a new or empty directory")
        for sub in ("nodes", "config", "logs", "keys"):
            shutil.rmtree(out / sub, ignore_errors=True)
    for sub in ("nodes", "config", "logs"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by emcomm demo; its contents are replaced on the next run\n")


def has_display() -> bool:
    """Whether a browser can be opened here (a desktop session)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class _Demo:
    def __init__(self, opts: DemoOptions, children: Children, say: Callable[[str], None]):
        self.opts = opts
        self.children = children
        self._say = say
        sc = load_scenario(opts.scenario)
        self.scenario = sc
        speed = opts.speed or sc.info.duration_s / opts.duration_s
        self.end_s = min(sc.info.duration_s, speed * opts.duration_s)
        self.plan: DemoPlan = make_plan(sc, speed)
        self.script = build_script(sc, opts.step_s)
        self.sends = [s for s in expand(sc.traffic, sc.names()) if s.t_s <= self.end_s]
        self.command = self.plan.command_ids()[0]
        self.roles = {n.id: n.role for n in self.plan.nodes}
        self.ledger = Ledger()
        self.clients: dict[str, ApiClient] = {}
        self.inbox_seq: dict[str, int] = {}
        self.checkins: dict[bytes, tuple[float, str, str]] = {}   # msg_id -> (failure wall time, node, link)
        self.last_checkin: dict[str, float] = {}
        self.t0 = 0.0
        self.t_s = 0.0
        self.recorder: DemoRecorder | None = None
        self.subs: list[zmq.Socket] = []
        self.power_pub: zmq.Socket | None = None   # site power for the map: node processes do not know it
        self._power_next = 0.0
        self.checkin_stats: list[tuple[str, str, float]] = []   # (node, link kind, seconds to delivery)
        self.custody: dict[str, int] = {}
        self.keys: Path | None = opts.out_dir / "keys" if opts.secure else None   # identities and the roster
        self.idents: dict[str, Any] = {}

    def recorder_up(self, node_id: str) -> bool:
        return self.recorder is None or bool(self.recorder.nodes[node_id]["up"])

    # -- narration -------------------------------------------------------------------
    def clock(self, t_s: float) -> str:
        when = self.scenario.info.start + dt.timedelta(seconds=t_s)
        return when.strftime("%d %b %H:%M")

    def say(self, text: str, *, level: str = "info", node: str = "", feed: bool = True) -> None:
        self._say(f"[{self.clock(self.t_s)}] {text}")
        if feed and self.recorder is not None:
            self.recorder.say(self.t_s, level, text, node)

    # -- start -----------------------------------------------------------------------
    def run(self) -> int:
        opts, plan, sc = self.opts, self.plan, self.scenario
        out = opts.out_dir.resolve()
        prepare_out_dir(out)
        self._say(f"emcomm demo: {sc.info.name}")
        self._say(f"  {len(plan.nodes)} relay nodes, {len(plan.links)} emulated links "
                  f"({', '.join(sorted({l.kind for l in plan.links}))}); {len(self.sends)} scripted messages")
        self._say(f"  {self.end_s / 3600:.1f} h of the storm in {self.end_s / plan.speed:.0f} s "
                  f"(× {plan.speed:.0f}); data in {out}")
        slow = sorted({(l.kind, l.profile.min_interval_s, l.min_interval_s) for l in plan.links if l.min_interval_s})
        for kind, real, fast in slow:
            self._say(f"  {kind}: one message per {real:g} s in reality, per {fast:g} s on the demo's fast clock")
        started = time.monotonic()
        self._start_nodes(out)
        self._say(f"mesh up: {len(plan.nodes)} nodes answered in {time.monotonic() - started:.1f} s")
        base = out / "base.emrec"
        self._write_base(base)
        url = None if opts.headless else self._start_map(out, base)
        rec_path = out / "demo.emrec"
        self.recorder = DemoRecorder(plan, rec_path, keyframe_interval_s=max(600.0, self.end_s / 60))
        self._subscribe()
        try:
            self._play()
            self._drain()
            self._settle()
            self.custody = self._custody()
            self.recorder.keyframe(self.t_s, self.ledger)
        finally:
            self.recorder.close()
            for s in self.subs:
                s.close(0)
            for c in self.clients.values():
                c.close()
        passed = self._summary(out, rec_path)
        if url is not None:
            self._say(f"the map stays live at {url}; press Ctrl-C to stop the mesh and the map")
            while True:
                self._announce_power()
                time.sleep(POWER_EVERY_S)
        return 0 if passed else 1

    def _start_nodes(self, out: Path) -> None:
        root = str(Path(__file__).resolve().parent.parent.parent)
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if self.keys is not None:
            write_keys(self.plan, self.keys)
        for i, n in enumerate(self.plan.nodes):
            cfg = out / "config" / f"{n.id}.toml"
            cfg.write_text(node_toml(self.plan, n.id, out / "nodes" / n.id, self.opts.seed * 1000 + i, self.keys))
            self.children.start(n.id, [sys.executable, "-m", "emcomm", "node", "--config", str(cfg),
                                       "--status-every", "0", "--quiet"], out / "logs" / f"{n.id}.log", env=env)
        waiting = {n.id for n in self.plan.nodes}
        deadline = time.monotonic() + START_TIMEOUT_S
        while waiting:
            dead = {n: rc for n, rc in self.children.exited().items() if n in waiting}
            if dead:
                n, rc = next(iter(dead.items()))
                tail = (out / "logs" / f"{n}.log").read_text(errors="replace")[-1500:]
                raise EmcommError(f"node {n} stopped during start-up (exit status {rc}); its log "
                                  f"({out / 'logs' / (n + '.log')}) ends with:\n{tail}")
            if time.monotonic() > deadline:
                raise EmcommError(f"node(s) {', '.join(sorted(waiting))} did not answer within {START_TIMEOUT_S:.0f} s; "
                                  f"see their logs in {out / 'logs'}")
            for nid in sorted(waiting):
                try:
                    self.client(nid, timeout_s=0.3).call("ping")
                    waiting.discard(nid)
                except NodeNotRunningError:
                    pass
            time.sleep(0.2)

    def _identity(self, node_id: str) -> Any:
        from emcomm.node.identity import load_identity

        assert self.keys is not None
        ident = self.idents.get(node_id)
        if ident is None:
            ident = self.idents[node_id] = load_identity(self.keys / node_id)
        return ident

    def client(self, node_id: str, timeout_s: float = 10.0) -> ApiClient:
        c = self.clients.get(node_id)
        if c is None:
            curve = None
            if self.keys is not None:       # a secure node's tcp:// API answers its own key only
                ident = self._identity(node_id)
                curve = (ident.public.curve_public, ident.curve_secret, ident.public.curve_public)
            c = self.clients[node_id] = ApiClient(self.plan.node(node_id).api, timeout_s=timeout_s, curve=curve)
        c.timeout_s = max(c.timeout_s, timeout_s) if timeout_s >= 1 else timeout_s
        return c

    def _write_base(self, path: Path) -> None:
        rec = DemoRecorder(self.plan, path)
        rec.keyframe(0.0, Ledger())
        rec.close()

    def _start_map(self, out: Path, base: Path) -> str:
        from emcomm.demo.plan import free_ports

        port = self.opts.port or free_ports(1)[0]
        url = f"http://127.0.0.1:{port}/"
        self.power_pub = zmq.Context.instance().socket(zmq.PUB)
        self.power_pub.setsockopt(zmq.LINGER, 0)
        if self.keys is not None:     # site power comes from the duty desk, over CURVE with its key
            desk = self._identity(DESK)
            self.power_pub.curve_secretkey, self.power_pub.curve_publickey = desk.curve_secret, desk.public.curve_public
            self.power_pub.curve_server = True
        power_ep = f"tcp://127.0.0.1:{self.power_pub.bind_to_random_port('tcp://127.0.0.1')}"
        if self.keys is None:
            sources = [n.telemetry for n in self.plan.nodes] + [power_ep]
        else:                         # the map subscribes with the desk's key; servers' keys from the roster
            sources = [f"{n.id}@{n.telemetry}" for n in self.plan.nodes] + [f"{DESK}@{power_ep}",
                       "--roster", str(self.keys / "roster.json"), "--identity", str(self.keys / DESK)]
        argv = [sys.executable, "-m", "emcomm", "ui", "--live", *sources,
                "--base", str(base), "--port", str(port), "--refresh", "2"]
        self.children.start("map", argv, out / "logs" / "map.log")
        deadline = time.monotonic() + UI_START_TIMEOUT_S
        while not _port_open(port) and time.monotonic() < deadline:
            if "map" in self.children.exited():
                self._say(f"the map did not start (see {out / 'logs' / 'map.log'}); the demo goes on without it")
                return url
            time.sleep(0.3)
        if has_display():
            self._say(f"map: {url} (opening your browser)")
            webbrowser.open(url)
        else:
            self._say(f"map: open {url} in a browser (no display here to open one)")
        return url

    def _subscribe(self) -> None:
        ctx = zmq.Context.instance()
        for n in self.plan.nodes:
            s = ctx.socket(zmq.SUB)
            s.setsockopt(zmq.SUBSCRIBE, b"event")
            s.setsockopt(zmq.LINGER, 0)
            if self.keys is not None:       # secure telemetry admits rostered keys: the desk's
                desk = self._identity(DESK)
                s.curve_publickey, s.curve_secretkey = desk.public.curve_public, desk.curve_secret
                s.curve_serverkey = self._identity(n.id).public.curve_public
            s.connect(n.telemetry)
            self.subs.append(s)

    # -- the story -------------------------------------------------------------------
    def _play(self) -> None:
        script = [c for c in self.script if c.t_s <= self.end_s]
        sends = list(self.sends)
        for c in script:
            if c.t_s == 0:
                self._apply(c, narrate=False)
        script = [c for c in script if c.t_s > 0]
        assert self.recorder is not None
        self.recorder.keyframe(0.0, self.ledger)
        self.say("the storm begins: sending traffic of every priority to the command centre", feed=False)
        self.t0 = time.monotonic()
        next_inbox = next_status = 0.0
        while True:
            now = time.monotonic()
            self.t_s = min(self.end_s, (now - self.t0) * self.plan.speed)
            while script and script[0].t_s <= self.t_s:
                self._apply(script.pop(0))
            while sends and sends[0].t_s <= self.t_s:
                self._send(sends.pop(0))
            self._telemetry()
            if now >= next_inbox:
                next_inbox = now + INBOX_POLL_S
                self._inboxes()
            if now >= next_status:
                next_status = now + STATUS_POLL_S
                self._statuses()
            self._announce_power()
            if self.recorder.due(self.t_s):
                self.recorder.keyframe(self.t_s, self.ledger)
            self._check_children()
            if self.t_s >= self.end_s:
                break
            nxt = min([x.t_s for x in script[:1]] + [x.t_s for x in sends[:1]] + [self.end_s])
            wait = (nxt - self.t_s) / self.plan.speed
            time.sleep(min(0.1, max(0.0, wait)))

    def _apply(self, c: Change, narrate: bool = True) -> None:
        assert self.recorder is not None
        if c.kind == "link":
            link = self.plan.link(c.id)
            cond = c.link
            assert cond is not None
            fields: dict[str, Any] = {"up": cond.up, "extra_loss": cond.extra_loss,
                                      "extra_latency_s": cond.extra_latency_s}
            if cond.up:
                fields["capacity_factor"] = max(0.01, cond.capacity_factor)
            for end in (link.a, link.b):
                self.client(end).call("link", link_id=c.id, **fields)
            if narrate:
                self.say(c.text, level="alert" if not cond.up else "info", node=link.a)
            if not cond.up and narrate:
                for end in (link.a, link.b):
                    if self.roles.get(end) in FAILING_ROLES:
                        self._checkin(end, c.id)
        elif narrate:
            self.say(c.text, level="alert" if not c.node_up or c.power == "battery" else "info", node=c.id)
        self.recorder.apply(c)
        if c.kind == "node":
            self._announce_power(force=True)

    def _checkin(self, node: str, link_id: str) -> None:
        """A FLASH welfare check-in from a team that just lost a link: shows where FLASH goes now."""
        now = time.monotonic()
        if now - self.last_checkin.get(node, -1e9) < CHECKIN_GAP_S:
            return
        self.last_checkin[node] = now
        body = f"FLASH check-in from {node}: lost {link_id}, team safe, reply on any link".encode()
        mid = self._submit(node, self.command, Priority.FLASH, "alert", body)
        if mid is not None:
            self.checkins[mid] = (now, node, link_id)

    def _send(self, s: Send) -> None:
        self._submit(s.src, s.dst, s.priority, s.content, s.body)

    def _submit(self, src: str, dst: str, priority: Priority, content: str, body: bytes) -> bytes | None:
        reply = self.client(src).call("send", to=dst, priority=priority.name.lower(), content_type=content, body=body)
        if reply.get("status") != "accepted":
            self.say(f"{src} refused a {priority.name} message to {dst}: {reply.get('status')} {reply.get('detail', '')}",
                     level="alert", node=src)
            return None
        mid = bytes(reply["msg_id"])
        self.ledger.accepted(mid, src, dst, priority, t_s=self.t_s, wall_s=time.monotonic())
        if priority == Priority.FLASH and mid not in self.checkins:
            self.say(f"{src} sends FLASH to {dst}: {body.decode('utf-8', 'replace').rstrip('.')}", level="flash", node=src)
        return mid

    # -- watching ----------------------------------------------------------------------
    def _telemetry(self) -> None:
        for s in self.subs:
            while True:
                try:
                    frames = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                try:
                    ev = msgpack.unpackb(frames[-1], raw=False)
                except (ValueError, msgpack.UnpackException):
                    continue
                if isinstance(ev, dict):
                    self._event(ev)

    def _event(self, ev: dict[str, Any]) -> None:
        kind, node, mid_hex = ev.get("kind"), ev.get("node", ""), ev.get("msg_id") or ""
        assert self.recorder is not None
        if kind == "sent" and ev.get("link_id"):
            self.recorder.carrying(ev["link_id"], int(ev.get("priority", -1)))
            e = self.ledger.sent(mid_hex, node, ev["link_id"])
            if e is not None and e.msg_id in self.checkins:
                failed_at, who, lost = self.checkins[e.msg_id]
                kind_name = self.plan.link(ev["link_id"]).kind
                self.say(f"  ↳ FLASH from {who} re-routed: out on {ev['link_id']} ({kind_name}) "
                         f"{time.monotonic() - failed_at:.2f} s after {lost} failed", level="flash", node=who)
        elif kind == "rerouted" and ev.get("reason") == "no_route" and int(ev.get("priority", -1)) == 0:
            self.say(f"  ↳ {node} has no path for FLASH {mid_hex[:8]} now: held in custody until a link returns",
                     level="alert", node=node)
        elif kind == "delivered":
            try:
                mid = bytes.fromhex(mid_hex)
            except ValueError:
                return
            e = self.ledger.entries.get(mid)
            if e is None or e.priority != Priority.FLASH:
                return
            waited = time.monotonic() - e.wall_s
            if mid in self.checkins:
                failed_at, who, lost = self.checkins[mid]
                took = time.monotonic() - failed_at
                self.checkin_stats.append((who, self.plan.link(e.first_link).kind if e.first_link else "?", took))
                self.say(f"  ↳ FLASH from {who} delivered to {node} {took:.1f} s after {lost} failed", level="flash",
                         node=who)
            else:
                self.say(f"  ↳ FLASH from {e.src} delivered to {node} after {waited:.1f} s"
                         + (f" via {e.first_link}" if e.first_link else ""), level="flash", node=node)

    def _inboxes(self) -> None:
        for n in self.plan.nodes:
            msgs = self.client(n.id).call("inbox", after_seq=self.inbox_seq.get(n.id, 0), limit=1000)["messages"]
            late: dict[tuple[str, str], list[float]] = {}
            for m in msgs:
                self.inbox_seq[n.id] = max(self.inbox_seq.get(n.id, 0), int(m["seq"]))
                e = self.ledger.entries.get(bytes(m["msg_id"]))
                held = e is not None and e.delivered_after_s is None and e.t_s < self.t_s - 4 * 3600
                self.ledger.delivered(bytes(m["msg_id"]), created_s=float(m["created_s"]),
                                      delivered_s=float(m["delivered_s"]))
                if held and e is not None and e.priority != Priority.FLASH and self.roles.get(e.src) in FAILING_ROLES:
                    late.setdefault((e.src, e.priority.name), []).append(e.t_s)
            for (src, prio), times in sorted(late.items()):
                self.say(f"  ↳ {len(times)} {prio} message(s) from {src}, held in custody since {self.clock(min(times))}, "
                         f"delivered to {n.id}", node=src)

    def _custody(self) -> dict[str, int]:
        """Messages each node holds in its store now (in custody, not yet handed on)."""
        out = {}
        for n in self.plan.nodes:
            held = int(self.client(n.id).call("status").get("runtime", {}).get("held_in_store", 0))
            if held:
                out[n.id] = held
        return out

    def _announce_power(self, force: bool = False) -> None:
        """Every site's scripted power state as ``power`` telemetry events (the live map's
        shape, emcomm.ui.live) on the map's extra endpoint: on a change, and every
        POWER_EVERY_S so a map opened later learns it too."""
        now = time.monotonic()
        if self.power_pub is None or self.recorder is None or (not force and now < self._power_next):
            return
        self._power_next = now + POWER_EVERY_S
        for nid, n in self.recorder.nodes.items():
            ev = {"kind": "power", "t_s": self.t_s, "node": nid, "msg_id": "", "priority": -1, "link_id": "",
                  "reason": "", "detail": {k: n.get(k) for k in ("power", "up", "battery_left_h")}}
            try:
                self.power_pub.send_multipart([b"event", msgpack.packb(ev, use_bin_type=True)], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass    # the map is not listening: it learns the state from the next round

    def _statuses(self) -> None:
        assert self.recorder is not None
        for n in self.plan.nodes:
            st = self.client(n.id).call("status")
            self.recorder.queues(n.id, list(st.get("held") or []), st.get("queues") or {})

    def _check_children(self) -> None:
        dead = self.children.exited()
        if dead:
            n, rc = next(iter(dead.items()))
            if n != "map":
                raise EmcommError(f"node {n} stopped unexpectedly (exit status {rc}); see {self.opts.out_dir}/logs/{n}.log")

    # -- the end ---------------------------------------------------------------------
    def _drain(self) -> None:
        pending = self.ledger.undelivered()
        if not pending:
            return
        self.say(f"the script is over; waiting up to {self.opts.drain_s:.0f} s for {len(pending)} message(s) "
                 "still on their way", feed=False)
        deadline = time.monotonic() + self.opts.drain_s
        while self.ledger.undelivered() and time.monotonic() < deadline:
            self._telemetry()
            self._inboxes()
            self._check_children()
            self._announce_power()
            time.sleep(0.5)

    def _settle(self) -> None:
        for e in self.ledger.undelivered():
            r = self.client(e.src).call("receipt", msg_id=e.msg_id)
            self.ledger.settle(e.msg_id, r.get("status", "unknown"), r.get("detail", ""))

    def _summary(self, out: Path, rec_path: Path) -> bool:
        stats = self.ledger.stats()
        self._say("")
        self._say("summary — delivered per priority (latency from sending to delivery, real seconds)")
        self._say(f"  {'priority':<10}{'accepted':>9}{'delivered':>10}{'%':>6}{'p50 s':>8}{'max s':>8}{'held':>6}{'lost':>6}")
        for p, line in stats.items():
            p50 = f"{line.latency_p50_s:.2f}" if line.latency_p50_s is not None else "-"
            mx = f"{line.latency_max_s:.1f}" if line.latency_max_s is not None else "-"
            self._say(f"  {p.name:<10}{line.accepted:>9}{line.delivered:>10}{line.delivered_pct:>6.0f}{p50:>8}{mx:>8}"
                      f"{line.in_custody:>6}{line.lost:>6}")
        by_kind: dict[str, int] = {}
        for e in self.ledger.entries.values():
            if e.priority == Priority.FLASH and e.first_link:
                k = self.plan.link(e.first_link).kind
                by_kind[k] = by_kind.get(k, 0) + 1
        if by_kind:
            self._say("  FLASH first hops: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
        if self.checkin_stats:
            worst = max(t for _, _, t in self.checkin_stats)
            self._say(f"  FLASH check-ins after a link failure: {len(self.checkin_stats)} delivered, "
                      f"slowest {worst:.1f} s after the failure")
        lost = self.ledger.lost()
        if lost:
            self._say("  lost:")
            for e in lost:
                self._say(f"    {e.priority.name} {e.msg_id.hex()[:12]} {e.src}→{e.dst}: {e.fate} {e.detail}")
        else:
            self._say("  lost: nothing — every accepted message was delivered or is still held in custody")
        held = [e for e in self.ledger.undelivered() if e not in lost]
        if held:
            where = ", ".join(f"{n} {c}" + (" (off air)" if not self.recorder_up(n) else "")
                              for n, c in sorted(self.custody.items()))
            self._say(f"  not delivered yet, held in custody: {len(held)} (stores holding messages: {where or 'none'}); "
                      "they go on when a path returns")
        passed, reasons = self.ledger.verdict()
        summary = self.ledger.as_dict() | {"recording": str(rec_path), "scenario": str(self.opts.scenario),
                                           "speed": self.plan.speed, "nodes": len(self.plan.nodes)}
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        self._say(f"  recording: {rec_path}")
        self._say(f"  replay it: emcomm ui --replay {rec_path}")
        self._say("  RESULT: " + ("PASS — nothing accepted was lost and every FLASH was delivered" if passed
                                  else "FAIL — " + "; ".join(reasons)))
        return passed
