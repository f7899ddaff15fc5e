"""Secure peers are named by their CURVE key, not by the routing id they choose: a rostered
peer that connects with another node's routing id neither takes that node's connection over
nor speaks as it, and a freshly started secure pair routes without waiting for a heartbeat.
Two in-process nodes on loopback, every wait bounded."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import msgpack
import pytest
import zmq

from emcomm.node.api import ApiClient
from emcomm.node.config import config_from_mapping
from emcomm.node.identity import Identity, load_identity
from emcomm.node.roster import Roster
from emcomm.node.runtime import NodeRuntime

HEARTBEAT_S = 10.0        # the core's default heartbeat interval: a fresh mesh used to wait for it


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, cond: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout_s} s")


class Pair:
    """Nodes a and b (one fibre link), both secure, each in a thread of this process."""

    def __init__(self, tmp: Path):
        auth = Identity.generate("authority", name="Duty Officer", org="EOC", phone="", role="authority")
        ids = {n: Identity.generate(n, name=f"Person {n}", org="Red Cross", phone="", role="commander")
               for n in ("a", "b", "h")}
        roster = Roster.empty(auth.public.verify_key)
        for ident in ids.values():
            roster = roster.add(ident.public)
        self.keys = {n: tmp / f"{n}-key" for n in ids}
        for n, ident in ids.items():
            ident.save(self.keys[n])
        roster.sign(auth, 0.0).save(tmp / "roster.json")
        self.tmp = tmp
        self.listen = {n: f"tcp://127.0.0.1:{_port()}" for n in ("a", "b")}
        self.nodes: dict[str, tuple[NodeRuntime, threading.Thread]] = {}

    def start(self, n: str) -> NodeRuntime:
        other = "b" if n == "a" else "a"
        raw = {"id": n, "listen": self.listen[n], "api": f"ipc://{self.tmp}/{n}-api.sock", "data_dir": f"{n}-data",
               "identity": str(self.keys[n]), "roster": str(self.tmp / "roster.json"), "emulation": False,
               "neighbour": [{"id": other, "endpoint": self.listen[other], "kind": "fibre"}]}
        rt = NodeRuntime(config_from_mapping(raw, base_dir=self.tmp))
        rt.start()
        th = threading.Thread(target=lambda: (rt.run(), rt.close()))
        th.start()
        self.nodes[n] = (rt, th)
        return rt

    def stop(self, n: str) -> None:
        rt, th = self.nodes.pop(n)
        rt.stop()
        th.join(10)
        assert not th.is_alive()

    def send(self, src: str, dst: str, text: str) -> bytes:
        """FLASH through the node's ipc:// API, as `emcomm send` does; returns the msg_id."""
        client = ApiClient(self.nodes[src][0].cfg.api_endpoint, timeout_s=10.0)
        try:
            reply = client.call("send", to=dst, priority="flash", body=text.encode())
        finally:
            client.close()
        assert reply["status"] == "accepted", reply
        return reply["msg_id"]

    def delivered(self, n: str) -> list[bytes]:
        rt = self.nodes[n][0]
        with rt._store_access() as st:
            return [e.msg_id for e in st.inbox(0, 1000)]

    def close(self) -> None:
        for n in list(self.nodes):
            self.stop(n)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    p = Pair(tmp_path)
    try:
        yield p
    finally:
        p.close()


def test_a_fresh_secure_pair_delivers_flash_well_before_a_heartbeat_interval(pair: Pair) -> None:
    """Both nodes start, a sends FLASH at once: the adverts lost before the CURVE handshake
    are re-sent when it completes, so b is routable long before the first heartbeat."""
    pair.start("a")
    pair.start("b")
    t0 = time.monotonic()
    mid = pair.send("a", "b", "evacuate sector 4")
    _wait("FLASH a -> b delivered", lambda: mid in pair.delivered("b"), HEARTBEAT_S / 2)
    assert time.monotonic() - t0 < HEARTBEAT_S / 2
    assert pair.nodes["a"][0].counters["peer.connected"] >= 1


def test_a_rostered_peer_using_another_nodes_routing_id_neither_takes_over_nor_speaks_as_it(pair: Pair) -> None:
    """h (rostered) connects to b three times with routing id "a" and sends on a's link
    while a is connected: the first connection's frames are dropped as identity_mismatch,
    the later ones claiming the same id are ignored by the ROUTER (no handover), a's own
    connection is never torn down (a handshakes once), and a's messages keep arriving."""
    a, b = pair.start("a"), pair.start("b")
    first = pair.send("a", "b", "before")
    _wait("first message", lambda: first in pair.delivered("b"), HEARTBEAT_S)
    connected_before = a.counters["peer.connected"]
    h = load_identity(pair.keys["h"])
    b_key = load_identity(pair.keys["b"]).public.curve_public
    ctx = zmq.Context()
    spoofers = []
    try:
        for _ in range(3):                                  # connect, speak, and connect again
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.ROUTING_ID, b"a")
            s.setsockopt(zmq.LINGER, 0)
            s.curve_publickey, s.curve_secretkey, s.curve_serverkey = h.public.curve_public, h.curve_secret, b_key
            s.connect(pair.listen["b"])
            spoofers.append(s)
            for _ in range(5):
                s.send_multipart([b"a-b/fibre", msgpack.packb([1, 3, "a", 0, 0])])
            time.sleep(0.2)
        _wait("spoofed frames dropped", lambda: b.counters["dropped.identity_mismatch"] >= 5, 5.0)
        during = pair.send("a", "b", "during")
        _wait("message during the spoofing", lambda: during in pair.delivered("b"), 5.0)
    finally:
        for s in spoofers:
            s.close(0)
        ctx.term()
    assert b.counters["dropped.identity_mismatch"] == 5
    assert a.counters["peer.connected"] == connected_before      # a's connection was never taken over
    assert pair.delivered("b").count(during) == 1


def test_a_restarted_peer_is_heard_again_on_its_new_connection(pair: Pair) -> None:
    """The same key reconnecting (a restart) needs no routing-id handover: its new
    connection is named by its key, and its messages arrive at once."""
    pair.start("a")
    pair.start("b")
    first = pair.send("a", "b", "first")
    _wait("first message", lambda: first in pair.delivered("b"), HEARTBEAT_S)
    pair.stop("a")
    pair.start("a")
    again = pair.send("a", "b", "after restart")
    _wait("message after the restart", lambda: again in pair.delivered("b"), HEARTBEAT_S / 2)
