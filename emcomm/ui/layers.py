"""Situation → compact layer payloads for the live map component, each with a content hash.

Owns the wire shape of the situation layers (hazards, links split by kind, routes, nodes)
as the browser component receives them, and the rule that decides which layers are sent
again: only those whose content hash differs from what the browser already holds (one
cellular link going down re-sends the cellular links, not the satellite ones). The look of
every feature still comes from ``emcomm.ui.mapview`` (one visual language); this module
only packs it small. Pure: no Streamlit, no clock, no files.

Payload of one layer::

    {"styles": [{Leaflet path options, "className": "emc-link emc-link-down ..."}, ...],
     "rows": [[geom, coords, style_index, tooltip, popup_or_null, radius_m_or_0], ...]}

``geom`` is ``"p"`` (circle marker at [lat, lon]), ``"c"`` (circle of ``radius_m`` metres),
``"l"`` (polyline) or ``"a"`` (polygon); coordinates are [lat, lon] rounded to 5 decimals
(about 1 m). Styles are shared by index instead of repeated per feature.

Example
-------
>>> from emcomm.ui.situation import Situation
>>> s = Situation.from_dict({"t_s": 0, "nodes": [{"id": "cc", "lat_deg": 34.7, "lon_deg": 113.6}]})
>>> ls = situation_payloads(s)
>>> [l.name for l in ls], ls[-1].count
(['Hazards', 'Routes', 'Nodes'], 1)
>>> sent, have = layers_to_send(ls, {})
>>> [x["d"] is not None for x in sent], layers_to_send(ls, have)[0][-1]["d"] is None
([True, True, True], True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Mapping

from emcomm.ui import mapview
from emcomm.ui.situation import Situation

# panes bottom to top, and whether their features go on a canvas (many) or SVG paths (few,
# CSS-styled; nodes stay SVG so stylesheets and tests can find them)
PANES: tuple[tuple[str, bool], ...] = (("Hazards", False), ("Links", True), ("Routes", True), ("Nodes", False))
_GEOM = {"Point": "p", "LineString": "l", "Polygon": "a"}


@dataclasses.dataclass(frozen=True)
class LayerPayload:
    """One situation layer, packed, with the hash of its JSON text."""

    name: str
    pane: str
    canvas: bool
    data: Mapping[str, Any]
    text: str          # the JSON sent to the browser (computed once, hashed once)
    hash: str

    @property
    def count(self) -> int:
        return len(self.data["rows"])


def _latlon(c: list[float]) -> list[float]:
    return [c[1], c[0]]  # GeoJSON is [lon, lat]; Leaflet takes [lat, lon]


def pack_features(fc: Mapping[str, Any]) -> dict[str, Any]:
    """Pack a mapview FeatureCollection: styles de-duplicated, one short row per feature.

    >>> fc = {"type": "FeatureCollection", "features": [
    ...     {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.6, 34.7]},
    ...      "properties": {"style": {"radius": 6}, "tooltip": "cc"}}]}
    >>> pack_features(fc)
    {'styles': [{'radius': 6}], 'rows': [['p', [34.7, 113.6], 0, 'cc', None, 0]]}
    """
    styles: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    rows = []
    for f in fc["features"]:
        p, g = f["properties"], f["geometry"]
        style = p.get("style", {})
        key = json.dumps(style, sort_keys=True)
        if key not in index:
            index[key] = len(styles)
            styles.append(style)
        kind = _GEOM[g["type"]]
        if kind == "p":
            coords: Any = _latlon(g["coordinates"])
            if p.get("radius_m"):
                kind = "c"
        elif kind == "l":
            coords = [_latlon(c) for c in g["coordinates"]]
        else:
            coords = [_latlon(c) for c in g["coordinates"][0]]
        rows.append([kind, coords, index[key], p.get("tooltip", ""), p.get("popup"), p.get("radius_m") or 0])
    return {"styles": styles, "rows": rows}


def _payload(name: str, pane: str, fc: Mapping[str, Any]) -> LayerPayload:
    data = pack_features(fc)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return LayerPayload(name=name, pane=pane, canvas=dict(PANES)[pane], data=data, text=text,
                        hash=hashlib.blake2b(text.encode(), digest_size=12).hexdigest())


def situation_payloads(s: Situation, now_s: float | None = None,
                       stale_after_s: float | None = None) -> list[LayerPayload]:
    """The layers of ``s``, bottom to top: hazards, one layer of links per kind present
    (named ``"Links: <kind label>"``), routes, nodes; packed and hashed."""
    out = [_payload("Hazards", "Hazards", mapview.hazard_features(s.hazards))]
    links = mapview.link_features(s)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for f in links["features"]:
        by_kind.setdefault(f["properties"]["kind"], []).append(f)
    for kind in sorted(by_kind):
        out.append(_payload(f"Links: {mapview.KIND_LABELS.get(kind, kind)}", "Links",
                            {"type": "FeatureCollection", "features": by_kind[kind]}))
    out.append(_payload("Routes", "Routes", mapview.route_features(s)))
    out.append(_payload("Nodes", "Nodes", mapview.node_features(s, now_s, stale_after_s)))
    return out


def layers_to_send(layers: list[LayerPayload], have: Mapping[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """What to send to a browser that holds layers with hashes ``have`` (name → hash):
    every layer's name and hash, with its data (``"d"``, JSON text) only when the hash
    differs. Returns the list and what the browser will hold afterwards."""
    out = []
    for layer in layers:
        changed = have.get(layer.name) != layer.hash
        out.append({"name": layer.name, "pane": layer.pane, "h": layer.hash, "canvas": layer.canvas,
                    "d": layer.text if changed else None})
    return out, {layer.name: layer.hash for layer in layers}  # layers not listed are removed
