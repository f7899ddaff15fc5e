"""A message that loops back to a relay which already handed it on (views differ during a
heal: cc > r1 > t3 > r3 > cc in a chaos run) is taken into custody again, never acked away
as a duplicate while nobody holds it; a plain retransmission (our ack was lost) still is."""

from __future__ import annotations

import dataclasses

from emcomm.node import wire
from emcomm.node.actions import Dropped, Persist
from emcomm.priority import Priority

from test_core_harness import Mesh, profile


def _line() -> tuple[Mesh, bytes, wire.Envelope]:
    mesh = Mesh([("ar", "a", "r", profile("fibre", loss=0.0)), ("rb", "r", "b", profile("fibre", loss=0.0))])
    mesh.run(5.0)
    mid = mesh.submit("a", "b", Priority.ROUTINE, b"report")
    mesh.run(10.0)
    assert mesh.delivered_ids("b") == [mid]
    env = next(f for _, f in mesh.data_sends("r", "rb") if f.msg_id == mid)
    return mesh, mid, env


def test_copy_coming_back_with_more_hops_is_taken_into_custody_again() -> None:
    mesh, mid, env = _line()
    looped = wire.encode_envelope(dataclasses.replace(env, hop_count=env.hop_count + 2))
    actions = mesh.core("r").handle_frame("rb", looped, mesh.t)
    assert any(isinstance(x, Persist) and any(rec.msg_id == mid for rec in x.records) for x in actions)
    assert not any(isinstance(x, Dropped) and x.reason == "duplicate" for x in actions)
    assert mesh.core("r").counters["loops_recovered"] == 1
    mesh._execute("r", actions)
    mesh.run(20.0)
    assert mesh.delivered_ids("b") == [mid]          # the destination still delivers it once


def test_retransmission_with_the_same_hops_is_acked_as_a_duplicate() -> None:
    mesh, mid, _ = _line()
    first = next(f for _, f in mesh.data_sends("a", "ar") if f.msg_id == mid)
    actions = mesh.core("r").handle_frame("ar", wire.encode_envelope(first), mesh.t)
    assert any(isinstance(x, Dropped) and x.reason == "duplicate" for x in actions)
    assert not any(isinstance(x, Persist) and x.records for x in actions)
    assert mesh.core("r").counters["loops_recovered"] == 0


def _acked_on(mesh: Mesh, nid: str, link_id: str, mid: bytes, since: int) -> bool:
    for _, lid, data in mesh.nodes[nid].sent[since:]:
        f = wire.decode(data)
        if lid == link_id and isinstance(f, wire.HopAck) and mid in f.msg_ids:
            return True
    return False


def test_copy_coming_back_while_our_copy_awaits_its_ack_is_not_acked_away() -> None:
    # chaos run: cc > r3 > r2 > t2 > r3 came back to r3 before r2's ack did; r3 acked it as a
    # duplicate (t2 forgot it), then r2's ack made r3 forget it too: nobody held it
    mesh = Mesh([("ar", "a", "r", profile("fibre", loss=0.0)), ("rb", "r", "b", profile("fibre", loss=0.0))])
    mesh.run(5.0)
    hold_acks = True
    mesh.drop_filter = lambda link_id, to, data: (hold_acks and link_id == "rb" and to == "r"
                                                  and isinstance(wire.decode(data), wire.HopAck))
    mid = mesh.submit("a", "b", Priority.ROUTINE, b"report")
    mesh.run(6.0)
    env = next(f for _, f in mesh.data_sends("r", "rb") if f.msg_id == mid)
    looped = wire.encode_envelope(dataclasses.replace(env, hop_count=env.hop_count + 2))
    since = len(mesh.nodes["r"].sent)
    mesh._execute("r", mesh.core("r").handle_frame("ar", looped, mesh.t))
    mesh.run(mesh.t + 0.5)
    assert not _acked_on(mesh, "r", "ar", mid, since)   # the looping sender must keep its copy
    hold_acks = False
    mesh.run(mesh.t + 30.0)                              # r's copy is acked and r hands it on
    assert mid not in mesh.nodes["r"].store.records
    # the sender's retransmission now finds r without it: custody again, never a duplicate ack
    actions = mesh.core("r").handle_frame("ar", looped, mesh.t)
    assert any(isinstance(x, Persist) and any(rec.msg_id == mid for rec in x.records) for x in actions)
    assert mesh.core("r").counters["loops_recovered"] == 1
    assert mesh.delivered_ids("b") == [mid]


def test_after_a_restart_a_copy_coming_back_is_taken_into_custody_again_not_acked_away() -> None:
    """The store keeps the hop count each id arrived with, so a restarted relay still tells a
    copy that looped (more hops) from a retransmission: the looping copy is taken into custody
    again, never acked away while perhaps nobody else holds it."""
    mesh, mid, env = _line()
    mesh.crash("r")
    mesh.restart("r")
    assert mid in mesh.core("r")._seen and not mesh.core("r")._msgs
    looped = wire.encode_envelope(dataclasses.replace(env, hop_count=env.hop_count + 2))
    actions = mesh.core("r").handle_frame("rb", looped, mesh.t)
    assert any(isinstance(x, Persist) and any(rec.msg_id == mid for rec in x.records) for x in actions)
    assert not any(isinstance(x, Dropped) and x.reason == "duplicate" for x in actions)
    mesh._execute("r", actions)
    mesh.run(mesh.t + 20.0)
    assert mesh.delivered_ids("b") == [mid]          # the destination still delivers it once
    # a message delivered here is still a plain duplicate after a restart
    back = mesh.submit("b", "r", Priority.ROUTINE, b"to r")
    mesh.run(mesh.t + 10.0)
    first = next(f for _, f in mesh.data_sends("b", "rb") if f.msg_id == back)
    mesh.crash("r")
    mesh.restart("r")
    actions = mesh.core("r").handle_frame("rb", wire.encode_envelope(first), mesh.t)
    assert any(isinstance(x, Dropped) and x.reason == "duplicate" for x in actions)


def test_after_a_restart_a_retransmission_with_the_same_hops_is_still_a_duplicate() -> None:
    """The relay's ack was lost in the crash: the previous hop sends the message again. The
    relay handed it on before the crash, so it acks it as a duplicate and sends nothing more
    (without the stored hop count it took such a copy into custody again: one extra hop for
    every message whose ack the crash cut off, on Beidou a minute each); a message that
    originated at the restarted node still counts any returning copy as looping."""
    mesh, mid, _ = _line()
    first = next(f for _, f in mesh.data_sends("a", "ar") if f.msg_id == mid)
    mesh.crash("r")
    mesh.restart("r")
    assert mesh.core("r")._handed[mid] == first.hop_count
    since = len(mesh.nodes["r"].sent)
    handed_before = sum(f.msg_id == mid for _, f in mesh.data_sends("r", "rb"))
    actions = mesh.core("r").handle_frame("ar", wire.encode_envelope(first), mesh.t)
    assert any(isinstance(x, Dropped) and x.reason == "duplicate" for x in actions)
    assert not any(isinstance(x, Persist) and x.records for x in actions)
    mesh._execute("r", actions)
    mesh.run(mesh.t + 20.0)
    assert _acked_on(mesh, "r", "ar", mid, since), "acked again: the sender can forget it"
    assert sum(f.msg_id == mid for _, f in mesh.data_sends("r", "rb")) == handed_before, "not handed on again"
    assert mesh.core("r").counters["loops_recovered"] == 0 and mesh.delivered_ids("b") == [mid]
    own = mesh.submit("r", "b", Priority.ROUTINE, b"from r")
    mesh.run(mesh.t + 10.0)
    mesh.crash("r")
    mesh.restart("r")
    assert mesh.core("r")._handed[own] == -1


def test_after_a_restart_a_late_copy_of_a_group_message_is_still_a_duplicate() -> None:
    """Loop recovery is for unicast messages: a flooded group message reaches a relay by many
    ways with many hop counts, and a restarted relay must not flood it again for each."""
    mesh = Mesh([("ar", "a", "r", profile("fibre", loss=0.0)), ("rb", "r", "b", profile("fibre", loss=0.0))])
    mesh.run(5.0)
    mid = mesh.submit("a", "@teams", Priority.ROUTINE, b"to every team")
    mesh.run(10.0)
    env = next(f for _, f in mesh.data_sends("r", "rb") if f.msg_id == mid)
    mesh.crash("r")
    mesh.restart("r")
    later = wire.encode_envelope(dataclasses.replace(env, hop_count=env.hop_count + 2))
    actions = mesh.core("r").handle_frame("rb", later, mesh.t)
    assert any(isinstance(x, Dropped) and x.reason == "duplicate" for x in actions)
    assert not any(isinstance(x, Persist) and x.records for x in actions)
