"""Per-slot edge weights for one (message size, priority): the cost formula of
``emcomm/router/cost.py`` compiled, filled in one pass over the links.

Owns only the weight arrays; a weight of +inf means "this message cannot use this slot"
(link or either end down, no rate, policy NEVER, too many fragments, slower than the
minimum rate asked for). Must stay equal to ``cost.link_cost`` (tests check it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NEVER = 2
_LAST_RESORT = 1


@njit(cache=True, inline="always")
def link_time_money(size_bytes, latency_s, rate_bps, mtu_bytes, min_interval_s, loss, cost_per_mb,
                    max_fragments):
    """``(time_s, money_cny)`` of one message over one link (scalars only, so it inlines);
    time is inf when the link cannot carry it (no rate, more than ``max_fragments > 0``)."""
    if rate_bps <= 0.0:
        return np.inf, 0.0
    fragments = (size_bytes + mtu_bytes - 1) // mtu_bytes
    if fragments < 1:
        fragments = 1
    if max_fragments > 0 and fragments > max_fragments:
        return np.inf, 0.0
    tx_s = size_bytes * 8 / rate_bps
    resends = loss / (1.0 - loss)
    time_s = (latency_s + tx_s + (fragments - 1) * min_interval_s
              + fragments * resends * (tx_s / fragments + max(min_interval_s, 2.0 * latency_s)))
    money = cost_per_mb * (size_bytes / 1_000_000) * (1.0 + resends)
    return time_s, money


@njit(cache=True)
def fill_weights(w, links, link_slots, size_bytes, priority, link_u, link_v, link_kind, link_up,
                 latency_s, rate_bps, mtu_bytes, min_interval_s, loss, cost_per_mb, node_up, use,
                 seconds_per_cny, max_fragments, penalty_s, min_rate_bps):
    """Write the weight of each link in ``links`` (indices; pass ``arange(L)`` for all)
    into both of its slots of ``w`` in place."""
    per_cny = seconds_per_cny[priority]
    for i in range(links.size):
        j = links[i]
        kind = link_kind[j]
        u = use[priority, kind]
        x = np.inf
        if (link_up[j] != 0 and u != _NEVER and node_up[link_u[j]] != 0 and node_up[link_v[j]] != 0
                and rate_bps[j] >= min_rate_bps):
            t, m = link_time_money(size_bytes, latency_s[j], rate_bps[j], mtu_bytes[j], min_interval_s[j],
                                   loss[j], cost_per_mb[j], max_fragments[kind])
            x = t + per_cny * m
            if u == _LAST_RESORT:
                x += penalty_s
        w[link_slots[j, 0]] = x
        w[link_slots[j, 1]] = x


@njit(cache=True)
def block_links(w, links, link_slots):
    """Set both slots of each link in ``links`` to +inf (a failure: no formula needed)."""
    for i in range(links.size):
        j = links[i]
        w[link_slots[j, 0]] = np.inf
        w[link_slots[j, 1]] = np.inf
