"""The demo's recording: the scripted link and power states plus node telemetry, as a replayable file.

Owns building Situation dicts (``emcomm.ui.situation``) from the demo plan, the script's
changes, the nodes' queue snapshots and the ledger, and writing them with
``emcomm.drill.recording`` (keyframes at a fixed scenario-time interval, events for every
change and narration line between them). Times are scenario seconds given by the caller;
it reads no clock and talks to no node.

Example
-------
>>> from emcomm.drill.scenario import load_scenario                        # doctest: +SKIP
>>> rec = DemoRecorder(make_plan(load_scenario("drills/demo_lekima_2019.toml"), 600), "demo.emrec")  # doctest: +SKIP
>>> rec.keyframe(0.0, Ledger())                                             # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import networkx as nx

from emcomm.demo.ledger import Ledger
from emcomm.demo.plan import DemoPlan
from emcomm.demo.script import Change
from emcomm.drill.recording import RecordingWriter
from emcomm.priority import PRIORITY_COUNT

DEGRADED_BELOW = 0.95


class DemoRecorder:
    def __init__(self, plan: DemoPlan, path: str | os.PathLike[str], keyframe_interval_s: float = 3600.0,
                 meta: Mapping[str, Any] | None = None):
        self.plan = plan
        sc = plan.scenario
        self.writer = RecordingWriter(path, scenario=sc.info.name, start=sc.info.start.isoformat(),
                                      keyframe_interval_s=keyframe_interval_s,
                                      meta={"source": "emcomm demo", "speed": plan.speed, **dict(meta or {})})
        self.nodes: dict[str, dict[str, Any]] = {
            n.id: {"id": n.id, "name": n.name, "lat_deg": n.lat_deg, "lon_deg": n.lon_deg, "role": n.role,
                   "power": "mains", "up": True, "connected": True, "queue_depths": [0] * PRIORITY_COUNT}
            for n in plan.nodes}
        self.links: dict[str, dict[str, Any]] = {
            l.id: {"id": l.id, "kind": l.kind, "a": l.a, "b": l.b, "state": "up", "capacity_pct": 100.0,
                   "reason": "", "carrying": []} for l in plan.links}
        self.feed: list[dict[str, Any]] = []
        self.path = str(path)

    # -- changes --------------------------------------------------------------------
    def apply(self, c: Change) -> None:
        """A scripted change: update the picture and record it as an event."""
        t = self._t(c.t_s)
        if c.kind == "node":
            n = self.nodes[c.id]
            n.update(power=c.power, up=c.node_up,
                     battery_left_h=None if c.battery_left_s is None else round(c.battery_left_s / 3600.0, 2))
            self.writer.event(t, "node", {k: n[k] for k in ("id", "power", "up", "battery_left_h")})
        else:
            assert c.link is not None
            l = self.links[c.id]
            cf = c.link.capacity_factor if c.link.up else 0.0
            l.update(state="down" if not c.link.up else ("degraded" if cf < DEGRADED_BELOW else "up"),
                     capacity_pct=round(100.0 * cf, 1), reason=c.link.reason)
            self.writer.event(t, "link", {k: l[k] for k in ("id", "state", "capacity_pct", "reason")})
        self._connectivity(t)

    def say(self, t_s: float, level: str, text: str, node: str = "") -> None:
        item = {"t_s": self._t(t_s), "level": level, "text": text[:300], "node": node}
        self.feed.append(item)
        del self.feed[:-100]
        self.writer.event(item["t_s"], "feed", item)

    def queues(self, node_id: str, held: list[int], per_link: Mapping[str, list[int]]) -> None:
        """A node's status: messages waiting per priority (held without a route + queued on links)."""
        depths = list(held[:PRIORITY_COUNT]) + [0] * (PRIORITY_COUNT - len(held))
        for counts in per_link.values():
            for p, c in enumerate(counts[:PRIORITY_COUNT]):
                depths[p] += int(c)
        self.nodes[node_id]["queue_depths"] = [max(0, int(d)) for d in depths]

    def carrying(self, link_id: str, priority: int) -> None:
        """A message of ``priority`` went out on the link (shown until the next keyframe)."""
        l = self.links.get(link_id)
        if l is not None and 0 <= priority < PRIORITY_COUNT and priority not in l["carrying"]:
            l["carrying"].append(priority)

    # -- snapshots ------------------------------------------------------------------
    def due(self, t_s: float) -> bool:
        return self.writer.due_keyframe(t_s)

    def keyframe(self, t_s: float, ledger: Ledger) -> None:
        t = self._t(t_s)
        stats = [{"priority": int(p), "sent": line.accepted, "delivered": line.delivered,
                  "latency_p50_s": line.latency_p50_s, "latency_p95_s": line.latency_max_s}
                 for p, line in ledger.stats().items()]
        for s in stats:
            s.update({k: v for k, v in s.items() if v is not None})
            for k in ("latency_p50_s", "latency_p95_s"):
                if s[k] is None:
                    del s[k]
        nodes = [dict(n, last_heard_s=t) for n in self.nodes.values()]
        for n in nodes:
            if n.get("battery_left_h") is None:
                n.pop("battery_left_h", None)
        sit = {"t_s": t, "scenario": self.plan.scenario.info.name, "nodes": nodes,
               "links": [dict(l, carrying=sorted(l["carrying"])) for l in self.links.values()],
               "hazards": self._hazards(t), "stats": stats, "feed": list(self.feed)}
        self.writer.keyframe(t, sit)
        for l in self.links.values():
            l["carrying"] = []

    def close(self) -> None:
        self.writer.close()

    # -- helpers --------------------------------------------------------------------
    def _t(self, t_s: float) -> float:
        # records never go back in time (a keyframe may have been written a moment later)
        return max(float(t_s), self.writer._last_t if self.writer._last_t > float("-inf") else 0.0)

    def _connectivity(self, t: float) -> None:
        g = nx.Graph()
        g.add_nodes_from(n for n, v in self.nodes.items() if v["up"])
        g.add_edges_from((l["a"], l["b"]) for l in self.links.values()
                         if l["state"] != "down" and l["a"] in g and l["b"] in g)
        reach: set[str] = set()
        for cc in self.plan.command_ids():
            if cc in g:
                reach |= nx.node_connected_component(g, cc)
        for nid, n in self.nodes.items():
            connected = nid in reach
            if connected != n["connected"]:
                n["connected"] = connected
                if connected:
                    n.pop("cut_off_since_s", None)
                    self.writer.event(t, "node", {"id": nid, "connected": True})
                else:
                    n["cut_off_since_s"] = t
                    self.writer.event(t, "node", {"id": nid, "connected": False, "cut_off_since_s": t})

    def _hazards(self, t: float) -> list[dict[str, Any]]:
        out = []
        for h in self.plan.scenario.hazards:
            state = getattr(h.model, "state", None)
            s = state(t) if callable(state) else None
            if s is not None and hasattr(s, "rmw_km"):
                out.append({"hazard": h.kind, "name": h.name, "shapes": [
                    {"shape": "circle", "coords": [[s.lat_deg, s.lon_deg]], "radius_m": 1000.0 * s.rmw_km,
                     "label": f"{h.name}: {s.max_wind_m_s:.0f} m/s, {s.pressure_hpa:.0f} hPa",
                     "value": s.max_wind_m_s}]})
        return out
