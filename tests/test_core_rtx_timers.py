"""Retransmission timers: an acked copy's timer entry is dropped in bulk once dead entries pile
up (a busy relay acks most copies long before their timers are due), so under a steady load the
timer heap stays about the size of what is really awaiting an ack, and a copy still awaiting one
is retransmitted on time all the same. Likewise the expiry heap: a relayed message handed on
long before its TTL leaves no entry behind for long, and one still held expires on time."""

from __future__ import annotations

from emcomm.node import wire
from emcomm.node.actions import Transmit
from emcomm.node.core import RTX_COMPACT_MIN, TTL_COMPACT_MIN, NodeConfig, NodeCore
from emcomm.priority import Priority

from test_core_harness import profile

PER_STEP = 100


def _sent_ids(actions: list) -> list[bytes]:
    return [f.msg_id for a in actions if isinstance(a, Transmit)
            for f in [wire.decode(a.data)] if isinstance(f, wire.Envelope)]


def test_under_steady_load_the_timer_heap_stays_near_the_unacked_count_and_the_unacked_copy_is_resent() -> None:
    core = NodeCore("a", NodeConfig(links={"ab": ("b", profile("fibre", loss=0.0))}, telemetry=False), seed=1)
    now = 0.0
    core.tick(now)
    core.handle_frame("ab", wire.encode_heartbeat(wire.Heartbeat("b", 0)), now)
    kept: bytes | None = None            # the first message: b never acks it
    resent_at = None
    largest = 0
    for _ in range(300):                 # 30,000 messages, 10 ms apart in bursts of 100
        now += 0.01
        sent = _sent_ids(core.tick(now))
        for _ in range(PER_STEP):
            mid, actions = core.submit("b", Priority.ROUTINE, wire.ContentType.TEXT, b"gauge 7: 2.31 m", now)
            kept = kept or mid
            sent += _sent_ids(actions + core.stored([mid], now))
        if kept in sent and resent_at is None and now > 0.02:
            resent_at = now
        acked = [m for m in sent if m != kept]
        for i in range(0, len(acked), 1024):
            core.handle_frame("ab", wire.encode_hop_ack(acked[i:i + 1024]), now)
        largest = max(largest, len(core._rtx_heap))
    assert largest <= 2 * RTX_COMPACT_MIN + PER_STEP, f"dead timer entries pile up: {largest}"
    assert core.snapshot(now)["messages"] == 1
    assert resent_at is not None and resent_at < 3.0, "the copy awaiting its ack is retransmitted on time"


def test_relayed_messages_handed_on_leave_no_expiry_entries_and_a_held_one_still_expires() -> None:
    links = {"ab": ("b", profile("fibre", loss=0.0)), "ac": ("c", profile("fibre", loss=0.0))}
    core = NodeCore("a", NodeConfig(links=links, telemetry=False), seed=1)
    core.tick(0.0)
    for link, peer in (("ab", "b"), ("ac", "c")):
        core.handle_frame(link, wire.encode_heartbeat(wire.Heartbeat(peer, 0)), 0.0)
    held = (10**9).to_bytes(16, "big")         # c never acks this one: it must expire at its TTL
    largest, n = 0, 0
    for step in range(40):                     # 20,000 messages from b to c, 24 h TTL, acked by c
        now = 1.0 + step * 0.01
        frames = []
        for _ in range(500):
            n += 1
            mid = held if n == 1 else n.to_bytes(16, "big")
            frames.append(("ab", wire.encode_envelope(wire.Envelope(mid, "b", "c", 3, 0, now, 86400.0 if n > 1 else 60.0,
                                                                     b"level 2.3 m"))))
        actions = core.handle_frames(frames, now)
        ids = [r.msg_id for a in actions if type(a).__name__ == "Persist" for r in a.records]
        actions += core.stored(ids, now)
        acked = [m for m in _sent_ids(actions) if m != held]
        core.handle_frames([("ac", wire.encode_hop_ack(acked[i:i + 1024])) for i in range(0, len(acked), 1024)], now)
        largest = max(largest, len(core._ttl_heap))
    assert largest <= 2 * TTL_COMPACT_MIN + 500, f"expiry entries of handed-on messages pile up: {largest}"
    dropped = [a for a in core.tick(120.0) if type(a).__name__ == "Dropped" and a.reason == "expired"]
    assert [a.msg_id for a in dropped] == [held]
