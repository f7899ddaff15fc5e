"""Earliest arrival over a contact plan (links that exist only in time windows: LEO
passes, Beidou send slots, scheduled UAV flights), in the style of DTN contact graph
routing.

Owns only the search. Contacts are directed and grouped by sender (``c_indptr``). A
message of ``size_bits`` leaving node u at time t may use contact c when
``dep = max(t, start_c)`` and ``dep + size_bits / rate_c ≤ end_c``; it arrives at
``dep + size_bits / rate_c + latency_c``. Arrival is non-decreasing in t (waiting never
helps you arrive earlier), so a Dijkstra on arrival times is exact.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from emcomm.router.kernels.heap import pop, push_or_decrease


@njit(cache=True)
def earliest_arrival(c_indptr, c_to, c_start, c_end, c_latency, c_rate, c_ok, src, dst, t0_s, size_bits,
                     arrive, pred):
    """Earliest arrival time at every node (or until ``dst`` is settled when ``dst ≥ 0``).

    ``pred[v]`` is the contact used to reach ``v`` (-1: none). Returns arrival at ``dst``
    (inf when unreachable; the whole tree when ``dst < 0``)."""
    n = c_indptr.size - 1
    pos = np.full(n, -1, np.int32)
    heap_node = np.empty(n, np.int32)
    heap_key = np.empty(n)
    arrive[:] = np.inf
    pred[:] = -1
    arrive[src] = t0_s
    size = push_or_decrease(heap_node, heap_key, pos, 0, src, t0_s)
    while size > 0:
        u, tu, size = pop(heap_node, heap_key, pos, size)
        if u == dst:
            break
        for c in range(c_indptr[u], c_indptr[u + 1]):
            if c_ok[c] == 0 or c_end[c] <= tu:
                continue
            dep = max(tu, c_start[c])
            done = dep + size_bits / c_rate[c]
            if done > c_end[c]:
                continue
            a = done + c_latency[c]
            v = c_to[c]
            if a < arrive[v]:
                arrive[v] = a
                pred[v] = c
                size = push_or_decrease(heap_node, heap_key, pos, size, v, a)
    return arrive[dst] if dst >= 0 else 0.0
