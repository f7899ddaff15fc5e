"""Synthetic situations for tests, benchmarks and trying the map without a drill run.

Owns two generators: ``random_situation`` (many nodes and links, for the map benchmark)
and ``write_sample_recording`` (a small, hand-scripted flood story in the shape of a
drill recording). Neither is a simulation: numbers follow a fixed script so tests can
check what the page shows. Real recordings come from the drill engine.

Example
-------
>>> s = random_situation(20, 40, seed=1)
>>> len(s.nodes), len(s.links)
(20, 40)
"""

from __future__ import annotations

import dataclasses
import os
import random
from typing import Any

from emcomm.drill.recording import RecordingWriter
from emcomm.ui.situation import Situation, apply_event

KINDS = ("tiantong", "hts", "beidou", "leo", "cellular", "fibre", "radio", "uav")


def random_situation(n_nodes: int, n_links: int, seed: int = 0,
                     center: tuple[float, float] = (34.75, 113.65), span_deg: float = 2.0) -> Situation:
    """``n_nodes`` nodes scattered around ``center`` and ``n_links`` links between random pairs,
    with mixed power, link kinds and states, some links carrying FLASH/IMMEDIATE."""
    rng = random.Random(seed)
    nodes = []
    for i in range(n_nodes):
        power = rng.choice(("mains", "mains", "battery", "generator", "off"))
        nodes.append({
            "id": f"n{i}", "name": f"Node {i}", "lat_deg": center[0] + rng.uniform(-span_deg, span_deg) / 2,
            "lon_deg": center[1] + rng.uniform(-span_deg, span_deg) / 2, "role": "command" if i == 0 else "team",
            "power": power, "battery_left_h": round(rng.uniform(0.5, 4), 1) if power == "battery" else None,
            "up": power != "off", "connected": rng.random() > 0.1, "operator": f"Operator {i}",
            "queue_depths": [rng.randint(0, 3), rng.randint(0, 5), rng.randint(0, 9), rng.randint(0, 20)],
            "last_heard_s": 0.0,
        })
    links = []
    for j in range(n_links):
        a, b = rng.sample(range(n_nodes), 2)
        state = rng.choice(("up", "up", "degraded", "down"))
        carrying = [p for p in (0, 1) if rng.random() < 0.03]
        links.append({"id": f"l{j}", "kind": rng.choice(KINDS), "a": f"n{a}", "b": f"n{b}", "state": state,
                      "capacity_pct": 100.0 if state == "up" else (0.0 if state == "down" else rng.uniform(5, 90)),
                      "reason": "" if state == "up" else "synthetic", "carrying": carrying})
    return Situation.from_dict({"t_s": 0.0, "scenario": f"random-{seed}", "nodes": nodes, "links": links})


# ------------------------------------------------------------------ the sample flood story

CC = (34.7466, 113.6254)
CELL_SITE = {"t1": "bs0", "t2": "bs1", "t3": "bs0", "t4": "bs1", "t5": "bs2", "t6": "bs3"}  # Zhengzhou city centre (approximate, for a readable picture only)


def _sample_base() -> dict[str, Any]:
    teams = [("t1", "Team Zhongyuan", 34.72, 113.58), ("t2", "Team Jinshui", 34.80, 113.68),
             ("t3", "Team Erqi", 34.70, 113.64), ("t4", "Team Huiji", 34.86, 113.60),
             ("t5", "Team Xinzheng", 34.53, 113.74), ("t6", "Team Gongyi", 34.75, 113.02)]
    nodes = [{"id": "cc", "name": "Provincial command centre", "lat_deg": CC[0], "lon_deg": CC[1],
              "role": "command", "power": "generator", "operator": "Duty officer Wang", "last_heard_s": 0.0}]
    nodes += [{"id": i, "name": n, "lat_deg": la, "lon_deg": lo, "role": "team", "power": "mains",
               "operator": f"Leader {n.split()[-1]}", "last_heard_s": 0.0} for i, n, la, lo in teams]
    nodes += [{"id": f"bs{k}", "name": f"Base station {k}", "lat_deg": la, "lon_deg": lo, "role": "base_station",
               "power": "mains", "operator": "", "last_heard_s": 0.0}
              for k, (la, lo) in enumerate([(34.73, 113.61), (34.79, 113.66), (34.62, 113.70), (34.80, 113.30)])]
    links = []
    for i, _, _, _ in teams:
        links.append({"id": f"{i}-cell", "kind": "cellular", "a": i, "b": CELL_SITE[i]})
        links.append({"id": f"{i}-beidou", "kind": "beidou", "a": i, "b": "cc"})
        links.append({"id": f"{i}-tiantong", "kind": "tiantong", "a": i, "b": "cc"})
    links += [{"id": f"bs{k}-fibre", "kind": "fibre", "a": f"bs{k}", "b": "cc"} for k in range(4)]
    links += [{"id": "t1-hts", "kind": "hts", "a": "t1", "b": "cc"}, {"id": "t5-leo", "kind": "leo", "a": "t5", "b": "cc"}]
    return {"t_s": 0.0, "scenario": "sample_flood", "nodes": nodes, "links": links,
            "stats": [{"priority": p} for p in range(4)]}


def _sample_events() -> list[tuple[float, str, dict[str, Any]]]:
    """The script: rain and flood spread, base stations drop to battery then off air,
    fibre is cut, terrestrial links collapse, satellite links carry the FLASH load."""
    ev: list[tuple[float, str, dict[str, Any]]] = []
    for k, t in enumerate((1800.0, 3600.0, 5400.0, 7200.0)):
        ev.append((t, "hazards", {"items": [{"hazard": "flood", "name": "Flood", "shapes": [
            {"shape": "circle", "coords": [[34.73, 113.63]], "radius_m": 4000.0 * (k + 1), "label": f"depth {0.5 * (k + 1):.1f} m",
             "value": 0.5 * (k + 1)}]}]}))
    ev.append((2400.0, "node", {"id": "bs0", "power": "battery", "battery_left_h": 3.0}))
    ev.append((2400.0, "node", {"id": "bs1", "power": "battery", "battery_left_h": 2.0}))
    ev.append((3000.0, "link", {"id": "bs0-fibre", "state": "down", "capacity_pct": 0.0, "reason": "fibre cut by flood"}))
    ev.append((3000.0, "link", {"id": "t1-cell", "state": "degraded", "capacity_pct": 30.0, "reason": "base station on battery"}))
    ev.append((3000.0, "feed", {"t_s": 3000.0, "level": "alert", "text": "Fibre bs0 cut by flood water", "node": "bs0"}))
    ev.append((3600.0, "feed", {"t_s": 3600.0, "level": "flash", "text": "Metro Line 5 passengers trapped", "node": "t3"}))
    for lid in ("t3-beidou", "t3-tiantong"):
        ev.append((3600.0, "link", {"id": lid, "carrying": [0]}))
    ev.append((4200.0, "link", {"id": "t2-cell", "state": "down", "capacity_pct": 0.0, "reason": "base station off air"}))
    ev.append((4200.0, "node", {"id": "bs1", "power": "off", "up": False, "battery_left_h": 0.0}))
    ev.append((4800.0, "link", {"id": "t3-cell", "state": "down", "capacity_pct": 0.0, "reason": "base station under water"}))
    ev.append((4800.0, "link", {"id": "t4-cell", "state": "down", "capacity_pct": 0.0, "reason": "base station off air"}))
    ev.append((4800.0, "link", {"id": "bs1-fibre", "state": "down", "capacity_pct": 0.0, "reason": "fibre cut"}))
    ev.append((5400.0, "node", {"id": "bs0", "power": "off", "up": False, "battery_left_h": 0.0}))
    ev.append((5400.0, "link", {"id": "t1-cell", "state": "down", "capacity_pct": 0.0, "reason": "base station off air"}))
    ev.append((5400.0, "link", {"id": "t1-hts", "state": "degraded", "capacity_pct": 40.0, "reason": "Ka rain fade",
                                "carrying": [1]}))
    ev.append((6000.0, "node", {"id": "t6", "connected": False, "cut_off_since_s": 6000.0, "power": "battery",
                                "battery_left_h": 5.0}))
    ev.append((6000.0, "link", {"id": "t6-tiantong", "state": "down", "capacity_pct": 0.0, "reason": "terminal battery flat"}))
    ev.append((6000.0, "link", {"id": "t6-beidou", "state": "down", "capacity_pct": 0.0, "reason": "card send slot lost"}))
    ev.append((6000.0, "link", {"id": "t6-cell", "state": "down", "capacity_pct": 0.0, "reason": "base station off air"}))
    ev.append((6000.0, "feed", {"t_s": 6000.0, "level": "alert", "text": "Team Gongyi cut off from command centre", "node": "t6"}))
    ev.append((6600.0, "feed", {"t_s": 6600.0, "level": "flash", "text": "Hospital power failing, evacuation needed", "node": "t2"}))
    ev.append((6600.0, "link", {"id": "t2-beidou", "carrying": [0]}))
    ev.append((3600.0, "node", {"id": "t3", "queue_depths": [1, 2, 4, 10]}))
    ev.append((6000.0, "node", {"id": "t6", "queue_depths": [1, 3, 5, 12]}))
    ev.append((6600.0, "node", {"id": "t3", "queue_depths": [0, 1, 6, 14]}))
    for t in range(600, 7201, 600):
        k = t // 600
        ev.append((float(t), "stats", {"items": [
            {"priority": 0, "sent": 2 * k, "delivered": 2 * k, "latency_p50_s": 4.0, "latency_p95_s": 61.0},
            {"priority": 1, "sent": 5 * k, "delivered": 5 * k - (k // 4), "latency_p50_s": 9.0, "latency_p95_s": 75.0},
            {"priority": 2, "sent": 12 * k, "delivered": 11 * k, "latency_p50_s": 20.0, "latency_p95_s": 180.0},
            {"priority": 3, "sent": 40 * k, "delivered": 40 * k - 3 * k * (k > 6), "latency_p50_s": 45.0,
             "latency_p95_s": 600.0}]}))
        ev.append((float(t), "usage", {"items": [
            {"kind": "cellular", "bytes": 2_000_000 * min(k, 6), "cost_cny": 0.0},
            {"kind": "beidou", "bytes": 1750 * 3 * k, "cost_cny": 0.0},
            {"kind": "tiantong", "bytes": 150_000 * k, "cost_cny": round(0.15 * k * 12, 2)},
            {"kind": "hts", "bytes": 8_000_000 * max(0, k - 4), "cost_cny": round(0.08 * 8 * max(0, k - 4), 2)}]}))
    ev.sort(key=lambda e: e[0])
    return ev


def write_sample_recording(path: str | os.PathLike[str], keyframe_interval_s: float = 1800.0,
                           end_s: float = 7200.0) -> None:
    """Write the sample flood story as a recording: keyframes every ``keyframe_interval_s``
    plus the scripted events between them (last heard advances with time)."""
    s = Situation.from_dict(_sample_base())
    with RecordingWriter(path, scenario="sample_flood", start="2021-07-20T16:00:00+08:00",
                         keyframe_interval_s=keyframe_interval_s, meta={"synthetic": True}) as w:
        w.keyframe(0.0, s.to_dict())
        next_key_s = keyframe_interval_s
        for t, kind, data in _sample_events():
            if t > end_s:
                break
            while next_key_s <= t:
                s = _heard(s, next_key_s)
                w.keyframe(next_key_s, s.to_dict())
                next_key_s += keyframe_interval_s
            s = apply_event(s, kind, data, t_s=t)
            w.event(t, kind, data)
        if next_key_s <= end_s:
            w.keyframe(end_s, _heard(s, end_s).to_dict())


def _heard(s: Situation, t_s: float) -> Situation:
    """Every node that is up and connected was heard at ``t_s``."""
    nodes = tuple(dataclasses.replace(n, last_heard_s=t_s) if n.up and n.connected else n for n in s.nodes)
    return dataclasses.replace(s, t_s=t_s, nodes=nodes)
