"""The chaos checker finds each kind of broken promise in a history, and the schedules are
seeded data (same seed, same faults and traffic; every fault kind present)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from emcomm.chaos import nemesis, traffic
from emcomm.chaos.checker import check
from emcomm.chaos.history import History
from emcomm.chaos.plan import make_plan
from emcomm.chaos.soak import levels_off

ROSTER = {"cc", "t1", "t2"}


def _submit(h: History, mid: str, *, src: str = "t1", dst: str = "cc", prio: str = "routine", t: float = 0.0,
            ttl_s: float = 600.0, outcome: str = "accepted") -> None:
    h.add("submit", msg_id=mid, src=src, dst=dst, priority=prio, ttl_s=ttl_s, t=t, t_done=t + 0.01,
          outcome=outcome, error="" if outcome == "accepted" else "not accepted: disk is full")


def _deliver(h: History, mid: str, *, src: str = "t1", dst: str = "cc", at: float = 1.0, prio: int = 3) -> None:
    h.add("deliver", node=dst, msg_id=mid, src=src, dst=dst, priority=prio, created_s=0.0, delivered_s=at, t=at)


def test_every_accepted_message_delivered_once_passes() -> None:
    h = History()
    for i in range(5):
        _submit(h, f"m{i}", t=float(i))
        _deliver(h, f"m{i}", at=i + 0.5)
    h.add("end", t=100.0)
    r = check(h, rostered=ROSTER)
    assert r.ok and (r.accepted, r.delivered, r.lost, r.duplicates) == (5, 5, 0, 0)
    assert r.latency["routine"].count == 5 and abs(r.latency["routine"].p50_s - 0.5) < 1e-9


def test_accepted_message_never_delivered_within_its_ttl_is_lost() -> None:
    h = History()
    _submit(h, "a")
    h.add("end", t=100.0)
    r = check(h, rostered=ROSTER)
    assert r.lost == 1 and not r.ok and "lost" in r.violations[0]


def test_undelivered_message_past_its_ttl_is_expired_not_lost() -> None:
    h = History()
    _submit(h, "a", ttl_s=5.0)
    _submit(h, "b", ttl_s=5.0)
    h.add("receipt", msg_id="a", status="expired", detail="TTL ran out on r1")
    h.add("end", t=100.0)
    r = check(h, rostered=ROSTER)
    assert r.ok and (r.expired, r.expired_recorded, r.lost) == (2, 1, 0)


def test_second_delivery_of_a_message_is_a_duplicate() -> None:
    h = History()
    _submit(h, "a")
    _deliver(h, "a")
    _deliver(h, "a", at=2.0)
    h.add("end", t=10.0)
    r = check(h, rostered=ROSTER)
    assert r.duplicates == 1 and not r.ok


def test_delivery_from_an_unrostered_or_unknown_sender_is_unauthorised() -> None:
    h = History()
    _deliver(h, "x", src="mallory")           # never submitted, not on the roster
    _submit(h, "y")
    _deliver(h, "y", dst="t2")                # delivered to the wrong node
    h.add("end", t=10.0)
    r = check(h, rostered=ROSTER)
    assert r.unauthorised == 2 and not r.ok
    assert any("not on the roster" in v for v in r.violations)


def test_refused_message_delivered_once_is_counted_apart_not_a_violation() -> None:
    h = History()
    _submit(h, "a", outcome="refused")
    _deliver(h, "a")
    h.add("end", t=10.0)
    r = check(h, rostered=ROSTER)
    assert r.ok and (r.accepted, r.refused, r.delivered_unacked) == (0, 1, 1)
    assert r.refusal_errors == ["not accepted: disk is full"]


def test_flash_delivered_well_after_a_later_routine_on_the_same_path_is_a_violation() -> None:
    h = History()
    _submit(h, "f", src="cc", dst="t1", prio="flash", t=0.0)
    _submit(h, "r", src="cc", dst="t1", prio="routine", t=1.0)
    _deliver(h, "f", src="cc", dst="t1", at=10.0, prio=0)
    _deliver(h, "r", src="cc", dst="t1", at=1.2)
    h.add("end", t=20.0)
    r = check(h, rostered=ROSTER)
    assert r.order_violations == 1 and not r.ok


def test_flash_order_pair_is_excused_while_a_node_process_was_down() -> None:
    h = History()
    h.add("fault", kind="kill9", targets=["r1"], link="", phase="start", t=0.5)
    _submit(h, "f", src="cc", dst="t1", prio="flash", t=0.0)
    _submit(h, "r", src="cc", dst="t1", prio="routine", t=1.0)
    h.add("fault", kind="kill9", targets=["r1"], link="", phase="end", t=3.0)
    _deliver(h, "f", src="cc", dst="t1", at=10.0, prio=0)
    _deliver(h, "r", src="cc", dst="t1", at=1.2)
    h.add("end", t=20.0)
    r = check(h, rostered=ROSTER)
    assert r.ok and (r.order_pairs_checked, r.order_pairs_excused) == (0, 1)
    assert r.faults == {"kill9": 1}


def test_latency_uses_the_harness_clock_for_a_node_whose_clock_jumped() -> None:
    h = History()
    h.add("clock", node="cc", offset_s=120.0, t=50.0)
    _submit(h, "a", t=60.0)
    _deliver(h, "a", at=60.0 + 120.0 + 0.25)      # cc's clock reads 120 s ahead
    h.add("end", t=100.0)
    r = check(h, rostered=ROSTER)
    assert abs(r.latency["routine"].p50_s - 0.25) < 1e-6


def test_heal_without_convergence_within_the_bound_is_a_violation() -> None:
    h = History()
    h.add("converged", fault="partition", targets=["t1"], t_heal=0.0, after_s=None, t=60.0)
    h.add("converged", fault="flap", targets=["cc", "r1"], t_heal=0.0, after_s=3.0, t=60.0)
    r = check(h, rostered=ROSTER, convergence_bound_s=30.0)
    assert len(r.violations) == 1 and "partition" in r.violations[0]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), nodes=st.integers(5, 12))
def test_fault_schedule_is_seeded_and_has_every_kind(seed: int, nodes: int) -> None:
    plan = make_plan(nodes, ports=list(range(20000, 20000 + 2 * nodes)))
    faults = nemesis.schedule(plan, nemesis.MIN_DURATION_S, seed)
    assert faults == nemesis.schedule(plan, nemesis.MIN_DURATION_S, seed)
    assert sorted(f.kind for f in faults) == sorted(nemesis.KINDS)
    starts = [f.start_s for f in faults]
    assert starts == sorted(starts) and all(f.start_s + f.duration_s <= nemesis.MIN_DURATION_S for f in faults)
    ids = {n.id for n in plan.nodes}
    assert all(set(f.targets) <= ids for f in faults)


def test_only_commanders_send_flash_and_sensor_reports_fit_a_beidou_global_frame() -> None:
    plan = make_plan(8, ports=list(range(20000, 20016)))
    msgs = traffic.schedule(plan, 120.0, 6.0, seed=5)
    assert {m.src for m in msgs if m.priority == "flash"} <= {"cc", "t1"}
    assert all(m.size_bytes <= 70 for m in msgs if m.src == "s1")
    assert any(m.ttl_s == traffic.SHORT_TTL_S for m in msgs)


def test_growth_that_keeps_going_does_not_level_off() -> None:
    assert levels_off([10, 30, 50, 51, 52, 51, 52, 51, 51])
    assert not levels_off([10, 20, 30, 40, 50, 60, 70, 80, 90])


def test_undelivered_message_still_held_by_a_node_is_in_custody_not_lost() -> None:
    h = History()
    _submit(h, "a")
    h.add("held", node="s1", msg_id="a")
    h.add("end", t=100.0)
    r = check(h, rostered=ROSTER)
    assert r.ok and (r.lost, r.in_custody) == (0, 1)


def _jump_back_history(*, with_seq: bool) -> History:
    # t3's clock runs 120 s ahead from harness 5 s to 14 s (a restart at each change); a FLASH
    # accepted at 60 s arrives at 68 s, a ROUTINE accepted later (125 s) arrives at 133 s: its
    # node-clock reading 133 is also what the clock ahead read at harness 13 s
    h = History()
    h.add("clock", node="t3", offset_s=120.0, t=5.0, **({"inbox_seq": 3} if with_seq else {}))
    h.add("deliver", node="t3", msg_id="early", src="cc", dst="t3", priority=3, created_s=0.0,
          delivered_s=130.0, seq=4, t=10.2)                     # stamped during the jump (harness 10 s)
    h.add("clock", node="t3", offset_s=0.0, t=14.0, **({"inbox_seq": 4} if with_seq else {}))
    _submit(h, "early", src="cc", dst="t3", t=9.9)
    _submit(h, "f", src="cc", dst="t3", prio="flash", t=60.0)
    _submit(h, "r", src="cc", dst="t3", prio="routine", t=125.0)
    h.add("deliver", node="t3", msg_id="f", src="cc", dst="t3", priority=0, created_s=60.0, delivered_s=68.0,
          seq=20, t=68.3)
    h.add("deliver", node="t3", msg_id="r", src="cc", dst="t3", priority=3, created_s=125.0, delivered_s=133.0,
          seq=30, t=133.4)
    h.add("end", t=200.0)
    return h


def test_reading_after_a_clock_jump_back_is_not_taken_for_one_during_the_jump() -> None:
    """The inbox seq says which process stamped a delivery, so 133 s on the right clock is 133 s."""
    r = check(_jump_back_history(with_seq=True), rostered={"cc", "t3"})
    assert r.ok and r.order_pairs_checked == 1 and r.order_violations == 0, r.violations
    assert abs(r.latency["flash"].p50_s - 8.0) < 1e-9
    assert [r.latency["routine"].p50_s, r.latency["routine"].p99_s] == pytest.approx([0.1, 8.0])


def test_reading_after_a_clock_jump_back_without_seq_uses_when_the_harness_read_it() -> None:
    """A history without inbox seqs: the reading must lie before the harness read it."""
    r = check(_jump_back_history(with_seq=False), rostered={"cc", "t3"})
    assert r.ok and r.order_violations == 0, r.violations
    assert [r.latency["routine"].p50_s, r.latency["routine"].p99_s] == pytest.approx([0.1, 8.0])


def test_soak_report_gives_growth_per_minute_by_thirds_and_each_nodes_rss() -> None:
    from emcomm.chaos.soak import soak_report
    h = History()
    for k in range(9):              # cc climbs 2 MB a minute for 3 minutes, then stays; r1 flat
        cc = 50e6 + 2e6 * min(k, 3)
        for node, rss in (("cc", cc), ("r1", 40e6)):
            h.add("sample", round=k, node=node, rss_bytes=rss, store_bytes=1e6, t=60.0 * k)
    rep = soak_report(h, 0.0, 1.0)
    first, last = rep.rss_mb_per_min
    assert abs(first - 2.0) < 1e-6 and abs(last) < 1e-6
    assert rep.node_rss_mb == {"cc": (50.0, 56.0), "r1": (40.0, 40.0)}
    assert rep.rss_flat
