"""Generating many similar scenario elements: scattered node positions and nearest-k links.

This module owns the geometry behind ``[[node_groups]]`` (N sites scattered with a seed
in a circle or a box) and ``[[link_rules]]`` (each node to its k nearest nodes of
another role). Pure functions on numbers and arrays: it knows nothing about the TOML
schema and does no I/O. Randomness only from the explicit seed.

Example
-------
>>> lat, lon = scatter_circle(3, seed=1, center_lat_deg=34.75, center_lon_deg=113.62, radius_km=10.0)
>>> bool(all(distance_km(34.75, 113.62, la, lo) <= 10.0 for la, lo in zip(lat, lon)))
True
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# mean Earth radius, IUGG: 6,371.0088 km (Moritz, "Geodetic Reference System 1980")
EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEG_LAT = math.pi * EARTH_RADIUS_KM / 180.0


def distance_km(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle (haversine) distance.

    >>> round(distance_km(34.75, 113.62, 34.75, 113.62), 3)
    0.0
    >>> round(distance_km(0, 0, 1, 0), 1)
    111.2
    """
    return float(_haversine_km(np.array([lat1_deg]), np.array([lon1_deg]), lat2_deg, lon2_deg)[0])


def _haversine_km(lat_deg: np.ndarray, lon_deg: np.ndarray, lat0_deg: float, lon0_deg: float) -> np.ndarray:
    la, lo = np.radians(lat_deg), np.radians(lon_deg)
    la0, lo0 = math.radians(lat0_deg), math.radians(lon0_deg)
    h = np.sin((la - la0) / 2) ** 2 + np.cos(la) * math.cos(la0) * np.sin((lo - lo0) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def scatter_circle(
    count: int, seed: int, center_lat_deg: float, center_lon_deg: float, radius_km: float
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points uniformly spread over a disc (equal area per point on average).

    >>> lat, lon = scatter_circle(2, 7, 0.0, 0.0, 1.0)
    >>> lat.shape
    (2,)
    """
    rng = np.random.default_rng(seed)
    # sqrt of a uniform draw gives uniform density over the disc's area
    r_km = radius_km * np.sqrt(rng.random(count))
    theta = 2 * np.pi * rng.random(count)
    lat = center_lat_deg + (r_km * np.cos(theta)) / _KM_PER_DEG_LAT
    coslat = max(math.cos(math.radians(center_lat_deg)), 1e-6)
    lon = center_lon_deg + (r_km * np.sin(theta)) / (_KM_PER_DEG_LAT * coslat)
    # the flat approximation overshoots by a hair at the rim; pull such points inside
    d = _haversine_km(lat, lon, center_lat_deg, center_lon_deg)
    over = d > radius_km
    if over.any():
        shrink = radius_km / d[over] * (1 - 1e-9)
        lat[over] = center_lat_deg + (lat[over] - center_lat_deg) * shrink
        lon[over] = center_lon_deg + (lon[over] - center_lon_deg) * shrink
    return np.clip(lat, -90.0, 90.0), ((lon + 180.0) % 360.0) - 180.0


def scatter_box(
    count: int, seed: int, lat_min_deg: float, lon_min_deg: float, lat_max_deg: float, lon_max_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points uniform in latitude and longitude inside a box.

    >>> lat, lon = scatter_box(5, 3, 34.0, 113.0, 35.0, 114.0)
    >>> bool(((34 <= lat) & (lat <= 35)).all() and ((113 <= lon) & (lon <= 114)).all())
    True
    """
    rng = np.random.default_rng(seed)
    lat = lat_min_deg + (lat_max_deg - lat_min_deg) * rng.random(count)
    lon = lon_min_deg + (lon_max_deg - lon_min_deg) * rng.random(count)
    return lat, lon


def uniform_draws(count: int, seed: int, low: float, high: float, stream: int) -> np.ndarray:
    """``count`` reproducible uniform values in [low, high]; ``stream`` separates uses of one seed.

    >>> bool((uniform_draws(4, 1, 2.0, 4.0, stream=1) >= 2.0).all())
    True
    """
    if low == high:
        return np.full(count, float(low))
    rng = np.random.default_rng([seed, stream])
    return low + (high - low) * rng.random(count)


def nearest_pairs(
    from_lat_deg: Sequence[float], from_lon_deg: Sequence[float],
    to_lat_deg: Sequence[float], to_lon_deg: Sequence[float],
    k: int, max_km: float | None = None,
) -> list[tuple[int, int, float]]:
    """For each "from" point, its ``k`` nearest "to" points within ``max_km``: (i, j, km).

    Ties are broken by the lower index, so the answer is reproducible.

    >>> [(i, j, round(km)) for i, j, km in nearest_pairs([0.0], [0.0], [0.0, 0.0, 0.0], [3.0, 1.0, 2.0], k=2)]
    [(0, 1, 111), (0, 2, 222)]
    """
    to_lat = np.asarray(to_lat_deg, dtype=float)
    to_lon = np.asarray(to_lon_deg, dtype=float)
    if to_lat.size == 0:
        return []
    k = min(k, to_lat.size)
    out: list[tuple[int, int, float]] = []
    for i, (la, lo) in enumerate(zip(from_lat_deg, from_lon_deg)):
        d = _haversine_km(to_lat, to_lon, float(la), float(lo))
        order = np.lexsort((np.arange(d.size), d))[:k]
        for j in order:
            if max_km is None or d[j] <= max_km:
                out.append((i, int(j), float(d[j])))
    return out
