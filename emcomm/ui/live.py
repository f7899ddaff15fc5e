"""Live mode: fold node telemetry events into the situation picture, and listen for them.

Owns two things: ``LiveFold`` (pure: telemetry dicts + receive times → Situation) and
``TelemetryListener`` (ZeroMQ SUB sockets, one per endpoint, receive only). The UI never
sends anything into the mesh: SUB sockets cannot send, and no identity is held here.

A delivered ALERT (its ``delivered`` event's detail carries ``content_type`` 3 and the
compact CAP ``body``) becomes a hazard overlay of its area (``alert_overlay``) and a feed
item, once per CAP identifier; an alert with urgency ``Past`` or msgType ``Cancel`` (e.g.
a sensor's all-clear) removes the overlay of the same sender and area.

A telemetry frame is one msgpack map in the shape of
``emcomm.node.telemetry.TelemetryEvent.as_dict()`` (``kind, t_s, node, msg_id, priority,
link_id, reason, detail``); with a multipart message the last frame is the event. Node
clocks are monotonic and differ between nodes, so ages and latencies use the command
centre's receive time (``recv_s``), given by the caller.

Example
-------
>>> f = LiveFold()
>>> f.add({"kind": "submitted", "t_s": 1.0, "node": "t1", "msg_id": "aa", "priority": 0}, recv_s=10.0)
>>> f.add({"kind": "delivered", "t_s": 9.0, "node": "cc", "msg_id": "aa", "priority": 0}, recv_s=12.5)
>>> st = f.situation(now_s=13.0).stats[0]
>>> (st.sent, st.delivered, st.latency_p50_s)
(1, 1, 2.5)
"""

from __future__ import annotations

import dataclasses
import re
import statistics
import time
from typing import Any, Mapping

from emcomm.errors import InteropError, RemoteInputError, UsageError
from emcomm.interop import cap
from emcomm.node.wire import ContentType
from emcomm.priority import Priority
from emcomm.ui.situation import FeedItem, HazardOverlay, HazardShape, PriorityStats, Situation

MAX_FEED = 200
MAX_LATENCIES = 2000  # per priority, most recent
MAX_ALERT_OVERLAYS = 500   # alert areas on the map, oldest dropped first
MAX_ALERT_IDS = 10_000     # CAP identifiers remembered to show each alert once

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


class LiveFold:
    """Accumulates telemetry events on top of an optional base situation (node positions and
    links, e.g. from a scenario's recording). Nodes never seen in the base are listed by id
    without a position and are not drawn."""

    def __init__(self, base: Situation | None = None):
        self.base = base or Situation(t_s=0.0)
        self.last_heard: dict[str, float] = {}
        self.link_state: dict[str, tuple[str, str]] = {}
        self.sent = [0] * len(Priority)
        self.delivered = [0] * len(Priority)
        self.latencies: list[list[float]] = [[] for _ in Priority]
        self.submitted_at: dict[str, float] = {}
        self.delivered_ids: set[str] = set()
        self.feed: list[FeedItem] = []
        self.rejected = 0
        self.t0: float | None = None
        self.alert_ids: dict[str, None] = {}                       # CAP identifiers shown, oldest first
        self.alert_overlays: dict[tuple[str, tuple[str, ...]], HazardOverlay] = {}   # by (sender, area descs)

    def add(self, ev: Mapping[str, Any], recv_s: float) -> None:
        """Fold one event; a malformed one raises RemoteInputError (count it and go on). A
        delivered alert whose body cannot be read still counts as delivered, shows as an
        unreadable alert in the feed, and raises RemoteInputError."""
        if not isinstance(ev, Mapping) or not isinstance(ev.get("kind"), str) or not isinstance(ev.get("node"), str):
            self.rejected += 1
            raise RemoteInputError("malformed", "telemetry event needs text 'kind' and 'node'")
        if self.t0 is None:
            self.t0 = recv_s
        kind, node = ev["kind"], ev["node"]
        p = ev.get("priority", -1)
        p = p if isinstance(p, int) and 0 <= p < len(Priority) else -1
        mid = ev.get("msg_id") or ""
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
            if mid in self.submitted_at:
                lat = self.latencies[p]
                lat.append(recv_s - self.submitted_at.pop(mid))
                del lat[:-MAX_LATENCIES]
            detail = ev.get("detail")
            if isinstance(detail, Mapping) and detail.get("content_type") == ContentType.ALERT:
                self._alert(detail, t_rel, node, str(mid))
        elif kind == "dropped":
            self._feed(t_rel, "alert", f"message {str(mid)[:8]} dropped: {ev.get('reason', '')}", node)
        elif kind in ("link_up", "link_down") and isinstance(ev.get("link_id"), str):
            self.link_state[ev["link_id"]] = ("up" if kind == "link_up" else "down", str(ev.get("reason", "")))
            if kind == "link_down":
                self._feed(t_rel, "alert", f"link {ev['link_id']} down: {ev.get('reason', '')}", node)

    def _alert(self, detail: Mapping[str, Any], t_s: float, node: str, mid: str) -> None:
        src = detail.get("src") if isinstance(detail.get("src"), str) else node
        try:
            alert = cap.decode_compact(detail.get("body"))  # type: ignore[arg-type]
        except InteropError as exc:
            self._feed(t_s, "alert", f"alert {mid[:8]} delivered at {node} is unreadable: {exc}", src)
            raise RemoteInputError("bad_field", f"delivered alert {mid[:8]}: {exc}") from None
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

    def situation(self, now_s: float) -> Situation:
        """The picture now: base positions, link states from telemetry, last-heard times and
        stats (``t_s`` and ``last_heard_s`` in seconds since the first event received)."""
        t0 = self.t0 if self.t0 is not None else now_s
        nodes = [dataclasses.replace(n, last_heard_s=(self.last_heard[n.id] - t0) if n.id in self.last_heard else None)
                 for n in self.base.nodes]
        # the base gives positions and the last known link states; traffic, routes and usage
        # shown live come from telemetry only, never from the base
        links = [dataclasses.replace(l, state=self.link_state[l.id][0], reason=self.link_state[l.id][1],
                                     capacity_pct=100.0 if self.link_state[l.id][0] == "up" else 0.0, carrying=())
                 if l.id in self.link_state else dataclasses.replace(l, carrying=()) for l in self.base.links]
        stats = []
        for p in Priority:
            lat = sorted(self.latencies[p])
            stats.append(PriorityStats(
                priority=int(p), sent=self.sent[p], delivered=min(self.delivered[p], self.sent[p]),
                latency_p50_s=statistics.median(lat) if lat else None,
                latency_p95_s=lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None))
        return dataclasses.replace(self.base, t_s=now_s - t0, nodes=tuple(nodes), links=tuple(links),
                                   stats=tuple(stats), feed=tuple(self.feed), routes=(), usage=(),
                                   hazards=self.base.hazards + tuple(self.alert_overlays.values()))

    def unknown_nodes(self) -> list[str]:
        """Nodes heard on telemetry but absent from the base situation (no position to draw)."""
        known = {n.id for n in self.base.nodes}
        return sorted(set(self.last_heard) - known)


class TelemetryListener:
    """SUB sockets (receive only) on each endpoint; ``poll`` drains what has arrived."""

    def __init__(self, endpoints: list[str]):
        import zmq  # the runtime dependency stays out of the pure functions above

        self._zmq = zmq
        self.ctx = zmq.Context.instance()
        self.endpoints = [check_endpoint(e) for e in endpoints]
        self.sockets = []
        self.last_msg_s: dict[str, float | None] = {e: None for e in self.endpoints}
        self.started_s = time.monotonic()
        for ep in self.endpoints:
            s = self.ctx.socket(zmq.SUB)
            s.setsockopt(zmq.SUBSCRIBE, b"")
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVHWM, 100_000)
            s.connect(ep)
            self.sockets.append((ep, s))

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
                try:
                    fold.add(msgpack.unpackb(frames[-1], raw=False), recv_s=now)
                except (ValueError, msgpack.UnpackException, RemoteInputError):
                    fold.rejected += 1
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
