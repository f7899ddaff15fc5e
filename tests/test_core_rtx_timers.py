"""Retransmission timers: an acked copy's timer entry is dropped in bulk once dead entries pile
up (a busy relay acks most copies long before their timers are due), so under a steady load the
timer heap stays about the size of what is really awaiting an ack, and a copy still awaiting one
is retransmitted on time all the same."""

from __future__ import annotations

from emcomm.node import wire
from emcomm.node.actions import Transmit
from emcomm.node.core import RTX_COMPACT_MIN, NodeConfig, NodeCore
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
