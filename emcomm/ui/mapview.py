"""Situation → folium map: pure functions, no Streamlit, no files, no network.

Owns how the picture looks: node colours by power and connectivity, link colours by kind
and dash by state, FLASH/IMMEDIATE routes highlighted, hazard overlays, popups, legend.
Each layer is ONE GeoJSON FeatureCollection drawn by one ``L.geoJSON`` call (styles and
popups travel as feature properties), which is what keeps 1,000 nodes and 5,000 links
fast. It must not read a clock: staleness is decided from ``now_s`` given by the caller.

Every drawn path carries a CSS class (``emc-node``, ``emc-link``, ``emc-route``,
``emc-hazard`` plus a state class such as ``emc-node-offair``) so that tests and
operators' stylesheets can find them.

Example
-------
>>> from emcomm.ui.situation import Situation
>>> s = Situation.from_dict({"t_s": 0, "nodes": [{"id": "cc", "lat_deg": 34.7, "lon_deg": 113.6}]})
>>> m = situation_map(s, basemap=None)
>>> "emc-node" in m.get_root().render()
True
"""

from __future__ import annotations

import html
from typing import Any, Iterable

import folium
from branca.element import MacroElement
from folium.template import Template

from emcomm.priority import Priority
from emcomm.ui.situation import HazardOverlay, NodeView, Situation

# ------------------------------------------------------------------ the visual language (data)

KIND_COLOURS: dict[str, str] = {
    "tiantong": "#7c3aed", "hts": "#2563eb", "beidou": "#db2777", "beidou_global": "#9d174d",
    "leo": "#0891b2", "cellular": "#65a30d", "fibre": "#ea580c", "radio": "#92400e", "uav": "#0f766e",
}
KIND_LABELS: dict[str, str] = {
    "tiantong": "Tiantong (GEO)", "hts": "HTS Ka/Ku (GEO)", "beidou": "Beidou RDSS",
    "beidou_global": "Beidou global", "leo": "LEO broadband", "cellular": "Cellular",
    "fibre": "Fibre", "radio": "VHF/UHF radio", "uav": "UAV relay",
}
OTHER_KIND_COLOUR = "#475569"
LINK_STATE_STYLE: dict[str, dict[str, Any]] = {
    "up": {"weight": 2.5, "opacity": 0.85, "dashArray": None},
    "degraded": {"weight": 2.5, "opacity": 0.85, "dashArray": "8 5"},
    "down": {"weight": 1.5, "opacity": 0.35, "dashArray": "2 6"},
}
POWER_FILL: dict[str, str] = {"mains": "#16a34a", "generator": "#0d9488", "battery": "#f59e0b", "off": "#6b7280"}
CUT_OFF_OUTLINE = "#dc2626"
CONNECTED_OUTLINE = "#111827"
ROUTE_STYLE: dict[int, dict[str, Any]] = {
    int(Priority.FLASH): {"color": "#dc2626", "weight": 9, "opacity": 0.45},
    int(Priority.IMMEDIATE): {"color": "#f97316", "weight": 7, "opacity": 0.4},
}
HAZARD_STYLE: dict[str, dict[str, Any]] = {
    "flood": {"color": "#1d4ed8", "fillColor": "#3b82f6", "fillOpacity": 0.25, "weight": 1},
    "fire": {"color": "#b91c1c", "fillColor": "#f97316", "fillOpacity": 0.3, "weight": 2},
    "earthquake": {"color": "#7f1d1d", "fillColor": "#ef4444", "fillOpacity": 0.06, "weight": 1.5},
    "typhoon": {"color": "#4c1d95", "fillColor": "#8b5cf6", "fillOpacity": 0.08, "weight": 2},
}


def node_state(n: NodeView, now_s: float | None = None, stale_after_s: float | None = None) -> str:
    """One word for a node's state, the first that applies: offair, stale, cutoff, battery, generator, mains.

    >>> node_state(NodeView("a", 0, 0, power="battery", battery_left_h=2.0))
    'battery'
    >>> node_state(NodeView("a", 0, 0, last_heard_s=0.0), now_s=600, stale_after_s=120)
    'stale'
    """
    if not n.up or n.power == "off":
        return "offair"
    if (stale_after_s is not None and now_s is not None
            and (n.last_heard_s is None or now_s - n.last_heard_s > stale_after_s)):
        return "stale"
    if not n.connected:
        return "cutoff"
    return n.power


def _fmt_h(hours: float | None) -> str:
    return "—" if hours is None else f"{hours:.1f} h"


def _fmt_t(t_s: float | None) -> str:
    if t_s is None:
        return "never"
    sign = "-" if t_s < 0 else "+"
    m = int(abs(t_s) // 60)
    return f"T{sign}{m // 60:02d}:{m % 60:02d}"


def node_popup(n: NodeView, state: str) -> str:
    """HTML popup for a node (text escaped)."""
    e = html.escape
    q = " / ".join(str(v) for v in n.queue_depths)
    rows = [
        ("State", state), ("Role", n.role), ("Operator", n.operator or "—"),
        ("Power", n.power + (f", {_fmt_h(n.battery_left_h)} left" if n.power == "battery" else "")),
        ("Command centre", "connected" if n.connected else f"cut off since {_fmt_t(n.cut_off_since_s)}"),
        ("Queues F/I/P/R", q), ("Last heard", _fmt_t(n.last_heard_s)),
    ]
    body = "".join(f"<tr><th style='text-align:left;padding-right:6px'>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
    return f"<b>{e(n.label)}</b> <small>({e(n.id)})</small><table>{body}</table>"


def _feature(geom_type: str, coords: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": geom_type, "coordinates": coords}, "properties": props}


def _r(x: float) -> float:
    return round(x, 5)


def node_features(s: Situation, now_s: float | None = None, stale_after_s: float | None = None) -> dict[str, Any]:
    """Nodes as one FeatureCollection of points with circle-marker styles."""
    feats = []
    for n in s.nodes:
        st = node_state(n, now_s, stale_after_s)
        fill = POWER_FILL["off"] if st == "offair" else POWER_FILL.get(n.power, POWER_FILL["mains"])
        big = n.role in ("command", "hub")
        style = {
            "radius": 9 if big else 6, "fillColor": fill, "fillOpacity": 0.35 if st == "stale" else 0.9,
            "color": CUT_OFF_OUTLINE if st == "cutoff" or (st == "stale" and not n.connected) else CONNECTED_OUTLINE,
            "weight": 3 if st == "cutoff" else 1, "opacity": 0.5 if st == "stale" else 1.0,
            "className": f"emc-node emc-node-{st}" + (" emc-node-command" if n.role == "command" else ""),
        }
        tip = f"{n.label}: {st}" + (f" ({_fmt_h(n.battery_left_h)} left)" if n.power == "battery" and n.up else "")
        feats.append(_feature("Point", [_r(n.lon_deg), _r(n.lat_deg)],
                              {"id": n.id, "style": style, "tooltip": html.escape(tip), "popup": node_popup(n, st)}))
    return {"type": "FeatureCollection", "features": feats}


def link_features(s: Situation) -> dict[str, Any]:
    """Links as one FeatureCollection of lines, coloured by kind, dashed by state."""
    pos = {n.id: (n.lon_deg, n.lat_deg) for n in s.nodes}
    feats = []
    for l in s.links:
        if l.a not in pos or l.b not in pos:
            continue
        style = {"color": KIND_COLOURS.get(l.kind, OTHER_KIND_COLOUR), **LINK_STATE_STYLE[l.state],
                 "className": f"emc-link emc-link-{l.state} emc-kind-{l.kind}"}
        if style["dashArray"] is None:
            del style["dashArray"]
        label = f"{KIND_LABELS.get(l.kind, l.kind)} {l.id}: {l.state}"
        if l.state == "degraded":
            label += f" ({l.capacity_pct:.0f} % capacity)"
        if l.reason:
            label += f" — {l.reason}"
        a, b = pos[l.a], pos[l.b]
        feats.append(_feature("LineString", [[_r(a[0]), _r(a[1])], [_r(b[0]), _r(b[1])]],
                              {"id": l.id, "kind": l.kind, "style": style, "tooltip": html.escape(label)}))
    return {"type": "FeatureCollection", "features": feats}


def route_features(s: Situation, priorities: Iterable[int] = (Priority.FLASH, Priority.IMMEDIATE)) -> dict[str, Any]:
    """Links currently carrying FLASH/IMMEDIATE traffic, as thick translucent highlights
    (one per link, in the colour of the highest priority on it)."""
    wanted = {int(p) for p in priorities}
    pos = {n.id: (n.lon_deg, n.lat_deg) for n in s.nodes}
    links = {l.id: l for l in s.links}
    best: dict[str, int] = {}
    for l in s.links:
        for p in l.carrying:
            if p in wanted:
                best[l.id] = min(best.get(l.id, 9), p)
    for r in s.routes:
        if r.priority in wanted:
            for lid in r.links:
                if lid in links:
                    best[lid] = min(best.get(lid, 9), r.priority)
    feats = []
    for lid, p in sorted(best.items()):
        l = links[lid]
        if l.a not in pos or l.b not in pos:
            continue
        a, b = pos[l.a], pos[l.b]
        name = Priority(p).name
        feats.append(_feature("LineString", [[_r(a[0]), _r(a[1])], [_r(b[0]), _r(b[1])]], {
            "id": lid, "style": {**ROUTE_STYLE[p], "className": f"emc-route emc-route-{name.lower()}"},
            "tooltip": html.escape(f"{name} traffic on {l.id} ({KIND_LABELS.get(l.kind, l.kind)})")}))
    return {"type": "FeatureCollection", "features": feats}


def hazard_features(hazards: Iterable[HazardOverlay]) -> dict[str, Any]:
    """Hazard overlays: flood extents, fire perimeters, quake intensity rings, typhoon
    track with wind radii. Circles are points with ``radius_m`` drawn as ``L.circle``."""
    feats = []
    for h in hazards:
        base = HAZARD_STYLE[h.hazard]
        for sh in h.shapes:
            label = " ".join(x for x in (h.name or h.hazard, sh.label) if x)
            props: dict[str, Any] = {"style": {**base, "className": f"emc-hazard emc-hazard-{h.hazard}"},
                                     "tooltip": html.escape(label)}
            ll = [[_r(lon), _r(lat)] for lat, lon in sh.coords]
            if sh.shape == "circle":
                props["radius_m"] = sh.radius_m
                feats.append(_feature("Point", ll[0], props))
            elif sh.shape == "point":
                props["style"] = {**base, "radius": 4, "fillOpacity": 0.9,
                                  "className": f"emc-hazard emc-hazard-{h.hazard}"}
                feats.append(_feature("Point", ll[0], props))
            elif sh.shape == "line":
                props["style"] = {**base, "dashArray": "6 4", "fill": False,
                                  "className": f"emc-hazard emc-hazard-{h.hazard}"}
                feats.append(_feature("LineString", ll, props))
            else:
                ring = ll if ll[0] == ll[-1] else ll + [ll[0]]
                feats.append(_feature("Polygon", [ring], props))
    return {"type": "FeatureCollection", "features": feats}


# ------------------------------------------------------------------ folium elements


class GeoJsonLayer(folium.map.Layer):
    """One FeatureCollection drawn by one ``L.geoJSON`` call; style, tooltip and popup come
    from each feature's ``properties`` (points become circle markers, or metre circles
    when ``radius_m`` is set)."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON({{ this.data|tojson }}, {
    pointToLayer: function (f, latlng) {
        var s = f.properties.style || {};
        if (f.properties.radius_m) { return L.circle(latlng, Object.assign({}, s, {radius: f.properties.radius_m})); }
        return L.circleMarker(latlng, s);
    },
    style: function (f) { return f.properties.style || {}; },
    onEachFeature: function (f, layer) {
        if (f.properties.popup) { layer.bindPopup(f.properties.popup, {maxWidth: 340}); }
        if (f.properties.tooltip) { layer.bindTooltip(f.properties.tooltip, {sticky: true}); }
    }
});
{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
{% endmacro %}
""")

    def __init__(self, data: dict[str, Any], name: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GeoJsonLayer"
        self.data = data


class BasemapLayer(folium.map.Layer):
    """The offline country boundaries: fetched from a local URL (cached by the browser,
    not re-sent with every map), or embedded when ``data`` is given."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON(null, {
    interactive: false, attribution: {{ this.attribution|tojson }},
    style: function () { return {color: "#94a3b8", weight: 0.8, fillColor: "#f1f5f9", fillOpacity: 1, className: "emc-basemap"}; }
});
{% if this.data is not none %}
{{ this.get_name() }}.addData({{ this.data|tojson }});
{% else %}
fetch({{ this.url|tojson }}).then(function (r) { return r.json(); })
    .then(function (d) { {{ this.get_name() }}.addData(d); {{ this.get_name() }}.bringToBack(); })
    .catch(function (e) { console.warn("offline basemap not loaded", e); });
{% endif %}
{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
{% endmacro %}
""")

    def __init__(self, url: str | None = None, data: dict[str, Any] | None = None,
                 attribution: str = "Made with Natural Earth (public domain)"):
        super().__init__(name="Basemap (offline, Natural Earth)", overlay=False, control=True, show=True)
        self._name = "BasemapLayer"
        self.url, self.data, self.attribution = url, data, attribution


class Legend(MacroElement):
    """A Leaflet control (bottom right) explaining colours and dashes; plain HTML, no assets."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.control({position: "bottomright"});
{{ this.get_name() }}.onAdd = function () {
    var div = L.DomUtil.create("div", "emc-legend");
    div.id = "emc-legend";
    div.style.cssText = "background:rgba(255,255,255,.92);padding:4px 8px;font:11px/1.3 sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);max-height:45vh;overflow:auto";
    div.innerHTML = "<details open><summary style='cursor:pointer;font-weight:bold'>Legend</summary>" + {{ this.html|tojson }} + "</details>";
    L.DomEvent.disableClickPropagation(div);
    return div;
};
{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
{% endmacro %}
""")

    def __init__(self, kinds: Iterable[str] | None = None):
        super().__init__()
        self._name = "Legend"
        self.html = legend_html(kinds)


def legend_html(kinds: Iterable[str] | None = None) -> str:
    """The legend's HTML: node fills and outlines, link kinds, link states, routes, hazards."""
    def dot(fill: str, outline: str = CONNECTED_OUTLINE, w: int = 1) -> str:
        return (f"<span style='display:inline-block;width:10px;height:10px;border-radius:50%;"
                f"background:{fill};border:{w}px solid {outline};margin-right:4px'></span>")

    def line(colour: str, dash: str = "", width: int = 3, opacity: float = 1.0) -> str:
        d = f" stroke-dasharray='{dash}'" if dash else ""
        return (f"<svg width='26' height='8' style='margin-right:4px'><line x1='0' y1='4' x2='26' y2='4' "
                f"stroke='{colour}' stroke-width='{width}' stroke-opacity='{opacity}'{d}/></svg>")

    shown = list(kinds) if kinds is not None else list(KIND_COLOURS)
    parts = ["<b>Nodes</b><br>",
             dot(POWER_FILL["mains"]) + "on mains<br>", dot(POWER_FILL["generator"]) + "generator<br>",
             dot(POWER_FILL["battery"]) + "on battery (hours left in popup)<br>",
             dot(POWER_FILL["off"]) + "off air<br>", dot("#ffffff", CUT_OFF_OUTLINE, 3) + "cut off from command centre<br>",
             "<span style='opacity:.4'>" + dot(POWER_FILL["mains"]) + "</span>stale (not heard recently)<br>",
             "<b>Links by kind</b><br>"]
    parts += [line(KIND_COLOURS.get(k, OTHER_KIND_COLOUR)) + html.escape(KIND_LABELS.get(k, k)) + "<br>" for k in shown]
    parts += ["<b>Link state</b><br>", line("#334155") + "up<br>", line("#334155", "8 5") + "degraded (capacity %)<br>",
              line("#334155", "2 6", 2, 0.4) + "down<br>", "<b>Traffic</b><br>",
              line(ROUTE_STYLE[0]["color"], "", 7, 0.6) + "carrying FLASH<br>",
              line(ROUTE_STYLE[1]["color"], "", 6, 0.6) + "carrying IMMEDIATE<br>", "<b>Hazards</b><br>"]
    names = {"flood": "flood extent (depth)", "fire": "fire perimeter", "earthquake": "intensity rings",
             "typhoon": "typhoon track, wind radii"}
    parts += [dot(HAZARD_STYLE[h]["fillColor"], HAZARD_STYLE[h]["color"]) + names[h] + "<br>" for h in names]
    return "".join(parts)


# ------------------------------------------------------------------ whole maps


def situation_bounds(s: Situation) -> list[list[float]] | None:
    """[[south, west], [north, east]] around the nodes, or None without nodes."""
    if not s.nodes:
        return None
    lats = [n.lat_deg for n in s.nodes]
    lons = [n.lon_deg for n in s.nodes]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def base_map(center: tuple[float, float] = (34.75, 113.65), zoom: int = 8,
             basemap: str | dict[str, Any] | None = "/app/static/basemap/countries.geojson",
             online_tiles: bool = False, kinds: Iterable[str] | None = None,
             bounds: list[list[float]] | None = None) -> folium.Map:
    """The map without the situation: offline basemap (URL or embedded GeoJSON), optional
    online tiles (an extra, unselected base layer), legend and layer control.

    >>> m = base_map(basemap=None)
    >>> "tile.openstreetmap" in m.get_root().render()
    False
    """
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=True,
                   prefer_canvas=False)
    if isinstance(basemap, str):
        BasemapLayer(url=basemap).add_to(m)
    elif isinstance(basemap, dict):
        BasemapLayer(data=basemap).add_to(m)
    if online_tiles:
        folium.TileLayer("OpenStreetMap", name="Online tiles (needs internet)", show=False, overlay=False).add_to(m)
    Legend(kinds).add_to(m)
    if bounds is not None:
        m.fit_bounds(bounds)
    return m


def situation_layers(s: Situation, now_s: float | None = None, stale_after_s: float | None = None) -> list[folium.FeatureGroup]:
    """The four situation layers as FeatureGroups (hazards, links, routes, nodes; bottom to top),
    each holding ONE GeoJSON layer."""
    groups = []
    for name, data in (("Hazards", hazard_features(s.hazards)), ("Links", link_features(s)),
                       ("FLASH/IMMEDIATE routes", route_features(s)),
                       ("Nodes", node_features(s, now_s, stale_after_s))):
        fg = folium.FeatureGroup(name=name, show=True)
        GeoJsonLayer(data, name=name).add_to(fg)
        groups.append(fg)
    return groups


def situation_map(s: Situation, basemap: str | dict[str, Any] | None = "/app/static/basemap/countries.geojson",
                  online_tiles: bool = False, now_s: float | None = None,
                  stale_after_s: float | None = None) -> folium.Map:
    """A complete map of one situation (for export, tests and benchmarks)."""
    kinds = sorted({l.kind for l in s.links}) or None
    b = situation_bounds(s)
    center = ((b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2) if b else (34.75, 113.65)
    m = base_map(center=center, basemap=basemap, online_tiles=online_tiles, kinds=kinds,
                 bounds=b if b and b[0] != b[1] else None)
    for fg in situation_layers(s, now_s, stale_after_s):
        fg.add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m

