"""Flood hazard: moving rain cells (rain rate over time) and inundation zones (water depth over time).

Owns the flood's conditions at a point (rain rate, water depth) and the damage water
does to a site: water over ``mains_cut_depth_m`` cuts mains, over ``equipment_depth_m``
destroys ground-level equipment. It does not compute rain fade (``emcomm.links.propagation``)
or power hold-up (``emcomm.links.power``). Deterministic: a flood draws no random numbers.

Rain cell shape: Gaussian core ``R(d) = R_peak(t) · exp(-(d / radius_km)²)``, the
convective-cell core of the HYCELL model (Féral et al., "HYCELL — a new hybrid model of the
rain horizontal distribution for propagation studies", Radio Science 38(3), 2003).
Inundation zone shape: a bowl, depth ``D(t) · (1 - (d / radius_km)²)`` inside the radius.
A site's water depth is the zone depth minus the site's ``elevation_m`` above the zone floor.

Example
-------
>>> f = Flood.from_params({"rain_cells": [{"lat_deg": 34.75, "lon_deg": 113.62, "radius_km": 20,
...     "rain_mm_h": [[0, 0], [3600, 200], [7200, 0]]}]})
>>> round(f.conditions(34.75, 113.62, 3600).rain_rate_mm_h, 1)
200.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from emcomm.errors import HazardError
from emcomm.hazards._geo import distance_km, offset_km
from emcomm.hazards._params import Params, first_crossing, interp
from emcomm.hazards.base import Conditions, Damage, Site
from emcomm.hazards.onset import BASE_STATION, NEVER, SITE, Onset

# Default depths are assumptions a scenario may override, set from what failed in Zhengzhou on
# 20 July 2021: ground-floor and basement power distribution rooms and cabinets were flooded and
# the grid cut supply to flooded districts (State Council Disaster Investigation Team, "河南郑州
# '7·20'特大暴雨灾害调查报告", January 2022). Outdoor base-station cabinets stand on plinths of
# roughly 0.3-0.5 m; water above ≈ 0.6 m reaches rectifiers and batteries.
DEFAULT_MAINS_CUT_DEPTH_M = 0.3
DEFAULT_EQUIPMENT_DEPTH_M = 0.6


@dataclasses.dataclass(frozen=True)
class RainCell:
    """One rain cell: centre at ``series[0]`` time, optional steady motion, peak rate over time."""

    lat_deg: float
    lon_deg: float
    radius_km: float
    rain_mm_h: tuple[tuple[float, float], ...]   # [(t_s, peak mm/h), ...] piecewise linear
    move_east_m_s: float = 0.0
    move_north_m_s: float = 0.0

    def rate_at(self, lat_deg: float, lon_deg: float, t_s: float) -> float:
        peak = interp(self.rain_mm_h, t_s)
        if peak <= 0.0:
            return 0.0
        east, north = offset_km(self.lat_deg, self.lon_deg, lat_deg, lon_deg)
        dt = t_s - self.rain_mm_h[0][0]
        east -= self.move_east_m_s * dt / 1000.0
        north -= self.move_north_m_s * dt / 1000.0
        d2 = (east * east + north * north) / (self.radius_km * self.radius_km)
        return peak * math.exp(-d2)


@dataclasses.dataclass(frozen=True)
class InundationZone:
    """An area under water: depth at the centre over time, shallower towards the edge."""

    lat_deg: float
    lon_deg: float
    radius_km: float
    depth_m: tuple[tuple[float, float], ...]     # [(t_s, centre depth m), ...]

    def shape(self, lat_deg: float, lon_deg: float) -> float:
        d = distance_km(self.lat_deg, self.lon_deg, lat_deg, lon_deg)
        return max(0.0, 1.0 - (d / self.radius_km) ** 2)

    def depth_at(self, lat_deg: float, lon_deg: float, t_s: float) -> float:
        s = self.shape(lat_deg, lon_deg)
        return s * interp(self.depth_m, t_s) if s > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Flood:
    """A flood: rain cells and inundation zones; water over a depth cuts mains / destroys equipment."""

    rain_cells: tuple[RainCell, ...] = ()
    zones: tuple[InundationZone, ...] = ()
    mains_cut_depth_m: float = DEFAULT_MAINS_CUT_DEPTH_M
    equipment_depth_m: float = DEFAULT_EQUIPMENT_DEPTH_M
    name: str = "flood"

    def conditions(self, lat_deg: float, lon_deg: float, t_s: float) -> Conditions:
        """Rain rate (worst cell) and water depth (deepest zone) at a point."""
        rain = max((c.rate_at(lat_deg, lon_deg, t_s) for c in self.rain_cells), default=0.0)
        depth = max((z.depth_at(lat_deg, lon_deg, t_s) for z in self.zones), default=0.0)
        return Conditions(rain_rate_mm_h=rain, water_depth_m=depth)

    def onset(self, site: Site, seed: int, equipment: str = SITE) -> Onset:
        """When water at the site first reaches the mains-cut and the equipment depths.

        Fibre runs are not destroyed by water alone (cables are sealed); their street
        cabinets lose power like any site.
        """
        del seed  # a flood is deterministic
        result = NEVER
        for i, zone in enumerate(self.zones):
            shape = zone.shape(site.lat_deg, site.lon_deg)
            if shape <= 0:
                continue
            mains = first_crossing(zone.depth_m, shape, self.mains_cut_depth_m + max(site.elevation_m, 0.0))
            destroyed = None
            if equipment in (SITE, BASE_STATION):
                destroyed = first_crossing(zone.depth_m, shape, self.equipment_depth_m + max(site.elevation_m, 0.0))
            if mains is None and destroyed is None:
                continue
            what = (f"under water over {self.equipment_depth_m:g} m" if destroyed is not None
                    else f"mains cut by water over {self.mains_cut_depth_m:g} m")
            result = result.earliest(Onset(destroyed, mains, f"{self.name}: {what} (zone {i})"))
        return result

    def damage(self, site: Site, t_s: float, seed: int) -> Damage:
        """Damage as of ``t_s``: monotone in time (equipment stays wet, mains stay cut)."""
        return self.onset(site, seed).damage_at(t_s)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], prefix: str = "") -> "Flood":
        """Build from a scenario table. Parameters (times are seconds from scenario start):

        - ``name`` (str, default "flood")
        - ``rain_cells``: list of tables, each ``lat_deg``, ``lon_deg``, ``radius_km`` (> 0,
          the Gaussian e-folding radius), ``rain_mm_h`` = ``[[t_s, peak mm/h], ...]``
          (times increasing, rates 0–500), optional ``move_east_m_s``/``move_north_m_s``.
        - ``zones``: list of tables, each ``lat_deg``, ``lon_deg``, ``radius_km`` (> 0),
          ``depth_m`` = ``[[t_s, centre depth m], ...]`` (0–30 m).
          Rates and depths are 0 before the first and after the last point of a series:
          end a series with the rain stopping / the water receding.
        - ``mains_cut_depth_m`` (default 0.3), ``equipment_depth_m`` (default 0.6, ≥ mains cut).

        At least one rain cell or zone is required.
        """
        p = Params(params, prefix)
        name = p.string("name", "flood")
        cells = []
        for c in p.tables("rain_cells", min_len=0, required=False):
            cells.append(RainCell(
                lat_deg=c.number("lat_deg", lo=-90, hi=90), lon_deg=c.number("lon_deg", lo=-180, hi=360),
                radius_km=c.number("radius_km", lo=0, lo_open=True, hi=2000),
                # 500 mm/h is well above the highest hourly rainfall recorded (≈ 401 mm/h,
                # Shangdi, Inner Mongolia, 1975; Zhengzhou 2021 peaked at 201.9 mm/h).
                rain_mm_h=c.series("rain_mm_h", value_hi=500.0),
                move_east_m_s=c.number("move_east_m_s", 0.0, lo=-100, hi=100),
                move_north_m_s=c.number("move_north_m_s", 0.0, lo=-100, hi=100),
            ))
            c.finish()
        zones = []
        for z in p.tables("zones", min_len=0, required=False):
            zones.append(InundationZone(
                lat_deg=z.number("lat_deg", lo=-90, hi=90), lon_deg=z.number("lon_deg", lo=-180, hi=360),
                radius_km=z.number("radius_km", lo=0, lo_open=True, hi=2000),
                depth_m=z.series("depth_m", value_hi=30.0),
            ))
            z.finish()
        mains = p.number("mains_cut_depth_m", DEFAULT_MAINS_CUT_DEPTH_M, lo=0, lo_open=True, hi=30)
        equip = p.number("equipment_depth_m", max(DEFAULT_EQUIPMENT_DEPTH_M, mains), lo=0, lo_open=True, hi=30)
        if equip < mains:
            raise HazardError(f"must be at least mains_cut_depth_m ({mains:g}), got {equip:g}",
                              p.path("equipment_depth_m"))
        p.finish()
        if not cells and not zones:
            raise HazardError("a flood needs at least one of rain_cells or zones", prefix or None)
        return cls(tuple(cells), tuple(zones), mains, equip, name)
