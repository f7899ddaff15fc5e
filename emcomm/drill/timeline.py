"""A scenario's situation over time: links up by kind, node power, connectivity, who the command centre reaches.

This module owns the per-time-step summary a trainer reads before a drill: for each step,
how many links of each kind are up (and how much capacity is left), nodes by power state,
base stations on air, graph components, which teams are cut off from the command centre
and which link kinds carry the command centre's reach (the kind of the last hop into each
team on the lowest-latency path). It evaluates hazards only through the scenario's impact
model and never prints (``emcomm.cli.scenario_cmd`` formats rows).

Example
-------
>>> sc = load_scenario("tests/data/tiny.toml")               # doctest: +SKIP
>>> [r.teams_reached for r in timeline(sc)]                   # doctest: +SKIP
[3, 3, 1, 1, 1]
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Mapping, Protocol, Sequence

import networkx as nx

from emcomm.drill.scenario import Scenario
from emcomm.hazards.base import PowerState
from emcomm.hazards.impact import Impact, LinkState
from emcomm.links.profiles import LinkKind
from emcomm.router import attrs as A
from emcomm.router.graph import build_graph

COMMAND_ROLE = "command"
TEAM_ROLE = "team"
BASE_STATION_ROLE = "base_station"
NO_LEO_REASON = "no LEO satellite in view"


class ImpactSource(Protocol):
    def at(self, t_s: float) -> Impact: ...


@dataclasses.dataclass(frozen=True)
class KindState:
    up: int
    total: int
    capacity: float      # mean capacity factor over all links of the kind (down links count 0)


@dataclasses.dataclass(frozen=True)
class TimelineRow:
    t_s: float
    links: Mapping[str, KindState]          # link kind → state, kinds in LinkKind order
    power: Mapping[str, int]                # PowerState value → node count
    roles_up: Mapping[str, tuple[int, int]]  # role → (nodes up, nodes)
    components: int                         # connected components of the up graph (nodes that are up)
    teams: int
    teams_reached: int
    cut_off: tuple[str, ...]                # teams the command centre cannot reach
    via: Mapping[str, int]                  # link kind of the last hop into each reached team → teams

    @property
    def base_station_outage(self) -> float:
        """Share of base stations off air (0 when the scenario has none)."""
        up, total = self.roles_up.get(BASE_STATION_ROLE, (0, 0))
        return (total - up) / total if total else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "t_s": self.t_s,
            "links": {k: dataclasses.asdict(v) for k, v in self.links.items()},
            "power": dict(self.power),
            "roles_up": {k: {"up": u, "total": t} for k, (u, t) in self.roles_up.items()},
            "base_station_outage": self.base_station_outage,
            "components": self.components,
            "teams": self.teams,
            "teams_reached": self.teams_reached,
            "cut_off": list(self.cut_off),
            "via": dict(self.via),
        }


def impact_at(scenario: Scenario, model: ImpactSource, t_s: float) -> Impact:
    """The impact model's answer at ``t_s`` with the scenario's LEO coverage applied.

    A LEO link is down while no LEO satellite of the scenario serves its first end
    (outside every pass window, or beyond the shell's reach).
    """
    impact = model.at(t_s)
    leo = [link for link in scenario.links if link.kind is LinkKind.LEO]
    if not leo:
        return impact
    sites = {n.id: n.site for n in scenario.nodes}
    changed: dict[str, LinkState] = {}
    for link in leo:
        if not scenario.leo_in_view(sites[link.a].lat_deg, t_s):
            old = impact.links.get(link.id)
            changed[link.id] = LinkState(False, 0.0, old.extra_loss if old else 0.0,
                                         old.extra_latency_s if old else 0.0, NO_LEO_REASON)
    if not changed:
        return impact
    return Impact(impact.t_s, impact.nodes, {**impact.links, **changed})


def graph_at(scenario: Scenario, model: ImpactSource, t_s: float) -> nx.MultiGraph:
    """The topology MultiGraph of the scenario at ``t_s``, hazards applied."""
    return build_graph(scenario.node_specs(), scenario.link_specs(), impact_at(scenario, model, t_s),
                       names=scenario.names())


def summarise(scenario: Scenario, g: nx.MultiGraph, t_s: float) -> TimelineRow:
    """One timeline row from the graph at ``t_s``."""
    kinds = [k.value for k in LinkKind]
    up_n: Counter[str] = Counter()
    tot_n: Counter[str] = Counter()
    cap: Counter[str] = Counter()
    for _, _, d in g.edges(data=True):
        kind = d[A.EDGE_KIND]
        tot_n[kind] += 1
        if d[A.EDGE_UP]:
            up_n[kind] += 1
            cap[kind] += d[A.EDGE_CAPACITY_FACTOR]
    links = {k: KindState(up_n[k], tot_n[k], cap[k] / tot_n[k]) for k in kinds if tot_n[k]}

    power: Counter[str] = Counter()
    roles_tot: Counter[str] = Counter()
    roles_up: Counter[str] = Counter()
    for _, d in g.nodes(data=True):
        power[d[A.NODE_POWER]] += 1
        roles_tot[d[A.NODE_ROLE]] += 1
        roles_up[d[A.NODE_ROLE]] += bool(d[A.NODE_UP])
    power_order = [p.value for p in PowerState]

    up_nodes = [n for n, d in g.nodes(data=True) if d[A.NODE_UP]]
    best = _best_edges(g, up_nodes)
    components = nx.number_connected_components(best)

    commands = [n for n in up_nodes if g.nodes[n][A.NODE_ROLE] == COMMAND_ROLE]
    teams = [n.id for n in scenario.nodes if n.role == TEAM_ROLE]
    via: Counter[str] = Counter()
    cut: list[str] = []
    paths: Mapping[str, list[str]] = {}
    if commands:
        _, paths = nx.multi_source_dijkstra(best, commands, weight=A.EDGE_LATENCY_S)
    for team in teams:
        path = paths.get(team)
        if path is None or len(path) < 2:
            if path is None:
                cut.append(team)
            continue
        via[best.edges[path[-2], path[-1]][A.EDGE_KIND]] += 1
    reached = len(teams) - len(cut)
    return TimelineRow(
        t_s=t_s,
        links=links,
        power={p: power[p] for p in power_order if power[p]},
        roles_up={r: (roles_up[r], roles_tot[r]) for r in sorted(roles_tot)},
        components=components,
        teams=len(teams),
        teams_reached=reached,
        cut_off=tuple(cut),
        via=dict(sorted(via.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _best_edges(g: nx.MultiGraph, up_nodes: Sequence[str]) -> nx.Graph:
    """A simple graph of the up nodes keeping, per node pair, the up link of least latency."""
    best = nx.Graph()
    best.add_nodes_from(up_nodes)
    for u, v, d in g.edges(data=True):
        if not d[A.EDGE_UP] or u not in best or v not in best:
            continue
        old = best.get_edge_data(u, v)
        if old is None or d[A.EDGE_LATENCY_S] < old[A.EDGE_LATENCY_S]:
            best.add_edge(u, v, **{A.EDGE_LATENCY_S: d[A.EDGE_LATENCY_S], A.EDGE_KIND: d[A.EDGE_KIND]})
    return best


def timeline(scenario: Scenario, step_s: float | None = None, model: ImpactSource | None = None) -> list[TimelineRow]:
    """One row per time step from 0 to the scenario's duration (``step_s`` defaults to the file's).

    ``model`` defaults to the scenario's own impact model; pass another to replay a
    recorded or hand-made impact.
    """
    model = model if model is not None else scenario.impact_model()
    return [summarise(scenario, graph_at(scenario, model, t), t) for t in scenario.times_s(step_s)]
