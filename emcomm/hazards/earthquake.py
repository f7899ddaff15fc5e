"""Earthquake hazard: mainshock and aftershocks → seismic intensity by distance → damage draws.

Owns the intensity field of each shock (elliptical attenuation for China) and the
probability that a site's equipment is destroyed or its mains cut at an intensity
(fragility curves), drawn per site and shock from ``site_uniform(seed, ...)``. It does
not model power hold-up (``emcomm.links.power``) and reads no clock.

Intensity attenuation (China seismic intensity, GB/T 17742, ≈ MMI): the elliptical relations
of Wang Suyun, Yu Yanxiang, Gao Aijia, Yan Xiaojie, "Development of attenuation relations for
ground motion in China", Earthquake Research in China 16(2), 99–106, 2000 (汪素云 等,
《中国分区地震动衰减关系的确定》, used for the GB 18306-2001 zonation map), with lg = log10:

    western China  long axis  I = 5.253 + 1.398 M − 4.164 lg(R + 26)
                   short axis I = 2.019 + 1.398 M − 2.943 lg(R + 8)
    eastern China  long axis  I = 5.019 + 1.446 M − 4.136 lg(R + 24)
                   short axis I = 2.240 + 1.446 M − 3.070 lg(R + 9)

M is the surface-wave magnitude, R epicentral distance (km); the long axis follows the
fault strike. A site off both axes gets the intensity of the isoseismal ellipse through it.
The relations were fitted to shallow crustal events; for a focus deeper than 15 km (typical
mainland depth) we use R = √(R_epi² + (h − 15)²) — our adjustment, not part of the source.

Fragility: P(damage | I) = Φ((I − I50) / σ). Defaults are assumptions shaped by the damage
grades of GB/T 17742-2020 (VI: few buildings slightly damaged; VIII: many moderately
damaged; IX–X: many severely damaged or collapsed) and by Wenchuan 2008 reports that grid
power failed before towers did (MIIT: most of the 28,714 damaged base stations were out
for lack of power or transmission). Scenarios override them with ``fragility``.

Example
-------
>>> q = Earthquake.from_params({"lat_deg": 31.0, "lon_deg": 103.4, "magnitude": 8.0, "depth_km": 14})
>>> round(q.intensity(31.0, 103.4, 0), 1)
10.5
>>> q.intensity(31.0, 103.4, 0) > q.intensity(32.0, 103.4, 0)
True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from emcomm.errors import HazardError
from emcomm.hazards._geo import offset_km
from emcomm.hazards._params import Params
from emcomm.hazards.base import Conditions, Damage, Site, site_uniform
from emcomm.hazards.onset import BASE_STATION, FIBRE, NEVER, SITE, Onset

# (A, B, C, R0) for I = A + B·M − C·lg(R + R0), long and short axis (Wang et al. 2000)
ATTENUATION: dict[str, tuple[tuple[float, float, float, float], tuple[float, float, float, float]]] = {
    "west": ((5.253, 1.398, 4.164, 26.0), (2.019, 1.398, 2.943, 8.0)),
    "east": ((5.019, 1.446, 4.136, 24.0), (2.240, 1.446, 3.070, 9.0)),
}
TYPICAL_DEPTH_KM = 15.0

# equipment class → (I50, σ) for destruction; "power" → mains cut. Assumptions (see docstring).
DEFAULT_FRAGILITY: dict[str, tuple[float, float]] = {
    SITE: (9.5, 1.0),          # a node's own shelter / vehicle / building
    BASE_STATION: (9.0, 1.0),  # tower, cabinet, antennas
    FIBRE: (8.5, 1.0),         # landslides and collapse cut fibre runs
    "power": (8.0, 1.0),       # grid supply: substations and distribution lines
}


@dataclasses.dataclass(frozen=True)
class Shock:
    t_s: float
    lat_deg: float
    lon_deg: float
    magnitude: float
    depth_km: float


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@dataclasses.dataclass(frozen=True)
class Earthquake:
    """A mainshock (first in ``shocks``) and its aftershocks, in time order."""

    shocks: tuple[Shock, ...]
    strike_deg: float = 0.0
    region: str = "west"
    fragility: tuple[tuple[str, float, float], ...] = tuple((k, *v) for k, v in DEFAULT_FRAGILITY.items())
    name: str = "earthquake"

    def _frag(self, key: str) -> tuple[float, float]:
        for k, i50, sigma in self.fragility:
            if k == key:
                return i50, sigma
        return DEFAULT_FRAGILITY[key]

    def shock_intensity(self, shock: Shock, lat_deg: float, lon_deg: float) -> float:
        """Intensity of one shock at a point (≥ 0), from the elliptical relations."""
        (aa, ba, ca, ra), (ab, bb, cb, rb) = ATTENUATION[self.region]
        east, north = offset_km(shock.lat_deg, shock.lon_deg, lat_deg, lon_deg)
        th = math.radians(self.strike_deg)
        x = east * math.sin(th) + north * math.cos(th)      # along strike
        y = east * math.cos(th) - north * math.sin(th)      # across strike
        extra = max(shock.depth_km - TYPICAL_DEPTH_KM, 0.0)
        if extra > 0:   # deep focus: stretch the point radially to the slant distance
            r = math.hypot(x, y)
            if r > 0:
                k = math.hypot(r, extra) / r
                x, y = x * k, y * k
            else:
                x = y = extra / math.sqrt(2.0)
        m = shock.magnitude

        def radius(i: float, a: float, b: float, c: float, r0: float) -> float:
            return max(10 ** ((a + b * m - i) / c) - r0, 0.0)

        def inside(i: float) -> bool:
            la, lb_ = radius(i, aa, ba, ca, ra), radius(i, ab, bb, cb, rb)
            if la <= 0 or lb_ <= 0:
                return x == 0 and y == 0
            return (x / la) ** 2 + (y / lb_) ** 2 <= 1.0

        i0 = min(aa + ba * m - ca * math.log10(ra), ab + bb * m - cb * math.log10(rb))
        if not inside(0.0):
            return 0.0
        lo, hi = 0.0, i0
        if inside(hi):
            return hi
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if inside(mid) else (lo, mid)
        return lo

    def intensity(self, lat_deg: float, lon_deg: float, t_s: float) -> float:
        """Largest intensity felt at a point from the shocks that happened by ``t_s``."""
        return max((self.shock_intensity(s, lat_deg, lon_deg) for s in self.shocks if s.t_s <= t_s),
                   default=0.0)

    def probability(self, equipment: str, intensity: float) -> float:
        """P(destroyed) of an equipment class (or ``"power"``: mains cut) at an intensity."""
        i50, sigma = self._frag(equipment)
        return _phi((intensity - i50) / sigma) if intensity > 0 else 0.0

    def conditions(self, lat_deg: float, lon_deg: float, t_s: float) -> Conditions:
        return Conditions(intensity_mmi=self.intensity(lat_deg, lon_deg, t_s))

    def onset(self, site: Site, seed: int, equipment: str = SITE) -> Onset:
        """First shock that destroys the site's equipment / cuts its mains (one draw per shock)."""
        destroyed = mains = None
        why = ""
        for k, shock in enumerate(self.shocks):
            i = self.shock_intensity(shock, site.lat_deg, site.lon_deg)
            if i <= 0:
                continue
            if destroyed is None and site_uniform(seed, self.name, site.id, equipment, k) < self.probability(equipment, i):
                destroyed = shock.t_s
                why = why or f"{self.name}: shaking intensity {i:.1f} destroyed the {equipment.replace('_', ' ')}"
            if mains is None and site_uniform(seed, self.name, site.id, "power", k) < self.probability("power", i):
                mains = shock.t_s
                why = why or f"{self.name}: shaking intensity {i:.1f} cut mains"
        return NEVER if destroyed is None and mains is None else Onset(destroyed, mains, why)

    def damage(self, site: Site, t_s: float, seed: int) -> Damage:
        """Damage as of ``t_s`` from the shocks so far (monotone in time)."""
        return self.onset(site, seed).damage_at(t_s)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], prefix: str = "") -> "Earthquake":
        """Build from a scenario table. Parameters (times in seconds from scenario start):

        - ``lat_deg``, ``lon_deg``: epicentre; ``magnitude`` (surface-wave Ms, 3–9.5);
          ``depth_km`` (0–700); ``t_s`` (default 0): origin time;
        - ``strike_deg`` (default 0): long-axis azimuth of the isoseismals (the fault strike);
        - ``region``: "west" (default) or "east" of China, selects the attenuation relation;
        - ``aftershocks``: list of tables ``t_s`` (after the mainshock), ``lat_deg``, ``lon_deg``,
          ``magnitude`` (< mainshock), ``depth_km`` (default: the mainshock's);
        - ``fragility``: table of equipment class (site, base_station, fibre, power) →
          ``{i50, sigma}`` overriding the defaults;
        - ``name`` (default "earthquake").
        """
        p = Params(params, prefix)
        t0 = p.number("t_s", 0.0, lo=0)
        main = Shock(t0, p.number("lat_deg", lo=-90, hi=90), p.number("lon_deg", lo=-180, hi=360),
                     p.number("magnitude", lo=3.0, hi=9.5), p.number("depth_km", lo=0, hi=700))
        strike = p.number("strike_deg", 0.0, lo=-360, hi=360)
        region = p.string("region", "west").lower()
        if region not in ATTENUATION:
            raise HazardError(f"unknown region {region!r}; expected one of: {', '.join(ATTENUATION)}",
                              p.path("region"))
        shocks = [main]
        for a in p.tables("aftershocks", min_len=0, required=False):
            s = Shock(a.number("t_s", lo=t0, lo_open=True), a.number("lat_deg", lo=-90, hi=90),
                      a.number("lon_deg", lo=-180, hi=360), a.number("magnitude", lo=3.0, hi=main.magnitude),
                      a.number("depth_km", main.depth_km, lo=0, hi=700))
            a.finish()
            shocks.append(s)
        frag = p.fragility(DEFAULT_FRAGILITY, "i50", 1, 12, sigma_hi=5)
        name = p.string("name", "earthquake")
        p.finish()
        shocks.sort(key=lambda s: s.t_s)
        return cls(tuple(shocks), strike % 360.0, region, frag, name)
