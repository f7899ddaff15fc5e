"""build_hazard: every kind builds from a plain table; bad kinds and tables name the offending key."""

from __future__ import annotations

import pytest

from emcomm.errors import HazardError, UsageError
from emcomm.hazards.registry import build_hazard, hazard_kinds


def test_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(HazardError, match="expected one of: flood") as err:
        build_hazard("volcano", {})
    assert err.value.key == "kind"


def test_hazard_error_is_a_usage_error() -> None:
    assert issubclass(HazardError, UsageError)


def test_params_must_be_a_table() -> None:
    with pytest.raises(HazardError, match="expected a table"):
        build_hazard("flood", [1, 2])  # type: ignore[arg-type]


def test_key_prefix_is_prepended() -> None:
    with pytest.raises(HazardError) as err:
        build_hazard("flood", {"zones": [{"lat_deg": 1}]}, key_prefix="params")
    assert err.value.key == "params.zones[0].lon_deg"


def test_kind_is_case_insensitive() -> None:
    h = build_hazard("FLOOD", {"zones": [{"lat_deg": 1, "lon_deg": 1, "radius_km": 1, "depth_m": [[0, 1]]}]})
    assert h.name == "flood"


def test_start_epoch_must_be_a_number() -> None:
    with pytest.raises(HazardError) as err:
        build_hazard("flood", {}, start_epoch="yesterday")  # type: ignore[arg-type]
    assert err.value.key == "start_epoch"


def test_all_four_kinds_are_registered() -> None:
    assert hazard_kinds() == ("flood", "fire", "earthquake", "typhoon")


@pytest.mark.parametrize("kind, params", [
    ("flood", {"zones": [{"lat_deg": 1, "lon_deg": 1, "radius_km": 1, "depth_m": [[0, 1]]}]}),
    ("fire", {"lat_deg": 30, "lon_deg": 102, "head_rate_m_s": 0.3}),
    ("earthquake", {"lat_deg": 31, "lon_deg": 103.4, "magnitude": 7.0, "depth_km": 10}),
    ("typhoon", {"track": [{"t_s": 0, "lat_deg": 20, "lon_deg": 125, "pressure_hpa": 950, "max_wind_m_s": 45}]}),
])
def test_each_kind_builds_a_hazard_with_the_protocol(kind: str, params: dict) -> None:
    h = build_hazard(kind, params)
    assert h.name == kind
    from emcomm.hazards.base import Conditions, Damage, Site
    assert isinstance(h.conditions(30.0, 110.0, 0.0), Conditions)
    assert isinstance(h.damage(Site("s", 30.0, 110.0), 0.0, seed=1), Damage)
    with pytest.raises(AttributeError):
        h.name = "changed"  # frozen dataclass


@pytest.mark.parametrize("kind, params, key", [
    ("fire", {"lat_deg": 30, "lon_deg": 102}, "head_rate_m_s"),
    ("fire", {"lat_deg": 30, "lon_deg": 102, "head_rate_m_s": -1}, "head_rate_m_s"),
    ("fire", {"lat_deg": 30, "lon_deg": 102, "head_rate_m_s": 1, "ignition_s": 100, "contained_s": 50}, "contained_s"),
    ("earthquake", {"lat_deg": 31, "lon_deg": 103, "magnitude": 12, "depth_km": 10}, "magnitude"),
    ("earthquake", {"lat_deg": 31, "lon_deg": 103, "magnitude": 7, "depth_km": -3}, "depth_km"),
    ("earthquake", {"lat_deg": 31, "lon_deg": 103, "magnitude": 7, "depth_km": 10, "region": "north"}, "region"),
    ("earthquake", {"lat_deg": 31, "lon_deg": 103, "magnitude": 7, "depth_km": 10,
                    "aftershocks": [{"t_s": 60, "lat_deg": 31, "lon_deg": 103, "magnitude": 7.5}]},
     "aftershocks[0].magnitude"),
    ("earthquake", {"lat_deg": 31, "lon_deg": 103, "magnitude": 7, "depth_km": 10,
                    "fragility": {"tower": {"i50": 9, "sigma": 1}}}, "fragility.tower"),
    ("typhoon", {"track": []}, "track"),
    ("typhoon", {"track": [{"t_s": 0, "lat_deg": 20, "lon_deg": 125, "pressure_hpa": 950, "max_wind_m_s": 45},
                           {"t_s": 3600, "lat_deg": 95, "lon_deg": 125, "pressure_hpa": 950, "max_wind_m_s": 45}]},
     "track[1].lat_deg"),
    ("typhoon", {"track": [{"t_s": 100, "lat_deg": 20, "lon_deg": 125, "pressure_hpa": 950, "max_wind_m_s": 45},
                           {"t_s": 50, "lat_deg": 21, "lon_deg": 125, "pressure_hpa": 950, "max_wind_m_s": 45}]},
     "track[1].t_s"),
    ("typhoon", {"track": [{"t_s": 0, "lat_deg": 20, "lon_deg": 125, "pressure_hpa": 1015, "max_wind_m_s": 45}]},
     "track[0].pressure_hpa"),
    ("typhoon", {"track": [{"time": "2019-08-09T18:00:00+08:00", "lat_deg": 20, "lon_deg": 125,
                            "pressure_hpa": 950, "max_wind_m_s": 45}]}, "track[0].time"),
])
def test_bad_parameters_of_each_kind_name_the_key(kind: str, params: dict, key: str) -> None:
    with pytest.raises(HazardError) as err:
        build_hazard(kind, params)
    assert err.value.key == key, str(err.value)
    assert err.value.detail and str(err.value) == f"{key}: {err.value.detail}"
