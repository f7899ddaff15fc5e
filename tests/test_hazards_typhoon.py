"""Typhoon: best track → Holland wind (max wind at the RMW), R-CLIPER rain, surge on coastal sites."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from emcomm.hazards.base import Site
from emcomm.hazards.onset import BASE_STATION
from emcomm.hazards.registry import build_hazard
from emcomm.hazards.typhoon import vickery_rmw_km

# Lekima (1909) near landfall at Wenling, Zhejiang, 10 Aug 2019 01:45 CST: ≈ 930 hPa, 52 m/s
# (CMA best track). The second point is a weakened storm inland six hours later.
TRACK = [
    {"t_s": 0, "lat_deg": 28.0, "lon_deg": 122.0, "pressure_hpa": 930, "max_wind_m_s": 52, "rmw_km": 25},
    {"t_s": 21600, "lat_deg": 28.9, "lon_deg": 120.9, "pressure_hpa": 960, "max_wind_m_s": 38, "rmw_km": 35},
]


def typhoon(**kw):
    return build_hazard("typhoon", {"track": TRACK, **kw})


def north(km: float) -> float:
    return 28.0 + km / 111.195


def test_wind_at_the_radius_of_max_wind_equals_the_max_wind() -> None:
    t = typhoon()
    assert t.wind_m_s(north(25), 122.0, 0.0) == pytest.approx(52.0, rel=1e-3)
    mid = t.state(10800.0)
    assert mid.max_wind_m_s == pytest.approx(45.0)
    lat = mid.lat_deg + mid.rmw_km / 111.195
    assert t.wind_m_s(lat, mid.lon_deg, 10800.0) == pytest.approx(45.0, rel=1e-3)


@given(st.floats(25, 500), st.floats(25, 500))
@settings(max_examples=50, deadline=None)
def test_wind_falls_outside_the_radius_of_max_wind(r1: float, r2: float) -> None:
    t = typhoon()
    near, far = sorted((r1, r2))
    assert t.wind_m_s(north(near), 122.0, 0.0) >= t.wind_m_s(north(far), 122.0, 0.0) - 1e-9


def test_calm_eye_and_nothing_before_or_after_the_track() -> None:
    t = typhoon()
    assert t.wind_m_s(28.0, 122.0, 0.0) == 0.0
    assert t.wind_m_s(north(25), 122.0, -1.0) == 0.0
    assert t.conditions(north(25), 122.0, 21601.0).wind_speed_m_s == 0.0


def test_rain_is_heaviest_near_the_core_and_scales() -> None:
    t = typhoon()
    core, far = t.rain_mm_h(north(30), 122.0, 0.0), t.rain_mm_h(north(300), 122.0, 0.0)
    assert core > 5 * far > 0
    assert typhoon(rain_scale=3.0).rain_mm_h(north(30), 122.0, 0.0) == pytest.approx(3 * core)


def test_rmw_defaults_to_vickery_and_shrinks_with_intensity() -> None:
    assert vickery_rmw_km(80, 25) < vickery_rmw_km(30, 25)
    track = [dict(p) for p in TRACK]
    for p in track:
        p.pop("rmw_km")
    t = build_hazard("typhoon", {"track": track})
    assert t.state(0.0).rmw_km == pytest.approx(vickery_rmw_km(1010 - 930, 28.0))


def test_surge_floods_low_coastal_sites_only() -> None:
    t = typhoon()
    low_coast = Site("coast", north(25), 122.0, coastal=True, elevation_m=0.5)
    high_coast = Site("cliff", north(25), 122.0, coastal=True, elevation_m=20.0)
    assert t.surge_m(north(25), 122.0, 0.0) > 1.0
    assert "surge" in t.damage(low_coast, 0.0, seed=1).reason
    assert t.damage(low_coast, 0.0, seed=1).equipment_destroyed
    assert not t.onset(high_coast, 1).reason.startswith("typhoon: storm surge")


def test_wind_damage_fraction_grows_with_wind() -> None:
    t = typhoon()
    def fraction(km: float) -> float:
        sites = [Site(f"bs{i}", north(km), 122.0) for i in range(400)]
        return sum(t.onset(s, 3, BASE_STATION).mains_lost_at_s is not None for s in sites) / len(sites)
    assert fraction(25) > fraction(150) > fraction(600)
    assert fraction(600) == 0.0


def test_damage_onset_matches_the_wind_at_that_time() -> None:
    t = typhoon()
    site = Site("bs", north(60), 122.3)
    on = t.onset(site, 11, BASE_STATION)
    threshold = t.wind_threshold_m_s(site, 11, "power")
    if on.mains_lost_at_s is not None:
        assert t.wind_m_s(site.lat_deg, site.lon_deg, on.mains_lost_at_s) >= threshold - 0.5
    else:
        assert all(t.wind_m_s(site.lat_deg, site.lon_deg, s) < threshold for s in range(0, 21601, 600))


def test_track_times_may_be_absolute_with_the_scenario_start() -> None:
    start = dt.datetime(2019, 8, 9, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()
    track = [dict(p) for p in TRACK]
    track[0].pop("t_s"); track[0]["time"] = "2019-08-10T01:45:00+08:00"
    track[1].pop("t_s"); track[1]["time"] = "2019-08-10T07:45:00Z"
    t = build_hazard("typhoon", {"track": track}, start_epoch=start)
    assert t.track[0].t_s == 5.75 * 3600 and t.track[1].t_s == (5.75 + 8 + 6) * 3600
