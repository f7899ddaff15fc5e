"""Typhoon hazard: a best track → wind (Holland profile), rain (R-CLIPER) and storm surge over time.

Owns the storm's position and intensity between best-track points, the wind, rain and
surge it brings to a point, and wind/surge damage to sites (fragility draws from
``site_uniform``). It does not compute rain fade or dish stow (``emcomm.links.propagation``)
and reads no clock.

Sources
-------
- Wind profile: Holland, "An analytic model of the wind and pressure profiles in
  hurricanes", Mon. Wea. Rev. 108, 1212–1218, 1980. Cyclostrophic form normalised to the
  best-track maximum wind: ``V(r) = Vmax √((Rm/r)^B · exp(1 − (Rm/r)^B))`` so V(Rm) = Vmax,
  with ``B = ρ e Vmax² / Δp`` (Holland 1980 eq. 11) clamped to 1–2.5, ρ = 1.15 kg/m³.
  Pressure ``p(r) = pc + Δp exp(−(Rm/r)^B)``. No translation asymmetry.
- Radius of maximum wind when a track point gives none: Vickery, Skerlj & Twisdale,
  "Simulation of hurricane risk in the U.S. using an empirical track model", J. Appl.
  Meteor. 39, 2000: ``ln Rm = 2.636 − 0.000050861 Δp² + 0.0394899 φ`` (km, hPa, degrees).
- Rain rate by distance: R-CLIPER (Tuleya, DeMaria & Kuligowski, "Evaluation of GFDL and
  simple statistical model rainfall forecasts for U.S. landfalling tropical storms",
  Wea. Forecasting 22, 2007): azimuthal-mean rate rising linearly from T0 at the centre to
  Tm at rm, then decaying as exp(−(r − rm)/re), with T0 = −1.10 + 3.96 U, Tm = −1.60 + 4.80 U
  (in/day), rm = 64.5 − 13.0 U, re = 150 − 16.0 U (km), U = 1 + (Vmax[kt] − 35)/33.
- Storm surge on coastal sites: inverse barometer 0.99 cm per hPa of pressure drop (hydrostatic:
  1 hPa / (ρ_sea g) with ρ_sea = 1025 kg/m³) plus a wind set-up ``c · V²``; the set-up
  coefficient (default 8e-4 s²/m, ≈ 2 m at 50 m/s) stands for a moderate continental shelf
  and is an assumption — real surge depends on bathymetry and coastline.
- Wind fragility: lognormal in wind speed; defaults are assumptions (towers rated for ≈ 50-year
  winds of 30–45 m/s on China's coast under GB 50009 / GB 50135; distribution lines fail
  first) to be calibrated against outage reports (Lekima 2019: ≈ 4.6 % of base stations out).

Example
-------
>>> t = Typhoon.from_params({"track": [
...     {"t_s": 0, "lat_deg": 27.0, "lon_deg": 123.0, "pressure_hpa": 935, "max_wind_m_s": 52, "rmw_km": 30},
...     {"t_s": 21600, "lat_deg": 28.3, "lon_deg": 121.4, "pressure_hpa": 950, "max_wind_m_s": 45, "rmw_km": 30}]})
>>> round(t.wind_m_s(27.0 + 30 / 111.195, 123.0, 0.0), 1)
52.0
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import math
from typing import Any, Mapping

from emcomm.errors import HazardError
from emcomm.hazards._geo import distance_km
from emcomm.hazards._params import Params
from emcomm.hazards.base import Conditions, Damage, Site, site_uniform
from emcomm.hazards.flood import DEFAULT_EQUIPMENT_DEPTH_M, DEFAULT_MAINS_CUT_DEPTH_M
from emcomm.hazards.onset import BASE_STATION, NEVER, SITE, Onset

AIR_DENSITY_KG_M3 = 1.15            # Holland (1980)
DEFAULT_AMBIENT_PRESSURE_HPA = 1010.0   # environmental pressure used with western North Pacific tracks
KT_PER_M_S = 1.943844
MM_H_PER_IN_DAY = 25.4 / 24.0
INVERSE_BAROMETER_M_PER_HPA = 100.0 / (1025.0 * 9.81)
DEFAULT_SURGE_WIND_COEFF = 8e-4
# (median m/s, ln-sigma) per equipment class destroyed; "power": mains lost. Assumptions (see docstring).
DEFAULT_WIND_FRAGILITY: dict[str, tuple[float, float]] = {
    SITE: (60.0, 0.15),
    BASE_STATION: (50.0, 0.15),
    "power": (35.0, 0.20),
}
SCAN_STEP_S = 300.0   # time step for finding onset times along the track (refined by bisection)


@dataclasses.dataclass(frozen=True)
class TrackPoint:
    t_s: float
    lat_deg: float
    lon_deg: float
    pressure_hpa: float
    max_wind_m_s: float
    rmw_km: float | None = None


@dataclasses.dataclass(frozen=True)
class StormState:
    lat_deg: float
    lon_deg: float
    pressure_hpa: float
    max_wind_m_s: float
    rmw_km: float
    b: float


def vickery_rmw_km(delta_p_hpa: float, lat_deg: float) -> float:
    """Radius of maximum wind from Δp and latitude (Vickery et al. 2000).

    >>> round(vickery_rmw_km(60.0, 25.0), 1)
    31.2
    """
    return math.exp(2.636 - 0.000050861 * delta_p_hpa ** 2 + 0.0394899 * abs(lat_deg))


def _holland(s: StormState | None, lat_deg: float, lon_deg: float) -> float:
    if s is None:
        return 0.0
    r = distance_km(s.lat_deg, s.lon_deg, lat_deg, lon_deg)
    if r <= 0:
        return 0.0
    x = (s.rmw_km / r) ** s.b
    return s.max_wind_m_s * math.sqrt(x * math.exp(1.0 - x))


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _inv_phi(u: float) -> float:
    # Acklam-free: bisection is plenty for one draw per site
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _phi(mid) < u else (lo, mid)
    return (lo + hi) / 2


@dataclasses.dataclass(frozen=True)
class Typhoon:
    """A typhoon from its best track (time-ordered points)."""

    track: tuple[TrackPoint, ...]
    ambient_pressure_hpa: float = DEFAULT_AMBIENT_PRESSURE_HPA
    rain_scale: float = 1.0
    surge_wind_coeff_s2_m: float = DEFAULT_SURGE_WIND_COEFF
    mains_cut_depth_m: float = DEFAULT_MAINS_CUT_DEPTH_M   # surge water cuts mains / reaches equipment
    equipment_depth_m: float = DEFAULT_EQUIPMENT_DEPTH_M   # at the flood model's depths (sourced there)
    fragility: tuple[tuple[str, float, float], ...] = tuple((k, *v) for k, v in DEFAULT_WIND_FRAGILITY.items())
    name: str = "typhoon"

    def state(self, t_s: float) -> StormState | None:
        """The storm at ``t_s`` by linear interpolation between track points (None outside)."""
        tr = self.track
        if t_s < tr[0].t_s or t_s > tr[-1].t_s:
            return None
        for p0, p1 in zip(tr, tr[1:] + (tr[-1],)):
            if p0.t_s <= t_s <= p1.t_s:
                w = 0.0 if p1.t_s == p0.t_s else (t_s - p0.t_s) / (p1.t_s - p0.t_s)
                break
        lerp = lambda a, b: a + (b - a) * w  # noqa: E731
        dlon = (p1.lon_deg - p0.lon_deg + 180.0) % 360.0 - 180.0
        lat = lerp(p0.lat_deg, p1.lat_deg)
        pc = lerp(p0.pressure_hpa, p1.pressure_hpa)
        vmax = lerp(p0.max_wind_m_s, p1.max_wind_m_s)
        dp = max(self.ambient_pressure_hpa - pc, 1.0)
        r0 = p0.rmw_km if p0.rmw_km is not None else vickery_rmw_km(self.ambient_pressure_hpa - p0.pressure_hpa, p0.lat_deg)
        r1 = p1.rmw_km if p1.rmw_km is not None else vickery_rmw_km(self.ambient_pressure_hpa - p1.pressure_hpa, p1.lat_deg)
        b = min(max(AIR_DENSITY_KG_M3 * math.e * vmax ** 2 / (dp * 100.0), 1.0), 2.5)
        return StormState(lat, p0.lon_deg + dlon * w, pc, vmax, lerp(r0, r1), b)

    def wind_m_s(self, lat_deg: float, lon_deg: float, t_s: float) -> float:
        """Sustained wind at a point (Holland profile; equals the max wind at the RMW)."""
        return _holland(self.state(t_s), lat_deg, lon_deg)

    def rain_mm_h(self, lat_deg: float, lon_deg: float, t_s: float) -> float:
        """Azimuthal-mean rain rate at a point (R-CLIPER profile × ``rain_scale``)."""
        s = self.state(t_s)
        if s is None:
            return 0.0
        u = 1.0 + (s.max_wind_m_s * KT_PER_M_S - 35.0) / 33.0
        t0 = max(-1.10 + 3.96 * u, 0.0)
        tm = max(-1.60 + 4.80 * u, 0.0)
        rm = max(64.5 - 13.0 * u, 1.0)
        re = max(150.0 - 16.0 * u, 10.0)
        r = distance_km(s.lat_deg, s.lon_deg, lat_deg, lon_deg)
        rate = t0 + (tm - t0) * r / rm if r < rm else tm * math.exp(-(r - rm) / re)
        return max(rate, 0.0) * MM_H_PER_IN_DAY * self.rain_scale

    def surge_m(self, lat_deg: float, lon_deg: float, t_s: float) -> float:
        """Storm surge height (m) at a coastal point: inverse barometer + wind set-up."""
        s = self.state(t_s)
        if s is None:
            return 0.0
        r = max(distance_km(s.lat_deg, s.lon_deg, lat_deg, lon_deg), 1e-3)
        dp = max(self.ambient_pressure_hpa - s.pressure_hpa, 0.0)
        drop = dp * (1.0 - math.exp(-((s.rmw_km / r) ** s.b)))
        v = self.wind_m_s(lat_deg, lon_deg, t_s)
        return INVERSE_BAROMETER_M_PER_HPA * drop + self.surge_wind_coeff_s2_m * v * v

    def conditions(self, lat_deg: float, lon_deg: float, t_s: float) -> Conditions:
        """Wind and rain at a point (surge needs a coastal site: see ``onset``)."""
        return Conditions(rain_rate_mm_h=self.rain_mm_h(lat_deg, lon_deg, t_s),
                          wind_speed_m_s=self.wind_m_s(lat_deg, lon_deg, t_s))

    def _frag(self, key: str) -> tuple[float, float]:
        for k, med, sig in self.fragility:
            if k == key:
                return med, sig
        return DEFAULT_WIND_FRAGILITY[key]

    def wind_threshold_m_s(self, site: Site, seed: int, key: str) -> float:
        """The wind at which this site's ``key`` equipment fails (its fragility draw)."""
        med, sig = self._frag(key)
        u = site_uniform(seed, self.name, site.id, key)
        return med * math.exp(sig * _inv_phi(min(max(u, 1e-12), 1 - 1e-12)))

    @functools.cached_property
    def _scan_grid(self) -> tuple[float, ...]:
        t0, t1 = self.track[0].t_s, self.track[-1].t_s
        n = max(1, math.ceil((t1 - t0) / SCAN_STEP_S))
        return tuple(min(t0 + i * SCAN_STEP_S, t1) for i in range(n + 1))

    @functools.cached_property
    def _grid_states(self) -> dict[float, StormState | None]:
        return {t: self.state(t) for t in self._scan_grid}

    def _wind_fast(self, lat_deg: float, lon_deg: float, t_s: float) -> float:
        s = self._grid_states.get(t_s)
        return _holland(s if s is not None else self.state(t_s), lat_deg, lon_deg)

    @functools.cached_property
    def _peak_wind_bound(self) -> float:
        return max(p.max_wind_m_s for p in self.track)

    def _first_time(self, pred) -> float | None:
        grid = self._scan_grid
        prev = grid[0]
        if pred(prev):
            return prev
        for t in grid[1:]:
            if pred(t):
                lo, hi = prev, t
                while hi - lo > 1.0:
                    mid = (lo + hi) / 2
                    lo, hi = (lo, mid) if pred(mid) else (mid, hi)
                return hi
            prev = t
        return None

    def onset(self, site: Site, seed: int, equipment: str = SITE) -> Onset:
        """When wind (drawn fragility) or surge (coastal sites) first destroys / cuts mains."""
        key = BASE_STATION if equipment == BASE_STATION else SITE
        v_destroy = self.wind_threshold_m_s(site, seed, key) if equipment != "fibre" else math.inf
        v_mains = self.wind_threshold_m_s(site, seed, "power")
        lat, lon = site.lat_deg, site.lon_deg
        elev = max(site.elevation_m, 0.0)
        if not site.coastal and min(v_destroy, v_mains) > self._peak_wind_bound:
            return NEVER   # no wind of this storm anywhere reaches the site's thresholds

        def water(t: float) -> float:
            return self.surge_m(lat, lon, t) - elev if site.coastal else 0.0

        destroyed = self._first_time(lambda t: self._wind_fast(lat, lon, t) >= v_destroy
                                     or (equipment != "fibre" and water(t) >= self.equipment_depth_m))
        mains = self._first_time(lambda t: self._wind_fast(lat, lon, t) >= v_mains
                                 or water(t) >= self.mains_cut_depth_m)
        if destroyed is None and mains is None:
            return NEVER
        first = min(x for x in (destroyed, mains) if x is not None)
        v = self.wind_m_s(lat, lon, first)
        surge = water(first)
        what = (f"storm surge {surge:.1f} m" if site.coastal and surge >= self.mains_cut_depth_m
                else f"wind {v:.0f} m/s")
        return Onset(destroyed, mains, f"{self.name}: {what}")

    def damage(self, site: Site, t_s: float, seed: int) -> Damage:
        """Damage as of ``t_s`` (monotone: what the storm broke stays broken)."""
        return self.onset(site, seed).damage_at(t_s)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], prefix: str = "",
                    start_epoch: float | None = None) -> "Typhoon":
        """Build from a scenario table. Parameters:

        - ``track``: ≥ 1 best-track points in time order, each ``t_s`` (seconds from scenario
          start) or ``time`` (ISO 8601 with zone, e.g. "2019-08-09T18:00:00+08:00"; needs the
          scenario start), ``lat_deg``, ``lon_deg``, ``pressure_hpa`` (850–1020, central),
          ``max_wind_m_s`` (5–95, 2-min sustained as in the CMA best track), optional
          ``rmw_km`` (radius of max wind, 5–200; default from Vickery et al. 2000);
        - ``ambient_pressure_hpa`` (default 1010), ``rain_scale`` (default 1, 0–10),
          ``surge_wind_coeff_s2_m`` (default 8e-4), ``mains_cut_depth_m`` (0.3),
          ``equipment_depth_m`` (0.6), ``fragility`` (site/base_station/power →
          ``{median_m_s, sigma}``), ``name`` (default "typhoon").
        """
        p = Params(params, prefix)
        ambient = p.number("ambient_pressure_hpa", DEFAULT_AMBIENT_PRESSURE_HPA, lo=980, hi=1030)
        points: list[TrackPoint] = []
        for q in p.tables("track"):
            if q.has("time") and q.has("t_s"):
                raise HazardError("give either t_s or time, not both", q.path("time"))
            if q.has("time"):
                t = _parse_time(q, start_epoch)
            else:
                t = q.number("t_s", lo=0)
            pc = q.number("pressure_hpa", lo=850, hi=1020)
            if pc >= ambient:
                raise HazardError(f"central pressure must be below the ambient {ambient:g} hPa, got {pc:g}",
                                  q.path("pressure_hpa"))
            pt = TrackPoint(t, q.number("lat_deg", lo=-90, hi=90), q.number("lon_deg", lo=-180, hi=360), pc,
                            q.number("max_wind_m_s", lo=5, hi=95), q.optional_number("rmw_km", lo=5, hi=200))
            q.finish()
            if points and pt.t_s <= points[-1].t_s:
                raise HazardError(f"track times must increase: {pt.t_s:g} s is not after {points[-1].t_s:g} s",
                                  q.path("time" if q.has("time") else "t_s"))
            points.append(pt)
        rain_scale = p.number("rain_scale", 1.0, lo=0, hi=10)
        coeff = p.number("surge_wind_coeff_s2_m", DEFAULT_SURGE_WIND_COEFF, lo=0, hi=0.01)
        mains = p.number("mains_cut_depth_m", DEFAULT_MAINS_CUT_DEPTH_M, lo=0, lo_open=True, hi=30)
        equip = p.number("equipment_depth_m", max(DEFAULT_EQUIPMENT_DEPTH_M, mains), lo=mains, hi=30)
        frag = p.fragility(DEFAULT_WIND_FRAGILITY, "median_m_s", 5, 150, sigma_hi=2)
        name = p.string("name", "typhoon")
        p.finish()
        return cls(tuple(points), ambient, rain_scale, coeff, mains, equip, frag, name)


def _parse_time(q: Params, start_epoch: float | None) -> float:
    raw = q.string("time")
    if start_epoch is None:
        raise HazardError("an absolute time needs the scenario start; use t_s (seconds from start)", q.path("time"))
    try:
        when = _dt.datetime.fromisoformat(raw)
    except ValueError:
        raise HazardError(f"expected an ISO 8601 time like 2019-08-09T18:00:00+08:00, got {raw!r}",
                          q.path("time")) from None
    if when.tzinfo is None:
        raise HazardError(f"time {raw!r} has no time zone; add one (e.g. +08:00 or Z)", q.path("time"))
    t = when.timestamp() - start_epoch
    if t < 0:
        raise HazardError(f"time {raw!r} is before the scenario start", q.path("time"))
    return t
