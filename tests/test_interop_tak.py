"""TAK interop: CoT positions from a TAK client enter the mesh (rate-limited per uid, bad
XML refused), and a node's positions and alerts stream to a TAK server as CoT events that
validate against the CoT 2.0 schema (all sockets on 127.0.0.1, every wait bounded)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from emcomm.errors import InteropError
from emcomm.interop import cap, cot
from emcomm.interop.tak import (CotListener, TakBridge, TakStream, cot_of_message, parse_position_body,
                                position_body)
from emcomm.interop.xmlsafe import Schema
from emcomm.node.api import ApiClient

ROOT = Path(__file__).resolve().parent.parent
COT_XSD = Schema(ROOT / "tests" / "data" / "cot" / "CoT-event-2.0.xsd")
WHEN = "2021-07-20T09:00:00+08:00"


def test_a_position_body_is_small_and_reads_back() -> None:
    body = position_body(cot.Position("ANDROID-5f3a,x", 34.75, 113.65, WHEN, "Team 1"))
    assert len(body) <= 70 and parse_position_body(body) == (34.75, 113.65, "ANDROID-5f3a x", "Team 1")


@pytest.mark.parametrize("bad", [b"", b"north", b"91,10", b"1,2,3,4,5", b"\xff\xfe", b"nan,1"])
def test_bad_position_bodies_are_refused(bad: bytes) -> None:
    with pytest.raises(InteropError):
        parse_position_body(bad)


def test_inbox_positions_and_alerts_become_valid_cot_events() -> None:
    pos = cot_of_message({"content_type": 1, "src": "t1", "created_s": 1626742800.0,
                          "payload": b"34.75,113.65,,"})
    assert pos is not None
    COT_XSD.check(pos, "position")
    assert cot.parse_position(pos).uid == "emcomm-t1"
    alert = cap.CapAlert("a1", "s", WHEN, "Flood", "Immediate", "Extreme", "Observed", headline="levee breach",
                         areas=(cap.CapArea("x", circles=((34.7, 113.6, 1.0),)),))
    ev = cot_of_message({"content_type": 3, "src": "cc", "created_s": 1626742800.0,
                         "payload": cap.encode_compact(alert)})
    assert ev is not None and b'type="b-a-o-tbl"' in ev and b"levee breach" in ev
    COT_XSD.check(ev, "alert")
    assert cot_of_message({"content_type": 0, "payload": b"hello"}) is None


def _until(step: Callable[[], object], done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < end, "awaited TAK traffic did not happen in time"
        step()
        time.sleep(0.02)


def test_tak_client_positions_enter_the_mesh_and_the_node_streams_cot_to_a_tak_server(tmp_path: Path) -> None:
    tak_server = socket.socket()
    tak_server.bind(("127.0.0.1", 0))
    tak_server.listen(1)
    received = bytearray()

    def serve() -> None:
        conn, _ = tak_server.accept()
        conn.settimeout(10)
        with conn:
            while (data := conn.recv(65536)):
                received.extend(data)

    threading.Thread(target=serve, daemon=True).start()
    with socket.socket() as s1, socket.socket() as s2:
        s1.bind(("127.0.0.1", 0))
        s2.bind(("127.0.0.1", 0))
        listen, api = (f"tcp://127.0.0.1:{s.getsockname()[1]}" for s in (s1, s2))
    node = subprocess.Popen([sys.executable, "-m", "emcomm", "node", "--id", "cc", "--listen", listen, "--api", api,
                             "--data-dir", str(tmp_path / "cc-data"), "--status-every", "0", "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    listener = CotListener("127.0.0.1", 0)
    stream = TakStream("127.0.0.1", tak_server.getsockname()[1])
    try:
        assert node.stdout is not None and "running" in node.stdout.readline()
        client = ApiClient(api, timeout_s=10.0)
        bridge = TakBridge(client, stream, listener, to="cc", min_interval_s=60.0)
        try:
            with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as tak_client:
                tak_client.sendall(b"<event><broken")                       # bad XML first: refused, stream goes on
                tak_client.sendall(b"/></event>")
                for lat in (34.75, 34.76):                                   # the second is within --every
                    tak_client.sendall(cot.event_xml("ANDROID-1", "a-f-G-U-C", WHEN, lat, 113.65, callsign="Team 1"))
                _until(bridge.step, lambda: bridge.counters.get("position_rate_limited", 0) == 1)
            _until(bridge.step, lambda: b"ANDROID-1" in received)
            assert listener.errors == {"bad_event": 1} and bridge.counters["positions_in"] == 1
            (msg,) = client.call("inbox")["messages"]
            assert msg["content_type"] == 1 and msg["payload"] == b"34.75000,113.65000,ANDROID-1,Team 1"
            events = [e + b"</event>" for e in bytes(received).split(b"</event>") if e.strip()]
            assert len(events) == 1
            COT_XSD.check(events[0], "streamed event")
            assert cot.parse_position(events[0]).callsign == "Team 1"
        finally:
            client.close()
    finally:
        stream.close()
        listener.close()
        tak_server.close()
        node.terminate()
        node.wait(10)


def test_a_tak_server_that_is_down_keeps_events_queued() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]           # nothing listens here once closed
    stream = TakStream("127.0.0.1", port)
    stream.send(cot.event_xml("u", "a-f-G-U-C", WHEN, 1.0, 2.0))
    stream.send(cot.event_xml("v", "a-f-G-U-C", WHEN, 1.0, 2.0))
    assert (stream.queued, stream.sent, stream.connected) == (2, 0, False)
    stream.close()
