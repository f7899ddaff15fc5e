"""Satellite-IoT sensors: river gauges, rain gauges, smoke detectors and seismic triggers
turned into mesh messages and hazard markers.

Owns the sensor kinds (unit, hazard, CAP category), a sensor's configuration and its two
thresholds, and ``SensorMonitor``: readings in, messages out. A reading that takes a
sensor to a higher level raises an ALERT (a compact CAP 1.2 alert with a circle around
the sensor: FLASH at the danger threshold, IMMEDIATE at the warning threshold); falling
back below the warning level (less ``hysteresis``) sends a ROUTINE all-clear; other
readings go as a tiny STATUS report at most every ``report_every_s``, to spare the scarce
Beidou send slots. Each level change also yields a hazard overlay and a feed item in the
situation dict shape documented in ``emcomm.ui.situation``. It must not send anything or
read a clock: reading times come with the readings (``emcomm sensor`` does the I/O).

Thresholds are per station (a river gauge's warning and guaranteed levels are set by its
water authority), so there are no defaults.

Example
-------
>>> gauge = SensorSpec("jialu-1", "water_level", 34.80, 113.62, warning=3.0, danger=4.5, radius_m=2000)
>>> mon = SensorMonitor([gauge])
>>> [m.priority.name for m in mon.feed(Reading("jialu-1", 1626768000.0, 2.1))]
['ROUTINE']
>>> (m,) = mon.feed(Reading("jialu-1", 1626771600.0, 4.8))
>>> m.priority.name, m.content_type, m.overlay["hazard"], m.overlay["shapes"][0]["radius_m"]
('FLASH', 'alert', 'flood', 2000.0)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from typing import Any, Iterable, Mapping, Sequence

import msgpack

from emcomm.errors import InteropError
from emcomm.interop import cap
from emcomm.priority import Priority


@dataclasses.dataclass(frozen=True)
class SensorKind:
    name: str
    unit: str
    hazard: str             # hazard overlay kind on the map (emcomm.ui.situation.HAZARD_KINDS)
    category: str           # CAP 1.2 category
    what: str               # words for the alert text


# Units: water level in metres above the gauge datum; rain rate in mm per hour; smoke as
# obscuration in percent per metre (the unit smoke detectors are rated in, UL 268 / EN 54-7);
# ground shaking as peak ground acceleration in gal (cm/s²), the unit of China's seismic
# intensity scale GB/T 17742-2020.
SENSOR_KINDS: Mapping[str, SensorKind] = {
    "water_level": SensorKind("water_level", "m", "flood", "Met", "river water level"),
    "rain": SensorKind("rain", "mm/h", "flood", "Met", "rainfall rate"),
    "smoke": SensorKind("smoke", "%/m", "fire", "Fire", "smoke obscuration"),
    "seismic": SensorKind("seismic", "gal", "earthquake", "Geo", "peak ground acceleration"),
}
_KIND_ORDER = tuple(SENSOR_KINDS)
LEVELS = ("normal", "warning", "danger")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
READING_FORM = 0x53            # first byte of a compact reading ("S")
READING_VERSION = 1


@dataclasses.dataclass(frozen=True)
class SensorSpec:
    """One sensor: where it is and the two thresholds of its reading."""

    id: str
    kind: str
    lat_deg: float
    lon_deg: float
    warning: float
    danger: float
    name: str = ""
    radius_m: float = 1000.0        # the area marked on the map when it alarms
    hysteresis: float = 0.0         # a level ends only this far below its threshold
    report_every_s: float = 3600.0  # routine readings at most this often (0: every reading)

    def __post_init__(self) -> None:
        where = f"sensor {self.id!r}"
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise InteropError(f"sensor id must be 1-64 letters, digits, '_', '-' or '.', got {self.id!r}")
        if self.kind not in SENSOR_KINDS:
            raise InteropError(f"{where}: kind {self.kind!r} is not one of {', '.join(SENSOR_KINDS)}")
        for name in ("lat_deg", "lon_deg", "warning", "danger", "radius_m", "hysteresis", "report_every_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InteropError(f"{where}: {name} must be a number, got {v!r}")
        if not (-90 <= self.lat_deg <= 90 and -180 <= self.lon_deg <= 180):
            raise InteropError(f"{where}: position ({self.lat_deg}, {self.lon_deg}) is outside -90..90 / -180..180")
        if not self.warning < self.danger:
            raise InteropError(f"{where}: the warning threshold ({self.warning}) must be below the danger "
                               f"threshold ({self.danger})")
        if not 0 < self.radius_m <= 200_000 or self.hysteresis < 0 or self.report_every_s < 0:
            raise InteropError(f"{where}: radius_m must be 0..200000 m, hysteresis and report_every_s not negative")

    @property
    def label(self) -> str:
        return self.name or self.id

    @property
    def unit(self) -> str:
        return SENSOR_KINDS[self.kind].unit


@dataclasses.dataclass(frozen=True)
class Reading:
    sensor: str
    t_s: float            # POSIX seconds (UTC) when the value was measured
    value: float


@dataclasses.dataclass(frozen=True)
class SensorMessage:
    """What to send for one reading, and what changes on the map."""

    sensor: str
    priority: Priority
    content_type: str                       # "alert" (compact CAP) or "status" (compact reading)
    body: bytes
    level: str
    text: str
    overlay: Mapping[str, Any] | None = None   # hazard overlay (situation dict shape); None: no change
    feed: Mapping[str, Any] | None = None      # feed item (situation dict shape) for alerts


def level_of(spec: SensorSpec, value: float, before: str = "normal") -> str:
    """The sensor's level after ``value``: a level is entered at its threshold and left only
    ``hysteresis`` below it.

    >>> s = SensorSpec("g", "rain", 0, 0, warning=30, danger=60, hysteresis=5)
    >>> level_of(s, 61), level_of(s, 57, before="danger"), level_of(s, 54, before="danger")
    ('danger', 'danger', 'warning')
    """
    keep = LEVELS.index(before)
    for i, threshold in ((2, spec.danger), (1, spec.warning)):
        if value >= threshold or (keep >= i and value > threshold - spec.hysteresis):
            return LEVELS[i]
    return "normal"


def iso_utc(t_s: float) -> str:
    """POSIX seconds as a CAP time (``+00:00``, no "Z", CAP 1.2 3.3.2).

    >>> iso_utc(1626768000.0)
    '2021-07-20T08:00:00+00:00'
    """
    return dt.datetime.fromtimestamp(math.floor(t_s), dt.timezone.utc).isoformat(timespec="seconds")


def alert_for(spec: SensorSpec, level: str, value: float, t_s: float) -> cap.CapAlert:
    """The CAP alert for a level change: Extreme/Immediate (FLASH) at danger, Severe/Expected
    (IMMEDIATE) at warning, Minor/Past (ROUTINE) when back to normal."""
    kind = SENSOR_KINDS[spec.kind]
    severity, urgency, msg_type = {"danger": ("Extreme", "Immediate", "Alert"),
                                   "warning": ("Severe", "Expected", "Alert"),
                                   "normal": ("Minor", "Past", "Update")}[level]
    threshold = {"danger": spec.danger, "warning": spec.warning, "normal": spec.warning}[level]
    above = "below" if level == "normal" else "above"
    head = f"{spec.label}: {kind.what} {value:g} {kind.unit} {above} the {'warning' if level == 'normal' else level} " \
           f"threshold {threshold:g} {kind.unit}"
    return cap.CapAlert(
        identifier=f"{spec.id}.{int(t_s)}.{level}", sender=f"{spec.id}@emcomm", sent=iso_utc(t_s),
        event=f"{kind.hazard} sensor {level}", urgency=urgency, severity=severity, certainty="Observed",
        msg_type=msg_type, category=kind.category, headline=head[:160],
        description=f"sensor {spec.id} ({spec.kind}) read {value:g} {kind.unit}",
        areas=(cap.CapArea(spec.label, circles=((spec.lat_deg, spec.lon_deg, spec.radius_m / 1000.0),)),))


def hazard_overlay(spec: SensorSpec, level: str, value: float) -> dict[str, Any]:
    """The sensor's marker in the situation dict shape (``hazards`` items).

    >>> hazard_overlay(SensorSpec("g", "smoke", 30.0, 101.0, 2, 5, radius_m=500), "danger", 6)["shapes"][0]["shape"]
    'circle'
    """
    kind = SENSOR_KINDS[spec.kind]
    return {"hazard": kind.hazard, "name": f"{spec.label} ({level})",
            "shapes": [{"shape": "circle", "coords": [[spec.lat_deg, spec.lon_deg]], "radius_m": float(spec.radius_m),
                        "label": f"{spec.label}: {value:g} {kind.unit} ({level})", "value": float(value)}]}


# ----------------------------------------------------------------------------- compact readings
def encode_reading(spec: SensorSpec, reading: Reading, level: str) -> bytes:
    """A routine reading in ~30 bytes (fits a 560-bit global Beidou message).

    >>> s = SensorSpec("g1", "rain", 34.8, 113.6, 30, 60)
    >>> len(encode_reading(s, Reading("g1", 1626768000.0, 12.5), "normal")) <= 70
    True
    """
    return bytes([READING_FORM]) + msgpack.packb(
        [READING_VERSION, spec.id, _KIND_ORDER.index(spec.kind), int(reading.t_s), float(reading.value),
         LEVELS.index(level)], use_bin_type=True)


def decode_reading(data: bytes) -> dict[str, Any]:
    """Inverse of ``encode_reading`` (untrusted input: InteropError for anything malformed).

    >>> s = SensorSpec("g1", "rain", 34.8, 113.6, 30, 60)
    >>> decode_reading(encode_reading(s, Reading("g1", 1626768000.0, 12.5), "normal"))["value"]
    12.5
    """
    if not isinstance(data, (bytes, bytearray)) or len(data) < 2 or len(data) > 256 or data[0] != READING_FORM:
        raise InteropError("sensor reading: not a compact reading (form byte 0x53, at most 256 bytes)")
    try:
        f = msgpack.unpackb(data[1:], raw=False, max_str_len=64, max_array_len=16, max_map_len=0, max_bin_len=0)
        version, sid, kind_i, t_s, value, level_i = f
        if version != READING_VERSION or not isinstance(sid, str) or not _ID.match(sid) \
                or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not isinstance(t_s, int):
            raise ValueError("bad field")
        return {"sensor": sid, "kind": _KIND_ORDER[kind_i], "t_s": float(t_s), "value": float(value),
                "level": LEVELS[level_i]}
    except InteropError:
        raise
    except Exception as exc:  # msgpack and unpacking raise many unrelated types for hostile input
        raise InteropError(f"sensor reading: malformed ({type(exc).__name__}: {exc})") from None


# ----------------------------------------------------------------------------- the monitor
class SensorMonitor:
    """Readings of several sensors in, messages out (see the module rules)."""

    def __init__(self, specs: Sequence[SensorSpec]):
        self.specs: dict[str, SensorSpec] = {}
        for s in specs:
            if s.id in self.specs:
                raise InteropError(f"sensor {s.id!r} is configured twice")
            self.specs[s.id] = s
        self.levels: dict[str, str] = {s: "normal" for s in self.specs}
        self._last_report: dict[str, float] = {}
        self._overlays: dict[str, dict[str, Any]] = {}

    def overlays(self) -> list[dict[str, Any]]:
        """Hazard overlays of every sensor above its warning level now (the map's ``hazards``)."""
        return [self._overlays[s] for s in sorted(self._overlays)]

    def feed(self, reading: Reading) -> list[SensorMessage]:
        """Assess one reading; returns the messages to send (possibly none)."""
        spec = self.specs.get(reading.sensor)
        if spec is None:
            raise InteropError(f"reading for unknown sensor {reading.sensor!r}; configured: "
                               f"{', '.join(sorted(self.specs)) or 'none'}")
        if isinstance(reading.value, bool) or not isinstance(reading.value, (int, float)) \
                or not math.isfinite(reading.value):
            raise InteropError(f"sensor {spec.id}: reading {reading.value!r} is not a finite number")
        before = self.levels[spec.id]
        level = level_of(spec, reading.value, before)
        self.levels[spec.id] = level
        if level != before and (LEVELS.index(level) > LEVELS.index(before) or level == "normal"):
            self._last_report[spec.id] = reading.t_s
            alert = alert_for(spec, level, reading.value, reading.t_s)
            ov = hazard_overlay(spec, level, reading.value)
            if level == "normal":
                self._overlays.pop(spec.id, None)
            else:
                self._overlays[spec.id] = ov
            feed_level = {"danger": "flash", "warning": "alert", "normal": "info"}[level]
            return [SensorMessage(spec.id, cap.priority_of(alert), "alert", cap.encode_compact(alert), level,
                                  alert.headline, ov if level != "normal" else None,
                                  {"level": feed_level, "text": alert.headline, "node": spec.id})]
        if level != "normal":                         # eased but still alarming: the marker follows
            self._overlays[spec.id] = hazard_overlay(spec, level, reading.value)
        last = self._last_report.get(spec.id)
        if last is not None and reading.t_s - last < spec.report_every_s:
            return []
        self._last_report[spec.id] = reading.t_s
        text = f"{spec.label}: {reading.value:g} {spec.unit} ({level})"
        return [SensorMessage(spec.id, Priority.ROUTINE, "status", encode_reading(spec, reading, level), level, text)]


# ----------------------------------------------------------------------------- files
def sensor_specs(raw: Any, source: str) -> list[SensorSpec]:
    """``[[sensor]]`` tables (from a TOML file) → checked specs."""
    if not isinstance(raw, list) or not raw:
        raise InteropError(f"{source}: give at least one [[sensor]] table with id, kind, lat_deg, lon_deg, "
                           "warning and danger")
    fields = {f.name for f in dataclasses.fields(SensorSpec)}
    out = []
    for i, t in enumerate(raw):
        where = f"{source}: sensor[{i}]"
        if not isinstance(t, Mapping):
            raise InteropError(f"{where} must be a table")
        unknown = set(t) - fields
        if unknown:
            raise InteropError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(fields))}")
        missing = [k for k in ("id", "kind", "lat_deg", "lon_deg", "warning", "danger") if k not in t]
        if missing:
            raise InteropError(f"{where}: missing {', '.join(missing)}")
        out.append(SensorSpec(**dict(t)))
    return out


def parse_readings(lines: Iterable[str], source: str = "readings") -> Iterable[Reading]:
    """``TIME,SENSOR,VALUE`` lines (TIME in ISO 8601 with offset, e.g. 2021-07-20T16:00:00+08:00,
    or POSIX seconds); blank lines and ``#`` comments are skipped.

    >>> [r.value for r in parse_readings(["# gauge", "2021-07-20T16:00:00+08:00,g1,3.5"])]
    [3.5]
    """
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3:
            raise InteropError(f"{source}:{n}: expected TIME,SENSOR,VALUE, got {text[:80]!r}")
        when, sid, value = parts
        try:
            v = float(value)
        except ValueError:
            raise InteropError(f"{source}:{n}: value {value!r} is not a number") from None
        if not math.isfinite(v):
            raise InteropError(f"{source}:{n}: value {value!r} is not a finite number")
        yield Reading(sid, _time(when, f"{source}:{n}"), v)


def _time(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InteropError(f"{where}: time {text!r} is not ISO 8601 (2021-07-20T16:00:00+08:00) or POSIX seconds") from None
    if t.tzinfo is None:
        raise InteropError(f"{where}: time {text!r} needs a UTC offset (e.g. +08:00)")
    return t.timestamp()
