"""Fire hazard: an elliptical, wind-driven perimeter growing from an ignition point.

Owns the fire's perimeter over time, whether a point is inside it, and its damage:
inside the perimeter equipment is burnt; within ``mains_buffer_km`` of it mains is cut
(lines de-energised or burnt near the front). Smoke attenuation of radio links is minor
and not modelled. Deterministic: a fire draws no random numbers. Reads no clock.

Shape: the fire is an ellipse with the ignition point at its rear focus, growing at
constant rates while not contained (Anderson, "Predicting wind-driven wild land fire size
and shape", USDA Forest Service Research Paper INT-305, 1983; Alexander, "Estimating the
length-to-breadth ratio of elliptical forest fire patterns", 1985):
- length-to-breadth ratio from the mid-flame wind speed U (m/s):
  ``LB = 0.936 e^(0.2566 U) + 0.461 e^(-0.1548 U) - 0.397``, capped at 8 — Anderson's (1983)
  relation as written for m/s in FARSITE (Finney, "FARSITE: Fire Area Simulator — model
  development and evaluation", USDA Forest Service RMRS-RP-4, 1998);
- head/back ratio ``HB = (LB + √(LB²-1)) / (LB - √(LB²-1))``;
- head fire advances at ``head_rate_m_s``, the back at ``head_rate_m_s / HB``.

Example
-------
>>> f = Fire.from_params({"lat_deg": 30.0, "lon_deg": 102.0, "head_rate_m_s": 0.5,
...                       "wind_speed_m_s": 5.0, "spread_toward_deg": 90.0})
>>> f.conditions(30.0, 102.0 + 0.8 / 96.3, 1800.0).in_fire   # 0.8 km downwind after 30 min
True
>>> f.conditions(30.0, 102.0 - 0.8 / 96.3, 1800.0).in_fire   # 0.8 km upwind
False
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from emcomm.hazards._geo import offset_km
from emcomm.hazards._params import Params
from emcomm.hazards.base import Conditions, Damage, Site
from emcomm.hazards.onset import NEVER, Onset

MAX_LENGTH_TO_BREADTH = 8.0
# Assumption: grid operators de-energise (or lose) lines within about a kilometre of an active
# front; scenarios set their own buffer.
DEFAULT_MAINS_BUFFER_KM = 1.0


def length_to_breadth(wind_m_s: float) -> float:
    """Anderson (1983) length-to-breadth ratio of a wind-driven fire ellipse (1 in calm air).

    >>> length_to_breadth(0.0)
    1.0
    >>> round(length_to_breadth(5.0), 2)
    3.19
    """
    u = max(wind_m_s, 0.0)
    lb = 0.936 * math.exp(0.2566 * u) + 0.461 * math.exp(-0.1548 * u) - 0.397
    return min(max(lb, 1.0), MAX_LENGTH_TO_BREADTH)


@dataclasses.dataclass(frozen=True)
class Fire:
    """A fire ignited at (lat, lon) at ``ignition_s``, growing until ``contained_s`` (None: never)."""

    lat_deg: float
    lon_deg: float
    head_rate_m_s: float
    wind_speed_m_s: float = 0.0
    spread_toward_deg: float = 0.0      # direction the head runs to, degrees clockwise from north
    ignition_s: float = 0.0
    contained_s: float | None = None
    mains_buffer_km: float = DEFAULT_MAINS_BUFFER_KM
    name: str = "fire"

    # ellipse per second of growth: semi-axes and centre offset ahead of the ignition point (km/s)
    def _unit(self) -> tuple[float, float, float]:
        lb = length_to_breadth(self.wind_speed_m_s)
        root = math.sqrt(max(lb * lb - 1.0, 0.0))
        hb = (lb + root) / (lb - root)
        head = self.head_rate_m_s / 1000.0
        back = head / hb
        a = (head + back) / 2
        return a, a / lb, (head - back) / 2

    def growth_s(self, t_s: float) -> float:
        """Seconds of growth by ``t_s`` (0 before ignition, frozen once contained)."""
        end = t_s if self.contained_s is None else min(t_s, self.contained_s)
        return max(0.0, end - self.ignition_s)

    def _local(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        east, north = offset_km(self.lat_deg, self.lon_deg, lat_deg, lon_deg)
        th = math.radians(self.spread_toward_deg)
        along = east * math.sin(th) + north * math.cos(th)
        across = east * math.cos(th) - north * math.sin(th)
        return along, across

    def _inside(self, x: float, y: float, tau: float, buffer_km: float = 0.0) -> bool:
        a, b, c = self._unit()
        if tau <= 0:
            return math.hypot(x, y) <= buffer_km and buffer_km > 0
        aa, bb = a * tau + buffer_km, b * tau + buffer_km
        return ((x - c * tau) / aa) ** 2 + (y / bb) ** 2 <= 1.0

    def area_km2(self, t_s: float) -> float:
        """Burnt area at ``t_s`` (π a b).

        >>> Fire(0, 0, head_rate_m_s=1.0).area_km2(0.0)
        0.0
        """
        a, b, _ = self._unit()
        tau = self.growth_s(t_s)
        return math.pi * a * b * tau * tau

    def perimeter_lat_lon(self, t_s: float, n: int = 72) -> list[tuple[float, float]]:
        """The perimeter at ``t_s`` as ``n`` (lat, lon) points (for maps); empty before ignition."""
        a, b, c = self._unit()
        tau = self.growth_s(t_s)
        if tau <= 0:
            return []
        th = math.radians(self.spread_toward_deg)
        k_lat = 1 / 111.195
        k_lon = k_lat / max(math.cos(math.radians(self.lat_deg)), 1e-6)
        pts = []
        for i in range(n):
            phi = 2 * math.pi * i / n
            along, across = c * tau + a * tau * math.cos(phi), b * tau * math.sin(phi)
            east = along * math.sin(th) + across * math.cos(th)
            north = along * math.cos(th) - across * math.sin(th)
            pts.append((self.lat_deg + north * k_lat, self.lon_deg + east * k_lon))
        return pts

    def conditions(self, lat_deg: float, lon_deg: float, t_s: float) -> Conditions:
        """``in_fire`` inside the perimeter; nothing else (the fire's wind is the weather's)."""
        x, y = self._local(lat_deg, lon_deg)
        return Conditions(in_fire=self._inside(x, y, self.growth_s(t_s)))

    def _reach_s(self, x: float, y: float) -> float | None:
        # Smallest growth time τ with the point inside: (u x − c)²/a² + u² y²/b² = 1, u = 1/τ.
        a, b, c = self._unit()
        qa = x * x / (a * a) + y * y / (b * b)
        if qa == 0:
            return 0.0
        qb = -2 * x * c / (a * a)
        qc = c * c / (a * a) - 1.0          # < 0: the ignition point is inside
        u = (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
        return 1.0 / u

    def _growth_end(self) -> float:
        return math.inf if self.contained_s is None else max(0.0, self.contained_s - self.ignition_s)

    def onset(self, site: Site, seed: int, equipment: str = "site") -> Onset:
        """When the perimeter reaches the site (burnt) and comes within the mains buffer."""
        del seed, equipment  # deterministic; everything inside burns
        x, y = self._local(site.lat_deg, site.lon_deg)
        end = self._growth_end()
        tau = self._reach_s(x, y)
        burnt = self.ignition_s + tau if tau is not None and tau <= end else None
        mains = None
        if self.mains_buffer_km > 0:
            if self._inside(x, y, 0.0, self.mains_buffer_km):
                mains = self.ignition_s
            else:
                hi = burnt - self.ignition_s if burnt is not None else (end if math.isfinite(end) else None)
                if hi is None:   # never contained and never reached: search far enough
                    hi = 1.0
                    while not self._inside(x, y, hi, self.mains_buffer_km) and hi < 1e9:
                        hi *= 2
                if self._inside(x, y, hi, self.mains_buffer_km):
                    lo = 0.0
                    while hi - lo > 0.5:
                        mid = (lo + hi) / 2
                        lo, hi = (lo, mid) if self._inside(x, y, mid, self.mains_buffer_km) else (mid, hi)
                    mains = self.ignition_s + hi
        if burnt is None and mains is None:
            return NEVER
        reason = (f"{self.name}: inside the fire perimeter" if burnt is not None
                  else f"{self.name}: mains cut within {self.mains_buffer_km:g} km of the fire")
        return Onset(burnt, mains, reason)

    def damage(self, site: Site, t_s: float, seed: int) -> Damage:
        """Burnt inside the perimeter; mains lost near it. Monotone in time."""
        return self.onset(site, seed).damage_at(t_s)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], prefix: str = "") -> "Fire":
        """Build from a scenario table. Parameters (times in seconds from scenario start):

        - ``lat_deg``, ``lon_deg``: ignition point;
        - ``head_rate_m_s`` (> 0, ≤ 10): head-fire rate of spread (grass fires run 0.1–3 m/s);
        - ``wind_speed_m_s`` (default 0, ≤ 60): mid-flame wind, shapes the ellipse;
        - ``spread_toward_deg`` (default 0 = north): direction the head runs to;
        - ``ignition_s`` (default 0), ``contained_s`` (optional, ≥ ignition_s): growth stops;
        - ``mains_buffer_km`` (default 1.0, ≥ 0): mains cut within this distance of the front;
        - ``name`` (default "fire").
        """
        p = Params(params, prefix)
        lat = p.number("lat_deg", lo=-90, hi=90)
        lon = p.number("lon_deg", lo=-180, hi=360)
        rate = p.number("head_rate_m_s", lo=0, lo_open=True, hi=10)
        wind = p.number("wind_speed_m_s", 0.0, lo=0, hi=60)
        toward = p.number("spread_toward_deg", 0.0, lo=-360, hi=360)
        ign = p.number("ignition_s", 0.0, lo=0)
        contained = p.optional_number("contained_s", lo=ign)
        buffer_km = p.number("mains_buffer_km", DEFAULT_MAINS_BUFFER_KM, lo=0, hi=50)
        name = p.string("name", "fire")
        p.finish()
        return cls(lat, lon, rate, wind, toward % 360.0, ign, contained, buffer_km, name)
