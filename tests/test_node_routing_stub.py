"""The stub default route: a node that may not know the mesh beyond its neighbours (its usable
links are all thin, so adverts reach it at most every thin_link_advert_gap_s) hands a message
it has no path for to a neighbour, never back to where it came from; a node with a broadband
link learns the mesh within seconds and holds it until a route appears."""

from __future__ import annotations

import networkx as nx

from emcomm.node.routing import RouteProvider, is_thin
from emcomm.priority import Priority

from test_core_harness import Mesh, profile

_BEIDOU = dict(kind="beidou", up=True, latency_s=1.0, rate_bps=233.0, mtu_bytes=1750, min_interval_s=60.0,
               loss=0.0, cost_per_mb=0.0)
_FIBRE = dict(kind="fibre", up=True, latency_s=0.005, rate_bps=1e9, mtu_bytes=1400, min_interval_s=0.0,
              loss=0.0, cost_per_mb=0.0)


def _provider(self_id: str, edges: list[tuple[str, str, str, dict]]) -> RouteProvider:
    g = nx.MultiGraph()
    g.add_node(self_id)
    for u, v, k, d in edges:
        g.add_edge(u, v, key=k, **d)
    r = RouteProvider(self_id, {k for u, v, k, _ in edges if self_id in (u, v)})
    r.update(g)
    return r


def test_a_node_on_thin_links_only_is_a_stub_and_one_with_broadband_is_not() -> None:
    sensor = _provider("s", [("s", "r1", "r1-s/b", _BEIDOU), ("s", "r2", "r2-s/b", _BEIDOU)])
    relay = _provider("r", [("r", "a", "a-r/f", _FIBRE), ("r", "b", "b-r/b", _BEIDOU)])
    assert sensor.is_stub() and not relay.is_stub()
    assert relay.default_hop(200, int(Priority.FLASH)) is None      # full view: hold, never guess
    assert is_thin(233.0, 60.0) and not is_thin(1e9, 0.0)


def test_a_node_whose_broadband_link_is_down_becomes_a_stub() -> None:
    # the graph holds only usable links: with its fibre down the team is left on Beidou
    team = _provider("t", [("t", "r", "r-t/b", _BEIDOU), ("t", "q", "q-t/b", _BEIDOU)])
    assert team.is_stub() and team.default_hop(200, int(Priority.FLASH)) == "q-t/b"
    with_fibre = _provider("t", [("t", "r", "r-t/f", _FIBRE), ("t", "q", "q-t/b", _BEIDOU)])
    assert not with_fibre.is_stub() and with_fibre.default_hop(200, int(Priority.FLASH)) is None


def test_the_default_route_never_goes_back_on_the_link_the_message_came_in_on() -> None:
    sensor = _provider("s", [("s", "r1", "r1-s/b", _BEIDOU), ("s", "r2", "r2-s/b", _BEIDOU)])
    first = sensor.default_hop(200, int(Priority.PRIORITY))
    other = sensor.default_hop(200, int(Priority.PRIORITY), came_from=first)
    assert first is not None and other is not None and other != first
    leaf = _provider("t", [("t", "r", "r-t/b", _BEIDOU)])
    assert leaf.default_hop(200, int(Priority.PRIORITY), came_from="r-t/b") is None


def test_the_default_route_prefers_a_neighbour_known_to_reach_beyond_this_node() -> None:
    # r1 sorts first by link id; only r2's advert (r2 links to cc) has reached the sensor
    edges = [("s", "r1", "r1-s/b", _BEIDOU), ("s", "r2", "r2-s/b", _BEIDOU), ("r2", "cc", "cc-r2/f", _FIBRE)]
    sensor = _provider("s", edges)
    assert sensor.default_hop(200, int(Priority.PRIORITY)) == "r2-s/b"
    assert _provider("s", edges[:2]).default_hop(200, int(Priority.PRIORITY)) == "r1-s/b"


def test_the_default_route_keeps_the_routing_policy_routine_never_takes_beidou() -> None:
    sensor = _provider("s", [("s", "r1", "r1-s/b", _BEIDOU)])
    assert sensor.default_hop(200, int(Priority.ROUTINE)) is None
    assert sensor.default_hop(200, int(Priority.PRIORITY)) == "r1-s/b"


def _sensor_mesh() -> Mesh:
    # the chaos mesh's sensor: Beidou to r1, Beidou global to r2; relays joined by broadband
    return Mesh([("cc-r1", "cc", "r1", profile("fibre", loss=0.0)), ("cc-r2", "cc", "r2", profile("hts", loss=0.0)),
                 ("r1-r2", "r1", "r2", profile("radio", loss=0.0)),
                 ("r1-s1", "r1", "s1", profile("beidou", loss=0.0, min_interval_s=1.0)),
                 ("r2-s1", "r2", "s1", profile("beidou_global", loss=0.0, min_interval_s=1.0))])


def test_a_beidou_only_sensor_that_missed_the_first_adverts_still_reaches_the_command_centre() -> None:
    mesh = _sensor_mesh()
    # the sensor's process came up a moment after its relays: their first adverts never reached it,
    # and the next may cross a thin link only after thin_link_advert_gap_s (1,800 s)
    mesh.drop_filter = lambda link_id, to, data: to == "s1" and mesh.t < 1.0
    mesh.run(60.0)
    assert len(mesh.core("s1").lsdb) == 0                   # no view of the mesh beyond its links
    mid = mesh.submit("s1", "cc", Priority.PRIORITY, b"water level 2.1 m")
    mesh.run(180.0)
    assert mesh.delivered_ids("cc") == [mid]
    assert mesh.core("s1").counters["held"] == 0
    assert mid in {r.msg_id for _, r in mesh.nodes["s1"].receipts if r.status == "delivered"}


def test_the_sensor_switches_its_default_route_when_that_link_goes_down() -> None:
    mesh = _sensor_mesh()
    mesh.drop_filter = lambda link_id, to, data: to == "s1" and mesh.t < 1.0
    mesh.run(60.0)
    first = mesh.core("s1").routes.default_hop(64, int(Priority.PRIORITY))
    assert first is not None
    mesh.set_link(first, False)
    mid = mesh.submit("s1", "cc", Priority.PRIORITY, b"water level 2.3 m")
    mesh.run(300.0)
    assert mesh.delivered_ids("cc") == [mid]
    assert not mesh.data_sends("s1", first)


def test_a_message_nobody_can_route_is_held_by_the_next_stub_not_bounced_to_its_hop_limit() -> None:
    # two Beidou-only nodes: both are stubs
    mesh = Mesh([("a-b", "a", "b", profile("beidou", loss=0.0, min_interval_s=1.0))])
    mesh.run(5.0)
    mid = mesh.submit("a", "nowhere", Priority.FLASH, b"?")
    mesh.run(60.0)
    assert len(mesh.data_sends("a", "a-b")) == 1                   # handed on once, acked
    assert not mesh.data_sends("b", "a-b")                         # b holds it: never sent back
    assert mesh.core("b").counters["held"] == 1
    assert not any(d.reason == "hop_limit" for _, d in mesh.nodes["b"].dropped)
    assert mid in mesh.nodes["b"].store.records
