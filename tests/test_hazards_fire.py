"""Fire: an elliptical perimeter grows downwind from the ignition; inside is burnt, nearby loses mains."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from emcomm.hazards.base import Site
from emcomm.hazards.fire import Fire, length_to_breadth
from emcomm.hazards.registry import build_hazard

KM_LON = 96.29   # km per degree of longitude at 30° N


def fire(**kw):
    params = {"lat_deg": 30.0, "lon_deg": 102.0, "head_rate_m_s": 0.5, "wind_speed_m_s": 5.0,
              "spread_toward_deg": 90.0, **kw}
    return build_hazard("fire", params)


def east(km: float) -> float:
    return 102.0 + km / KM_LON


def test_calm_fire_is_a_circle_and_wind_stretches_it() -> None:
    assert length_to_breadth(0.0) == 1.0
    assert 1.0 < length_to_breadth(3.0) < length_to_breadth(6.0) <= 8.0
    calm = fire(wind_speed_m_s=0.0)
    assert calm.conditions(30.0, east(0.8), 1800).in_fire
    assert calm.conditions(30.0, east(-0.8), 1800).in_fire


def test_head_runs_downwind_at_its_rate_and_the_back_barely_moves() -> None:
    f = fire()
    # head: 0.5 m/s × 3600 s = 1.8 km east
    assert f.conditions(30.0, east(1.75), 3600).in_fire
    assert not f.conditions(30.0, east(1.85), 3600).in_fire
    assert not f.conditions(30.0, east(-0.5), 3600).in_fire


@given(st.floats(0, 20000), st.floats(0, 20000))
@settings(max_examples=50, deadline=None)
def test_burnt_area_never_shrinks(t1: float, t2: float) -> None:
    f = fire()
    lo, hi = sorted((t1, t2))
    assert f.area_km2(lo) <= f.area_km2(hi)


def test_containment_stops_the_growth() -> None:
    f = fire(contained_s=1800)
    assert f.area_km2(1800) == f.area_km2(99999) > 0
    assert not f.conditions(30.0, east(1.5), 7200).in_fire


def test_site_burns_when_reached_and_loses_mains_first() -> None:
    f = fire(mains_buffer_km=0.5)
    site = Site("bs", 30.0, east(1.8))
    onset = f.onset(site, seed=1)
    assert onset.destroyed_at_s == pytest.approx(3600, rel=1e-3)
    assert onset.mains_lost_at_s == pytest.approx(2600, rel=0.01)   # front 0.5 km away at 1.3 km
    assert not f.damage(site, 2500, seed=1).mains_lost
    d = f.damage(site, 2700, seed=1)
    assert d.mains_lost and not d.equipment_destroyed
    assert f.damage(site, 3700, seed=1).equipment_destroyed


def test_onset_agrees_with_conditions() -> None:
    f = fire()
    site = Site("x", 30.003, east(0.9))
    t = f.onset(site, seed=0).destroyed_at_s
    assert t is not None
    assert not f.conditions(site.lat_deg, site.lon_deg, t - 5).in_fire
    assert f.conditions(site.lat_deg, site.lon_deg, t + 5).in_fire


def test_nothing_happens_before_ignition() -> None:
    f = fire(ignition_s=3600)
    assert not f.conditions(30.0, 102.0, 3599).in_fire
    assert f.perimeter_lat_lon(100) == []
    assert len(f.perimeter_lat_lon(7200, n=16)) == 16


def test_perimeter_points_lie_on_the_boundary() -> None:
    f = fire()
    for lat, lon in f.perimeter_lat_lon(3600, n=12):
        inner = (30.0 + (lat - 30.0) * 0.98, 102.0 + (lon - 102.0) * 0.98)
        outer = (30.0 + (lat - 30.0) * 1.02, 102.0 + (lon - 102.0) * 1.02)
        assert f.conditions(*inner, 3600).in_fire and not f.conditions(*outer, 3600).in_fire


def test_fire_is_a_frozen_dataclass() -> None:
    assert isinstance(fire(), Fire)
    with pytest.raises(AttributeError):
        fire().head_rate_m_s = 2.0
