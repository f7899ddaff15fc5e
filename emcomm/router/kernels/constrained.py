"""Hop-limited shortest path (at most ``max_hops`` links, optionally under a cost
ceiling): a Bellman–Ford over hop layers, exact for any non-negative weights.

Owns only this algorithm. Layer ``h`` holds the best cost with at most ``h`` hops;
``pred[h, v]`` is the slot that improved ``v`` in layer ``h`` (-1: same as layer h − 1).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def hop_limited(indptr, adj_node, slot_tail, w, src, dst, max_hops, limit, out_slots):
    """Best path ``src → dst`` with at most ``max_hops`` links and cost ≤ ``limit``.

    Writes its slots to ``out_slots`` in travel order; returns ``(hops, cost)``, hops = -1
    when none exists."""
    n = indptr.size - 1
    prev = np.full(n, np.inf)
    cur = np.empty(n)
    pred = np.full((max_hops + 1, n), -1, np.int32)
    prev[src] = 0.0
    for h in range(1, max_hops + 1):
        cur[:] = prev
        changed = False
        for u in range(n):
            du = prev[u]
            if du == np.inf:
                continue
            for s in range(indptr[u], indptr[u + 1]):
                v = adj_node[s]
                nd = du + w[s]
                if nd < cur[v] and nd <= limit:
                    cur[v] = nd
                    pred[h, v] = s
                    changed = True
        prev, cur = cur, prev
        if not changed:
            break
    if prev[dst] == np.inf:
        return -1, np.inf
    cost = prev[dst]
    n_hops = 0
    v = dst
    h = max_hops
    while v != src:
        s = pred[h, v]
        h -= 1
        if s < 0:
            continue
        out_slots[n_hops] = s
        n_hops += 1
        v = slot_tail[s]
    out_slots[:n_hops] = out_slots[:n_hops][::-1].copy()
    return n_hops, cost
