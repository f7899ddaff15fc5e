"""Export a recording's picture as CAP 1.2 alerts, CoT 2.0 events or one GeoJSON file.

Owns turning ``Picture`` items into documents and writing them into an output folder
(one file per alert / event, one FeatureCollection). It must not read the recording
format itself (``picture.py``) nor validate against schemas (tests do that).

GeoJSON follows RFC 7946: coordinates are ``[lon, lat]`` in WGS 84.

Example
-------
>>> from emcomm.interop.picture import Alert, Picture
>>> pic = Picture("demo", "2021-07-20T08:00:00+08:00", (), (), (Alert(60.0, "flash", "levee breach"),))
>>> alert_to_cap(pic, pic.alerts[0], 0).sent
'2021-07-20T08:01:00+08:00'
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from emcomm.errors import InteropError
from emcomm.interop import cap, cot
from emcomm.interop.picture import Alert, Picture

SENDER = "emcomm"
# An alert tied to a node covers the area around it: 1 km, a street-block scale for a team's report.
NODE_ALERT_RADIUS_KM = 1.0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "x"


def alert_to_cap(pic: Picture, a: Alert, index: int) -> cap.CapAlert:
    """A feed alert as CAP: ``flash`` → Extreme/Immediate/Observed, ``alert`` → Severe/Expected/Likely."""
    flash = a.level == "flash"
    areas = ()
    if a.lat_deg is not None and a.lon_deg is not None:
        areas = (cap.CapArea(f"around {a.node}" if a.node else "reported position",
                             circles=((a.lat_deg, a.lon_deg, NODE_ALERT_RADIUS_KM),)),)
    return cap.CapAlert(
        identifier=f"{_slug(pic.scenario)}-{index:05d}-{int(a.t_s)}", sender=f"{SENDER}@{_slug(a.node or 'cc')}",
        sent=pic.time_iso(a.t_s), status="Exercise", event=a.text.split(":")[0][:60] or "emcomm alert",
        urgency="Immediate" if flash else "Expected", severity="Extreme" if flash else "Severe",
        certainty="Observed" if flash else "Likely", headline=a.text[:160], description=a.text,
        sender_name=a.node or "command centre", areas=areas)


def export_cap(pic: Picture, out_dir: Path) -> list[Path]:
    """One ``.cap.xml`` per alert. Recordings are drills, so ``status`` is ``Exercise``."""
    out = []
    for i, a in enumerate(pic.alerts):
        alert = alert_to_cap(pic, a, i)
        p = out_dir / f"{alert.identifier}.cap.xml"
        p.write_bytes(cap.to_xml(alert))
        out.append(p)
    return out


def cot_events(pic: Picture) -> list[tuple[str, bytes]]:
    """``(file stem, event XML)`` for every node's last position, track point and alert."""
    out: list[tuple[str, bytes]] = []
    for n in pic.nodes:
        type_ = cot.TYPE_COMMAND if n.role == "command" else cot.TYPE_NODE
        out.append((f"node-{_slug(n.id)}", cot.event_xml(f"emcomm-{n.id}", type_, pic.time_iso(n.t_s), n.lat_deg,
                                                        n.lon_deg, callsign=n.name or n.id)))
    for tr in pic.tracks:
        for k, (t_s, lat, lon) in enumerate(tr.points):
            out.append((f"track-{_slug(tr.node_id)}-{k:05d}",
                        cot.event_xml(f"emcomm-{tr.node_id}", cot.TYPE_NODE, pic.time_iso(t_s), lat, lon,
                                      callsign=tr.node_id)))
    for i, a in enumerate(pic.alerts):
        if a.lat_deg is None or a.lon_deg is None:
            continue            # CoT needs a point; alerts without one are in the CAP export
        out.append((f"alert-{i:05d}", cot.event_xml(f"emcomm-alert-{_slug(pic.scenario)}-{i}",
                                                    cot.TYPE_FLASH if a.level == "flash" else cot.TYPE_ALERT,
                                                    pic.time_iso(a.t_s), a.lat_deg, a.lon_deg, how="h-e",
                                                    callsign=a.node, remarks=a.text)))
    return out


def export_cot(pic: Picture, out_dir: Path) -> list[Path]:
    paths = []
    for stem, xml in cot_events(pic):
        p = out_dir / f"{stem}.cot.xml"
        p.write_bytes(xml)
        paths.append(p)
    return paths


def geojson_of(pic: Picture) -> dict:
    """A FeatureCollection: node Points, track LineStrings, alert Points (RFC 7946)."""
    feats: list[dict] = []
    for n in pic.nodes:
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [n.lon_deg, n.lat_deg]},
                      "properties": {"kind": "node", "id": n.id, "name": n.name, "role": n.role, "up": n.up,
                                     "time": pic.time_iso(n.t_s)}})
    for tr in pic.tracks:
        coords = [[lon, lat] for _, lat, lon in tr.points]
        geom = {"type": "LineString", "coordinates": coords} if len(coords) >= 2 else \
            {"type": "Point", "coordinates": coords[0]}
        feats.append({"type": "Feature", "geometry": geom,
                      "properties": {"kind": "track", "id": tr.node_id,
                                     "times": [pic.time_iso(t) for t, _, _ in tr.points]}})
    for a in pic.alerts:
        geom = None if a.lat_deg is None else {"type": "Point", "coordinates": [a.lon_deg, a.lat_deg]}
        feats.append({"type": "Feature", "geometry": geom,
                      "properties": {"kind": "alert", "level": a.level, "text": a.text, "node": a.node,
                                     "time": pic.time_iso(a.t_s)}})
    return {"type": "FeatureCollection", "features": feats}


def export_geojson(pic: Picture, out_dir: Path) -> list[Path]:
    p = out_dir / f"{_slug(pic.scenario)}.geojson"
    p.write_text(json.dumps(geojson_of(pic), ensure_ascii=False, indent=1))
    return [p]


EXPORTERS = {"cap": export_cap, "cot": export_cot, "geojson": export_geojson}


def export(fmt: str, pic: Picture, out_dir: str | Path) -> list[Path]:
    """Write ``fmt`` (cap, cot, geojson) files for ``pic`` into ``out_dir`` (created)."""
    if fmt not in EXPORTERS:
        raise InteropError(f"unknown export format {fmt!r}; expected one of: {', '.join(EXPORTERS)}")
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InteropError(f"cannot create output folder {d}: {exc.strerror}") from None
    return EXPORTERS[fmt](pic, d)
