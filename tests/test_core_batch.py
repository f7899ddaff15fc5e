"""A burst of frames through ``handle_frames`` has the same effect as one ``handle_frame`` per
frame: the same actions (frames to send come after the burst, and hop-acks owed on a link may
share one frame), counters and next wake-up."""

from __future__ import annotations

import collections

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcomm.node import wire
from emcomm.node.actions import Persist, Transmit
from emcomm.node.core import NodeConfig, NodeCore
from emcomm.priority import Priority

from test_core_harness import profile
from test_wire import frames

LINKS = {"ab": ("b", profile("fibre")), "ac": ("c", profile("radio"))}


def _data(i: int, dst: str = "c", priority: int = 3) -> bytes:
    return wire.encode_envelope(wire.Envelope(msg_id=i.to_bytes(16, "big"), src="b", dst=dst, priority=priority,
                                              content_type=0, created_s=0.0, ttl_s=600.0, body=b"x" * 40))


def _pair() -> tuple[NodeCore, NodeCore]:
    cores = []
    for _ in range(2):
        core = NodeCore("a", NodeConfig(links=LINKS), seed=3)
        core.tick(0.0)
        for link, peer in (("ab", "b"), ("ac", "c")):
            core.handle_frame(link, wire.encode_heartbeat(wire.Heartbeat(peer, 0)), now=0.0)
        cores.append(core)
    return cores[0], cores[1]


def _key(action: object) -> str:
    return repr(action)


def _effects(actions: list) -> tuple[collections.Counter, collections.Counter]:
    """Everything but hop-acks as is; hop-acks as (link, acked id) pairs, whatever the framing."""
    plain: collections.Counter = collections.Counter()
    acked: collections.Counter = collections.Counter()
    for a in actions:
        frame = wire.decode(a.data) if isinstance(a, Transmit) else None
        if isinstance(frame, wire.HopAck):
            acked.update((a.link_id, m) for m in frame.msg_ids)
        else:
            plain[_key(a)] += 1
    return plain, acked


def _same(burst: list[tuple[str, bytes]], now: float) -> None:
    one, many = _pair()
    singly = [a for link, data in burst for a in one.handle_frame(link, data, now)]
    batched = many.handle_frames(burst, now)
    assert _effects(singly) == _effects(batched)
    framing = {"tx_frames", "tx_acks"}    # fewer ack frames for the same acks
    assert ({k: v for k, v in one.counters.items() if k not in framing}
            == {k: v for k, v in many.counters.items() if k not in framing})
    # fewer ack bytes can only free a paced link sooner
    assert many.counters["tx_acks"] <= one.counters["tx_acks"] and many.next_wakeup() <= one.next_wakeup()
    sends = [i for i, a in enumerate(batched) if isinstance(a, Transmit)]
    assert sends == list(range(len(batched) - len(sends), len(batched))), "frames to send come last"
    # and after the store confirms, both forward the same frames
    ids_one = [r.msg_id for a in singly if isinstance(a, Persist) for r in a.records]
    ids_many = [r.msg_id for a in batched if isinstance(a, Persist) for r in a.records]
    assert ids_one == ids_many
    assert _effects(one.stored(ids_one, now)) == _effects(many.stored(ids_many, now))


def test_a_burst_of_messages_duplicates_acks_and_junk_matches_frame_by_frame() -> None:
    burst = [("ab", _data(1)), ("ab", _data(2, priority=0)), ("ab", _data(1)), ("ac", b"\x00junk"),
             ("zz", _data(3)), ("ac", wire.encode_hop_ack([(9).to_bytes(16, "big")])), ("ab", _data(4, dst="a"))]
    _same(burst, now=1.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.one_of(
    st.tuples(st.sampled_from(["ab", "ac", "zz"]), frames.map(wire.encode)),
    st.tuples(st.sampled_from(["ab", "ac"]), st.integers(1, 6).map(_data)),
    st.tuples(st.sampled_from(["ab", "ac"]), st.binary(max_size=60)),
), max_size=25))
def test_any_burst_through_handle_frames_matches_frame_by_frame(burst: list[tuple[str, bytes]]) -> None:
    _same(burst, now=5.0)


def test_a_burst_pumps_the_links_once_and_flash_still_goes_first() -> None:
    core, _ = _pair()
    burst = [("ab", _data(i)) for i in range(1, 6)] + [("ab", _data(99, priority=int(Priority.FLASH)))]
    ids = [r.msg_id for a in core.handle_frames(burst, now=1.0) if isinstance(a, Persist) for r in a.records]
    sent = [a for a in core.stored(ids, now=1.0) if isinstance(a, Transmit) and a.link_id == "ac"]
    assert sent and wire.decode(sent[0].data).msg_id == (99).to_bytes(16, "big")
