"""Live mode: fold node telemetry into the situation picture, and listen for it.

Owns two things: ``LiveFold`` (pure: telemetry dicts + receive times → Situation) and
``TelemetryListener`` (ZeroMQ SUB sockets, one per endpoint, receive only). The UI never
sends anything into the mesh: SUB sockets cannot send. A secure node's tcp:// telemetry is a
CURVE server admitting rostered keys only: ``live_sources`` resolves each node's server key
(from its ``node.json`` or the roster) and the listener subscribes as the command centre's
identity (``emcomm ui --identity DIR``); that key is used for nothing else.

A node publishes two topics on its PUB socket (``[topic, msgpack map]``):

* ``event``: one ``emcomm.node.telemetry.TelemetryEvent.as_dict()`` (``kind, t_s, node,
  msg_id, priority, link_id, reason, detail``). ``delivered`` carries ``latency_s`` (from
  the message's own creation time), ``sent`` carries ``size_bytes`` on its link, and a
  ``power`` event (detail ``power``, ``battery_left_h``, ``up``) says a site's power changed.
* ``status``: the node's snapshot about once a second (``emcomm.node.core.NodeCore.snapshot``
  plus ``runtime``): per-link ``up``/``kind``/``rate_bps``, ``queues`` per link and ``held``
  per priority, and optionally ``power``/``battery_left_h``/``up`` of the site.

What the map shows from them: a node is heard by any frame (stale only when silent); off
air when its own status or a power event says so; queue depths from its status; a link is
down when an end reports it down, degraded (with capacity %) when its rate fell below the
highest seen; a node is cut off when no link path joins it to a command node; a link
carries a priority when a message of it went out on the link in the last ``carry_window_s``;
data carried and money by link kind add up ``sent`` sizes at the kind's profile price.

A delivered ALERT (``content_type`` 3) is read in every form the mesh carries: compact CAP
(first byte 0x01/0x81), CAP XML, or plain text. A CAP alert becomes a hazard overlay of its
area (``alert_overlay``) and a feed item, once per CAP identifier; an alert with urgency
``Past`` or msgType ``Cancel`` (e.g. a sensor's all-clear) removes the overlay of the same
sender and area. A text alert shows its text in the feed.

Ages use the command centre's receive time (``recv_s``, given by the caller); latencies use
the delivered event's ``latency_s`` and fall back to receive times when it is missing.

Example
-------
>>> f = LiveFold()
>>> f.add({"kind": "submitted", "t_s": 1.0, "node": "t1", "msg_id": "aa", "priority": 0}, recv_s=10.0)
>>> f.add({"kind": "delivered", "t_s": 9.0, "node": "cc", "msg_id": "aa", "priority": 0,
...        "detail": {"latency_s": 0.042}}, recv_s=12.5)
>>> st = f.situation(now_s=13.0).stats[0]
>>> (st.sent, st.delivered, st.latency_p50_s)
(1, 1, 0.042)
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
import time
from typing import Any, Mapping

from emcomm.errors import EmcommError, InteropError, RemoteInputError, UsageError
from emcomm.interop import cap
from emcomm.links.profiles import make_profile
from emcomm.node.wire import ContentType
from emcomm.priority import PRIORITY_COUNT, Priority
from emcomm.ui.situation import (POWER_STATES, FeedItem, HazardOverlay, HazardShape, LinkUsage, LinkView, NodeView,
                                 PriorityStats, Situation)

MAX_FEED = 200
MAX_LATENCIES = 2000  # per priority, most recent
MAX_ALERT_OVERLAYS = 500   # alert areas on the map, oldest dropped first
# drops that lose nothing: another copy of the message is held or was delivered (a
# retransmission after a lost hop-ack); on lossy links they come by the dozen, not an alert
BENIGN_DROPS = frozenset({"duplicate"})
MAX_ALERT_IDS = 10_000     # CAP identifiers remembered to show each alert once
CARRY_WINDOW_S = 30.0      # a link "carries" a priority this long after a message of it went out
DEGRADED_BELOW_PCT = 95.0  # a link whose rate fell below this share of its best is degraded

# A CAP alert's event and headline words → the map's hazard overlay kind; first match wins
# (a typhoon's rain is a typhoon, an earthquake's fire is a fire). CAP categories alone are
# too coarse ("Met" is both flood and typhoon), so they only break ties for "Fire".
_HAZARD_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("typhoon", re.compile(r"\b(typhoon|cyclone|hurricane|tropical storm|storm surge)")),
    ("earthquake", re.compile(r"\b(earthquake|quake|seismic|aftershock|tremor)")),
    ("fire", re.compile(r"\b(fire|wildfire|bushfire|smoke|blaze)")),
    ("flood", re.compile(r"\b(flood|inundat|levee|dam\b|dike|river|water.level|rain|waterlog)")),
)
_HAZARD_OF_CATEGORY = {"Fire": "fire"}


def check_endpoint(ep: str) -> str:
    """Accept ``tcp://HOST:PORT`` or ``ipc://PATH``; raise UsageError otherwise.

    >>> check_endpoint("tcp://127.0.0.1:5601")
    'tcp://127.0.0.1:5601'
    """
    if ep.startswith("ipc://") and len(ep) > 6:
        return ep
    if ep.startswith("tcp://"):
        host, _, port = ep[6:].rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return ep
    raise UsageError(f"live endpoint {ep!r} is not valid; expected tcp://HOST:PORT (e.g. tcp://127.0.0.1:5601) or ipc://PATH")


def hazard_of_alert(alert: cap.CapAlert) -> str | None:
    """The hazard overlay kind for a CAP alert, or None when its words name none of them.

    >>> a = cap.CapAlert("i", "s", "2021-07-20T08:00:00+00:00", "flood sensor danger", "Immediate", "Extreme",
    ...                  "Observed")
    >>> hazard_of_alert(a), hazard_of_alert(dataclasses.replace(a, event="chemical leak"))
    ('flood', None)
    """
    text = f"{alert.event} {alert.headline}".lower()
    for hazard, words in _HAZARD_WORDS:
        if words.search(text):
            return hazard
    return _HAZARD_OF_CATEGORY.get(alert.category)


def alert_overlay(alert: cap.CapAlert) -> HazardOverlay | None:
    """A CAP alert's areas as a hazard overlay (circles in metres, polygons as rings), or
    None when it has no area or no hazard kind the map draws.

    >>> a = cap.CapAlert("i", "s", "2021-07-20T08:00:00+00:00", "smoke sensor warning", "Expected", "Severe",
    ...                  "Observed", areas=(cap.CapArea("Depot", circles=((30.0, 101.0, 0.5),)),))
    >>> ov = alert_overlay(a)
    >>> ov.hazard, ov.shapes[0].shape, ov.shapes[0].radius_m
    ('fire', 'circle', 500.0)
    """
    hazard = hazard_of_alert(alert)
    if hazard is None:
        return None
    shapes: list[HazardShape] = []
    for area in alert.areas:
        for lat, lon, r_km in area.circles:
            shapes.append(HazardShape("circle" if r_km > 0 else "point", ((lat, lon),), radius_m=r_km * 1000.0,
                                      label=area.desc))
        for ring in area.polygons:
            if len(ring) >= 3:
                shapes.append(HazardShape("polygon", tuple(ring), label=area.desc))
    if not shapes:
        return None
    return HazardOverlay(hazard, name=f"{alert.headline or alert.event} ({alert.severity})", shapes=tuple(shapes))


def _clears(alert: cap.CapAlert) -> bool:
    # CAP 1.2: urgency "Past" = responsive action no longer required; msgType "Cancel" cancels
    return alert.urgency == "Past" or alert.msg_type == "Cancel"


MAX_ALERT_TEXT = 200


def read_alert_body(body: Any) -> cap.CapAlert | str:
    """An ALERT message's body in any form the mesh carries: compact CAP (first byte 0x01 or
    0x81, what sensors and ``emcomm alert`` send), CAP 1.2 XML, or plain UTF-8 text (a
    person's alert typed with ``emcomm send --content-type alert``). Text comes back as a
    ``str`` (cut to 200 characters); anything else raises InteropError.

    >>> read_alert_body(b"FLASH check-in from t1: team safe")
    'FLASH check-in from t1: team safe'
    >>> a = cap.CapAlert("i", "s", "2021-07-20T08:00:00+00:00", "Flood", "Immediate", "Extreme", "Observed")
    >>> read_alert_body(cap.encode_compact(a)) == read_alert_body(cap.to_xml(a)) == a
    True
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray)) or not body:
        raise InteropError(f"alert body is {'empty' if not body else type(body).__name__}; expected bytes")
    body = bytes(body)
    if body[0] in (0x01, 0x81):
        return cap.decode_compact(body)
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return cap.from_xml(body, name="delivered alert")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InteropError("alert body is neither CAP (compact or XML) nor UTF-8 text") from None
    text = " ".join(text.split()).rstrip(".")   # the demo pads bodies with dots
    if not text or not text.isprintable():
        raise InteropError("alert body text is empty or holds control characters")
    return text[:MAX_ALERT_TEXT]


def _power_fields(d: Mapping[str, Any]) -> dict[str, Any]:
    """The site power fields a status or power event may carry, checked (others ignored)."""
    out: dict[str, Any] = {}
    if d.get("power") in POWER_STATES:
        out["power"] = d["power"]
    b = d.get("battery_left_h")
    if isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) and b >= 0:
        out["battery_left_h"] = float(b)
    if isinstance(d.get("up"), bool):
        out["up"] = d["up"]
    return out


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _counts(x: Any) -> list[int] | None:
    if isinstance(x, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in x):
        return (list(x[:PRIORITY_COUNT]) + [0] * PRIORITY_COUNT)[:PRIORITY_COUNT]
    return None


class LiveFold:
    """Accumulates telemetry on top of an optional base situation (node positions and
    links, e.g. from a scenario's recording). Nodes never seen in the base are listed by id
    without a position and are not drawn."""

    def __init__(self, base: Situation | None = None, carry_window_s: float = CARRY_WINDOW_S):
        self.base = base or Situation(t_s=0.0)
        self.carry_window_s = float(carry_window_s)
        self.last_heard: dict[str, float] = {}
        self.link_state: dict[str, tuple[str, str]] = {}            # from link_up/link_down events
        self.link_ends: dict[str, dict[str, bool]] = {}              # link -> node -> up, from statuses
        self.link_rate: dict[str, dict[str, float]] = {}             # link -> node -> rate now
        self.link_rate_max: dict[str, float] = {}
        self.link_kind: dict[str, str] = {l.id: l.kind for l in self.base.links}
        self.carried_at: dict[tuple[str, int], float] = {}           # (link, priority) -> last seen going out
        self.usage_bytes: dict[str, int] = {}
        self.usage_cost: dict[str, float] = {}
        self.queues: dict[str, tuple[int, ...]] = {}
        self.power: dict[str, dict[str, Any]] = {}
        self.cut_since: dict[str, float] = {}
        self.sent = [0] * len(Priority)
        self.delivered = [0] * len(Priority)
        self.latencies: list[list[float]] = [[] for _ in Priority]
        self.submitted_at: dict[str, float] = {}
        self.delivered_ids: set[str] = set()
        self.feed: list[FeedItem] = []
        self.rejected = 0
        self.statuses = 0
        self.t0: float | None = None
        self.alert_ids: dict[str, None] = {}                       # CAP identifiers shown, oldest first
        self.alert_overlays: dict[tuple[str, tuple[str, ...]], HazardOverlay] = {}   # by (sender, area descs)

    def add(self, ev: Mapping[str, Any], recv_s: float, topic: str = "event") -> None:
        """Fold one frame of ``topic`` (``event`` or ``status``); a malformed one is counted in
        ``rejected`` and raises RemoteInputError (go on with the next). A delivered alert whose
        body cannot be read still counts as delivered, shows as an unreadable alert in the feed,
        is counted in ``rejected`` and raises RemoteInputError."""
        if not isinstance(ev, Mapping) or not isinstance(ev.get("node"), str):
            self.rejected += 1
            raise RemoteInputError("malformed", "telemetry needs a map with text 'node'")
        if topic == "status" or (not isinstance(ev.get("kind"), str) and isinstance(ev.get("links"), Mapping)):
            self._status(ev, recv_s)
            return
        if not isinstance(ev.get("kind"), str):
            self.rejected += 1
            raise RemoteInputError("malformed", "telemetry event needs text 'kind' and 'node'")
        if self.t0 is None:
            self.t0 = recv_s
        kind, node = ev["kind"], ev["node"]
        p = ev.get("priority", -1)
        p = p if isinstance(p, int) and 0 <= p < len(Priority) else -1
        mid = ev.get("msg_id") or ""
        detail = ev.get("detail") if isinstance(ev.get("detail"), Mapping) else {}
        link_id = ev.get("link_id") if isinstance(ev.get("link_id"), str) else ""
        if kind != "power":     # a site's power may be announced by others (a drill, the demo): not a sign of life
            self.last_heard[node] = recv_s
        t_rel = recv_s - self.t0
        if kind == "submitted" and p >= 0:
            self.sent[p] += 1
            if mid:
                self.submitted_at[mid] = recv_s
            if p == Priority.FLASH:
                self._feed(t_rel, "flash", f"FLASH message {str(mid)[:8]} submitted", node)
        elif kind == "delivered" and p >= 0 and mid not in self.delivered_ids:
            self.delivered_ids.add(mid)
            self.delivered[p] += 1
            submitted = self.submitted_at.pop(mid, None)
            lat = _num(detail.get("latency_s"))
            if lat is None or lat < 0:
                lat = None if submitted is None else recv_s - submitted
            if lat is not None:
                lats = self.latencies[p]
                lats.append(lat)
                del lats[:-MAX_LATENCIES]
            if detail.get("content_type") == ContentType.ALERT:
                self._alert(detail, t_rel, node, str(mid), p)
        elif kind in ("sent", "forwarded") and link_id and p >= 0:
            self.carried_at[(link_id, p)] = recv_s
            size = detail.get("size_bytes")
            if kind == "sent" and isinstance(size, int) and not isinstance(size, bool) and size > 0:
                self._carried(link_id, size)
        elif kind == "dropped" and ev.get("reason") not in BENIGN_DROPS:
            self._feed(t_rel, "alert", f"message {str(mid)[:8]} dropped: {ev.get('reason', '')}", node)
        elif kind in ("link_up", "link_down") and link_id:
            self.link_state[link_id] = ("up" if kind == "link_up" else "down", str(ev.get("reason", "")))
            self.link_ends.setdefault(link_id, {})[node] = kind == "link_up"
            if kind == "link_down":
                self._feed(t_rel, "alert", f"link {link_id} down: {ev.get('reason', '')}", node)
        elif kind == "power":
            self._power(node, _power_fields(detail), t_rel, str(ev.get("reason", "")))

    # -- status snapshots ------------------------------------------------------------
    def _status(self, st: Mapping[str, Any], recv_s: float) -> None:
        node = st["node"]
        if self.t0 is None:
            self.t0 = recv_s
        self.statuses += 1
        self.last_heard[node] = recv_s
        depths = _counts(st.get("held")) or [0] * PRIORITY_COUNT
        queues = st.get("queues")
        if isinstance(queues, Mapping):
            for counts in queues.values():
                for i, c in enumerate(_counts(counts) or ()):
                    depths[i] += c
        self.queues[node] = tuple(depths)
        rt = st.get("runtime") if isinstance(st.get("runtime"), Mapping) else {}
        emulated = rt.get("links") if isinstance(rt.get("links"), Mapping) else {}
        links = st.get("links")
        for lid, d in (links.items() if isinstance(links, Mapping) else ()):
            if not isinstance(lid, str) or not isinstance(d, Mapping):
                continue
            if isinstance(d.get("kind"), str):
                self.link_kind.setdefault(lid, d["kind"])
            if isinstance(d.get("up"), bool):
                self.link_ends.setdefault(lid, {})[node] = d["up"]
            em = emulated.get(lid) if isinstance(emulated.get(lid), Mapping) else {}
            rate = _num(em.get("rate_bps")) or _num(d.get("rate_bps"))
            if rate is not None and rate > 0:
                self.link_rate.setdefault(lid, {})[node] = rate
                self.link_rate_max[lid] = max(self.link_rate_max.get(lid, 0.0), rate)
        fields = _power_fields(st)
        if fields:
            self._power(node, fields, recv_s - self.t0, "")

    def _power(self, node: str, fields: dict[str, Any], t_rel: float, reason: str) -> None:
        if not fields:
            return
        old = self.power.get(node, {})
        new = {**old, **fields}
        if new.get("power") != "battery":
            new.pop("battery_left_h", None)
        self.power[node] = new
        was_off = old.get("up") is False or old.get("power") == "off"
        off = new.get("up") is False or new.get("power") == "off"
        if off and not was_off:
            self._feed(t_rel, "alert", f"{node} OFF AIR" + (f": {reason}" if reason else ""), node)
        elif was_off and not off:
            self._feed(t_rel, "info", f"{node} back on air ({new.get('power', 'mains')})", node)

    def _carried(self, link_id: str, size_bytes: int) -> None:
        kind = self.link_kind.get(link_id)
        if kind is None:
            return
        self.usage_bytes[kind] = self.usage_bytes.get(kind, 0) + size_bytes
        self.usage_cost[kind] = self.usage_cost.get(kind, 0.0) + size_bytes / 1e6 * _cost_per_mb_cny(kind)

    # -- alerts ------------------------------------------------------------------------
    def _alert(self, detail: Mapping[str, Any], t_s: float, node: str, mid: str, priority: int) -> None:
        src = detail.get("src") if isinstance(detail.get("src"), str) else node
        try:
            alert = read_alert_body(detail.get("body"))
        except InteropError as exc:
            self._feed(t_s, "alert", f"alert {mid[:8]} delivered at {node} is unreadable: {exc}", src)
            self.rejected += 1
            raise RemoteInputError("bad_field", f"delivered alert {mid[:8]}: {exc}") from None
        if isinstance(alert, str):
            self._feed(t_s, "flash" if priority == Priority.FLASH else "alert", alert, src)
            return
        if alert.identifier in self.alert_ids:
            return                                   # the same alert delivered at another node
        self.alert_ids[alert.identifier] = None
        if len(self.alert_ids) > MAX_ALERT_IDS:
            del self.alert_ids[next(iter(self.alert_ids))]
        key = (alert.sender, tuple(a.desc for a in alert.areas))
        text = alert.headline or alert.event
        if _clears(alert):
            self.alert_overlays.pop(key, None)
            self._feed(t_s, "info", f"all clear: {text}" if alert.urgency == "Past" else f"cancelled: {text}", src)
            return
        overlay = alert_overlay(alert)
        if overlay is not None:
            self.alert_overlays.pop(key, None)       # a newer alert for the area replaces it, on top
            self.alert_overlays[key] = overlay
            if len(self.alert_overlays) > MAX_ALERT_OVERLAYS:
                del self.alert_overlays[next(iter(self.alert_overlays))]
        self._feed(t_s, "flash" if cap.priority_of(alert) == Priority.FLASH else "alert", text, src)

    def _feed(self, t_s: float, level: str, text: str, node: str) -> None:
        self.feed.append(FeedItem(t_s=t_s, text=text, level=level, node=node))
        del self.feed[:-MAX_FEED]

    # -- the picture -------------------------------------------------------------------
    def _link(self, l: LinkView, now_s: float) -> LinkView:
        ends = self.link_ends.get(l.id)
        state, reason, cap_pct = l.state, l.reason, l.capacity_pct
        if l.id in self.link_state:
            state, reason = self.link_state[l.id]
            cap_pct = 100.0 if state == "up" else 0.0
        if ends:
            down_at = sorted(n for n, up in ends.items() if not up)
            if down_at:
                if state != "down":
                    reason = f"reported down by {', '.join(down_at)}"
                state, cap_pct = "down", 0.0
            else:
                state, cap_pct = "up", 100.0
                if l.id in self.link_state and self.link_state[l.id][0] == "up":
                    reason = self.link_state[l.id][1]
                elif reason.startswith("reported down by") or l.id in self.link_state:
                    reason = ""
        rates, top = self.link_rate.get(l.id), self.link_rate_max.get(l.id)
        if state != "down" and rates and top:
            cap_pct = round(100.0 * min(rates.values()) / top, 1)
            state = "degraded" if cap_pct < DEGRADED_BELOW_PCT else "up"
        carrying = tuple(sorted(p for p in range(PRIORITY_COUNT)
                                if now_s - self.carried_at.get((l.id, p), -math.inf) <= self.carry_window_s))
        return dataclasses.replace(l, state=state, reason=reason, capacity_pct=cap_pct, carrying=carrying)

    def _node(self, n: NodeView, t0: float) -> NodeView:
        changes: dict[str, Any] = {"last_heard_s": (self.last_heard[n.id] - t0) if n.id in self.last_heard else None}
        if n.id in self.queues:
            changes["queue_depths"] = self.queues[n.id]
        pw = self.power.get(n.id)
        if pw:
            changes.update(pw)
            if "battery_left_h" not in pw:
                changes["battery_left_h"] = None
            if pw.get("power") == "off":
                changes["up"] = False
        return dataclasses.replace(n, **changes)

    def _connectivity(self, nodes: list[NodeView], links: list[LinkView], now_rel: float) -> list[NodeView]:
        """Whether each node has a path of links not down to a command node (when there is one)."""
        commands = [n.id for n in nodes if n.role == "command" and n.up]
        if not any(n.role == "command" for n in nodes):
            return nodes
        up = {n.id for n in nodes if n.up}
        adj: dict[str, set[str]] = {}
        for l in links:
            if l.state != "down" and l.a in up and l.b in up:
                adj.setdefault(l.a, set()).add(l.b)
                adj.setdefault(l.b, set()).add(l.a)
        reach, todo = set(commands), list(commands)
        while todo:
            for m in adj.get(todo.pop(), ()):
                if m not in reach:
                    reach.add(m)
                    todo.append(m)
        out = []
        for n in nodes:
            if n.id in reach or not n.up:
                self.cut_since.pop(n.id, None)
                out.append(dataclasses.replace(n, connected=True, cut_off_since_s=None))
            else:
                since = self.cut_since.setdefault(n.id, now_rel)
                out.append(dataclasses.replace(n, connected=False, cut_off_since_s=since))
        return out

    def situation(self, now_s: float) -> Situation:
        """The picture now: base positions with link and node states, queues, usage, links
        carrying traffic and stats from telemetry (``t_s`` and ``last_heard_s`` in seconds
        since the first frame received)."""
        t0 = self.t0 if self.t0 is not None else now_s
        # the base gives positions and the last known states; traffic, routes and usage
        # shown live come from telemetry only, never from the base
        links = [self._link(l, now_s) for l in self.base.links]
        nodes = [self._node(n, t0) for n in self.base.nodes]
        if self.last_heard:
            nodes = self._connectivity(nodes, links, max(0.0, now_s - t0))
        stats = []
        for p in Priority:
            lat = sorted(self.latencies[p])
            stats.append(PriorityStats(
                # a message delivered was sent, even if its submission came before the map listened
                priority=int(p), sent=max(self.sent[p], self.delivered[p]), delivered=self.delivered[p],
                latency_p50_s=statistics.median(lat) if lat else None,
                latency_p95_s=lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None))
        usage = tuple(LinkUsage(kind=k, bytes=b, cost_cny=self.usage_cost.get(k, 0.0))
                      for k, b in sorted(self.usage_bytes.items()))
        return dataclasses.replace(self.base, t_s=max(0.0, now_s - t0), nodes=tuple(nodes), links=tuple(links),
                                   stats=tuple(stats), feed=tuple(self.feed), routes=(), usage=usage,
                                   hazards=self.base.hazards + tuple(self.alert_overlays.values()))

    def unknown_nodes(self) -> list[str]:
        """Nodes heard on telemetry but absent from the base situation (no position to draw)."""
        known = {n.id for n in self.base.nodes}
        return sorted(set(self.last_heard) - known)


def _cost_per_mb_cny(kind: str) -> float:
    """The kind's default price per MB (``emcomm.links.profiles``, where each figure's source is
    given); 0 for a kind the profiles do not know."""
    try:
        return make_profile(kind).cost_per_mb_cny
    except EmcommError:
        return 0.0


@dataclasses.dataclass(frozen=True)
class LiveSource:
    """One telemetry endpoint and, for a secure node's tcp:// socket, its CURVE server key (Z85)."""

    endpoint: str
    server_key: bytes | None = None
    node: str = ""


@dataclasses.dataclass(frozen=True)
class ClientKeys:
    """The command centre's CURVE key pair (Z85), as its rostered identity holds it."""

    public: bytes
    secret: bytes


def _source_from_node_file(item: str) -> LiveSource:
    import json
    from pathlib import Path

    path = Path(item)
    if path.is_dir():
        path = path / "node.json"
    try:
        info = json.loads(path.read_text())
        telemetry, node = info.get("telemetry"), str(info.get("id", ""))
    except (OSError, ValueError, AttributeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"live source {item!r}: cannot read {path} ({why}); expected a running node's data "
                         "directory or its node.json, NODE@tcp://HOST:PORT, tcp://HOST:PORT or ipc://PATH") from None
    if not telemetry:
        raise UsageError(f"live source {item!r}: node {node!r} publishes no telemetry (start it with --telemetry)")
    key = info.get("curve_public")
    return LiveSource(check_endpoint(str(telemetry)), str(key).encode("ascii") if key else None, node)


def source_endpoint(item: str) -> tuple[str, str] | None:
    """A ``--live`` item's (node, endpoint) when it is an endpoint (node ``""``) or
    ``NODE@ENDPOINT``; None when it names a node's data directory or ``node.json``.

    >>> source_endpoint("cc@tcp://127.0.0.1:5601"), source_endpoint("runs/cc")
    (('cc', 'tcp://127.0.0.1:5601'), None)
    """
    if item.startswith(("tcp://", "ipc://")):
        return "", item
    node, at, ep = item.partition("@")
    return (node, ep) if at and ep.startswith(("tcp://", "ipc://")) else None


def live_sources(items: list[str], *, identity: str | None = None,
                 roster: str | None = None) -> tuple[list[LiveSource], ClientKeys | None]:
    """Resolve ``emcomm ui --live`` items into sources and the client keys to subscribe with.

    An item is an endpoint (``tcp://HOST:PORT``, ``ipc://PATH``), ``NODE@tcp://HOST:PORT``
    (the node's server key from ``roster``), or a running node's data directory or
    ``node.json`` (endpoint and server key as the node wrote them). With ``identity`` (a
    key directory whose key is on the roster) every tcp:// source must have a server key;
    without it, a source that has one is refused (that node's telemetry admits rostered
    keys only). ipc:// needs no keys: the socket file's permissions guard it.

    >>> live_sources(["tcp://127.0.0.1:5601"])
    ([LiveSource(endpoint='tcp://127.0.0.1:5601', server_key=None, node='')], None)
    """
    loaded_roster = None
    sources: list[LiveSource] = []
    for item in items:
        form = source_endpoint(item)
        if form is None:
            sources.append(_source_from_node_file(item))
        elif form[1] == item:
            sources.append(LiveSource(check_endpoint(item)))
        else:
            node, ep = form
            if roster is None:
                raise UsageError(f"live source {item!r} names node {node!r}: give --roster ROSTER to find its key")
            if loaded_roster is None:
                from emcomm.node.roster import load_roster
                loaded_roster = load_roster(roster)
            entry = loaded_roster.active(node)
            if entry is None:
                raise UsageError(f"live source {item!r}: node {node!r} has no active key on roster "
                                 f"v{loaded_roster.version} ({roster})")
            sources.append(LiveSource(check_endpoint(ep), entry.curve_public, node))
    if identity is None:
        secure = [s.node or s.endpoint for s in sources if s.server_key is not None and s.endpoint.startswith("tcp://")]
        if secure:
            raise UsageError(f"the telemetry of {', '.join(secure)} is secure (CURVE, rostered keys only): "
                             "give --identity DIR with the command centre's rostered key")
        return sources, None
    from emcomm.node.identity import load_identity
    ident = load_identity(identity)
    keyless = [s.endpoint for s in sources if s.server_key is None and s.endpoint.startswith("tcp://")]
    if keyless:
        raise UsageError(f"--identity given, but the server key of {', '.join(keyless)} is unknown: name the node "
                         "(NODE@tcp://HOST:PORT with --roster) or give its data directory / node.json instead")
    return sources, ClientKeys(ident.public.curve_public, ident.curve_secret)


class TelemetryListener:
    """SUB sockets (receive only) on each endpoint; ``poll`` drains what has arrived.

    ``endpoints`` are endpoint strings or ``LiveSource``s; a source with a server key is
    subscribed with CURVE as ``client`` (see ``live_sources``)."""

    def __init__(self, endpoints: list[str] | list[LiveSource] | list[str | LiveSource],
                 client: ClientKeys | None = None):
        import zmq  # the runtime dependency stays out of the pure functions above

        self._zmq = zmq
        self.ctx = zmq.Context.instance()
        sources = [e if isinstance(e, LiveSource) else LiveSource(check_endpoint(e)) for e in endpoints]
        self.endpoints = [src.endpoint for src in sources]
        self.sockets = []
        self.last_msg_s: dict[str, float | None] = {e: None for e in self.endpoints}
        self.started_s = time.monotonic()
        for src in sources:
            s = self.ctx.socket(zmq.SUB)
            s.setsockopt(zmq.SUBSCRIBE, b"")
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVHWM, 100_000)
            if src.server_key is not None and src.endpoint.startswith("tcp://"):
                if client is None:
                    s.close(0)
                    self.close()
                    raise UsageError(f"{src.endpoint} needs CURVE keys: give the command centre's identity")
                s.curve_publickey, s.curve_secretkey, s.curve_serverkey = client.public, client.secret, src.server_key
            s.connect(src.endpoint)
            self.sockets.append((src.endpoint, s))

    def poll(self, fold: LiveFold, max_msgs: int = 50_000) -> int:
        """Fold every waiting event into ``fold``; return how many arrived."""
        import msgpack

        n = 0
        for ep, s in self.sockets:
            while n < max_msgs:
                try:
                    frames = s.recv_multipart(self._zmq.NOBLOCK)
                except self._zmq.Again:
                    break
                now = time.monotonic()
                self.last_msg_s[ep] = now
                n += 1
                topic = frames[0].decode("ascii", "replace") if len(frames) > 1 else "event"
                try:
                    ev = msgpack.unpackb(frames[-1], raw=False)
                except (ValueError, msgpack.UnpackException):
                    fold.rejected += 1
                    continue
                try:
                    fold.add(ev, recv_s=now, topic=topic)
                except RemoteInputError:
                    pass                  # counted in fold.rejected by add
        return n

    def silent(self, now_s: float, after_s: float) -> list[tuple[str, float]]:
        """Endpoints with nothing received for ``after_s`` seconds, with how long."""
        out = []
        for ep, t in self.last_msg_s.items():
            age = now_s - (t if t is not None else self.started_s)
            if age > after_s:
                out.append((ep, age))
        return out

    def close(self) -> None:
        for _, s in self.sockets:
            s.close(0)
