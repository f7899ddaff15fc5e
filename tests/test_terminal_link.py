"""Terminal links in the node runtime: [[terminal]] tables, the adapter between the node core
and a real driver on an emulated terminal (pty), and two real `emcomm node` processes whose
only link is an emulated Beidou terminal pair (loopback and local ptys only, waits bounded)."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emcomm.errors import TerminalError, UsageError
from emcomm.links.emulators.beidou import BeidouEmulator
from emcomm.links.emulators.tiantong import TiantongEmulator
from emcomm.links.profiles import LinkKind
from emcomm.node.actions import Transmit
from emcomm.node.api import ApiClient
from emcomm.node.config import config_from_mapping
from emcomm.node.terminal_link import TerminalLinks, terminal_spec

ROOT = Path(__file__).resolve().parent.parent
A, B, C = "0100001", "0100002", "0100003"


def _node(terminals: list[dict[str, Any]], neighbours: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": "a", "listen": "tcp://127.0.0.1:7001", "terminal": terminals, "neighbour": neighbours or []}


# ----------------------------------------------------------------------------- configuration
def test_terminal_table_gives_a_link_both_ends_derive_with_the_kinds_profile(tmp_path: Path) -> None:
    cfg = config_from_mapping(_node([{"neighbour": "b", "kind": "beidou", "device": "/dev/ttyUSB0",
                                      "peer_address": B, "overrides": {"min_interval_s": 30.0}}]),
                              base_dir=tmp_path)
    (t,) = cfg.terminals
    assert (t.link_id, t.kind, t.device, t.peer_address) == ("a-b/beidou", LinkKind.BEIDOU_RDSS, "/dev/ttyUSB0", B)
    assert t.profile.min_interval_s == 30.0 and t.profile.mtu_bytes == 14_000 // 8
    other_end = terminal_spec("b", {"neighbour": "a", "kind": "beidou", "device": "x", "peer_address": A}, "t")
    assert other_end.link_id == t.link_id


@pytest.mark.parametrize("table, expected", [
    ({"kind": "hts"}, "has no serial terminal driver"),
    ({"kind": 3}, "has no serial terminal driver"),
    ({"device": ""}, "device must be a serial device path"),
    ({"peer_address": 100002}, "Beidou card address"),
    ({"peer_address": "01x"}, "Beidou card address"),
    ({"kind": "tiantong", "peer_address": "12"}, "phone number"),
    ({"baudrate": "fast"}, "baudrate"),
    ({"settle_s": -1}, "settle_s"),
    ({"neighbour": "a"}, "its own neighbour"),
    ({"speed": 1}, "unknown key"),
    ({"overrides": {"mtu_bytes": 0}}, "mtu_bytes must be a positive integer"),
])
def test_bad_terminal_tables_say_what_to_fix(tmp_path: Path, table: dict[str, Any], expected: str) -> None:
    base = {"neighbour": "b", "kind": "beidou", "device": "/dev/ttyUSB0", "peer_address": B}
    with pytest.raises(UsageError, match=expected):
        config_from_mapping(_node([{**base, **table}]), base_dir=tmp_path)


def test_missing_terminal_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="missing 'peer_address'"):
        config_from_mapping(_node([{"neighbour": "b", "kind": "beidou", "device": "/dev/ttyUSB0"}]), base_dir=tmp_path)


def test_a_terminal_link_id_used_by_a_neighbour_is_refused(tmp_path: Path) -> None:
    raw = _node([{"neighbour": "b", "kind": "beidou", "device": "/dev/ttyUSB0", "peer_address": B}],
                [{"id": "b", "endpoint": "tcp://127.0.0.1:7002", "kind": "beidou"}])
    with pytest.raises(UsageError, match="configured twice"):
        config_from_mapping(raw, base_dir=tmp_path)


def test_opening_a_missing_device_names_it() -> None:
    spec = terminal_spec("a", {"neighbour": "b", "kind": "beidou", "device": "/dev/emcomm-no-such-tty",
                               "peer_address": B}, "t")
    with pytest.raises(TerminalError, match="emcomm-no-such-tty"):
        TerminalLinks.open([spec])


# ----------------------------------------------------------------------------- the adapter
class RecordingCore:
    """Stands in for NodeCore: records what the adapter hands it."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes]] = []
        self.changes: list[tuple[str, bool]] = []

    def handle_frame(self, link_id: str, data: bytes, now: float) -> list[Any]:
        self.frames.append((link_id, data))
        return []

    def link_changed(self, link_id: str, up: bool, now: float, **measured: float) -> list[Any]:
        self.changes.append((link_id, up))
        return []


def _spec(own: str, other: str, device: str, peer: str, kind: str = "beidou", interval_s: float = 0.3) -> Any:
    overrides = {"min_interval_s": interval_s} if kind == "beidou" else {}
    return terminal_spec(own, {"neighbour": other, "kind": kind, "device": device, "peer_address": peer,
                               "settle_s": 5.0, "overrides": overrides}, f"{own}.terminal")


def _pump(pairs: list[tuple[TerminalLinks, RecordingCore]], done: Callable[[], bool], timeout_s: float = 8.0) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < end, "the awaited terminal event did not happen in time"
        for links, core in pairs:
            links.pump(core, time.monotonic())
        time.sleep(0.01)


@pytest.fixture
def beidou() -> Iterator[BeidouEmulator]:
    with BeidouEmulator(latency_s=0.02) as emu:
        yield emu


def test_transmit_reaches_the_neighbours_core_as_the_same_frame_on_the_same_link(beidou: BeidouEmulator) -> None:
    pa, pb = beidou.add_terminal(A, interval_s=0.3), beidou.add_terminal(B, interval_s=0.3)
    la = TerminalLinks.open([_spec("a", "b", pa, B)], time.monotonic)
    lb = TerminalLinks.open([_spec("b", "a", pb, A)], time.monotonic)
    try:
        ca, cb = RecordingCore(), RecordingCore()
        frame = bytes(range(256)) * 3
        assert la.transmit(Transmit("a-b/beidou", frame, 0), time.monotonic())
        assert not la.transmit(Transmit("a-c/hts", frame, 0), time.monotonic())   # not a terminal link
        _pump([(la, ca), (lb, cb)], lambda: bool(cb.frames))
        assert cb.frames == [("a-b/beidou", frame)]
        assert ca.changes == [] and cb.changes == []         # up from the start, never told otherwise
        (sent,) = beidou.transmissions
        assert (sent.sender, sent.to, sent.express) == (A, B, True)   # FLASH goes as an express message
        assert la.status()["a-b/beidou"]["counters"]["frames_out"] == 1
    finally:
        la.close()
        lb.close()


def test_a_message_from_a_card_that_is_not_the_neighbour_is_dropped(beidou: BeidouEmulator) -> None:
    pa, pc = beidou.add_terminal(A, interval_s=0.3), beidou.add_terminal(C, interval_s=0.3)
    la = TerminalLinks.open([_spec("a", "b", pa, B)], time.monotonic)
    lc = TerminalLinks.open([_spec("c", "a", pc, A)], time.monotonic)
    try:
        ca, cc = RecordingCore(), RecordingCore()
        lc.transmit(Transmit("a-c/beidou", b"intruder", 0), time.monotonic())
        _pump([(la, ca), (lc, cc)], lambda: la.status()["a-b/beidou"]["counters"].get("dropped.unknown_sender", 0) > 0)
        assert ca.frames == []
    finally:
        la.close()
        lc.close()


def test_signal_loss_takes_the_link_down_in_the_core_and_its_return_brings_it_up(beidou: BeidouEmulator) -> None:
    pa = beidou.add_terminal(A, interval_s=0.3)
    la = TerminalLinks.open([_spec("a", "b", pa, B)], time.monotonic)
    try:
        core = RecordingCore()
        beidou.set_signal(A, (0,) * 10)
        _pump([(la, core)], lambda: core.changes == [("a-b/beidou", False)])
        assert "move to open sky" in la.status()["a-b/beidou"]["reason"]
        beidou.set_signal(A, (4,) + (0,) * 9)
        _pump([(la, core)], lambda: core.changes == [("a-b/beidou", False), ("a-b/beidou", True)])
    finally:
        la.close()


def test_the_core_gets_the_cards_longer_interval_and_the_card_length_limit(beidou: BeidouEmulator) -> None:
    pa = beidou.add_terminal(A, interval_s=2.0)
    spec = _spec("a", "b", pa, B, interval_s=0.5)
    la = TerminalLinks.open([spec], time.monotonic)
    try:
        profile = la.core_links()["a-b/beidou"].profile
        assert profile.min_interval_s == 2.0 and profile.mtu_bytes == spec.profile.mtu_bytes
    finally:
        la.close()


def test_a_tiantong_link_carries_frames_of_one_sms_each() -> None:
    with TiantongEmulator(latency_s=0.02) as emu:
        pa, pb = emu.add_handset("+8613800000001"), emu.add_handset("+8613800000002")
        la = TerminalLinks.open([_spec("a", "b", pa, "+8613800000002", kind="tiantong")], time.monotonic)
        lb = TerminalLinks.open([_spec("b", "a", pb, "+8613800000001", kind="tiantong")], time.monotonic)
        try:
            assert la.core_links()["a-b/tiantong"].profile.mtu_bytes == 120   # the core fragments to one SMS
            ca, cb = RecordingCore(), RecordingCore()
            la.transmit(Transmit("a-b/tiantong", b"\x00\x01fragment", 1), time.monotonic())
            _pump([(la, ca), (lb, cb)], lambda: bool(cb.frames))
            assert cb.frames == [("a-b/tiantong", b"\x00\x01fragment")]
        finally:
            la.close()
            lb.close()


# ----------------------------------------------------------------------------- acceptance: two node processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_running(proc: subprocess.Popen[str], log: Path) -> None:
    assert proc.stdout is not None
    end = time.monotonic() + 30.0
    while time.monotonic() < end:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            line = proc.stdout.readline()
            if "running" in line:
                return
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"node did not start: {log.read_text()[-2000:]}")


def test_flash_from_a_laptop_crosses_an_emulated_beidou_terminal_pair_to_another_node(tmp_path: Path) -> None:
    """Two real `emcomm node` processes whose only link is a Beidou terminal pair on ptys:
    `emcomm send --priority flash` at one is delivered (and its receipt returned) at the other."""
    with BeidouEmulator(latency_s=0.05) as emu:
        dev = {"a": emu.add_terminal(A, interval_s=0.5), "b": emu.add_terminal(B, interval_s=0.5)}
        card = {"a": A, "b": B}
        api = {n: f"tcp://127.0.0.1:{_free_port()}" for n in "ab"}
        procs: list[subprocess.Popen[str]] = []
        try:
            for n, other in (("a", "b"), ("b", "a")):
                (tmp_path / f"{n}.toml").write_text("\n".join([
                    f'id = "{n}"', f'listen = "tcp://127.0.0.1:{_free_port()}"', f'api = "{api[n]}"',
                    f'data_dir = "{n}-data"', "[[terminal]]", f'neighbour = "{other}"', 'kind = "beidou"',
                    f'device = "{dev[n]}"', f'peer_address = "{card[other]}"', "[terminal.overrides]",
                    "min_interval_s = 0.5"]) + "\n")
                procs.append(subprocess.Popen([sys.executable, "-m", "emcomm", "node", "--config",
                                               str(tmp_path / f"{n}.toml"), "--status-every", "0"], cwd=ROOT,
                                              stdout=subprocess.PIPE, stderr=open(tmp_path / f"{n}.log", "a"),
                                              text=True))
            for n, proc in zip("ab", procs):
                _wait_running(proc, tmp_path / f"{n}.log")
            sent = subprocess.run([sys.executable, "-m", "emcomm", "send", "--api", api["a"], "--to", "b",
                                   "--priority", "flash", "--wait", "30", "dam breach at km 12, evacuate"],
                                  cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert sent.returncode == 0, sent.stdout + sent.stderr + (tmp_path / "a.log").read_text()[-2000:]
            assert "delivered to b" in sent.stdout
            client_a, client_b = ApiClient(api["a"], timeout_s=10.0), ApiClient(api["b"], timeout_s=10.0)
            try:
                (msg,) = client_b.call("inbox")["messages"]
                term = client_a.call("status")["runtime"]["terminals"]["a-b/beidou"]
            finally:
                client_a.close()
                client_b.close()
            assert (msg["src"], msg["priority"]) == ("a", 0)
            assert msg["payload"] == "dam breach at km 12, evacuate".encode()
            assert term["up"] and term["address"] == A and term["counters"]["frames_out"] >= 1
            assert any(t.sender == A and t.to == B and t.express for t in emu.transmissions)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
                if p.stdout:
                    p.stdout.close()
