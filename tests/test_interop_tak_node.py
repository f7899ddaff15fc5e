"""``emcomm node --tak HOST:PORT``: a node streams the positions and alerts delivered to it
as CoT 2.0 events to a TAK server without a second command; the feed waits out a TAK
server that is down and stops with the node. Real node processes, a TCP listener on
127.0.0.1 as the TAK server, every wait bounded."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from emcomm.errors import UsageError
from emcomm.interop import cap, cot
from emcomm.interop.tak import TakFeed
from emcomm.interop.xmlsafe import Schema
from emcomm.node.api import ApiClient
from emcomm.node.config import config_from_mapping

ROOT = Path(__file__).resolve().parent.parent
COT_XSD = Schema(ROOT / "tests" / "data" / "cot" / "CoT-event-2.0.xsd")
WHEN = "2021-07-20T09:00:00+08:00"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TakServer:
    """A TAK server's streaming input: a bound TCP socket that collects every byte sent.
    ``listen()`` may come later: until then connections are refused, as from a server that is down."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self._lock = threading.Lock()

    def listen(self) -> None:
        self.sock.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with conn:
            try:
                while data := conn.recv(65536):
                    with self._lock:
                        self.received.extend(data)
            except OSError:
                return

    def events(self) -> list[bytes]:
        with self._lock:
            data = bytes(self.received)
        return [e.strip() + b"</event>" for e in data.split(b"</event>") if e.strip()]

    def close(self) -> None:
        self.sock.close()


class NodeProc:
    """An ``emcomm node`` child process whose output lines are read by a thread."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen([sys.executable, "-m", "emcomm", "node", *args, "--status-every", "0",
                                      "--quiet", "--no-emulation"],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_line(self, text: str, timeout_s: float = 20.0) -> str:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in time; output so far: {''.join(self.seen)}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("the node did not stop within 15 s of SIGTERM")


def _until(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < end, f"{what} did not happen within {timeout_s} s"
        time.sleep(0.05)


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[tuple[TakServer, NodeProc, ApiClient, ApiClient]]:
    """cc (streaming to a TAK server that is not listening yet) and team1, one HTS link apart."""
    tak = TakServer()
    cc_listen, t1_listen = (f"tcp://127.0.0.1:{_port()}" for _ in range(2))
    cc_api, t1_api = (f"tcp://127.0.0.1:{_port()}" for _ in range(2))
    cc = NodeProc(["--id", "cc", "--listen", cc_listen, "--api", cc_api, "--data-dir", str(tmp_path / "cc"),
                   "--neighbour", f"team1={t1_listen}:hts", "--tak", f"127.0.0.1:{tak.port}"])
    t1 = NodeProc(["--id", "team1", "--listen", t1_listen, "--api", t1_api, "--data-dir", str(tmp_path / "t1"),
                   "--neighbour", f"cc={cc_listen}:hts"])
    clients: list[ApiClient] = []
    try:
        cc.wait_line("tak: streaming deliveries")
        t1.wait_line("running")
        clients = [ApiClient(cc_api, timeout_s=10.0), ApiClient(t1_api, timeout_s=10.0)]
        yield tak, cc, clients[0], clients[1]
    finally:
        for c in clients:
            c.close()
        t1.stop()
        cc.stop()
        tak.close()


def _send(client: ApiClient, content_type: str, priority: str, body: bytes) -> bytes:
    msg_id = client.call("send", to="cc", priority=priority, content_type=content_type, body=body)["msg_id"]
    _until(lambda: client.call("receipt", msg_id=msg_id)["status"] == "delivered", 20.0, "delivery to cc")
    return bytes(msg_id)


def _send_here(client: ApiClient, position: bytes) -> None:
    """A position from the node's own application to itself: it lands in its inbox."""
    n = len(client.call("inbox")["messages"])
    client.call("send", to="cc", priority="immediate", content_type="position", body=position)
    _until(lambda: len(client.call("inbox")["messages"]) > n, 20.0, "delivery into cc's inbox")


def test_node_with_tak_streams_delivered_positions_and_alerts_as_valid_cot(mesh) -> None:
    tak, cc, cc_api, t1_api = mesh
    _send(t1_api, "position", "immediate", b"34.75000,113.65000,ANDROID-1,Team 1")
    alert = cap.CapAlert("jialu-1.1626771600.danger", "jialu-1@emcomm", WHEN, "flood sensor danger", "Immediate",
                         "Extreme", "Observed", headline="Jialu river 4.8 m above danger level",
                         areas=(cap.CapArea("Jialu gauge", circles=((34.80, 113.62, 2.0),)),))
    _send(t1_api, "alert", "flash", cap.encode_compact(alert))
    assert tak.events() == [], "nothing reaches a TAK server that refuses connections"
    tak.listen()                                     # the server comes up: the queued events follow
    _until(lambda: len(tak.events()) >= 2, 15.0, "CoT events at the TAK server")
    pos_ev, alert_ev = tak.events()
    for ev in (pos_ev, alert_ev):
        COT_XSD.check(ev, "streamed CoT event")
    p = cot.parse_position(pos_ev)
    assert (p.uid, p.callsign, p.lat_deg, p.lon_deg) == ("ANDROID-1", "Team 1", 34.75, 113.65)
    assert b'type="b-a-o-tbl"' in alert_ev and b"Jialu river 4.8 m above danger level" in alert_ev
    a = cot.parse_position(alert_ev)
    assert (a.lat_deg, a.lon_deg) == (34.80, 113.62), "an alert is placed at its area's centre"
    assert cc.stop() == 0
    stopped = cc.wait_line("tak: stopped")
    assert '"streamed": 2' in stopped


def test_a_node_streams_only_what_is_delivered_after_its_tak_feed_starts(tmp_path: Path) -> None:
    """Messages already in the inbox at start-up are not re-sent after a restart."""
    tak = TakServer()
    tak.listen()
    api = f"tcp://127.0.0.1:{_port()}"
    args = ["--id", "cc", "--listen", f"tcp://127.0.0.1:{_port()}", "--api", api, "--data-dir", str(tmp_path / "cc")]
    first = NodeProc(args)
    try:
        first.wait_line("running")
        with_client = ApiClient(api, timeout_s=10.0)
        try:
            _send_here(with_client, b"34.70000,113.60000,OLD,before")
        finally:
            with_client.close()
    finally:
        assert first.stop() == 0
    second = NodeProc([*args, "--tak", f"127.0.0.1:{tak.port}"])
    try:
        assert "(1 earlier inbox message(s) not re-sent)" in second.wait_line("tak: streaming deliveries")
        client = ApiClient(api, timeout_s=10.0)
        try:
            _send_here(client, b"34.71000,113.61000,NEW,after")
        finally:
            client.close()
        _until(lambda: len(tak.events()) >= 1, 15.0, "the new position at the TAK server")
        time.sleep(0.5)                              # a re-sent old position would have arrived by now
        assert [cot.parse_position(e).uid for e in tak.events()] == ["NEW"]
    finally:
        second.stop()
        tak.close()


@pytest.mark.parametrize("bad", ["8087", "host:", "host:0", "host:99999", "http://x/:1", 8087])
def test_a_tak_address_that_is_not_host_port_is_refused(bad: object) -> None:
    with pytest.raises(UsageError, match="tak must be HOST:PORT"):
        config_from_mapping({"id": "cc", "listen": "tcp://127.0.0.1:7001", "tak": bad}, base_dir=Path("."))


def test_node_toml_tak_key_is_read() -> None:
    cfg = config_from_mapping({"id": "cc", "listen": "tcp://127.0.0.1:7001", "tak": "10.0.0.5:8087"},
                              base_dir=Path("."))
    assert cfg.tak == "10.0.0.5:8087"
    assert config_from_mapping({"id": "cc", "listen": "tcp://127.0.0.1:7001"}, base_dir=Path(".")).tak is None


def test_bad_tak_flag_gives_a_message_and_no_traceback(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "emcomm", "node", "--id", "cc", "--listen",
                        f"tcp://127.0.0.1:{_port()}", "--data-dir", str(tmp_path / "cc"), "--tak", "8087"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "--tak must be HOST:PORT" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "cc").exists(), "refused before the node touches its data directory"


def test_a_feed_whose_node_never_answers_stops_promptly() -> None:
    feed = TakFeed(f"tcp://127.0.0.1:{_port()}", f"127.0.0.1:{_port()}", api_timeout_s=0.2)
    feed.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert feed.stop() == {} and not feed.running
    assert time.monotonic() - t0 < 2.0
