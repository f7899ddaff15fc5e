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


@njit(cache=True)
def build_csr(link_u, link_v, n):
    """CSR of an undirected link list by counting sort (O(n + L)): both directions of
    every link, grouped by tail node, in link order within a node.

    Returns ``(indptr, adj_node, adj_link, slot_tail, link_slots)``."""
    n_links = link_u.size
    indptr = np.zeros(n + 1, np.int64)
    for j in range(n_links):
        indptr[link_u[j] + 1] += 1
        indptr[link_v[j] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    adj_node = np.empty(2 * n_links, np.int32)
    adj_link = np.empty(2 * n_links, np.int32)
    slot_tail = np.empty(2 * n_links, np.int32)
    link_slots = np.empty((n_links, 2), np.int32)
    for j in range(n_links):
        u = link_u[j]
        v = link_v[j]
        s = fill[u]
        fill[u] += 1
        adj_node[s] = v
        adj_link[s] = j
        slot_tail[s] = u
        link_slots[j, 0] = s
        s = fill[v]
        fill[v] += 1
        adj_node[s] = u
        adj_link[s] = j
        slot_tail[s] = v
        link_slots[j, 1] = s
    return indptr, adj_node, adj_link, slot_tail, link_slots
