"""The demo mesh plan: one relay node process per scenario site, one emulated link per scenario link.

Owns turning a loaded ``Scenario`` into node configurations (ids, free loopback ports,
data directories, neighbours with the scenario's link ids and profiles) and writing them
as node.toml files. It starts nothing and reads no clock.

Accelerated time: the hazard script runs ``speed`` times faster than the wall clock, but
the emulated links run in real time. A link with a minimum send interval (a Beidou card
sends once per 60 s) would then look frozen for hours of scenario time, so its interval is
divided by ``speed`` too (never below ``MIN_INTERVAL_FLOOR_S``) and its rate multiplied by the
same factor (one full message per slot, as before); every other figure keeps its profile value.

Example
-------
>>> from emcomm.links.profiles import make_profile
>>> compressed_interval_s(make_profile("beidou"), speed=30.0)
2.0
>>> compressed_interval_s(make_profile("tiantong"), speed=30.0)
0.0
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

from emcomm.drill.scenario import Scenario
from emcomm.errors import UsageError
from emcomm.links.profiles import LinkProfile
from emcomm.node.enrolment import SCRIPTED_RATE_LIMITS
from emcomm.priority import Priority

MIN_INTERVAL_FLOOR_S = 1.0

# Security (on unless --insecure): every site is a rostered terminal, every message signed,
# every link CURVE. The roster's role table says who may originate which class: in the scenario
# field teams and the river-level sensor raise life-safety calls (FLASH), relays, base stations
# and the UAV only carry traffic. The command centre's duty desk (the map, the demo's own
# watcher) holds a rostered key of its own to subscribe to the nodes' telemetry.
DEMO_ROLES = {"authority": int(Priority.FLASH), "commander": int(Priority.FLASH), "field-team": int(Priority.FLASH),
              "flood-sensor": int(Priority.FLASH), "relay-only": int(Priority.ROUTINE)}
ROSTER_ROLE = {"command": "commander", "team": "field-team", "sensor": "flood-sensor"}   # any other: relay-only
DESK = "cc-desk"


class LoopbackNode:
    """The node's peer listener and local API on 127.0.0.1, from its ``listen_port`` and
    ``api_port`` fields (for the plans of meshes run on this machine: demo, chaos)."""

    listen_port: int
    api_port: int

    @property
    def listen(self) -> str:
        return f"tcp://127.0.0.1:{self.listen_port}"

    @property
    def api(self) -> str:
        return f"tcp://127.0.0.1:{self.api_port}"


@dataclasses.dataclass(frozen=True)
class DemoNode(LoopbackNode):
    id: str
    name: str
    role: str
    lat_deg: float
    lon_deg: float
    listen_port: int
    api_port: int
    telemetry_port: int

    @property
    def telemetry(self) -> str:
        return f"tcp://127.0.0.1:{self.telemetry_port}"


@dataclasses.dataclass(frozen=True)
class DemoLink:
    id: str
    kind: str
    a: str
    b: str
    profile: LinkProfile
    min_interval_s: float          # after compression for accelerated time


@dataclasses.dataclass(frozen=True)
class DemoPlan:
    scenario: Scenario
    nodes: tuple[DemoNode, ...]
    links: tuple[DemoLink, ...]
    speed: float

    def node(self, node_id: str) -> DemoNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise UsageError(f"no node {node_id!r} in the demo mesh")

    def link(self, link_id: str) -> DemoLink:
        for l in self.links:
            if l.id == link_id:
                return l
        raise UsageError(f"no link {link_id!r} in the demo mesh")

    def command_ids(self) -> list[str]:
        return [n.id for n in self.nodes if n.role == "command"]


def compressed_interval_s(profile: LinkProfile, speed: float) -> float:
    """A link's minimum send interval on the demo's accelerated clock (0 stays 0)."""
    if profile.min_interval_s <= 0:
        return 0.0
    return max(MIN_INTERVAL_FLOOR_S, profile.min_interval_s / speed)


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held open together, so no repeats)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


MAX_NODES = 40   # every node is a process: keep the demo within what a laptop runs comfortably


def make_plan(scenario: Scenario, speed: float, ports: list[int] | None = None) -> DemoPlan:
    """Nodes and links of the demo mesh for ``scenario`` with free ports (or the ``ports`` given,
    three per node).

    >>> from emcomm.drill.scenario import load_scenario       # doctest: +SKIP
    >>> make_plan(load_scenario("drills/demo_lekima_2019.toml"), speed=600).nodes[0].id  # doctest: +SKIP
    'cc'
    """
    if not speed > 0:
        raise UsageError(f"the demo speed must be a positive factor, got {speed!r}")
    if len(scenario.nodes) > MAX_NODES:
        raise UsageError(f"scenario {scenario.path} has {len(scenario.nodes)} sites; the demo runs one process per "
                         f"site and takes at most {MAX_NODES}: use a compact scenario such as drills/demo_lekima_2019.toml")
    if not any(n.role == "command" for n in scenario.nodes):
        raise UsageError(f"scenario {scenario.path} has no node with role = \"command\"; the demo reports to it")
    ports = ports if ports is not None else free_ports(3 * len(scenario.nodes))
    nodes = tuple(DemoNode(n.id, n.name, n.role, n.site.lat_deg, n.site.lon_deg, *ports[3 * i:3 * i + 3])
                  for i, n in enumerate(scenario.nodes))
    links = tuple(DemoLink(l.id, l.kind.value, l.a, l.b, l.profile, compressed_interval_s(l.profile, speed))
                  for l in scenario.links)
    return DemoPlan(scenario, nodes, links, float(speed))


def write_keys(plan: DemoPlan, keys_dir: Path) -> None:
    """Enrol every site and the duty desk: identities and the signed roster in ``keys_dir``."""
    from emcomm.node.enrolment import Member, enrol_mesh

    if any(n.id == DESK for n in plan.nodes):
        raise UsageError(f"scenario {plan.scenario.path} has a site called {DESK!r}, the demo's duty desk: rename it")
    members = [Member(n.id, ROSTER_ROLE.get(n.role, "relay-only"), f"Operator, {n.name}") for n in plan.nodes]
    enrol_mesh(keys_dir, [*members, Member(DESK, "commander", "Duty officer, command centre")],
               org="emcomm demo drill", roles=DEMO_ROLES)


def node_toml(plan: DemoPlan, node_id: str, data_dir: Path, seed: int, keys_dir: Path | None = None) -> str:
    """The node.toml of one demo node (its neighbours carry the scenario's link ids and profiles);
    with ``keys_dir`` (see ``write_keys``) the node runs with its identity and the roster."""
    n = plan.node(node_id)
    lines = [f'id = "{n.id}"', f'listen = "{n.listen}"', f'api = "{n.api}"', f'telemetry = "{n.telemetry}"',
             f'data_dir = "{data_dir.as_posix()}"', "emulation = true", f"seed = {seed}"]
    if keys_dir is not None:
        lines += [f'identity = "{(keys_dir / n.id).as_posix()}"', f'roster = "{(keys_dir / "roster.json").as_posix()}"',
                  f"rate_limits = {SCRIPTED_RATE_LIMITS}"]
    for l in plan.links:
        if n.id not in (l.a, l.b):
            continue
        other = plan.node(l.b if l.a == n.id else l.a)
        p = l.profile
        factor = p.min_interval_s / l.min_interval_s if l.min_interval_s > 0 else 1.0
        overrides = {"rate_up_bps": p.rate_up_bps * factor, "rate_down_bps": p.rate_down_bps * factor, "latency_s": p.latency_s,
                     "mtu_bytes": p.mtu_bytes, "min_interval_s": l.min_interval_s, "loss": p.loss,
                     "cost_per_mb_cny": p.cost_per_mb_cny}
        lines += ["", "[[neighbour]]", f'id = "{other.id}"', f'endpoint = "{other.listen}"', f'kind = "{l.kind}"',
                  f'link_id = "{l.id}"', "[neighbour.overrides]"]
        lines += [f"{k} = {v!r}" for k, v in overrides.items()]
    return "\n".join(lines) + "\n"
