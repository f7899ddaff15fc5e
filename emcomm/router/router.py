"""The router: best paths for a message of a given size and priority over the compiled
topology, with backups, forwarding tables, contact-plan routing and in-place failures.

Owns the translation between ids and arrays, the per-(size, priority) weight cache, the
reusable work arrays and every routing error message. The algorithms are the Numba
kernels in ``kernels/``; the cost formula is ``cost.py``; the policy is ``policy.py``.
One ``Router`` is not safe to share between threads (it reuses its work arrays).

Example
-------
>>> import networkx as nx
>>> link = dict(up=True, mtu_bytes=1400, min_interval_s=0.0, loss=0.0, cost_per_mb=0.0)
>>> G = nx.MultiGraph()
>>> _ = G.add_edge("team", "relay", key="r1", kind="radio", latency_s=0.06, rate_bps=9600, **link)
>>> _ = G.add_edge("relay", "command", key="f1", kind="fibre", latency_s=0.005, rate_bps=1e9, **link)
>>> router = Router.from_graph(G)
>>> r = router.route("team", "command", size_bytes=1200, priority="flash", now=100.0)
>>> r.nodes, [h.kind.value for h in r.hops], round(r.arrive_s, 3)
(('team', 'relay', 'command'), ['radio', 'fibre'], 101.065)
>>> router.fail(["f1"])
>>> router.route("team", "command")
Traceback (most recent call last):
...
emcomm.errors.NoPathError: no path from 'team' to 'command': 'command' is cut off — its part of the network has 1 node(s) ('command'), the part of 'team' has 2 (1 link(s) down, 0 node(s) off air)
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from typing import Hashable, Iterable, Literal

import networkx as nx
import numba
import numpy as np

from emcomm.errors import MessageTooLargeError, NoPathError, UsageError
from emcomm.links.profiles import LinkKind
from emcomm.priority import Priority
from emcomm.router.compiled import CompiledTopology, LinkSet
from emcomm.router.contact_plan import ContactPlan
from emcomm.router.cost import link_cost
from emcomm.router.kernels.allpairs import next_hop_table
from emcomm.router.kernels.constrained import hop_limited
from emcomm.router.kernels.contacts import earliest_arrival
from emcomm.router.kernels.dijkstra import dijkstra, first_hops, path_slots
from emcomm.router.kernels.disjoint import disjoint_paths
from emcomm.router.kernels.weights import block_links, fill_weights
from emcomm.router.policy import KIND_CODE, KINDS, RoutingPolicy, Use

_CACHE_SIZE = 32
_SHOW = 5   # node ids named in an error message


@dataclasses.dataclass(frozen=True)
class Hop:
    """One link of a route, with its expected departure and arrival."""

    src: Hashable
    dst: Hashable
    link_id: Hashable
    kind: LinkKind
    depart_s: float
    arrive_s: float
    money_cny: float


@dataclasses.dataclass(frozen=True)
class Route:
    """A path with its expected delivery time and money; ``cost`` is what the router
    minimised (time + money in seconds + last-resort penalties)."""

    src: Hashable
    dst: Hashable
    size_bytes: int
    priority: Priority
    hops: tuple[Hop, ...]
    depart_s: float
    arrive_s: float
    money_cny: float
    cost: float

    @property
    def nodes(self) -> tuple[Hashable, ...]:
        return (self.src, *(h.dst for h in self.hops))

    @property
    def links(self) -> tuple[Hashable, ...]:
        return tuple(h.link_id for h in self.hops)

    @property
    def time_s(self) -> float:
        return self.arrive_s - self.depart_s


@dataclasses.dataclass(frozen=True)
class NextHop:
    """Where a node forwards a message for one destination."""

    node: Hashable
    link_id: Hashable
    kind: LinkKind
    cost: float


@dataclasses.dataclass(frozen=True)
class ShortestPathTree:
    """Costs and predecessor slots from one source (array form, indices of the topology)."""

    src: int
    dist: np.ndarray    # float64[N], inf = unreachable
    pred: np.ndarray    # int32[N], slot used to reach each node (-1: none)


@dataclasses.dataclass(frozen=True)
class NextHopTable:
    """All-pairs forwarding table: ``slots[s, t]`` is the first slot out of node index
    ``s`` on a best path to ``t`` (-1 when none or ``s == t``). It holds no costs, so
    :meth:`next_hop` returns ``cost = nan``."""

    topology: CompiledTopology
    slots: np.ndarray

    def next_hop(self, src: Hashable, dst: Hashable) -> NextHop | None:
        topo = self.topology
        s = int(self.slots[topo.node(src), topo.node(dst)])
        if s < 0:
            return None
        link = int(topo.adj_link[s])
        return NextHop(topo.node_ids[topo.adj_node[s]], topo.link_ids[link], topo.kind_of(link), math.nan)


def _size(size_bytes: int) -> int:
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, (int, np.integer)) or size_bytes < 1:
        raise UsageError(f"size_bytes must be a whole number of bytes ≥ 1, got {size_bytes!r}")
    return int(size_bytes)


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


def _names(ids: list) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOW])
    return shown + (", …" if len(ids) > _SHOW else "")


class Router:
    """Routes messages over a compiled topology.

    Parameters
    ----------
    topology : CompiledTopology
        The arrays; :meth:`fail`/:meth:`restore` update them in place.
    policy : RoutingPolicy, optional
        Which classes may use which link kinds (default: :meth:`RoutingPolicy.default`).

    Examples
    --------
    >>> from emcomm.router.synthetic import random_topology
    >>> router = Router.from_graph(random_topology(200, seed=3))
    >>> r = router.route("s000", "s199", size_bytes=500, priority="immediate")
    >>> r.nodes[0], r.nodes[-1], r.arrive_s > 0
    ('s000', 's199', True)
    """

    def __init__(self, topology: CompiledTopology, policy: RoutingPolicy | None = None) -> None:
        self.topology = topology
        self.policy = policy or RoutingPolicy.default()
        self._arrays = self.policy.arrays()
        n = topology.n_nodes
        self._dist = np.empty(n)
        self._pred = np.empty(n, np.int32)
        self._pos = np.empty(n, np.int32)
        self._heap_node = np.empty(n, np.int32)
        self._heap_key = np.empty(n)
        self._order = np.empty(n, np.int32)
        self._buf = np.empty(max(n, 1), np.int32)
        self._cache: OrderedDict[tuple, tuple] = OrderedDict()
        permissive = RoutingPolicy(
            use=tuple(tuple(Use.ALLOW for _ in KINDS) for _ in Priority),
            seconds_per_cny=self.policy.seconds_per_cny, max_fragments=tuple(0 for _ in KINDS),
        )
        self._permissive = permissive.arrays()
        self._contact_cache: tuple[ContactPlan, tuple] | None = None

    @classmethod
    def from_graph(cls, graph: nx.MultiGraph, policy: RoutingPolicy | None = None) -> "Router":
        """Compile a topology MultiGraph (see ``attrs.py``) and route over it."""
        return cls(CompiledTopology.from_graph(graph), policy)

    # --- weights ------------------------------------------------------------------------
    def _fill(self, w: np.ndarray, links: np.ndarray, size: int, p: int, min_rate: float, arrays: tuple) -> None:
        t = self.topology
        use, spc, mf = arrays
        fill_weights(w, links, t.link_slots, size, p, t.link_u, t.link_v, t.link_kind, t.link_up,
                     t.latency_s, t.rate_bps, t.mtu_bytes, t.min_interval_s, t.loss, t.cost_per_mb,
                     t.node_up, use, spc, mf, self.policy.last_resort_penalty_s, min_rate)

    def weights(self, size_bytes: int, priority: Priority | int | str, min_rate_bps: float = 0.0,
                *, _permissive: bool = False) -> np.ndarray:
        """Per-slot weights for a message (cached; kept current by fail/restore).

        >>> from emcomm.router.synthetic import random_topology
        >>> r = Router.from_graph(random_topology(20, seed=1))
        >>> w = r.weights(1000, "flash"); w.shape == (2 * r.topology.n_links,)
        True
        """
        if isinstance(min_rate_bps, bool) or not isinstance(min_rate_bps, (int, float, np.number)) \
                or not 0.0 <= min_rate_bps < math.inf:
            raise UsageError(f"min_rate_bps must be a finite number of bit/s ≥ 0, got {min_rate_bps!r}")
        key = (_size(size_bytes), int(Priority.parse(priority)), float(min_rate_bps), _permissive)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit[0]
        arrays = self._permissive if _permissive else self._arrays
        w = np.empty(2 * self.topology.n_links)
        self._fill(w, np.arange(self.topology.n_links), key[0], key[1], key[2], arrays)
        self._cache[key] = (w, arrays)
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return w

    def _refresh(self, links: np.ndarray) -> None:
        links = np.sort(links)   # walk the link arrays in order: fewer cache misses
        for (size, p, min_rate, _), (w, arrays) in self._cache.items():
            self._fill(w, links, size, p, min_rate, arrays)

    def _block(self, links: np.ndarray) -> None:
        for w, _ in self._cache.values():
            block_links(w, links, self.topology.link_slots)

    # --- in-place changes ---------------------------------------------------------------
    def fail(self, links: Iterable[Hashable] | LinkSet) -> None:
        """Mark links down (in place, no recompilation; cached weights become +inf).

        ``links`` are link ids, or a :class:`LinkSet` from ``topology.resolve(ids)`` when
        the same set fails and recovers repeatedly.
        """
        self._block(self.topology.set_links_up(links, False))

    def restore(self, links: Iterable[Hashable] | LinkSet) -> None:
        """Mark links up again (ids or a :class:`LinkSet`)."""
        self._refresh(self.topology.set_links_up(links, True))

    def fail_nodes(self, nodes: Iterable[Hashable]) -> None:
        """Mark nodes off air: none of their links carries anything."""
        self._block(self.topology.set_nodes_up(nodes, False))

    def restore_nodes(self, nodes: Iterable[Hashable]) -> None:
        """Mark nodes on air again."""
        self._refresh(self.topology.set_nodes_up(nodes, True))

    def set_rate(self, link: Hashable, rate_bps: float) -> None:
        """Change a link's current rate (e.g. rain fade); 0 means no capacity left."""
        self._refresh(np.array([self.topology.set_rate(link, rate_bps)]))

    # --- single source ------------------------------------------------------------------
    def _sssp(self, s: int, w: np.ndarray, dst: int = -1, limit: float = math.inf) -> int:
        return dijkstra(self.topology.indptr, self.topology.adj_node, w, s, dst, limit, self._dist,
                        self._pred, self._pos, self._heap_node, self._heap_key, self._order)

    def tree(self, src: Hashable, size_bytes: int = 1000, priority: Priority | int | str = Priority.ROUTINE) -> ShortestPathTree:
        """The shortest-path tree from ``src`` in array form.

        >>> from emcomm.router.synthetic import random_topology
        >>> r = Router.from_graph(random_topology(30, seed=2))
        >>> t = r.tree("s00", 800, "flash"); float(t.dist[t.src])
        0.0
        """
        s = self.topology.node(src)
        self._sssp(s, self.weights(size_bytes, priority))
        return ShortestPathTree(s, self._dist.copy(), self._pred.copy())

    def next_hops(self, node: Hashable, size_bytes: int = 1000,
                  priority: Priority | int | str = Priority.ROUTINE) -> dict[Hashable, NextHop]:
        """A node's forwarding table: for every reachable destination, the next node and link.

        >>> from emcomm.router.synthetic import random_topology
        >>> r = Router.from_graph(random_topology(30, seed=2))
        >>> table = r.next_hops("s00", 800, "flash")
        >>> len(table) == r.topology.n_nodes - 1
        True
        """
        topo = self.topology
        s = topo.node(node)
        n_done = self._sssp(s, self.weights(size_bytes, priority))
        first = np.empty(topo.n_nodes, np.int32)
        first_hops(self._order, n_done, self._pred, topo.slot_tail, s, first)
        out = {}
        for v in self._order[:n_done]:
            f = first[v]
            if f >= 0:
                link = int(topo.adj_link[f])
                out[topo.node_ids[v]] = NextHop(topo.node_ids[topo.adj_node[f]], topo.link_ids[link],
                                                topo.kind_of(link), float(self._dist[v]))
        return out

    def next_hop_table(self, size_bytes: int = 1000, priority: Priority | int | str = Priority.ROUTINE) -> NextHopTable:
        """All-pairs next hops, computed on all cores (N × N int32: mind N).

        >>> from emcomm.router.synthetic import random_topology
        >>> r = Router.from_graph(random_topology(30, seed=2))
        >>> r.next_hop_table(800, "flash").next_hop("s00", "s00") is None
        True
        """
        topo = self.topology
        out = np.empty((topo.n_nodes, topo.n_nodes), np.int32)
        next_hop_table(topo.indptr, topo.adj_node, topo.slot_tail, self.weights(size_bytes, priority),
                       4 * numba.get_num_threads(), out)
        return NextHopTable(topo, out)

    # --- routes -------------------------------------------------------------------------
    def _route_from_slots(self, slots: np.ndarray, src: Hashable, dst: Hashable, size: int,
                          p: Priority, now: float, cost: float) -> Route:
        topo = self.topology
        hops = []
        t = now
        money = 0.0
        for slot in slots:
            link = int(topo.adj_link[slot])
            c = link_cost(size, int(p), int(topo.link_kind[link]), latency_s=float(topo.latency_s[link]),
                          rate_bps=float(topo.rate_bps[link]), mtu_bytes=int(topo.mtu_bytes[link]),
                          min_interval_s=float(topo.min_interval_s[link]), loss=float(topo.loss[link]),
                          cost_per_mb=float(topo.cost_per_mb[link]), up=True, policy=self.policy)
            assert c is not None
            hops.append(Hop(topo.node_ids[topo.slot_tail[slot]], topo.node_ids[topo.adj_node[slot]],
                            topo.link_ids[link], topo.kind_of(link), t, t + c.time_s, c.money_cny))
            t += c.time_s
            money += c.money_cny
        return Route(src, dst, size, p, tuple(hops), now, t, money, float(cost))

    def route(self, src: Hashable, dst: Hashable, size_bytes: int = 1000,
              priority: Priority | int | str = Priority.ROUTINE, now: float = 0.0, *,
              max_hops: int | None = None, max_cost: float | None = None,
              min_rate_bps: float = 0.0) -> Route:
        """The best path for one message.

        Parameters
        ----------
        src, dst : node ids
        size_bytes : int
            Message size; drives serialisation, fragments and send-slot waits.
        priority : Priority or its name
            Decides which link kinds may be used (policy) and what money is worth.
        now : float
            Monotonic seconds at which the message is handed over; hop times start here.
        max_hops, max_cost, min_rate_bps : optional constraints
            At most this many links; total cost at most this; only links at least this fast.

        Raises
        ------
        UnknownNodeError, NoPathError (says which part is cut off), MessageTooLargeError

        Examples
        --------
        >>> from emcomm.router.synthetic import random_topology
        >>> router = Router.from_graph(random_topology(100, seed=4))
        >>> r = router.route("s00", "s99", 2000, "priority", now=5.0, max_hops=30)
        >>> r.depart_s, len(r.hops) <= 30, r.hops[0].src
        (5.0, True, 's00')
        """
        topo = self.topology
        s, d = topo.node(src), topo.node(dst)
        size = _size(size_bytes)
        p = Priority.parse(priority)
        now = _finite("now", now)
        limit = math.inf if max_cost is None else _finite("max_cost", max_cost)
        if max_hops is not None and (isinstance(max_hops, bool) or not isinstance(max_hops, int) or max_hops < 1):
            raise UsageError(f"max_hops must be a whole number ≥ 1, got {max_hops!r}")
        w = self.weights(size, p, min_rate_bps)
        if max_hops is None:
            self._sssp(s, w, d, limit)
            hops = path_slots(self._pred, topo.slot_tail, s, d, self._buf) if self._dist[d] <= limit else -1
            cost = self._dist[d]
        else:
            hops, cost = hop_limited(topo.indptr, topo.adj_node, topo.slot_tail, w, s, d,
                                     min(max_hops, max(topo.n_nodes - 1, 1)), limit, self._buf)
        if hops < 0:
            self._explain(src, dst, s, d, size, p, min_rate_bps, max_hops, max_cost)
        return self._route_from_slots(self._buf[:hops].copy(), src, dst, size, p, now, cost)

    def backups(self, src: Hashable, dst: Hashable, size_bytes: int = 1000,
                priority: Priority | int | str = Priority.ROUTINE, now: float = 0.0, *, k: int = 3,
                disjoint: Literal["link", "node"] = "link") -> list[Route]:
        """The best route and up to ``k − 1`` backups sharing no link (``disjoint="link"``)
        or no intermediate node (``"node"``) with any earlier one, best first.

        >>> from emcomm.router.synthetic import random_topology
        >>> router = Router.from_graph(random_topology(100, seed=4))
        >>> routes = router.backups("s00", "s99", 500, "flash", k=2)
        >>> len(routes), set(routes[0].links) & set(routes[1].links)
        (2, set())
        """
        if disjoint not in ("link", "node"):
            raise UsageError(f"disjoint must be 'link' or 'node', got {disjoint!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise UsageError(f"k must be a whole number ≥ 1, got {k!r}")
        topo = self.topology
        s, d = topo.node(src), topo.node(dst)
        size, p, now = _size(size_bytes), Priority.parse(priority), _finite("now", now)
        if s == d:
            return [self.route(src, dst, size, p, now)]
        w = self.weights(size, p)
        n = topo.n_nodes
        out_slots = np.empty(k * n, np.int32)
        offsets = np.zeros(k + 1, np.int64)
        costs = np.empty(k)
        found = disjoint_paths(topo.indptr, topo.adj_node, topo.slot_tail, topo.adj_link, topo.link_slots,
                               w, s, d, k, disjoint == "node", math.inf, out_slots, offsets, costs)
        if found == 0:
            self._explain(src, dst, s, d, size, p, 0.0, None, None)
        return [self._route_from_slots(out_slots[offsets[i]:offsets[i + 1]], src, dst, size, p, now, costs[i])
                for i in range(found)]

    # --- contact plan -------------------------------------------------------------------
    def _compile_plan(self, plan: ContactPlan) -> tuple:
        if self._contact_cache is not None and self._contact_cache[0] is plan:
            return self._contact_cache[1]
        topo = self.topology
        cs = plan.contacts
        frm = np.fromiter((topo.node(c.frm) for c in cs), np.int64, len(cs))
        to = np.fromiter((topo.node(c.to) for c in cs), np.int64, len(cs))
        start = np.fromiter((c.start_s for c in cs), np.float64, len(cs))
        order = np.lexsort((start, frm))
        arrays = (
            np.concatenate([[0], np.cumsum(np.bincount(frm, minlength=topo.n_nodes))]).astype(np.int64),
            to[order].astype(np.int32), start[order],
            np.fromiter((c.end_s for c in cs), np.float64, len(cs))[order],
            np.fromiter((c.latency_s for c in cs), np.float64, len(cs))[order],
            np.fromiter((c.rate_bps for c in cs), np.float64, len(cs))[order],
            np.fromiter((KIND_CODE[c.kind.value] for c in cs), np.int64, len(cs))[order],
            order,
        )
        self._contact_cache = (plan, arrays)
        return arrays

    def earliest_arrival(self, plan: ContactPlan, src: Hashable, dst: Hashable, size_bytes: int = 1000,
                         priority: Priority | int | str = Priority.ROUTINE, now: float = 0.0) -> Route:
        """Earliest delivery over a contact plan (links that exist only in time windows).

        Contacts of kinds the policy keeps off this priority are never used; last-resort
        kinds only when no delivery is possible without them.

        >>> from emcomm.router.contact_plan import Contact, ContactPlan
        >>> import networkx as nx
        >>> G = nx.MultiGraph(); G.add_nodes_from(["team", "uav", "hq"])
        >>> plan = ContactPlan.of([Contact("team", "uav", 0, 600, "uav", 5e6, 0.3),
        ...                        Contact("uav", "hq", 900, 1500, "leo", 1e7, 0.05)])
        >>> r = Router.from_graph(G).earliest_arrival(plan, "team", "hq", 1000, "flash", now=10.0)
        >>> r.nodes, round(r.hops[1].depart_s), round(r.arrive_s, 4)
        (('team', 'uav', 'hq'), 900, 900.0508)
        """
        topo = self.topology
        s, d = topo.node(src), topo.node(dst)
        size, p, now = _size(size_bytes), Priority.parse(priority), _finite("now", now)
        c_indptr, c_to, c_start, c_end, c_lat, c_rate, c_kind, order = self._compile_plan(plan)
        use = self._arrays[0][int(p)][c_kind]
        arrive = np.empty(topo.n_nodes)
        pred = np.empty(topo.n_nodes, np.int32)
        t = math.inf
        for allowed in ((Use.ALLOW,), (Use.ALLOW, Use.LAST_RESORT)):
            ok = np.isin(use, allowed).astype(np.uint8)
            t = earliest_arrival(c_indptr, c_to, c_start, c_end, c_lat, c_rate, ok, s, d, now,
                                 size * 8.0, arrive, pred)
            if t < math.inf:
                break
        if t == math.inf:
            raise NoPathError(
                f"no contact sequence in the plan ({len(plan.contacts)} contacts) delivers a {size}-byte "
                f"{p.name} message from {src!r} to {dst!r} after t = {now} s"
            )
        chain = []
        v = d
        while v != s:
            c = int(pred[v])
            chain.append(c)
            v = self._contact_from(c, c_indptr)
        hops = []
        tu = now
        for c in reversed(chain):
            contact = plan.contacts[int(order[c])]
            dep = max(tu, float(c_start[c]))
            arr = dep + size * 8.0 / float(c_rate[c]) + float(c_lat[c])
            hops.append(Hop(contact.frm, contact.to, contact.link_id, contact.kind, dep, arr,
                            contact.cost_per_mb * size / 1e6))
            tu = arr
        return Route(src, dst, size, p, tuple(hops), now, float(t), sum(h.money_cny for h in hops), float(t) - now)

    @staticmethod
    def _contact_from(c: int, c_indptr: np.ndarray) -> int:
        return int(np.searchsorted(c_indptr, c, side="right") - 1)

    # --- errors -------------------------------------------------------------------------
    def _reach(self, s: int, w: np.ndarray) -> np.ndarray:
        n_done = self._sssp(s, w)
        return self._order[:n_done].copy()

    def _explain(self, src, dst, s, d, size, p, min_rate, max_hops, max_cost) -> None:
        topo = self.topology
        phys = self.weights(1, Priority.FLASH, _permissive=True)
        mine = self._reach(s, phys)
        if d not in set(mine.tolist()):
            theirs = self._reach(d, phys)
            down = int((topo.link_up == 0).sum())
            off = int((topo.node_up == 0).sum())
            raise NoPathError(
                f"no path from {src!r} to {dst!r}: {dst!r} is cut off — its part of the network has "
                f"{theirs.size} node(s) ({_names([topo.node_ids[i] for i in theirs])}), the part of {src!r} "
                f"has {mine.size} ({down} link(s) down, {off} node(s) off air)"
            )
        self._sssp(s, self.weights(1, p))
        if self._dist[d] == math.inf:
            self._sssp(s, phys, d)
            n = path_slots(self._pred, topo.slot_tail, s, d, self._buf)
            kinds = sorted({topo.kind_of(int(topo.adj_link[x])).value for x in self._buf[:n]
                            if self.policy.use_of(p, topo.kind_of(int(topo.adj_link[x]))) == Use.NEVER})
            raise NoPathError(
                f"no path from {src!r} to {dst!r} for a {p.name} message: the two are connected only "
                f"through link kinds the policy keeps off {p.name} (e.g. {', '.join(kinds) or 'none'}); "
                f"send it at a higher priority or change the policy"
            )
        # size: a small message of this class gets through, does this one?
        self._sssp(s, self.weights(size, p))
        if self._dist[d] == math.inf:
            self._sssp(s, self.weights(1, p), d)
            n = path_slots(self._pred, topo.slot_tail, s, d, self._buf)
            limits = sorted({
                (topo.kind_of(link).value, int(topo.mtu_bytes[link]) * self.policy.max_fragments[topo.link_kind[link]])
                for link in (int(topo.adj_link[x]) for x in self._buf[:n])
                if self.policy.max_fragments[topo.link_kind[link]] > 0
            })
            detail = "; ".join(f"{k} carries at most {b} bytes" for k, b in limits)
            raise MessageTooLargeError(
                f"a {size}-byte message is larger than any path from {src!r} to {dst!r} can carry"
                f"{': ' + detail if detail else ''}; split it or send a smaller one"
            )
        wanted = []
        if max_hops is not None:
            wanted.append(f"at most {max_hops} hop(s)")
        if max_cost is not None:
            wanted.append(f"cost ≤ {max_cost:g}")
        if min_rate:
            wanted.append(f"links of at least {min_rate:g} bit/s")
        best = self._dist[d]
        self._sssp(s, self.weights(size, p), d)
        hops = path_slots(self._pred, topo.slot_tail, s, d, self._buf)
        raise NoPathError(
            f"no path from {src!r} to {dst!r} with {' and '.join(wanted)}; without these limits the "
            f"best path has {hops} hop(s) and cost {best:.6g}"
        )
