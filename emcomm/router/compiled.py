"""The topology compiled to arrays: what the routing kernels read.

This module owns the conversion of the topology MultiGraph (attribute names in
``attrs.py``) into CSR arrays — one array per link metric, an ``up`` mask per link and
per node, and the adjacency with *both directions of every undirected link* (parallel
links of different kinds between the same two sites are kept) — plus the maps between
node/link ids and their integer indices, and in-place updates (fail, restore, rate
change) that never rebuild. It computes no costs and no paths.

Example
-------
>>> import networkx as nx
>>> G = nx.MultiGraph()
>>> G.add_edge("a", "b", key="ab-fibre", kind="fibre", up=True, latency_s=0.005,
...            rate_bps=1e9, mtu_bytes=1400, min_interval_s=0.0, loss=0.0, cost_per_mb=0.0)
'ab-fibre'
>>> topo = CompiledTopology.from_graph(G)
>>> topo.n_nodes, topo.n_links, len(topo.adj_node)
(2, 1, 2)
>>> _ = topo.set_links_up(["ab-fibre"], False); bool(topo.link_up[0])
False
"""

from __future__ import annotations

import ctypes
import dataclasses
import difflib
import gc
import math
import sys
from itertools import chain, compress
from operator import itemgetter, methodcaller
from typing import Any, Hashable, Iterable

import networkx as nx
import numpy as np

from emcomm.errors import UnknownLinkError, UnknownNodeError, WeightError
from emcomm.links.profiles import LinkKind
from emcomm.router import attrs
from emcomm.router.kernels.idtable import build_table, probe
from emcomm.router.kernels.layout import bfs_order, build_csr
from emcomm.router.policy import KIND_CODE, KINDS

_EDGE_FIELDS = (attrs.EDGE_KIND, attrs.EDGE_UP, *attrs.EDGE_METRICS)
_get_numbers = itemgetter(attrs.EDGE_UP, *attrs.EDGE_METRICS)
_N_NUMBERS = 1 + len(attrs.EDGE_METRICS)
_BULK_IDS = 64   # from this many ids on, resolve them through the hash table, not one dict lookup each
# CPython documents id() as the object's address, and a NumPy object array holds exactly
# those addresses: reading them as int64 replaces a Python call per object.
_POINTERS_ARE_IDS = sys.implementation.name == "cpython" and np.dtype(np.intp).itemsize == 8


def _kind_code(kind: Any, link: Hashable) -> int:
    text = kind.value if isinstance(kind, LinkKind) else kind
    code = KIND_CODE.get(str(text).lower()) if isinstance(text, str) else None
    if code is None:
        names = ", ".join(KIND_CODE)
        raise WeightError(f"link {link!r}: unknown kind {kind!r}; expected one of: {names}")
    return code


def _check_metric(name: str, values: np.ndarray, link_ids: list, ok: np.ndarray, expected: str) -> None:
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise WeightError(
            f"link {link_ids[i]!r}: {name} is {float(values[i])!r}; expected {expected} "
            f"({int((~ok).sum())} link(s) have this problem)"
        )


def _known(key: object, index: dict) -> bool:
    try:
        return key in index
    except TypeError:   # unhashable: never a link id
        return False


def suggest(name: Hashable, known: Iterable[Hashable]) -> str:
    """A ' (did you mean …?)' hint for a misspelt id, or ''."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def object_ids(objs: np.ndarray) -> np.ndarray:
    """``id()`` of every element of a 1-D object array, as int64, read in bulk.

    >>> a = np.array([None, "x", 3], dtype=object)
    >>> object_ids(a).tolist() == [id(None), id("x"), id(3)]
    True
    """
    if not _POINTERS_ARE_IDS or objs.size == 0:
        return np.fromiter(map(id, objs), np.int64, objs.size)
    objs = np.ascontiguousarray(objs)
    view = (ctypes.c_int64 * objs.size).from_address(objs.ctypes.data)
    return np.ctypeslib.as_array(view).copy()   # copied while ``objs`` keeps them alive


def _edges(graph: nx.MultiGraph) -> tuple[np.ndarray, np.ndarray, list, list]:
    # Every step below iterates in C (map/chain/NumPy), never in a Python loop: at
    # 100,000 nodes this is several times faster than graph.edges(keys=True, data=True).
    # A MultiGraph shares one key→attributes dict between adj[u][v] and adj[v][u]: the two
    # sightings of each such dict (by identity) give the pair's two ends without looking
    # a single node up (a self-loop is seen once). Node indices follow graph.adjacency().
    nbrs = [d for _, d in graph.adjacency()]
    degree = np.fromiter(map(len, nbrs), np.int64, len(nbrs))
    total = int(degree.sum())
    if not total:
        return np.empty(0, np.int32), np.empty(0, np.int32), [], []
    keyeds = np.fromiter(chain.from_iterable(map(dict.values, nbrs)), object, total)
    ids = object_ids(keyeds)
    order = np.argsort(ids)   # any order among equal ids: both sightings are handled alike
    sorted_ids = ids[order]
    start = np.flatnonzero(np.concatenate([[True], sorted_ids[1:] != sorted_ids[:-1]]))
    count = np.diff(np.concatenate([start, [ids.size]]))
    a, b = order[start], order[np.where(count == 2, start + 1, start)]
    lo, hi = np.minimum(a, b), np.maximum(a, b)      # a link's first sighting, its second
    by_first = np.argsort(lo)
    first, second = lo[by_first], hi[by_first]
    owner = np.repeat(np.arange(len(nbrs), dtype=np.int32), degree)
    tails, heads = owner[first], owner[second]
    pairs = keyeds[first].tolist()
    mult = np.fromiter(map(len, pairs), np.int64, len(pairs))
    keys = list(chain.from_iterable(pairs))
    dicts = list(chain.from_iterable(map(dict.values, pairs)))
    return np.repeat(tails, mult), np.repeat(heads, mult), keys, dicts


@dataclasses.dataclass(frozen=True)
class LinkSet:
    """Links already resolved to indices (``CompiledTopology.resolve``): a hazard zone or a
    link-state update that is failed and restored again and again skips the id lookup."""

    indices: np.ndarray   # int64


@dataclasses.dataclass
class CompiledTopology:
    """Arrays of one topology. Link arrays are indexed by link index, adjacency arrays
    by *slot* (one slot per direction of a link: ``2 × n_links`` slots, grouped by tail
    node through ``indptr``). Arrays are updated in place; never replace them."""

    node_ids: list[Hashable]
    node_index: dict[Hashable, int]
    link_ids: list[Hashable]
    link_u: np.ndarray          # int32[L]
    link_v: np.ndarray          # int32[L]
    link_kind: np.ndarray       # int8[L], code into policy.KINDS
    link_up: np.ndarray         # uint8[L]
    latency_s: np.ndarray       # float64[L]
    rate_bps: np.ndarray        # float64[L]
    mtu_bytes: np.ndarray       # int64[L]
    min_interval_s: np.ndarray  # float64[L]
    loss: np.ndarray            # float64[L]
    cost_per_mb: np.ndarray     # float64[L]
    node_up: np.ndarray         # uint8[N]
    indptr: np.ndarray          # int64[N + 1]
    adj_node: np.ndarray        # int32[2L] head node of each slot
    adj_link: np.ndarray        # int32[2L] link of each slot
    slot_tail: np.ndarray       # int32[2L] tail node of each slot
    link_slots: np.ndarray      # int32[L, 2] the two slots of each link
    _link_index: dict[Hashable, int] | None = dataclasses.field(default=None, repr=False, compare=False)
    _id_table: tuple | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def link_index(self) -> dict[Hashable, int]:
        """Link id → link index (built on first use: compiling does not pay for it)."""
        if self._link_index is None:
            self._link_index = dict(zip(self.link_ids, range(len(self.link_ids))))
        return self._link_index

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the arrays (not the id maps)."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))

    @classmethod
    def from_graph(cls, graph: nx.MultiGraph) -> "CompiledTopology":
        """Compile a topology MultiGraph whose edges carry every attribute of ``attrs.py``.

        Raises :class:`WeightError` naming the first bad link and attribute.
        """
        # The cyclic GC would rescan the graph's millions of dicts many times while the
        # lists below grow (measured: it doubles the time at 100,000 nodes).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return cls._from_graph(graph)
        finally:
            if enabled:
                gc.enable()

    @classmethod
    def _from_graph(cls, graph: nx.MultiGraph) -> "CompiledTopology":
        """Compile a topology MultiGraph whose edges carry every attribute of ``attrs.py``.

        Raises :class:`WeightError` naming the first bad link and attribute.
        """
        if not isinstance(graph, nx.MultiGraph) or graph.is_directed():
            raise WeightError(f"the topology must be an undirected networkx.MultiGraph, got {type(graph).__name__}")
        node_data = list(graph.nodes(data=True))
        node_ids = list(graph.adj)
        if node_ids != list(map(itemgetter(0), node_data)):   # always equal in NetworkX 3
            raise WeightError("the graph's node and adjacency orders differ; rebuild it with networkx.MultiGraph(G)")
        node_index = dict(zip(node_ids, range(len(node_ids))))
        link_u, link_v, link_ids, dicts = _edges(graph)
        n_links = len(link_ids)
        if len(set(link_ids)) != n_links:   # the id → index map itself is built on first use
            seen: set = set()
            dup = next(k for k in link_ids if k in seen or seen.add(k))
            raise WeightError(f"link id {dup!r} is used by more than one link; link ids must be unique")
        try:
            kind_col = np.fromiter(map(itemgetter(attrs.EDGE_KIND), dicts), object, n_links)
            table = np.fromiter(chain.from_iterable(map(_get_numbers, dicts)), np.float64,
                                _N_NUMBERS * n_links).reshape(n_links, _N_NUMBERS)
            link_up = table[:, 0].astype(np.uint8)
            cols = [np.ascontiguousarray(table[:, 1 + i]) for i in range(len(attrs.EDGE_METRICS))]
        except KeyError:
            for k, d, u, v in zip(link_ids, dicts, link_u, link_v):
                missing = [f for f in _EDGE_FIELDS if f not in d]
                if missing:
                    raise WeightError(
                        f"link {k!r} ({node_ids[u]}–{node_ids[v]}) has no {', '.join(missing)}; "
                        f"every link needs {', '.join(_EDGE_FIELDS)}"
                    ) from None
            raise
        except (TypeError, ValueError):
            for k, d in zip(link_ids, dicts):
                for name in (attrs.EDGE_UP, *attrs.EDGE_METRICS):
                    value = d[name]
                    if not isinstance(value, (int, float, np.number)) or (isinstance(value, bool) and name != attrs.EDGE_UP):
                        raise WeightError(f"link {k!r}: {name} is {value!r}; expected a number") from None
            raise
        # kinds are a handful of (usually shared) string objects: parse one per distinct object
        _, first_at, inverse = np.unique(object_ids(kind_col), return_index=True, return_inverse=True)
        group_code = np.array([_kind_code(kind_col[i], link_ids[i]) for i in first_at.tolist()], np.int8)
        link_kind = group_code[inverse.reshape(-1)]
        lat, rate, mtu, interval, loss, cost = cols
        with np.errstate(invalid="ignore"):
            _check_metric(attrs.EDGE_LATENCY_S, lat, link_ids, np.isfinite(lat) & (lat >= 0), "a finite number ≥ 0")
            _check_metric(attrs.EDGE_RATE_BPS, rate, link_ids, np.isfinite(rate) & (rate >= 0), "a finite number ≥ 0 (0 = no capacity left)")
            _check_metric(attrs.EDGE_MTU_BYTES, mtu, link_ids, (mtu >= 1) & (mtu == np.floor(mtu)), "a whole number of bytes ≥ 1")
            _check_metric(attrs.EDGE_MIN_INTERVAL_S, interval, link_ids, np.isfinite(interval) & (interval >= 0), "a finite number ≥ 0")
            _check_metric(attrs.EDGE_LOSS, loss, link_ids, (loss >= 0) & (loss < 1), "a probability in [0, 1)")
            _check_metric(attrs.EDGE_COST_PER_MB, cost, link_ids, np.isfinite(cost) & (cost >= 0), "a finite number ≥ 0")
        node_up = np.fromiter(map(methodcaller("get", attrs.NODE_UP, True), map(itemgetter(1), node_data)),
                              np.uint8, len(node_ids))
        return cls._assemble(node_ids, node_index, link_ids, link_u, link_v, link_kind,
                             link_up, lat, rate, mtu.astype(np.int64), interval, loss, cost, node_up)

    @classmethod
    def _assemble(cls, node_ids, node_index, link_ids, link_u, link_v, link_kind,
                  link_up, lat, rate, mtu, interval, loss, cost, node_up) -> "CompiledTopology":
        n, n_links = len(node_ids), len(link_ids)
        # renumber nodes breadth-first (kernels/layout.py): neighbours get nearby indices
        indptr, adj_node, _, _, _ = build_csr(link_u, link_v, n)
        hub_degree = max(16, int(4 * 2 * n_links / max(n, 1)))
        perm = bfs_order(indptr, adj_node, hub_degree)
        new_index = np.empty(n, dtype=np.int32)
        new_index[perm] = np.arange(n, dtype=np.int32)
        node_ids = list(map(node_ids.__getitem__, perm.tolist()))
        node_index = dict(zip(node_ids, range(n)))
        node_up = node_up[perm]
        link_u, link_v = new_index[link_u], new_index[link_v]
        indptr, adj_node, adj_link, slot_tail, link_slots = build_csr(link_u, link_v, n)
        return cls(
            node_ids=node_ids, node_index=node_index, link_ids=link_ids,
            link_u=link_u, link_v=link_v, link_kind=link_kind, link_up=link_up,
            latency_s=lat, rate_bps=rate, mtu_bytes=mtu, min_interval_s=interval, loss=loss,
            cost_per_mb=cost, node_up=node_up, indptr=indptr, adj_node=adj_node,
            adj_link=adj_link, slot_tail=slot_tail, link_slots=link_slots,
        )

    # --- ids ↔ indices -------------------------------------------------------------------
    def node(self, node_id: Hashable) -> int:
        """Index of a node id; :class:`UnknownNodeError` when the topology has no such node."""
        try:
            return self.node_index[node_id]
        except (KeyError, TypeError):
            raise UnknownNodeError(
                f"unknown node {node_id!r}: the topology has {self.n_nodes} nodes"
                f"{suggest(node_id, self.node_ids)}"
            ) from None

    def resolve(self, link_ids: Iterable[Hashable]) -> LinkSet:
        """Resolve link ids once, for repeated :meth:`set_links_up` calls."""
        return LinkSet(self.links(link_ids))

    def links(self, link_ids: Iterable[Hashable] | LinkSet) -> np.ndarray:
        """Indices of link ids; :class:`UnknownLinkError` naming the first unknown one."""
        if isinstance(link_ids, LinkSet):
            return link_ids.indices
        link_ids = list(link_ids)
        if len(link_ids) >= _BULK_IDS:
            found = self._links_bulk(link_ids)
            if found is not None:
                return found
        index = self.link_index
        try:
            return np.fromiter(map(index.__getitem__, link_ids), np.int64, len(link_ids))
        except (KeyError, TypeError):
            bad = next(k for k in link_ids if not _known(k, index))
            raise UnknownLinkError(
                f"unknown link {bad!r}: the topology has {self.n_links} links{suggest(bad, self.link_ids)}"
            ) from None

    def _links_bulk(self, link_ids: list) -> np.ndarray | None:
        # Candidates by hash (kernels/idtable.py), confirmed by identity in bulk, the rest by
        # ==; None (→ the dict path, which names an unknown id) unless every id is confirmed.
        if self._id_table is None:
            link_obj = np.fromiter(self.link_ids, object, self.n_links)
            link_hash = np.fromiter(map(hash, self.link_ids), np.int64, self.n_links)
            table = np.full(1 << max(4, (2 * self.n_links - 1).bit_length()), -1, np.int64)
            build_table(link_hash, table)
            self._id_table = (table, link_hash, object_ids(link_obj), link_obj)
        table, link_hash, link_id_ids, _ = self._id_table
        try:
            objs = np.fromiter(link_ids, object, len(link_ids))
            hashes = np.fromiter(map(hash, link_ids), np.int64, len(link_ids))
        except TypeError:
            return None
        out = np.empty(len(link_ids), np.int64)
        probe(table, link_hash, hashes, out)
        if (out < 0).any():
            return None
        same = link_id_ids[out] == object_ids(objs)
        if not same.all():
            rest = np.flatnonzero(~same)
            names = self.link_ids
            if not all(link_ids[k] == names[out[k]] for k in rest.tolist()):
                return None
        return out

    def kind_of(self, link: int) -> LinkKind:
        return KINDS[int(self.link_kind[link])]

    # --- in-place updates ----------------------------------------------------------------
    def set_links_up(self, link_ids: Iterable[Hashable] | LinkSet, up: bool) -> np.ndarray:
        """Mark links up or down in place; returns their indices."""
        idx = self.links(link_ids)
        self.link_up[idx] = 1 if up else 0
        return idx

    def set_nodes_up(self, node_ids: Iterable[Hashable], up: bool) -> np.ndarray:
        """Mark nodes on or off air in place; returns the indices of their links."""
        nodes = np.fromiter((self.node(n) for n in node_ids), np.int64)
        self.node_up[nodes] = 1 if up else 0
        touched = [self.adj_link[self.indptr[i]:self.indptr[i + 1]] for i in nodes]
        return np.unique(np.concatenate(touched)).astype(np.int64) if touched else np.empty(0, np.int64)

    def set_rate(self, link_id: Hashable, rate_bps: float) -> int:
        """Change a link's current rate in place (0 = no capacity left); returns its index."""
        if isinstance(rate_bps, bool) or not isinstance(rate_bps, (int, float)) or not math.isfinite(rate_bps) or rate_bps < 0:
            raise WeightError(f"link {link_id!r}: rate_bps {rate_bps!r} must be a finite number ≥ 0")
        i = int(self.links([link_id])[0])
        self.rate_bps[i] = float(rate_bps)
        return i

    def to_graph(self) -> nx.MultiGraph:
        """The MultiGraph these arrays describe (current state), e.g. for a NetworkX check."""
        g = nx.MultiGraph()
        for i, n in enumerate(self.node_ids):
            g.add_node(n, **{attrs.NODE_UP: bool(self.node_up[i])})
        for j, k in enumerate(self.link_ids):
            g.add_edge(self.node_ids[self.link_u[j]], self.node_ids[self.link_v[j]], key=k, **{
                attrs.EDGE_KIND: KINDS[self.link_kind[j]].value, attrs.EDGE_UP: bool(self.link_up[j]),
                attrs.EDGE_LATENCY_S: float(self.latency_s[j]), attrs.EDGE_RATE_BPS: float(self.rate_bps[j]),
                attrs.EDGE_MTU_BYTES: int(self.mtu_bytes[j]), attrs.EDGE_MIN_INTERVAL_S: float(self.min_interval_s[j]),
                attrs.EDGE_LOSS: float(self.loss[j]), attrs.EDGE_COST_PER_MB: float(self.cost_per_mb[j]),
            })
        return g
