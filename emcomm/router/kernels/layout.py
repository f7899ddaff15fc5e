"""Node order for a cache-friendly CSR: breadth-first over the mesh, so that neighbours
get nearby indices and Dijkstra's scattered reads of ``dist``/``pos`` hit the same cache
lines. Owns only the ordering.

Nodes of very high degree (satellite hubs, a Beidou centre) are numbered when reached
but not expanded: expanding them would interleave far-apart parts of the mesh.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def bfs_order(indptr, adj_node, hub_degree):
    """A permutation ``order[new] = old`` visiting every component breadth-first."""
    n = indptr.size - 1
    seen = np.zeros(n, np.uint8)
    order = np.empty(n, np.int64)
    head = 0
    tail = 0
    for root in range(n):
        if seen[root]:
            continue
        seen[root] = 1
        order[tail] = root
        tail += 1
        while head < tail:
            u = order[head]
            head += 1
            if indptr[u + 1] - indptr[u] > hub_degree and u != root:
                continue
            for s in range(indptr[u], indptr[u + 1]):
                v = adj_node[s]
                if not seen[v]:
                    seen[v] = 1
                    order[tail] = v
                    tail += 1
    return order
