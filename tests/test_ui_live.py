"""Live mode: telemetry events fold into the picture; the listener only receives, on loopback."""

from __future__ import annotations

import time

import msgpack
import pytest
import zmq

from emcomm.errors import RemoteInputError, UsageError
from emcomm.node.telemetry import DELIVERED, LINK_DOWN, SUBMITTED, TelemetryEvent
from emcomm.ui.live import LiveFold, TelemetryListener, check_endpoint
from emcomm.ui.situation import Situation

BASE = Situation.from_dict({"t_s": 0, "nodes": [{"id": "cc", "lat_deg": 34.7, "lon_deg": 113.6},
                                                {"id": "t1", "lat_deg": 34.8, "lon_deg": 113.7}],
                            "links": [{"id": "t1-cc/beidou", "kind": "beidou", "a": "t1", "b": "cc"}]})


def _ev(kind, node, mid=b"", p=-1, link="", reason=""):
    return TelemetryEvent(kind, 0.0, node, msg_id=mid or None, priority=p, link_id=link, reason=reason).as_dict()


def test_fold_counts_sent_and_delivered_once_per_message_with_receive_time_latency():
    f = LiveFold(BASE)
    f.add(_ev(SUBMITTED, "t1", b"\x01" * 16, 0), recv_s=100.0)
    f.add(_ev(SUBMITTED, "t1", b"\x02" * 16, 0), recv_s=101.0)
    f.add(_ev(DELIVERED, "cc", b"\x01" * 16, 0), recv_s=104.0)
    f.add(_ev(DELIVERED, "cc", b"\x01" * 16, 0), recv_s=105.0)  # duplicate delivery report
    st = f.situation(now_s=106.0).stats[0]
    assert (st.sent, st.delivered, st.latency_p50_s) == (2, 1, 4.0)
    assert [i.level for i in f.situation(now_s=106.0).feed] == ["flash", "flash"]


def test_link_down_event_changes_the_link_on_the_map_and_raises_an_alert():
    f = LiveFold(BASE)
    f.add(_ev(LINK_DOWN, "t1", link="t1-cc/beidou", reason="card fault"), recv_s=5.0)
    s = f.situation(now_s=6.0)
    assert s.links[0].state == "down" and s.links[0].reason == "card fault"
    assert s.feed[-1].level == "alert" and "card fault" in s.feed[-1].text


def test_last_heard_drives_staleness_and_unknown_nodes_are_listed():
    f = LiveFold(BASE)
    f.add(_ev(SUBMITTED, "t1", b"\x03" * 16, 3), recv_s=10.0)
    f.add(_ev(SUBMITTED, "ghost", b"\x04" * 16, 3), recv_s=20.0)
    s = f.situation(now_s=50.0)
    assert s.node("t1").last_heard_s == 0.0 and s.node("cc").last_heard_s is None and s.t_s == 40.0
    assert f.unknown_nodes() == ["ghost"]


def test_live_picture_takes_positions_from_the_base_but_no_recorded_traffic():
    base = Situation.from_dict({**BASE.to_dict(), "usage": [{"kind": "beidou", "bytes": 9}],
                                "links": [dict(BASE.to_dict()["links"][0], carrying=[0])]})
    s = LiveFold(base).situation(now_s=1.0)
    assert s.usage == () and s.links[0].carrying == () and s.node("t1").lat_deg == 34.8


def test_malformed_event_is_counted_and_refused():
    f = LiveFold(BASE)
    with pytest.raises(RemoteInputError):
        f.add({"kind": 3}, recv_s=0.0)
    assert f.rejected == 1


@pytest.mark.parametrize("ep", ["127.0.0.1:5601", "tcp://127.0.0.1", "tcp://:99", "http://x:1", "tcp://h:70000"])
def test_bad_endpoints_are_refused_with_the_expected_form(ep):
    with pytest.raises(UsageError, match="tcp://HOST:PORT"):
        check_endpoint(ep)


def test_listener_receives_from_a_pub_socket_and_reports_a_silent_endpoint():
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    dead = ctx.socket(zmq.PUB)
    dead_port = dead.bind_to_random_port("tcp://127.0.0.1")
    dead.close(0)  # nothing listens there any more
    listener = TelemetryListener([f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{dead_port}"])
    fold = LiveFold(BASE)
    try:
        got = 0
        deadline = time.monotonic() + 10
        while got == 0 and time.monotonic() < deadline:  # PUB drops until the SUB has joined
            pub.send_multipart([b"telemetry", msgpack.packb(_ev(SUBMITTED, "t1", b"\x05" * 16, 1))])
            time.sleep(0.05)
            got += listener.poll(fold)
        pub.send(b"\xc1 not msgpack")
        time.sleep(0.2)
        listener.poll(fold)
        assert fold.situation(time.monotonic()).stats[1].sent >= 1
        assert fold.rejected == 1
        time.sleep(0.3)
        listener.poll(fold)
        # the live endpoint was heard within the last 0.3 s; the dead one never, since start
        silent = listener.silent(listener.last_msg_s[f"tcp://127.0.0.1:{port}"] + 0.25, after_s=0.3)
        assert [ep for ep, _ in silent] == [f"tcp://127.0.0.1:{dead_port}"]
        for _, s in listener.sockets:
            assert s.type == zmq.SUB  # receive only: the UI cannot send into the mesh
    finally:
        listener.close()
        pub.close(0)


def test_a_refused_frame_from_the_listener_counts_once():
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    listener = TelemetryListener([f"tcp://127.0.0.1:{port}"])
    fold = LiveFold(BASE)
    try:
        deadline = time.monotonic() + 10
        while fold.situation(time.monotonic()).stats[1].sent == 0:   # PUB drops until the SUB has joined
            assert time.monotonic() < deadline, "the listener never heard the PUB socket"
            pub.send_multipart([b"event", msgpack.packb(_ev(SUBMITTED, "t1", b"\x06" * 16, 1))])
            time.sleep(0.05)
            listener.poll(fold)
        pub.send_multipart([b"event", msgpack.packb({"kind": 3})])       # decodes, but no 'node'
        deadline = time.monotonic() + 10
        while listener.poll(fold) == 0:
            assert time.monotonic() < deadline, "the malformed frame never arrived"
            time.sleep(0.05)
        assert fold.rejected == 1
    finally:
        listener.close()
        pub.close(0)


def test_a_dropped_duplicate_is_no_alert_but_any_other_drop_is():
    from emcomm.node.telemetry import DROPPED

    f = LiveFold(BASE)
    f.add(_ev(DROPPED, "cc", b"\x05" * 16, 0, reason="duplicate"), recv_s=5.0)    # a copy already held
    assert f.situation(now_s=6.0).feed == ()
    f.add(_ev(DROPPED, "t1", b"\x06" * 16, 0, reason="expired"), recv_s=7.0)
    feed = f.situation(now_s=8.0).feed
    assert [i.level for i in feed] == ["alert"] and "expired" in feed[-1].text
