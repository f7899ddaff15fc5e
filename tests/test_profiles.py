"""Each link kind's default figures are the published ones, and overrides are checked."""

from __future__ import annotations

import pytest

from emcomm.errors import UsageError
from emcomm.links.profiles import DEFAULT_PROFILES, Exposure, LinkKind, default_profile, make_profile


def test_every_kind_has_a_profile() -> None:
    assert set(DEFAULT_PROFILES) == set(LinkKind)
    for kind, profile in DEFAULT_PROFILES.items():
        assert profile.kind is kind
        assert profile.rate_up_bps > 0 and profile.rate_down_bps > 0
        assert 0 <= profile.loss < 1 and profile.mtu_bytes > 0


def test_beidou_regional_carries_14000_bits_once_a_minute() -> None:
    p = default_profile(LinkKind.BEIDOU_RDSS)
    assert p.mtu_bytes * 8 == 14_000
    assert p.min_interval_s == 60.0
    assert p.loss <= 0.004  # ≥ 99.6 % success


def test_beidou_global_carries_560_bits() -> None:
    assert default_profile("beidou_global").mtu_bytes * 8 == 560


def test_tiantong_is_narrow_geo_priced_per_mb() -> None:
    p = default_profile("tiantong")
    assert p.rate_up_bps <= 384_000
    assert 0.5 <= 2 * p.latency_s <= 0.6  # RTT ≈ 0.55 s
    assert p.cost_per_mb_cny > 0 and p.orbit == "geo"


def test_hts_is_chinasat16_class_and_fades_in_rain() -> None:
    p = default_profile("hts")
    assert (p.rate_down_bps, p.rate_up_bps) == (150e6, 12e6)
    assert 0.6 <= 2 * p.latency_s <= 0.75
    assert {Exposure.RAIN_FADE, Exposure.WIND_STOW} <= p.exposures


def test_leo_figures() -> None:
    p = default_profile("leo")
    assert (p.rate_down_bps, p.rate_up_bps, p.latency_s) == (87e6, 13.5e6, 0.044)
    assert 50 <= p.power_w <= 100


def test_cellular_depends_on_site_power_and_satellites_on_none_of_the_ground() -> None:
    assert Exposure.SITE_POWER in default_profile("cellular").exposures
    assert Exposure.GROUND_DAMAGE not in default_profile("tiantong").exposures
    assert Exposure.FLOOD_WATER not in default_profile("beidou").exposures


def test_override_replaces_one_figure() -> None:
    p = make_profile("tiantong", {"rate_up_bps": 9600})
    assert p.rate_up_bps == 9600.0 and p.rate_down_bps == 384_000


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"colour": 1}, "cannot override colour"),
        ({"loss": 1.5}, "loss must be below 1"),
        ({"rate_up_bps": -1}, "must not be negative"),
        ({"latency_s": float("nan")}, "finite number"),
        ({"mtu_bytes": 0}, "positive integer"),
        ({"rate_down_bps": "fast"}, "finite number"),
    ],
)
def test_bad_override_is_a_clear_error(overrides: dict, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        make_profile("hts", overrides)


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="expected one of: tiantong"):
        default_profile("carrier-pigeon")
