"""The chaos mesh: which nodes (command centre, relays, teams, a sensor), which links of which
kind join them, and each node's node.toml, identity and the signed roster.

Owns the shape of the mesh and writing its files. It starts no process and reads no clock.
Every link kind appears at least once with 8 nodes or more; every team and the sensor have
two links to different nodes, so killing one relay never cuts anyone off for good.

Links keep their kind's profile (rate, latency, MTU) except: no random loss (every loss in a
chaos run comes from the nemesis, so the checker can tell what caused what) and Beidou send
intervals compressed to ``BEIDOU_INTERVAL_S`` (a 60 s card would hold a minute-long run still)
with the rate scaled by the same factor, as the demo does (``emcomm.demo.plan``).

Example
-------
>>> p = make_plan(8)
>>> [n.id for n in p.nodes]
['cc', 'r1', 'r2', 'r3', 't1', 't2', 't3', 's1']
>>> sorted({l.kind for l in p.links}) == sorted(k.value for k in LinkKind)
True
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

from emcomm.demo.plan import LoopbackNode, free_ports
from emcomm.errors import UsageError
from emcomm.links.profiles import LinkKind, make_profile
from emcomm.node.config import default_link_id
from emcomm.node.enrolment import SCRIPTED_RATE_LIMITS

MIN_NODES, MAX_NODES = 5, 24
BEIDOU_INTERVAL_S = 1.0

ROLE_OF_KIND = {"command": "commander", "relay": "relay-only", "team": "responder", "sensor": "sensor"}


@dataclasses.dataclass(frozen=True)
class ChaosNode(LoopbackNode):
    id: str
    kind: str                      # command, relay, team, sensor
    role: str                      # roster role (who may send which class)
    listen_port: int
    api_port: int


@dataclasses.dataclass(frozen=True)
class ChaosLink:
    a: str
    b: str
    kind: str

    @property
    def id(self) -> str:
        return default_link_id(self.a, self.b, self.kind)   # the id both node ends derive


@dataclasses.dataclass(frozen=True)
class ChaosPlan:
    nodes: tuple[ChaosNode, ...]
    links: tuple[ChaosLink, ...]

    def node(self, node_id: str) -> ChaosNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise UsageError(f"no node {node_id!r} in the chaos mesh")

    def ids(self, kind: str) -> list[str]:
        return [n.id for n in self.nodes if n.kind == kind]

    def links_of(self, node_id: str) -> list[ChaosLink]:
        return [l for l in self.links if node_id in (l.a, l.b)]

    def may_send_flash(self, node_id: str) -> bool:
        return self.node(node_id).role == "commander"

    def policy_path(self, src: str, dst: str, priority: str,
                    up: Callable[[ChaosLink], bool] = lambda l: True) -> list[ChaosLink] | None:
        """A path of links (those ``up`` says are up) that class ``priority`` may use under
        the default routing policy (``emcomm.router.policy``), or None: e.g. ROUTINE never
        takes Beidou, so a sensor reached only over Beidou has no ROUTINE path.

        >>> p = make_plan(8, ports=list(range(16)))
        >>> p.policy_path("s1", "cc", "routine") is None, len(p.policy_path("s1", "cc", "priority"))
        (True, 2)
        """
        from emcomm.router.policy import RoutingPolicy, Use
        policy = RoutingPolicy.default()
        usable = [l for l in self.links if up(l) and policy.use_of(priority, l.kind) != Use.NEVER]
        came: dict[str, ChaosLink | None] = {src: None}
        frontier = [src]
        while frontier:
            nxt = []
            for u in frontier:
                for l in usable:
                    if u in (l.a, l.b):
                        v = l.b if l.a == u else l.a
                        if v not in came:
                            came[v] = l
                            nxt.append(v)
            frontier = nxt
        if dst not in came:
            return None
        path, at = [], dst
        while (l := came[at]) is not None:
            path.append(l)
            at = l.a if l.b == at else l.b
        return path[::-1]


def make_plan(n_nodes: int = 8, ports: list[int] | None = None) -> ChaosPlan:
    """``n_nodes`` nodes: cc, relays r1.., teams t1.. (the first a field command post that may
    send FLASH), and one sensor s1; links of every kind (see the module docstring)."""
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or not MIN_NODES <= n_nodes <= MAX_NODES:
        raise UsageError(f"--nodes must be a whole number from {MIN_NODES} to {MAX_NODES} "
                         f"(every node is a process on this machine), got {n_nodes!r}")
    n_relays = max(2, (n_nodes - 2) // 2)
    n_teams = n_nodes - 2 - n_relays
    relays = [f"r{i + 1}" for i in range(n_relays)]
    teams = [f"t{i + 1}" for i in range(n_teams)]
    kinds = [("cc", "command")] + [(r, "relay") for r in relays] + [(t, "team") for t in teams] + [("s1", "sensor")]
    ports = ports if ports is not None else free_ports(2 * n_nodes)
    nodes = []
    for i, (nid, kind) in enumerate(kinds):
        role = "commander" if nid == "t1" else ROLE_OF_KIND[kind]
        nodes.append(ChaosNode(nid, kind, role, ports[2 * i], ports[2 * i + 1]))
    links: list[ChaosLink] = []
    backbone = ["fibre", "hts", "leo"]
    for i, r in enumerate(relays):
        links.append(ChaosLink("cc", r, backbone[i % len(backbone)]))
    ring = ["radio", "uav", "fibre"]
    for i in range(len(relays) - 1):
        links.append(ChaosLink(relays[i], relays[i + 1], ring[i % len(ring)]))
    team_kinds = [("cellular", "tiantong"), ("radio", "leo"), ("cellular", "uav"), ("uav", "hts")]
    for j, t in enumerate(teams):
        first, second = team_kinds[j % len(team_kinds)]
        links.append(ChaosLink(relays[j % len(relays)], t, first))
        other = "cc" if second == "tiantong" else relays[(j + 1) % len(relays)]
        links.append(ChaosLink(other, t, second))
    links.append(ChaosLink(relays[0], "s1", "beidou"))
    links.append(ChaosLink(relays[1], "s1", "beidou_global"))
    return ChaosPlan(tuple(nodes), tuple(links))


def _overrides(kind: str) -> dict[str, float]:
    p = make_profile(kind)
    out: dict[str, float] = {"loss": 0.0}
    if p.min_interval_s > BEIDOU_INTERVAL_S:
        factor = p.min_interval_s / BEIDOU_INTERVAL_S
        out |= {"min_interval_s": BEIDOU_INTERVAL_S, "rate_up_bps": p.rate_up_bps * factor,
                "rate_down_bps": p.rate_down_bps * factor}
    return out


def node_toml(plan: ChaosPlan, node_id: str, out_dir: Path, seed: int, *, secure: bool) -> str:
    """The node.toml of one chaos node (paths absolute, under ``out_dir``)."""
    n = plan.node(node_id)
    lines = [f'id = "{n.id}"', f'listen = "{n.listen}"', f'api = "{n.api}"',
             f'data_dir = "{(out_dir / "data" / n.id).as_posix()}"', "emulation = true", f"seed = {seed}"]
    if secure:
        lines += [f'identity = "{(out_dir / "keys" / n.id).as_posix()}"',
                  f'roster = "{(out_dir / "keys" / "roster.json").as_posix()}"', f"rate_limits = {SCRIPTED_RATE_LIMITS}"]
    for l in plan.links_of(node_id):
        other = plan.node(l.b if l.a == n.id else l.a)
        lines += ["", "[[neighbour]]", f'id = "{other.id}"', f'endpoint = "{other.listen}"', f'kind = "{l.kind}"',
                  f'link_id = "{l.id}"', "[neighbour.overrides]"]
        lines += [f"{k} = {v!r}" for k, v in _overrides(l.kind).items()]
    return "\n".join(lines) + "\n"


def write_mesh(plan: ChaosPlan, out_dir: Path, seed: int, *, secure: bool = True) -> dict[str, Path]:
    """Write every node's node.toml (and, when ``secure``, identities and the signed roster,
    the command centre's duty officer as authority). Returns node id → config path."""
    out_dir = out_dir.resolve()
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    if secure:
        _write_keys(plan, out_dir / "keys")
    paths = {}
    for n in plan.nodes:
        p = out_dir / f"{n.id}.toml"
        p.write_text(node_toml(plan, n.id, out_dir, seed, secure=secure))
        paths[n.id] = p
    (out_dir / "plan.json").write_text(json.dumps(
        {"nodes": [dataclasses.asdict(n) for n in plan.nodes],
         "links": [dataclasses.asdict(l) | {"id": l.id} for l in plan.links]}, indent=1))
    return paths


def _write_keys(plan: ChaosPlan, keys: Path) -> None:
    from emcomm.node.enrolment import Member, enrol_mesh     # PyNaCl only for a secure mesh

    enrol_mesh(keys, [Member(n.id, n.role, f"Operator {n.id}") for n in plan.nodes], org="Chaos drill",
               authority_name="Duty Officer (chaos run)")


def rostered_ids(out_dir: Path) -> set[str] | None:
    """Node ids on the run's roster (None for an insecure mesh)."""
    path = out_dir / "keys" / "roster.json"
    if not path.exists():
        return None
    from emcomm.node.roster import load_roster
    return {e.node_id for e in load_roster(path).entries}
