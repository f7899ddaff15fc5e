"""k link-disjoint or node-disjoint paths, best first: each path is the shortest one
that shares no link (or no intermediate node) with the paths found before it.

Owns only this greedy algorithm (what a duty officer expects: the primary route is the
best route; each backup is the best route left when the earlier ones are cut).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from emcomm.router.kernels.dijkstra import dijkstra, path_slots


@njit(cache=True)
def _ban_link(wk, link_slots, link):
    wk[link_slots[link, 0]] = np.inf
    wk[link_slots[link, 1]] = np.inf


@njit(cache=True)
def disjoint_paths(indptr, adj_node, slot_tail, adj_link, link_slots, w, src, dst, k, node_disjoint,
                   limit, out_slots, out_offsets, out_costs):
    """Up to ``k`` disjoint paths ``src → dst``. Path ``i`` is
    ``out_slots[out_offsets[i]:out_offsets[i + 1]]`` with cost ``out_costs[i]``;
    returns how many were found."""
    n = indptr.size - 1
    wk = w.copy()
    dist = np.empty(n)
    pred = np.empty(n, np.int32)
    pos = np.empty(n, np.int32)
    heap_node = np.empty(n, np.int32)
    heap_key = np.empty(n)
    order = np.empty(n, np.int32)
    buf = np.empty(n, np.int32)
    out_offsets[0] = 0
    found = 0
    for i in range(k):
        dijkstra(indptr, adj_node, wk, src, dst, limit, dist, pred, pos, heap_node, heap_key, order)
        if dist[dst] == np.inf:
            break
        hops = path_slots(pred, slot_tail, src, dst, buf)
        start = out_offsets[found]
        for h in range(hops):
            s = buf[h]
            out_slots[start + h] = s
            _ban_link(wk, link_slots, adj_link[s])
            if node_disjoint and h > 0:
                v = slot_tail[s]
                for t in range(indptr[v], indptr[v + 1]):
                    _ban_link(wk, link_slots, adj_link[t])
        out_costs[found] = dist[dst]
        found += 1
        out_offsets[found] = start + hops
    return found
