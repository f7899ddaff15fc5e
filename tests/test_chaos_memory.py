"""What a node remembers per message is bounded by time: under a steady load its tables reach
a steady size and stay there (the soak's 'memory levels off', proved in memory on a simulated
clock). A delivered message's receipt lives as long as the message had left, not the 24 h
default TTL: each relay keeps every id it saw until that id's TTL + SEEN_MARGIN_S (to the end of
its SEEN_BUCKET_S bucket), and at most NodeConfig.seen_ids_max of them (tests/test_core_seen_window.py)."""

from __future__ import annotations

import random

from emcomm.node import wire
from emcomm.node.core import RECEIPT_MIN_TTL_S, SEEN_BUCKET_S, SEEN_MARGIN_S
from emcomm.priority import Priority

from test_core_harness import Mesh, profile


def _line() -> Mesh:
    return Mesh([("a-r", "a", "r", profile("fibre", loss=0.0)), ("r-b", "r", "b", profile("hts", loss=0.0))],
                node_kwargs={"telemetry": False})


def _receipts_sent(mesh: Mesh, nid: str, link_id: str) -> list[wire.Envelope]:
    return [f for _, f in mesh.data_sends(nid, link_id) if isinstance(f, wire.Envelope) and f.is_receipt]


def test_a_receipt_lives_as_long_as_its_message_had_left_not_the_default_day() -> None:
    mesh = _line()
    mesh.run(5.0)
    short = mesh.submit("a", "b", Priority.PRIORITY, b"short", ttl_s=60.0)
    long = mesh.submit("a", "b", Priority.PRIORITY, b"long", ttl_s=3600.0)
    mesh.run(20.0)
    assert sorted(mesh.delivered_ids("b")) == sorted([short, long])
    ttls = sorted(r.ttl_s for r in _receipts_sent(mesh, "b", "r-b"))
    assert len(ttls) == 2
    assert ttls[0] == RECEIPT_MIN_TTL_S                    # the floor: time for the way back
    assert 3500.0 < ttls[1] <= 3600.0                     # what the long message had left
    assert all(t < mesh.nodes["b"].config.default_ttl_s for t in ttls)


def test_every_id_a_relay_saw_is_forgotten_once_its_ttl_and_margin_have_passed() -> None:
    mesh = _line()
    mesh.run(5.0)
    for i in range(20):
        mesh.submit("a" if i % 2 else "b", "b" if i % 2 else "a", Priority.ROUTINE, b"x" * 50, ttl_s=60.0)
    mesh.run(30.0)
    assert len(mesh.core("r")._seen) == 40                 # 20 messages and their 20 receipts
    mesh.run(30.0 + RECEIPT_MIN_TTL_S + SEEN_MARGIN_S + SEEN_BUCKET_S + 5.0)   # ids go with their bucket
    for nid in ("a", "r", "b"):
        core = mesh.core(nid)
        assert not core._seen and not core._seen_heap and not core._handed and not core._ttl_heap, nid


def test_duplicate_suppression_tables_reach_a_steady_size_under_steady_load() -> None:
    mesh = _line()
    rnd = random.Random(11)
    rate_per_s, ttl_s = 2.0, 120.0
    steady_after_s = RECEIPT_MIN_TTL_S + SEEN_MARGIN_S + SEEN_BUCKET_S    # the longest an id is kept
    t, sizes = 5.0, {}
    checkpoints = [steady_after_s + 200.0, steady_after_s + 500.0, steady_after_s + 800.0]
    while checkpoints:
        t += rnd.expovariate(rate_per_s)
        if t > checkpoints[0]:
            mesh.run(checkpoints[0])
            sizes[checkpoints.pop(0)] = len(mesh.core("r")._seen)
            continue
        mesh.run(t)
        src, dst = ("a", "b") if rnd.random() < 0.5 else ("b", "a")
        mesh.submit(src, dst, Priority.PRIORITY, b"x" * 100, ttl_s=ttl_s)
    first, *rest = sizes.values()
    # messages kept ttl + margin, receipts max(ttl, floor) + margin: a fixed window of ids
    window = rate_per_s * ((ttl_s + SEEN_MARGIN_S + SEEN_BUCKET_S) + (RECEIPT_MIN_TTL_S + SEEN_MARGIN_S + SEEN_BUCKET_S))
    assert all(abs(n - first) <= 0.15 * first for n in rest), sizes
    assert first <= 1.2 * window, (first, window)
