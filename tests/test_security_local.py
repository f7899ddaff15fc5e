"""A secure node's local sockets: a tcp:// API admits only the node's own key, a tcp://
telemetry PUB socket only rostered, uncut keys (CURVE + ZAP); an ipc:// API relies on file
permissions (data directory 0700, socket 0600); `emcomm status/send` authenticate with
--identity. One in-process node per test, loopback only, every wait bounded."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Iterator

import msgpack
import pytest
import zmq

from emcomm.cli import main as cli
from emcomm.node.api import ApiClient, NodeNotRunningError
from emcomm.node.config import config_from_mapping
from emcomm.node.identity import Identity, load_identity
from emcomm.node.roster import Roster, load_roster
from emcomm.node.runtime import NodeRuntime

REFUSED_WAIT_S = 1.5       # a refused CURVE handshake never answers: how long a test waits to see that


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Identities of node a, the command centre cc (rostered), and a stranger (not rostered)."""
    auth = Identity.generate("authority", name="Duty Officer", org="EOC", phone="", role="authority")
    ids = {n: Identity.generate(n, name=f"Person {n}", org="Red Cross", phone="", role=role)
           for n, role in (("a", "responder"), ("cc", "commander"), ("stranger", "commander"))}
    roster = Roster.empty(auth.public.verify_key).add(ids["a"].public).add(ids["cc"].public).sign(auth, 0.0)
    out = {n: tmp_path / f"{n}-key" for n in ids}
    for n, ident in ids.items():
        ident.save(out[n])
    out["roster"] = tmp_path / "roster.json"
    roster.save(out["roster"])
    out["authority"] = tmp_path / "authority-key"
    auth.save(out["authority"])
    return out


def _run(cfg_raw: dict, tmp_path: Path) -> Iterator[NodeRuntime]:
    rt = NodeRuntime(config_from_mapping(cfg_raw, base_dir=tmp_path), context=zmq.Context())
    rt.start()
    th = threading.Thread(target=lambda: (rt.run(), rt.close()))
    th.start()
    try:
        yield rt
    finally:
        rt.stop()
        th.join(10)
    assert not th.is_alive()


@pytest.fixture
def tcp_node(tmp_path: Path, keys: dict[str, Path]) -> Iterator[tuple[NodeRuntime, str, str]]:
    api, tele = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    raw = {"id": "a", "listen": f"tcp://127.0.0.1:{_port()}", "api": api, "telemetry": tele, "data_dir": "a-data",
           "identity": str(keys["a"]), "roster": str(keys["roster"]), "emulation": False}
    for rt in _run(raw, tmp_path):
        yield rt, api, tele


def _curve(client: Path, server: Path) -> tuple[bytes, bytes, bytes]:
    c, s = load_identity(client), load_identity(server)
    return c.public.curve_public, c.curve_secret, s.public.curve_public


def test_tcp_api_answers_only_the_nodes_own_key(tcp_node, keys: dict[str, Path]) -> None:
    rt, api, _ = tcp_node
    own = ApiClient(api, timeout_s=10.0, curve=_curve(keys["a"], keys["a"]))
    assert own.call("ping")["node"] == "a"
    for who, curve in (("plain", None), ("rostered cc", _curve(keys["cc"], keys["a"])),
                       ("stranger", _curve(keys["stranger"], keys["a"]))):
        c = ApiClient(api, timeout_s=REFUSED_WAIT_S, curve=curve)
        with pytest.raises(NodeNotRunningError):
            c.call("ping")
        c.close()
    counters = own.call("status")["runtime"]["counters"]
    own.close()
    assert counters.get("zap.refused_key", 0) == 2     # the plain client fails the handshake before ZAP


def _sub(ctx: zmq.Context, endpoint: str, curve: tuple[bytes, bytes, bytes] | None) -> zmq.Socket:
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    if curve is not None:
        s.curve_publickey, s.curve_secretkey, s.curve_serverkey = curve
    s.connect(endpoint)
    return s


def test_tcp_telemetry_reaches_rostered_keys_only(tcp_node, keys: dict[str, Path]) -> None:
    rt, _, tele = tcp_node
    ctx = zmq.Context()
    try:
        ok = _sub(ctx, tele, _curve(keys["cc"], keys["a"]))
        others = [_sub(ctx, tele, None), _sub(ctx, tele, _curve(keys["stranger"], keys["a"]))]
        got = 0
        deadline = time.monotonic() + 15.0
        while got < 2 and time.monotonic() < deadline:   # two status snapshots: the others had time too
            if ok.poll(500):
                topic, body = ok.recv_multipart()
                got += topic == b"status" and msgpack.unpackb(body, raw=False)["node"] == "a"
        assert got == 2
        assert not any(s.poll(0) for s in others)
    finally:
        ctx.destroy(0)


def test_ipc_api_is_private_to_the_nodes_user(tmp_path: Path, keys: dict[str, Path]) -> None:
    data = tmp_path / "b-data"
    data.mkdir(mode=0o755)
    raw = {"id": "a", "listen": f"tcp://127.0.0.1:{_port()}", "data_dir": str(data),
           "identity": str(keys["a"]), "roster": str(keys["roster"]), "emulation": False}
    for rt in _run(raw, tmp_path):
        sock = Path(rt.cfg.api_endpoint[len("ipc://"):])
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        c = ApiClient(rt.cfg.api_endpoint, timeout_s=10.0)      # same user: no key needed
        assert c.call("ping")["node"] == "a"
        c.close()


def test_cli_status_needs_the_nodes_identity_for_a_secure_tcp_api(tcp_node, keys: dict[str, Path], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rt, api, _ = tcp_node
    data = str(rt.cfg.data_dir)
    assert json.loads((rt.cfg.data_dir / "node.json").read_text())["curve_public"]
    assert cli(["status", "--data-dir", data]) != 0
    assert "--identity" in capsys.readouterr().err
    assert cli(["status", "--data-dir", data, "--identity", str(keys["a"])]) == 0
    assert "node a" in capsys.readouterr().out
    assert cli(["send", "--api", api, "--identity", str(keys["a"]), "--to", "cc", "--wait", "0", "hello"]) == 0
    assert "accepted" in capsys.readouterr().out
    assert cli(["status", "--api", api, "--identity", str(keys["cc"]), "--timeout", str(REFUSED_WAIT_S)]) != 0


def test_insecure_node_keeps_a_plain_tcp_api(tmp_path: Path) -> None:
    api = f"tcp://127.0.0.1:{_port()}"
    raw = {"id": "a", "listen": f"tcp://127.0.0.1:{_port()}", "api": api, "data_dir": "c-data", "emulation": False}
    for _ in _run(raw, tmp_path):
        c = ApiClient(api, timeout_s=10.0)
        assert c.call("ping")["node"] == "a"
        c.close()


def _statuses(sub: zmq.Socket, want: int, timeout_s: float) -> int:
    got, deadline = 0, time.monotonic() + timeout_s
    while got < want and time.monotonic() < deadline:
        if sub.poll(200):
            topic, body = sub.recv_multipart()
            got += topic == b"status" and msgpack.unpackb(body, raw=False)["node"] == "a"
    return got


def test_a_revoked_key_loses_its_telemetry_subscription_and_the_others_keep_theirs(tcp_node, keys: dict[str, Path]) -> None:
    """Issue 6: a revoked key's existing connections are closed once the roster update arrives
    — the telemetry subscription too, not only the peer links."""
    rt, api, tele = tcp_node
    auth = load_identity(keys["authority"])
    extra = Identity.generate("cc2", name="Person cc2", org="Red Cross", phone="", role="commander")
    roster = load_roster(keys["roster"]).add(extra.public).sign(auth, 1.0)
    own = ApiClient(api, timeout_s=10.0, curve=_curve(keys["a"], keys["a"]))
    own.call("send", to="*", priority="immediate", content_type="roster", body=roster.to_bytes())
    ctx = zmq.Context()
    try:
        kept = _sub(ctx, tele, _curve(keys["cc"], keys["a"]))
        extra_key = keys["a"].parent / "cc2-key"
        extra.save(extra_key)
        doomed = _sub(ctx, tele, _curve(extra_key, keys["a"]))
        assert _statuses(doomed, 1, 15.0) == 1 and _statuses(kept, 1, 15.0) == 1
        own.call("send", to="*", priority="immediate", content_type="roster",
                 body=roster.revoke("cc2", "terminal lost").sign(auth, 2.0).to_bytes())
        time.sleep(1.0)                               # the update is applied, subscribers dropped
        for s in (doomed, kept):
            while s.poll(0):
                s.recv_multipart()                    # what was queued before the cut
        assert _statuses(kept, 2, 15.0) == 2, "a rostered subscriber reconnects by itself"
        assert _statuses(doomed, 1, 3.0) == 0, "the revoked key hears nothing more"
    finally:
        own.close()
        ctx.destroy(0)
