"""Small-distance geometry for hazard footprints: great-circle distance and local east/north offsets.

Owns only spherical geometry on a mean Earth radius; no hazard logic.
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius (Moritz 2000, Geodetic Reference System 1980)


def distance_km(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle (haversine) distance in km.

    >>> round(distance_km(34.75, 113.62, 34.75, 113.62), 3)
    0.0
    """
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp = p2 - p1
    dl = math.radians(lon2_deg - lon1_deg)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def offset_km(lat0_deg: float, lon0_deg: float, lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """(east_km, north_km) of a point from an origin on a local tangent plane (fine below ~500 km).

    >>> e, n = offset_km(0.0, 0.0, 1.0, 0.0); round(n, 1), round(e, 1)
    (111.2, 0.0)
    """
    dlon = (lon_deg - lon0_deg + 180.0) % 360.0 - 180.0
    north = math.radians(lat_deg - lat0_deg) * EARTH_RADIUS_KM
    east = math.radians(dlon) * EARTH_RADIUS_KM * math.cos(math.radians((lat_deg + lat0_deg) / 2))
    return east, north


def midpoint(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> tuple[float, float]:
    """Plain average midpoint (fine for the short links hazards act on)."""
    dlon = (lon2_deg - lon1_deg + 180.0) % 360.0 - 180.0
    return (lat1_deg + lat2_deg) / 2, lon1_deg + dlon / 2
