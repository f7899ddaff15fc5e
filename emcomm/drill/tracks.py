"""Typhoon best tracks: read the CMA best-track text format and IBTrACS CSV into plain track points.

This module owns the two file formats and nothing else: it returns ``TrackPoint``s in
UTC with wind in m/s and pressure in hPa, and names the file and line of every problem
(``DataFileError``). Turning a track into a hazard or a scenario is ``emcomm.drill.fromtrack``.

Formats
-------
- CMA tropical cyclone best track (China Meteorological Administration, Shanghai Typhoon
  Institute, tcdata.typhoon.org.cn; Ying et al., "An overview of the China Meteorological
  Administration tropical cyclone database", J. Atmos. Oceanic Technol. 31, 2014): per storm a
  header ``66666 AAAA BBB CCCC DDDD E F NAME DATE`` (AAAA international number, BBB number of
  rows, F hours between rows, NAME English name), then rows ``YYYYMMDDHH I LAT LON PRES WND [OWD]``:
  time in UTC, intensity category, latitude and longitude in 0.1°, central pressure (hPa),
  2-min mean maximum sustained wind (m/s).
- IBTrACS v04 CSV (Knapp et al., BAMS 91, 2010; NOAA NCEI): a header row, usually a units
  row, then one row per time with ``SID``, ``NAME``, ``ISO_TIME`` (UTC, "YYYY-MM-DD HH:MM:SS"),
  ``LAT``, ``LON`` and agency columns. Winds in IBTrACS are in knots; we take the first
  present of ``CMA_WIND`` (2-min mean, as the hazard model expects), ``WMO_WIND``, ``USA_WIND``
  and of ``CMA_PRES``, ``WMO_PRES``, ``USA_PRES``; ``USA_RMW`` (nautical miles) when present.

Example
-------
>>> text = "66666 2106 2 0009 2106 0 6 IN-FA 20220101\\n2021072500 3 296 1226 965 38\\n2021072506 2 300 1218 970 33\\n"
>>> [(p.lat_deg, p.max_wind_m_s) for p in parse_track(text, "infa.txt").points]
[(29.6, 38.0), (30.0, 33.0)]
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
import os
from pathlib import Path
from typing import Sequence

from emcomm.errors import DataFileError

M_S_PER_KT = 0.514444          # 1 knot = 1852 m / 3600 s
KM_PER_NMI = 1.852
CMA_HEADER = "66666"
IBTRACS_WIND = ("CMA_WIND", "WMO_WIND", "USA_WIND")
IBTRACS_PRES = ("CMA_PRES", "WMO_PRES", "USA_PRES")


@dataclasses.dataclass(frozen=True)
class TrackPoint:
    time: dt.datetime               # UTC, timezone-aware
    lat_deg: float
    lon_deg: float
    pressure_hpa: float
    max_wind_m_s: float
    rmw_km: float | None = None
    line: int = 0                   # line of the source file (for messages)


@dataclasses.dataclass(frozen=True)
class Track:
    name: str                       # storm name as the file gives it
    storm_id: str                   # CMA international number or IBTrACS SID
    source_format: str              # "cma" or "ibtracs"
    points: tuple[TrackPoint, ...]


def read_track(path: str | os.PathLike[str], storm: str | None = None) -> Track:
    """Read one storm's track from a CMA best-track text file or an IBTrACS CSV file.

    ``storm`` picks one storm (name or id, case-insensitive) from a file holding several.

    >>> read_track("no/such/track.txt")
    Traceback (most recent call last):
    ...
    emcomm.errors.DataFileError: no/such/track.txt: no such file; give a CMA best-track .txt or an IBTrACS .csv file
    """
    name = os.fspath(path)
    p = Path(name)
    if p.is_dir():
        raise DataFileError(name, "is a directory; give a CMA best-track .txt or an IBTrACS .csv file")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataFileError(name, "no such file; give a CMA best-track .txt or an IBTrACS .csv file") from None
    except OSError as exc:
        raise DataFileError(name, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(name, f"is not UTF-8 text (bad byte at offset {exc.start}); "
                                  "expected a CMA best-track text file or an IBTrACS CSV file") from None
    return parse_track(text, name, storm)


def parse_track(text: str, path: str = "<track>", storm: str | None = None) -> Track:
    """Parse track text, telling the two formats apart by their first non-blank line."""
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not first:
        raise DataFileError(path, "is empty; expected a CMA best-track text file or an IBTrACS CSV file")
    if first.split()[0] == CMA_HEADER:
        tracks = _parse_cma(text, path)
    elif len(first.split()[0]) == 10 and first.split()[0].isdigit():
        raise DataFileError(path, "data row before any '66666' storm header; a CMA best track starts each "
                                  "storm with a header line '66666 AAAA BBB ...'", 1)
    elif "ISO_TIME" in [c.strip().upper() for c in first.split(",")]:
        tracks = _parse_ibtracs(text, path)
    else:
        raise DataFileError(path, "is neither a CMA best track (first line starting with 66666) nor an "
                                  "IBTrACS CSV (header naming ISO_TIME, LAT, LON)", 1)
    return _pick(tracks, path, storm)


def _pick(tracks: Sequence[Track], path: str, storm: str | None) -> Track:
    if storm is not None:
        want = storm.strip().lower()
        found = [t for t in tracks if want in (t.name.lower(), t.storm_id.lower())]
        if not found:
            raise DataFileError(path, f"has no storm named {storm!r}; it holds: {_names(tracks)}")
        return found[0]
    if len(tracks) > 1:
        raise DataFileError(path, f"holds {len(tracks)} storms; choose one with --storm NAME_OR_ID "
                                  f"({_names(tracks)})")
    return tracks[0]


def _names(tracks: Sequence[Track]) -> str:
    shown = ", ".join(f"{t.name or '(unnamed)'} [{t.storm_id}]" for t in tracks[:12])
    return shown + (f", … ({len(tracks) - 12} more)" if len(tracks) > 12 else "")


# ---------------------------------------------------------------- CMA text


def _parse_cma(text: str, path: str) -> list[Track]:
    tracks: list[Track] = []
    header: list[str] | None = None
    points: list[TrackPoint] = []

    def close(line_no: int) -> None:
        if header is None:
            return
        if not points:
            raise DataFileError(path, f"storm {header[1] if len(header) > 1 else '?'} has a header but no "
                                      "data rows; expected rows 'YYYYMMDDHH I LAT LON PRES WND'", line_no)
        name = header[7] if len(header) > 7 else ""
        tracks.append(Track(name, header[1] if len(header) > 1 else "", "cma", tuple(points)))

    for n, raw in enumerate(text.splitlines(), 1):
        parts = raw.split()
        if not parts:
            continue
        if parts[0] == CMA_HEADER:
            close(n)
            header, points = parts, []
            continue
        if header is None:
            raise DataFileError(path, "data row before any '66666' storm header", n)
        points.append(_cma_row(parts, path, n, points[-1] if points else None))
    close(n)
    return tracks


def _cma_row(parts: list[str], path: str, n: int, prev: TrackPoint | None) -> TrackPoint:
    if len(parts) < 6:
        raise DataFileError(path, f"expected 6 or 7 columns 'YYYYMMDDHH I LAT LON PRES WND [OWD]', "
                                  f"got {len(parts)}: {' '.join(parts)!r}", n)
    stamp = parts[0]
    try:
        if len(stamp) != 10 or not stamp.isdigit():
            raise ValueError
        when = dt.datetime.strptime(stamp, "%Y%m%d%H").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise DataFileError(path, f"bad time {stamp!r}; expected YYYYMMDDHH in UTC, e.g. 2021072506", n) from None
    nums = []
    for col, label in zip(parts[1:6], ("intensity category", "latitude (0.1°N)", "longitude (0.1°E)",
                                       "pressure (hPa)", "wind (m/s)")):
        try:
            nums.append(int(col))
        except ValueError:
            raise DataFileError(path, f"bad {label} {col!r}; expected a whole number", n) from None
    _, lat10, lon10, pres, wind = nums
    lat, lon = lat10 / 10.0, lon10 / 10.0
    _check_point(path, n, lat, lon, float(pres), float(wind))
    if prev is not None and when <= prev.time:
        raise DataFileError(path, f"time {stamp} is not after the previous row's "
                                  f"{prev.time:%Y%m%d%H}; rows must be in time order", n)
    return TrackPoint(when, lat, lon, float(pres), float(wind), None, n)


def _check_point(path: str, n: int, lat: float, lon: float, pres: float, wind: float) -> None:
    if not -90 <= lat <= 90:
        raise DataFileError(path, f"latitude {lat:g}° is outside -90…90 (CMA gives 0.1° units: 296 = 29.6°N)", n)
    if not -180 <= lon <= 360:
        raise DataFileError(path, f"longitude {lon:g}° is outside -180…360 (CMA gives 0.1° units: 1226 = 122.6°E)", n)
    if not 850 <= pres <= 1050:
        raise DataFileError(path, f"central pressure {pres:g} hPa is outside 850…1050", n)
    if not 0 <= wind <= 110:
        raise DataFileError(path, f"maximum wind {wind:g} m/s is outside 0…110", n)


# ---------------------------------------------------------------- IBTrACS CSV


def _parse_ibtracs(text: str, path: str) -> list[Track]:
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    head = [c.strip().upper() for c in rows[0]]
    col = {c: i for i, c in enumerate(head)}
    missing = [c for c in ("ISO_TIME", "LAT", "LON") if c not in col]
    if missing:
        raise DataFileError(path, f"IBTrACS header lacks column(s) {', '.join(missing)}", 1)
    winds = [c for c in IBTRACS_WIND if c in col]
    press = [c for c in IBTRACS_PRES if c in col]
    if not winds or not press:
        raise DataFileError(path, f"IBTrACS header needs a wind column ({', '.join(IBTRACS_WIND)}) and a "
                                  f"pressure column ({', '.join(IBTRACS_PRES)})", 1)
    by_storm: dict[str, tuple[str, list[TrackPoint]]] = {}
    for n, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(head):
            raise DataFileError(path, f"row has {len(row)} columns, the header {len(head)}", n)

        def get(c: str) -> str:
            return row[col[c]].strip() if c in col else ""

        stamp = get("ISO_TIME")
        try:
            when = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            if n == 2:
                continue    # the units row under the header
            raise DataFileError(path, f"bad ISO_TIME {stamp!r}; expected 'YYYY-MM-DD HH:MM:SS' (UTC)", n) from None
        lat, lon = _float(get("LAT"), "LAT", path, n), _float(get("LON"), "LON", path, n)
        wind_kt = next((_float(get(c), c, path, n) for c in winds if get(c)), None)
        pres = next((_float(get(c), c, path, n) for c in press if get(c)), None)
        if wind_kt is None or pres is None or lat is None or lon is None:
            continue        # a point no agency gave intensity for: not usable by the model
        wind = wind_kt * M_S_PER_KT
        _check_point(path, n, lat, lon, pres, wind)
        rmw_nmi = _float(get("USA_RMW"), "USA_RMW", path, n) if get("USA_RMW") else None
        rmw = rmw_nmi * KM_PER_NMI if rmw_nmi else None
        sid = get("SID") or "storm"
        name, pts = by_storm.setdefault(sid, (get("NAME"), []))
        if pts and when <= pts[-1].time:
            raise DataFileError(path, f"ISO_TIME {stamp} is not after the previous row of storm {sid}; "
                                      "rows must be in time order", n)
        pts.append(TrackPoint(when, lat, lon, pres, wind, rmw, n))
    tracks = [Track(name, sid, "ibtracs", tuple(pts)) for sid, (name, pts) in by_storm.items() if pts]
    if not tracks:
        raise DataFileError(path, "has no row with a time, position, wind and pressure")
    return tracks


def _float(raw: str, column: str, path: str, n: int) -> float | None:
    if not raw:
        return None
    try:
        x = float(raw)
    except ValueError:
        raise DataFileError(path, f"bad {column} {raw!r}; expected a number", n) from None
    if not math.isfinite(x):
        raise DataFileError(path, f"bad {column} {raw!r}; expected a finite number", n)
    return x
