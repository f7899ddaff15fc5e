"""Drill policies: the named ways of running the same scenario that a trainer compares.

This module owns the table of drill policies: for each name, the routing policy the node
cores use (which priority may use which link kind, from ``emcomm.router.policy``) and the
link kinds the operators take down on purpose (e.g. Ka dishes stowed at the first fade).
It computes no routes and evaluates no hazards; the engine applies what it says.

Example
-------
>>> p = get_policy("terrestrial-only")
>>> from emcomm.links.profiles import LinkKind
>>> p.routing.use_of("flash", LinkKind.TIANTONG).name
'NEVER'
>>> sorted(POLICIES)[:2]
['satellite-aware', 'stow-ka']
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from emcomm.errors import UsageError
from emcomm.links.profiles import LinkKind
from emcomm.priority import Priority
from emcomm.router.policy import RoutingPolicy, Use

SATELLITE_KINDS: tuple[LinkKind, ...] = (
    LinkKind.TIANTONG, LinkKind.HTS, LinkKind.BEIDOU_RDSS, LinkKind.BEIDOU_GLOBAL, LinkKind.LEO,
)


@dataclasses.dataclass(frozen=True)
class DrillPolicy:
    """A named way of running a drill.

    ``routing`` is handed to every node core. ``stow_on_fade`` lists link kinds whose
    terminals are stowed (taken down) whenever the hazard degrades them at all, instead
    of running on with a reduced rate.
    """

    name: str
    description: str
    routing: RoutingPolicy
    stow_on_fade: frozenset[LinkKind] = frozenset()

    def usable_kinds(self, priority: Priority | int = Priority.FLASH) -> frozenset[LinkKind]:
        """Link kinds class ``priority`` may use at all (allowed or last resort)."""
        return frozenset(k for k in LinkKind if self.routing.use_of(priority, k) is not Use.NEVER)


def _without(kinds: tuple[LinkKind, ...]) -> RoutingPolicy:
    policy = RoutingPolicy.default()
    for p in Priority:
        for k in kinds:
            policy = policy.with_use(p, k, Use.NEVER)
    return policy


POLICIES: Mapping[str, DrillPolicy] = {
    "satellite-aware": DrillPolicy(
        "satellite-aware",
        "the default routing table: every class may fall back to Tiantong, Beidou, HTS and LEO "
        "(scarce kinds kept for the urgent classes)",
        RoutingPolicy.default(),
    ),
    "terrestrial-only": DrillPolicy(
        "terrestrial-only",
        "what a network without satellite fallback does: cellular, fibre, radio and UAV relays only",
        _without(SATELLITE_KINDS),
    ),
    "stow-ka": DrillPolicy(
        "stow-ka",
        "satellite-aware routing, but Ka-band HTS dishes are stowed at the first sign of rain fade "
        "or wind instead of running degraded",
        RoutingPolicy.default(),
        frozenset({LinkKind.HTS}),
    ),
}
DEFAULT_POLICY = "satellite-aware"


def get_policy(name: str) -> DrillPolicy:
    """The policy called ``name``; a UsageError lists the known names otherwise.

    >>> get_policy("stow-ka").stow_on_fade == frozenset({LinkKind.HTS})
    True
    """
    try:
        return POLICIES[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown drill policy {name!r}; expected one of: {', '.join(POLICIES)}") from None


def parse_policies(text: str) -> list[DrillPolicy]:
    """A comma-separated list of policy names (at least one, no repeats).

    >>> [p.name for p in parse_policies("satellite-aware, terrestrial-only")]
    ['satellite-aware', 'terrestrial-only']
    """
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise UsageError(f"give one or more policies separated by commas, e.g. {','.join(POLICIES)}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError(f"policy {dup[0]!r} is named twice in {text!r}")
    return [get_policy(n) for n in names]
