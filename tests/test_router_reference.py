"""The NetworkX reference the router is checked against, and the checks of the reference.

Everything here is deliberately slow and simple: NetworkX Dijkstra with the cost formula
of ``emcomm/router/cost.py`` as a Python weight callable, a greedy disjoint-path loop, a
hop-layered graph and a time-expanded contact graph. Each path the router returns is
re-checked against the original MultiGraph by ``check_route``.
"""

from __future__ import annotations

import math
import random
from typing import Hashable

import networkx as nx
import pytest

from emcomm.links.profiles import LinkKind, default_profile
from emcomm.priority import Priority
from emcomm.router import attrs
from emcomm.router.cost import link_cost
from emcomm.router.policy import KIND_CODE, RoutingPolicy

KINDS = list(LinkKind)


def random_multigraph(seed: int, n: int, m: int) -> nx.MultiGraph:
    """Random nodes and links of every kind, with parallel links, down links, zero rates,
    lossy links, send intervals and small MTUs; continuous figures so ties are unlikely."""
    rng = random.Random(seed)
    G = nx.MultiGraph()
    for i in range(n):
        G.add_node(f"n{i}", **{attrs.NODE_UP: rng.random() > 0.05})
    for j in range(m):
        u, v = rng.randrange(n), rng.randrange(n)
        if u == v:
            continue
        kind = rng.choice(KINDS)
        p = default_profile(kind)
        G.add_edge(f"n{u}", f"n{v}", key=f"L{j}", **{
            attrs.EDGE_KIND: kind.value, attrs.EDGE_UP: rng.random() > 0.15,
            attrs.EDGE_LATENCY_S: rng.uniform(0.0, 1.5),
            attrs.EDGE_RATE_BPS: 0.0 if rng.random() < 0.05 else p.rate_bps * rng.uniform(0.05, 1.0),
            attrs.EDGE_MTU_BYTES: rng.choice([70, 512, 1400, 1750]),
            attrs.EDGE_MIN_INTERVAL_S: rng.choice([0.0, 0.0, 0.0, rng.uniform(1.0, 90.0)]),
            attrs.EDGE_LOSS: rng.choice([0.0, rng.uniform(0.0, 0.4)]),
            attrs.EDGE_COST_PER_MB: rng.choice([0.0, 0.05, 1.0, rng.uniform(0.0, 20.0)]),
        })
    return G


def ref_link_weight(G: nx.MultiGraph, u, v, d: dict, size: int, priority: int, policy: RoutingPolicy):
    """Cheapest usable parallel link between u and v as ``(weight, key)``, or None."""
    if not (G.nodes[u].get(attrs.NODE_UP, True) and G.nodes[v].get(attrs.NODE_UP, True)):
        return None
    best = None
    for key, a in d.items():
        c = link_cost(size, priority, KIND_CODE[a[attrs.EDGE_KIND]], latency_s=a[attrs.EDGE_LATENCY_S],
                      rate_bps=a[attrs.EDGE_RATE_BPS], mtu_bytes=a[attrs.EDGE_MTU_BYTES],
                      min_interval_s=a[attrs.EDGE_MIN_INTERVAL_S], loss=a[attrs.EDGE_LOSS],
                      cost_per_mb=a[attrs.EDGE_COST_PER_MB], up=a[attrs.EDGE_UP], policy=policy)
        if c is not None and (best is None or c.weight < best[0]):
            best = (c.weight, key)
    return best


def weight_fn(G: nx.MultiGraph, size: int, priority: int, policy: RoutingPolicy, banned=frozenset()):
    """A NetworkX weight callable (None hides an edge); ``banned`` link keys are skipped."""
    def weight(u, v, d):
        d = {k: a for k, a in d.items() if k not in banned}
        best = ref_link_weight(G, u, v, d, size, priority, policy)
        return None if best is None else best[0]
    return weight


def ref_costs(G, src, size, priority, policy) -> dict:
    return nx.single_source_dijkstra_path_length(G, src, weight=weight_fn(G, size, priority, policy))


def ref_greedy_disjoint(G, src, dst, size, priority, policy, k: int, node_disjoint: bool) -> list[float]:
    """Costs of the greedy disjoint paths: best path, then best with its links (or inner
    nodes) removed, and so on."""
    H = G.copy()
    banned: set = set()
    costs = []
    for _ in range(k):
        w = weight_fn(H, size, priority, policy, frozenset(banned))
        try:
            cost, path = nx.single_source_dijkstra(H, src, dst, weight=w)
        except nx.NetworkXNoPath:
            break
        costs.append(cost)
        for a, b in zip(path, path[1:]):
            banned.add(ref_link_weight(H, a, b, {k2: x for k2, x in H[a][b].items() if k2 not in banned},
                                       size, priority, policy)[1])
        if node_disjoint:
            for inner in path[1:-1]:
                banned.update(key for *_, key in H.edges(inner, keys=True))
    return costs


def ref_hop_limited(G, src, dst, size, priority, policy, max_hops: int) -> float:
    """Best cost with at most max_hops links, on a NetworkX graph of (node, hops) layers."""
    w = weight_fn(G, size, priority, policy)
    L = nx.DiGraph()
    for h in range(max_hops):
        for u, v in G.edges():
            c = w(u, v, G[u][v])
            if c is not None:
                L.add_edge((u, h), (v, h + 1), weight=c)
                L.add_edge((v, h), (u, h + 1), weight=c)
    for h in range(max_hops + 1):
        L.add_edge((dst, h), "target", weight=0.0)
    L.add_node((src, 0))
    try:
        return nx.dijkstra_path_length(L, (src, 0), "target")
    except nx.NetworkXNoPath:
        return math.inf


def ref_earliest_arrival(plan, src, dst, size_bytes: int, t0: float, usable) -> float:
    """Earliest arrival on a NetworkX time-expanded graph: a node per (place, time) that
    the message can reach, waiting edges between successive times of a place, and one
    edge per contact use. Built by expanding from (src, t0) until no place is reached
    earlier than before (arriving later somewhere never helps: the message can wait)."""
    bits = size_bytes * 8.0
    out: dict = {}
    for c in plan.contacts:
        if usable(c):
            out.setdefault(c.frm, []).append(c)
    T = nx.DiGraph()
    start = (src, t0)
    T.add_node(start)
    frontier = [start]
    seen = {start}
    earliest = {src: t0}   # a later arrival at a place is dominated (one can wait): not expanded
    while frontier:
        place, t = frontier.pop()
        for c in out.get(place, []):
            dep = max(t, c.start_s)
            if dep + bits / c.rate_bps > c.end_s:
                continue
            arr = dep + bits / c.rate_bps + c.latency_s
            seen.update(((place, dep), (c.to, arr)))
            T.add_edge((place, dep), (c.to, arr), weight=arr - dep)
            if arr < earliest.get(c.to, math.inf):
                earliest[c.to] = arr
                frontier.append((c.to, arr))
    times: dict = {}
    for place, t in seen:
        times.setdefault(place, []).append(t)
    for place, ts in times.items():
        ts.sort()
        for a, b in zip(ts, ts[1:]):
            T.add_edge((place, a), (place, b), weight=b - a)
    dist = nx.single_source_dijkstra_path_length(T, start)
    arrivals = [t0 + d for (place, _), d in dist.items() if place == dst]
    return min(arrivals, default=math.inf)


def check_route(G: nx.MultiGraph, route, policy: RoutingPolicy) -> float:
    """Re-check a route against the original graph, hop by hop: every link exists between
    the two nodes it claims, is usable by this message, and the costs add up. Returns the
    recomputed cost."""
    assert route.nodes[0] == route.src and route.nodes[-1] == route.dst
    cost, t = 0.0, route.depart_s
    for hop in route.hops:
        assert G.has_edge(hop.src, hop.dst, key=hop.link_id), f"{hop} is not a link of the graph"
        a = G.edges[hop.src, hop.dst, hop.link_id]
        assert a[attrs.EDGE_KIND] == hop.kind.value
        assert G.nodes[hop.src].get(attrs.NODE_UP, True) and G.nodes[hop.dst].get(attrs.NODE_UP, True)
        c = link_cost(route.size_bytes, int(route.priority), KIND_CODE[a[attrs.EDGE_KIND]],
                      latency_s=a[attrs.EDGE_LATENCY_S], rate_bps=a[attrs.EDGE_RATE_BPS],
                      mtu_bytes=a[attrs.EDGE_MTU_BYTES], min_interval_s=a[attrs.EDGE_MIN_INTERVAL_S],
                      loss=a[attrs.EDGE_LOSS], cost_per_mb=a[attrs.EDGE_COST_PER_MB],
                      up=a[attrs.EDGE_UP], policy=policy)
        assert c is not None, f"hop {hop} cannot carry this message"
        assert hop.depart_s == pytest.approx(t) and hop.arrive_s == pytest.approx(t + c.time_s)
        t += c.time_s
        cost += c.weight
    assert route.arrive_s == pytest.approx(t)
    assert route.cost == pytest.approx(cost, rel=1e-9, abs=1e-9)
    assert len(set(route.nodes)) == len(route.nodes), "a best path never visits a node twice"
    return cost


# --- checks of the reference itself ---------------------------------------------------------

def _line() -> nx.MultiGraph:
    G = nx.MultiGraph()
    base = dict(up=True, mtu_bytes=1400, min_interval_s=0.0, loss=0.0, cost_per_mb=0.0, rate_bps=8e6)
    G.add_edge("a", "b", key="ab", kind="fibre", latency_s=1.0, **base)
    G.add_edge("a", "b", key="ab2", kind="radio", latency_s=0.5, **base)
    G.add_edge("b", "c", key="bc", kind="fibre", latency_s=2.0, **base)
    return G


def test_reference_takes_the_cheaper_parallel_link() -> None:
    costs = ref_costs(_line(), "a", 1000, Priority.FLASH, RoutingPolicy.default())
    assert costs["b"] == pytest.approx(0.5 + 0.001)
    assert costs["c"] == pytest.approx(0.5 + 2.0 + 0.002)


def test_reference_hop_limit_and_greedy_disjoint() -> None:
    G, pol = _line(), RoutingPolicy.default()
    assert ref_hop_limited(G, "a", "c", 1000, 0, pol, 1) == math.inf
    assert ref_hop_limited(G, "a", "c", 1000, 0, pol, 2) == pytest.approx(2.502)
    assert ref_greedy_disjoint(G, "a", "b", 1000, 0, pol, 3, False) == pytest.approx([0.501, 1.001])


def test_reference_time_expanded_graph_waits_for_a_window() -> None:
    from emcomm.router.contact_plan import Contact, ContactPlan

    plan = ContactPlan.of([Contact("a", "b", 10.0, 20.0, "leo", 8000.0, 1.0),
                           Contact("b", "c", 0.0, 5.0, "leo", 8000.0, 1.0),
                           Contact("b", "c", 30.0, 40.0, "leo", 8000.0, 1.0)])
    assert ref_earliest_arrival(plan, "a", "c", 1000, 0.0, lambda c: True) == pytest.approx(32.0)
    assert ref_earliest_arrival(plan, "a", "c", 1000, 15.0, lambda c: True) == pytest.approx(32.0)
    assert ref_earliest_arrival(plan, "a", "c", 1000, 19.5, lambda c: True) == math.inf


def test_random_multigraph_has_parallel_and_down_links() -> None:
    G = random_multigraph(7, 12, 80)
    pairs = [frozenset((u, v)) for u, v in G.edges()]
    assert len(pairs) > len(set(pairs))
    assert any(not d[attrs.EDGE_UP] for *_, d in G.edges(data=True))
