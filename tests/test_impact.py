"""Impact model: hazards + profiles + power → node and link state; deterministic for a seed."""

from __future__ import annotations

import random

import pytest

from emcomm.errors import UsageError
from emcomm.hazards.base import Damage, PowerState, Site
from emcomm.hazards.impact import ImpactModel, LinkSpec, NodeSpec, PowerSupply
from emcomm.hazards.registry import build_hazard
from emcomm.links.profiles import make_profile

H = 3600.0
ZZ = (34.75, 113.62)


def rain(peak_mm_h: float = 150.0):
    return build_hazard("flood", {"rain_cells": [{"lat_deg": ZZ[0], "lon_deg": ZZ[1], "radius_km": 30,
                                                  "rain_mm_h": [[0, 0], [H, peak_mm_h], [2 * H, 0]]}]})


def water():
    return build_hazard("flood", {"zones": [{"lat_deg": ZZ[0], "lon_deg": ZZ[1], "radius_km": 5,
                                             "depth_m": [[0, 0], [H, 0], [2 * H, 2.0]]}]})


def nodes():
    return [
        NodeSpec(Site("cc", ZZ[0], ZZ[1], elevation_m=10.0), "command", PowerSupply(generator=True)),
        NodeSpec(Site("bs", ZZ[0], ZZ[1]), "base_station", PowerSupply(battery_hold_up_s=3 * H)),
        NodeSpec(Site("bs-high", ZZ[0], ZZ[1], elevation_m=1.5), "base_station", PowerSupply(battery_hold_up_s=3 * H)),
        NodeSpec(Site("team", ZZ[0] + 0.01, ZZ[1], elevation_m=10.0), "team", PowerSupply(mains=False, battery_hold_up_s=48 * H)),
        NodeSpec(Site("hub", 39.9, 116.4), "hub"),
    ]


def links():
    return [
        LinkSpec("cc-hts", "cc", "hub", make_profile("hts")),
        LinkSpec("cc-tt", "cc", "hub", make_profile("tiantong")),
        LinkSpec("team-cell", "team", "bs", make_profile("cellular")),
        LinkSpec("team-cell-high", "team", "bs-high", make_profile("cellular")),
        LinkSpec("team-leo", "team", "hub", make_profile("leo")),
        LinkSpec("uav", "team", "cc", make_profile("uav"), active_from_s=2 * H, active_until_s=7 * H),
    ]


def test_fair_weather_everything_is_up_at_full_capacity() -> None:
    imp = ImpactModel(nodes(), links(), [], seed=1, geo_longitudes_deg=[110.5]).at(60.0)
    assert all(n.up for n in imp.nodes.values())
    up = {k: v for k, v in imp.links.items() if k != "uav"}
    assert all(v.up and v.capacity_factor == 1.0 for k, v in up.items() if k != "team-leo")


def test_heavy_rain_takes_ka_down_but_tiantong_stays_up() -> None:
    imp = ImpactModel(nodes(), links(), [rain(150.0)], seed=1, geo_longitudes_deg=[110.5]).at(H)
    assert not imp.links["cc-hts"].up and "rain fade" in imp.links["cc-hts"].reason
    assert imp.links["cc-tt"].up and imp.links["cc-tt"].capacity_factor == 1.0


def test_more_rain_gives_less_ka_capacity() -> None:
    factors = []
    for peak in (1.0, 3.0, 6.0, 10.0, 30.0):
        imp = ImpactModel(nodes(), links(), [rain(peak)], seed=1, geo_longitudes_deg=[110.5]).at(H)
        factors.append(imp.links["cc-hts"].capacity_factor)
    assert factors == sorted(factors, reverse=True) and factors[0] > factors[-1]


def test_flooded_base_station_takes_its_cellular_link_down() -> None:
    m = ImpactModel(nodes(), links(), [water()], seed=1)
    assert m.at(H).links["team-cell"].up
    late = m.at(2 * H)
    assert not late.nodes["bs"].up and late.nodes["bs"].power is PowerState.OFF
    assert not late.links["team-cell"].up and "node bs down" in late.links["team-cell"].reason


def test_base_station_without_mains_holds_up_on_battery_then_goes_off_air() -> None:
    # bs-high stands 1.5 m up: water (rising from 0 at 1 h to 2 m at 2 h) cuts its mains at 1.8 m
    # (1.9 h) but never reaches 2.1 m of equipment depth; the battery then carries it for 3 h.
    m = ImpactModel(nodes(), links(), [water()], seed=1)
    lost_at = H + H * 1.8 / 2.0
    on_batt = m.at(lost_at + 60)
    assert on_batt.nodes["bs-high"].power is PowerState.BATTERY
    assert on_batt.nodes["bs-high"].battery_left_s == pytest.approx(3 * H - 60, abs=1.0)
    assert on_batt.links["team-cell-high"].up
    assert m.at(lost_at + 3 * H - 1).nodes["bs-high"].up
    off = m.at(lost_at + 3 * H + 1)
    assert not off.nodes["bs-high"].up and "battery exhausted" in off.nodes["bs-high"].reason
    assert not off.links["team-cell-high"].up


def test_generator_keeps_the_command_centre_up() -> None:
    flood = build_hazard("flood", {"zones": [{"lat_deg": ZZ[0], "lon_deg": ZZ[1], "radius_km": 5,
                                              "depth_m": [[0, 0], [H, 10.35]]}]})
    m = ImpactModel(nodes(), links(), [flood], seed=1)
    cc = m.at(2 * H).nodes["cc"]   # 10 m up: 10.3 m cuts mains, 10.6 m never reached
    assert cc.up and cc.power is PowerState.GENERATOR


def test_link_is_down_outside_its_active_window() -> None:
    m = ImpactModel(nodes(), links(), [], seed=1)
    assert not m.at(H).links["uav"].up and "not active" in m.at(H).links["uav"].reason
    assert m.at(3 * H).links["uav"].up
    assert not m.at(7 * H).links["uav"].up


def test_leo_has_handover_spikes_and_seeded_gaps() -> None:
    m = ImpactModel(nodes(), links(), [], seed=7)
    states = [m.at(float(t)).links["team-leo"] for t in range(0, 15 * 400, 15)]
    assert any(s.up and s.extra_latency_s > 0 for s in states)           # spike at each slot start
    gaps = sum(not s.up for s in states)
    assert 0 < gaps < 40                                                   # ≈ 2 % of 400 slots
    assert all(m.at(7.0 + 15 * k).links["team-leo"].extra_latency_s == 0 or
               not m.at(7.0 + 15 * k).links["team-leo"].up for k in range(20))


def test_answers_do_not_depend_on_call_order() -> None:
    times = [0.0, 0.5 * H, H, 1.7 * H, 2 * H, 4 * H, 6 * H, 15.0, 30.0]
    forward = ImpactModel(nodes(), links(), [rain(), water()], seed=3, geo_longitudes_deg=[110.5])
    a = {t: forward.at(t) for t in times}
    shuffled = list(times)
    random.Random(5).shuffle(shuffled)
    backward = ImpactModel(nodes(), links(), [rain(), water()], seed=3, geo_longitudes_deg=[110.5])
    b = {t: backward.at(t) for t in shuffled}
    assert a == b


def test_satellite_below_the_horizon_means_no_geo_link() -> None:
    far = [NodeSpec(Site("cc", ZZ[0], ZZ[1]), "command"), NodeSpec(Site("hub", 39.9, 116.4), "hub")]
    m = ImpactModel(far, [LinkSpec("x", "cc", "hub", make_profile("hts"))], [], seed=1,
                    geo_longitudes_deg=[-60.0])
    assert not m.at(0.0).links["x"].up and "elevation" in m.at(0.0).links["x"].reason


class _OldStyleHazard:
    """A hazard that only answers ``damage`` (no onset times): destroyed from t = 1000 s."""

    name = "old"

    def conditions(self, lat_deg, lon_deg, t_s):
        from emcomm.hazards.base import Conditions
        return Conditions()

    def damage(self, site, t_s, seed):
        return Damage(equipment_destroyed=t_s >= 1000.0, mains_lost=t_s >= 1000.0, reason="old")


def test_hazards_without_onset_times_still_work() -> None:
    m = ImpactModel(nodes(), links(), [_OldStyleHazard()], seed=1)
    assert m.at(999.0).nodes["bs"].up
    assert not m.at(1000.0).nodes["bs"].up


def test_link_to_unknown_node_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown node 'ghost'"):
        ImpactModel(nodes(), [LinkSpec("l", "cc", "ghost", make_profile("fibre"))], [], seed=1)


def test_bad_time_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="t_s"):
        ImpactModel(nodes(), links(), [], seed=1).at(float("nan"))


def _pair(kind: str, lat: float, lon: float, lat2: float | None = None, lon2: float | None = None,
          role_a: str = "team"):
    ns = [NodeSpec(Site("a", lat, lon, elevation_m=50.0), role_a, PowerSupply(generator=True)),
          NodeSpec(Site("b", lat2 if lat2 is not None else lat, lon2 if lon2 is not None else lon + 0.1,
                        elevation_m=50.0), "hub", PowerSupply(generator=True))]
    return ns, [LinkSpec("l", "a", "b", make_profile(kind))]


def test_typhoon_wind_stows_the_dish_and_grounds_the_uav() -> None:
    ty = build_hazard("typhoon", {"track": [{"t_s": 0, "lat_deg": 28.0, "lon_deg": 122.0, "pressure_hpa": 930,
                                             "max_wind_m_s": 52, "rmw_km": 25}]})
    lat = 28.0 + 25 / 111.195
    ns, ls = _pair("hts", lat, 122.0)
    hts = ImpactModel(ns, ls, [ty], seed=1, geo_longitudes_deg=[110.5]).at(0.0).links["l"]
    assert not hts.up and "dish stowed" in hts.reason
    ns, ls = _pair("uav", lat, 122.0)
    assert "UAV grounded" in ImpactModel(ns, ls, [ty], seed=1).at(0.0).links["l"].reason
    ns, ls = _pair("beidou", lat, 122.0)
    assert ImpactModel(ns, ls, [ty], seed=1).at(0.0).links["l"].up      # Beidou shrugs off wind and rain


def test_earthquake_cuts_fibre_along_its_route_with_the_seed() -> None:
    q = build_hazard("earthquake", {"lat_deg": 31.0, "lon_deg": 103.4, "magnitude": 8.0, "depth_km": 14})
    cut = 0
    for seed in range(60):
        ns, ls = _pair("fibre", 30.5, 103.4, 31.5, 103.4)   # ends ≈ 55 km out, midpoint at the epicentre
        state = ImpactModel(ns, ls, [q], seed=seed).at(10.0).links["l"]
        cut += not state.up and "fibre cut" in state.reason
    # P(cut at I 10.5; I50 8.5, σ 1) ≈ 0.98, times both ends surviving I ≈ 8 (≈ 0.8): ≈ 47 of 60
    assert 35 < cut < 60
    ns, ls = _pair("fibre", 40.0, 116.0, 40.1, 116.1)      # far away: never cut
    assert ImpactModel(ns, ls, [q], seed=1).at(10.0).links["l"].up


def test_fire_takes_links_inside_the_perimeter_down() -> None:
    fire = build_hazard("fire", {"lat_deg": 30.0, "lon_deg": 102.0, "head_rate_m_s": 1.0})
    ns, ls = _pair("radio", 30.0 + 2 / 111.195, 102.0)
    m = ImpactModel(ns, ls, [fire], seed=1)
    assert m.at(600.0).links["l"].up
    late = m.at(3 * H).links["l"]
    assert not late.up and ("fire" in late.reason)
