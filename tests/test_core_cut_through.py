"""Cut-through relaying: a relay hands a message on while its own record is still being stored,
but acks the previous hop only once that record is durable, so at every moment the message is
held durably by the previous hop or by the relay (custody is never given up early)."""

from __future__ import annotations

from emcomm.node import wire
from emcomm.priority import Priority

from test_core_harness import Mesh, profile

STORE_DELAY_S = 0.5     # a slow disk: every commit takes this long


def _acks_of(mesh: Mesh, nid: str, link_id: str, mid: bytes) -> list[float]:
    return [t for t, lid, data in mesh.nodes[nid].sent if lid == link_id
            for f in [wire.decode(data)] if isinstance(f, wire.HopAck) and mid in f.msg_ids]


def _line(store_delay_s: float | dict[str, float] = STORE_DELAY_S) -> Mesh:
    fibre = profile("fibre", loss=0.0)
    mesh = Mesh([("ar", "a", "r", fibre), ("rb", "r", "b", fibre)], store_delay_s=store_delay_s)
    mesh.run(5.0)           # links up, routes known
    return mesh


def test_a_relay_forwards_before_its_commit_ends_and_acks_upstream_only_after_it() -> None:
    mesh = _line()
    mid = mesh.submit("a", "b", Priority.ROUTINE, b"water levels at gauge 7")
    mesh.run(30.0)
    forwarded = [t for t, f in mesh.data_sends("r", "rb") if f.msg_id == mid]
    acked_up = _acks_of(mesh, "r", "ar", mid)
    received = min(t for t, f in mesh.data_sends("a", "ar") if f.msg_id == mid)   # ≈ when r got it
    assert forwarded and acked_up
    assert forwarded[0] < received + STORE_DELAY_S, "handed on before the relay's own commit ended"
    assert acked_up[0] >= received + STORE_DELAY_S, "the previous hop is acked only once the record is durable"
    assert mesh.delivered_ids("b").count(mid) == 1
    assert mid not in mesh.nodes["r"].store.records and mid not in mesh.nodes["a"].store.records
    assert [r.status for _, r in mesh.nodes["a"].receipts if r.msg_id == mid] == ["accepted", "delivered"]


def test_a_message_acked_downstream_before_the_relays_commit_is_finished_by_the_commit() -> None:
    """The next hop's ack arrives first: the relay's record is never written (only its seen id),
    the relay keeps the message until its commit ends, then acks upstream and forgets it; it never
    sends it again."""
    mesh = _line({"a": 0.01, "r": STORE_DELAY_S, "b": 0.01})     # b's disk is fast, r's slow
    mid = mesh.submit("a", "b", Priority.IMMEDIATE, b"road 3 blocked")
    mesh.run(30.0)
    acked_down = _acks_of(mesh, "b", "rb", mid)
    acked_up = _acks_of(mesh, "r", "ar", mid)
    assert acked_down and acked_up and acked_down[0] < acked_up[0]
    assert len([1 for _, f in mesh.data_sends("r", "rb") if f.msg_id == mid]) == 1
    assert mesh.core("r").snapshot(mesh.t)["messages"] == 0
    assert mid not in mesh.nodes["r"].store.ever_written and mid in mesh.nodes["r"].store.seen


def test_a_relay_that_crashes_before_its_commit_loses_nothing_and_duplicates_nothing() -> None:
    """r hands the message on, then dies before its record is stored: a never got r's ack, so it
    retransmits to the restarted r, which hands it on again; b suppresses the duplicate."""
    mesh = _line()
    mid = mesh.submit("a", "b", Priority.FLASH, b"SOS team 4")
    t_stored_at_a = mesh.t + STORE_DELAY_S
    while not [1 for _, f in mesh.data_sends("r", "rb") if f.msg_id == mid]:
        mesh.run(mesh.t + 0.001)
    assert mesh.t < t_stored_at_a + STORE_DELAY_S + 0.1     # r's commit has not ended yet
    mesh.crash("r")
    assert mid not in mesh.nodes["r"].store.records
    mesh.run(mesh.t + 1.0)
    mesh.restart("r")
    mesh.run(mesh.t + 120.0)
    assert mesh.delivered_ids("b").count(mid) == 1
    assert mid not in mesh.nodes["a"].store.records, "a's custody ended: r (restarted) took it and acked"
    assert [r.status for _, r in mesh.nodes["a"].receipts if r.msg_id == mid] == ["accepted", "delivered"]
