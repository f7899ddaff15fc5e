"""Impact: hazards + link profiles + power supplies → per-link and per-node state at a time.

This module owns the *combination* of hazard conditions, propagation physics and site
power into the state the router and the UI consume. Hazard models themselves live in
their own modules; the physics in ``emcomm.links.propagation`` and ``emcomm.links.power``.

Contract (used by scenarios, the topology builder, drills and the UI):

>>> model = ImpactModel(nodes, links, hazards, seed=1)          # doctest: +SKIP
>>> impact = model.at(3600.0)                                    # doctest: +SKIP
>>> impact.links["cc-tt-1"].up, impact.nodes["bs-3"].power       # doctest: +SKIP

``at`` may be called with increasing or arbitrary times; the answer for a time depends
only on (inputs, seed, time), never on the order of calls.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from emcomm.hazards.base import Hazard, PowerState, Site
from emcomm.links.profiles import LinkProfile


@dataclasses.dataclass(frozen=True)
class PowerSupply:
    """How a node's site is powered."""

    mains: bool = True               # connected to the grid
    battery_hold_up_s: float = 0.0   # how long batteries carry the site after mains loss
    generator: bool = False          # a generator starts after mains loss (fuel assumed)
    generator_start_s: float = 0.0   # delay before a generator carries the load
    restore_at_s: float | None = None  # mains restored (or a generator brought in) at this time


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    site: Site
    role: str                        # command, team, relay, sensor, base_station, hub, uav
    power: PowerSupply = PowerSupply()


@dataclasses.dataclass(frozen=True)
class LinkSpec:
    id: str
    a: str                           # node id
    b: str                           # node id
    profile: LinkProfile
    active_from_s: float = 0.0       # e.g. a UAV relay that arrives later
    active_until_s: float | None = None


@dataclasses.dataclass(frozen=True)
class NodeState:
    up: bool
    power: PowerState
    battery_left_s: float | None     # None when not on battery
    reason: str = ""                 # why it is down / on battery


@dataclasses.dataclass(frozen=True)
class LinkState:
    up: bool
    capacity_factor: float           # 0..1 of the profile's rates still available
    extra_loss: float                # added frame loss probability
    extra_latency_s: float
    reason: str = ""                 # why down or degraded ("" in fair conditions)


@dataclasses.dataclass(frozen=True)
class Impact:
    t_s: float
    nodes: Mapping[str, NodeState]
    links: Mapping[str, LinkState]


class ImpactModel:
    """Evaluates node and link state at any time for one scenario and seed."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec],
        links: Sequence[LinkSpec],
        hazards: Sequence[Hazard],
        seed: int,
        geo_longitudes_deg: Sequence[float] = (),
    ) -> None:
        raise NotImplementedError("filled in by the hazard impact work")

    def at(self, t_s: float) -> Impact:
        raise NotImplementedError
