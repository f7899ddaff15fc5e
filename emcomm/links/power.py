"""Site power over time: mains → battery hold-up → off air → generator / mains restored.

Owns the power supply description of a site and the pure function giving its power
state at a time from when mains was lost. It does not decide *when* mains is lost
(hazards do, via ``emcomm.hazards.impact``) and reads no clock.

Typical figures: Chinese base stations hold up on batteries for 2–4 h after mains loss
(DESIGN.md; MIIT reports on the July 2021 Henan floods, where most sites went off air
once batteries ran out); a responder's laptop or terminal battery is a few hours.

Example
-------
>>> s = PowerSupply(mains=True, battery_hold_up_s=3 * 3600)
>>> power_state(s, mains_lost_at_s=1000.0, t_s=1000.0 + 3 * 3600).state
'off'
>>> power_state(s, mains_lost_at_s=1000.0, t_s=2000.0).battery_left_s
9800.0
"""

from __future__ import annotations

import dataclasses
import math

from emcomm.errors import UsageError

MAINS = "mains"
BATTERY = "battery"
GENERATOR = "generator"
OFF = "off"
STATES: tuple[str, ...] = (MAINS, BATTERY, GENERATOR, OFF)   # same values as hazards.base.PowerState


@dataclasses.dataclass(frozen=True)
class PowerSupply:
    """How a site is powered.

    ``mains=False`` means the site never had grid power: it runs on battery (then a
    generator, if any) from scenario start. ``restore_at_s`` brings mains back (or, for a
    site without mains, a generator brought in) at that time, if that is after the loss.
    ``generator_fuel_s`` limits generator run time (None: fuel assumed).
    """

    mains: bool = True
    battery_hold_up_s: float = 0.0
    generator: bool = False
    generator_start_s: float = 0.0
    restore_at_s: float | None = None
    generator_fuel_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("battery_hold_up_s", "generator_start_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not (value >= 0):
                raise UsageError(f"power.{name} must be a number ≥ 0 (seconds), got {value!r}")
        for name in ("restore_at_s", "generator_fuel_s"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or math.isnan(value) or value < 0):
                raise UsageError(f"power.{name} must be a number ≥ 0 (seconds) or absent, got {value!r}")


@dataclasses.dataclass(frozen=True)
class PowerStatus:
    state: str                       # one of STATES
    battery_left_s: float | None     # None unless on battery
    reason: str = ""


def _loss_time(supply: PowerSupply, mains_lost_at_s: float | None) -> float | None:
    if not supply.mains:
        return 0.0 if mains_lost_at_s is None else min(0.0, mains_lost_at_s)
    return mains_lost_at_s


def power_state(supply: PowerSupply, mains_lost_at_s: float | None, t_s: float) -> PowerStatus:
    """Power state of a site at ``t_s`` given when its mains was lost (None: never).

    The battery carries the site only while neither mains nor a generator does; it is
    empty — the site goes off air — exactly ``battery_hold_up_s`` of such time after the loss.

    >>> power_state(PowerSupply(), None, 5.0).state
    'mains'
    >>> power_state(PowerSupply(generator=True, generator_start_s=60), 0.0, 30.0).state
    'off'
    >>> power_state(PowerSupply(generator=True, generator_start_s=60), 0.0, 60.0).state
    'generator'
    """
    loss = _loss_time(supply, mains_lost_at_s)
    if loss is None or t_s < loss:
        return PowerStatus(MAINS, None)
    restore = supply.restore_at_s
    if restore is not None and restore >= loss and t_s >= restore:
        if supply.mains:
            return PowerStatus(MAINS, None, "mains restored")
        return PowerStatus(GENERATOR, None, "generator brought in")
    # times without any source since the loss: [loss, gen_on) and [gen_off, t)
    if supply.generator:
        gen_on = loss + supply.generator_start_s
        gen_off = math.inf if supply.generator_fuel_s is None else gen_on + supply.generator_fuel_s
        if gen_on <= t_s < gen_off:
            return PowerStatus(GENERATOR, None, "mains lost; on generator")
        used = min(t_s, gen_on) - loss + max(0.0, t_s - gen_off)
    else:
        used = t_s - loss
    left = supply.battery_hold_up_s - used
    if left > 0:
        return PowerStatus(BATTERY, left, "mains lost; on battery")
    why = "no mains and no battery" if supply.battery_hold_up_s == 0 else "mains lost; battery exhausted"
    if supply.generator and t_s >= loss + supply.generator_start_s:
        why = "mains lost; generator out of fuel, battery exhausted"
    return PowerStatus(OFF, None, why)


def off_air_at_s(supply: PowerSupply, mains_lost_at_s: float | None) -> float | None:
    """First time the site goes off air after a mains loss (None: it never does).

    >>> off_air_at_s(PowerSupply(battery_hold_up_s=7200), 3600.0)
    10800.0
    """
    loss = _loss_time(supply, mains_lost_at_s)
    if loss is None:
        return None
    end = supply.restore_at_s if (supply.restore_at_s is not None and supply.restore_at_s >= loss) else math.inf
    if supply.generator:
        gen_on = loss + supply.generator_start_s
        if supply.battery_hold_up_s < supply.generator_start_s:
            off = loss + supply.battery_hold_up_s
        elif supply.generator_fuel_s is None:
            return None
        else:
            off = gen_on + supply.generator_fuel_s + (supply.battery_hold_up_s - supply.generator_start_s)
    else:
        off = loss + supply.battery_hold_up_s
    return off if off < end else None
