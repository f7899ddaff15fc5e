"""The hazard script: the scenario's impact model sampled over time, as the changes to apply.

Owns the list of ``Change``s (a link's conditions or a site's power changing at a
scenario time) and the narration line of each. It computes them once, up front, from
``emcomm.hazards.impact``; it applies nothing, talks to no node and reads no clock.

Small wobbles are not changes: a link's capacity must move by ``CAPACITY_STEP`` or more, and
LEO coverage gaps shorter than ``LEO_GAP_MIN_S`` (slot-by-slot draws) are smoothed over,
so the narration tells the story rather than every 15 s handover.

Example
-------
>>> from emcomm.drill.scenario import load_scenario                       # doctest: +SKIP
>>> changes = build_script(load_scenario("drills/demo_lekima_2019.toml"), step_s=600)  # doctest: +SKIP
>>> changes[0].kind                                                        # doctest: +SKIP
'node'
"""

from __future__ import annotations

import dataclasses
import math

from emcomm.drill.scenario import Scenario
from emcomm.errors import UsageError

CAPACITY_STEP = 0.1
LEO_GAP_MIN_S = 1800.0


@dataclasses.dataclass(frozen=True)
class LinkCondition:
    up: bool
    capacity_factor: float
    extra_loss: float
    extra_latency_s: float
    reason: str


@dataclasses.dataclass(frozen=True)
class Change:
    """At ``t_s`` link or node ``id`` changes; ``text`` says what happened in plain words."""

    t_s: float
    kind: str                          # "link" or "node"
    id: str
    text: str
    link: LinkCondition | None = None  # for links: the new conditions
    power: str = ""                    # for nodes: mains, battery, generator, off
    node_up: bool = True
    battery_left_s: float | None = None


def _power_text(node_id: str, name: str, up: bool, reason: str) -> str:
    who = f"{node_id} ({name})" if name and name != node_id else node_id
    return f"{who} OFF AIR: {reason}" if not up else f"{who}: {reason or 'on mains'}"


def _link_text(link_id: str, kind: str, old: LinkCondition | None, new: LinkCondition) -> str:
    if not new.up:
        return f"link {link_id} ({kind}) DOWN: {new.reason or 'no service'}"
    if old is not None and not old.up:
        tail = f" at {new.capacity_factor:.0%} capacity ({new.reason})" if new.capacity_factor < 0.95 else ""
        return f"link {link_id} ({kind}) back UP{tail}"
    return f"link {link_id} ({kind}) at {new.capacity_factor:.0%} capacity: {new.reason or 'fair conditions'}"


def build_script(scenario: Scenario, step_s: float) -> list[Change]:
    """Every change of site power and link condition from t = 0 to the end, in time order.

    The first entries (t = 0) give every link's and site's starting state.
    """
    if not (step_s > 0 and math.isfinite(step_s)):
        raise UsageError(f"the script step must be a positive number of seconds, got {step_s!r}")
    model = scenario.impact_model()
    names = scenario.names()
    kinds = {l.id: l.kind.value for l in scenario.links}
    times = scenario.times_s(step_s)
    samples = [model.at(t) for t in times]
    changes: list[Change] = []
    last_node: dict[str, tuple[bool, str]] = {}
    last_link: dict[str, LinkCondition] = {}
    for i, (t, im) in enumerate(zip(times, samples)):
        for nid, ns in im.nodes.items():
            key = (ns.up, ns.power.value)
            if last_node.get(nid) != key:
                last_node[nid] = key
                changes.append(Change(t, "node", nid, _power_text(nid, names.get(nid, nid), ns.up, ns.reason),
                                      power=ns.power.value, node_up=ns.up, battery_left_s=ns.battery_left_s))
        for lid, ls in im.links.items():
            new = LinkCondition(ls.up, round(ls.capacity_factor, 2) if ls.up else 0.0, round(ls.extra_loss, 3),
                                round(ls.extra_latency_s, 3), ls.reason)
            old = last_link.get(lid)
            if old is not None and not new.up and "LEO satellite in view" in new.reason:
                # a short coverage gap: down only if it lasts LEO_GAP_MIN_S
                n = int(LEO_GAP_MIN_S // step_s)
                ahead = [s.links[lid] for s in samples[i:i + n + 1]]
                if len(ahead) <= n or any(a.up for a in ahead):
                    continue
            if old is None or old.up != new.up or (new.up and abs(old.capacity_factor - new.capacity_factor) >= CAPACITY_STEP):
                last_link[lid] = new
                changes.append(Change(t, "link", lid, _link_text(lid, kinds[lid], old, new), link=new))
    return changes
