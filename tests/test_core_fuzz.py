"""Fuzzing the node core: random frame sequences never crash it, and every bad frame is counted."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcomm.node import wire
from emcomm.node.actions import Dropped, Forget, Persist
from emcomm.node.core import NodeConfig, NodeCore
from emcomm.priority import Priority

from test_core_harness import profile
from test_wire import frames

LINKS = {"ab": ("b", profile("radio")), "ac": ("c", profile("beidou"))}

event = st.one_of(
    st.tuples(st.just("frame"), st.sampled_from(["ab", "ac", "zz"]), frames.map(wire.encode)),
    st.tuples(st.just("frame"), st.sampled_from(["ab", "ac"]), st.binary(max_size=300)),
    st.tuples(st.just("tick"), st.floats(0, 120, allow_nan=False), st.just(b"")),
    st.tuples(st.just("link"), st.sampled_from(["ab", "ac"]), st.booleans()),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(event, max_size=40))
def test_random_frame_sequences_never_crash_the_core_and_bad_frames_are_counted(events: list) -> None:
    """Whatever arrives, the core returns actions; each drop is counted; accepted messages stay held."""
    core = NodeCore("a", NodeConfig(links=LINKS), seed=7)
    t = 0.0
    mid, actions = core.submit("b", Priority.FLASH, wire.ContentType.TEXT, b"keep me", now=t)
    actions += core.stored([mid], now=t)
    held = {mid}
    n_frames = 0
    drops = 0
    for kind, a, b in events:
        if kind == "frame":
            n_frames += 1
            out = core.handle_frame(a, b, now=t)
        elif kind == "tick":
            t += a
            out = core.tick(now=t)
        else:
            out = core.link_changed(a, b, now=t)
        # confirm persistence like a runtime would, so received messages progress too
        ids = [r.msg_id for x in out if isinstance(x, Persist) for r in x.records]
        if ids:
            out += core.stored(ids, now=t)
        drops += sum(1 for x in out if isinstance(x, Dropped))
        for x in out:
            if isinstance(x, Forget):
                held -= set(x.msg_ids)
        snap = core.snapshot(t)
        assert snap["counters"].get("rx_frames", 0) == n_frames
    counted = sum(v for k, v in core.counters.items() if k.startswith("dropped."))
    assert counted == drops
    # our FLASH message is either still in custody or was released by a hop-ack / expiry
    assert mid in held or core.counters["forwarded"] + core.counters["dropped.expired"] >= 1
