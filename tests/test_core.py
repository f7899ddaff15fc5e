"""Behaviour of the node core, proven by driving several cores against each other in memory."""

from __future__ import annotations

import random

import pytest

from emcomm.errors import UsageError
from emcomm.node import telemetry as tm
from emcomm.node import wire
from emcomm.node.actions import Dropped, Persist
from emcomm.node.core import NodeConfig, NodeCore
from emcomm.priority import Priority
from emcomm.router.policy import RoutingPolicy, Use

from test_core_harness import Mesh, profile


def _noise(n: int, seed: int = 0) -> bytes:
    # incompressible bodies, so sizes on the wire are what the test says
    return random.Random(seed).randbytes(n)


def test_flash_overtakes_a_full_routine_queue() -> None:
    """A FLASH message submitted behind 40 queued ROUTINE messages is the next thing on the link."""
    mesh = Mesh([("ab", "a", "b", profile("radio", loss=0.0))])
    mesh.run(1.0)
    routine = [mesh.submit("a", "b", Priority.ROUTINE, _noise(400, i)) for i in range(40)]
    mesh.run(2.0)
    flash = mesh.submit("a", "b", Priority.FLASH, b"SOS: building collapse, 3 trapped")
    t_flash = mesh.t
    mesh.run(200.0)
    order = mesh.delivered_ids("b")
    assert sorted(order) == sorted(routine + [flash])
    pos = order.index(flash)
    # only the ROUTINE frames already on the air (≈ 2 s at 9.6 kbps, plus the pacing burst) go first
    on_air = sum(1 for t, lid, _ in mesh.nodes["a"].sent if lid == "ab" and t <= t_flash) - 1
    assert pos <= on_air
    assert len(order) - pos - 1 >= 30


def test_a_5kb_report_crosses_beidou_in_fragments_one_per_60_s() -> None:
    """A 5 KB status report goes over Beidou RDSS as 3 fragments, never two sends within 60 s."""
    beidou = profile("beidou", loss=0.0)
    mesh = Mesh([("ab", "a", "b", beidou)])
    body = _noise(5000)
    mid = mesh.submit("a", "b", Priority.IMMEDIATE, body, content_type=wire.ContentType.STATUS)
    mesh.run(1200.0)
    [(_, env)] = mesh.nodes["b"].deliveries
    assert env.msg_id == mid and env.payload() == body
    frags = [f for _, f in mesh.data_sends("a", "ab")]
    assert all(isinstance(f, wire.Fragment) for f in frags) and len(frags) == 3
    sends = [t for t, lid, data in mesh.nodes["a"].sent if lid == "ab"]
    assert all(len(d) <= beidou.mtu_bytes for _, _, d in mesh.nodes["a"].sent)
    gaps = [b - a for a, b in zip(sends, sends[1:])]
    assert gaps and min(gaps) >= beidou.min_interval_s - 1e-9
    assert [r.status for _, r in mesh.nodes["a"].receipts] == ["accepted", "delivered"]


def test_a_position_report_fits_one_beidou_message_with_room_for_a_signature() -> None:
    """A position report's frame fits one 1,750-byte RDSS message with 100 bytes spare."""
    body = b'{"lat":34.74661,"lon":113.62532,"alt_m":110,"speed_mps":0.0,"heading_deg":0,"fix":"3d"}'
    env = wire.make_envelope(bytes(16), "team-henan-07", "command-zhengzhou", 0, wire.ContentType.POSITION,
                             1_626_800_000.25, 86400.0, body)
    size = len(wire.encode_envelope(env))
    assert size + wire.SIGNATURE_RESERVE_BYTES <= profile("beidou").mtu_bytes
    assert size < 200


def test_link_failure_mid_transfer_reroutes_via_tiantong() -> None:
    """Beidou fails after the first fragment: the report is re-sent whole over Tiantong."""
    policy = RoutingPolicy.default().with_use(Priority.IMMEDIATE, "tiantong", Use.LAST_RESORT)
    mesh = Mesh([("ab-beidou", "a", "b", profile("beidou", loss=0.0)),
                 ("ab-tiantong", "a", "b", profile("tiantong", loss=0.0))],
                node_kwargs={"policy": policy})
    mesh.run(5.0)
    body = _noise(5000, 3)
    mid = mesh.submit("a", "b", Priority.IMMEDIATE, body)
    mesh.run(130.0)
    assert any(isinstance(f, wire.Fragment) for _, f in mesh.data_sends("a", "ab-beidou"))
    assert not mesh.nodes["b"].deliveries
    mesh.set_link("ab-beidou", False)
    t_fail = mesh.t
    mesh.run(t_fail + 30.0)
    [(t_arr, env)] = mesh.nodes["b"].deliveries
    assert env.msg_id == mid and env.payload() == body and t_arr - t_fail < 5.0
    assert [f for _, f in mesh.data_sends("a", "ab-tiantong")]
    rerouted = [e for e in mesh.nodes["a"].events if e.kind == tm.REROUTED and e.msg_id == mid]
    assert rerouted and rerouted[0].detail["to"] == "ab-tiantong"
    assert mesh.nodes["a"].store.records == {}        # handed on: custody released


def test_lost_hop_ack_causes_a_retransmission_and_the_duplicate_is_dropped() -> None:
    """When the hop-ack is lost the sender resends; the receiver drops the duplicate and re-acks."""
    mesh = Mesh([("ab", "a", "b", profile("radio", loss=0.0))])
    lost = {"n": 0}

    def lose_first_ack(link_id: str, to: str, data: bytes) -> bool:
        if to == "a" and isinstance(wire.decode(data), wire.HopAck) and lost["n"] == 0:
            lost["n"] += 1
            return True
        return False

    mesh.drop_filter = lose_first_ack
    mesh.run(1.0)
    mid = mesh.submit("a", "b", Priority.PRIORITY, b"water level 1.8 m at Jingguang tunnel")
    mesh.run(120.0)
    assert mesh.delivered_ids("b") == [mid]
    assert mesh.core("b").counters["duplicates"] >= 1
    assert any(d.reason == "duplicate" and d.msg_id == mid for _, d in mesh.nodes["b"].dropped)
    assert mesh.core("a").counters["retransmits"] >= 1
    assert mid not in mesh.nodes["a"].store.records


def test_retransmissions_back_off_exponentially() -> None:
    """With every frame to b lost, the gaps between resends of one message double."""
    mesh = Mesh([("ab", "a", "b", profile("fibre", loss=0.0))],
                node_kwargs={"dead_after_missed": 10_000})
    mesh.drop_filter = lambda link_id, to, data: to == "b"
    mid = mesh.submit("a", "b", Priority.FLASH, b"x")
    mesh.run(300.0)
    times = [t for t, f in mesh.data_sends("a", "ab") if isinstance(f, wire.Envelope) and f.msg_id == mid]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) >= 4
    for g1, g2 in zip(gaps, gaps[1:]):
        assert g2 == pytest.approx(2 * g1, rel=0.01)


def test_a_message_that_cannot_be_delivered_in_time_expires_with_a_reason() -> None:
    """A held message whose TTL runs out is dropped as expired, reported, and forgotten."""
    mesh = Mesh([("ab", "a", "b", profile("radio"))])
    mesh.set_link("ab", False)
    mid = mesh.submit("a", "b", Priority.ROUTINE, b"supply list", ttl_s=30.0)
    mesh.run(29.0)
    assert mid in mesh.nodes["a"].store.records
    mesh.run(31.0)
    assert [r.status for _, r in mesh.nodes["a"].receipts] == ["accepted", "expired"]
    assert any(d.reason == "expired" and d.msg_id == mid for _, d in mesh.nodes["a"].dropped)
    assert mid not in mesh.nodes["a"].store.records
    mesh.set_link("ab", True)
    mesh.run(60.0)
    assert mesh.nodes["b"].deliveries == []


def test_a_frame_arriving_with_no_lifetime_left_is_dropped() -> None:
    """A DATA frame whose remaining TTL is 0 is dropped as expired and never delivered."""
    core = NodeCore("b", NodeConfig(links={"ab": ("a", profile("radio"))}))
    env = wire.Envelope(bytes(range(16)), "a", "b", 0, 0, 0.0, 0.0, b"late")
    actions = core.handle_frame("ab", wire.encode_envelope(env), now=5.0)
    assert [a.reason for a in actions if isinstance(a, Dropped)] == ["expired"]
    assert not [a for a in actions if isinstance(a, Persist) and a.records]
    assert core.counters["dropped.expired"] == 1


def test_messages_cross_a_relay_using_routes_learnt_from_adverts() -> None:
    """a knows b only through r's link-state advert, and still reaches it over two hops."""
    mesh = Mesh([("ar", "a", "r", profile("cellular")), ("rb", "r", "b", profile("radio"))])
    mesh.run(10.0)
    assert "b" in mesh.core("a").routes.reachable()
    mid = mesh.submit("a", "b", Priority.IMMEDIATE, b"need 200 sandbags")
    mesh.run(20.0)
    [(_, env)] = mesh.nodes["b"].deliveries
    assert env.msg_id == mid and env.hop_count == 1
    assert [r.status for _, r in mesh.nodes["a"].receipts] == ["accepted", "delivered"]
    assert mesh.nodes["r"].store.records == {}


def test_a_silent_neighbour_is_declared_down_and_traffic_waits() -> None:
    """When r stops answering, a marks the link down after the missed heartbeats and holds messages."""
    mesh = Mesh([("ar", "a", "r", profile("cellular")), ("rb", "r", "b", profile("radio"))])
    mesh.run(10.0)
    mesh.crash("r")
    mesh.run(80.0)
    downs = [e for e in mesh.nodes["a"].events if e.kind == tm.LINK_DOWN]
    assert downs and downs[0].reason == "neighbour_silent"
    cfg = mesh.nodes["a"].config
    assert downs[0].t_s - 10.0 <= cfg.dead_after_missed * cfg.heartbeat_interval_s + 2
    mid = mesh.submit("a", "b", Priority.FLASH, b"status?")
    assert mesh.core("a").snapshot(mesh.t)["held"][0] == 1
    mesh.restart("r")
    mesh.run(140.0)
    assert mesh.delivered_ids("b") == [mid]


def test_adverts_never_go_ahead_of_flash_on_a_thin_link() -> None:
    """On Beidou, a pending link-state advert waits behind FLASH for the one send slot."""
    mesh = Mesh([("ab", "a", "b", profile("beidou")), ("ac", "a", "c", profile("radio"))],
                node_kwargs={"thin_link_advert_gap_s": 0.0})
    mesh.run(100.0)
    mesh.set_link("ac", False)                 # a's links changed: a new advert is due everywhere
    mesh.run(mesh.t + 0.0)
    mid = mesh.submit("a", "b", Priority.FLASH, b"dam breach imminent")
    mesh.run(400.0)
    frames = [wire.decode(d) for t, lid, d in mesh.nodes["a"].sent if lid == "ab" and t >= 100.0]
    kinds = [type(f).__name__ for f in frames]
    assert kinds[0] == "Envelope" and frames[0].msg_id == mid
    assert "LinkStateAdvert" in kinds


@pytest.mark.parametrize("crash_at", [0.5, 3.0, 40.0, 61.5])
def test_restart_from_restored_state_delivers_every_accepted_message_exactly_once(crash_at: float) -> None:
    """The relay crashes while holding messages; after restart each accepted message is delivered once."""
    mesh = Mesh([("ar", "a", "r", profile("cellular")), ("rb", "r", "b", profile("beidou"))],
                store_delay_s=0.2)
    mesh.run(5.0)
    mids = [mesh.submit("a", "b", Priority(i % 3), f"report {i}".encode() * 5) for i in range(6)]
    mesh.run(5.0 + crash_at)
    mesh.crash("r")
    mesh.run(5.0 + crash_at + 20.0)
    mesh.restart("r")
    mesh.run(3000.0)
    accepted = {r.msg_id for _, r in mesh.nodes["a"].receipts if r.status == "accepted"}
    assert accepted == set(mids)
    inbox = mesh.nodes["b"].store.inbox
    assert set(inbox) == accepted
    deliveries = mesh.delivered_ids("b")
    assert sorted(set(deliveries)) == sorted(accepted) and len(deliveries) == len(accepted)
    assert mesh.nodes["r"].store.records == {} and mesh.nodes["a"].store.records == {}


def test_bad_submissions_are_refused_with_a_clear_message() -> None:
    """Local misuse raises UsageError naming what is wrong."""
    core = NodeCore("a", NodeConfig(links={"ab": ("b", profile("radio"))}))
    with pytest.raises(UsageError, match="destination"):
        core.submit("", Priority.FLASH, wire.ContentType.TEXT, b"x", now=0.0)
    with pytest.raises(UsageError, match="exceeds the limit"):
        core.submit("b", Priority.FLASH, wire.ContentType.TEXT, b"x" * (wire.MAX_BODY_BYTES + 1), now=0.0)
    with pytest.raises(UsageError, match="ttl_s"):
        core.submit("b", Priority.FLASH, wire.ContentType.TEXT, b"x", now=0.0, ttl_s=-1)
    with pytest.raises(UsageError, match="unknown priority"):
        core.submit("b", "urgentest", wire.ContentType.TEXT, b"x", now=0.0)   # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unknown link"):
        core.link_changed("nope", False, now=0.0)


def test_snapshot_reports_queues_per_link_and_priority() -> None:
    """The telemetry snapshot counts queued messages per link and class."""
    mesh = Mesh([("ab", "a", "b", profile("beidou"))])
    mesh.run(1.0)
    for i in range(3):
        mesh.submit("a", "b", Priority.PRIORITY, _noise(1000, i))
    snap = mesh.core("a").snapshot(mesh.t)
    assert snap["node"] == "a" and snap["links"]["ab"]["kind"] == "beidou"
    queued = snap["queues"]["ab"][Priority.PRIORITY] + snap["in_flight"]
    assert queued == 3


def test_a_lost_advert_is_sent_again_when_a_heartbeat_shows_the_neighbour_missed_it() -> None:
    """Adverts are not acked: a heartbeat saying 'I hold seq 0 of yours' makes r re-send its advert."""
    mesh = Mesh([("ar", "a", "r", profile("cellular")), ("rb", "r", "b", profile("radio"))])
    mesh.drop_filter = lambda link_id, to, data: to == "a" and isinstance(wire.decode(data), wire.LinkStateAdvert)
    mesh.run(30.0)
    assert "b" not in mesh.core("a").routes.reachable()
    mesh.drop_filter = lambda link_id, to, data: False
    mesh.run(60.0)
    assert mesh.core("r").counters["advert_resends"] >= 1
    assert "b" in mesh.core("a").routes.reachable()
