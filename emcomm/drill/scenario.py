"""Scenarios: load a TOML scenario file into plain frozen dataclasses, or say exactly what is wrong.

This module owns turning a scenario file (schema in drills/SCHEMA.md, field checks in
``emcomm.drill.schema``) into a ``Scenario``: it validates every table, expands node
groups and link rules, checks cross-references (links and traffic name known nodes,
ids are unique), builds link profiles and hazard models, and collects *every* problem
it can find into one ``ScenarioError`` naming the file and the line or key path. It
does not evaluate hazards over time (``emcomm.hazards.impact``) or print anything.

Example
-------
>>> sc = load_scenario("drills/zhengzhou_2021.toml")            # doctest: +SKIP
>>> sc.info.name, len(sc.nodes) > 200                             # doctest: +SKIP
('Zhengzhou / Henan floods, July 2021', True)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import math
import os
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Mapping, Sequence

import pydantic
from pydantic import BaseModel

from emcomm.drill import generate, schema
from emcomm.drill.tomllines import format_loc, line_of
from emcomm.errors import EmcommError, HazardError, ScenarioError
from emcomm.hazards.base import Hazard, Site
from emcomm.hazards.impact import ImpactModel, LinkSpec, NodeSpec, PowerSupply
from emcomm.hazards.registry import build_hazard
from emcomm.links.profiles import LinkKind, LinkProfile, make_profile
from emcomm.priority import Priority

# ---------------------------------------------------------------- plain data


@dataclasses.dataclass(frozen=True)
class ScenarioInfo:
    name: str
    description: str
    sources: tuple[str, ...]
    start: dt.datetime
    duration_s: float
    step_s: float
    seed: int
    published_outage_fraction: float | None = None   # published share of base stations out at the peak


@dataclasses.dataclass(frozen=True)
class Satellite:
    name: str
    orbit: str                                    # "geo" or "leo"
    longitude_deg: float | None = None            # geo slot
    passes: tuple[tuple[float, float], ...] = ()  # leo visibility windows (s from start)
    altitude_km: float | None = None              # leo shell
    inclination_deg: float | None = None


@dataclasses.dataclass(frozen=True)
class Node:
    id: str
    name: str
    role: str
    site: Site
    power: PowerSupply
    group: str = ""          # id_prefix of the node group that generated it ("" if hand-written)

    @property
    def spec(self) -> NodeSpec:
        return NodeSpec(self.site, self.role, self.power)


@dataclasses.dataclass(frozen=True)
class Link:
    id: str
    kind: LinkKind
    a: str
    b: str
    profile: LinkProfile
    active_from_s: float = 0.0
    active_until_s: float | None = None
    rule: int | None = None  # index of the [[link_rules]] entry that generated it

    @property
    def spec(self) -> LinkSpec:
        return LinkSpec(self.id, self.a, self.b, self.profile, self.active_from_s, self.active_until_s)


@dataclasses.dataclass(frozen=True)
class HazardEntry:
    kind: str
    name: str
    model: Hazard


@dataclasses.dataclass(frozen=True)
class Traffic:
    from_id: str
    to_id: str
    priority: Priority
    content: str
    size_bytes: int
    times_s: tuple[float, ...]     # every send time, seconds from the scenario start


@dataclasses.dataclass(frozen=True)
class Scenario:
    path: str
    info: ScenarioInfo
    satellites: tuple[Satellite, ...]
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    hazards: tuple[HazardEntry, ...]
    traffic: tuple[Traffic, ...]

    @property
    def geo_longitudes_deg(self) -> tuple[float, ...]:
        return tuple(s.longitude_deg for s in self.satellites if s.orbit == "geo" and s.longitude_deg is not None)

    def node_specs(self) -> list[NodeSpec]:
        return [n.spec for n in self.nodes]

    def link_specs(self) -> list[LinkSpec]:
        return [link.spec for link in self.links]

    def names(self) -> dict[str, str]:
        return {n.id: n.name for n in self.nodes}

    def impact_model(self) -> ImpactModel:
        """The hazard impact model of this scenario (its nodes, links, hazards, seed, GEO slots)."""
        return ImpactModel(self.node_specs(), self.link_specs(), [h.model for h in self.hazards],
                           seed=self.info.seed, geo_longitudes_deg=self.geo_longitudes_deg)

    def times_s(self, step_s: float | None = None) -> list[float]:
        """The time steps from 0 to duration_s inclusive (``step_s`` defaults to the file's)."""
        step = step_s or self.info.step_s
        n = int(math.floor(self.info.duration_s / step + 1e-9))
        out = [i * step for i in range(n + 1)]
        if out[-1] < self.info.duration_s:
            out.append(self.info.duration_s)
        return out

    def leo_in_view(self, lat_deg: float, t_s: float) -> bool:
        """Whether a LEO satellite of this scenario serves a site at ``lat_deg`` at ``t_s``.

        With no ``leo`` entries at all, LEO terminals are not limited here. A pass plan
        gives service only inside its windows; a shell serves continuously up to the
        latitude its footprint reaches (inclination + footprint half-angle).
        """
        leo = [s for s in self.satellites if s.orbit == "leo"]
        if not leo:
            return True
        for s in leo:
            if s.passes:
                if any(a <= t_s < b for a, b in s.passes):
                    return True
            elif s.inclination_deg is not None and s.altitude_km is not None:
                if abs(lat_deg) <= min(90.0, s.inclination_deg + leo_footprint_deg(s.altitude_km)):
                    return True
        return False


# Starlink serves users above 25° elevation (SpaceX FCC modification SAT-MOD-20190830-00087).
LEO_MIN_ELEVATION_DEG = 25.0


def leo_footprint_deg(altitude_km: float, min_elevation_deg: float = LEO_MIN_ELEVATION_DEG) -> float:
    """Earth central half-angle of a LEO satellite's service footprint.

    λ = arccos(R·cos ε / (R + h)) − ε  (spherical Earth geometry).

    >>> round(leo_footprint_deg(550.0), 1)
    8.5
    """
    eps = math.radians(min_elevation_deg)
    r = generate.EARTH_RADIUS_KM
    return math.degrees(math.acos(r * math.cos(eps) / (r + altitude_km)) - eps)


# ---------------------------------------------------------------- loading

_Problems = list[tuple[str, str]]

_LIST_TABLES: dict[str, type[BaseModel]] = {
    "satellites": schema.SatelliteModel,
    "nodes": schema.NodeModel,
    "node_groups": schema.NodeGroupModel,
    "links": schema.LinkModel,
    "link_rules": schema.LinkRuleModel,
    "hazards": schema.HazardModel,
    "traffic": schema.TrafficModel,
}
_TOP_KEYS = ("scenario",) + tuple(_LIST_TABLES)
_SYNTAX_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read, validate and expand a scenario file.

    Raises ``ScenarioError(path, problems)`` listing every problem found, each as
    ``(location, message)`` where the location is ``line N, column M`` for TOML syntax
    or a key path such as ``links[3].kind (line 45)``.

    >>> load_scenario("no/such/file.toml")
    Traceback (most recent call last):
    ...
    emcomm.errors.ScenarioError: no/such/file.toml: 1 problem(s):
      file: no such file; give the path of a .toml scenario (see drills/SCHEMA.md)
    """
    name = os.fspath(path)
    p = Path(name)
    if p.is_dir():
        raise ScenarioError(name, [("file", "is a directory; expected a .toml scenario file inside it")])
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(name, [("file", "no such file; give the path of a .toml scenario (see drills/SCHEMA.md)")]) from None
    except OSError as exc:
        raise ScenarioError(name, [("file", f"cannot be read ({exc.strerror or exc}); check its permissions")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(name, [("file", f"is not UTF-8 text (bad byte at offset {exc.start}); "
                                            "a scenario is a TOML text file")]) from None
    return parse_scenario(text, name)


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    """Validate and expand scenario TOML text; ``path`` only names it in messages.

    >>> parse_scenario("")
    Traceback (most recent call last):
    ...
    emcomm.errors.ScenarioError: <scenario>: 1 problem(s):
      file: is empty; expected a TOML scenario starting with a [scenario] table (see drills/SCHEMA.md)
    """
    if not text.strip():
        raise ScenarioError(path, [("file", "is empty; expected a TOML scenario starting with a "
                                            "[scenario] table (see drills/SCHEMA.md)")])
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _SYNTAX_AT.search(msg)
        where = f"line {m.group(1)}, column {m.group(2)}" if m else "file"
        msg = _SYNTAX_AT.sub("", msg).strip()
        raise ScenarioError(path, [(where, f"not valid TOML: {msg}; check the quotes, brackets and "
                                           "`key = value` syntax there")]) from None
    return _Builder(raw, text, path).build()


class _Builder:
    """One load: collects problems while validating, expanding and cross-checking."""

    def __init__(self, raw: dict[str, Any], text: str, path: str) -> None:
        self.raw, self.text, self.path = raw, text, path
        self.problems: _Problems = []

    # -- problems

    def where(self, loc: Sequence[str | int]) -> str:
        line = line_of(self.text, loc)
        return format_loc(loc) + (f" (line {line})" if line else "")

    def add(self, loc: Sequence[str | int], message: str) -> None:
        self.problems.append((self.where(loc), message))

    def validate(self, model: type[BaseModel], value: Any, loc: tuple[str | int, ...]) -> Any:
        try:
            return model.model_validate(value)
        except pydantic.ValidationError as exc:
            for err in exc.errors():
                full = loc + tuple(err["loc"])
                self.add(full, _pydantic_message(model, err))
            return None

    # -- the whole file

    def build(self) -> Scenario:
        raw = self.raw
        for key in raw:
            if key not in _TOP_KEYS:
                self.add((key,), _unknown_key_message(key, _TOP_KEYS, "top-level table"))
        if "scenario" not in raw:
            self.add(("scenario",), "the [scenario] table is missing; every scenario starts with [scenario] "
                                    "name, sources, start and duration_s (see drills/SCHEMA.md)")
            info_m = None
        elif not isinstance(raw["scenario"], dict):
            self.add(("scenario",), "expected a [scenario] table, got a single value")
            info_m = None
        else:
            info_m = self.validate(schema.ScenarioInfoModel, raw["scenario"], ("scenario",))
        items: dict[str, list[tuple[int, Any]]] = {}
        for key, model in _LIST_TABLES.items():
            items[key] = []
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                self.add((key,), f"expected [[{key}]] tables (an array of tables), got {_kind_of(value)}")
                continue
            for i, entry in enumerate(value):
                m = self.validate(model, entry, (key, i))
                if m is not None:
                    items[key].append((i, m))
        # ids written anywhere count as known, so one bad node does not also make every
        # link to it "unknown"
        self.written_node_ids = {e.get("id") for e in raw.get("nodes", []) if isinstance(e, dict)} \
            if isinstance(raw.get("nodes"), list) else set()

        info = self.info(info_m)
        satellites = tuple(self.satellite(m) for _, m in items["satellites"])
        nodes = self.nodes(items["nodes"], items["node_groups"], info.seed if info else 0)
        links = self.links(items["links"], items["link_rules"], nodes)
        hazards = self.hazards(items["hazards"], info)
        traffic = self.traffic(items["traffic"], nodes, info)
        if info is not None:
            if info.step_s > info.duration_s:
                self.add(("scenario", "step_s"), f"step_s ({info.step_s:g}) is longer than duration_s "
                                                 f"({info.duration_s:g}); expected a step within the scenario")
            for i, link in ((i, m) for i, m in items["links"]):
                if link.active_from_s >= info.duration_s:
                    self.add(("links", i, "active_from_s"), f"{link.active_from_s:g} s is at or after the end of the "
                                                            f"scenario (duration_s = {info.duration_s:g})")
        if not nodes and not self.problems:
            self.add(("nodes",), "the scenario has no nodes; add [[nodes]] or [[node_groups]] tables")
        if self.problems or info is None:
            raise ScenarioError(self.path, self.problems)
        return Scenario(self.path, info, satellites, tuple(nodes.values()), tuple(links), tuple(hazards), tuple(traffic))

    # -- tables

    def info(self, m: schema.ScenarioInfoModel | None) -> ScenarioInfo | None:
        if m is None:
            return None
        start = m.start if isinstance(m.start, dt.datetime) else dt.datetime.fromisoformat(m.start)
        return ScenarioInfo(m.name, m.description, tuple(m.sources), start, m.duration_s, m.step_s, m.seed,
                            m.published_outage_fraction)

    @staticmethod
    def satellite(m: schema.SatelliteModel) -> Satellite:
        return Satellite(m.name, m.orbit, m.longitude_deg, tuple(m.passes), m.altitude_km, m.inclination_deg)

    def nodes(self, written: list[tuple[int, schema.NodeModel]],
              groups: list[tuple[int, schema.NodeGroupModel]], seed: int) -> dict[str, Node]:
        out: dict[str, Node] = {}
        origin: dict[str, str] = {}
        for i, m in written:
            if m.id in out:
                self.add(("nodes", i, "id"), f"duplicate node id {m.id!r} (already used by {origin[m.id]}); "
                                             "node ids must be unique")
                continue
            out[m.id] = Node(m.id, m.name or m.id, m.role,
                             Site(m.id, m.lat_deg, m.lon_deg, m.coastal, m.elevation_m), _power(m.power))
            origin[m.id] = f"nodes[{i}]"
        for gi, g in groups:
            gseed = g.seed if g.seed is not None else seed * 1_000_003 + gi
            if g.box is not None:
                lat, lon = generate.scatter_box(g.count, gseed, *g.box)
            else:
                assert g.center_lat_deg is not None and g.center_lon_deg is not None and g.radius_km is not None
                lat, lon = generate.scatter_circle(g.count, gseed, g.center_lat_deg, g.center_lon_deg, g.radius_km)
            battery_h = generate.uniform_draws(g.count, gseed, *g.power.battery_h, stream=1)
            elev_m = generate.uniform_draws(g.count, gseed, *g.elevation_m, stream=2)
            width = len(str(g.count))
            for k in range(g.count):
                nid = f"{g.id_prefix}-{k + 1:0{width}d}"
                if nid in out:
                    self.add(("node_groups", gi, "id_prefix"), f"generates node id {nid!r}, already used by "
                                                               f"{origin[nid]}; choose another id_prefix")
                    break
                power = _power(g.power, float(battery_h[k]))
                name = f"{g.name or g.id_prefix} {k + 1}"
                out[nid] = Node(nid, name, g.role,
                                Site(nid, float(lat[k]), float(lon[k]), g.coastal, float(elev_m[k])), power,
                                group=g.id_prefix)
                origin[nid] = f"node_groups[{gi}]"
        return out

    def _profile(self, kind: str, overrides: Mapping[str, Any], loc: tuple[str | int, ...]) -> LinkProfile | None:
        try:
            return make_profile(kind, overrides)
        except EmcommError as exc:
            self.add(loc + ("overrides",), str(exc))
            return None

    def _known(self, nid: str, nodes: Mapping[str, Node], loc: tuple[str | int, ...], what: str) -> bool:
        if nid in nodes:
            return True
        if nid in self.written_node_ids:
            return False  # its own table has a problem, reported there
        near = difflib.get_close_matches(nid, list(nodes), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else "; expected the id of a [[nodes]] entry or a generated node"
        self.add(loc, f"{what} {nid!r} is not a node of this scenario{hint}")
        return False

    def links(self, written: list[tuple[int, schema.LinkModel]], rules: list[tuple[int, schema.LinkRuleModel]],
              nodes: Mapping[str, Node]) -> list[Link]:
        out: list[Link] = []
        origin: dict[str, str] = {}
        for i, m in written:
            ok = self._known(m.a, nodes, ("links", i, "a"), "link end a")
            ok = self._known(m.b, nodes, ("links", i, "b"), "link end b") and ok
            if m.id in origin:
                self.add(("links", i, "id"), f"duplicate link id {m.id!r} (already used by {origin[m.id]}); "
                                             "link ids must be unique")
                continue
            origin[m.id] = f"links[{i}]"
            profile = self._profile(m.kind, m.overrides, ("links", i))
            if ok and profile is not None:
                out.append(Link(m.id, LinkKind(m.kind), m.a, m.b, profile, m.active_from_s, m.active_until_s))
        for ri, r in rules:
            src = [n for n in nodes.values() if n.role == r.from_role]
            dst = [n for n in nodes.values() if n.role == r.to_role]
            for role, found, key in ((r.from_role, src, "from_role"), (r.to_role, dst, "to_role")):
                if not found:
                    self.add(("link_rules", ri, key), f"no node has role {role!r}, so this rule makes no links; "
                                                      "check the role or remove the rule")
            profile = self._profile(r.kind, r.overrides, ("link_rules", ri))
            if not src or not dst or profile is None:
                continue
            pairs = generate.nearest_pairs([n.site.lat_deg for n in src], [n.site.lon_deg for n in src],
                                           [n.site.lat_deg for n in dst], [n.site.lon_deg for n in dst],
                                           r.nearest + (1 if r.from_role == r.to_role else 0), r.max_km)
            made = 0
            per_src: dict[int, int] = {}
            for si, di, _km in pairs:
                a, b = src[si].id, dst[di].id
                if a == b or per_src.get(si, 0) >= r.nearest:
                    continue
                lid = f"{r.kind}:{a}:{b}"
                if r.from_role == r.to_role and f"{r.kind}:{b}:{a}" in origin:
                    continue  # same pair already linked the other way round by this rule
                if lid in origin:
                    if origin[lid].startswith("links["):
                        self.add(("link_rules", ri), f"generates link id {lid!r}, already used by {origin[lid]}")
                    continue
                origin[lid] = f"link_rules[{ri}]"
                per_src[si] = per_src.get(si, 0) + 1
                out.append(Link(lid, LinkKind(r.kind), a, b, profile, r.active_from_s, r.active_until_s, rule=ri))
                made += 1
            if made == 0 and src and dst:
                self.add(("link_rules", ri, "max_km"), f"no {r.to_role} lies within {r.max_km:g} km of any "
                                                       f"{r.from_role}; widen max_km or remove the rule")
        return out

    def hazards(self, items: list[tuple[int, schema.HazardModel]], info: ScenarioInfo | None) -> list[HazardEntry]:
        out = []
        epoch = info.start.timestamp() if info is not None and info.start.tzinfo is not None else None
        for i, m in items:
            try:
                model = build_hazard(m.kind, m.params, start_epoch=epoch, key_prefix="params")
            except HazardError as exc:
                key = getattr(exc, "key", None)
                detail = getattr(exc, "detail", str(exc))
                self.add(("hazards", i) + _split_key(key or "params"), detail)
                continue
            out.append(HazardEntry(m.kind.strip().lower(), m.name or getattr(model, "name", m.kind), model))
        return out

    def traffic(self, items: list[tuple[int, schema.TrafficModel]], nodes: Mapping[str, Node],
                info: ScenarioInfo | None) -> list[Traffic]:
        out = []
        for i, m in items:
            ok = self._known(m.from_, nodes, ("traffic", i, "from"), "sender")
            ok = self._known(m.to, nodes, ("traffic", i, "to"), "recipient") and ok
            if m.from_ == m.to:
                self.add(("traffic", i, "to"), f"sender and recipient are both {m.to!r}; expected two different nodes")
                ok = False
            if m.at_s is not None:
                times = tuple(sorted(float(t) for t in m.at_s))
            elif m.every_s is None:
                times = (m.start_s,)
            else:
                end = info.duration_s if info else m.start_s
                count = m.count if m.count is not None else int(math.floor((end - m.start_s) / m.every_s + 1e-9)) + 1
                times = tuple(m.start_s + k * m.every_s for k in range(max(count, 0)))
            if info is not None and times and times[-1] > info.duration_s:
                key = "at_s" if m.at_s is not None else ("count" if m.count is not None and m.count > 1 else "start_s")
                self.add(("traffic", i, key), f"a send at {times[-1]:g} s is after the end of the scenario "
                                              f"(duration_s = {info.duration_s:g}); expected sends within it")
                ok = False
            if ok:
                out.append(Traffic(m.from_, m.to, Priority.parse(m.priority), m.content, m.size_bytes, times))
        return out


def _power(m: schema.PowerModel | schema.GroupPowerModel, battery_h: float | None = None) -> PowerSupply:
    hold_h = battery_h if battery_h is not None else float(m.battery_h)  # type: ignore[arg-type]
    fuel_s = None if m.generator_fuel_h is None else m.generator_fuel_h * 3600.0
    return PowerSupply(mains=m.mains, battery_hold_up_s=hold_h * 3600.0, generator=m.generator,
                       generator_start_s=m.generator_start_s, restore_at_s=m.restore_at_s,
                       generator_fuel_s=fuel_s)


def _split_key(key: str) -> tuple[str | int, ...]:
    """``params.zones[0].radius_km`` → ("params", "zones", 0, "radius_km")."""
    out: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "a single table (write [[key]] instead of [key])"
    if isinstance(value, list):
        return "a list that is not all tables"
    return f"a {type(value).__name__} value"


def _unknown_key_message(key: str, valid: Sequence[str], what: str = "key") -> str:
    near = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return f"unknown {what} {key!r}; {hint}valid: {', '.join(valid)}"


def _model_at(model: Any, loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model class that the key path ``loc`` leads to inside ``model``."""
    tp: Any = model
    for part in loc:
        tp = _strip_optional(tp)
        origin = typing.get_origin(tp)
        if isinstance(part, int) and origin in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = tp.model_fields.get(part) or next(
                (f for f in tp.model_fields.values() if f.alias == part), None)
            if field is None:
                return None
            tp = field.annotation
        else:
            return None
    tp = _strip_optional(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _pydantic_message(model: type[BaseModel], err: Mapping[str, Any]) -> str:
    kind = err["type"]
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        valid = _field_names(owner) if owner else []
        return _unknown_key_message(str(loc[-1]), valid) if valid else f"unknown key {loc[-1]!r}"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    got = repr(err.get("input"))
    if len(got) > 60:
        got = got[:57] + "..."
    msg = msg.replace("Input should be", "should be", 1)
    return f"{msg}, got {got}"
