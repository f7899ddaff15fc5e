"""Map overlays of a scenario's hazards at one moment, in the situation dict shape the map draws.

Owns how each hazard kind is drawn on the replay map: a flood's inundation zones under water
(circle, centre depth), a typhoon's radius of maximum wind (circle, wind and pressure), a fire's
perimeter (polygon, burnt area) and an earthquake's epicentres (points) with the intensity
rings of each shock that has happened (polygons, Chinese intensity scale). It reads the hazard
models' own answers and computes nothing they do not; it writes no files and reads no clock.
Intensity rings do not change once a shock has happened, so ``HazardOverlays`` computes each
one once.

Example
-------
>>> from emcomm.hazards.fire import Fire
>>> views = HazardOverlays().views([("fire", "test fire", Fire(30.0, 102.0, head_rate_m_s=1.0))], 600.0)
>>> views[0]["shapes"][0]["shape"], views[0]["shapes"][0]["label"]
('polygon', 'burnt 1.1 km²')
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from emcomm.hazards._geo import EARTH_RADIUS_KM
from emcomm.hazards.earthquake import Earthquake, Shock
from emcomm.hazards.fire import Fire
from emcomm.hazards.flood import Flood

RING_LEVELS = (6, 8, 10)          # intensities drawn as rings: VI (slight damage), VIII, X (destructive)
RING_BEARINGS = 36                # points per ring
RING_MAX_KM = 1500.0              # farther than any modelled intensity-VI radius (M 9)
PERIMETER_POINTS = 48
ROMAN = {6: "VI", 7: "VII", 8: "VIII", 9: "IX", 10: "X", 11: "XI", 12: "XII"}


def _destination(lat_deg: float, lon_deg: float, east_km: float, north_km: float) -> tuple[float, float]:
    # inverse of emcomm.hazards._geo.offset_km on the same local tangent plane
    k = 180.0 / (math.pi * EARTH_RADIUS_KM)
    lat = lat_deg + north_km * k
    return lat, lon_deg + east_km * k / max(math.cos(math.radians((lat + lat_deg) / 2)), 1e-6)


def intensity_ring(quake: Earthquake, shock: Shock, level: float,
                   bearings: int = RING_BEARINGS) -> list[tuple[float, float]]:
    """Where one shock's modelled intensity falls to ``level``, as (lat, lon) points; [] if it never
    reaches it. Found by bisection along each bearing (intensity falls with distance on a ray).

    >>> from emcomm.hazards.earthquake import Earthquake
    >>> q = Earthquake.from_params({"lat_deg": 31.0, "lon_deg": 103.32, "magnitude": 7.9, "depth_km": 19})
    >>> len(intensity_ring(q, q.shocks[0], 8)), intensity_ring(q, q.shocks[0], 13)
    (36, [])
    """
    if quake.shock_intensity(shock, shock.lat_deg, shock.lon_deg) < level:
        return []
    ring = []
    for i in range(bearings):
        th = 2 * math.pi * i / bearings
        se, ce = math.sin(th), math.cos(th)
        lo, hi = 0.0, RING_MAX_KM
        for _ in range(24):      # 1,500 km / 2^24: well under a metre
            mid = (lo + hi) / 2
            lat, lon = _destination(shock.lat_deg, shock.lon_deg, mid * se, mid * ce)
            lo, hi = (mid, hi) if quake.shock_intensity(shock, lat, lon) >= level else (lo, mid)
        ring.append(_destination(shock.lat_deg, shock.lon_deg, lo * se, lo * ce))
    return ring


class HazardOverlays:
    """Overlays of hazards at a time, remembering each shock's rings (they never change)."""

    def __init__(self) -> None:
        self._rings: dict[tuple[int, int], list[dict[str, Any]]] = {}

    def views(self, hazards: Iterable[tuple[str, str, Any]], t_s: float) -> list[dict[str, Any]]:
        """One overlay per hazard with something to draw at ``t_s``, from ``(kind, name, model)``."""
        out: list[dict[str, Any]] = []
        for kind, name, model in hazards:
            if isinstance(model, Flood):
                shapes = _flood(model, t_s)
            elif isinstance(model, Fire):
                shapes = _fire(model, t_s)
            elif isinstance(model, Earthquake):
                shapes = self._quake(model, t_s)
            elif callable(getattr(model, "state", None)):
                shapes = _typhoon(model, t_s)
            else:
                shapes = []
            if shapes:
                out.append({"hazard": kind, "name": name, "shapes": shapes})
        return out

    def _quake(self, quake: Earthquake, t_s: float) -> list[dict[str, Any]]:
        shapes: list[dict[str, Any]] = []
        for k, shock in enumerate(quake.shocks):
            if shock.t_s > t_s:
                continue
            key = (id(quake), k)
            if key not in self._rings:
                rings = []
                for level in RING_LEVELS:
                    ring = intensity_ring(quake, shock, level)
                    if ring:
                        rings.append({"shape": "polygon", "coords": [list(p) for p in ring],
                                      "label": f"intensity {ROMAN[level]} (M{shock.magnitude:g})", "value": level})
                self._rings[key] = rings
            shapes.extend(self._rings[key])
            shapes.append({"shape": "point", "coords": [[shock.lat_deg, shock.lon_deg]],
                           "label": f"M{shock.magnitude:g} epicentre, {shock.depth_km:g} km deep",
                           "value": shock.magnitude})
        return shapes


def _flood(flood: Flood, t_s: float) -> list[dict[str, Any]]:
    shapes = []
    for z in flood.zones:
        depth = round(z.depth_at(z.lat_deg, z.lon_deg, t_s), 1)
        if depth > 0.0:
            shapes.append({"shape": "circle", "coords": [[z.lat_deg, z.lon_deg]],
                           "radius_m": 1000.0 * z.radius_km, "label": f"water {depth:.1f} m at the centre",
                           "value": depth})
    return shapes


def _fire(fire: Fire, t_s: float) -> list[dict[str, Any]]:
    ring = fire.perimeter_lat_lon(t_s, PERIMETER_POINTS)
    if not ring:
        return []
    area = fire.area_km2(t_s)
    return [{"shape": "polygon", "coords": [list(p) for p in ring], "label": f"burnt {area:.1f} km²",
             "value": round(area, 2)}]


def _typhoon(model: Any, t_s: float) -> list[dict[str, Any]]:
    st = model.state(t_s)
    if st is None or not hasattr(st, "rmw_km"):
        return []
    return [{"shape": "circle", "coords": [[st.lat_deg, st.lon_deg]], "radius_m": 1000.0 * st.rmw_km,
             "label": f"{st.max_wind_m_s:.0f} m/s, {st.pressure_hpa:.0f} hPa", "value": st.max_wind_m_s}]
