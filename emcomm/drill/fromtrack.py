"""Scenario from a typhoon best track: the track becomes a typhoon hazard, around a node set.

This module owns the rules that turn a ``Track`` (``emcomm.drill.tracks``) into a scenario
document: which points the hazard model can use, the scenario's start (the first point)
and end (the last point plus time for batteries to run down), where a generated node set
goes, and the sources listed. The document is plain data; ``emcomm.drill.tomlwriter``
writes it and the CLI checks the written text loads. No file I/O here.

Rules
-----
- Points weaker than the model accepts (2-min wind < 5 m/s, or central pressure at or above
  the 1010 hPa ambient) are left out and counted in ``notes``; at least one must remain.
- Start: the first usable point, shown in the chosen time zone (default UTC+8, China
  Standard Time). End: the last usable point + ``extra_hours`` (default 12 h: base-station
  batteries hold up 2–4 h, so outages show after the storm passes), rounded up to the hour.
- A generated node set centres on the last point at typhoon strength (≥ 32.7 m/s, the CMA
  grade boundary, GB/T 19201-2006) — for a landfalling storm the point nearest landfall —
  or else on the strongest point; its base stations and teams are marked coastal.

Example
-------
>>> from emcomm.drill.tracks import parse_track
>>> t = parse_track("66666 2106 2 0009 2106 0 6 IN-FA 20220101\\n2021072500 3 296 1226 965 38\\n"
...                 "2021072506 2 300 1218 970 33\\n", "infa.txt")
>>> doc, notes = scenario_from_track(t, "infa.txt")
>>> doc["scenario"]["duration_s"], len(doc["hazards"][0]["params"]["track"])
(64800.0, 2)
"""

from __future__ import annotations

import datetime as dt
import math
import os
from typing import Any

from emcomm.drill import nodeset
from emcomm.drill.tracks import Track, TrackPoint
from emcomm.errors import DataFileError, UsageError

AMBIENT_PRESSURE_HPA = 1010.0      # the typhoon model's default environmental pressure
MIN_WIND_M_S = 5.0                 # the typhoon model's lower bound on max wind
TYPHOON_WIND_M_S = 32.7            # CMA typhoon grade (GB/T 19201-2006: 32.7–41.4 m/s)
RMW_RANGE_KM = (5.0, 200.0)        # the typhoon model's accepted radius of maximum wind
FORMAT_SOURCES = {
    "cma": "CMA tropical cyclone best track dataset (China Meteorological Administration / Shanghai Typhoon "
           "Institute; Ying et al., J. Atmos. Oceanic Technol. 31, 2014): 6-hourly UTC positions, central "
           "pressure and 2-min mean maximum wind",
    "ibtracs": "IBTrACS v04 (Knapp et al., BAMS 91, 2010; NOAA NCEI): positions and agency intensities, "
               "winds converted from knots",
}


def usable_points(track: Track) -> tuple[list[TrackPoint], list[str]]:
    """The points the typhoon model accepts, and a note for each one left out."""
    keep: list[TrackPoint] = []
    notes: list[str] = []
    for p in track.points:
        if p.max_wind_m_s < MIN_WIND_M_S or p.pressure_hpa >= AMBIENT_PRESSURE_HPA:
            notes.append(f"left out {p.time:%Y-%m-%d %H:%M}Z (line {p.line}): {p.max_wind_m_s:.0f} m/s, "
                         f"{p.pressure_hpa:.0f} hPa is weaker than the model takes "
                         f"(≥ {MIN_WIND_M_S:g} m/s and < {AMBIENT_PRESSURE_HPA:g} hPa)")
        else:
            keep.append(p)
    return keep, notes


def centre_of(points: list[TrackPoint]) -> TrackPoint:
    """Where a generated node set goes: the last typhoon-strength point, else the strongest."""
    strong = [p for p in points if p.max_wind_m_s >= TYPHOON_WIND_M_S]
    return strong[-1] if strong else max(points, key=lambda p: p.max_wind_m_s)


def scenario_from_track(track: Track, track_path: str, *, nodes: dict[str, list[dict[str, Any]]] | None = None,
                        nodes_sources: tuple[str, ...] = (), nodes_seed: int = 0, tz_hours: float = 8.0,
                        extra_hours: float = 12.0, name: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """A scenario document (plain data) for ``track``, and notes on what was left out or trimmed.

    ``nodes`` are borrowed node tables (``nodeset.node_set_from``); without them a generic
    coastal node set is generated around ``centre_of`` the track.
    """
    if not -14 <= tz_hours <= 14:
        raise UsageError(f"--tz-hours must be between -14 and 14, got {tz_hours:g}")
    if not 0 <= extra_hours <= 240:
        raise UsageError(f"--extra-hours must be between 0 and 240, got {extra_hours:g}")
    points, notes = usable_points(track)
    if not points:
        raise DataFileError(track_path, f"storm {track.name or track.storm_id} has no point strong enough for the "
                                        f"typhoon model (≥ {MIN_WIND_M_S:g} m/s and < {AMBIENT_PRESSURE_HPA:g} hPa)")
    tz = dt.timezone(dt.timedelta(hours=tz_hours))
    start = points[0].time.astimezone(tz)
    span_s = (points[-1].time - points[0].time).total_seconds() + extra_hours * 3600.0
    duration_s = float(max(1, math.ceil(span_s / 3600.0 - 1e-9)) * 3600)
    track_rows = []
    for p in points:
        row: dict[str, Any] = {"time": p.time.astimezone(tz).isoformat(), "lat_deg": p.lat_deg, "lon_deg": p.lon_deg,
                               "pressure_hpa": p.pressure_hpa, "max_wind_m_s": round(p.max_wind_m_s, 1)}
        if p.rmw_km is not None and RMW_RANGE_KM[0] <= p.rmw_km <= RMW_RANGE_KM[1]:
            row["rmw_km"] = round(p.rmw_km, 1)
        track_rows.append(row)
    storm = track.name.strip().title() if track.name.strip() else track.storm_id
    base = os.path.basename(track_path)
    sources = [f"best track {base} ({storm}, {track.storm_id}): {len(points)} points "
               f"{points[0].time:%Y-%m-%d %H:%M}Z – {points[-1].time:%Y-%m-%d %H:%M}Z",
               FORMAT_SOURCES[track.source_format]]
    if nodes is None:
        c = centre_of(points)
        tables = nodeset.generic_node_set(c.lat_deg, c.lon_deg, coastal=True)
        sources.append(f"generic coastal node set laid out by rule around {c.lat_deg:g}°N {c.lon_deg:g}°E "
                       "(emcomm.drill.nodeset), not surveyed sites")
        seed = int(track.points[0].time.strftime("%Y%m%d"))
    else:
        tables = {k: [dict(e) for e in v] for k, v in nodes.items()}
        notes += nodeset.fit_to_duration(tables, duration_s)
        sources += list(nodes_sources)
        seed = nodes_seed
    meta: dict[str, Any] = {
        "name": name or f"Typhoon {storm} ({points[0].time:%B %Y})",
        "description": f"Typhoon {storm} from its best track ({base}); wind, rain and storm surge by the "
                       "Holland / R-CLIPER models of emcomm.hazards.typhoon.",
        "sources": sources,
        "start": start,
        "duration_s": duration_s,
        "step_s": 3600.0,
        "seed": seed,
    }
    hazard = {"kind": "typhoon", "name": f"Typhoon {storm}", "params": {"name": f"typhoon {storm}", "track": track_rows}}
    return nodeset.scenario_doc(meta, tables, hazard), notes
