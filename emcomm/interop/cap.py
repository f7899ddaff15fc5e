"""OASIS CAP 1.2 alerts: the plain data, XML out, hardened XML in, and the compact form
that crosses a Beidou link.

Owns the subset of CAP 1.2 emcomm produces and understands (one ``info`` block with its
areas; polygons and circles), the mapping of urgency/severity to an emcomm priority, and
a compact msgpack encoding that fits a typical alert into one Beidou short message. It
must not send anything or read a clock (``sent`` is given). Parsing goes through
``xmlsafe.parse_xml`` (size limit, no DTD/entities, namespace checked).

Source: OASIS, "Common Alerting Protocol Version 1.2", OASIS Standard, 1 July 2010:
element names, order and enumerations (section 3.2); ``sent`` and other times are
``YYYY-MM-DDThh:mm:ss±hh:mm`` (3.3.2, no "Z"); a polygon is at least 4 "lat,lon" pairs,
first equal to last (3.2.4); a circle is "lat,lon radius" with radius in km (3.2.4).

Example
-------
>>> a = CapAlert(identifier="emcomm-1", sender="cc@emcomm", sent="2021-07-20T17:00:00+08:00",
...              event="Flood", urgency="Immediate", severity="Extreme", certainty="Observed",
...              headline="Levee breach", areas=(CapArea("Zhengzhou", circles=((34.75, 113.65, 2.0),)),))
>>> back = from_xml(to_xml(a))
>>> back == a, priority_of(a).name
(True, 'FLASH')
>>> len(encode_compact(a)) < 140
True
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import msgpack

from emcomm.errors import InteropError
from emcomm.interop.xmlsafe import parse_xml
from emcomm.priority import Priority

NS = "urn:oasis:names:tc:emergency:cap:1.2"
_Q = "{" + NS + "}"

STATUS = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
              "CBRNE", "Other")
URGENCY = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITY = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTY = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")   # CAP 1.2 section 3.3.2

COMPACT_VERSION = 1
# Coordinates in the compact form are integers of 1e-5 degree (≈ 1.1 m), ample for alert areas.
_COORD_SCALE = 100_000


@dataclasses.dataclass(frozen=True)
class CapArea:
    """An alert area: polygons as ``((lat, lon), ...)`` rings, circles as ``(lat, lon, radius_km)``."""

    desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()


@dataclasses.dataclass(frozen=True)
class CapAlert:
    """One CAP alert with one ``info`` block (the form emcomm exchanges)."""

    identifier: str
    sender: str
    sent: str
    event: str
    urgency: str
    severity: str
    certainty: str
    status: str = "Actual"
    msg_type: str = "Alert"
    scope: str = "Public"
    category: str = "Safety"
    headline: str = ""
    description: str = ""
    instruction: str = ""
    sender_name: str = ""
    expires: str = ""
    areas: tuple[CapArea, ...] = ()

    def __post_init__(self) -> None:
        for name, value, allowed in (("status", self.status, STATUS), ("msgType", self.msg_type, MSG_TYPES),
                                     ("scope", self.scope, SCOPES), ("category", self.category, CATEGORIES),
                                     ("urgency", self.urgency, URGENCY), ("severity", self.severity, SEVERITY),
                                     ("certainty", self.certainty, CERTAINTY)):
            if value not in allowed:
                raise InteropError(f"CAP {name} {value!r} is not one of {', '.join(allowed)}")
        for name in ("identifier", "sender", "event"):
            v = getattr(self, name)
            if not v or not v.strip():
                raise InteropError(f"CAP {name} must not be empty")
        if any(c in self.identifier + self.sender for c in " ,<&"):
            raise InteropError("CAP identifier and sender must not contain spaces, commas, '<' or '&' (CAP 1.2 3.2.1)")
        for name in ("sent", "expires"):
            v = getattr(self, name)
            if (v or name == "sent") and not _TIME_RE.match(v):
                raise InteropError(f"CAP {name} {v!r} must look like 2021-07-20T17:00:00+08:00 (CAP 1.2 3.3.2)")
        for area in self.areas:
            for ring in area.polygons:
                if len(ring) < 4 or ring[0] != ring[-1]:
                    raise InteropError(f"CAP area {area.desc!r}: a polygon needs at least 4 points, the first equal "
                                       f"to the last (CAP 1.2 3.2.4)")
                for lat, lon in ring:
                    _check_point(lat, lon, area.desc)
            for lat, lon, r in area.circles:
                _check_point(lat, lon, area.desc)
                if not 0 <= r <= 20_000:
                    raise InteropError(f"CAP area {area.desc!r}: circle radius {r} km must be 0..20000")


def _check_point(lat: float, lon: float, where: str) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InteropError(f"CAP area {where!r}: point ({lat}, {lon}) is outside -90..90 / -180..180 degrees")


# Severity × urgency → priority. Life-safety now (Extreme, or Severe and Immediate) is FLASH.
def priority_of(alert: CapAlert) -> Priority:
    """The emcomm priority an alert travels at.

    >>> priority_of(CapAlert("i", "s", "2021-07-20T17:00:00+08:00", "Rain", "Expected", "Moderate", "Likely")).name
    'PRIORITY'
    """
    if alert.severity == "Extreme" or (alert.severity == "Severe" and alert.urgency == "Immediate"):
        return Priority.FLASH
    if alert.severity == "Severe":
        return Priority.IMMEDIATE
    if alert.severity == "Moderate":
        return Priority.PRIORITY
    return Priority.ROUTINE


# ----------------------------------------------------------------------------- XML out
def _fmt(x: float) -> str:
    return f"{x:.5f}".rstrip("0").rstrip(".")


def to_xml(alert: CapAlert) -> bytes:
    """The alert as a CAP 1.2 document (UTF-8, XML declaration)."""
    root = ET.Element(_Q + "alert")

    def sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
        e = ET.SubElement(parent, _Q + tag)
        e.text = text
        return e

    for tag, value in (("identifier", alert.identifier), ("sender", alert.sender), ("sent", alert.sent),
                       ("status", alert.status), ("msgType", alert.msg_type), ("scope", alert.scope)):
        sub(root, tag, value)
    info = ET.SubElement(root, _Q + "info")
    sub(info, "category", alert.category)
    sub(info, "event", alert.event)
    for tag, value in (("urgency", alert.urgency), ("severity", alert.severity), ("certainty", alert.certainty)):
        sub(info, tag, value)
    for tag, value in (("expires", alert.expires), ("senderName", alert.sender_name), ("headline", alert.headline),
                       ("description", alert.description), ("instruction", alert.instruction)):
        if value:
            sub(info, tag, value)
    for area in alert.areas:
        a = ET.SubElement(info, _Q + "area")
        sub(a, "areaDesc", area.desc)
        for ring in area.polygons:
            sub(a, "polygon", " ".join(f"{_fmt(lat)},{_fmt(lon)}" for lat, lon in ring))
        for lat, lon, r in area.circles:
            sub(a, "circle", f"{_fmt(lat)},{_fmt(lon)} {_fmt(r)}")
    ET.register_namespace("", NS)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# ----------------------------------------------------------------------------- XML in
def _text(parent: ET.Element, tag: str, where: str, required: bool = False) -> str:
    e = parent.find(_Q + tag)
    if e is None or e.text is None:
        if required:
            raise InteropError(f"{where}: missing required <{tag}>")
        return ""
    return e.text.strip()


def _pairs(text: str, where: str) -> list[tuple[float, float]]:
    out = []
    for item in text.split():
        try:
            lat_s, lon_s = item.split(",")
            out.append((float(lat_s), float(lon_s)))
        except ValueError:
            raise InteropError(f"{where}: {item[:30]!r} is not a 'lat,lon' pair") from None
    return out


def from_xml(data: bytes, name: str = "CAP document") -> CapAlert:
    """Parse an untrusted CAP 1.2 document (the first ``info`` block is used).

    InteropError for hostile or invalid XML, the wrong namespace (CAP 1.1 included),
    missing elements or values outside CAP's enumerations.
    """
    root = parse_xml(data, name, expect_root=_Q + "alert")
    info = root.find(_Q + "info")
    if info is None:
        raise InteropError(f"{name}: the alert has no <info> block; emcomm needs its event, urgency, severity "
                           f"and certainty")
    areas = []
    for i, a in enumerate(info.findall(_Q + "area")):
        where = f"{name}: area {i + 1}"
        polys = tuple(tuple(_pairs(p.text or "", where)) for p in a.findall(_Q + "polygon"))
        circles = []
        for c in a.findall(_Q + "circle"):
            try:
                centre, radius = (c.text or "").split()
                (lat, lon), = _pairs(centre, where)
                circles.append((lat, lon, float(radius)))
            except ValueError:
                raise InteropError(f"{where}: circle {(c.text or '')[:40]!r} is not 'lat,lon radius_km'") from None
        areas.append(CapArea(_text(a, "areaDesc", where, required=True), polys, tuple(circles)))
    return CapAlert(
        identifier=_text(root, "identifier", name, True), sender=_text(root, "sender", name, True),
        sent=_text(root, "sent", name, True), status=_text(root, "status", name, True),
        msg_type=_text(root, "msgType", name, True), scope=_text(root, "scope", name, True),
        category=_text(info, "category", name, True), event=_text(info, "event", name, True),
        urgency=_text(info, "urgency", name, True), severity=_text(info, "severity", name, True),
        certainty=_text(info, "certainty", name, True), headline=_text(info, "headline", name),
        description=_text(info, "description", name), instruction=_text(info, "instruction", name),
        sender_name=_text(info, "senderName", name), expires=_text(info, "expires", name), areas=tuple(areas))


# ----------------------------------------------------------------------------- compact form
def _q(x: float) -> int:
    return round(x * _COORD_SCALE)


def encode_compact(alert: CapAlert) -> bytes:
    """A CAP alert as a small binary body (msgpack, enumerations as indices, coordinates as
    1e-5 degree integers, polygons delta-coded, then zlib when that is smaller).

    The first byte tells the form: ``0x01`` plain msgpack, ``0x81`` zlib-compressed.
    """
    areas = []
    for a in alert.areas:
        polys = []
        for ring in a.polygons:
            flat, plat, plon = [], 0, 0
            for lat, lon in ring:
                qa, qo = _q(lat), _q(lon)
                flat += [qa - plat, qo - plon]
                plat, plon = qa, qo
            polys.append(flat)
        areas.append([a.desc, polys, [[_q(la), _q(lo), round(r * 1000)] for la, lo, r in a.circles]])
    body = msgpack.packb([
        COMPACT_VERSION, alert.identifier, alert.sender, alert.sent, STATUS.index(alert.status),
        MSG_TYPES.index(alert.msg_type), SCOPES.index(alert.scope), CATEGORIES.index(alert.category), alert.event,
        URGENCY.index(alert.urgency), SEVERITY.index(alert.severity), CERTAINTY.index(alert.certainty),
        alert.headline, alert.description, alert.instruction, alert.sender_name, alert.expires, areas,
    ], use_bin_type=True)
    packed = zlib.compress(body, 9)
    return b"\x81" + packed if len(packed) < len(body) else b"\x01" + body


MAX_COMPACT_EXPANDED_BYTES = 256 * 1024


def decode_compact(data: bytes) -> CapAlert:
    """Inverse of ``encode_compact``; InteropError for anything malformed (untrusted input).

    >>> a = CapAlert("i", "s", "2021-07-20T17:00:00+08:00", "Fire", "Immediate", "Severe", "Observed")
    >>> decode_compact(encode_compact(a)) == a
    True
    """
    if not isinstance(data, (bytes, bytearray)) or not data or data[0] not in (0x01, 0x81):
        raise InteropError("compact CAP: unknown form byte; expected 0x01 or 0x81")
    body = data[1:]
    if data[0] == 0x81:
        d = zlib.decompressobj()
        try:
            body = d.decompress(body, MAX_COMPACT_EXPANDED_BYTES + 1)
        except zlib.error as exc:
            raise InteropError(f"compact CAP: bad compression ({exc})") from None
        if len(body) > MAX_COMPACT_EXPANDED_BYTES or d.unconsumed_tail:
            raise InteropError("compact CAP: expands beyond the size limit")
    try:
        f: Any = msgpack.unpackb(body, raw=False, max_bin_len=65536, max_str_len=65536, max_array_len=100_000,
                                 max_map_len=0)
        if not isinstance(f, list) or len(f) != 18 or f[0] != COMPACT_VERSION:
            raise ValueError("wrong shape or version")
        areas = []
        for desc, polys, circles in f[17]:
            rings = []
            for flat in polys:
                lat = lon = 0
                ring = []
                for i in range(0, len(flat), 2):
                    lat, lon = lat + flat[i], lon + flat[i + 1]
                    ring.append((lat / _COORD_SCALE, lon / _COORD_SCALE))
                rings.append(tuple(ring))
            areas.append(CapArea(desc, tuple(rings), tuple((la / _COORD_SCALE, lo / _COORD_SCALE, r / 1000)
                                                           for la, lo, r in circles)))
        return CapAlert(identifier=f[1], sender=f[2], sent=f[3], status=STATUS[f[4]], msg_type=MSG_TYPES[f[5]],
                        scope=SCOPES[f[6]], category=CATEGORIES[f[7]], event=f[8], urgency=URGENCY[f[9]],
                        severity=SEVERITY[f[10]], certainty=CERTAINTY[f[11]], headline=f[12], description=f[13],
                        instruction=f[14], sender_name=f[15], expires=f[16], areas=tuple(areas))
    except InteropError:
        raise
    except Exception as exc:  # msgpack and unpacking raise many unrelated types for hostile input
        raise InteropError(f"compact CAP: malformed body ({type(exc).__name__}: {exc})") from None
