"""Differential tests: on hundreds of random graphs the Numba router's costs equal the
NetworkX reference's (tests/test_router_reference.py), and every returned path is
re-checked against the original graph."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcomm.errors import NoPathError, RoutingError
from emcomm.priority import Priority
from emcomm.router.contact_plan import Contact, ContactPlan
from emcomm.router.policy import RoutingPolicy, Use
from emcomm.router.router import Router
from emcomm.router.synthetic import random_topology
from test_router_reference import (
    check_route, random_multigraph, ref_costs, ref_earliest_arrival, ref_greedy_disjoint, ref_hop_limited,
)

POLICY = RoutingPolicy.default()
GRAPHS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

graphs = st.builds(
    lambda seed, n, density: random_multigraph(seed, n, int(n * density)),
    st.integers(0, 2**31), st.integers(2, 24), st.floats(0.5, 4.0),
)
sizes = st.one_of(st.integers(1, 3000), st.integers(3000, 200_000))
priorities = st.sampled_from(list(Priority))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a == b == math.inf)


@GRAPHS
@given(graphs, sizes, priorities, st.data())
def test_tree_costs_equal_networkx_dijkstra(G, size, priority, data) -> None:
    router = Router.from_graph(G)
    src = data.draw(st.sampled_from(sorted(G.nodes)))
    tree = router.tree(src, size, priority)
    ref = ref_costs(G, src, size, int(priority), POLICY)
    for node, i in router.topology.node_index.items():
        assert _close(float(tree.dist[i]), ref.get(node, math.inf)), node


@GRAPHS
@given(graphs, sizes, priorities, st.data())
def test_every_route_is_valid_and_as_cheap_as_networkx(G, size, priority, data) -> None:
    router = Router.from_graph(G)
    nodes = sorted(G.nodes)
    src = data.draw(st.sampled_from(nodes))
    ref = ref_costs(G, src, size, int(priority), POLICY)
    for dst in nodes:
        if dst in ref:
            r = router.route(src, dst, size, priority, now=12.5)
            assert _close(check_route(G, r, POLICY), ref[dst])
        else:
            with pytest.raises(RoutingError):
                router.route(src, dst, size, priority)


@GRAPHS
@given(graphs, sizes, priorities, st.data())
def test_in_place_failures_equal_a_fresh_compile(G, size, priority, data) -> None:
    router = Router.from_graph(G)
    router.weights(size, priority)   # cached weights must follow the changes
    keys = sorted(k for *_, k in G.edges(keys=True))
    if not keys:
        return
    down = data.draw(st.lists(st.sampled_from(keys), max_size=len(keys), unique=True))
    back = data.draw(st.lists(st.sampled_from(down), max_size=len(down), unique=True)) if down else []
    router.fail(down)
    router.restore(back)
    for k in set(down) - set(back):
        u, v = next((u, v) for u, v, key in G.edges(keys=True) if key == k)
        G.edges[u, v, k]["up"] = False
    for k in back:
        u, v = next((u, v) for u, v, key in G.edges(keys=True) if key == k)
        G.edges[u, v, k]["up"] = True
    fresh = Router.from_graph(G)
    assert np.array_equal(router.weights(size, priority), fresh.weights(size, priority))
    src = data.draw(st.sampled_from(sorted(G.nodes)))
    assert np.array_equal(router.tree(src, size, priority).dist, fresh.tree(src, size, priority).dist)


@GRAPHS
@given(graphs, sizes, priorities, st.data())
def test_removing_a_link_on_the_path_never_lowers_the_cost(G, size, priority, data) -> None:
    router = Router.from_graph(G)
    nodes = sorted(G.nodes)
    src, dst = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
    try:
        r = router.route(src, dst, size, priority)
    except RoutingError:
        return
    if not r.hops:
        return
    router.fail([data.draw(st.sampled_from(r.links))])
    try:
        again = router.route(src, dst, size, priority)
    except RoutingError:   # no path left at all: not cheaper either
        return
    assert again.cost >= r.cost


@GRAPHS
@given(graphs, sizes, st.sampled_from([Priority.IMMEDIATE, Priority.PRIORITY, Priority.ROUTINE]), st.data())
def test_flash_never_waits_behind_a_lower_class_policy(G, size, lower, data) -> None:
    router = Router.from_graph(G)
    nodes = sorted(G.nodes)
    src, dst = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
    try:
        low = router.route(src, dst, size, lower)
    except RoutingError:
        return
    flash = router.route(src, dst, size, Priority.FLASH)   # never raises when a lower class gets through
    # FLASH minimises time + 1e-6 CNY·s, and every path open to a lower class is open to it
    assert flash.time_s <= low.time_s + POLICY.seconds_per_cny[Priority.FLASH] * low.money_cny + 1e-9


@GRAPHS
@given(graphs, sizes, priorities, st.integers(1, 6), st.data())
def test_hop_limited_route_equals_networkx_layered_graph(G, size, priority, max_hops, data) -> None:
    router = Router.from_graph(G)
    nodes = sorted(G.nodes)
    src, dst = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
    ref = ref_hop_limited(G, src, dst, size, int(priority), POLICY, max_hops)
    if ref == math.inf:
        with pytest.raises(RoutingError):
            router.route(src, dst, size, priority, max_hops=max_hops)
        return
    r = router.route(src, dst, size, priority, max_hops=max_hops)
    assert len(r.hops) <= max_hops
    assert _close(check_route(G, r, POLICY), ref)


@GRAPHS
@given(graphs, sizes, priorities, st.floats(0.0, 5.0), st.data())
def test_cost_ceiling_admits_exactly_the_paths_under_it(G, size, priority, ceiling, data) -> None:
    router = Router.from_graph(G)
    nodes = sorted(G.nodes)
    src, dst = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
    best = ref_costs(G, src, size, int(priority), POLICY).get(dst, math.inf)
    if best <= ceiling:
        assert _close(router.route(src, dst, size, priority, max_cost=ceiling).cost, best)
    else:
        with pytest.raises(RoutingError):
            router.route(src, dst, size, priority, max_cost=ceiling)


@GRAPHS
@given(graphs, sizes, priorities, st.integers(1, 4), st.booleans(), st.data())
def test_backups_equal_networkx_greedy_disjoint_paths(G, size, priority, k, node_disjoint, data) -> None:
    router = Router.from_graph(G)
    nodes = sorted(G.nodes)
    src, dst = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
    if src == dst:
        return
    ref = ref_greedy_disjoint(G, src, dst, size, int(priority), POLICY, k, node_disjoint)
    if not ref:
        with pytest.raises(RoutingError):
            router.backups(src, dst, size, priority, k=k, disjoint="node" if node_disjoint else "link")
        return
    routes = router.backups(src, dst, size, priority, k=k, disjoint="node" if node_disjoint else "link")
    assert [r.cost for r in routes] == pytest.approx(ref, rel=1e-9)
    used_links: set = set()
    used_nodes: set = set()
    for r in routes:
        check_route(G, r, POLICY)
        assert not used_links & set(r.links)
        used_links |= set(r.links)
        if node_disjoint:
            inner = set(r.nodes[1:-1])
            assert not used_nodes & inner
            used_nodes |= inner
    assert [r.cost for r in routes] == sorted(r.cost for r in routes)


def _plans(seed: int, n: int, m: int) -> ContactPlan:
    rng = random.Random(seed)
    contacts = []
    for _ in range(m):
        u, v = rng.randrange(n), rng.randrange(n)
        if u == v:
            continue
        start = rng.uniform(0, 100)
        contacts.append(Contact(f"n{u}", f"n{v}", start, start + rng.uniform(0.5, 40),
                                rng.choice(["leo", "beidou", "uav", "tiantong", "radio"]),
                                rng.uniform(500.0, 50_000.0), rng.uniform(0.0, 2.0)))
    return ContactPlan.of(contacts)


@GRAPHS
@given(st.integers(0, 2**31), st.integers(2, 8), st.integers(0, 25), st.integers(1, 20_000), priorities,
       st.floats(0.0, 60.0), st.data())
def test_earliest_arrival_equals_networkx_time_expanded_graph(seed, n, m, size, priority, t0, data) -> None:
    import networkx as nx

    G = nx.MultiGraph()
    G.add_nodes_from(f"n{i}" for i in range(n))
    plan = _plans(seed, n, m)
    src, dst = data.draw(st.sampled_from(sorted(G.nodes))), data.draw(st.sampled_from(sorted(G.nodes)))
    router = Router.from_graph(G)
    allow = lambda c: POLICY.use_of(priority, c.kind) == Use.ALLOW  # noqa: E731
    either = lambda c: POLICY.use_of(priority, c.kind) != Use.NEVER  # noqa: E731
    ref = ref_earliest_arrival(plan, src, dst, size, t0, allow)
    if ref == math.inf:
        ref = ref_earliest_arrival(plan, src, dst, size, t0, either)
    if ref == math.inf:
        with pytest.raises(NoPathError):
            router.earliest_arrival(plan, src, dst, size, priority, now=t0)
        return
    r = router.earliest_arrival(plan, src, dst, size, priority, now=t0)
    assert _close(r.arrive_s, ref)
    t = t0
    for hop in r.hops:   # each hop uses a real contact inside its window, in time order
        assert any(c.frm == hop.src and c.to == hop.dst and c.start_s <= hop.depart_s
                   and hop.depart_s + size * 8 / c.rate_bps <= c.end_s + 1e-9 for c in plan.contacts)
        assert hop.depart_s >= t - 1e-9
        t = hop.arrive_s
    assert r.nodes[0] == src and r.nodes[-1] == dst


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(5, 60), sizes, priorities)
def test_next_hop_table_walk_costs_the_tree_distance(seed, n, size, priority) -> None:
    G = random_topology(n, seed=seed, hubs=2)
    router = Router.from_graph(G)
    table = router.next_hop_table(size, priority)
    topo = router.topology
    w = router.weights(size, priority)
    rng = random.Random(seed)
    for _ in range(10):
        s, t = rng.randrange(topo.n_nodes), rng.randrange(topo.n_nodes)
        dist = router.tree(topo.node_ids[s], size, priority).dist[t]
        here, cost, steps = s, 0.0, 0
        while here != t and steps <= topo.n_nodes:
            slot = table.slots[here, t]
            if slot < 0:
                break
            cost += w[slot]
            here = int(topo.adj_node[slot])
            steps += 1
        if dist == math.inf:
            assert s != t and table.slots[s, t] == -1
        else:
            assert here == t and cost == pytest.approx(dist, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(graphs, sizes, priorities, st.data())
def test_next_hops_agree_with_route_first_hop_cost(G, size, priority, data) -> None:
    router = Router.from_graph(G)
    src = data.draw(st.sampled_from(sorted(G.nodes)))
    table = router.next_hops(src, size, priority)
    ref = ref_costs(G, src, size, int(priority), POLICY)
    assert set(table) == set(ref) - {src}
    for dst, hop in table.items():
        assert _close(hop.cost, ref[dst])
        r = router.route(src, dst, size, priority)
        assert _close(r.cost, hop.cost)
