"""The contract every hazard model follows, and the plain data it produces.

A hazard answers two questions at a simulated time ``t_s`` (seconds since the scenario
start): what are the *conditions* at a point (rain rate, wind, water depth, fire,
shaking), and is a given *site* damaged. The impact model (``emcomm.hazards.impact``)
turns conditions and damage into per-link and per-node state using the link profiles
and propagation models. Hazards never read a clock and draw randomness only from an
explicit seed (``site_uniform``), so a run is exactly reproducible.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import struct
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class Site:
    """A place where equipment stands: a node, or one end of a link."""

    id: str
    lat_deg: float
    lon_deg: float
    coastal: bool = False        # exposed to storm surge
    elevation_m: float = 0.0     # ground height above local datum (for flooding)


@dataclasses.dataclass(frozen=True)
class Conditions:
    """Environmental conditions at one point and time (all zero = fair weather)."""

    rain_rate_mm_h: float = 0.0
    wind_speed_m_s: float = 0.0
    water_depth_m: float = 0.0
    in_fire: bool = False
    intensity_mmi: float = 0.0   # shaking intensity (China seismic intensity ≈ MMI scale)

    def combine(self, other: "Conditions") -> "Conditions":
        """Two hazards at once: take the worse of each condition."""
        return Conditions(
            rain_rate_mm_h=max(self.rain_rate_mm_h, other.rain_rate_mm_h),
            wind_speed_m_s=max(self.wind_speed_m_s, other.wind_speed_m_s),
            water_depth_m=max(self.water_depth_m, other.water_depth_m),
            in_fire=self.in_fire or other.in_fire,
            intensity_mmi=max(self.intensity_mmi, other.intensity_mmi),
        )


class PowerState(str, enum.Enum):
    MAINS = "mains"
    BATTERY = "battery"
    GENERATOR = "generator"
    OFF = "off"


@dataclasses.dataclass(frozen=True)
class Damage:
    """What a hazard did to a site's equipment, as of a time."""

    equipment_destroyed: bool = False   # towers/cabinets/cables down: no power helps
    mains_lost: bool = False            # grid power gone at this site
    reason: str = ""


class Hazard(Protocol):
    """A hazard model. Implementations are frozen dataclasses built from scenario data."""

    name: str

    def conditions(self, lat_deg: float, lon_deg: float, t_s: float) -> Conditions:
        """Conditions at a point at time ``t_s``."""
        ...

    def damage(self, site: Site, t_s: float, seed: int) -> Damage:
        """Damage to a site's fixed equipment as of ``t_s`` (monotone in time: once
        destroyed, destroyed until the model says it is repaired)."""
        ...


def site_uniform(seed: int, *key: object) -> float:
    """A reproducible uniform number in [0, 1) for (seed, key...), e.g. a site's damage draw.

    Independent of call order, so asking about sites in any order, at any time,
    gives the same answers for the same seed.

    >>> site_uniform(1, "quake", "bs-17") == site_uniform(1, "quake", "bs-17")
    True
    """
    h = hashlib.blake2b(repr((seed,) + key).encode(), digest_size=8).digest()
    return struct.unpack("<Q", h)[0] / 2.0**64
