"""Heap Dijkstra (indexed 4-ary heap, ``heap.py``) over the CSR slots: shortest-path
tree, single pair with early exit, and a cost ceiling; first hops and paths from a tree.

Owns only these array algorithms. Work arrays are handed in (and reused across calls)
so a call allocates nothing. ``pred[v]`` is the *slot* used to reach ``v`` (-1 = none);
the slot names the link (``adj_link``) and the previous node (``slot_tail``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from emcomm.router.kernels.heap import pop, push_or_decrease


@njit(cache=True)
def dijkstra(indptr, adj_node, w, src, dst, limit, dist, pred, pos, heap_node, heap_key, order):
    """Settle nodes from ``src`` in order of cost; stop at ``dst`` (if ≥ 0) and never
    go beyond cost ``limit``. Returns the number of settled nodes (listed in ``order``).

    Nodes not settled keep ``dist = inf`` unless reached tentatively (only possible with an
    early exit at ``dst``)."""
    dist[:] = np.inf
    pred[:] = -1
    pos[:] = -1
    dist[src] = 0.0
    size = push_or_decrease(heap_node, heap_key, pos, 0, src, 0.0)
    n_done = 0
    while size > 0:
        u, du, size = pop(heap_node, heap_key, pos, size)
        order[n_done] = u
        n_done += 1
        if u == dst:
            break
        for s in range(indptr[u], indptr[u + 1]):
            v = adj_node[s]
            nd = du + w[s]
            if nd < dist[v] and nd <= limit:
                dist[v] = nd
                pred[v] = s
                size = push_or_decrease(heap_node, heap_key, pos, size, v, nd)
    return n_done


@njit(cache=True)
def first_hops(order, n_done, pred, slot_tail, src, first):
    """``first[v]`` = the first slot out of ``src`` on the tree path to ``v`` (-1 if none).

    Nodes are visited in settle order, so a node's parent is done before it."""
    first[:] = -1
    for i in range(n_done):
        v = order[i]
        p = pred[v]
        if p < 0:
            continue
        u = slot_tail[p]
        first[v] = p if u == src else first[u]


@njit(cache=True)
def path_slots(pred, slot_tail, src, dst, out):
    """Slots of the tree path ``src → dst`` written to ``out`` in travel order; returns the
    hop count, or -1 when ``dst`` was not reached."""
    n = 0
    v = dst
    while v != src:
        p = pred[v]
        if p < 0:
            return -1
        out[n] = p
        n += 1
        v = slot_tail[p]
    out[:n] = out[:n][::-1].copy()
    return n
