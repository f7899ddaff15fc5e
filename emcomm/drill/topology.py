"""Drill topology: which scenario nodes run a node core, and the links between those cores.

This module owns one decision of the drill engine: infrastructure (base stations) runs no
emcomm software, so a path through it is one *composite* link between the two node cores
at its ends. A team's cellular link to a base station plus that base station's fibre
backhaul to the command centre become one ``cellular`` link team ↔ command centre, up
while at least one of its (access, backhaul) pairs is up end to end, with the latencies
added, the bottleneck rate and MTU, the losses combined and the costs added. A team
connected to two base stations gets one composite link with two alternatives. Links
between two core-running nodes are used as they are. Only an access link paired with a
fibre backhaul makes a composite: two phones on one cell still talk through the backhaul. It evaluates no hazards (the engine
reads link states from the impact model) and keeps no state over time.

Example
-------
>>> from emcomm.drill.scenario import load_scenario
>>> sc = load_scenario("tests/data/tiny.toml")                    # doctest: +SKIP
>>> [(l.id, l.kind.value, l.a, l.b) for l in drill_links(sc)][:1]  # doctest: +SKIP
[('t1-tt', 'tiantong', 't1', 'cc')]
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from emcomm.drill.scenario import Link, Scenario
from emcomm.links.profiles import LinkKind, LinkProfile

CORE_ROLES: frozenset[str] = frozenset({"command", "team", "relay", "sensor", "hub", "uav"})
"""Roles whose nodes run emcomm (a node core each). Everything else is infrastructure."""


@dataclasses.dataclass(frozen=True)
class DrillLink:
    """A link between two node cores.

    ``via`` lists the scenario link ids behind it: one tuple with the link itself for a
    direct link, or one ``(access, backhaul)`` pair per alternative through infrastructure.
    """

    id: str
    kind: LinkKind
    a: str
    b: str
    profile: LinkProfile
    via: tuple[tuple[str, ...], ...]

    @property
    def composite(self) -> bool:
        return len(self.via[0]) > 1


def core_nodes(scenario: Scenario) -> list[str]:
    """Ids of the scenario nodes that run a node core, in file order."""
    return [n.id for n in scenario.nodes if n.role in CORE_ROLES]


def _chain(access: LinkProfile, backhaul: LinkProfile) -> LinkProfile:
    # the composite keeps the access link's kind, exposures and terminal figures
    return dataclasses.replace(
        access,
        rate_up_bps=min(access.rate_up_bps, backhaul.rate_up_bps),
        rate_down_bps=min(access.rate_down_bps, backhaul.rate_down_bps),
        latency_s=access.latency_s + backhaul.latency_s,
        mtu_bytes=min(access.mtu_bytes, backhaul.mtu_bytes),
        loss=1.0 - (1.0 - access.loss) * (1.0 - backhaul.loss),
        cost_per_mb_cny=access.cost_per_mb_cny + backhaul.cost_per_mb_cny,
    )


def drill_links(scenario: Scenario) -> list[DrillLink]:
    """The links between node cores: direct links first (file order), then composites.

    A composite is named ``"<a>~<b>/<kind>"`` (``a`` the access side). When one node pair
    is joined through several infrastructure nodes, the alternatives are kept in file
    order and the profile is that of the first one.
    """
    roles = {n.id: n.role for n in scenario.nodes}
    runs = {nid for nid, r in roles.items() if r in CORE_ROLES}
    out: list[DrillLink] = []
    infra_links: dict[str, list[Link]] = {}
    for link in scenario.links:
        if link.a in runs and link.b in runs:
            out.append(DrillLink(link.id, link.kind, link.a, link.b, link.profile, ((link.id,),)))
            continue
        for end in (link.a, link.b):
            if end not in runs:
                infra_links.setdefault(end, []).append(link)
    composites: dict[tuple[str, str, LinkKind], list[tuple[Link, Link]]] = {}
    for infra, links in infra_links.items():
        for i, first in enumerate(links):
            u = first.b if first.a == infra else first.a
            if u not in runs:
                continue
            for second in links[i + 1:]:
                v = second.b if second.a == infra else second.a
                if v not in runs or v == u or (first.kind is LinkKind.FIBRE) == (second.kind is LinkKind.FIBRE):
                    continue          # two phones on one cell still need the station's backhaul
                access, backhaul, a, b = _orient(first, second, u, v)
                composites.setdefault((a, b, access.kind), []).append((access, backhaul))
    for (a, b, kind), pairs in composites.items():
        access, backhaul = pairs[0]
        out.append(DrillLink(f"{a}~{b}/{kind.value}", kind, a, b, _chain(access.profile, backhaul.profile),
                             tuple((x.id, y.id) for x, y in pairs)))
    return out


def _orient(first: Link, second: Link, u: str, v: str) -> tuple[Link, Link, str, str]:
    # the access side is the non-fibre link (the team's radio or cellular hop); ties keep file order
    if first.kind is LinkKind.FIBRE and second.kind is not LinkKind.FIBRE:
        return second, first, v, u
    return first, second, u, v


def link_kinds(links: Sequence[DrillLink]) -> list[str]:
    """The kinds present, in LinkKind order (stable keys for reports)."""
    present = {l.kind for l in links}
    return [k.value for k in LinkKind if k in present]
