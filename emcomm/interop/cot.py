"""Cursor-on-Target 2.0 events: nodes, track points and alerts out; position reports in.

Owns the CoT event XML emcomm writes for TAK clients and the reading of CoT position
reports from them (hardened, through ``xmlsafe``). It must not open sockets (streaming
to a TAK server is the caller's) or read a clock (times are given).

Source: MITRE CoT Event Schema 2.0 (``event`` with ``version``, ``uid``, ``type``,
``time``, ``start``, ``stale``, ``how``; ``point`` with ``lat``, ``lon``, ``hae``, ``ce``,
``le``, where 9999999 means unknown). Types follow the CoT atom/bit hierarchy:
``a-f-G-U-C`` a friendly ground unit (MIL-STD-2525 based), ``b-a-o-tbl`` an emergency
alert and ``b-a`` a generic alarm; ``how`` ``m-g`` is machine/GPS, ``h-e`` human estimated.
``<contact callsign=...>`` in ``detail`` is the TAK convention for a display name.

Example
-------
>>> x = event_xml("team-1", "a-f-G-U-C", "2021-07-20T09:00:00+08:00", 34.75, 113.65, callsign="Team 1")
>>> parse_position(x)
Position(uid='team-1', lat_deg=34.75, lon_deg=113.65, time='2021-07-20T09:00:00+08:00', callsign='Team 1', type='a-f-G-U-C')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import xml.etree.ElementTree as ET

from emcomm.errors import InteropError
from emcomm.interop.xmlsafe import parse_xml

UNKNOWN = "9999999"                 # CoT: unknown hae / ce / le
TYPE_NODE = "a-f-G-U-C"
TYPE_COMMAND = "a-f-G-U-C-I"        # friendly ground unit, combat support / installation (TAK command posts)
TYPE_FLASH = "b-a-o-tbl"
TYPE_ALERT = "b-a"
# CoT positions can be any length; refuse anything bigger than a generous single event.
MAX_EVENT_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Position:
    uid: str
    lat_deg: float
    lon_deg: float
    time: str
    callsign: str = ""
    type: str = ""


def _stale(time: str, stale_s: float) -> str:
    t = dt.datetime.fromisoformat(time.replace("Z", "+00:00"))
    return (t + dt.timedelta(seconds=stale_s)).isoformat(timespec="seconds")


def event_xml(uid: str, type_: str, time: str, lat_deg: float, lon_deg: float, *, callsign: str = "",
              remarks: str = "", how: str = "m-g", stale_s: float = 600.0) -> bytes:
    """One CoT 2.0 event (UTF-8 bytes, no declaration), stale ``stale_s`` after ``time``."""
    if not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180):
        raise InteropError(f"CoT event {uid!r}: point ({lat_deg}, {lon_deg}) outside -90..90 / -180..180")
    ev = ET.Element("event", {"version": "2.0", "uid": uid, "type": type_, "time": time, "start": time,
                              "stale": _stale(time, stale_s), "how": how})
    ET.SubElement(ev, "point", {"lat": f"{lat_deg:.6f}", "lon": f"{lon_deg:.6f}", "hae": UNKNOWN,
                                "ce": UNKNOWN, "le": UNKNOWN})
    detail = ET.SubElement(ev, "detail")
    if callsign:
        ET.SubElement(detail, "contact", {"callsign": callsign})
    if remarks:
        ET.SubElement(detail, "remarks").text = remarks
    return ET.tostring(ev, encoding="utf-8")


def parse_position(data: bytes, name: str = "CoT event") -> Position:
    """A position report from an untrusted CoT event (hardened parse; InteropError when bad)."""
    root = parse_xml(data, name, expect_root="event", max_bytes=MAX_EVENT_BYTES)
    uid, time = root.get("uid"), root.get("time")
    if not uid or not time:
        raise InteropError(f"{name}: <event> needs 'uid' and 'time' attributes")
    if root.get("version", "") not in ("2.0", "2"):
        raise InteropError(f"{name}: CoT version {root.get('version')!r} is not supported; expected 2.0")
    pt = root.find("point")
    if pt is None:
        raise InteropError(f"{name}: <event> has no <point>")
    try:
        lat, lon = float(pt.get("lat", "")), float(pt.get("lon", ""))
    except ValueError:
        raise InteropError(f"{name}: <point> lat/lon must be numbers, got {pt.get('lat')!r}, {pt.get('lon')!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InteropError(f"{name}: point ({lat}, {lon}) outside -90..90 / -180..180 degrees")
    contact = root.find("detail/contact")
    return Position(uid, lat, lon, time, contact.get("callsign", "") if contact is not None else "",
                    root.get("type", ""))
