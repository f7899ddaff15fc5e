"""Site power: mains → battery hold-up → off air → generator / restore, as a pure function of time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from emcomm.errors import UsageError
from emcomm.links.power import BATTERY, GENERATOR, MAINS, OFF, PowerSupply, off_air_at_s, power_state

H = 3600.0


def test_site_stays_on_mains_until_mains_is_lost() -> None:
    s = PowerSupply(battery_hold_up_s=3 * H)
    assert power_state(s, None, 1e9).state == MAINS
    assert power_state(s, 5000.0, 4999.9).state == MAINS


def test_battery_runs_out_at_exactly_hold_up() -> None:
    s = PowerSupply(battery_hold_up_s=3 * H)
    just_before = power_state(s, 1000.0, 1000.0 + 3 * H - 1e-6)
    assert just_before.state == BATTERY and just_before.battery_left_s == pytest.approx(1e-6, abs=1e-5)
    at = power_state(s, 1000.0, 1000.0 + 3 * H)
    assert at.state == OFF and "battery exhausted" in at.reason
    assert off_air_at_s(s, 1000.0) == 1000.0 + 3 * H


def test_no_battery_means_off_air_at_the_loss() -> None:
    assert power_state(PowerSupply(), 10.0, 10.0).state == OFF
    assert off_air_at_s(PowerSupply(), 10.0) == 10.0


def test_generator_takes_over_after_its_start_delay_and_saves_battery() -> None:
    s = PowerSupply(battery_hold_up_s=600, generator=True, generator_start_s=300)
    assert power_state(s, 0.0, 100.0).state == BATTERY
    assert power_state(s, 0.0, 300.0).state == GENERATOR
    assert power_state(s, 0.0, 1e7).state == GENERATOR
    assert off_air_at_s(s, 0.0) is None


def test_battery_resumes_when_generator_fuel_runs_out() -> None:
    s = PowerSupply(battery_hold_up_s=600, generator=True, generator_start_s=300, generator_fuel_s=1000)
    after_fuel = power_state(s, 0.0, 1300.0 + 100.0)
    assert after_fuel.state == BATTERY and after_fuel.battery_left_s == pytest.approx(200.0)
    assert power_state(s, 0.0, 1300.0 + 300.0).state == OFF
    assert off_air_at_s(s, 0.0) == 1600.0


def test_short_battery_leaves_a_gap_before_the_generator() -> None:
    s = PowerSupply(battery_hold_up_s=60, generator=True, generator_start_s=300)
    assert power_state(s, 0.0, 100.0).state == OFF
    assert power_state(s, 0.0, 300.0).state == GENERATOR
    assert off_air_at_s(s, 0.0) == 60.0


def test_mains_restore_brings_the_site_back() -> None:
    s = PowerSupply(battery_hold_up_s=H, restore_at_s=5 * H)
    assert power_state(s, 0.0, 2 * H).state == OFF
    assert power_state(s, 0.0, 5 * H).state == MAINS
    assert off_air_at_s(PowerSupply(battery_hold_up_s=H, restore_at_s=0.5 * H), 0.0) is None


def test_restore_before_the_loss_does_not_undo_the_loss() -> None:
    s = PowerSupply(battery_hold_up_s=H, restore_at_s=100.0)
    assert power_state(s, 1000.0, 1000.0 + 2 * H).state == OFF


def test_site_without_mains_runs_on_battery_from_start() -> None:
    s = PowerSupply(mains=False, battery_hold_up_s=2 * H)
    assert power_state(s, None, 0.0).state == BATTERY
    assert power_state(s, None, 2 * H).state == OFF
    assert power_state(PowerSupply(mains=False, restore_at_s=3 * H), None, 3 * H).state == GENERATOR


@given(st.floats(0, 10 * H), st.floats(0, 10 * H), st.floats(0, 20 * H), st.floats(0, 20 * H))
@settings(max_examples=100, deadline=None)
def test_battery_left_never_grows_while_mains_is_out(hold: float, loss: float, t1: float, t2: float) -> None:
    s = PowerSupply(battery_hold_up_s=hold)
    a, b = sorted((t1, t2))
    sa, sb = power_state(s, loss, a), power_state(s, loss, b)
    if sa.state == OFF and a >= loss:
        assert sb.state == OFF
    if sa.state == BATTERY and sb.state == BATTERY:
        assert sb.battery_left_s <= sa.battery_left_s


@pytest.mark.parametrize("kwargs", [
    {"battery_hold_up_s": -1.0}, {"generator_start_s": float("nan")},
    {"restore_at_s": -5.0}, {"battery_hold_up_s": "3h"}, {"generator_fuel_s": True},
])
def test_bad_power_supply_is_a_usage_error(kwargs: dict) -> None:
    with pytest.raises(UsageError, match="power\\."):
        PowerSupply(**kwargs)
