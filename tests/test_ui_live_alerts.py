"""Live map: an ALERT delivered in the mesh shows on the live situation as a hazard overlay
of its area and as a FLASH/alert feed item, once per CAP identifier; an all-clear or a
cancel removes it; an unreadable alert is reported, not drawn."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest

from emcomm.errors import RemoteInputError
from emcomm.interop import cap
from emcomm.interop.sensors import Reading, SensorMonitor, SensorSpec
from emcomm.node.actions import Telemetry
from emcomm.node.core import NodeConfig, NodeCore
from emcomm.node.telemetry import DELIVERED
from emcomm.node.wire import ContentType
from emcomm.priority import Priority
from emcomm.ui import live
from emcomm.ui.live import LiveFold, alert_overlay, hazard_of_alert
from emcomm.ui.mapview import hazard_features
from emcomm.ui.situation import HazardOverlay, HazardShape, Situation

BASE = Situation.from_dict({
    "t_s": 0, "nodes": [{"id": "cc", "lat_deg": 34.75, "lon_deg": 113.62}],
    "hazards": [{"hazard": "flood", "name": "modelled extent",
                 "shapes": [{"shape": "circle", "coords": [[34.7, 113.6]], "radius_m": 9000}]}]})
GAUGE = SensorSpec("jialu-1", "water_level", 34.80, 113.62, warning=3.0, danger=4.5, radius_m=2000,
                   name="Jialu gauge")
WHEN = "2021-07-20T09:00:00+08:00"


def _delivered_at_cc(body: bytes, priority: Priority, t_s: float = 1.0) -> dict:
    """The ``delivered`` telemetry a real node core emits for an ALERT, as it crosses the PUB socket."""
    core = NodeCore("cc", NodeConfig(links={}))
    mid, acts = core.submit("cc", priority, ContentType.ALERT, body, now=t_s)
    acts += core.stored([mid], now=t_s)
    (ev,) = [a.event for a in acts if isinstance(a, Telemetry) and a.event.kind == DELIVERED]
    return msgpack.unpackb(msgpack.packb(ev.as_dict(), use_bin_type=True, default=str), raw=False)


def _sensor_alerts(values: list[float]) -> list[tuple[bytes, Priority]]:
    mon = SensorMonitor([GAUGE])
    out = []
    for i, v in enumerate(values):
        for m in mon.feed(Reading("jialu-1", 1626768000.0 + 600 * i, v)):
            if m.content_type == "alert":
                out.append((m.body, m.priority))
    return out


def test_a_delivered_sensor_alert_draws_its_circle_and_flashes_in_the_feed() -> None:
    ((body, prio),) = _sensor_alerts([2.0, 4.8])
    f = LiveFold(BASE)
    f.add(_delivered_at_cc(body, prio), recv_s=100.0)
    s = f.situation(now_s=101.0)
    assert s.hazards[0] == BASE.hazards[0], "the base picture's hazards stay"
    (ov,) = s.hazards[1:]
    assert ov.hazard == "flood" and "4.8 m" in ov.name
    (shape,) = ov.shapes
    assert (shape.shape, shape.coords, shape.radius_m) == ("circle", ((34.80, 113.62),), 2000.0)
    assert [(i.level, i.node) for i in s.feed] == [("flash", "cc")] and "Jialu gauge" in s.feed[0].text
    assert f.delivered[Priority.FLASH] == 1, "an alert still counts as a delivery"
    again = Situation.from_dict(s.to_dict())                 # the documented dict shape, checked
    assert again.hazards == s.hazards
    feats = hazard_features(s.hazards)["features"]
    assert feats[-1]["properties"]["radius_m"] == 2000.0 and feats[-1]["geometry"]["coordinates"] == [113.62, 34.8]


def test_a_higher_level_replaces_the_area_and_the_all_clear_removes_it() -> None:
    alerts = _sensor_alerts([3.2, 4.9, 1.0])                 # warning, danger, back to normal
    assert [p for _, p in alerts] == [Priority.IMMEDIATE, Priority.FLASH, Priority.ROUTINE]
    f = LiveFold(BASE)
    seen = []
    for i, (body, prio) in enumerate(alerts):
        f.add(_delivered_at_cc(body, prio, t_s=float(i)), recv_s=10.0 + i)
        seen.append([h.name for h in f.situation(now_s=20.0).hazards[1:]])
    assert len(seen[0]) == 1 and "warning" in seen[0][0]
    assert len(seen[1]) == 1 and "danger" in seen[1][0], "one overlay per sensor area, the newest"
    assert seen[2] == [], "the all-clear (urgency Past) removes it"
    assert [i.level for i in f.situation(now_s=20.0).feed] == ["alert", "flash", "info"]
    assert f.situation(now_s=20.0).feed[-1].text.startswith("all clear: ")


def test_the_same_alert_delivered_at_two_nodes_shows_once() -> None:
    ((body, prio),) = _sensor_alerts([5.0])
    f = LiveFold(BASE)
    ev = _delivered_at_cc(body, prio)
    f.add(ev, recv_s=1.0)
    f.add({**ev, "node": "t1", "msg_id": "ff" * 16}, recv_s=2.0)
    s = f.situation(now_s=3.0)
    assert len(s.hazards) == 2 and len(s.feed) == 1


def test_an_unreadable_alert_is_reported_counted_as_delivered_and_not_drawn() -> None:
    f = LiveFold(BASE)
    with pytest.raises(RemoteInputError, match="delivered alert"):
        f.add(_delivered_at_cc(b"\x01not msgpack", Priority.FLASH), recv_s=1.0)
    s = f.situation(now_s=2.0)
    assert s.hazards == BASE.hazards and f.delivered[Priority.FLASH] == 1
    assert s.feed[-1].level == "alert" and "unreadable" in s.feed[-1].text


def test_other_content_types_and_events_without_detail_draw_nothing() -> None:
    f = LiveFold(BASE)
    ev = _delivered_at_cc(b"\x01", Priority.FLASH)
    f.add({**ev, "detail": {**ev["detail"], "content_type": int(ContentType.TEXT)}}, recv_s=1.0)
    f.add({**ev, "msg_id": "ee" * 16, "detail": None}, recv_s=1.0)
    assert f.situation(now_s=2.0).hazards == BASE.hazards and f.situation(now_s=2.0).feed == ()


def _alert(event: str, **kw) -> cap.CapAlert:
    return cap.CapAlert(kw.pop("identifier", "x1"), kw.pop("sender", "cc@emcomm"), WHEN, event, kw.pop("urgency", "Immediate"),
                        kw.pop("severity", "Severe"), "Observed", **kw)


def test_an_imported_polygon_alert_draws_its_polygon_and_an_unmapped_one_only_feeds() -> None:
    ring = ((34.70, 113.60), (34.70, 113.70), (34.80, 113.70), (34.70, 113.60))
    poly = _alert("Levee breach", category="Met", headline="Levee breach at Changzhuang",
                  areas=(cap.CapArea("Changzhuang", polygons=(ring,)),))
    leak = _alert("Chemical leak", identifier="x2", category="CBRNE", areas=(cap.CapArea("plant", circles=((34.7, 113.6, 1.0),)),))
    f = LiveFold()
    for i, a in enumerate((poly, leak)):
        f.add(_delivered_at_cc(cap.encode_compact(a), cap.priority_of(a)), recv_s=float(i))
    s = f.situation(now_s=5.0)
    (ov,) = s.hazards
    assert ov.hazard == "flood" and ov.shapes[0].shape == "polygon" and ov.shapes[0].coords == ring
    assert [i.text for i in s.feed] == ["Levee breach at Changzhuang", "Chemical leak"]
    assert [i.level for i in s.feed] == ["flash", "flash"]      # Severe + Immediate travels at FLASH


@pytest.mark.parametrize("event,category,hazard", [
    ("Typhoon Lekima: heavy rain", "Met", "typhoon"), ("Aftershock M5.1", "Geo", "earthquake"),
    ("smoke sensor danger", "Fire", "fire"), ("Rainstorm red warning", "Met", "flood"),
    ("Forest blaze", "Env", "fire"), ("Power outage", "Fire", "fire"), ("Power outage", "Infra", None),
    ("Terrain survey", "Other", None),
])
def test_hazard_kind_follows_the_alert_words_then_the_fire_category(event: str, category: str,
                                                                     hazard: str | None) -> None:
    assert hazard_of_alert(_alert(event, category=category)) == hazard


def test_a_cancel_removes_the_area_of_the_same_sender() -> None:
    area = (cap.CapArea("Zone A", circles=((34.7, 113.6, 3.0),)),)
    f = LiveFold()
    f.add(_delivered_at_cc(cap.encode_compact(_alert("Flash flood", areas=area)), Priority.FLASH), recv_s=0.0)
    other = _alert("Flash flood", identifier="x3", sender="other@emcomm", msg_type="Cancel", areas=area)
    f.add(_delivered_at_cc(cap.encode_compact(other), Priority.IMMEDIATE), recv_s=1.0)
    assert len(f.situation(now_s=2.0).hazards) == 1, "another sender cannot cancel it"
    cancel = _alert("Flash flood", identifier="x4", msg_type="Cancel", areas=area)
    f.add(_delivered_at_cc(cap.encode_compact(cancel), Priority.IMMEDIATE), recv_s=2.0)
    s = f.situation(now_s=3.0)
    assert s.hazards == () and s.feed[-1].text == "cancelled: Flash flood"


def test_alert_overlays_are_bounded_oldest_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "MAX_ALERT_OVERLAYS", 3)
    f = LiveFold()
    for i in range(5):
        a = _alert("Flood", identifier=f"f{i}", areas=(cap.CapArea(f"zone {i}", circles=((30.0, 100.0 + i, 1.0),)),))
        f.add(_delivered_at_cc(cap.encode_compact(a), Priority.FLASH), recv_s=float(i))
    assert [h.shapes[0].label for h in f.situation(now_s=9.0).hazards] == ["zone 2", "zone 3", "zone 4"]


def test_alert_overlay_marks_a_zero_radius_circle_as_a_point() -> None:
    ov = alert_overlay(_alert("Flood", areas=(cap.CapArea("gauge", circles=((30.0, 100.0, 0.0),)),)))
    assert ov == HazardOverlay("flood", "Flood (Severe)", (HazardShape("point", ((30.0, 100.0),), 0.0, "gauge"),))
    assert alert_overlay(_alert("Flood")) is None, "no area, nothing to draw"
    assert dataclasses.is_dataclass(ov)


def test_an_alert_sent_to_a_running_node_reaches_the_live_map_over_its_telemetry(tmp_path) -> None:
    """The whole way: local API → node process → telemetry PUB → the map's SUB listener → fold."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from emcomm.node.api import ApiClient
    from emcomm.ui.live import TelemetryListener

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    api, tel = f"tcp://127.0.0.1:{port()}", f"tcp://127.0.0.1:{port()}"
    node = subprocess.Popen([sys.executable, "-m", "emcomm", "node", "--id", "cc", "--listen",
                             f"tcp://127.0.0.1:{port()}", "--api", api, "--telemetry", tel, "--data-dir",
                             str(tmp_path / "cc"), "--status-every", "0", "--quiet"],
                            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    listener = TelemetryListener([tel])
    f = LiveFold(BASE)
    ((body, prio),) = _sensor_alerts([4.9])
    try:
        assert node.stdout is not None and "running" in node.stdout.readline()
        client = ApiClient(api, timeout_s=10.0)
        try:
            end = time.monotonic() + 15.0
            while len(f.situation(now_s=time.monotonic()).hazards) < 2:   # PUB/SUB joins late: send again
                assert time.monotonic() < end, "the delivered alert never reached the live map"
                client.call("send", to="cc", priority=prio.name.lower(), content_type="alert", body=body)
                time.sleep(0.3)
                listener.poll(f)
        finally:
            client.close()
        s = f.situation(now_s=time.monotonic())
        assert s.hazards[1].shapes[0].radius_m == 2000.0
        assert [i.level for i in s.feed if "Jialu gauge" in i.text] == ["flash"], "once, however often it came"
        assert f.rejected == 0
    finally:
        listener.close()
        node.terminate()
        node.wait(10)
