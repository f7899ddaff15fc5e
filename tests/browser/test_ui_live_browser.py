"""Live mode in a real browser: telemetry published on loopback changes the map in place (the
user's zoom is kept, unchanged layers are not drawn again), nodes not heard recently are shown
as stale, and an endpoint that does not answer gets a message while the rest keeps working."""

from __future__ import annotations

import msgpack
import pytest
import zmq

from emcomm.interop import cap
from emcomm.node.telemetry import DELIVERED, TelemetryEvent
from emcomm.ui.mapview import KIND_LABELS
from emcomm.ui.replay import read_recording, situation_at

from .conftest import UiServer, free_port
from .test_ui_browser import WAIT_MS, _count, _map_frame, _wait_count


@pytest.fixture
def publisher():
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    yield pub, f"tcp://127.0.0.1:{port}"
    pub.close(0)


def _wait_for(page, frame, expr: str, expected, arg=None):
    got = None
    for _ in range(WAIT_MS // 250):
        got = frame.evaluate(expr, arg)
        if got == expected:
            return got
        page.wait_for_timeout(250)
    return got


def test_live_update_redraws_only_the_changed_layer_keeps_zoom_and_shows_stale_nodes(guarded, sample_recording, publisher):
    pub, endpoint = publisher
    dead = f"tcp://127.0.0.1:{free_port()}"  # nothing listens here
    rec = read_recording(sample_recording)
    base = situation_at(rec, rec.t_range[1])
    target = next(l for l in base.links if l.state == "up" and l.kind == "beidou")
    sender = base.node(target.a)
    srv = UiServer("--live", endpoint, dead, "--base", str(sample_recording), "--refresh", "1", "--stale-after", "3")
    try:
        page = guarded.page
        page.goto(srv.url)
        frame = _map_frame(page)
        assert _wait_count(page, frame, "emc-link", len(base.links)) == len(base.links)
        down0 = _count(frame, "emc-link-down")
        assert down0 == sum(l.state == "down" for l in base.links)
        # nothing heard yet: every node that is on air is drawn as stale
        on_air = sum(n.up for n in base.nodes)
        assert _wait_count(page, frame, "emc-node-stale", on_air) == on_air
        # the dead endpoint is named on the page
        page.locator('[data-testid="stAlert"]').filter(has_text=f"No telemetry from {dead}").first.wait_for(timeout=WAIT_MS)

        zoom0 = frame.evaluate("window.emcMap.getZoom()")
        frame.locator(".leaflet-control-zoom-in").click()
        assert _wait_for(page, frame, "window.emcMap.getZoom()", zoom0 + 1) == zoom0 + 1
        drawn0 = frame.evaluate("Object.assign({}, window.emcReceived)")
        assert drawn0["Hazards"] == 1

        ev = {"kind": "link_down", "t_s": 1.0, "node": sender.id, "link_id": target.id, "reason": "test cut",
              "msg_id": "", "priority": -1, "detail": {}}
        for _ in range(WAIT_MS // 250):  # PUB/SUB joins late: publish until the map shows it
            pub.send(msgpack.packb(ev))
            if _count(frame, "emc-link-down") == down0 + 1 and _count(frame, "emc-node-stale") == on_air - 1:
                break
            page.wait_for_timeout(250)
        assert _count(frame, "emc-link-down") == down0 + 1
        assert _count(frame, "emc-node-stale") == on_air - 1  # the sender was heard just now
        guarded.shot("ui_live_update")
        assert frame.evaluate("window.emcMap.getZoom()") == zoom0 + 1
        drawn = frame.evaluate("Object.assign({}, window.emcReceived)")
        changed = "Links: " + KIND_LABELS[target.kind]
        assert drawn[changed] > drawn0[changed]
        # unchanged layers: never sent or drawn again
        assert drawn["Hazards"] == 1 and drawn["Links: " + KIND_LABELS["cellular"]] == 1
        assert _map_frame(page) == frame
        # silence: after --stale-after seconds the sender is stale again
        assert _wait_count(page, frame, "emc-node-stale", on_air) == on_air
        assert frame.evaluate("window.emcMap.getZoom()") == zoom0 + 1
        # a FLASH alert delivered at a node: its area joins the hazard overlay, its headline the feed
        hazards0, flood0 = _count(frame, "emc-hazard"), _count(frame, "emc-hazard-flood")
        alert = cap.CapAlert("live-alert-1", "gauge@emcomm", "2021-07-20T09:00:00+08:00", "flood sensor danger",
                             "Immediate", "Extreme", "Observed", headline="Test gauge above its danger level",
                             areas=(cap.CapArea("Test gauge", circles=((sender.lat_deg, sender.lon_deg, 2.0),)),))
        pub.send(msgpack.packb(TelemetryEvent(DELIVERED, 2.0, sender.id, msg_id=b"\x07" * 16, priority=0, detail={
            "src": sender.id, "content_type": 3, "body": cap.encode_compact(alert)}).as_dict(), use_bin_type=True))
        assert _wait_count(page, frame, "emc-hazard-flood", flood0 + 1) == flood0 + 1
        assert _count(frame, "emc-hazard") == hazards0 + 1
        page.get_by_text("Test gauge above its danger level").first.wait_for(timeout=WAIT_MS)
        guarded.shot("ui_live_alert")
        assert not guarded.errors, guarded.errors
    finally:
        srv.stop()
