"""Robustness rules of the node core found by the chaos harness, proved in memory (simulated
clock, no sockets): a submission whose store commit failed is never delivered (the sender was
told "not accepted")."""

from __future__ import annotations

from typing import Any

from emcomm.node import wire
from emcomm.node.actions import Persist, Receipt, Transmit
from emcomm.node.core import NodeConfig, NodeCore
from emcomm.priority import Priority
from tests.test_core_harness import Mesh, profile


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
    the message and retransmits; after recovery it is delivered exactly once."""
    fibre = profile("fibre", loss=0.0)
    mesh = DiskFullMesh([("ar", "a", "r", fibre), ("rb", "r", "b", fibre)])
    mesh.run(5.0)
    mesh.full.add("r")
    mid = mesh.submit("a", "b", Priority.ROUTINE, b"supplies list")
    mesh.run(12.0)
    assert mid in mesh.nodes["a"].store.records, "a still holds the message in custody"
    assert not [1 for _, lid, data in mesh.nodes["r"].sent if lid == "ar" and isinstance(wire.decode(data), wire.HopAck)
                and mid in wire.decode(data).msg_ids]
    assert mid not in mesh.delivered_ids("b")
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
