"""Earthquake: intensity falls with distance (China ellipse relations); damage drawn per site from the seed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from emcomm.hazards.base import Site
from emcomm.hazards.earthquake import Earthquake
from emcomm.hazards.onset import BASE_STATION
from emcomm.hazards.registry import build_hazard

WENCHUAN = {"lat_deg": 31.0, "lon_deg": 103.4, "magnitude": 8.0, "depth_km": 14, "strike_deg": 45.0}


def quake(**kw) -> Earthquake:
    return build_hazard("earthquake", {**WENCHUAN, **kw})


def test_epicentral_intensity_of_the_wang_relations() -> None:
    # M 8 western China at R = 0: 5.253 + 1.398·8 − 4.164·lg 26 = 2.019 + 1.398·8 − 2.943·lg 8 = 10.55
    assert quake().intensity(31.0, 103.4, 0.0) == pytest.approx(10.545, abs=0.01)


@given(st.floats(0, 400), st.floats(0, 400), st.floats(0, 360))
@settings(max_examples=60, deadline=None)
def test_closer_to_the_epicentre_means_higher_intensity(d1: float, d2: float, bearing: float) -> None:
    import math
    q = quake()
    near, far = sorted((d1, d2))

    def at(d: float) -> float:
        b = math.radians(bearing)
        return q.intensity(31.0 + d * math.cos(b) / 111.195, 103.4 + d * math.sin(b) / 95.3, 0.0)
    assert at(near) >= at(far) - 1e-6


def test_intensity_is_higher_along_the_strike_than_across_it() -> None:
    q = quake(strike_deg=0.0)
    along = q.intensity(31.0 + 100 / 111.195, 103.4, 0.0)
    across = q.intensity(31.0, 103.4 + 100 / 95.3, 0.0)
    assert along > across


def test_bigger_quake_shakes_harder_and_east_attenuates_differently() -> None:
    p = (31.5, 103.4, 0.0)
    assert quake(magnitude=7.0).intensity(*p) < quake().intensity(*p)
    assert quake(region="east").intensity(*p) != quake().intensity(*p)


def test_deep_focus_shakes_less_at_the_epicentre() -> None:
    assert quake(depth_km=100).intensity(31.0, 103.4, 0.0) < quake().intensity(31.0, 103.4, 0.0)


def test_fragility_rises_with_intensity() -> None:
    q = quake()
    probs = [q.probability(BASE_STATION, i) for i in (6, 7, 8, 9, 10, 11)]
    assert probs == sorted(probs) and probs[0] < 0.01 and probs[-1] > 0.9
    assert q.probability("power", 8.0) > q.probability(BASE_STATION, 8.0)


def test_damage_fraction_follows_the_fragility_over_many_sites() -> None:
    q = quake()
    sites = [Site(f"bs-{i}", 31.0 + 30 / 111.195, 103.4) for i in range(2000)]
    i = q.intensity(sites[0].lat_deg, sites[0].lon_deg, 0.0)
    frac = sum(q.onset(s, 7, BASE_STATION).destroyed_at_s is not None for s in sites) / len(sites)
    assert frac == pytest.approx(q.probability(BASE_STATION, i), abs=0.04)


def test_same_seed_same_damage_other_seed_other_damage() -> None:
    q = quake()
    sites = [Site(f"bs-{i}", 31.3, 103.6) for i in range(200)]
    a = [q.damage(s, 10.0, seed=1) for s in sites]
    assert a == [q.damage(s, 10.0, seed=1) for s in reversed(sites)][::-1]
    assert a != [q.damage(s, 10.0, seed=2) for s in sites]


def test_aftershock_can_damage_later_and_damage_stays() -> None:
    q = quake(magnitude=7.5, aftershocks=[{"t_s": 3600, "lat_deg": 31.5, "lon_deg": 104.0, "magnitude": 7.0,
                                           "depth_km": 5}])
    near_after = Site("near-aftershock", 31.5, 104.0)
    assert q.intensity(31.5, 104.0, 0.0) < q.intensity(31.5, 104.0, 3600.0)
    destroyed = [q.onset(Site(f"s{i}", 31.5, 104.0), i).destroyed_at_s for i in range(300)]
    assert 3600.0 in destroyed                      # some sites fall only in the aftershock
    for seed in range(50):
        d0, d1 = q.damage(near_after, 3600, seed), q.damage(near_after, 1e6, seed)
        assert (not d0.equipment_destroyed) or d1.equipment_destroyed


def test_nothing_is_damaged_before_the_origin_time() -> None:
    q = quake(t_s=600)
    assert q.intensity(31.0, 103.4, 599) == 0.0
    assert not q.damage(Site("x", 31.0, 103.4), 599, seed=1).mains_lost
