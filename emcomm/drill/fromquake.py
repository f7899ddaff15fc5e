"""Scenario from an earthquake: an epicentre, magnitude and depth (or a USGS event file) around a node set.

This module owns reading a USGS event GeoJSON file into a ``QuakeEvent`` and the rules
that turn an event into a scenario document (plain data, written by
``emcomm.drill.tomlwriter``): the scenario starts ``lead_s`` (default 1 h) before the
origin time so a timeline shows the network before and after the shock, and lasts
``hours`` (default 48 h). It reads the event file but no clock.

Rules
-----
- Attenuation region: "west" for epicentres west of 105°E, else "east" — our reading of the
  western/eastern split of Wang Suyun et al. (2000), used by ``emcomm.hazards.earthquake``.
- USGS magnitudes are usually moment magnitudes (Mw); the intensity relations take
  surface-wave Ms. For large shallow events the two differ by a few tenths; we use the
  USGS value as given and say so in the sources.
- A generated node set centres on the epicentre (``nodeset.generic_node_set``).

USGS event files (earthquake.usgs.gov, "GeoJSON Summary Format"): a ``Feature`` (event
page download) or a ``FeatureCollection`` (feed) whose features have ``properties.mag``,
``properties.time`` (ms since 1970-01-01 UTC) and ``geometry.coordinates = [lon, lat, depth_km]``.

Example
-------
>>> ev = QuakeEvent(dt.datetime(2022, 9, 5, 4, 52, tzinfo=dt.timezone.utc), 29.59, 102.08, 16.0, 6.8, "Luding")
>>> doc, _ = scenario_from_quake(ev)
>>> doc["hazards"][0]["params"]["t_s"], doc["scenario"]["duration_s"]
(3600.0, 172800.0)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

from emcomm.drill import nodeset
from emcomm.errors import DataFileError, UsageError

WEST_EAST_BOUNDARY_LON_DEG = 105.0
MAGNITUDE_RANGE = (3.0, 9.5)        # the earthquake model's accepted range
DEPTH_RANGE_KM = (0.0, 700.0)


@dataclasses.dataclass(frozen=True)
class QuakeEvent:
    time: dt.datetime                # origin time, timezone-aware
    lat_deg: float
    lon_deg: float
    depth_km: float
    magnitude: float
    title: str = "earthquake"
    event_id: str = ""
    source: str = ""                 # where the figures come from (file name or "command line")


def check_event(ev: QuakeEvent) -> None:
    """Raise ``UsageError`` naming the first out-of-range figure of an event."""
    checks = (("latitude", ev.lat_deg, -90.0, 90.0, "°"), ("longitude", ev.lon_deg, -180.0, 180.0, "°"),
              ("depth", ev.depth_km, *DEPTH_RANGE_KM, " km"), ("magnitude", ev.magnitude, *MAGNITUDE_RANGE, ""))
    for label, x, lo, hi, unit in checks:
        if not (math.isfinite(x) and lo <= x <= hi):
            raise UsageError(f"{label} {x:g}{unit} is outside {lo:g}…{hi:g}{unit}")
    if ev.time.tzinfo is None:
        raise UsageError(f"origin time {ev.time.isoformat()} has no time zone; add one (e.g. +08:00 or Z)")


def read_usgs_event(path: str | os.PathLike[str], event_id: str | None = None) -> QuakeEvent:
    """Read one event from a USGS GeoJSON file (a Feature, or a FeatureCollection with ``event_id``).

    >>> read_usgs_event("no/such/event.geojson")
    Traceback (most recent call last):
    ...
    emcomm.errors.DataFileError: no/such/event.geojson: no such file; give a USGS event .geojson file
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(name, "no such file; give a USGS event .geojson file") from None
    except IsADirectoryError:
        raise DataFileError(name, "is a directory; give a USGS event .geojson file") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(name, f"is not UTF-8 text (bad byte at offset {exc.start}); expected GeoJSON") from None
    except OSError as exc:
        raise DataFileError(name, f"cannot be read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(name, f"is not valid JSON: {exc.msg} (column {exc.colno}); expected a USGS "
                                  "GeoJSON Feature or FeatureCollection", exc.lineno) from None
    if not isinstance(doc, dict) or doc.get("type") not in ("Feature", "FeatureCollection"):
        raise DataFileError(name, "is JSON but not GeoJSON: expected \"type\": \"Feature\" or \"FeatureCollection\"")
    if doc["type"] == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list) or not feats:
            raise DataFileError(name, "the FeatureCollection has no features (no events)")
        if event_id is not None:
            match = [f for f in feats if isinstance(f, dict) and f.get("id") == event_id]
            if not match:
                ids = ", ".join(str(f.get("id")) for f in feats[:10] if isinstance(f, dict))
                raise DataFileError(name, f"has no event with id {event_id!r}; it holds: {ids}")
            feat, where = match[0], f"features[{feats.index(match[0])}]"
        elif len(feats) > 1:
            ids = ", ".join(str(f.get("id")) for f in feats[:10] if isinstance(f, dict))
            raise DataFileError(name, f"holds {len(feats)} events; choose one with --event ID ({ids})")
        else:
            feat, where = feats[0], "features[0]"
    else:
        feat, where = doc, "the Feature"
    return _event(feat, name, where)


def _event(feat: Any, name: str, where: str) -> QuakeEvent:
    if not isinstance(feat, dict):
        raise DataFileError(name, f"{where} is not a JSON object")
    props, geom = feat.get("properties"), feat.get("geometry")
    if not isinstance(props, dict):
        raise DataFileError(name, f"{where} has no \"properties\" object (expected mag, time)")
    if not isinstance(geom, dict) or not isinstance(geom.get("coordinates"), list) or len(geom["coordinates"]) < 3:
        raise DataFileError(name, f"{where}.geometry.coordinates must be [lon, lat, depth_km]")
    lon, lat, depth = geom["coordinates"][:3]
    mag, ms = props.get("mag"), props.get("time")
    for label, v in (("geometry.coordinates[0] (longitude)", lon), ("geometry.coordinates[1] (latitude)", lat),
                     ("geometry.coordinates[2] (depth km)", depth), ("properties.mag", mag),
                     ("properties.time (ms since 1970 UTC)", ms)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise DataFileError(name, f"{where}.{label} must be a number, got {v!r}")
    when = dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.timezone.utc)
    title = props.get("title") or props.get("place") or "earthquake"
    ev = QuakeEvent(when, float(lat), float(lon), max(float(depth), 0.0), float(mag), str(title),
                    str(feat.get("id") or ""), os.path.basename(name))
    try:
        check_event(ev)
    except UsageError as exc:
        raise DataFileError(name, f"{where}: {exc}") from None
    return ev


def region_of(lon_deg: float) -> str:
    """Attenuation region for an epicentre longitude.

    >>> region_of(103.3), region_of(118.2)
    ('west', 'east')
    """
    return "west" if lon_deg < WEST_EAST_BOUNDARY_LON_DEG else "east"


def scenario_from_quake(ev: QuakeEvent, *, nodes: dict[str, list[dict[str, Any]]] | None = None,
                        nodes_sources: tuple[str, ...] = (), nodes_seed: int = 0, hours: float = 48.0,
                        lead_s: float = 3600.0, strike_deg: float | None = None, tz_hours: float = 8.0,
                        name: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """A scenario document for an earthquake event, and notes on what was trimmed."""
    check_event(ev)
    if not 1 <= hours <= 24 * 30:
        raise UsageError(f"--hours must be between 1 and 720, got {hours:g}")
    if not -14 <= tz_hours <= 14:
        raise UsageError(f"--tz-hours must be between -14 and 14, got {tz_hours:g}")
    tz = dt.timezone(dt.timedelta(hours=tz_hours))
    start = (ev.time - dt.timedelta(seconds=lead_s)).astimezone(tz)
    duration_s = float(math.ceil(hours) * 3600)
    notes: list[str] = []
    sources = [f"event: M{ev.magnitude:g}, {ev.lat_deg:g}°N {ev.lon_deg:g}°E, {ev.depth_km:g} km deep, "
               f"{ev.time.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S}Z"
               + (f" ({ev.title}{', ' + ev.event_id if ev.event_id else ''}; {ev.source})" if ev.source else ""),
               "intensity: Wang Suyun et al., Earthquake Research in China 16(2), 2000 (emcomm.hazards.earthquake); "
               "a USGS magnitude (usually Mw) is used as Ms"]
    if nodes is None:
        tables = nodeset.generic_node_set(ev.lat_deg, ev.lon_deg, coastal=False)
        sources.append(f"generic node set laid out by rule around the epicentre (emcomm.drill.nodeset), "
                       "not surveyed sites")
        seed = int(ev.time.strftime("%Y%m%d"))
    else:
        tables = {k: [dict(e) for e in v] for k, v in nodes.items()}
        notes += nodeset.fit_to_duration(tables, duration_s)
        sources += list(nodes_sources)
        seed = nodes_seed
    params: dict[str, Any] = {"name": "mainshock", "lat_deg": ev.lat_deg, "lon_deg": ev.lon_deg,
                              "magnitude": ev.magnitude, "depth_km": ev.depth_km, "t_s": float(lead_s),
                              "region": region_of(ev.lon_deg)}
    if strike_deg is not None:
        if not -360 <= strike_deg <= 360:
            raise UsageError(f"--strike-deg must be between -360 and 360, got {strike_deg:g}")
        params["strike_deg"] = strike_deg
    local = ev.time.astimezone(tz)
    meta: dict[str, Any] = {
        "name": name or f"M{ev.magnitude:g} earthquake, {local:%d %B %Y %H:%M} (UTC{tz_hours:+g})",
        "description": f"{ev.title}: intensity by distance and damage draws for base stations, fibre and "
                       "mains by emcomm.hazards.earthquake.",
        "sources": sources,
        "start": start,
        "duration_s": duration_s,
        "step_s": 3600.0,
        "seed": seed,
    }
    return nodeset.scenario_doc(meta, tables, {"kind": "earthquake", "name": ev.title, "params": params}), notes
