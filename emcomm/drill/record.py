"""Recording a drill as it runs: situation keyframes and changes for the map, and every message event.

This module owns what the engine writes while it runs, through the unchanged
``emcomm.drill.recording`` writer (one record per call, flushed, so a run stopped with
Ctrl-C leaves a file that reads up to its last record). Two files:

- ``recording.emrec`` — what the map replays (``emcomm ui --replay``): a keyframe with the
  whole ``emcomm.ui.situation`` picture every ``keyframe_interval_s``, and between them
  ``node`` events (power/up changes, base stations included), ``link`` events (state and
  capacity of every scenario link), ``routes`` events (the path each traffic flow takes
  now, written when it changes; keyframes carry ``stats`` and ``usage``) and ``feed``
  items (FLASH delivered, messages expired, teams cut off / reached again).
- ``events.emrec`` — the message-level trace in the same format: one record per node-core
  telemetry event (kinds ``submitted, sent, forwarded, retransmit, delivered, receipt,
  dropped, rerouted, link_up, link_down, routes_changed``) with data ``{"node", "msg",
  "p", "link", "reason"}``; its single keyframe at t=0 holds only the scenario name.

It never reads a clock and computes no figures beyond those it draws from the engine.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from emcomm.drill.recording import RecordingWriter
from emcomm.drill.overlays import HazardOverlays
from emcomm.node import telemetry as tm
from emcomm.priority import PRIORITY_COUNT, Priority

if TYPE_CHECKING:  # pragma: no cover
    from emcomm.drill.engine import Engine

RECORDING_NAME = "recording.emrec"
EVENTS_NAME = "events.emrec"
MAX_ROUTE_HOPS = 16
FEED_KEPT = 50                 # feed items carried in each keyframe (the map's feed panel shows fewer)


class SituationRecorder:
    """A ``RecordingSink`` writing ``recording.emrec`` and ``events.emrec`` into ``out_dir``."""

    def __init__(self, out_dir: str | os.PathLike[str], *, keyframe_interval_s: float = 900.0,
                 message_events: bool = True):
        self.out_dir = os.fspath(out_dir)
        self.keyframe_interval_s = keyframe_interval_s
        self.message_events = message_events
        self.engine: Engine | None = None
        self.rec: RecordingWriter | None = None
        self.ev: RecordingWriter | None = None
        self._last_t = 0.0
        self._routes: list[dict[str, Any]] = []
        self._links_seen: dict[str, tuple[str, float, str]] = {}
        self._cut: dict[str, float] = {}
        self._name = ""
        self._feed_items: list[dict[str, Any]] = []
        self._hazards_seen: list[dict[str, Any]] = []
        self._overlays = HazardOverlays()

    # -- RecordingSink ---------------------------------------------------------------
    def start(self, engine: "Engine") -> None:
        self.engine = engine
        sc = engine.scenario
        meta = {"seed": engine.seed, "policy": engine.policy.name, "duration_s": engine.duration_s}
        name = self._name = os.path.splitext(os.path.basename(sc.path))[0] or sc.info.name
        self.rec = RecordingWriter(os.path.join(self.out_dir, RECORDING_NAME), scenario=name,
                                   start=sc.info.start.isoformat(), keyframe_interval_s=self.keyframe_interval_s,
                                   meta=meta)
        if self.message_events:
            self.ev = RecordingWriter(os.path.join(self.out_dir, EVENTS_NAME), scenario=name,
                                      start=sc.info.start.isoformat(), meta=meta)
            self.ev.keyframe(0.0, {"t_s": 0.0, "scenario": name})

    def message_event(self, e: tm.TelemetryEvent) -> None:
        t = max(e.t_s, self._last_t)
        if self.ev is not None:
            self.ev.record(e.t_s, e.kind, {"node": e.node, "msg": e.msg_id.hex() if e.msg_id else "",
                                           "p": e.priority, "link": e.link_id, "reason": e.reason})
        eng = self.engine
        if eng is None or self.rec is None:
            return
        fate = eng._fates.get(e.msg_id) if e.msg_id else None
        if fate is None:
            return
        if e.kind == tm.DELIVERED and e.node == fate.dst and e.priority == int(Priority.FLASH):
            self._feed(t, "flash", f"FLASH {fate.src} → {fate.dst} delivered after {e.t_s - fate.created_s:.1f} s", e.node)
        elif e.kind == tm.DROPPED and e.reason == "expired":
            self._feed(t, "alert", f"{Priority(fate.priority).name} {fate.src} → {fate.dst} expired undelivered", e.node)

    def node_changed(self, t_s: float, node_id: str) -> None:
        if self.rec is not None and self.engine is not None:
            self._record(t_s, "node", self._node(node_id))

    def link_changed(self, t_s: float, link_id: str) -> None:  # links are diffed at hazard steps
        return None

    def hazard_step(self, t_s: float) -> None:
        eng = self.engine
        if eng is None or self.rec is None:
            return
        for link in eng.scenario.links:
            view = self._link(link.id)
            key = (view["state"], view["capacity_pct"], view["reason"])
            if self._links_seen.get(link.id) != key:
                self._links_seen[link.id] = key
                self._record(t_s, "link", view)
        for team, since in eng.cut_off.items():
            if team not in self._cut:
                self._feed(t_s, "alert", f"command centre cut off from {team}", team)
                self._record(t_s, "node", {"id": team, "connected": False, "cut_off_since_s": since})
        for team in list(self._cut):
            if team not in eng.cut_off:
                self._feed(t_s, "info", f"command centre reaches {team} again", team)
                self._record(t_s, "node", {"id": team, "connected": True, "cut_off_since_s": None})
        self._cut = dict(eng.cut_off)
        hazards = self._hazard_views(t_s)
        if hazards != self._hazards_seen:
            self._hazards_seen = hazards
            self._record(t_s, "hazards", {"items": hazards})
        routes = self._route_views()
        if routes != self._routes:
            self._routes = routes
            self._record(t_s, "routes", {"items": routes})

    def keyframe(self, t_s: float) -> None:
        eng = self.engine
        if eng is None or self.rec is None or eng.impact is None:
            return
        sc = eng.scenario
        situation = {
            "t_s": t_s,
            "scenario": self._name,
            "nodes": [self._node(n.id) for n in sc.nodes],
            "links": [self._link(link.id) for link in sc.links],
            "routes": self._route_views(),
            "stats": self._stats(),
            "usage": self._usage(),
            "hazards": self._hazard_views(t_s),
            "feed": self._feed_items[-FEED_KEPT:],  # a keyframe replaces the picture: keep the recent feed in it
        }
        self._last_t = max(self._last_t, t_s)
        self.rec.keyframe(self._last_t, situation)

    def close(self) -> None:
        for w in (self.rec, self.ev):
            if w is not None:
                w.close()

    # -- situation pieces --------------------------------------------------------------
    def _record(self, t_s: float, kind: str, data: dict[str, Any]) -> None:
        assert self.rec is not None
        self._last_t = max(self._last_t, t_s)
        self.rec.event(self._last_t, kind, data)

    def _feed(self, t_s: float, level: str, text: str, node: str) -> None:
        item = {"t_s": max(t_s, self._last_t), "level": level, "text": text, "node": node}
        self._feed_items = (self._feed_items + [item])[-FEED_KEPT:]
        self._record(t_s, "feed", item)

    def _hazard_views(self, t_s: float) -> list[dict[str, Any]]:
        """Map overlays of the scenario's hazards at ``t_s`` (``emcomm.drill.overlays``)."""
        eng = self.engine
        assert eng is not None
        return self._overlays.views(((h.kind, h.name, h.model) for h in eng.scenario.hazards), t_s)

    def _node(self, node_id: str) -> dict[str, Any]:
        eng = self.engine
        assert eng is not None
        n = next(x for x in eng.scenario.nodes if x.id == node_id)
        st = eng.node_state[node_id]
        d: dict[str, Any] = {"id": n.id, "name": n.name, "lat_deg": n.site.lat_deg, "lon_deg": n.site.lon_deg,
                             "role": n.role, "power": st.power.value, "up": bool(st.up),
                             "battery_left_h": None if st.battery_left_s is None else round(st.battery_left_s / 3600, 3)}
        run = eng.nodes.get(node_id)
        if run is not None:
            depth = [0] * PRIORITY_COUNT
            if run.core is not None:
                snap = run.core.snapshot(eng.now)
                for counts in snap["queues"].values():
                    depth = [a + b for a, b in zip(depth, counts)]
                depth = [a + b for a, b in zip(depth, snap["held"])]
            d["queue_depths"] = depth
            if node_id in eng.cut_off:
                d["connected"], d["cut_off_since_s"] = False, eng.cut_off[node_id]
        return d

    def _link(self, link_id: str) -> dict[str, Any]:
        eng = self.engine
        assert eng is not None
        link = next(x for x in eng.scenario.links if x.id == link_id)
        st = eng.link_state[link_id]
        state = "down" if not st.up else ("degraded" if st.capacity_factor < 1.0 else "up")
        return {"id": link.id, "kind": link.kind.value, "a": link.a, "b": link.b, "state": state,
                "capacity_pct": round(100.0 * (st.capacity_factor if st.up else 0.0), 1), "reason": st.reason}

    def _route_views(self) -> list[dict[str, Any]]:
        eng = self.engine
        assert eng is not None
        out: list[dict[str, Any]] = []
        seen: set[tuple[int, str, str]] = set()
        for tr in eng.scenario.traffic:
            key = (int(tr.priority), tr.from_id, tr.to_id)
            if key in seen:
                continue
            seen.add(key)
            nodes, links = [tr.from_id], []
            here = tr.from_id
            while here != tr.to_id and len(links) < MAX_ROUTE_HOPS:
                run = eng.nodes.get(here)
                if run is None or run.core is None:
                    break
                lid = run.core.routes.next_hop(tr.to_id, min(tr.size_bytes, 65536), int(tr.priority))
                if lid is None:
                    break
                spec = eng.links[lid].spec
                here = spec.b if spec.a == here else spec.a
                links.append(lid)
                nodes.append(here)
            if here == tr.to_id:
                phys = [p for lid in links for p in eng.links[lid].spec.via[0]]
                out.append({"priority": int(tr.priority), "src": tr.from_id, "dst": tr.to_id,
                            "links": phys, "nodes": nodes})
        return out

    def _stats(self) -> list[dict[str, Any]]:
        eng = self.engine
        assert eng is not None
        out = []
        for p in Priority:
            fates = [f for f in eng._fates.values() if f.priority == int(p)]
            lat = [f.delivered_s - f.created_s for f in fates if f.delivered_s is not None]
            d: dict[str, Any] = {"priority": int(p), "sent": len(fates), "delivered": len(lat)}
            if lat:
                d["latency_p50_s"] = float(np.percentile(lat, 50))
                d["latency_p95_s"] = float(np.percentile(lat, 95))
            out.append(d)
        return out

    def _usage(self) -> list[dict[str, Any]]:
        eng = self.engine
        assert eng is not None
        return [{"kind": k, "bytes": int(b), "cost_cny": round(eng.result.kind_cost_cny[k], 4)}
                for k, b in eng.result.kind_bytes.items()]
