"""Per-slot edge weights for one (message size, priority): the cost formula of
``emcomm/router/cost.py`` compiled, filled in one pass over the links.

Owns only the weight arrays; a weight of +inf means "this message cannot use this slot"
(link or either end down, no rate, policy NEVER, too many fragments). Must stay equal to
``cost.link_cost`` (a differential test checks it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NEVER = 2
_LAST_RESORT = 1


@njit(cache=True)
def link_time_money(size_bytes, kind, latency_s, rate_bps, mtu_bytes, min_interval_s, loss,
                    cost_per_mb, max_fragments):
    """``(time_s, money_cny)`` of one message over one link; time is inf if it cannot carry it."""
    if rate_bps <= 0.0:
        return np.inf, 0.0
    fragments = (size_bytes + mtu_bytes - 1) // mtu_bytes
    if fragments < 1:
        fragments = 1
    mf = max_fragments[kind]
    if mf > 0 and fragments > mf:
        return np.inf, 0.0
    tx_s = size_bytes * 8 / rate_bps
    resends = loss / (1.0 - loss)
    time_s = (latency_s + tx_s + (fragments - 1) * min_interval_s
              + fragments * resends * (tx_s / fragments + max(min_interval_s, 2.0 * latency_s)))
    money = cost_per_mb * (size_bytes / 1_000_000) * (1.0 + resends)
    return time_s, money


@njit(cache=True)
def _link_weight(j, size_bytes, priority, link_u, link_v, link_kind, link_up, latency_s, rate_bps,
                 mtu_bytes, min_interval_s, loss, cost_per_mb, node_up, use, seconds_per_cny,
                 max_fragments, penalty_s, min_rate_bps):
    kind = link_kind[j]
    u = use[priority, kind]
    if (link_up[j] == 0 or u == _NEVER or node_up[link_u[j]] == 0 or node_up[link_v[j]] == 0
            or rate_bps[j] < min_rate_bps):
        return np.inf
    t, m = link_time_money(size_bytes, kind, latency_s[j], rate_bps[j], mtu_bytes[j],
                           min_interval_s[j], loss[j], cost_per_mb[j], max_fragments)
    w = t + seconds_per_cny[priority] * m
    if u == _LAST_RESORT:
        w += penalty_s
    return w


@njit(cache=True)
def fill_weights(w, links, link_slots, size_bytes, priority, link_u, link_v, link_kind, link_up,
                 latency_s, rate_bps, mtu_bytes, min_interval_s, loss, cost_per_mb, node_up, use,
                 seconds_per_cny, max_fragments, penalty_s, min_rate_bps):
    """Write the weight of each link in ``links`` (indices; pass ``arange(L)`` for all)
    into both of its slots of ``w`` in place."""
    for i in range(links.size):
        j = links[i]
        x = _link_weight(j, size_bytes, priority, link_u, link_v, link_kind, link_up, latency_s,
                         rate_bps, mtu_bytes, min_interval_s, loss, cost_per_mb, node_up, use,
                         seconds_per_cny, max_fragments, penalty_s, min_rate_bps)
        w[link_slots[j, 0]] = x
        w[link_slots[j, 1]] = x
