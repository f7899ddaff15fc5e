"""Impact: hazards + link profiles + power supplies → per-link and per-node state at a time.

This module owns the *combination* of hazard conditions, propagation physics and site
power into the state the router and the UI consume. Hazard models themselves live in
their own modules; the physics in ``emcomm.links.propagation`` and ``emcomm.links.power``.
It reads no clock and does no I/O.

Contract (used by scenarios, the topology builder, drills and the UI):

>>> from emcomm.hazards.base import Site
>>> from emcomm.hazards.registry import build_hazard
>>> from emcomm.links.profiles import make_profile
>>> nodes = [NodeSpec(Site("cc", 34.75, 113.62), "command", PowerSupply(battery_hold_up_s=7200)),
...          NodeSpec(Site("hub", 39.9, 116.4), "hub")]
>>> links = [LinkSpec("cc-hts", "cc", "hub", make_profile("hts"))]
>>> rain = build_hazard("flood", {"rain_cells": [{"lat_deg": 34.75, "lon_deg": 113.62,
...     "radius_km": 30, "rain_mm_h": [[0, 0], [3600, 150], [7200, 0]]}]})
>>> model = ImpactModel(nodes, links, [rain], seed=1, geo_longitudes_deg=[110.5])
>>> model.at(0.0).links["cc-hts"].up, model.at(3600.0).links["cc-hts"].up
(True, False)

Rules
-----
- A node is down when a hazard destroyed its equipment or its power state is ``off``
  (mains lost → battery hold-up → generator / restore, ``emcomm.links.power``).
- A link is down outside its active window and when either endpoint node is down.
- Exposures of the link's profile then apply (``emcomm.links.profiles.Exposure``):
  rain fade at both ground ends through the P.618 path model at each end's GEO elevation
  (LEO: an assumed 45° serving elevation), wind pointing loss and stow for dishes, a wind
  limit for UAV relays, sky view (GEO elevation ≥ 5°), LEO coverage gaps per 15 s slot
  drawn from the seed and handover latency spikes, fire at the ends or along the route,
  fibre cut at the route's midpoint by shaking.
- Extra attenuation (rain + pointing) becomes a capacity factor by DVB-S2 ACM
  (``propagation.capacity_factor``); beyond the fade margin the link is down.

``at`` may be called with increasing or arbitrary times; the answer for a time depends
only on (inputs, seed, time), never on the order of calls.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

from emcomm.errors import UsageError
from emcomm.hazards._geo import midpoint
from emcomm.hazards.base import Conditions, Hazard, PowerState, Site, site_uniform
from emcomm.hazards.onset import BASE_STATION, FIBRE, NEVER, SITE, Onset
from emcomm.links import propagation as prop
from emcomm.links.power import PowerSupply, power_state
from emcomm.links.profiles import Exposure, LinkKind, LinkProfile

__all__ = ["PowerSupply", "NodeSpec", "LinkSpec", "NodeState", "LinkState", "Impact", "ImpactModel",
           "DEFAULT_GEO_LONGITUDES_DEG"]


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    site: Site
    role: str                        # command, team, relay, sensor, base_station, hub, uav
    power: PowerSupply = PowerSupply()


@dataclasses.dataclass(frozen=True)
class LinkSpec:
    id: str
    a: str                           # node id
    b: str                           # node id
    profile: LinkProfile
    active_from_s: float = 0.0       # e.g. a UAV relay that arrives later
    active_until_s: float | None = None


@dataclasses.dataclass(frozen=True)
class NodeState:
    up: bool
    power: PowerState
    battery_left_s: float | None     # None when not on battery
    reason: str = ""                 # why it is down / on battery


@dataclasses.dataclass(frozen=True)
class LinkState:
    up: bool
    capacity_factor: float           # 0..1 of the profile's rates still available
    extra_loss: float                # added frame loss probability
    extra_latency_s: float
    reason: str = ""                 # why down or degraded ("" in fair conditions)
    attenuation_db: float = 0.0      # rain fade + pointing loss over both ends (satellite links)


@dataclasses.dataclass(frozen=True)
class Impact:
    t_s: float
    nodes: Mapping[str, NodeState]
    links: Mapping[str, LinkState]


# GEO orbital slots used when a scenario names none: Tiantong-1 01 at 101.4° E (China Satellite
# Communications, Tiantong-1 launch notice, 2016); ChinaSat-16 at 110.5° E (China Satcom);
# BeiDou-3 GEO satellites at 80° E, 110.5° E and 140° E (CSNO, BDS open service signal ICD).
DEFAULT_GEO_LONGITUDES_DEG: dict[LinkKind, tuple[float, ...]] = {
    LinkKind.TIANTONG: (101.4,),
    LinkKind.HTS: (110.5,),
    LinkKind.BEIDOU_RDSS: (80.0, 110.5, 140.0),
}
MIN_GEO_ELEVATION_DEG = 5.0      # below this a terminal has no usable view (ITU-R P.618 validity ≥ 5°)
LEO_SERVING_ELEVATION_DEG = 45.0  # assumption: typical elevation of the serving LEO satellite
# UAV relays are grounded in gales: assumption at Beaufort 8 (gale, 17.2–20.7 m/s; WMO Beaufort scale).
UAV_WIND_LIMIT_M_S = 17.2

_TOL_S = 1.0   # bisection tolerance for hazards that do not report onset times


def _onset_of(hazard: Hazard, site: Site, seed: int, equipment: str, horizon_s: float) -> Onset:
    method = getattr(hazard, "onset", None)
    if method is not None:
        return method(site, seed, equipment)
    # A hazard without onset times: find its (monotone) damage onset by bisection up to horizon_s.
    def first(pred) -> float | None:
        if not pred(horizon_s):
            return None
        lo, hi = 0.0, horizon_s
        if pred(lo):
            return lo
        while hi - lo > _TOL_S:
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if pred(mid) else (mid, hi)
        return hi
    destroyed = first(lambda t: hazard.damage(site, t, seed).equipment_destroyed)
    mains = first(lambda t: hazard.damage(site, t, seed).mains_lost)
    reason = hazard.damage(site, horizon_s, seed).reason if (destroyed is not None or mains is not None) else ""
    return Onset(destroyed, mains, reason)


class ImpactModel:
    """Evaluates node and link state at any time for one scenario and seed."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec],
        links: Sequence[LinkSpec],
        hazards: Sequence[Hazard],
        seed: int,
        geo_longitudes_deg: Sequence[float] = (),
    ) -> None:
        self.nodes: dict[str, NodeSpec] = {}
        for spec in nodes:
            if spec.site.id in self.nodes:
                raise UsageError(f"duplicate node id {spec.site.id!r} given to the impact model")
            self.nodes[spec.site.id] = spec
        self.links: dict[str, LinkSpec] = {}
        for link in links:
            if link.id in self.links:
                raise UsageError(f"duplicate link id {link.id!r} given to the impact model")
            for end in (link.a, link.b):
                if end not in self.nodes:
                    raise UsageError(f"link {link.id!r} ends at unknown node {end!r}")
            self.links[link.id] = link
        self.hazards = tuple(hazards)
        self.seed = int(seed)
        self.geo_longitudes_deg = tuple(float(x) for x in geo_longitudes_deg)
        self._onsets: dict[tuple[str, str], Onset] = {}
        self._elevation: dict[tuple[str, LinkKind], float] = {}

    # --- per-site facts that do not depend on time (cached; pure, so order-independent) ----

    def _onset(self, key: str, site: Site, equipment: str, horizon_s: float) -> Onset:
        # Hazards with onset times are horizon-independent; the fallback is cached per horizon.
        exact = all(hasattr(h, "onset") for h in self.hazards)
        ck = (key, equipment) if exact else (key, f"{equipment}@{horizon_s!r}")
        got = self._onsets.get(ck)
        if got is None:
            got = NEVER
            for h in self.hazards:
                got = got.earliest(_onset_of(h, site, self.seed, equipment, horizon_s))
            self._onsets[ck] = got
        return got

    def _geo_elevation_deg(self, node_id: str, kind: LinkKind) -> float:
        k = (node_id, kind)
        if k not in self._elevation:
            site = self.nodes[node_id].site
            lons = self.geo_longitudes_deg or DEFAULT_GEO_LONGITUDES_DEG.get(kind, (110.5,))
            self._elevation[k] = prop.best_geo_elevation_deg(site.lat_deg, site.lon_deg, lons)
        return self._elevation[k]

    def conditions(self, lat_deg: float, lon_deg: float, t_s: float) -> Conditions:
        """All hazards' conditions at a point, combined (worst of each)."""
        c = Conditions()
        for h in self.hazards:
            c = c.combine(h.conditions(lat_deg, lon_deg, t_s))
        return c

    # --- evaluation -------------------------------------------------------------------------

    def node_state(self, node_id: str, t_s: float) -> NodeState:
        """State of one node at ``t_s`` (see the module rules)."""
        spec = self.nodes[node_id]
        equipment = BASE_STATION if spec.role == "base_station" else SITE
        onset = self._onset(node_id, spec.site, equipment, t_s)
        dmg = onset.damage_at(t_s)
        if dmg.equipment_destroyed:
            return NodeState(False, PowerState.OFF, None, dmg.reason or "equipment destroyed")
        lost_at = onset.mains_lost_at_s if dmg.mains_lost else None
        status = power_state(spec.power, lost_at, t_s)
        reason = status.reason
        if dmg.mains_lost and dmg.reason and status.state != "mains":
            reason = f"{reason} ({dmg.reason})"
        return NodeState(status.state != "off", PowerState(status.state), status.battery_left_s, reason)

    def at(self, t_s: float) -> Impact:
        """Node and link state at ``t_s`` (seconds since scenario start)."""
        if isinstance(t_s, bool) or not isinstance(t_s, (int, float)) or not math.isfinite(t_s):
            raise UsageError(f"t_s must be a finite number of seconds, got {t_s!r}")
        t = float(t_s)
        nodes = {nid: self.node_state(nid, t) for nid in self.nodes}
        cond: dict[str, Conditions] = {}

        def conditions_at(nid: str) -> Conditions:
            if nid not in cond:
                s = self.nodes[nid].site
                cond[nid] = self.conditions(s.lat_deg, s.lon_deg, t)
            return cond[nid]

        links = {lid: self._link_state(link, nodes, conditions_at, t) for lid, link in self.links.items()}
        return Impact(t, nodes, links)

    def _link_state(self, link: LinkSpec, nodes: Mapping[str, NodeState], conditions_at, t: float) -> LinkState:
        if t < link.active_from_s:
            return LinkState(False, 0.0, 0.0, 0.0, f"not active until t={link.active_from_s:g} s")
        if link.active_until_s is not None and t >= link.active_until_s:
            return LinkState(False, 0.0, 0.0, 0.0, f"withdrawn at t={link.active_until_s:g} s")
        for end in (link.a, link.b):
            ns = nodes[end]
            if not ns.up:
                return LinkState(False, 0.0, 0.0, 0.0, f"node {end} down: {ns.reason}")
        p = link.profile
        ex = p.exposures
        kind = p.kind
        sa, sb = self.nodes[link.a].site, self.nodes[link.b].site
        ca, cb = conditions_at(link.a), conditions_at(link.b)

        if Exposure.FIRE in ex:
            if ca.in_fire or cb.in_fire:
                return LinkState(False, 0.0, 0.0, 0.0, "inside the fire perimeter")
        if kind is LinkKind.FIBRE and (Exposure.GROUND_DAMAGE in ex or Exposure.FIRE in ex):
            lat, lon = midpoint(sa.lat_deg, sa.lon_deg, sb.lat_deg, sb.lon_deg)
            mid = Site(f"{link.id}~route", lat, lon)
            cut = self._onset(mid.id, mid, FIBRE, t).damage_at(t)
            if cut.equipment_destroyed:
                return LinkState(False, 0.0, 0.0, 0.0, f"fibre cut: {cut.reason}")

        geo = p.orbit == "geo"
        if geo and Exposure.SKY_VIEW in ex:
            for end in (link.a, link.b):
                el = self._geo_elevation_deg(end, kind)
                if el < MIN_GEO_ELEVATION_DEG:
                    return LinkState(False, 0.0, 0.0, 0.0,
                                     f"no view of the GEO satellite from {end} (elevation {el:.1f}°)")

        extra_latency = 0.0
        reasons: list[str] = []
        if Exposure.LEO_GAPS in ex:
            slot = prop.leo_slot(t)
            lat, _ = midpoint(sa.lat_deg, sa.lon_deg, sb.lat_deg, sb.lon_deg)
            if site_uniform(self.seed, "leo-gap", link.id, slot.slot) >= prop.leo_coverage_probability(lat):
                return LinkState(False, 0.0, 0.0, 0.0, f"no LEO satellite in view (slot {slot.slot})")
            if slot.in_handover:
                extra_latency += slot.extra_latency_s
                reasons.append("LEO handover")

        attenuation = 0.0
        if Exposure.WIND_STOW in ex:
            dish = prop.DISH_WIND.get(kind.value)
            for end, c in ((link.a, ca), (link.b, cb)):
                if dish is not None:
                    loss = prop.pointing_loss_db(c.wind_speed_m_s, dish)
                    if math.isinf(loss):
                        return LinkState(False, 0.0, 0.0, extra_latency,
                                         f"dish stowed at {end}: wind {c.wind_speed_m_s:.0f} m/s "
                                         f"≥ {dish.operational_wind_m_s:g} m/s")
                    attenuation += loss
                elif kind is LinkKind.UAV and c.wind_speed_m_s >= UAV_WIND_LIMIT_M_S:
                    return LinkState(False, 0.0, 0.0, extra_latency,
                                     f"UAV grounded: wind {c.wind_speed_m_s:.0f} m/s at {end}")
            if attenuation > 0.05:
                reasons.append(f"pointing loss {attenuation:.1f} dB")

        if Exposure.RAIN_FADE in ex and p.frequency_ghz >= 1.0 and p.orbit in ("geo", "leo"):
            fade = 0.0
            for end, c, s in ((link.a, ca, sa), (link.b, cb, sb)):
                if c.rain_rate_mm_h <= 0:
                    continue
                el = (max(self._geo_elevation_deg(end, kind), MIN_GEO_ELEVATION_DEG) if geo
                      else LEO_SERVING_ELEVATION_DEG)
                fade += prop.rain_attenuation_db(p.frequency_ghz, c.rain_rate_mm_h, s.lat_deg, el)
            if fade > 0.05:
                reasons.append(f"rain fade {fade:.1f} dB")
            attenuation += fade

        factor = 1.0
        if attenuation > 0:
            esn0 = prop.CLEAR_SKY_ESN0_DB.get(kind.value, prop.DEFAULT_CLEAR_SKY_ESN0_DB)
            factor = prop.capacity_factor(attenuation, esn0)
            if factor <= 0.0:
                margin = prop.fade_margin_db(esn0)
                return LinkState(False, 0.0, 0.0, extra_latency,
                                 "; ".join(reasons) + f" beyond the {margin:.1f} dB margin", attenuation)
        return LinkState(True, factor, 0.0, extra_latency, "; ".join(reasons), attenuation)
