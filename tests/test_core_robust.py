"""Robustness rules of the node core found by the chaos harness, proved in memory (simulated
clock, no sockets): a clock that jumps back across a restart never makes an accepted message
vanish; a submission whose store commit failed is never delivered (the sender was told
"not accepted"); after a heal every node's link-state view converges within a few heartbeats."""

from __future__ import annotations

from typing import Any

from emcomm.node import wire
from emcomm.node.actions import Persist, Receipt, Transmit
from emcomm.node.core import NodeConfig, NodeCore
from emcomm.node.security import NodeSecurity
from emcomm.priority import Priority
from tests.test_core_harness import Mesh, profile
from tests.test_security_core import _ids, _roster


class SkewedCore:
    """A NodeCore whose clock reads ``offset_s`` ahead of the mesh's (a laptop with a wrong clock)."""

    def __init__(self, core: NodeCore, offset_s: float):
        self.inner, self.offset_s = core, offset_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def submit(self, *args: Any, **kw: Any) -> Any:
        dst, prio, ctype, body, now, *rest = args
        return self.inner.submit(dst, prio, ctype, body, now + self.offset_s, *rest, **kw)

    def handle_frame(self, link_id: str, data: bytes, now: float) -> list[Any]:
        return self.inner.handle_frame(link_id, data, now + self.offset_s)

    def stored(self, ids: Any, now: float) -> list[Any]:
        return self.inner.stored(ids, now + self.offset_s)

    def link_changed(self, link_id: str, up: bool, now: float, **kw: float) -> list[Any]:
        return self.inner.link_changed(link_id, up, now + self.offset_s, **kw)

    def tick(self, now: float) -> list[Any]:
        return self.inner.tick(now + self.offset_s)

    def next_wakeup(self) -> float | None:
        w = self.inner.next_wakeup()
        return None if w is None else w - self.offset_s


class SecureSkewMesh(Mesh):
    """The core harness with every core rostered and signing, and a clock offset per node that
    takes effect at the node's next (re)start."""

    def __init__(self, links: list[tuple[str, str, str, str]], **kw: Any):
        super().__init__([(lid, a, b, profile(kind, loss=0.0)) for lid, a, b, kind in links], **kw)
        auth, self.ids = _ids({n: "commander" if n == "cc" else "responder" for n in self.nodes})
        self.roster = _roster(auth, self.ids)
        self.offsets: dict[str, float] = {n: 0.0 for n in self.nodes}
        for nid, node in self.nodes.items():
            node.core = self._make(nid, None)  # type: ignore[assignment]

    def _make(self, nid: str, restored: Any) -> SkewedCore:
        node = self.nodes[nid]
        core = NodeCore(nid, node.config, restored=restored, seed=hash((nid, node.incarnation)) & 0xFFFF,
                        security=NodeSecurity(self.ids[nid], self.roster))
        return SkewedCore(core, self.offsets[nid])

    def restart(self, nid: str) -> None:
        node = self.nodes[nid]
        node.core = self._make(nid, node.store.load())  # type: ignore[assignment]
        for link in self.links.values():
            if nid in (link.a, link.b) and not link.up:
                self._execute(nid, node.core.link_changed(link.link_id, False, self.t))
        self._execute(nid, node.core.tick(self.t))


LINE = [("a-r/fibre", "a", "r", "fibre"), ("cc-r/fibre", "cc", "r", "fibre")]


# ------------------------------------------------------------------ clock jumps (bug 2)
def test_message_accepted_with_a_clock_120s_ahead_is_delivered_after_a_restart_with_the_right_clock() -> None:
    """Accepted while the node's clock ran 120 s ahead, held (its link down), the node restarted
    with the right clock: the message still reaches its destination, exactly once."""
    mesh = SecureSkewMesh(LINE)
    mesh.offsets["a"] = 120.0
    mesh.crash("a")
    mesh.restart("a")
    mesh.run(5.0)
    mesh.set_link("a-r/fibre", False)
    mid = mesh.submit("a", "cc", Priority.ROUTINE, b"casualty list", ttl_s=3600.0)
    assert [r.status for _, r in mesh.nodes["a"].receipts if r.msg_id == mid] == ["accepted"]
    mesh.run(8.0)
    mesh.crash("a")
    mesh.offsets["a"] = 0.0
    mesh.restart("a")
    mesh.set_link("a-r/fibre", True)
    mesh.run(40.0)
    assert mesh.delivered_ids("cc").count(mid) == 1
    assert not [d for n in mesh.nodes.values() for _, d in n.dropped if d.msg_id == mid and d.reason != "duplicate"]


def test_a_relay_whose_clock_is_stepped_back_while_running_forwards_no_more_lifetime_than_it_got() -> None:
    """The clock of a running relay is stepped back 120 s (as NTP would) while it holds a
    message: the remaining lifetime it forwards is capped by what the message carried when it
    was accepted (a longer one is refused at the destination as forged, and lost)."""
    mesh = SecureSkewMesh(LINE)
    mesh.offsets["r"] = 120.0
    mesh.crash("r")
    mesh.restart("r")
    mesh.run(5.0)
    mesh.set_link("cc-r/fibre", False)
    mid = mesh.submit("a", "cc", Priority.ROUTINE, b"held at the relay", ttl_s=600.0)
    mesh.run(10.0)
    mesh.nodes["r"].core.offset_s = 0.0      # type: ignore[union-attr]
    mesh.set_link("cc-r/fibre", True)
    mesh.run(30.0)
    sent = [f for _, f in mesh.data_sends("r", "cc-r/fibre") if isinstance(f, wire.Envelope) and f.msg_id == mid]
    assert sent and all(f.ttl_s <= 600.0 for f in sent)
    assert mesh.delivered_ids("cc").count(mid) == 1


def test_a_clock_jump_forward_expires_a_message_with_a_reason_never_silently() -> None:
    """A clock jumping far forward past a held message's TTL expires it: the sender's
    application gets an "expired" receipt and the drop is counted with its reason."""
    mesh = SecureSkewMesh(LINE)
    mesh.run(2.0)
    mesh.set_link("a-r/fibre", False)
    mid = mesh.submit("a", "cc", Priority.ROUTINE, b"short lived", ttl_s=60.0)
    mesh.run(4.0)
    mesh.crash("a")
    mesh.offsets["a"] = 120.0
    mesh.restart("a")
    mesh.run(6.0)
    statuses = [r.status for _, r in mesh.nodes["a"].receipts if r.msg_id == mid]
    assert statuses == ["accepted", "expired"]
    assert any(d.reason == "expired" and d.msg_id == mid for _, d in mesh.nodes["a"].dropped)
    assert mid not in mesh.nodes["a"].store.records




# ------------------------------------------------------------------ failed store commits (bug 3)
class DiskFullMesh(Mesh):
    """The harness with a store that can be full: a failed commit is reported to the core with
    ``persist_failed`` and what the core keeps is retried a second later (as the runtime does)."""

    RETRY_S = 1.0

    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, store_delay_s=0.01, **kw)
        self.full: set[str] = set()

    def _dispatch(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "stored" and args[0] in self.full:
            nid, incarnation, persist = args
            node = self.nodes[nid]
            if node.core is None or node.incarnation != incarnation:
                return
            gone, actions = node.core.persist_failed([r.msg_id for r in persist.records], self.t)
            self._execute(nid, actions)
            keep = Persist(records=tuple(r for r in persist.records if r.msg_id not in gone),
                           seen=tuple(s for s in persist.seen if s[0] not in gone), kv=persist.kv)
            self._schedule(self.t + self.RETRY_S, "stored", nid, incarnation, keep)
            return
        super()._dispatch(kind, args)


def _statuses(mesh: Mesh, nid: str, mid: bytes) -> list[str]:
    return [r.status for _, r in mesh.nodes[nid].receipts if r.msg_id == mid]


def test_a_submission_whose_commit_failed_is_never_delivered_even_after_the_disk_recovers() -> None:
    """Disk full: the submitter is not told "accepted", nothing is sent, and once space returns
    the refused message does not come back from memory: it is delivered only if sent again."""
    mesh = DiskFullMesh([("ab", "a", "b", profile("fibre", loss=0.0))])
    mesh.run(1.0)
    mesh.full.add("a")
    mid = mesh.submit("a", "b", Priority.IMMEDIATE, b"road blocked at km 12")
    mesh.run(3.0)
    mesh.full.clear()
    mesh.run(30.0)
    assert _statuses(mesh, "a", mid) == []
    assert mid not in mesh.delivered_ids("b") and not mesh.data_sends("a", "ab")
    assert [d.reason for _, d in mesh.nodes["a"].dropped if d.msg_id == mid] == ["not_stored"]
    assert mid not in mesh.nodes["a"].store.records and mid not in mesh.nodes["a"].store.seen
    # the sender tries again with the same id: a new submission, delivered exactly once
    again, actions = mesh.core("a").submit("b", Priority.IMMEDIATE, wire.ContentType.TEXT, b"road blocked at km 12",
                                           mesh.t, msg_id=mid)
    assert again == mid and any(isinstance(x, Persist) for x in actions)
    mesh._execute("a", actions)
    mesh.run(40.0)
    assert _statuses(mesh, "a", mid) == ["accepted", "delivered"]
    assert mesh.delivered_ids("b").count(mid) == 1


def test_a_relay_with_a_full_disk_acks_nothing_and_the_sender_keeps_custody_until_it_recovers() -> None:
    """Frames from a peer while the relay's disk is full get no hop-ack; the previous hop keeps
    the message and retransmits; it is delivered exactly once (the relay may hand it on before
    its own store works again: custody stays with the previous hop until then)."""
    fibre = profile("fibre", loss=0.0)
    mesh = DiskFullMesh([("ar", "a", "r", fibre), ("rb", "r", "b", fibre)])
    mesh.run(5.0)
    mesh.full.add("r")
    mid = mesh.submit("a", "b", Priority.ROUTINE, b"supplies list")
    mesh.run(12.0)
    assert mid in mesh.nodes["a"].store.records, "a still holds the message in custody"
    assert not [1 for _, lid, data in mesh.nodes["r"].sent if lid == "ar" and isinstance(wire.decode(data), wire.HopAck)
                and mid in wire.decode(data).msg_ids]
    assert mesh.delivered_ids("b").count(mid) <= 1
    mesh.full.clear()
    mesh.run(60.0)
    assert mesh.delivered_ids("b").count(mid) == 1
    assert _statuses(mesh, "a", mid) == ["accepted", "delivered"]
    assert mid not in mesh.nodes["a"].store.records


def test_a_late_store_confirmation_of_a_refused_submission_is_ignored() -> None:
    """``stored`` for an id the core already gave up (its commit failed) sends and accepts nothing."""
    core = NodeCore("a", NodeConfig(links={"ab": ("b", profile("fibre"))}))
    mid, _ = core.submit("b", Priority.FLASH, wire.ContentType.TEXT, b"x", now=0.0)
    gone, actions = core.persist_failed([mid], now=0.1)
    assert gone == [mid] and [type(a).__name__ for a in actions if not type(a).__name__ == "Telemetry"] == ["Dropped"]
    later = core.stored([mid], now=0.2) + core.tick(1.0)
    assert not [a for a in later if isinstance(a, (Receipt, Transmit)) and getattr(a, "msg_id", None) == mid]
    assert not [a for a in later if isinstance(a, Transmit) and isinstance(wire.decode(a.data), wire.Envelope)]
    assert core.snapshot(1.0)["messages"] == 0


# ------------------------------------------------------------------ link-state resynchronisation (bug 1)
HEARTBEAT_S = NodeConfig(links={}).heartbeat_interval_s


def _digests(mesh: Mesh) -> set[str]:
    return {mesh.core(n).snapshot(mesh.t)["lsdb_digest"] for n in mesh.nodes}


def _converge_s(mesh: Mesh, bound_s: float) -> float | None:
    """Seconds until every node holds the same link-state view (None: not within ``bound_s``)."""
    t0 = mesh.t
    while mesh.t < t0 + bound_s:
        if len(_digests(mesh)) == 1:
            return mesh.t - t0
        mesh.run(mesh.t + 0.5)
    return None


def _chain() -> Mesh:
    fibre = profile("fibre", loss=0.0)
    return Mesh([("x-y/fibre", "x", "y", fibre), ("a-x/fibre", "a", "x", fibre), ("a-r/fibre", "a", "r", fibre),
                 ("b-r/fibre", "b", "r", fibre)])


def _remeasure(mesh: Mesh, nid: str, link_id: str) -> None:
    """The node measures a new latency on one of its links: its advert changes."""
    mesh._execute(nid, mesh.core(nid).link_changed(link_id, True, mesh.t, latency_s=0.08))


def test_after_a_heal_whose_far_end_came_up_late_every_view_converges_within_a_few_heartbeats() -> None:
    """a's end of the healed link comes up first: its flood of the database is lost (r's end is
    still down); r's end comes up later. The adverts changed during the partition still reach
    r and b within a few heartbeat intervals (not at the 300 s refresh)."""
    mesh = _chain()
    mesh.run(30.0)
    assert _converge_s(mesh, 30.0) is not None
    mesh.set_link("a-r/fibre", False)
    mesh.run(40.0)
    _remeasure(mesh, "x", "x-y/fibre")         # changes on a's side while cut off
    mesh.run(50.0)
    mesh._execute("a", mesh.core("a").link_changed("a-r/fibre", True, mesh.t))   # a's end first: frames dropped
    mesh.run(53.0)
    mesh.set_link("a-r/fibre", True)           # then r's end
    after = _converge_s(mesh, 120.0)
    assert after is not None and after <= 3 * HEARTBEAT_S, after


def test_a_node_restarted_with_an_old_database_catches_up_within_a_few_heartbeats() -> None:
    """b is killed and restarted from its store before its neighbour notices; meanwhile the
    mesh changed. b's saved link-state database is old, and nobody re-floods to it: the digest
    in the heartbeats and the summary exchange bring it up to date."""
    mesh = _chain()
    mesh.run(30.0)
    assert _converge_s(mesh, 30.0) is not None
    mesh.crash("b")
    _remeasure(mesh, "x", "x-y/fibre")
    mesh.run(mesh.t + 3.0)
    mesh.restart("b")
    after = _converge_s(mesh, 120.0)
    assert after is not None and after <= 3 * HEARTBEAT_S, after


def test_summaries_stop_once_the_views_agree() -> None:
    """The resynchronisation is not a standing cost: with equal views no summary is sent."""
    mesh = _chain()
    mesh.run(30.0)
    assert _converge_s(mesh, 60.0) is not None
    mesh.run(mesh.t + 5.0)
    before = {n: mesh.core(n).counters["tx_summaries"] for n in mesh.nodes}
    mesh.run(mesh.t + 10 * HEARTBEAT_S)
    assert {n: mesh.core(n).counters["tx_summaries"] for n in mesh.nodes} == before
    assert len(_digests(mesh)) == 1


def test_summary_frames_round_trip_and_bad_ones_are_refused() -> None:
    s = wire.LinkStateSummary("a", (("b", 3), ("a", 7)))
    assert wire.decode(wire.encode(s)) == s
    hb = wire.Heartbeat("a", 1, 2, b"\x01" * wire.LSDB_DIGEST_BYTES)
    assert wire.decode(wire.encode(hb)) == hb
    import msgpack
    from emcomm.errors import RemoteInputError
    for bad in ([1, 7, "a", [["b"]]], [1, 7, "a", "x"], [1, 7, "a", [["b", -1]]]):
        try:
            wire.decode(msgpack.packb(bad))
        except RemoteInputError as exc:
            assert exc.reason == "bad_field"
        else:
            raise AssertionError(f"accepted {bad}")
