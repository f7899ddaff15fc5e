"""What a recording holds for export: nodes, their tracks and the alerts, as plain data.

Owns reading a drill recording (``emcomm.drill.recording``) into ``Picture``: the last
known state of every node, each node's track (positions over time) and every alert in
the feed (levels ``flash`` and ``alert``), with wall-clock times from the recording's
start. It must not write any export format (``cap.py``, ``cot.py``, ``geojson.py`` do)
nor import the UI; it reads the situation dict shape documented in
``emcomm.ui.situation`` leniently (unknown keys ignored, bad items skipped and counted).

Example
-------
>>> iso_at("2021-07-20T08:00:00+08:00", 3600.5)
'2021-07-20T09:00:00+08:00'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any, Mapping

from emcomm.drill.recording import KEYFRAME, Recording, read_recording
from emcomm.errors import InteropError


@dataclasses.dataclass(frozen=True)
class NodePoint:
    id: str
    lat_deg: float
    lon_deg: float
    name: str = ""
    role: str = "team"
    up: bool = True
    t_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class Track:
    node_id: str
    points: tuple[tuple[float, float, float], ...]     # (t_s, lat_deg, lon_deg)


@dataclasses.dataclass(frozen=True)
class Alert:
    t_s: float
    level: str                  # "flash" or "alert"
    text: str
    node: str = ""
    lat_deg: float | None = None
    lon_deg: float | None = None


@dataclasses.dataclass(frozen=True)
class Picture:
    scenario: str
    start: str                  # ISO 8601 wall time of t_s = 0
    nodes: tuple[NodePoint, ...]
    tracks: tuple[Track, ...]
    alerts: tuple[Alert, ...]
    skipped: int = 0            # items in the recording that were not usable

    def time_iso(self, t_s: float) -> str:
        return iso_at(self.start, t_s)


def iso_at(start: str, t_s: float) -> str:
    """``start`` + ``t_s`` seconds as ``YYYY-MM-DDThh:mm:ss±hh:mm`` (the form CAP and CoT accept)."""
    try:
        base = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise InteropError(f"recording start {start!r} is not an ISO 8601 time such as 2021-07-20T08:00:00+08:00") from None
    if base.tzinfo is None:
        base = base.replace(tzinfo=dt.timezone.utc)
    t = base + dt.timedelta(seconds=math.floor(t_s))
    return t.isoformat(timespec="seconds")


def _point(d: Mapping[str, Any]) -> tuple[float, float] | None:
    lat, lon = d.get("lat_deg"), d.get("lon_deg")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and not isinstance(lat, bool) \
            and -90 <= lat <= 90 and -180 <= lon <= 180:
        return float(lat), float(lon)
    return None


def picture_of(rec: Recording) -> Picture:
    """Fold a recording into nodes, tracks and alerts."""
    nodes: dict[str, dict[str, Any]] = {}
    tracks: dict[str, list[tuple[float, float, float]]] = {}
    alerts: dict[tuple[float, str, str], Alert] = {}
    skipped = 0

    def saw(node_id: str, t_s: float) -> None:
        p = _point(nodes[node_id])
        if p is None:
            return
        tr = tracks.setdefault(node_id, [])
        if not tr or tr[-1][1:] != p:
            tr.append((t_s, *p))

    def feed(item: Any, t_s: float) -> None:
        nonlocal skipped
        if not isinstance(item, Mapping) or not isinstance(item.get("text"), str):
            skipped += 1
            return
        level = item.get("level", "info")
        if level not in ("flash", "alert"):
            return
        when = float(item.get("t_s", t_s)) if isinstance(item.get("t_s"), (int, float)) else t_s
        node = item.get("node") if isinstance(item.get("node"), str) else ""
        pos = _point(nodes[node]) if node in nodes else None
        key = (when, item["text"], node)
        if key not in alerts:
            alerts[key] = Alert(when, level, item["text"], node, *(pos or (None, None)))

    for r in rec.records:
        if r.kind == KEYFRAME:
            for n in r.data.get("nodes", []) or []:
                if isinstance(n, Mapping) and isinstance(n.get("id"), str) and _point(n):
                    nodes[n["id"]] = {**dict(n), "t_s": r.t_s}
                    saw(n["id"], r.t_s)
                else:
                    skipped += 1
            for item in r.data.get("feed", []) or []:
                feed(item, r.t_s)
        elif r.kind == "node":
            nid = r.data.get("id")
            if not isinstance(nid, str):
                skipped += 1
                continue
            merged = {**nodes.get(nid, {}), **dict(r.data), "t_s": r.t_s}
            if _point(merged) is None:
                skipped += 1
                continue
            nodes[nid] = merged
            saw(nid, r.t_s)
        elif r.kind == "feed":
            feed(r.data, r.t_s)
    points = tuple(NodePoint(nid, *_point(n), name=str(n.get("name", "") or ""),  # type: ignore[misc]
                             role=str(n.get("role", "team") or "team"), up=bool(n.get("up", True)),
                             t_s=float(n["t_s"])) for nid, n in sorted(nodes.items()))
    return Picture(rec.header.scenario, rec.header.start, points,
                   tuple(Track(k, tuple(v)) for k, v in sorted(tracks.items())),
                   tuple(sorted(alerts.values(), key=lambda a: (a.t_s, a.text))), skipped)


def read_picture(path: str) -> Picture:
    """``picture_of(read_recording(path))``; RecordingError when the file is unusable."""
    return picture_of(read_recording(path))
