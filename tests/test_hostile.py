"""A legitimate 3-node secure mesh (team — relay — cc) on loopback, attacked by a hostile
process: without a rostered key it cannot connect; with one it sends malformed msgpack,
deep nesting, huge declared lengths, oversize frames, random bytes, replays, floods,
spoofed routing ids and forged signatures. Every hostile input is dropped with a counted
reason (the forger is cut off), while legitimate FLASH and IMMEDIATE traffic is delivered
exactly once."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable

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
    def phase(name):                                      # tell the test, wait until it saw the effect
        print(json.dumps({"phase": name, "tried": tried}), flush=True)
        if sys.stdin.readline().strip() != "go":
            os._exit(3)
    link = b"h-r/fibre"
    tried = 0
    refused = 0
    def send(data):
        global tried, refused
        tried += 1
        try:
            s.send_multipart([link, data])
        except zmq.Again:
            refused += 1
    if mode == "nokey":
        s = dealer("h")
        for i in range(50):
            send(msgpack.packb([1, 5, "h", i, 0]))
        phase("nokey")
        os._exit(0)
    ident = load_identity(ident_dir)
    s = dealer("h", ident)
    rnd = random.Random(6)
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
    spoof = dealer("team", ident)                         # speaking as another node, on its link
    for _ in range(20):
        tried += 1
        spoof.send_multipart([b"r-team/fibre", good])
    phase("junk")                                         # the test waits for all of it to be dropped
    forged = signer.sign(env(1, b"all clear, go home"))   # a forged IMMEDIATE: cut off
    send(wire.encode_envelope(dataclasses.replace(forged, body=b"all clear, stay put")))
    phase("forged")                                       # ... and for the cut-off
    s.setsockopt(zmq.SNDTIMEO, 0)                         # refused now: its queue may be full, don't wait
    for _ in range(50):                                   # after the cut-off
        send(good)
    phase("after")                                        # ... and for the refused reconnection
    print(json.dumps({"tried": tried, "refused_by_transport": refused}), flush=True)
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


PHASE_TIMEOUT_S = 20.0


def _hostile(tmp: Path, key_dir: Path, mesh: SecureMesh, mode: str,
             waits: dict[str, Callable[[dict[str, float]], bool]]) -> int:
    """Run the hostile process; after each of its phases wait (bounded) until the relay's
    counters show the phase's effect, then let it go on. Returns how many inputs it tried."""
    server_key = json.loads((tmp / "r-key" / "identity.pub").read_text())["curve_public"]
    ident = load_identity(mesh.keys["r"])      # this thread's own client: sockets are not shared
    relay = ApiClient(f"tcp://127.0.0.1:{mesh.ports['r'][1]}", timeout_s=10.0,
                      curve=(ident.public.curve_public, ident.curve_secret, ident.public.curve_public))
    proc = subprocess.Popen([sys.executable, "-c", HOSTILE, str(key_dir), server_key,
                             f"tcp://127.0.0.1:{mesh.ports['r'][0]}", mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        last: dict = {}
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], PHASE_TIMEOUT_S)
            line = proc.stdout.readline() if ready else ""
            if not line:
                break
            last = json.loads(line)
            phase = last.get("phase")
            if phase is None:
                continue
            deadline = time.monotonic() + PHASE_TIMEOUT_S
            while not waits[phase](c := _counters_of(relay)):
                assert time.monotonic() < deadline, f"after the hostile phase {phase!r} the relay shows {c}"
                time.sleep(0.05)
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert proc.wait(10) == 0, proc.stderr.read()[-2000:] if proc.stderr else ""
        return int(last["tried"])
    finally:
        relay.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _counters_of(api: ApiClient) -> dict[str, float]:
    """Core counters, runtime counters as ``rt.*``, the node's clock as ``t_s`` and when each
    link last heard its neighbour as ``heard.<link id>``."""
    st = api.call("status")
    return {**st["counters"], **{f"rt.{k}": v for k, v in st["runtime"]["counters"].items()}, "t_s": st["t_s"],
            **{f"heard.{lid}": st["t_s"] - link["last_heard_age_s"] for lid, link in st["links"].items()}}


def _team_heard_after_spoofing(c: dict[str, float], mark: dict[str, float]) -> bool:
    """All 20 spoofed frames were dropped, and afterwards the relay still hears the real team
    (a connection that took over team's routing id would have cut it off)."""
    if c.get("rt.dropped.identity_mismatch", 0) < 20:
        return False
    mark.setdefault("t_s", c["t_s"])
    return c["heard.r-team/fibre"] > mark["t_s"]


def _last_heard_s(mesh: Mesh, n: str, link_id: str) -> float:
    st = mesh.api(n).call("status")
    return st["t_s"] - st["links"][link_id]["last_heard_age_s"]


@pytest.mark.timeout(120)
def test_hostile_peer_is_refused_or_cut_off_while_flash_gets_through(tmp_path: Path) -> None:
    mesh, dirs = _secure_mesh(tmp_path)
    try:
        mesh.start("cc", "r", "team")
        before = [mesh.send("cc", "team", f"flash {i}", "flash") for i in range(5)]
        stranger = tmp_path / "stranger-key"
        cli(["keygen", "--id", "h", "--name", "Nobody", "--org", "?", "--role", "commander", "--out", str(stranger)])
        heard = _last_heard_s(mesh, "r", "h-r/fibre")
        tried = _hostile(tmp_path, stranger, mesh, "nokey", {"nokey": lambda c: c.get("rt.zap.refused_key", 0) >= 1})
        assert _last_heard_s(mesh, "r", "h-r/fibre") == pytest.approx(heard, abs=1e-6)   # nothing reached the core
        assert "refused a connection" in (tmp_path / "r.log").read_text()
        during: list[bytes] = []    # legitimate traffic sent while the attack runs: some in every phase
        spoofed: dict[str, float] = {}
        waits: dict[str, Callable[[dict[str, float]], bool]] = {
            # the spoofing connection's frames are dropped before the cut-off refuses h's key
            "junk": lambda c: _team_heard_after_spoofing(c, spoofed) and len(during) >= 4,
            "forged": lambda c: c.get("rt.security.reconnects", 0) >= 1 and len(during) >= 8,   # cut off
            "after": lambda c: c.get("rt.zap.refused_rostered", 0) >= 1 and len(during) >= 12,  # h refused
        }
        result: dict[str, int] = {}
        failure: list[BaseException] = []

        def attack() -> None:
            try:
                result["n"] = _hostile(tmp_path, dirs["h"], mesh, "rostered", waits)
            except BaseException as exc:   # re-raised in the test's thread
                failure.append(exc)

        t = threading.Thread(target=attack)
        t.start()
        while t.is_alive():
            during.append(mesh.send("cc", "team", f"flash during attack {len(during)}", "flash"))
            during.append(mesh.send("team", "cc", f"immediate during attack {len(during)}", "immediate"))
            t.join(0.3)       # paced within the default FLASH limit (5/s): the commander is not flooding
        if failure:
            raise failure[0]
        tried_rostered = result["n"]
        after = [mesh.send("cc", "team", f"flash after {i}", "flash") for i in range(5)]
        legit = set(before + during + after)
        deadline = time.monotonic() + 30.0
        while True:
            team, cc = mesh.inbox("team"), mesh.inbox("cc")
            got = [m["msg_id"] for m in team + cc]
            if legit <= set(got) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
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
        assert c.get("rt.zap.refused_rostered", 0) >= 1 and "the key of node h is rostered" in (tmp_path / "r.log").read_text()
        log = (tmp_path / "r.log").read_text()
        assert "cut off" in log
        print(f"hostile inputs tried: {tried} without a key, {tried_rostered} with a rostered key; "
              f"legitimate messages delivered: {len(before) + len(during) + len(after)}")
    finally:
        mesh.close()
