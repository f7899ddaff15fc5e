"""All-pairs next-hop table: one Dijkstra per source, sources spread over the cores
(``prange``). Owns only this table computation."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from emcomm.router.kernels.dijkstra import dijkstra, first_hops


@njit(cache=True, parallel=True)
def next_hop_table(indptr, adj_node, slot_tail, w, chunks, out):
    """``out[s, t]`` = first slot out of ``s`` on a best path to ``t`` (-1: none, or s == t).

    Sources are dealt round-robin to ``chunks`` chunks (a few per thread, for balance);
    each chunk allocates its work arrays once."""
    n = indptr.size - 1
    for c in prange(chunks):
        dist = np.empty(n, np.float64)
        pred = np.empty(n, np.int32)
        pos = np.empty(n, np.int32)
        heap_node = np.empty(n, np.int32)
        heap_key = np.empty(n, np.float64)
        order = np.empty(n, np.int32)
        for s in range(c, n, chunks):
            n_done = dijkstra(indptr, adj_node, w, s, -1, np.inf, dist, pred, pos, heap_node, heap_key, order)
            first_hops(order, n_done, pred, slot_tail, s, out[s])
