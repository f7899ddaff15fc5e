"""The core's wake-up time is kept per link and recomputed only for links that changed;
it must always equal a scan of every link (a later time would stall a link, an earlier one
only costs a spare tick)."""

from __future__ import annotations

import math
import random

from emcomm.node import wire
from emcomm.node.core import SEEN_BUCKET_S, NodeConfig, NodeCore
from emcomm.priority import Priority

from test_core_harness import Mesh, profile


def _full_scan(core: NodeCore) -> float | None:
    """next_wakeup as a scan of every timer and every link (the reference)."""
    if core._redeliver or core._own_dirty or core._routes_dirty:
        return -math.inf
    times = [core._last_own_advert_s + core.config.advert_refresh_s]
    times += [h[0][0] for h in (core._ttl_heap, core._rtx_heap) if h]
    if core._seen_buckets:
        times.append(min(core._seen_buckets) * SEEN_BUCKET_S)
    times += [t for t in (core._reasm.next_deadline(), core.lsdb.next_expiry()) if t is not None]
    times += [d for link in core._links.values() if (d := core._link_due(link)) < math.inf]
    return min(times) if times else None


def test_cached_wakeup_equals_a_full_scan_through_traffic_flaps_and_losses() -> None:
    """Across messages of every class, link flaps, lost frames, a Beidou link and a store
    that confirms later, every next_wakeup answer equals the full scan."""
    mesh = Mesh([("ab", "a", "b", profile("radio")), ("bc", "b", "c", profile("cellular")),
                 ("ac", "a", "c", profile("beidou")), ("cd", "c", "d", profile("fibre"))],
                seed=3, store_delay_s=0.3)
    rng = random.Random(7)
    mesh.drop_filter = lambda link_id, to, data: rng.random() < 0.05
    checked = 0
    original = NodeCore.next_wakeup

    def next_wakeup(core: NodeCore) -> float | None:
        nonlocal checked
        got = original(core)
        assert got == _full_scan(core)
        checked += 1
        return got

    NodeCore.next_wakeup = next_wakeup  # type: ignore[method-assign]
    try:
        for step in range(40):
            src, dst = rng.sample(["a", "b", "c", "d"], 2)
            mesh.submit(src, dst, Priority(rng.randrange(4)), rng.randbytes(rng.choice([20, 600, 3000])))
            if step % 9 == 4:
                lid = rng.choice(list(mesh.links))
                mesh.set_link(lid, not mesh.links[lid].up)
            mesh.run(mesh.t + rng.uniform(1.0, 60.0))
        mesh.run(mesh.t + 400.0)
    finally:
        NodeCore.next_wakeup = original  # type: ignore[method-assign]
    assert checked > 1000


def test_a_repeated_heartbeat_is_handled_like_the_first_and_a_changed_one_is_decoded_again() -> None:
    """Heartbeats are remembered per link by their bytes; a new one (other seq, other sender)
    is still decoded and judged on its own."""
    core = NodeCore("a", NodeConfig(links={"ab": ("b", profile("fibre"))}))
    hb = wire.encode_heartbeat(wire.Heartbeat("b", 3, 0))
    core.handle_frame("ab", hb, now=0.0)
    core.handle_frame("ab", hb, now=1.0)
    assert core.counters["rx_heartbeats"] == 2 and core.lsdb.seq_of("b") == -1
    core.handle_frame("ab", wire.encode_heartbeat(wire.Heartbeat("mallory", 3, 0)), now=2.0)
    assert core.counters["dropped.wrong_peer"] == 1
    core.handle_frame("ab", hb[:-1], now=3.0)
    assert core.counters["dropped.malformed"] == 1
    # once a's advert has gone out, the remembered heartbeat (b holds none of a's adverts)
    # still makes a send it again
    core.tick(now=4.0)
    assert core.counters["tx_adverts"] >= 1 and core.counters["advert_resends"] == 0
    core.handle_frame("ab", hb, now=5.0)
    assert core.counters["advert_resends"] == 1 and core.counters["rx_heartbeats"] == 4   # incl. mallory
