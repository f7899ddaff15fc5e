"""Flood: rain cells give rain rate over time, zones give water depth; water cuts mains, then equipment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from emcomm.errors import HazardError
from emcomm.hazards.base import Site
from emcomm.hazards.registry import build_hazard

CELL = {"lat_deg": 34.75, "lon_deg": 113.62, "radius_km": 20.0,
        "rain_mm_h": [[0, 0], [3600, 201.9], [7200, 0]]}
ZONE = {"lat_deg": 34.75, "lon_deg": 113.62, "radius_km": 10.0,
        "depth_m": [[0, 0.0], [3600, 0.0], [10800, 2.0], [20000, 2.0]]}


def flood(**extra):
    return build_hazard("flood", {"rain_cells": [CELL], "zones": [ZONE], **extra})


def test_rain_peaks_at_cell_centre_at_peak_time() -> None:
    f = flood()
    assert f.conditions(34.75, 113.62, 3600).rain_rate_mm_h == pytest.approx(201.9)
    assert f.conditions(34.75, 113.62, 1800).rain_rate_mm_h == pytest.approx(201.9 / 2)
    assert f.conditions(34.75, 113.62, 9000).rain_rate_mm_h == 0.0


@given(st.floats(0, 60), st.floats(0, 60))
@settings(max_examples=50, deadline=None)
def test_rain_falls_off_with_distance_from_cell(d1_km: float, d2_km: float) -> None:
    f = flood()
    lat1 = 34.75 + min(d1_km, d2_km) / 111.2
    lat2 = 34.75 + max(d1_km, d2_km) / 111.2
    assert f.conditions(lat1, 113.62, 3600).rain_rate_mm_h >= f.conditions(lat2, 113.62, 3600).rain_rate_mm_h


def test_moving_cell_brings_rain_downwind_later() -> None:
    cell = dict(CELL, move_east_m_s=10.0, rain_mm_h=[[0, 100], [7200, 100]])
    f = build_hazard("flood", {"rain_cells": [cell]})
    east_lon = 113.62 + 36.0 / (111.2 * 0.8218)   # 36 km east (cos 34.75° ≈ 0.8218)
    assert f.conditions(34.75, east_lon, 0).rain_rate_mm_h < 5
    assert f.conditions(34.75, east_lon, 3600).rain_rate_mm_h == pytest.approx(100, rel=0.02)


def test_water_cuts_mains_before_destroying_equipment() -> None:
    f = flood()
    site = Site("bs-1", 34.75, 113.62)
    # centre depth rises 0 → 2 m between 3600 s and 10800 s: 0.3 m at 4680 s, 0.6 m at 5760 s
    assert not f.damage(site, 4600, seed=1).mains_lost
    d = f.damage(site, 4700, seed=1)
    assert d.mains_lost and not d.equipment_destroyed
    assert f.damage(site, 5800, seed=1).equipment_destroyed


def test_flood_damage_is_monotone_after_the_water_recedes() -> None:
    zone = dict(ZONE, depth_m=[[0, 0.0], [3600, 2.0], [7200, 0.0]])
    f = build_hazard("flood", {"zones": [zone]})
    site = Site("bs-1", 34.75, 113.62)
    assert f.conditions(34.75, 113.62, 7200).water_depth_m == 0.0
    assert f.damage(site, 7200, seed=1).equipment_destroyed


def test_raised_site_stays_dry_where_ground_site_floods() -> None:
    f = flood()
    low, high = Site("low", 34.75, 113.62), Site("high", 34.75, 113.62, elevation_m=5.0)
    assert f.damage(low, 20000, seed=1).equipment_destroyed
    assert not f.damage(high, 20000, seed=1).mains_lost


def test_site_outside_zone_is_untouched() -> None:
    f = flood()
    far = Site("far", 35.5, 113.62)
    assert f.damage(far, 20000, seed=1) == f.damage(far, 0, seed=1)
    assert not f.damage(far, 20000, seed=1).mains_lost


@pytest.mark.parametrize("params, key", [
    ({}, None),
    ({"rain_cells": [dict(CELL, lat_deg=95)]}, "rain_cells[0].lat_deg"),
    ({"rain_cells": [dict(CELL, radius_km=0)]}, "rain_cells[0].radius_km"),
    ({"rain_cells": [dict(CELL, rain_mm_h=[[0, 10], [0, 20]])]}, "rain_cells[0].rain_mm_h[1][0]"),
    ({"rain_cells": [dict(CELL, rain_mm_h=[[0, -1]])]}, "rain_cells[0].rain_mm_h[0][1]"),
    ({"rain_cells": [dict(CELL, rain_mm_h=[[0, "lots"]])]}, "rain_cells[0].rain_mm_h[0][1]"),
    ({"rain_cells": [dict(CELL, radus_km=3)]}, "rain_cells[0].radus_km"),
    ({"zones": [dict(ZONE, depth_m=[])]}, "zones[0].depth_m"),
    ({"zones": [ZONE], "equipment_depth_m": 0.1}, "equipment_depth_m"),
    ({"zones": "everywhere"}, "zones"),
])
def test_bad_flood_parameters_name_the_key(params: dict, key: str | None) -> None:
    with pytest.raises(HazardError) as err:
        build_hazard("flood", params)
    assert err.value.key == key
    if key:
        assert str(err.value).startswith(key + ": ")


def test_typo_suggests_nearest_parameter() -> None:
    with pytest.raises(HazardError, match="did you mean 'radius_km'"):
        build_hazard("flood", {"rain_cells": [dict(CELL, radus_km=3)]})
