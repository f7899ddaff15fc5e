"""When a hazard first destroys a site's equipment or cuts its mains: one plain record per site.

Owns the ``Onset`` record and the equipment classes hazards distinguish. A hazard that
knows its onset times answers ``damage`` at any time from them, which makes damage
monotone in time and independent of the order questions are asked in. No hazard logic here.
"""

from __future__ import annotations

import dataclasses

from emcomm.hazards.base import Damage

# Equipment classes a hazard may treat differently (fragility, water depth...).
SITE = "site"                  # a node's own equipment: laptop, terminal, shelter
BASE_STATION = "base_station"  # a cellular base station (tower, cabinet, rectifier, batteries)
FIBRE = "fibre"                # a buried or aerial fibre run (checked at its midpoint and ends)
EQUIPMENT_CLASSES: tuple[str, ...] = (SITE, BASE_STATION, FIBRE)


@dataclasses.dataclass(frozen=True)
class Onset:
    """Times (scenario seconds) at which a site's equipment is destroyed / its mains lost.

    >>> Onset(destroyed_at_s=60.0, reason="water 1.2 m").damage_at(30.0).equipment_destroyed
    False
    >>> Onset(destroyed_at_s=60.0, reason="water 1.2 m").damage_at(60.0).equipment_destroyed
    True
    """

    destroyed_at_s: float | None = None
    mains_lost_at_s: float | None = None
    reason: str = ""

    def damage_at(self, t_s: float) -> Damage:
        destroyed = self.destroyed_at_s is not None and t_s >= self.destroyed_at_s
        mains = destroyed or (self.mains_lost_at_s is not None and t_s >= self.mains_lost_at_s)
        return Damage(equipment_destroyed=destroyed, mains_lost=mains,
                      reason=self.reason if (destroyed or mains) else "")

    def earliest(self, other: "Onset") -> "Onset":
        """Two hazards on one site: each effect happens at the earlier of the two times."""
        d = _min(self.destroyed_at_s, other.destroyed_at_s)
        m = _min(self.mains_lost_at_s, other.mains_lost_at_s)
        first = _min(d, m)
        mine = _min(self.destroyed_at_s, self.mains_lost_at_s)
        reason = self.reason if (first is not None and mine == first) else other.reason
        return Onset(d, m, reason if first is not None else "")


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


NEVER = Onset()
