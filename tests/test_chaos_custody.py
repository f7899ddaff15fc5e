"""A message still held at the end of a chaos run is explained: no link its class may use,
links down, no route in the node's view, queued on a link, or awaiting a hop-ack. And the
traffic only sends classes the routing policy lets reach their destination."""

from __future__ import annotations

from typing import Any

import pytest

from emcomm.chaos import traffic
from emcomm.chaos.checker import check
from emcomm.chaos.custody import why_held
from emcomm.chaos.history import History
from emcomm.chaos.plan import make_plan
from emcomm.chaos.report import render

PLAN = make_plan(8, ports=list(range(20000, 20016)))


def _status(node: str, *, up: bool = True, held: int = 0, queued_on: str = "", in_flight_on: str = "") -> dict[str, Any]:
    links = {l.id: {"up": up, "alive": up, "in_flight": int(l.id == in_flight_on)} for l in PLAN.links_of(node)}
    queues = {l.id: [0, 0, int(l.id == queued_on), 0] for l in PLAN.links_of(node)}
    return {"links": links, "queues": queues, "held": [0, 0, held, 0], "in_flight": int(bool(in_flight_on))}


def test_routine_at_a_beidou_only_sensor_is_explained_by_the_routing_policy() -> None:
    why = why_held(PLAN, _status("s1"), "s1", "cc", "routine")
    assert "no link ROUTINE may use" in why and "beidou" in why


def test_priority_at_a_sensor_whose_links_are_all_down_names_the_links() -> None:
    why = why_held(PLAN, _status("s1", up=False), "s1", "cc", "priority")
    assert "down" in why and "r1-s1/beidou" in why


def test_held_without_a_route_while_a_link_is_up_is_a_view_not_converged() -> None:
    assert "not converged" in why_held(PLAN, _status("s1", held=1), "s1", "cc", "priority")


def test_queued_and_in_flight_messages_name_their_link() -> None:
    assert why_held(PLAN, _status("s1", queued_on="r1-s1/beidou"), "s1", "cc", 2) == "queued on r1-s1/beidou (up)"
    why = why_held(PLAN, _status("s1", in_flight_on="r2-s1/beidou_global"), "s1", "cc", "priority")
    assert "r2-s1/beidou_global" in why and "ack" in why


def test_node_that_did_not_answer_at_the_end_is_said_so() -> None:
    assert "did not answer" in why_held(PLAN, {"error": "no reply"}, "t1", "cc", "routine")


def test_report_groups_held_messages_by_node_class_destination_and_reason() -> None:
    h = History()
    for i in range(3):
        h.add("submit", msg_id=f"m{i}", src="s1", dst="cc", priority="priority", ttl_s=600.0, t=0.0, t_done=0.1,
              outcome="accepted", error="")
        h.add("held", node="s1", msg_id=f"m{i}", priority="priority", state="queued", dst="cc", why="queued on x")
    h.add("end", t=10.0)
    r = check(h, rostered={"s1", "cc"})
    assert r.ok and r.in_custody == 3
    assert r.custody == [{"node": "s1", "priority": "priority", "dst": "cc", "why": "queued on x", "count": 3}]
    assert "s1→cc: queued on x" in render(r)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_traffic_sends_only_classes_the_policy_lets_reach_the_destination(seed: int) -> None:
    msgs = traffic.schedule(PLAN, 300.0, 6.0, seed)
    assert all(PLAN.policy_path(m.src, m.dst, m.priority) is not None for m in msgs)
    assert any(m.src == "s1" for m in msgs)
