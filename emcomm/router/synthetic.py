"""Random topologies shaped like a disaster-area mesh, for tests, benchmarks and demos.

Owns only the generator: sites scattered over a 1° × 1° area joined to their k nearest
neighbours by fibre, cellular and radio links (some pairs also share a second, parallel
radio link), satellite hubs (HTS, LEO, Tiantong, UAV) each reaching a share of the sites,
and a Beidou short-message centre reaching another share. Figures come from the link
profiles (``emcomm/links/profiles.py``) with continuous random variation (distance
latency, remaining capacity) so that equal-cost ties are unlikely. It routes nothing.

Example
-------
>>> G = random_topology(50, seed=1)
>>> G.number_of_nodes()
55
>>> sorted({d["kind"] for *_, d in G.edges(keys=True, data=True)})[:3]
['beidou', 'cellular', 'fibre']
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from numba import njit

from emcomm.errors import UsageError
from emcomm.links.profiles import LinkKind, default_profile
from emcomm.router import attrs

KM_PER_DEG = 111.2            # one degree of latitude ≈ 111.2 km (mean Earth radius 6,371 km)
FIBRE_S_PER_KM = 5e-6         # light in fibre ≈ 2×10^8 m/s → 5 µs per km
_TERRESTRIAL = (LinkKind.FIBRE, LinkKind.CELLULAR, LinkKind.RADIO)
_TERRESTRIAL_P = (0.3, 0.5, 0.2)
_HUB_KINDS = (LinkKind.HTS, LinkKind.LEO, LinkKind.TIANTONG, LinkKind.UAV)


@njit(cache=True)
def knn_pairs(x, y, k):
    """Pairs ``(i, j)``, ``i < j``, joining each point to (about) its k nearest neighbours
    among the points of the surrounding grid cells (unit square coordinates)."""
    n = x.size
    cells = max(1, int(np.sqrt(n / max(1.0, k / 2.0))))
    cx = np.minimum((x * cells).astype(np.int64), cells - 1)
    cy = np.minimum((y * cells).astype(np.int64), cells - 1)
    cell = cy * cells + cx
    order = np.argsort(cell)
    start = np.searchsorted(cell[order], np.arange(cells * cells + 1))
    out_i = np.empty(n * k, np.int64)
    out_j = np.empty(n * k, np.int64)
    m = 0
    cand = np.empty(n, np.int64)
    for i in range(n):
        r = 1
        while True:
            nc = 0
            for gy in range(max(0, cy[i] - r), min(cells, cy[i] + r + 1)):
                for gx in range(max(0, cx[i] - r), min(cells, cx[i] + r + 1)):
                    c = gy * cells + gx
                    for t in range(start[c], start[c + 1]):
                        j = order[t]
                        if j != i:
                            cand[nc] = j
                            nc += 1
            if nc >= k or nc >= n - 1:
                break
            r += 1
        d = np.empty(nc)
        for t in range(nc):
            j = cand[t]
            d[t] = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
        best = np.argsort(d)[:k]
        for t in best:
            j = cand[t]
            out_i[m] = min(i, j)
            out_j[m] = max(i, j)
            m += 1
    return out_i[:m], out_j[:m]


def _link(kind: LinkKind, latency_s: float, capacity: float) -> dict:
    p = default_profile(kind)
    return {
        attrs.EDGE_KIND: kind.value, attrs.EDGE_UP: True,
        attrs.EDGE_LATENCY_S: latency_s, attrs.EDGE_RATE_BPS: p.rate_bps * capacity,
        attrs.EDGE_MTU_BYTES: p.mtu_bytes, attrs.EDGE_MIN_INTERVAL_S: p.min_interval_s,
        attrs.EDGE_LOSS: p.loss, attrs.EDGE_COST_PER_MB: p.cost_per_mb_cny,
        attrs.EDGE_CAPACITY_FACTOR: capacity,
    }


def random_topology(
    n_sites: int, *, seed: int = 0, k: int = 6, hubs: int = 4, hub_share: float = 0.05,
    beidou_share: float = 0.05, parallel_share: float = 0.1,
    lat0_deg: float = 34.3, lon0_deg: float = 113.2,
) -> nx.MultiGraph:
    """A random mesh of ``n_sites`` sites plus ``hubs`` satellite hubs and one Beidou centre.

    Node ids are ``"s000001"``…, ``"hub-0"``…, ``"beidou-centre"``; link ids are
    ``"<kind>-<n>"``. The default area is around Zhengzhou.
    """
    if n_sites < 2 or k < 1 or hubs < 0:
        raise UsageError(f"need n_sites ≥ 2, k ≥ 1, hubs ≥ 0; got {n_sites}, {k}, {hubs}")
    rng = np.random.default_rng(seed)
    x, y = rng.random(n_sites), rng.random(n_sites)
    width = len(str(n_sites - 1))
    names = [f"s{i:0{width}d}" for i in range(n_sites)]
    G = nx.MultiGraph()
    G.add_nodes_from(
        (names[i], {attrs.NODE_LAT: lat0_deg + float(y[i]), attrs.NODE_LON: lon0_deg + float(x[i]),
                    attrs.NODE_UP: True, attrs.NODE_ROLE: "relay"})
        for i in range(n_sites)
    )
    pi, pj = knn_pairs(x, y, min(k, n_sites - 1))
    pairs = np.unique(pi * n_sites + pj)
    pi, pj = pairs // n_sites, pairs % n_sites
    dist_km = np.hypot(x[pi] - x[pj], y[pi] - y[pj]) * KM_PER_DEG
    kinds = rng.choice(len(_TERRESTRIAL), size=pairs.size, p=_TERRESTRIAL_P)
    capacity = rng.uniform(0.3, 1.0, pairs.size)
    edges = []
    for e in range(pairs.size):
        kind = _TERRESTRIAL[kinds[e]]
        lat = default_profile(kind).latency_s + float(dist_km[e]) * FIBRE_S_PER_KM
        edges.append((names[pi[e]], names[pj[e]], f"{kind.value}-{e}", _link(kind, lat, float(capacity[e]))))
    extra = np.flatnonzero(rng.random(pairs.size) < parallel_share)
    for e in extra:
        lat = default_profile(LinkKind.RADIO).latency_s + float(dist_km[e]) * FIBRE_S_PER_KM * 1.5
        edges.append((names[pi[e]], names[pj[e]], f"radio-p{e}", _link(LinkKind.RADIO, lat, float(rng.uniform(0.3, 1.0)))))
    for h in range(hubs):
        kind = _HUB_KINDS[h % len(_HUB_KINDS)]
        hub = f"hub-{h}"
        G.add_node(hub, **{attrs.NODE_UP: True, attrs.NODE_ROLE: "hub"})
        reach = rng.choice(n_sites, size=max(1, int(hub_share * n_sites)), replace=False)
        jitter = rng.uniform(0.0, 0.01, reach.size)
        edges += [(names[s], hub, f"{kind.value}-h{h}-{t}",
                   _link(kind, default_profile(kind).latency_s + float(jitter[t]), float(rng.uniform(0.5, 1.0))))
                  for t, s in enumerate(reach)]
        if h:   # hubs meet at ground gateways over fibre
            edges.append((f"hub-{h - 1}", hub, f"fibre-hub{h}", _link(LinkKind.FIBRE, 0.01 + 0.001 * h, 1.0)))
    G.add_node("beidou-centre", **{attrs.NODE_UP: True, attrs.NODE_ROLE: "command"})
    reach = rng.choice(n_sites, size=max(1, int(beidou_share * n_sites)), replace=False)
    jitter = rng.uniform(0.0, 0.2, reach.size)
    edges += [(names[s], "beidou-centre", f"beidou-{t}",
               _link(LinkKind.BEIDOU_RDSS, default_profile(LinkKind.BEIDOU_RDSS).latency_s + float(jitter[t]), 1.0))
              for t, s in enumerate(reach)]
    G.add_edges_from(edges)
    return G
