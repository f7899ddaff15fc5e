"""A mesh of real `emcomm node` processes on loopback delivers every accepted message
exactly once, through relay kill -9 and restart and peers disconnecting mid-stream."""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from emcomm.errors import UsageError
from emcomm.node.api import ApiClient

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mesh:
    """Node processes from a list of links; every process is killed at teardown."""

    def __init__(self, tmp: Path, links: list[tuple[str, str, str]], *, emulation: bool = True,
                 overrides: str = "loss = 0.0\n"):
        self.tmp = tmp
        names = sorted({n for a, b, _ in links for n in (a, b)})
        self.ports = {n: (free_port(), free_port()) for n in names}
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.clients: dict[str, ApiClient] = {}
        for n in names:
            lines = [f'id = "{n}"', f'listen = "tcp://127.0.0.1:{self.ports[n][0]}"',
                     f'api = "tcp://127.0.0.1:{self.ports[n][1]}"', f'data_dir = "{n}-data"',
                     f"emulation = {'true' if emulation else 'false'}", "seed = 7"]
            for a, b, kind in links:
                if n in (a, b):
                    other = b if n == a else a
                    lines += ["[[neighbour]]", f'id = "{other}"', f'endpoint = "tcp://127.0.0.1:{self.ports[other][0]}"',
                              f'kind = "{kind}"', "[neighbour.overrides]", overrides]
            (tmp / f"{n}.toml").write_text("\n".join(lines) + "\n")

    def start(self, *names: str) -> None:
        for n in names:
            proc = subprocess.Popen(
                [sys.executable, "-m", "emcomm", "node", "--config", str(self.tmp / f"{n}.toml"), "--status-every", "0"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=open(self.tmp / f"{n}.log", "a"), text=True)
            self.procs[n] = proc
        for n in names:
            self._wait_running(n)

    def _wait_running(self, n: str) -> None:
        proc = self.procs[n]
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                line = proc.stdout.readline()
                if "running" in line:
                    return
                if not line and proc.poll() is not None:
                    break
        raise AssertionError(f"node {n} did not start: {(self.tmp / f'{n}.log').read_text()[-2000:]}")

    def api(self, n: str) -> ApiClient:
        if n not in self.clients:
            self.clients[n] = ApiClient(f"tcp://127.0.0.1:{self.ports[n][1]}", timeout_s=10.0)
        return self.clients[n]

    def kill9(self, n: str) -> None:
        self.procs[n].send_signal(signal.SIGKILL)
        self.procs[n].wait(10)
        if n in self.clients:
            self.clients.pop(n).close()

    def stop(self, n: str) -> int:
        self.procs[n].send_signal(signal.SIGINT)
        rc = self.procs[n].wait(15)
        if n in self.clients:
            self.clients.pop(n).close()
        return rc

    def send(self, src: str, dst: str, text: str, priority: str = "routine") -> bytes:
        reply = self.api(src).call("send", to=dst, priority=priority, body=text.encode())
        assert reply["status"] == "accepted"
        return reply["msg_id"]

    def inbox(self, n: str) -> list[dict]:
        return self.api(n).call("inbox", limit=10_000)["messages"]

    def wait_inbox(self, n: str, count: int, timeout_s: float) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        got = self.inbox(n)
        while len(got) < count and time.monotonic() < deadline:
            time.sleep(0.2)
            got = self.inbox(n)
        return got

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            p.wait(10)
            if p.stdout:
                p.stdout.close()


@pytest.fixture
def mesh_factory(tmp_path: Path) -> Iterator:
    made: list[Mesh] = []

    def make(links: list[tuple[str, str, str]], **kw: object) -> Mesh:
        m = Mesh(tmp_path, links, **kw)  # type: ignore[arg-type]
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


FIVE = [("team", "r1", "cellular"), ("r1", "r2", "hts"), ("r2", "cc", "fibre"),
        ("team", "r3", "tiantong"), ("r3", "cc", "leo")]


@pytest.mark.timeout(120)
def test_five_node_mesh_delivers_every_message_end_to_end(mesh_factory) -> None:
    mesh = mesh_factory(FIVE)
    mesh.start("team", "r1", "r2", "r3", "cc")
    sent = {mesh.send("team", "cc", f"report {i}", priority=("flash", "routine")[i % 2]): f"report {i}" for i in range(20)}
    sent |= {mesh.send("cc", "team", f"order {i}"): f"order {i}" for i in range(5)}
    at_cc = mesh.wait_inbox("cc", 20, 60)
    at_team = mesh.wait_inbox("team", 5, 60)
    got = {m["msg_id"]: m["payload"].decode() for m in at_cc + at_team}
    assert got == sent
    # the end-to-end receipt came back to the source
    deadline = time.monotonic() + 30
    first = next(iter(sent))
    while mesh.api("team").call("receipt", msg_id=first)["status"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mesh.api("team").call("receipt", msg_id=first)["status"] == "delivered"


@pytest.mark.timeout(120)
def test_relay_killed_9_while_holding_messages_delivers_each_once_after_restart(mesh_factory) -> None:
    mesh = mesh_factory([("a", "relay", "fibre"), ("relay", "b", "fibre")])
    mesh.start("a", "relay", "b")
    # b goes away: the messages pile up in the relay's custody (b never acks them)
    mesh.kill9("b")
    ids = [mesh.send("a", "b", f"m{i}") for i in range(30)]
    deadline = time.monotonic() + 30
    while mesh.api("relay").call("status")["runtime"]["held_in_store"] < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mesh.api("relay").call("status")["runtime"]["held_in_store"] >= 30
    mesh.kill9("relay")
    mesh.start("relay", "b")
    got = mesh.wait_inbox("b", 30, 60)
    assert sorted(m["msg_id"] for m in got) == sorted(ids)
    assert len(got) == len({m["msg_id"] for m in got}) == 30


@pytest.mark.timeout(120)
def test_destination_disconnecting_mid_stream_loses_nothing(mesh_factory) -> None:
    """ZeroMQ silently drops frames queued towards a peer that goes away; hop-acks recover them."""
    mesh = mesh_factory([("a", "b", "fibre")], emulation=False)
    mesh.start("a", "b")
    ids = [mesh.send("a", "b", f"m{i}") for i in range(40)]
    mesh.kill9("b")
    ids += [mesh.send("a", "b", f"n{i}") for i in range(40)]
    time.sleep(0.5)
    mesh.start("b")
    ids += [mesh.send("a", "b", f"o{i}") for i in range(20)]
    got = mesh.wait_inbox("b", 100, 60)
    assert sorted(m["msg_id"] for m in got) == sorted(ids)


@pytest.mark.timeout(60)
def test_cli_send_reports_delivery_and_status_shows_links(mesh_factory, tmp_path: Path) -> None:
    mesh = mesh_factory([("a", "b", "tiantong")])
    mesh.start("a", "b")
    api = f"tcp://127.0.0.1:{mesh.ports['a'][1]}"
    out = subprocess.run([sys.executable, "-m", "emcomm", "send", "--api", api, "--to", "b", "--priority", "flash",
                          "--wait", "20", "evacuate sector 4"], cwd=ROOT, capture_output=True, text=True, timeout=40)
    assert out.returncode == 0, out.stderr
    assert "accepted: FLASH" in out.stdout and "delivered to b" in out.stdout
    st = subprocess.run([sys.executable, "-m", "emcomm", "status", "--api", api], cwd=ROOT, capture_output=True,
                        text=True, timeout=30)
    assert st.returncode == 0, st.stderr
    assert "a-b/tiantong (tiantong) → b: up" in st.stdout
    assert "duplicate suppression: 2 message ids in memory (at most 100,000)" in st.stdout, st.stdout  # + receipt
    inbox = subprocess.run([sys.executable, "-m", "emcomm", "inbox", "--data-dir", str(tmp_path / "b-data")],
                           cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert "FLASH from a: evacuate sector 4" in inbox.stdout, inbox.stderr
    assert mesh.stop("a") == 0, "Ctrl-C ends the node cleanly"
    assert "stopped; store closed" in mesh.procs["a"].stdout.read()  # type: ignore[union-attr]


def test_a_second_node_on_a_port_in_use_says_so(mesh_factory, tmp_path: Path) -> None:
    mesh = mesh_factory([("a", "b", "fibre")])
    mesh.start("a")
    out = subprocess.run([sys.executable, "-m", "emcomm", "node", "--id", "x", "--listen",
                          f"tcp://127.0.0.1:{mesh.ports['a'][0]}", "--data-dir", str(tmp_path / "x"),
                          "--api", f"tcp://127.0.0.1:{free_port()}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "is in use" in out.stderr and "Traceback" not in out.stderr


def test_a_second_node_on_the_same_data_dir_is_refused(mesh_factory, tmp_path: Path) -> None:
    mesh = mesh_factory([("a", "b", "fibre")])
    mesh.start("a")
    out = subprocess.run([sys.executable, "-m", "emcomm", "node", "--id", "a", "--listen",
                          f"tcp://127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "a-data"),
                          "--api", f"tcp://127.0.0.1:{free_port()}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "already running on the data directory" in out.stderr


def test_status_of_a_node_that_is_not_running_says_so() -> None:
    out = subprocess.run([sys.executable, "-m", "emcomm", "status", "--api", f"tcp://127.0.0.1:{free_port()}",
                          "--timeout", "0.5"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "not running" in out.stderr


def test_api_client_to_a_missing_ipc_socket_says_not_running(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no node is running"):
        ApiClient(f"ipc://{tmp_path}/api.sock")
