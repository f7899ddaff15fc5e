"""The node's route provider: next hop (one of its own links) by destination, size and priority.

This module owns answering "which of my links should this message go out on?" from the
topology graph the link-state database builds. It prices links with the router's cost
formula and policy table (``emcomm.router.cost.link_cost``, ``emcomm.router.policy``), so a
live node and a drill agree on what a path costs, and runs a NetworkX Dijkstra over the
graph (the node's view is small: tens of nodes). It must not keep queues, send anything,
or read a clock. Shortest-path trees are cached per (priority, size class) and answers per
(destination, size class, priority) until the graph changes, so a message on a known route
costs one dict lookup.

A *stub* node (every usable link of its own is thin) may not know the mesh beyond its
neighbours: third-party adverts cross a thin link at most every
``NodeConfig.thin_link_advert_gap_s``, so a Beidou-only sensor that missed its neighbours'
first adverts has no route to the command centre for half an hour. For a destination it has
no path to, ``default_hop`` gives such a node the link to hand the message on to (never back
where it came from); a node with a usable broadband link learns the mesh within seconds and
gets None (it holds the message until a route appears).

Example
-------
>>> import networkx as nx
>>> g = nx.MultiGraph()
>>> g.add_edge("a", "b", key="ab/beidou", kind="beidou", up=True, latency_s=1.0, rate_bps=233.0,
...            mtu_bytes=1750, min_interval_s=60.0, loss=0.0, cost_per_mb=0.0)
'ab/beidou'
>>> g.add_edge("a", "b", key="ab/tiantong", kind="tiantong", up=True, latency_s=0.275, rate_bps=384e3,
...            mtu_bytes=1400, min_interval_s=0.0, loss=0.0, cost_per_mb=10.0)
'ab/tiantong'
>>> r = RouteProvider("a", {"ab/beidou", "ab/tiantong"})
>>> r.update(g)
>>> r.next_hop("b", 200, 0), r.next_hop("b", 200, 3), r.next_hop("zz", 200, 0)
('ab/tiantong', 'ab/tiantong', None)
>>> r.is_stub(), r.default_hop(200, 0)       # Tiantong is not thin: a's view is complete
(False, None)
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import networkx as nx

from emcomm.router import attrs
from emcomm.router.cost import link_cost
from emcomm.router.policy import KIND_CODE, RoutingPolicy

THIN_RATE_BPS = 64_000.0        # below this a link is "thin" for control traffic


def is_thin(rate_bps: float, min_interval_s: float) -> bool:
    """A link is thin when it has a minimum send interval (Beidou) or a rate below
    ``THIN_RATE_BPS``: adverts cross it rarely, so a view learnt only over it is partial.

    >>> is_thin(233.0, 60.0), is_thin(9_600.0, 0.0), is_thin(384e3, 0.0)
    (True, True, False)
    """
    return min_interval_s > 0 or rate_bps < THIN_RATE_BPS


def _size_class(size_bytes: int) -> int:
    # powers of two: routes for 700 B and 1,000 B are the same question
    return max(0, int(size_bytes) - 1).bit_length()


class RouteProvider:
    """Next hop per (destination, size, priority) over the current topology graph."""

    def __init__(self, self_id: str, own_link_ids: Iterable[str], policy: RoutingPolicy | None = None):
        self.self_id = self_id
        self.own_link_ids = set(own_link_ids)
        self.policy = policy or RoutingPolicy.default()
        self._graph: nx.MultiGraph = nx.MultiGraph()
        self._graph.add_node(self_id)
        self._cache: dict[tuple[int, int], dict[str, list[str]]] = {}
        self._hops: dict[tuple, str | None] = {}   # (dst, size class, priority[, avoided]) -> link id
        self._defaults: dict[tuple[int, int, str | None], str | None] = {}   # (size class, priority, came_from)
        self._stub: bool | None = None       # is_stub() of the current graph (None: not worked out yet)
        self.version = 0

    def update(self, graph: nx.MultiGraph) -> None:
        """Use a new topology graph (drops cached routes)."""
        self._graph = graph
        self._cache.clear()
        self._hops.clear()
        self._defaults.clear()
        self._stub = None
        self.version += 1

    def _edge_weight(self, size_bytes: int, priority: int, u: str, v: str, key: str, d: dict[str, Any]) -> float | None:
        kind = KIND_CODE.get(str(d.get(attrs.EDGE_KIND)))
        if kind is None or (u == self.self_id or v == self.self_id) and key not in self.own_link_ids:
            return None
        c = link_cost(size_bytes, priority, kind, latency_s=d[attrs.EDGE_LATENCY_S], rate_bps=d[attrs.EDGE_RATE_BPS],
                      mtu_bytes=d[attrs.EDGE_MTU_BYTES], min_interval_s=d[attrs.EDGE_MIN_INTERVAL_S],
                      loss=min(d[attrs.EDGE_LOSS], 0.99), cost_per_mb=d[attrs.EDGE_COST_PER_MB],
                      up=bool(d.get(attrs.EDGE_UP, True)), policy=self.policy)
        return None if c is None else c.weight + 1e-6  # a tiny hop penalty prefers fewer hops on ties

    def _weight_fn(self, size_bytes: int, priority: int) -> Callable[[str, str, dict[str, Any]], float | None]:
        def weight(u: str, v: str, keyed: dict[str, dict[str, Any]]) -> float | None:
            ws = [w for k, d in keyed.items() if (w := self._edge_weight(size_bytes, priority, u, v, k, d)) is not None]
            return min(ws) if ws else None
        return weight

    def next_hop(self, dst: str, size_bytes: int, priority: int, *, avoid: Iterable[str] = ()) -> str | None:
        """The link id to send on, or None when no usable path exists now.

        ``avoid`` lists link ids not to use (e.g. the one the message came in on).
        """
        size_class = _size_class(size_bytes)
        key = (dst, size_class, priority, frozenset(avoid)) if avoid else (dst, size_class, priority)
        try:
            return self._hops[key]
        except KeyError:
            hop = self._hops[key] = self._next_hop(dst, size_class, priority, set(avoid))
            return hop

    def _next_hop(self, dst: str, size_class: int, priority: int, avoid: set[str]) -> str | None:
        if dst == self.self_id or dst not in self._graph:
            return None
        size = 1 << size_class
        if avoid:
            g = self._graph.copy()
            g.remove_edges_from([(u, v, k) for u, v, k in g.edges(keys=True) if k in avoid])
            paths = nx.single_source_dijkstra_path(g, self.self_id, weight=self._weight_fn(size, priority))
        else:
            key = (priority, size_class)
            paths = self._cache.get(key)
            if paths is None:
                paths = self._cache[key] = nx.single_source_dijkstra_path(
                    self._graph, self.self_id, weight=self._weight_fn(size, priority))
        path = paths.get(dst)
        if not path or len(path) < 2:
            return None
        first = path[1]
        best: tuple[float, str] | None = None
        for k, d in self._graph.get_edge_data(self.self_id, first, default={}).items():
            if k in avoid:
                continue
            w = self._edge_weight(size, priority, self.self_id, first, k, d)
            if w is not None and (best is None or (w, k) < best):
                best = (w, k)
        return None if best is None else best[1]

    def _own_edges(self) -> list[tuple[str, str, dict[str, Any]]]:
        # (neighbour, link id, attributes) of this node's links in the graph (only usable ones are in it)
        return [(v, k, d) for _, v, k, d in self._graph.edges(self.self_id, keys=True, data=True)
                if k in self.own_link_ids and v != self.self_id]

    def is_stub(self) -> bool:
        """True when this node may not know the mesh beyond its neighbours: it has usable
        links, and all of them are thin (``is_thin``).

        >>> r = RouteProvider("a", {"ab/fibre"}); r.is_stub()      # no usable link at all
        False
        """
        if self._stub is None:
            own = self._own_edges()
            self._stub = bool(own) and all(is_thin(d[attrs.EDGE_RATE_BPS], d[attrs.EDGE_MIN_INTERVAL_S])
                                           for _, _, d in own)
        return self._stub

    def default_hop(self, size_bytes: int, priority: int, *, came_from: str | None = None) -> str | None:
        """The stub default route: the link a stub node hands a message on to when it has no
        path to the destination (None on a node that is not a stub, or when no link is left).

        Never ``came_from`` (the link the message arrived on: sending it back would bounce it
        until its hop limit). Of the links this class may use, a neighbour the graph shows
        with links beyond this node comes first (it can reach the rest of the mesh), then the
        cheapest link by the router's cost, then the link id (a stable choice).

        >>> import networkx as nx
        >>> g = nx.MultiGraph()
        >>> beidou = dict(kind="beidou", up=True, latency_s=1.0, rate_bps=233.0, mtu_bytes=1750,
        ...               min_interval_s=60.0, loss=0.0, cost_per_mb=0.0)
        >>> _ = g.add_edge("s", "r1", key="r1-s/beidou", **beidou)
        >>> _ = g.add_edge("s", "r2", key="r2-s/beidou", **beidou)
        >>> r = RouteProvider("s", {"r1-s/beidou", "r2-s/beidou"}); r.update(g)
        >>> r.next_hop("cc", 200, 2), r.default_hop(200, 2), r.default_hop(200, 3)   # ROUTINE never takes Beidou
        (None, 'r1-s/beidou', None)
        """
        if not self.is_stub():
            return None
        size_class = _size_class(size_bytes)
        key = (size_class, priority, came_from)
        if key not in self._defaults:
            size = 1 << size_class
            best: tuple[bool, float, str] | None = None
            for v, k, d in self._own_edges():
                w = None if k == came_from else self._edge_weight(size, priority, self.self_id, v, k, d)
                if w is None:
                    continue
                beyond = any(x not in (self.self_id, v) for x in self._graph.neighbors(v))
                cand = (not beyond, w, k)
                if best is None or cand < best:
                    best = cand
            self._defaults[key] = None if best is None else best[2]
        return self._defaults[key]

    def reachable(self) -> set[str]:
        """Nodes in the current graph (for status)."""
        return set(self._graph.nodes)
