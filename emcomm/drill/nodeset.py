"""Node sets for generated scenarios: borrow one from an existing scenario file, or lay out a generic one.

This module owns the non-hazard tables of a scenario built by ``from-track`` / ``from-quake``:
satellites, nodes, node groups, links, link rules and traffic, as plain TOML-ready data. It
either copies them from a scenario file (trimming links and sends that fall after the new
scenario's end) or generates a generic response set around a point: a command centre with
a gateway hub, six field teams with mixed terminals (Tiantong, Beidou, HTS, LEO, radio via a
repeater), 200 base stations and traffic of all four priorities. It builds no hazard and
reads no clock.

Example
-------
>>> tables = generic_node_set(30.0, 122.0, coastal=True)
>>> sorted({n["role"] for n in tables["nodes"]})
['command', 'hub', 'relay', 'team']
"""

from __future__ import annotations

import math
import os
import tomllib
from typing import Any

from emcomm.drill.scenario import Scenario, load_scenario

NODE_TABLES = ("satellites", "nodes", "node_groups", "links", "link_rules", "traffic")

# GEO slots: Tiantong-1 01 at 101.4°E (China Satcom launch notice, 2016); ChinaSat-16 at 110.5°E.
GEO_SATELLITES = (
    {"name": "Tiantong-1 01", "orbit": "geo", "longitude_deg": 101.4},
    {"name": "ChinaSat-16 (Zhongxing-16)", "orbit": "geo", "longitude_deg": 110.5},
)
# Base-station batteries hold up 2–4 h after mains loss (DESIGN.md link figures; MIIT).
BASE_STATION_BATTERY_H = [2.0, 4.0]
_KM_PER_DEG = 111.195


def _offset(lat_deg: float, lon_deg: float, bearing_deg: float, km: float) -> tuple[float, float]:
    th = math.radians(bearing_deg)
    lat = lat_deg + km * math.cos(th) / _KM_PER_DEG
    lon = lon_deg + km * math.sin(th) / (_KM_PER_DEG * max(math.cos(math.radians(lat_deg)), 1e-6))
    return round(lat, 4), round(((lon + 180.0) % 360.0) - 180.0, 4)


def generic_node_set(lat_deg: float, lon_deg: float, *, coastal: bool = False,
                     radius_km: float = 60.0) -> dict[str, list[dict[str, Any]]]:
    """A generic response set around (lat, lon): what a provincial team would field.

    ``coastal`` marks the teams and half of the base stations as exposed to storm surge.
    Positions are laid out by rule (bearings 0°, 60°, … at 10–45 km), not surveyed.
    """
    cc_lat, cc_lon = _offset(lat_deg, lon_deg, 0.0, 5.0)
    nodes: list[dict[str, Any]] = [
        {"id": "cc", "name": "Emergency command centre", "lat_deg": cc_lat, "lon_deg": cc_lon, "role": "command",
         "elevation_m": 10.0, "power": {"battery_h": 2.0, "generator": True, "generator_start_s": 60.0}},
        {"id": "hub", "name": "Satellite gateway room at the command centre", "lat_deg": cc_lat,
         "lon_deg": round(cc_lon + 0.001, 4), "role": "hub", "elevation_m": 10.0,
         "power": {"battery_h": 2.0, "generator": True, "generator_start_s": 60.0}},
    ]
    rep_lat, rep_lon = _offset(lat_deg, lon_deg, 200.0, 8.0)
    nodes.append({"id": "relay", "name": "PDT radio repeater", "lat_deg": rep_lat, "lon_deg": rep_lon,
                  "role": "relay", "elevation_m": 30.0, "power": {"battery_h": 8.0}})
    terminals = ("tiantong", "beidou", "hts", "leo", "tiantong", "beidou")
    links: list[dict[str, Any]] = [{"id": "lan-hub", "kind": "fibre", "a": "hub", "b": "cc"},
                                   {"id": "fibre-relay", "kind": "fibre", "a": "relay", "b": "cc"}]
    for k in range(6):
        tid = f"t{k + 1}"
        lat, lon = _offset(lat_deg, lon_deg, 60.0 * k + 15.0, 10.0 + 7.0 * k)
        team: dict[str, Any] = {"id": tid, "name": f"Field team {k + 1}", "lat_deg": lat, "lon_deg": lon,
                                "role": "team", "elevation_m": 4.0,
                                "power": {"mains": False, "battery_h": 8.0, "generator": True}}
        if coastal:
            team["coastal"] = True
        nodes.append(team)
        kind = terminals[k]
        link: dict[str, Any] = {"id": f"{kind}-{tid}", "kind": kind, "a": tid, "b": "hub" if kind == "hts" else "cc"}
        if kind == "tiantong":   # handheld Tiantong data is far below the 384 kbps ceiling
            link["overrides"] = {"rate_up_bps": 9600, "rate_down_bps": 9600}
        links.append(link)
        links.append({"id": f"beidou-{tid}" if kind != "beidou" else f"tiantong-{tid}",
                      "kind": "beidou" if kind != "beidou" else "tiantong", "a": tid, "b": "cc"})
        if k < 3:
            links.append({"id": f"pdt-{tid}", "kind": "radio", "a": tid, "b": "relay"})
    groups: list[dict[str, Any]] = []
    if coastal:
        groups.append({"id_prefix": "bs-coast", "name": "Coastal base station", "count": 100, "role": "base_station",
                       "center_lat_deg": lat_deg, "center_lon_deg": lon_deg, "radius_km": radius_km / 3,
                       "elevation_m": [0.5, 4.0], "coastal": True, "power": {"battery_h": BASE_STATION_BATTERY_H}})
        groups.append({"id_prefix": "bs-inland", "name": "Inland base station", "count": 100, "role": "base_station",
                       "center_lat_deg": lat_deg, "center_lon_deg": lon_deg, "radius_km": radius_km,
                       "elevation_m": [5.0, 50.0], "power": {"battery_h": BASE_STATION_BATTERY_H}})
    else:
        groups.append({"id_prefix": "bs-near", "name": "Base station near the centre", "count": 100,
                       "role": "base_station", "center_lat_deg": lat_deg, "center_lon_deg": lon_deg,
                       "radius_km": radius_km / 3, "power": {"battery_h": BASE_STATION_BATTERY_H}})
        groups.append({"id_prefix": "bs-far", "name": "Base station in the wider area", "count": 100,
                       "role": "base_station", "center_lat_deg": lat_deg, "center_lon_deg": lon_deg,
                       "radius_km": radius_km, "power": {"battery_h": BASE_STATION_BATTERY_H}})
    rules = [
        {"kind": "cellular", "from_role": "team", "to_role": "base_station", "nearest": 2, "max_km": radius_km},
        {"kind": "fibre", "from_role": "base_station", "to_role": "command", "nearest": 1},
    ]
    traffic = [
        {"from": "t1", "to": "cc", "priority": "flash", "content": "alert", "size_bytes": 300,
         "start_s": 1800.0, "every_s": 21600.0},
        {"from": "cc", "to": "t4", "priority": "flash", "content": "text", "size_bytes": 500,
         "start_s": 3600.0, "every_s": 21600.0},
        {"from": "t2", "to": "cc", "priority": "immediate", "content": "position", "size_bytes": 60,
         "start_s": 0.0, "every_s": 600.0},
        {"from": "t5", "to": "cc", "priority": "immediate", "content": "position", "size_bytes": 60,
         "start_s": 0.0, "every_s": 600.0},
        {"from": "t3", "to": "cc", "priority": "priority", "content": "status", "size_bytes": 2000,
         "start_s": 0.0, "every_s": 3600.0},
        {"from": "t6", "to": "cc", "priority": "priority", "content": "status", "size_bytes": 800,
         "start_s": 1800.0, "every_s": 3600.0},
        {"from": "t4", "to": "cc", "priority": "routine", "content": "file", "size_bytes": 500000,
         "start_s": 3600.0, "every_s": 21600.0},
    ]
    return {"satellites": [dict(s) for s in GEO_SATELLITES], "nodes": nodes, "node_groups": groups,
            "links": links, "link_rules": rules, "traffic": traffic}


def scenario_doc(scenario: dict[str, Any], tables: dict[str, list[dict[str, Any]]],
                 hazard: dict[str, Any]) -> dict[str, Any]:
    """A scenario document in file order: the scenario table, the node tables that are not
    empty, the one hazard, then the traffic.

    >>> doc = scenario_doc({"name": "x"}, {"nodes": [{"id": "a"}], "links": []}, {"kind": "fire"})
    >>> list(doc)
    ['scenario', 'nodes', 'hazards']
    """
    doc: dict[str, Any] = {"scenario": scenario}
    for k in NODE_TABLES:
        if k != "traffic" and tables.get(k):
            doc[k] = tables[k]
    doc["hazards"] = [hazard]
    if tables.get("traffic"):
        doc["traffic"] = tables["traffic"]
    return doc


def node_set_from(path: str | os.PathLike[str]) -> tuple[dict[str, list[dict[str, Any]]], Scenario]:
    """The node tables of an existing scenario file (validated first) and the loaded scenario."""
    sc = load_scenario(path)     # raises ScenarioError naming the file and key if it is broken
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    return {k: [dict(e) for e in raw.get(k, [])] for k in NODE_TABLES}, sc


def fit_to_duration(tables: dict[str, list[dict[str, Any]]], duration_s: float) -> list[str]:
    """Trim borrowed tables in place to a scenario of ``duration_s``; return what was changed.

    Links that only become active after the end are dropped; sends after the end are cut
    (``at_s`` lists filtered, ``count`` shortened, flows starting after the end dropped).
    """
    notes: list[str] = []
    keep_links = []
    for link in tables.get("links", []):
        if float(link.get("active_from_s", 0.0)) >= duration_s:
            notes.append(f"dropped link {link.get('id')!r}: active only after the new end ({duration_s:g} s)")
        else:
            keep_links.append(link)
    tables["links"] = keep_links
    keep_rules = [r for r in tables.get("link_rules", []) if float(r.get("active_from_s", 0.0)) < duration_s]
    if len(keep_rules) < len(tables.get("link_rules", [])):
        notes.append("dropped link rules active only after the new end")
    tables["link_rules"] = keep_rules
    kept = []
    for tr in tables.get("traffic", []):
        who = f"{tr.get('from')}→{tr.get('to')}"
        if "at_s" in tr:
            times = [t for t in tr["at_s"] if t <= duration_s]
            if not times:
                notes.append(f"dropped traffic {who}: every send is after the new end")
                continue
            if len(times) < len(tr["at_s"]):
                notes.append(f"traffic {who}: kept {len(times)} of {len(tr['at_s'])} sends")
            tr = {**tr, "at_s": times}
        else:
            start = float(tr.get("start_s", 0.0))
            if start > duration_s:
                notes.append(f"dropped traffic {who}: starts after the new end")
                continue
            if "count" in tr and "every_s" in tr:
                fit = int(math.floor((duration_s - start) / float(tr["every_s"]) + 1e-9)) + 1
                if fit < tr["count"]:
                    notes.append(f"traffic {who}: count {tr['count']} → {fit} to end by the new end")
                    tr = {**tr, "count": fit}
        kept.append(tr)
    tables["traffic"] = kept
    return notes


def nearest_km(scenario_nodes: list[dict[str, Any]] | Scenario, points: list[tuple[float, float]]) -> float:
    """Smallest distance (km, equirectangular) between a node set and a list of (lat, lon) points."""
    if isinstance(scenario_nodes, Scenario):
        sites = [(n.site.lat_deg, n.site.lon_deg) for n in scenario_nodes.nodes]
    else:
        sites = [(float(n["lat_deg"]), float(n["lon_deg"])) for n in scenario_nodes]
    best = math.inf
    for la, lo in sites:
        for pla, plo in points:
            x = (lo - plo) * math.cos(math.radians((la + pla) / 2))
            best = min(best, _KM_PER_DEG * math.hypot(la - pla, x))
    return best
