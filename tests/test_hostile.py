"""A legitimate 3-node secure mesh (team — relay — cc) on loopback, attacked by a hostile
process: without a rostered key it cannot connect; with one it sends malformed msgpack,
deep nesting, huge declared lengths, oversize frames, random bytes, replays, floods,
spoofed routing ids and forged signatures. Every hostile input is dropped with a counted
reason (the forger is cut off), while legitimate FLASH and IMMEDIATE traffic is delivered
exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from emcomm.cli import main as cli
from emcomm.node.api import ApiClient
from emcomm.node.identity import load_identity
from tests.test_mesh import Mesh

LINKS = [("team", "r", "fibre"), ("r", "cc", "fibre"), ("h", "r", "fibre")]
ROLES = {"cc": "commander", "r": "relay-only", "team": "responder", "h": "responder"}

HOSTILE = textwrap.dedent('''
    import dataclasses, json, os, random, sys, time
    import msgpack, zmq
    from emcomm.node import wire
    from emcomm.node.identity import load_identity
    from emcomm.node.signing import Signer
    ident_dir, server_key, endpoint, mode = sys.argv[1:5]
    ctx = zmq.Context()
    def dealer(routing_id, ident=None):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.ROUTING_ID, routing_id.encode()); s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDTIMEO, 500)              # a refused peer's queue fills: give up, don't hang
        if ident is None:
            pub, sec = zmq.curve_keypair()
        else:
            pub, sec = ident.public.curve_public, ident.curve_secret
        s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, server_key.encode()
        s.connect(endpoint)
        return s
    link = b"h-r/fibre"
    tried = 0
    if mode == "nokey":
        s = dealer("h")
        for i in range(50):
            tried += 1
        try:
            s.send_multipart([link, msgpack.packb([1, 5, "h", 0, 0])])
        except zmq.Again:
            pass
        time.sleep(1.0)
        print(json.dumps({"tried": tried})); os._exit(0)
    ident = load_identity(ident_dir)
    s = dealer("h", ident)
    rnd = random.Random(6)
    refused = 0
    def send(data):
        global tried, refused
        tried += 1
        try:
            s.send_multipart([link, data])
        except zmq.Again:
            refused += 1
    now = time.time()
    def env(prio, body, **kw):
        e = wire.make_envelope(os.urandom(16), "h", kw.pop("dst", "cc"), prio, 0, kw.pop("created", now), 600.0, body)
        return dataclasses.replace(e, **kw)
    signer = Signer(ident)
    good = wire.encode_envelope(signer.sign(env(3, b"hello")))
    for _ in range(300):                                  # malformed / random / truncated / bit-flipped
        k = rnd.randrange(4)
        if k == 0: send(os.urandom(rnd.randrange(1, 200)))
        elif k == 1: send(good[: rnd.randrange(1, len(good))])
        elif k == 2:
            b = bytearray(good); b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8); send(bytes(b))
        else: send(b"\\xc1" * rnd.randrange(1, 50))
    for depth in (10, 100, 10000):                        # deep nesting
        send(b"\\x91" * depth + b"\\x00")
    for hdr in (b"\\xdb\\xff\\xff\\xff\\xff", b"\\xc6\\xff\\xff\\xff\\xff", b"\\xdd\\xff\\xff\\xff\\xff", b"\\xdf\\x7f\\xff\\xff\\xff"):
        send(hdr + b"\\x00" * 8)                          # huge declared lengths
    send(b"\\x00" * (wire.MAX_FRAME_BYTES + 10))            # oversize
    old = signer.sign(env(3, b"replayed", created=now - 86400.0, ttl_s=60.0))
    for _ in range(20):                                   # replays outside the window
        send(wire.encode_envelope(dataclasses.replace(old, msg_id=os.urandom(16))))
    flood = [wire.encode_envelope(signer.sign(env(2, b"flood %d" % i))) for i in range(400)]
    for f in flood:                                       # a PRIORITY flood
        send(f)
    spoof = dealer("team", ident)                         # speaking as another node
    for _ in range(20):
        spoof.send_multipart([b"r-team/fibre", good]); tried += 1
    time.sleep(0.5)
    time.sleep(0.5)
    forged = signer.sign(env(1, b"all clear, go home"))   # a forged IMMEDIATE: cut off
    send(wire.encode_envelope(dataclasses.replace(forged, body=b"all clear, stay put")))
    time.sleep(1.0)
    for _ in range(50):                                   # after the cut-off
        send(good)
    time.sleep(1.0)
    print(json.dumps({"tried": tried, "refused_by_transport": refused}))
    os._exit(0)
''')


class SecureMesh(Mesh):
    """The loopback mesh, its API clients holding each node's own key (a secure node's
    tcp:// API admits nothing else)."""

    keys: dict[str, Path]

    def api(self, n: str) -> ApiClient:
        if n not in self.clients:
            ident = load_identity(self.keys[n])
            self.clients[n] = ApiClient(f"tcp://127.0.0.1:{self.ports[n][1]}", timeout_s=10.0,
                                        curve=(ident.public.curve_public, ident.curve_secret, ident.public.curve_public))
        return self.clients[n]


def _secure_mesh(tmp: Path) -> tuple[Mesh, dict[str, Path]]:
    dirs = {n: tmp / f"{n}-key" for n in [*ROLES, "authority"]}
    assert cli(["keygen", "--id", "authority", "--name", "Duty Officer", "--org", "Provincial EOC",
                "--role", "authority", "--out", str(dirs["authority"])]) == 0
    roster = tmp / "roster.json"
    for n, role in ROLES.items():
        assert cli(["keygen", "--id", n, "--name", f"Person {n}", "--org", "Red Cross", "--phone", "+86 10",
                    "--role", role, "--out", str(dirs[n])]) == 0
        assert cli(["roster", "add", "--roster", str(roster), "--authority", str(dirs["authority"]), str(dirs[n])]) == 0
    assert cli(["roster", "sign", "--roster", str(roster), "--key", str(dirs["authority"])]) == 0
    mesh = SecureMesh(tmp, LINKS, emulation=False)
    mesh.keys = dirs
    for n in ROLES:
        p = tmp / f"{n}.toml"
        lines = p.read_text().splitlines()
        lines.insert(1, f'identity = "{dirs[n]}"\nroster = "{roster}"\nrate_limits = {{priority = [20, 100]}}')
        p.write_text("\n".join(lines) + "\n")
    return mesh, dirs


def _counters(mesh: Mesh, n: str) -> dict[str, int]:
    st = mesh.api(n).call("status")
    return {**st["counters"], **{f"rt.{k}": v for k, v in st["runtime"]["counters"].items()}}


def _hostile(tmp: Path, key_dir: Path, mesh: Mesh, mode: str) -> int:
    server_key = json.loads((tmp / "r-key" / "identity.pub").read_text())["curve_public"]
    out = subprocess.run([sys.executable, "-c", HOSTILE, str(key_dir), server_key,
                          f"tcp://127.0.0.1:{mesh.ports['r'][0]}", mode],
                         capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(json.loads(out.stdout.strip().splitlines()[-1])["tried"])


@pytest.mark.timeout(150)
def test_hostile_peer_is_refused_or_cut_off_while_flash_gets_through(tmp_path: Path) -> None:
    mesh, dirs = _secure_mesh(tmp_path)
    try:
        mesh.start("cc", "r", "team")
        before = [mesh.send("cc", "team", f"flash {i}", "flash") for i in range(5)]
        stranger = tmp_path / "stranger-key"
        cli(["keygen", "--id", "h", "--name", "Nobody", "--org", "?", "--role", "commander", "--out", str(stranger)])
        tried = _hostile(tmp_path, stranger, mesh, "nokey")
        c = _counters(mesh, "r")
        assert not any(k.startswith("rx_") and "h" in k for k in c)
        assert "refused a connection" in (tmp_path / "r.log").read_text()
        during = []
        tried_rostered = 0
        import threading
        result: dict[str, int] = {}
        t = threading.Thread(target=lambda: result.update(n=_hostile(tmp_path, dirs["h"], mesh, "rostered")))
        t.start()
        while t.is_alive():
            during.append(mesh.send("cc", "team", f"flash during attack {len(during)}", "flash"))
            during.append(mesh.send("team", "cc", f"immediate during attack {len(during)}", "immediate"))
            time.sleep(0.3)           # within the default FLASH limit (5/s): the commander is not flooding
        t.join()
        tried_rostered = result["n"]
        after = [mesh.send("cc", "team", f"flash after {i}", "flash") for i in range(5)]
        legit = set(before + during + after)
        deadline = time.monotonic() + 30.0
        while True:
            team, cc = mesh.inbox("team"), mesh.inbox("cc")
            got = [m["msg_id"] for m in team + cc]
            if legit <= set(got) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        for name, group in (("before", before), ("during", during), ("after", after)):
            for mid in group:
                assert got.count(mid) == 1, (f"{name} #{group.index(mid)} {mid.hex()} delivered {got.count(mid)} times; "
                                             f"counters at team: {json.dumps(_counters(mesh, 'team'))}")
        from_h = [m for m in cc + team if m["src"] == "h"]
        # h is rostered: its correctly signed messages within its rate limit are delivered, the rest are not
        assert len(from_h) <= 100 + 20 * 10 and not any(b"stay put" in m["payload"] for m in from_h)
        c = _counters(mesh, "r")
        at_cc = _counters(mesh, "cc")     # ROUTINE is checked at its destination, not at the relay
        for reason in ("malformed", "too_deep", "oversize", "replay", "rate_limited", "bad_signature"):
            assert c.get(f"dropped.{reason}", 0) + at_cc.get(f"dropped.{reason}", 0) > 0, (reason, c, at_cc)
        assert c.get("rt.dropped.identity_mismatch", 0) == 20
        assert c.get("rt.zap.refused_key", 0) >= 2      # the keyless peer, then the cut-off one reconnecting
        log = (tmp_path / "r.log").read_text()
        assert "cut off" in log
        print(f"hostile inputs tried: {tried} without a key, {tried_rostered} with a rostered key; "
              f"legitimate messages delivered: {len(before) + len(during) + len(after)}")
    finally:
        mesh.close()
