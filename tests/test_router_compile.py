"""Compiling the topology: the bulk (NumPy, identity-based) reading of the MultiGraph gives
exactly what a plain per-edge reading of ``graph.edges(keys=True, data=True)`` gives."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.errors import WeightError
from emcomm.links.profiles import LinkKind
from emcomm.router import attrs
from emcomm.router.compiled import CompiledTopology, object_ids
from emcomm.router.policy import KIND_CODE
from test_router_reference import random_multigraph


def _respell(G: nx.MultiGraph, seed: int) -> nx.MultiGraph:
    """The same graph with kinds given as LinkKind members, fresh string objects in other
    cases, and a few self-loops: the compiler must not rely on shared kind objects."""
    rng = random.Random(seed)
    H = nx.MultiGraph()
    H.add_nodes_from(G.nodes(data=True))
    for u, v, k, d in G.edges(keys=True, data=True):
        d = dict(d)
        choice = rng.randrange(3)
        if choice == 1:
            d[attrs.EDGE_KIND] = LinkKind(d[attrs.EDGE_KIND])
        elif choice == 2:
            d[attrs.EDGE_KIND] = d[attrs.EDGE_KIND].upper()   # a new object each time
        H.add_edge(u, v, key=k, **d)
    loop = {attrs.EDGE_KIND: "radio", attrs.EDGE_UP: True, attrs.EDGE_LATENCY_S: 0.1, attrs.EDGE_RATE_BPS: 9600.0,
            attrs.EDGE_MTU_BYTES: 512, attrs.EDGE_MIN_INTERVAL_S: 0.0, attrs.EDGE_LOSS: 0.0, attrs.EDGE_COST_PER_MB: 0.0}
    nodes = list(H.nodes)
    for j in range(rng.randrange(3)):
        n = rng.choice(nodes)
        H.add_edge(n, n, key=f"loop{j}", **loop)
    return H


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 30), st.floats(0.0, 4.0))
def test_bulk_compile_equals_a_per_edge_reading(seed, n, density) -> None:
    G = _respell(random_multigraph(seed, n, int(n * density)), seed)
    topo = CompiledTopology.from_graph(G)
    edges = list(G.edges(keys=True, data=True))
    assert topo.n_links == len(edges) and topo.n_nodes == G.number_of_nodes()
    assert sorted(map(str, topo.link_ids)) == sorted(str(k) for *_, k, _ in edges)
    for u, v, key, d in edges:
        j = topo.link_index[key]
        ends = {topo.node_ids[topo.link_u[j]], topo.node_ids[topo.link_v[j]]}
        assert ends == {u, v}
        kind = d[attrs.EDGE_KIND]
        assert topo.link_kind[j] == KIND_CODE[(kind.value if isinstance(kind, LinkKind) else kind).lower()]
        assert topo.link_up[j] == int(bool(d[attrs.EDGE_UP]))
        for name in attrs.EDGE_METRICS:
            assert getattr(topo, name)[j] == d[name], name
        for side, tail in ((0, topo.link_u[j]), (1, topo.link_v[j])):
            s = topo.link_slots[j, side]
            assert topo.adj_link[s] == j and topo.slot_tail[s] == tail
            assert topo.indptr[tail] <= s < topo.indptr[tail + 1]
    for i, node in enumerate(topo.node_ids):
        assert topo.node_up[i] == int(bool(G.nodes[node].get(attrs.NODE_UP, True)))


def test_object_ids_are_the_ids_of_the_elements() -> None:
    objs = [{"a": 1}, "kind", 3.5, None, object()]
    arr = np.fromiter(objs, object, len(objs))
    assert object_ids(arr).tolist() == [id(o) for o in objs]
    assert object_ids(np.empty(0, object)).size == 0


def test_the_link_id_map_is_built_on_first_use_and_duplicates_still_refused() -> None:
    G = random_multigraph(5, 12, 30)
    topo = CompiledTopology.from_graph(G)
    assert topo._link_index is None
    assert topo.link_index == {k: i for i, k in enumerate(topo.link_ids)}
    d = dict(next(iter(G.edges(data=True)))[2])
    G.add_edge("n0", "n1", key="dup", **d)
    G.add_edge("n2", "n3", key="dup", **d)
    with pytest.raises(WeightError, match="'dup' is used by more than one link"):
        CompiledTopology.from_graph(G)


def test_an_unknown_kind_names_the_link_even_among_shared_kind_objects() -> None:
    G = random_multigraph(9, 10, 25)
    u, v, k = next(iter(G.edges(keys=True)))
    G.edges[u, v, k][attrs.EDGE_KIND] = "carrier-pigeon"
    with pytest.raises(WeightError, match=f"link {k!r}: unknown kind 'carrier-pigeon'"):
        CompiledTopology.from_graph(G)


# --- resolving many link ids at once --------------------------------------------------------

def _many_links(ids: list) -> nx.MultiGraph:
    G = nx.MultiGraph()
    link = {attrs.EDGE_KIND: "radio", attrs.EDGE_UP: True, attrs.EDGE_LATENCY_S: 0.1, attrs.EDGE_RATE_BPS: 9600.0,
            attrs.EDGE_MTU_BYTES: 512, attrs.EDGE_MIN_INTERVAL_S: 0.0, attrs.EDGE_LOSS: 0.0, attrs.EDGE_COST_PER_MB: 0.0}
    for i, k in enumerate(ids):
        G.add_edge(f"n{i}", f"n{i + 1}", key=k, **link)
    return G


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(64, 400))
def test_bulk_resolution_equals_the_dict_even_for_equal_but_distinct_id_objects(seed, n) -> None:
    rng = random.Random(seed)
    ids = [f"link-{i}" for i in range(300)] + [-1, -2, 7, 2**61 - 1 + 7]   # hash(-1) == hash(-2), hash(7) == hash(2**61+6)
    topo = CompiledTopology.from_graph(_many_links(ids))
    wanted = [rng.choice(ids) for _ in range(n)]
    fresh = [("".join(k) if isinstance(k, str) and rng.random() < 0.5 else k) for k in wanted]   # new str objects
    expected = [topo.link_index[k] for k in wanted]
    assert topo.links(fresh).tolist() == expected
    assert topo.links(wanted).tolist() == expected


def test_bulk_resolution_names_an_unknown_id_among_many() -> None:
    ids = [f"link-{i}" for i in range(200)]
    topo = CompiledTopology.from_graph(_many_links(ids))
    from emcomm.errors import UnknownLinkError
    with pytest.raises(UnknownLinkError, match="unknown link 'link-9999'"):
        topo.links(ids[:100] + ["link-9999"])
    with pytest.raises(UnknownLinkError, match=r"unknown link \['x'\]"):
        topo.links(ids[:100] + [["x"]])
