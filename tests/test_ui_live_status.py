"""Live map from real node telemetry: status snapshots fold into power, queues and link
states (not counted as malformed); latency comes from the message itself; data carried and
cost add up per link kind; links that carried FLASH recently are highlighted; alerts show
in whatever form the mesh carried them."""

from __future__ import annotations

import random
import time

import msgpack
import pytest
import zmq

from emcomm.errors import RemoteInputError
from emcomm.interop import cap
from emcomm.links.profiles import make_profile
from emcomm.node.telemetry import DELIVERED, SENT, SUBMITTED, TelemetryEvent
from emcomm.node.wire import ContentType
from emcomm.priority import Priority
from emcomm.ui.live import LiveFold, TelemetryListener, read_alert_body
from emcomm.ui.mapview import node_state, route_features
from emcomm.ui.situation import Situation
from test_core_harness import Mesh, profile

BASE = Situation.from_dict({
    "t_s": 0,
    "nodes": [{"id": "cc", "lat_deg": 34.7, "lon_deg": 113.6, "role": "command"},
              {"id": "bs1", "lat_deg": 34.75, "lon_deg": 113.65, "role": "base"},
              {"id": "t1", "lat_deg": 34.8, "lon_deg": 113.7, "role": "team"}],
    "links": [{"id": "t1-bs1/cell", "kind": "cellular", "a": "t1", "b": "bs1"},
              {"id": "bs1-cc/fibre", "kind": "fibre", "a": "bs1", "b": "cc"},
              {"id": "t1-cc/tt", "kind": "tiantong", "a": "t1", "b": "cc"}]})


def _mesh() -> Mesh:
    return Mesh([("t1-bs1/cell", "t1", "bs1", profile("cellular", loss=0.0)),
                 ("bs1-cc/fibre", "bs1", "cc", profile("fibre", loss=0.0)),
                 ("t1-cc/tt", "t1", "cc", profile("tiantong", loss=0.0))])


def _wire(d: dict) -> dict:
    """As it crosses the PUB socket (msgpack, like the node runtime's _publish)."""
    return msgpack.unpackb(msgpack.packb(d, use_bin_type=True, default=str), raw=False)


def _events(mesh: Mesh) -> list[dict]:
    return [_wire(e.as_dict()) for n in mesh.nodes.values() for e in n.events]


def test_status_snapshots_are_folded_not_counted_as_malformed():
    mesh = _mesh()
    mesh.run(30.0)
    for lid in ("t1-bs1/cell", "t1-cc/tt"):
        mesh.set_link(lid, False)
    for i in range(3):
        mesh.submit("t1", "cc", Priority.FLASH if i == 0 else Priority.ROUTINE, b"report %d" % i)
    mesh.run(31.0)
    f = LiveFold(BASE)
    for nid in ("t1", "cc", "bs1"):
        f.add(_wire(mesh.core(nid).snapshot(mesh.t)), recv_s=100.0, topic="status")
    assert f.rejected == 0
    s = f.situation(now_s=101.0)
    t1 = s.node("t1")
    assert t1.queue_depths[0] == 1 and t1.queue_depths[3] == 2, "held messages of each priority show as queued"
    assert t1.last_heard_s == 0.0 and node_state(t1, now_s=1.0, stale_after_s=30) == "cutoff"
    assert not t1.connected and s.node("bs1").connected, "t1's links are both down: cut off from cc"
    assert {l.id: l.state for l in s.links} == {"t1-bs1/cell": "down", "bs1-cc/fibre": "up", "t1-cc/tt": "down"}
    # a status frame without its topic is still recognised by its shape
    f.add(_wire(mesh.core("bs1").snapshot(mesh.t)), recv_s=102.0)
    assert f.rejected == 0 and f.statuses == 4


def test_a_site_off_air_shows_off_air_and_a_silent_node_stale():
    f = LiveFold(BASE)
    f.add({"node": "bs1", "t_s": 5.0, "links": {}, "held": [0, 0, 0, 0], "power": "battery",
           "battery_left_h": 2.5}, recv_s=10.0, topic="status")
    s = f.situation(now_s=11.0)
    assert node_state(s.node("bs1"), 1.0, 30.0) == "battery" and s.node("bs1").battery_left_h == 2.5
    assert node_state(s.node("t1"), 1.0, 30.0) == "stale", "never heard: stale"
    f.add(TelemetryEvent("power", 6.0, "bs1", reason="battery exhausted",
                         detail={"power": "off", "up": False}).as_dict(), recv_s=12.0)
    s = f.situation(now_s=13.0)
    bs1 = s.node("bs1")
    assert node_state(bs1, 3.0, 30.0) == "offair" and not bs1.up and bs1.battery_left_h is None
    assert node_state(bs1, 300.0, 30.0) == "offair", "off air, even when it is also silent"
    assert s.feed[-1].level == "alert" and "OFF AIR" in s.feed[-1].text and "battery exhausted" in s.feed[-1].text
    # t1 is cut off: its only path to cc went through bs1 ... and its own tiantong link is up
    assert s.node("t1").connected


def test_latency_comes_from_the_delivered_event_not_the_polling_interval():
    f = LiveFold(BASE)
    mid = b"\x07" * 16
    f.add(TelemetryEvent(SUBMITTED, 0.0, "t1", msg_id=mid, priority=0).as_dict(), recv_s=100.0)
    f.add(TelemetryEvent(DELIVERED, 0.04, "cc", msg_id=mid, priority=0, detail={"latency_s": 0.04}).as_dict(),
          recv_s=102.0)                         # both seen in one 2 s poll
    assert f.situation(now_s=103.0).stats[0].latency_p50_s == pytest.approx(0.04)


def test_latency_of_a_real_delivery_is_the_cores_own_figure():
    mesh = _mesh()
    mesh.run(30.0)
    mesh.submit("t1", "cc", Priority.FLASH, b"dam breach")
    mesh.run(40.0)
    f = LiveFold(BASE)
    for ev in _events(mesh):
        f.add(ev, recv_s=200.0)
    (lat,) = f.latencies[0]
    assert 0.0 < lat < 2.0 and lat != 0.0


def test_data_carried_and_cost_add_up_per_link_kind_at_the_profile_price():
    mesh = _mesh()
    mesh.run(30.0)
    mesh.set_link("t1-bs1/cell", False)        # FLASH goes over Tiantong
    mesh.submit("t1", "cc", Priority.FLASH, random.Random(1).randbytes(300))   # incompressible
    mesh.run(60.0)
    sent = [e for e in _events(mesh) if e["kind"] == SENT]
    assert sent and all(e["detail"]["size_bytes"] > 0 for e in sent), "the core says how much went on the link"
    by_kind: dict[str, int] = {}
    kinds = {l.id: l.kind for l in BASE.links}
    for e in sent:
        by_kind[kinds[e["link_id"]]] = by_kind.get(kinds[e["link_id"]], 0) + e["detail"]["size_bytes"]
    f = LiveFold(BASE)
    for ev in _events(mesh):
        f.add(ev, recv_s=100.0)
    usage = {u.kind: u for u in f.situation(now_s=101.0).usage}
    assert {k: u.bytes for k, u in usage.items()} == by_kind and by_kind["tiantong"] >= 300
    price = make_profile("tiantong").cost_per_mb_cny
    assert usage["tiantong"].cost_cny == pytest.approx(by_kind["tiantong"] / 1e6 * price) and price > 0


def test_links_that_carried_flash_recently_are_highlighted_and_the_highlight_fades():
    f = LiveFold(BASE, carry_window_s=30.0)
    f.add(TelemetryEvent(SENT, 1.0, "t1", msg_id=b"\x01" * 16, priority=0, link_id="t1-cc/tt",
                         detail={"size_bytes": 90}).as_dict(), recv_s=100.0)
    f.add(TelemetryEvent("forwarded", 1.0, "t1", msg_id=b"\x02" * 16, priority=1,
                         link_id="t1-bs1/cell").as_dict(), recv_s=100.0)
    s = f.situation(now_s=110.0)
    assert {l.id: l.carrying for l in s.links} == {"t1-bs1/cell": (1,), "bs1-cc/fibre": (), "t1-cc/tt": (0,)}
    assert len(route_features(s)["features"]) == 2
    assert all(not l.carrying for l in f.situation(now_s=140.0).links)


def test_a_link_whose_rate_fell_is_degraded_with_its_capacity():
    def status(rate):
        return {"node": "t1", "links": {"t1-cc/tt": {"kind": "tiantong", "up": True, "rate_bps": rate}}}
    f = LiveFold(BASE)
    f.add(status(9600.0), recv_s=1.0, topic="status")
    f.add(status(2400.0), recv_s=2.0, topic="status")
    tt = next(l for l in f.situation(now_s=3.0).links if l.id == "t1-cc/tt")
    assert (tt.state, tt.capacity_pct) == ("degraded", 25.0)


def _delivered(body: bytes, p: Priority = Priority.FLASH) -> dict:
    return _wire(TelemetryEvent(DELIVERED, 1.0, "cc", msg_id=body[:8].ljust(16, b"."), priority=int(p),
                                detail={"src": "t1", "content_type": int(ContentType.ALERT), "body": body,
                                        "latency_s": 0.5}).as_dict())


def test_a_plain_text_alert_shows_its_text_in_the_feed():
    f = LiveFold(BASE)
    f.add(_delivered(b"FLASH check-in from t1: lost t1-bs1/cell, team safe......"), recv_s=5.0)
    (item,) = f.situation(now_s=6.0).feed
    assert (item.level, item.node, item.text) == ("flash", "t1", "FLASH check-in from t1: lost t1-bs1/cell, team safe")
    assert f.rejected == 0


def test_a_cap_xml_alert_draws_its_area_like_the_compact_form():
    a = cap.CapAlert("x-1", "gauge@emcomm", "2021-07-20T08:00:00+08:00", "Flood", "Immediate", "Extreme", "Observed",
                     headline="River over the levee", areas=(cap.CapArea("Jialu", circles=((34.8, 113.6, 2.0),)),))
    for body in (cap.to_xml(a), cap.encode_compact(a)):
        f = LiveFold(BASE)
        f.add(_delivered(body), recv_s=5.0)
        s = f.situation(now_s=6.0)
        assert s.hazards[-1].shapes[0].radius_m == 2000.0 and s.feed[-1].text == "River over the levee"


def test_an_alert_body_that_is_no_form_the_mesh_carries_is_reported():
    f = LiveFold(BASE)
    with pytest.raises(RemoteInputError):
        f.add(_delivered(b"\xff\xfe\x00binary"), recv_s=5.0)
    assert "unreadable" in f.feed[-1].text and f.delivered[0] == 1
    for bad in (b"", b"\x02xx", b"<alert>not cap</alert>"):
        with pytest.raises(Exception):
            read_alert_body(bad)


def test_listener_folds_status_and_event_topics_from_a_pub_socket():
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    listener = TelemetryListener([f"tcp://127.0.0.1:{port}"])
    fold = LiveFold(BASE)
    try:
        deadline = time.monotonic() + 10
        while fold.statuses == 0 and time.monotonic() < deadline:  # PUB drops until the SUB has joined
            pub.send_multipart([b"status", msgpack.packb({"node": "bs1", "t_s": 1.0, "links": {},
                                                          "held": [0, 1, 0, 0], "queues": {}})])
            time.sleep(0.05)
            listener.poll(fold)
        pub.send_multipart([b"event", msgpack.packb(TelemetryEvent(SUBMITTED, 1.0, "t1", msg_id=b"\x01" * 16,
                                                                   priority=2).as_dict())])
        time.sleep(0.2)
        listener.poll(fold)
        assert fold.rejected == 0 and fold.statuses >= 1 and fold.sent[2] == 1
        assert fold.situation(time.monotonic()).node("bs1").queue_depths == (0, 1, 0, 0)
    finally:
        listener.close()
        pub.close(0)


def test_times_on_the_page_never_run_before_the_first_frame():
    f = LiveFold(BASE)
    f.add({"node": "t1", "links": {"t1-cc/tt": {"kind": "tiantong", "up": False},
                                   "t1-bs1/cell": {"kind": "cellular", "up": False}}}, recv_s=50.0, topic="status")
    s = f.situation(now_s=49.9)                # a "now" read just before the poll that got the frame
    assert s.t_s == 0.0 and s.node("t1").cut_off_since_s == 0.0


def test_a_power_announcement_is_not_a_sign_of_life():
    """The demo (not the node) announces site power: a silent node stays stale while on battery."""
    f = LiveFold(BASE)
    f.add({"kind": "power", "node": "t1", "t_s": 0.0, "detail": {"power": "battery", "up": True,
                                                                  "battery_left_h": None}}, recv_s=1.0)
    t1 = f.situation(now_s=100.0).node("t1")
    assert t1.last_heard_s is None and t1.power == "battery" and node_state(t1, 99.0, 30.0) == "stale"


def test_a_delivery_submitted_before_the_map_listened_still_counts_as_sent():
    f = LiveFold(BASE)
    f.add(TelemetryEvent(DELIVERED, 9.0, "cc", msg_id=b"\x09" * 16, priority=0, detail={"latency_s": 3.0}).as_dict(),
          recv_s=10.0)
    st = f.situation(now_s=11.0).stats[0]
    assert (st.sent, st.delivered, st.latency_p50_s) == (1, 1, 3.0)
