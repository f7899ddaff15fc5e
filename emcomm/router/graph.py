"""The topology graph: node and link specs (plus hazard state at a time) → a NetworkX MultiGraph.

This module owns *building* the MultiGraph whose attribute names are fixed in
``emcomm.router.attrs``, from either a scenario's specs and an ``Impact``, or a live
node's link-state records. It does not compute routes (the router kernels do), does not
evaluate hazards (``emcomm.hazards.impact`` does) and does no I/O.

Parallel links of different kinds between the same two nodes stay separate edges; the
MultiGraph key of an edge is its link id.

Example
-------
>>> from emcomm.hazards.base import Site
>>> from emcomm.hazards.impact import NodeSpec, LinkSpec
>>> from emcomm.links.profiles import make_profile
>>> nodes = [NodeSpec(Site("cc", 34.75, 113.62), "command"), NodeSpec(Site("t1", 34.70, 113.50), "team")]
>>> links = [LinkSpec("cc-t1-tt", "cc", "t1", make_profile("tiantong")),
...          LinkSpec("cc-t1-bd", "cc", "t1", make_profile("beidou"))]
>>> g = build_graph(nodes, links)
>>> sorted(g["cc"]["t1"])
['cc-t1-bd', 'cc-t1-tt']
>>> g.edges["cc", "t1", "cc-t1-tt"]["rate_bps"]
384000.0
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Sequence

import networkx as nx

from emcomm.errors import UsageError
from emcomm.hazards.base import PowerState
from emcomm.hazards.impact import Impact, LinkSpec, NodeSpec
from emcomm.router import attrs as A


@dataclasses.dataclass(frozen=True)
class LinkRecord:
    """One link as a live node's link-state database knows it (current values, plain data).

    ``rate_bps`` is the current bottleneck rate; metrics are already degraded by whatever
    the reporting node measured, so they are copied onto the edge as they are.
    """

    id: str
    a: str
    b: str
    kind: str
    up: bool
    rate_bps: float
    latency_s: float
    mtu_bytes: int
    min_interval_s: float = 0.0
    loss: float = 0.0
    cost_per_mb: float = 0.0
    capacity_factor: float = 1.0
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class NodeRecord:
    """One node as a live node's link-state database knows it (optional extra detail)."""

    id: str
    name: str = ""
    lat_deg: float | None = None
    lon_deg: float | None = None
    role: str = ""
    up: bool = True
    power: str = PowerState.MAINS.value
    battery_left_s: float | None = None


def build_graph(
    nodes: Sequence[NodeSpec],
    links: Sequence[LinkSpec],
    impact: Impact | None = None,
    names: Mapping[str, str] | None = None,
) -> nx.MultiGraph:
    """Build the topology MultiGraph from specs, with the hazard state of ``impact`` applied.

    Each edge gets every metric of ``attrs.EDGE_METRICS`` plus ``kind``, ``up``,
    ``reason`` and ``capacity_factor``: rate = profile bottleneck rate × capacity factor,
    loss = profile loss + extra loss (capped below 1), latency = profile latency + extra
    latency. An edge is up only if the impact says the link is up *and* both end nodes
    are up. Without ``impact`` every node and link is up in fair conditions.

    Raises UsageError for a link to a node that is not in ``nodes`` or a duplicate id.

    >>> from emcomm.hazards.base import Site
    >>> from emcomm.hazards.impact import Impact, LinkState, NodeSpec, LinkSpec, NodeState
    >>> from emcomm.links.profiles import make_profile
    >>> n = [NodeSpec(Site("a", 0, 0), "team"), NodeSpec(Site("b", 0, 1), "hub")]
    >>> l = [LinkSpec("ab", "a", "b", make_profile("hts"))]
    >>> up = NodeState(True, PowerState.MAINS, None)
    >>> imp = Impact(0.0, {"a": up, "b": up}, {"ab": LinkState(True, 0.5, 0.01, 0.0, "rain fade")})
    >>> g = build_graph(n, l, imp)
    >>> g.edges["a", "b", "ab"]["rate_bps"], round(g.edges["a", "b", "ab"]["loss"], 3)
    (6000000.0, 0.011)
    """
    names = names or {}
    g = nx.MultiGraph()
    node_up: dict[str, bool] = {}
    node_rows = []
    for spec in nodes:
        nid = spec.site.id
        if nid in node_up:
            raise UsageError(f"duplicate node id {nid!r} in the topology; node ids must be unique")
        state = impact.nodes.get(nid) if impact is not None else None
        up = state.up if state is not None else True
        node_up[nid] = up
        node_rows.append((nid, {
            A.NODE_NAME: names.get(nid, nid),
            A.NODE_LAT: spec.site.lat_deg,
            A.NODE_LON: spec.site.lon_deg,
            A.NODE_ROLE: spec.role,
            A.NODE_POWER: (state.power.value if state is not None else PowerState.MAINS.value),
            A.NODE_BATTERY_LEFT_S: (state.battery_left_s if state is not None else None),
            A.NODE_UP: up,
        }))
    g.add_nodes_from(node_rows)

    seen: set[str] = set()
    edge_rows = []
    for link in links:
        if link.id in seen:
            raise UsageError(f"duplicate link id {link.id!r} in the topology; link ids must be unique")
        seen.add(link.id)
        for end in (link.a, link.b):
            if end not in node_up:
                raise UsageError(f"link {link.id!r} ends at unknown node {end!r}; add the node or fix the link")
        p = link.profile
        ls = impact.links.get(link.id) if impact is not None else None
        if ls is None:
            up, factor, extra_loss, extra_lat, reason = True, 1.0, 0.0, 0.0, ""
        else:
            up, factor, extra_loss, extra_lat, reason = (
                ls.up, ls.capacity_factor, ls.extra_loss, ls.extra_latency_s, ls.reason)
        if up and not (node_up[link.a] and node_up[link.b]):
            up = False
            down = link.a if not node_up[link.a] else link.b
            reason = f"node {down} off air"
        edge_rows.append((link.a, link.b, link.id, {
            A.EDGE_KIND: p.kind.value,
            A.EDGE_UP: bool(up),
            A.EDGE_REASON: reason,
            A.EDGE_CAPACITY_FACTOR: float(factor),
            A.EDGE_LATENCY_S: p.latency_s + extra_lat,
            A.EDGE_RATE_BPS: p.rate_bps * factor,
            A.EDGE_MTU_BYTES: p.mtu_bytes,
            A.EDGE_MIN_INTERVAL_S: p.min_interval_s,
            A.EDGE_LOSS: min(p.loss + extra_loss, _MAX_LOSS),
            A.EDGE_COST_PER_MB: p.cost_per_mb_cny,
        }))
    g.add_edges_from(edge_rows)
    return g


# a probability of exactly 1 breaks expected-transmission costs; "down" is expressed by ``up``
_MAX_LOSS = 0.999


def build_graph_from_records(
    links: Iterable[LinkRecord],
    nodes: Iterable[NodeRecord] = (),
) -> nx.MultiGraph:
    """Build the same MultiGraph from a live node's link-state records.

    Nodes named only as link ends are added with default attributes (up, on mains).

    >>> g = build_graph_from_records([LinkRecord("x", "a", "b", "radio", True, 9600.0, 0.06, 512)])
    >>> g.edges["a", "b", "x"]["kind"], g.nodes["a"]["up"]
    ('radio', True)
    """
    g = nx.MultiGraph()
    node_rows = []
    known: set[str] = set()
    for n in nodes:
        if n.id in known:
            raise UsageError(f"duplicate node record {n.id!r}; node ids must be unique")
        known.add(n.id)
        node_rows.append((n.id, _record_attrs(n)))
    g.add_nodes_from(node_rows)
    seen: set[str] = set()
    edge_rows = []
    for r in links:
        if r.id in seen:
            raise UsageError(f"duplicate link record {r.id!r}; link ids must be unique")
        seen.add(r.id)
        for end in (r.a, r.b):
            if end not in known:
                known.add(end)
                g.add_node(end, **_record_attrs(NodeRecord(end)))
        up = r.up and g.nodes[r.a][A.NODE_UP] and g.nodes[r.b][A.NODE_UP]
        edge_rows.append((r.a, r.b, r.id, {
            A.EDGE_KIND: r.kind, A.EDGE_UP: bool(up), A.EDGE_REASON: r.reason,
            A.EDGE_CAPACITY_FACTOR: float(r.capacity_factor),
            A.EDGE_LATENCY_S: float(r.latency_s), A.EDGE_RATE_BPS: float(r.rate_bps),
            A.EDGE_MTU_BYTES: int(r.mtu_bytes), A.EDGE_MIN_INTERVAL_S: float(r.min_interval_s),
            A.EDGE_LOSS: min(float(r.loss), _MAX_LOSS), A.EDGE_COST_PER_MB: float(r.cost_per_mb),
        }))
    g.add_edges_from(edge_rows)
    return g


def _record_attrs(n: NodeRecord) -> dict[str, object]:
    return {A.NODE_NAME: n.name or n.id, A.NODE_LAT: n.lat_deg, A.NODE_LON: n.lon_deg, A.NODE_ROLE: n.role,
            A.NODE_POWER: n.power, A.NODE_BATTERY_LEFT_S: n.battery_left_s, A.NODE_UP: n.up}


def up_subgraph(g: nx.MultiGraph) -> nx.MultiGraph:
    """A view of ``g`` with only nodes that are up and edges that are up.

    >>> g = build_graph_from_records([LinkRecord("x", "a", "b", "radio", False, 9600.0, 0.06, 512)])
    >>> up_subgraph(g).number_of_edges()
    0
    """
    return nx.subgraph_view(
        g,
        filter_node=lambda n: g.nodes[n].get(A.NODE_UP, True),
        filter_edge=lambda u, v, k: g.edges[u, v, k][A.EDGE_UP],
    )
