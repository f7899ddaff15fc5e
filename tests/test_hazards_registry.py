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
    assert set(hazard_kinds()) >= {"flood"}
