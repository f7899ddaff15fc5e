"""An in-memory mesh of node cores on a simulated clock (no sockets, no sleeps).

Like h11's ConnectionPair, this drives real ``NodeCore`` objects against each other: every
``Transmit`` becomes a frame delivered to the far end after the link's serialisation time
and latency, every ``Persist`` is applied to a dict "store" and confirmed with ``stored``,
and ``tick`` is called whenever a core asks for it. Crashes throw away a core (and any
persist not yet confirmed) and restart it from what its store holds.
The tests at the bottom prove the harness itself behaves like the links it stands for.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from typing import Any, Callable

from emcomm.links.profiles import LinkProfile, make_profile
from emcomm.node import wire
from emcomm.node.actions import Deliver, Dropped, Forget, Persist, Receipt, RestoredState, Telemetry, Transmit
from emcomm.node.core import LinkConfig, NodeConfig, NodeCore
from emcomm.priority import Priority


@dataclasses.dataclass
class FakeStore:
    """What a node's SQLite store would hold: records, seen ids, kv, and the app inbox."""

    records: dict[bytes, Any] = dataclasses.field(default_factory=dict)
    seen: dict[bytes, float] = dataclasses.field(default_factory=dict)
    kv: dict[str, bytes] = dataclasses.field(default_factory=dict)
    inbox: dict[bytes, wire.Envelope] = dataclasses.field(default_factory=dict)
    ever_written: set[bytes] = dataclasses.field(default_factory=set)   # every record id ever put
    hops: dict[bytes, int] = dataclasses.field(default_factory=dict)     # seen id -> hops it arrived with

    def load(self) -> RestoredState:
        return RestoredState(records=list(self.records.values()), seen=dict(self.seen), kv=dict(self.kv),
                             hops=dict(self.hops))


@dataclasses.dataclass
class SimNode:
    node_id: str
    config: NodeConfig
    core: NodeCore | None
    store: FakeStore = dataclasses.field(default_factory=FakeStore)
    deliveries: list[tuple[float, wire.Envelope]] = dataclasses.field(default_factory=list)
    receipts: list[tuple[float, Receipt]] = dataclasses.field(default_factory=list)
    dropped: list[tuple[float, Dropped]] = dataclasses.field(default_factory=list)
    events: list[Any] = dataclasses.field(default_factory=list)
    sent: list[tuple[float, str, bytes]] = dataclasses.field(default_factory=list)
    incarnation: int = 0
    committing: set[bytes] = dataclasses.field(default_factory=set)   # records of commits under way
    cancelled: set[bytes] = dataclasses.field(default_factory=set)    # ... forgotten before they landed


@dataclasses.dataclass
class SimLink:
    link_id: str
    a: str
    b: str
    profile: LinkProfile
    up: bool = True


class Mesh:
    """Several cores joined by simulated links; ``run(until)`` advances the simulated clock."""

    def __init__(self, links: list[tuple[str, str, str, LinkProfile]], *, seed: int = 1,
                 store_delay_s: float | dict[str, float] = 0.0, node_kwargs: dict[str, Any] | None = None):
        self.t = 0.0
        self.seed = seed
        self.store_delay_s = store_delay_s
        self.links: dict[str, SimLink] = {}
        per_node: dict[str, dict[str, LinkConfig]] = {}
        for link_id, a, b, profile in links:
            self.links[link_id] = SimLink(link_id, a, b, profile)
            per_node.setdefault(a, {})[link_id] = LinkConfig(b, profile)
            per_node.setdefault(b, {})[link_id] = LinkConfig(a, profile)
        kw = node_kwargs or {}
        self.nodes: dict[str, SimNode] = {}
        for i, (nid, lc) in enumerate(sorted(per_node.items())):
            cfg = NodeConfig(links=lc, **kw)
            self.nodes[nid] = SimNode(nid, cfg, NodeCore(nid, cfg, seed=seed * 1000 + i))
        self._heap: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self._tie = itertools.count()
        self.drop_filter: Callable[[str, str, bytes], bool] = lambda link_id, to, data: False
        self.frames_carried = 0

    # -- driving ----------------------------------------------------------------
    def core(self, nid: str) -> NodeCore:
        core = self.nodes[nid].core
        assert core is not None, f"{nid} is crashed"
        return core

    def submit(self, src: str, dst: str, priority: Priority, body: bytes, *, ttl_s: float | None = None,
               content_type: wire.ContentType = wire.ContentType.TEXT) -> bytes:
        mid, actions = self.core(src).submit(dst, priority, content_type, body, self.t, ttl_s)
        self._execute(src, actions)
        return mid

    def set_link(self, link_id: str, up: bool) -> None:
        link = self.links[link_id]
        link.up = up
        for nid in (link.a, link.b):
            if self.nodes[nid].core is not None:
                self._execute(nid, self.core(nid).link_changed(link_id, up, self.t))

    def crash(self, nid: str) -> None:
        """Kill the node: its core and unconfirmed persists vanish; its store stays."""
        node = self.nodes[nid]
        node.core = None
        node.incarnation += 1

    def restart(self, nid: str) -> None:
        node = self.nodes[nid]
        node.core = NodeCore(nid, node.config, restored=node.store.load(), seed=self.seed * 7919 + node.incarnation)
        for link in self.links.values():
            if nid in (link.a, link.b) and not link.up:
                self._execute(nid, node.core.link_changed(link.link_id, False, self.t))
        self._execute(nid, node.core.tick(self.t))

    def run(self, until: float, max_steps: int = 200_000) -> None:
        for _ in range(max_steps):
            wake = [(w, nid) for nid, n in self.nodes.items() if n.core is not None
                    and (w := n.core.next_wakeup()) is not None]
            t_wake = min((w for w, _ in wake), default=math.inf)
            t_event = self._heap[0][0] if self._heap else math.inf
            t_next = max(self.t, min(t_wake, t_event))
            if t_next > until:
                self.t = until
                return
            self.t = t_next
            if t_event <= t_wake:
                _, _, kind, args = heapq.heappop(self._heap)
                self._dispatch(kind, args)
            else:
                for w, nid in wake:
                    if w <= self.t and self.nodes[nid].core is not None:
                        self._execute(nid, self.core(nid).tick(self.t))
        raise AssertionError(f"mesh did not reach t={until} in {max_steps} steps (stuck at t={self.t})")

    # -- plumbing ---------------------------------------------------------------
    def _schedule(self, at: float, kind: str, *args: Any) -> None:
        heapq.heappush(self._heap, (at, next(self._tie), kind, args))

    def _dispatch(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "frame":
            link_id, to, data, sent_up_to = args
            node = self.nodes[to]
            if node.core is None or not self.links[link_id].up or sent_up_to != self.links[link_id].up:
                return
            self._execute(to, node.core.handle_frame(link_id, data, self.t))
        elif kind == "stored":
            nid, incarnation, persist = args
            node = self.nodes[nid]
            if node.core is None or node.incarnation != incarnation:
                return                       # crashed before the commit: nothing was stored
            self._apply(node, persist)
            self._execute(nid, node.core.stored([r.msg_id for r in persist.records], self.t))

    def _apply(self, node: SimNode, persist: Persist) -> None:
        for rec in persist.records:
            node.committing.discard(rec.msg_id)
            if rec.msg_id in node.cancelled:     # as the runtime does: a forgotten record is not written
                node.cancelled.discard(rec.msg_id)
                continue
            node.store.records[rec.msg_id] = rec
            node.store.ever_written.add(rec.msg_id)
        for mid, until, hops in persist.seen:
            node.store.seen[mid] = until
            node.store.hops[mid] = hops
        for k, v in persist.kv:
            node.store.kv[k] = v

    def _execute(self, nid: str, actions: list[Any]) -> None:
        node = self.nodes[nid]
        for a in actions:
            if isinstance(a, Transmit):
                node.sent.append((self.t, a.link_id, a.data))
                link = self.links[a.link_id]
                if not link.up:
                    continue
                to = link.b if link.a == nid else link.a
                if self.drop_filter(a.link_id, to, a.data):
                    continue
                self.frames_carried += 1
                arrive = self.t + len(a.data) * 8 / link.profile.rate_bps + link.profile.latency_s
                self._schedule(arrive, "frame", a.link_id, to, a.data, True)
            elif isinstance(a, Persist):
                delay_s = (self.store_delay_s.get(nid, 0.0) if isinstance(self.store_delay_s, dict)
                           else self.store_delay_s)     # per node: a dict of node id -> seconds
                if delay_s <= 0:
                    self._apply(node, a)
                    if node.core is not None:
                        self._execute(nid, node.core.stored([r.msg_id for r in a.records], self.t))
                else:
                    node.committing.update(r.msg_id for r in a.records)
                    self._schedule(self.t + delay_s, "stored", nid, node.incarnation, a)
            elif isinstance(a, Forget):
                for mid in a.msg_ids:
                    node.store.records.pop(mid, None)
                    if mid in node.committing:
                        node.cancelled.add(mid)
            elif isinstance(a, Deliver):
                node.deliveries.append((self.t, a.envelope))
                node.store.inbox.setdefault(a.envelope.msg_id, a.envelope)   # the store's inbox dedups
            elif isinstance(a, Receipt):
                node.receipts.append((self.t, a))
            elif isinstance(a, Dropped):
                node.dropped.append((self.t, a))
            elif isinstance(a, Telemetry):
                node.events.append(a.event)
            else:
                raise AssertionError(f"unknown action {a!r}")

    # -- queries ----------------------------------------------------------------
    def delivered_ids(self, nid: str) -> list[bytes]:
        return [env.msg_id for _, env in self.nodes[nid].deliveries]

    def data_sends(self, nid: str, link_id: str) -> list[tuple[float, wire.Frame]]:
        """(time, decoded frame) of DATA/RECEIPT/FRAGMENT frames ``nid`` put on ``link_id``."""
        out = []
        for t, lid, data in self.nodes[nid].sent:
            f = wire.decode(data)
            if lid == link_id and isinstance(f, (wire.Envelope, wire.Fragment)):
                out.append((t, f))
        return out


def profile(kind: str, **overrides: Any) -> LinkProfile:
    return make_profile(kind, overrides or None)


# ------------------------------------------------------------------------ harness tests
def test_frames_arrive_after_serialisation_and_latency() -> None:
    """A message over one radio hop arrives after its air time plus the link latency."""
    radio = profile("radio", loss=0.0)
    mesh = Mesh([("ab", "a", "b", radio)])
    mesh.run(1.0)
    t0 = mesh.t
    mid = mesh.submit("a", "b", Priority.FLASH, b"hello")
    mesh.run(t0 + 10.0)
    [(t_arr, env)] = mesh.nodes["b"].deliveries
    assert env.msg_id == mid and env.payload() == b"hello"
    frame_bytes = len(wire.encode_envelope(env))
    assert t_arr >= t0 + radio.latency_s + frame_bytes * 8 / radio.rate_bps - 1e-9


def test_submitted_message_is_accepted_only_after_the_store_confirms() -> None:
    """Custody: no 'accepted' receipt and no transmission before the store says stored."""
    mesh = Mesh([("ab", "a", "b", profile("fibre"))], store_delay_s=0.5)
    mesh.run(1.0)
    mid = mesh.submit("a", "b", Priority.ROUTINE, b"x")
    mesh.run(1.4)
    assert not mesh.nodes["a"].receipts
    assert not [1 for _, f in mesh.data_sends("a", "ab")]
    mesh.run(5.0)
    statuses = [r.status for _, r in mesh.nodes["a"].receipts if r.msg_id == mid]
    assert statuses == ["accepted", "delivered"]
