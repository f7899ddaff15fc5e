"""The runtime drops frames from unknown peers and malformed frames with a counter and
keeps running; bad API requests get an error reply, not a crash."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import msgpack
import pytest
import zmq

from emcomm.errors import UsageError
from emcomm.node.api import ApiClient
from emcomm.node.config import config_from_flags
from emcomm.node.runtime import NodeRuntime


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[NodeRuntime, str, ApiClient]]:
    listen = f"tcp://127.0.0.1:{_port()}"
    api = f"tcp://127.0.0.1:{_port()}"
    cfg = config_from_flags("a", listen, [f"b=tcp://127.0.0.1:{_port()}:fibre"], str(tmp_path / "a"), api=api)
    rt = NodeRuntime(cfg, context=zmq.Context())
    rt.start()
    th = threading.Thread(target=lambda: (rt.run(), rt.close()))
    th.start()
    client = ApiClient(api, timeout_s=5.0)
    try:
        yield rt, listen, client
    finally:
        client.close()
        rt.stop()
        th.join(10)
    assert not th.is_alive(), "stop() ends the loop promptly"


def _counters(client: ApiClient) -> dict[str, int]:
    return client.call("status")["runtime"]["counters"]


def _wait_counter(client: ApiClient, name: str, value: int) -> dict[str, int]:
    deadline = time.monotonic() + 5
    c = _counters(client)
    while c.get(name, 0) < value and time.monotonic() < deadline:
        time.sleep(0.05)
        c = _counters(client)
    return c


def test_frames_from_an_unknown_peer_are_dropped_and_counted(node) -> None:
    rt, listen, client = node
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.ROUTING_ID, b"mallory")
    s.setsockopt(zmq.LINGER, 0)
    s.connect(listen)
    for _ in range(3):
        s.send_multipart([b"a-b/fibre", b"\x93\x01\x02\x03"])
    s.send_multipart([b"no-such-link", b"x"])
    c = _wait_counter(client, "dropped.unknown_peer", 4)
    s.close()
    assert c["dropped.unknown_peer"] == 4
    assert client.call("ping")["node"] == "a", "the node keeps running"


def test_a_known_peer_on_a_link_it_is_not_on_is_an_unknown_peer(node) -> None:
    rt, listen, client = node
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.ROUTING_ID, b"b")
    s.setsockopt(zmq.LINGER, 0)
    s.connect(listen)
    s.send_multipart([b"a-b/leo", b"x"])
    s.send_multipart([b"only-one-part"])
    c = _wait_counter(client, "dropped.malformed", 1)
    s.close()
    assert c["dropped.unknown_peer"] == 1 and c["dropped.malformed"] == 1


def test_garbage_from_a_real_neighbour_reaches_the_core_and_is_dropped_there(node) -> None:
    rt, listen, client = node
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.ROUTING_ID, b"b")
    s.setsockopt(zmq.LINGER, 0)
    s.connect(listen)
    s.send_multipart([b"a-b/fibre", b"\xc1garbage"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        c = _counters(client)
        if any(k.startswith("core_dropped.") for k in c):
            break
        time.sleep(0.05)
    s.close()
    assert any(k.startswith("core_dropped.") for k in c), c
    assert client.call("ping")["node"] == "a"


def test_bad_api_requests_get_an_error_reply(node) -> None:
    rt, listen, client = node
    with pytest.raises(UsageError, match="unknown priority"):
        client.call("send", to="b", priority="urgent", body=b"x")
    with pytest.raises(UsageError, match="unknown link 'nope'"):
        client.call("link", link_id="nope", up=False)
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(client.endpoint)
    s.send_multipart([b"", b"\xc1 not msgpack"])
    assert s.poll(5000)
    reply = msgpack.unpackb(s.recv_multipart()[-1])
    s.close()
    assert reply["ok"] is False and "malformed" in reply["error"]


def test_an_accepted_message_is_in_the_store_before_the_reply(node) -> None:
    rt, listen, client = node
    reply = client.call("send", to="b", priority="flash", body=b"evacuate")
    assert reply["status"] == "accepted"
    held = client.call("status")["runtime"]["held_in_store"]
    assert held >= 1
