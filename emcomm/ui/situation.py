"""The situation picture at one moment: plain frozen data the map and panels are drawn from.

Owns the ``Situation`` snapshot, its dict form (the shape stored in recording keyframes
and sent as live telemetry), validation of that dict, and how an event between two
keyframes changes a snapshot (``apply_event``). It must not draw, read files or sockets,
or read a clock: times are seconds since the scenario start (``t_s``) given by the caller.

Dict shape (what a drill engine or a node writes; every key optional unless marked *)::

    {"t_s"*: 3600.0, "scenario": "zhengzhou_2021",
     "nodes": [{"id"*, "name", "lat_deg"*, "lon_deg"*, "role", "power": "mains|battery|generator|off",
                "battery_left_h", "up", "connected", "cut_off_since_s", "operator",
                "queue_depths": [flash, immediate, priority, routine], "last_heard_s"}],
     "links": [{"id"*, "kind"*, "a"*, "b"*, "state": "up|degraded|down", "capacity_pct",
                "reason", "carrying": [0, 1]}],            # priorities routed over it now
     "hazards": [{"hazard": "flood|fire|earthquake|typhoon", "name",
                  "shapes": [{"shape": "circle|polygon|line|point", "coords": [[lat, lon], ...],
                              "radius_m", "label", "value"}]}],
     "routes": [{"priority"*, "src"*, "dst"*, "links": [...], "nodes": [...], "messages"}],
     "stats": [{"priority"*, "sent", "delivered", "latency_p50_s", "latency_p95_s"}],
     "usage": [{"kind"*, "bytes", "cost_cny"}],
     "feed": [{"t_s"*, "level": "flash|alert|info", "text"*, "node"}]}

Example
-------
>>> s = Situation.from_dict({"t_s": 60, "nodes": [{"id": "cc", "lat_deg": 34.7, "lon_deg": 113.6}]})
>>> s.nodes[0].id, s.nodes[0].up
('cc', True)
>>> apply_event(s, "node", {"id": "cc", "up": False}).nodes[0].up
False
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any, Iterable, Mapping

from emcomm.errors import UsageError
from emcomm.priority import PRIORITY_COUNT, Priority


class SituationError(UsageError):
    """A situation dict (keyframe, event or telemetry) does not follow the documented shape."""


POWER_STATES = ("mains", "battery", "generator", "off")
LINK_STATES = ("up", "degraded", "down")
HAZARD_KINDS = ("flood", "fire", "earthquake", "typhoon")
SHAPES = ("circle", "polygon", "line", "point")
FEED_LEVELS = ("flash", "alert", "info")


@dataclasses.dataclass(frozen=True)
class NodeView:
    id: str
    lat_deg: float
    lon_deg: float
    name: str = ""
    role: str = "team"
    power: str = "mains"
    battery_left_h: float | None = None
    up: bool = True
    connected: bool = True              # has a path to the command centre
    cut_off_since_s: float | None = None
    operator: str = ""
    queue_depths: tuple[int, ...] = (0,) * PRIORITY_COUNT
    last_heard_s: float | None = None

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclasses.dataclass(frozen=True)
class LinkView:
    id: str
    kind: str
    a: str
    b: str
    state: str = "up"
    capacity_pct: float = 100.0
    reason: str = ""
    carrying: tuple[int, ...] = ()      # priorities whose routes use this link now


@dataclasses.dataclass(frozen=True)
class HazardShape:
    shape: str
    coords: tuple[tuple[float, float], ...]   # (lat_deg, lon_deg) pairs
    radius_m: float = 0.0
    label: str = ""
    value: float = 0.0                  # flood depth m, intensity, wind speed m/s...


@dataclasses.dataclass(frozen=True)
class HazardOverlay:
    hazard: str
    name: str = ""
    shapes: tuple[HazardShape, ...] = ()


@dataclasses.dataclass(frozen=True)
class RouteView:
    priority: int
    src: str
    dst: str
    links: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    messages: int = 0


@dataclasses.dataclass(frozen=True)
class PriorityStats:
    priority: int
    sent: int = 0
    delivered: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None

    @property
    def ratio(self) -> float | None:
        """Delivered / sent, or None before anything was sent."""
        return self.delivered / self.sent if self.sent else None


@dataclasses.dataclass(frozen=True)
class LinkUsage:
    kind: str
    bytes: int = 0
    cost_cny: float = 0.0


@dataclasses.dataclass(frozen=True)
class FeedItem:
    t_s: float
    text: str
    level: str = "info"
    node: str = ""


@dataclasses.dataclass(frozen=True)
class Situation:
    """Everything the command centre sees at ``t_s`` (seconds since scenario start)."""

    t_s: float
    scenario: str = ""
    nodes: tuple[NodeView, ...] = ()
    links: tuple[LinkView, ...] = ()
    hazards: tuple[HazardOverlay, ...] = ()
    routes: tuple[RouteView, ...] = ()
    stats: tuple[PriorityStats, ...] = ()
    usage: tuple[LinkUsage, ...] = ()
    feed: tuple[FeedItem, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "situation") -> "Situation":
        """Build and validate from the documented dict shape; raise SituationError naming the key."""
        if not isinstance(d, Mapping):
            raise SituationError(f"{where}: expected a map, got {type(d).__name__}")
        _known(d, {f.name for f in dataclasses.fields(cls)}, where)
        s = cls(
            t_s=_num(d, "t_s", where, required=True),
            scenario=_str(d, "scenario", where),
            nodes=tuple(_node(x, f"{where}.nodes[{i}]") for i, x in enumerate(_list(d, "nodes", where))),
            links=tuple(_link(x, f"{where}.links[{i}]") for i, x in enumerate(_list(d, "links", where))),
            hazards=tuple(_hazard(x, f"{where}.hazards[{i}]") for i, x in enumerate(_list(d, "hazards", where))),
            routes=tuple(_route(x, f"{where}.routes[{i}]") for i, x in enumerate(_list(d, "routes", where))),
            stats=tuple(_stats(x, f"{where}.stats[{i}]") for i, x in enumerate(_list(d, "stats", where))),
            usage=tuple(_usage(x, f"{where}.usage[{i}]") for i, x in enumerate(_list(d, "usage", where))),
            feed=tuple(_feed(x, f"{where}.feed[{i}]") for i, x in enumerate(_list(d, "feed", where))),
        )
        _check_ids(s, where)
        return s

    def to_dict(self) -> dict[str, Any]:
        """The documented dict shape (tuples become lists), ready for msgpack."""
        return _plain(dataclasses.asdict(self))

    def node(self, node_id: str) -> NodeView:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise UsageError(f"no node {node_id!r} in the situation at t={self.t_s:g}s")

    def cut_off(self) -> list[tuple[NodeView, float]]:
        """Nodes that are up but have no path to the command centre, with seconds cut off,
        longest first.

        >>> s = Situation.from_dict({"t_s": 100, "nodes": [
        ...     {"id": "a", "lat_deg": 0, "lon_deg": 0, "connected": False, "cut_off_since_s": 40}]})
        >>> [(n.id, d) for n, d in s.cut_off()]
        [('a', 60.0)]
        """
        out = [(n, max(0.0, self.t_s - (n.cut_off_since_s if n.cut_off_since_s is not None else self.t_s)))
               for n in self.nodes if n.up and not n.connected]
        return sorted(out, key=lambda x: (-x[1], x[0].id))


# ---------------------------------------------------------------- events between keyframes

EVENT_KINDS = ("node", "link", "feed", "stats", "usage", "routes", "hazards")


def apply_event(s: Situation, kind: str, data: Mapping[str, Any], t_s: float | None = None) -> Situation:
    """The situation after one event: ``node``/``link`` patch the item with ``data["id"]``
    (adding it if new and complete), ``feed`` appends one item, ``stats``/``usage``/``routes``/
    ``hazards`` replace that whole list (``data = {"items": [...]}``). ``t_s`` advances the clock.

    >>> s = Situation(t_s=0.0)
    >>> s = apply_event(s, "feed", {"t_s": 5, "level": "flash", "text": "dam breach"}, t_s=5)
    >>> s.t_s, s.feed[0].text
    (5.0, 'dam breach')
    """
    where = f"event {kind!r}"
    if not isinstance(data, Mapping):
        raise SituationError(f"{where}: data must be a map, got {type(data).__name__}")
    changes: dict[str, Any] = {}
    if t_s is not None:
        changes["t_s"] = float(t_s)
    if kind in ("node", "link"):
        items = s.nodes if kind == "node" else s.links
        build = _node if kind == "node" else _link
        item_id = data.get("id")
        if not isinstance(item_id, str):
            raise SituationError(f"{where}: needs a string 'id'")
        out, found = [], False
        for item in items:
            if item.id == item_id:
                merged = _plain(dataclasses.asdict(item))
                merged.update(data)
                out.append(build(merged, f"{where} id={item_id!r}"))
                found = True
            else:
                out.append(item)
        if not found:
            out.append(build(data, f"{where} id={item_id!r} (new)"))
        changes["nodes" if kind == "node" else "links"] = tuple(out)
    elif kind == "feed":
        changes["feed"] = s.feed + (_feed(data, where),)
    elif kind in ("stats", "usage", "routes", "hazards"):
        build = {"stats": _stats, "usage": _usage, "routes": _route, "hazards": _hazard}[kind]
        changes[kind] = tuple(build(x, f"{where}.items[{i}]") for i, x in enumerate(_list(data, "items", where)))
    else:
        raise SituationError(f"unknown event kind {kind!r}; expected one of: {', '.join(EVENT_KINDS)}")
    return dataclasses.replace(s, **changes)


# ---------------------------------------------------------------- validation helpers


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _known(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise SituationError(f"{where}: unknown key(s) {extra}; expected some of {sorted(allowed)}")


def _num(d: Mapping[str, Any], key: str, where: str, required: bool = False,
         default: float | None = None, optional: bool = False) -> Any:
    if key not in d or (optional and d[key] is None):
        if required:
            raise SituationError(f"{where}: missing required number '{key}'")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SituationError(f"{where}.{key}: expected a finite number, got {v!r}")
    return float(v)


def _int(d: Mapping[str, Any], key: str, where: str, default: int = 0) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise SituationError(f"{where}.{key}: expected a whole number ≥ 0, got {v!r}")
    return v


def _str(d: Mapping[str, Any], key: str, where: str, default: str = "", required: bool = False,
         choices: tuple[str, ...] | None = None) -> str:
    if key not in d:
        if required:
            raise SituationError(f"{where}: missing required text '{key}'")
        return default
    v = d[key]
    if not isinstance(v, str):
        raise SituationError(f"{where}.{key}: expected text, got {v!r}")
    if choices and v not in choices:
        raise SituationError(f"{where}.{key}: {v!r} is not one of {', '.join(choices)}")
    return v


def _bool(d: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise SituationError(f"{where}.{key}: expected true/false, got {v!r}")
    return v


def _list(d: Mapping[str, Any], key: str, where: str) -> list[Any]:
    v = d.get(key, [])
    if not isinstance(v, (list, tuple)):
        raise SituationError(f"{where}.{key}: expected a list, got {type(v).__name__}")
    return list(v)


def _map(x: Any, where: str, cls: type) -> Mapping[str, Any]:
    if not isinstance(x, Mapping):
        raise SituationError(f"{where}: expected a map, got {type(x).__name__}")
    _known(x, {f.name for f in dataclasses.fields(cls)}, where)
    return x


def _lat_lon(d: Mapping[str, Any], where: str) -> tuple[float, float]:
    lat, lon = _num(d, "lat_deg", where, required=True), _num(d, "lon_deg", where, required=True)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise SituationError(f"{where}: position ({lat}, {lon}) is outside lat -90..90, lon -180..180")
    return lat, lon


def _priority(d: Mapping[str, Any], key: str, where: str) -> int:
    v = d.get(key)
    try:
        return int(Priority.parse(v))
    except UsageError:
        raise SituationError(f"{where}.{key}: {v!r} is not a priority (0..3 or flash/immediate/priority/routine)") from None


def _node(x: Any, where: str) -> NodeView:
    d = _map(x, where, NodeView)
    lat, lon = _lat_lon(d, where)
    q = _list(d, "queue_depths", where) or [0] * PRIORITY_COUNT
    if len(q) != PRIORITY_COUNT or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in q):
        raise SituationError(f"{where}.queue_depths: expected {PRIORITY_COUNT} whole numbers ≥ 0 (FLASH..ROUTINE), got {q!r}")
    return NodeView(
        id=_str(d, "id", where, required=True), lat_deg=lat, lon_deg=lon,
        name=_str(d, "name", where), role=_str(d, "role", where, "team"),
        power=_str(d, "power", where, "mains", choices=POWER_STATES),
        battery_left_h=_num(d, "battery_left_h", where, optional=True),
        up=_bool(d, "up", where, True), connected=_bool(d, "connected", where, True),
        cut_off_since_s=_num(d, "cut_off_since_s", where, optional=True),
        operator=_str(d, "operator", where), queue_depths=tuple(q),
        last_heard_s=_num(d, "last_heard_s", where, optional=True),
    )


def _link(x: Any, where: str) -> LinkView:
    d = _map(x, where, LinkView)
    cap = _num(d, "capacity_pct", where, default=100.0)
    if not 0 <= cap <= 100:
        raise SituationError(f"{where}.capacity_pct: {cap} is outside 0..100")
    return LinkView(
        id=_str(d, "id", where, required=True), kind=_str(d, "kind", where, required=True),
        a=_str(d, "a", where, required=True), b=_str(d, "b", where, required=True),
        state=_str(d, "state", where, "up", choices=LINK_STATES), capacity_pct=cap,
        reason=_str(d, "reason", where),
        carrying=tuple(sorted({_priority({"p": p}, "p", f"{where}.carrying") for p in _list(d, "carrying", where)})),
    )


def _shape(x: Any, where: str) -> HazardShape:
    d = _map(x, where, HazardShape)
    coords = []
    for i, c in enumerate(_list(d, "coords", where)):
        if (not isinstance(c, (list, tuple)) or len(c) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c)):
            raise SituationError(f"{where}.coords[{i}]: expected [lat_deg, lon_deg], got {c!r}")
        coords.append((float(c[0]), float(c[1])))
    shape = _str(d, "shape", where, required=True, choices=SHAPES)
    need = {"circle": 1, "point": 1, "line": 2, "polygon": 3}[shape]
    if len(coords) < need:
        raise SituationError(f"{where}: a {shape} needs at least {need} coordinate pair(s), got {len(coords)}")
    return HazardShape(shape=shape, coords=tuple(coords), radius_m=_num(d, "radius_m", where, default=0.0),
                       label=_str(d, "label", where), value=_num(d, "value", where, default=0.0))


def _hazard(x: Any, where: str) -> HazardOverlay:
    d = _map(x, where, HazardOverlay)
    return HazardOverlay(
        hazard=_str(d, "hazard", where, required=True, choices=HAZARD_KINDS), name=_str(d, "name", where),
        shapes=tuple(_shape(s, f"{where}.shapes[{i}]") for i, s in enumerate(_list(d, "shapes", where))),
    )


def _route(x: Any, where: str) -> RouteView:
    d = _map(x, where, RouteView)
    return RouteView(
        priority=_priority(d, "priority", where), src=_str(d, "src", where, required=True),
        dst=_str(d, "dst", where, required=True),
        links=tuple(str(v) for v in _list(d, "links", where)), nodes=tuple(str(v) for v in _list(d, "nodes", where)),
        messages=_int(d, "messages", where),
    )


def _stats(x: Any, where: str) -> PriorityStats:
    d = _map(x, where, PriorityStats)
    sent, delivered = _int(d, "sent", where), _int(d, "delivered", where)
    if delivered > sent:
        raise SituationError(f"{where}: delivered ({delivered}) is more than sent ({sent})")
    return PriorityStats(priority=_priority(d, "priority", where), sent=sent, delivered=delivered,
                         latency_p50_s=_num(d, "latency_p50_s", where, optional=True),
                         latency_p95_s=_num(d, "latency_p95_s", where, optional=True))


def _usage(x: Any, where: str) -> LinkUsage:
    d = _map(x, where, LinkUsage)
    return LinkUsage(kind=_str(d, "kind", where, required=True), bytes=_int(d, "bytes", where),
                     cost_cny=_num(d, "cost_cny", where, default=0.0))


def _feed(x: Any, where: str) -> FeedItem:
    d = _map(x, where, FeedItem)
    return FeedItem(t_s=_num(d, "t_s", where, required=True), text=_str(d, "text", where, required=True),
                    level=_str(d, "level", where, "info", choices=FEED_LEVELS), node=_str(d, "node", where))


def _check_ids(s: Situation, where: str) -> None:
    counts = collections.Counter(n.id for n in s.nodes)
    dup = sorted(i for i, c in counts.items() if c > 1)
    if dup:
        raise SituationError(f"{where}: duplicate node id(s) {dup}")
    known = set(counts)
    for l in s.links:
        missing = [e for e in (l.a, l.b) if e not in known]
        if missing:
            raise SituationError(f"{where}: link {l.id!r} ends at unknown node(s) {missing}")


def merge_feed(items: Iterable[FeedItem], limit: int) -> list[FeedItem]:
    """The ``limit`` most recent feed items, newest first, FLASH before others at equal time."""
    order = {lvl: i for i, lvl in enumerate(FEED_LEVELS)}
    return sorted(items, key=lambda f: (-f.t_s, order.get(f.level, 9)))[:limit]
