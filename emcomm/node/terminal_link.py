"""Node links carried by a real serial terminal (Beidou RDSS, Tiantong SMS): the runtime hook.

Owns the ``[[terminal]]`` tables of node.toml (``TerminalSpec``) and ``TerminalLinks``:
for each such link a ``TerminalPort`` with its sans-I/O driver, and the translation
between the node core and the driver. Transmit actions on the link become
``driver.send(peer_address, frame, priority, now)``; bytes received from the peer's card
or number become ``core.handle_frame`` on the link; the driver's link state becomes
``core.link_changed``. It must not make protocol decisions (the core and the driver do)
and must not read a clock: ``now`` comes from the runtime, and the port is given the
runtime's clock.

The core is told the link's MTU and minimum send interval from the driver's status once
the terminal has answered at start-up (a Beidou card's own service interval wins when it
is longer than the configured one).

node.toml::

    [[terminal]]
    neighbour = "cc"              # node id at the other end of the link
    kind = "beidou"               # beidou, beidou_global or tiantong
    device = "/dev/ttyUSB0"       # serial device (or any pyserial URL)
    peer_address = "0100002"      # the neighbour's card address (Beidou) or phone number (Tiantong)
    baudrate = 115200             # optional
    settle_s = 5.0                # optional: how long start-up waits for the terminal to answer
    # link_id = "cc-relay1/beidou"  # default: both ends derive the same id
    [terminal.overrides]          # any LinkProfile override (e.g. min_interval_s of the card)
    min_interval_s = 60.0

Frames arriving over a terminal do not pass ZAP/CURVE (there is no connection to
authenticate): with security on, the core still checks every message's end-to-end
signature, and only frames from the configured peer address are accepted.

Example
-------
>>> spec = terminal_spec("a", {"neighbour": "b", "kind": "beidou", "device": "/dev/ttyUSB0",
...                           "peer_address": "0100002"}, "terminal[0]")
>>> spec.link_id, spec.profile.mtu_bytes, spec.profile.min_interval_s
('a-b/beidou', 1750, 60.0)
>>> TerminalLinks().core_links()      # a node without terminals: nothing to do
{}
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from typing import Any, Callable, Mapping, Sequence

from emcomm.errors import TerminalError, UsageError
from emcomm.links.drivers.beidou import BeidouConfig, BeidouLink
from emcomm.links.drivers.events import Deferred, LinkChanged, Problem, Received, Sent
from emcomm.links.drivers.tiantong import TiantongLink
from emcomm.links.drivers.transport import TerminalPort
from emcomm.links.profiles import LinkKind, LinkProfile, make_profile
from emcomm.node.actions import Transmit
from emcomm.node.config import check_node_id, default_link_id
from emcomm.node.core import LinkConfig

log = logging.getLogger("emcomm.node.terminal")

TERMINAL_KINDS = (LinkKind.BEIDOU_RDSS, LinkKind.BEIDOU_GLOBAL, LinkKind.TIANTONG)
_KEYS = {"neighbour", "kind", "device", "peer_address", "baudrate", "settle_s", "link_id", "overrides"}
_BEIDOU_ADDRESS = re.compile(r"^\d{1,10}$")
_PHONE = re.compile(r"^\+?\d{3,20}$")
REOPEN_EVERY_S = 5.0           # a port that failed is reopened this often
NO_FD_POLL_S = 0.05            # ports without a file descriptor (pyserial URLs) are polled this often


@dataclasses.dataclass(frozen=True)
class TerminalSpec:
    """One link of this node that goes through a serial terminal."""

    neighbour: str
    kind: LinkKind
    device: str
    peer_address: str
    link_id: str
    profile: LinkProfile
    baudrate: int = 115200
    settle_s: float = 5.0


def terminal_spec(own: str, raw: Mapping[str, Any], where: str) -> TerminalSpec:
    """Check one ``[[terminal]]`` table of node.toml (``own`` is this node's id).

    >>> terminal_spec("a", {"neighbour": "b", "kind": "hts", "device": "x", "peer_address": "1"}, "t")
    Traceback (most recent call last):
    ...
    emcomm.errors.UsageError: t.kind: 'hts' has no serial terminal driver; use beidou, beidou_global or tiantong
    """
    if not isinstance(raw, Mapping):
        raise UsageError(f"{where} must be a table with neighbour, kind, device and peer_address")
    unknown = set(raw) - _KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(_KEYS))}")
    for key in ("neighbour", "kind", "device", "peer_address"):
        if key not in raw:
            raise UsageError(f"{where}: missing '{key}'")
    nid = check_node_id(raw["neighbour"], f"{where}.neighbour")
    if nid == own:
        raise UsageError(f"{where}: a node cannot be its own neighbour ({nid!r})")
    kind_raw = raw["kind"]
    try:
        kind = LinkKind.parse(kind_raw) if isinstance(kind_raw, str) else None
    except UsageError:
        kind = None
    if kind not in TERMINAL_KINDS:
        raise UsageError(f"{where}.kind: {kind_raw!r} has no serial terminal driver; "
                         f"use {', '.join(k.value for k in TERMINAL_KINDS[:-1])} or {TERMINAL_KINDS[-1].value}")
    device = raw["device"]
    if not isinstance(device, str) or not device:
        raise UsageError(f"{where}.device must be a serial device path like /dev/ttyUSB0, got {device!r}")
    peer = raw["peer_address"]
    pattern, what = ((_PHONE, "a phone number of 3..20 digits with an optional '+'") if kind is LinkKind.TIANTONG
                     else (_BEIDOU_ADDRESS, "a Beidou card address of 1..10 digits"))
    if not isinstance(peer, str) or not pattern.match(peer):
        raise UsageError(f"{where}.peer_address must be {what} (as a quoted string), got {peer!r}")
    baudrate = raw.get("baudrate", 115200)
    if isinstance(baudrate, bool) or not isinstance(baudrate, int) or not 50 <= baudrate <= 4_000_000:
        raise UsageError(f"{where}.baudrate must be a serial speed like 9600 or 115200, got {baudrate!r}")
    settle_s = raw.get("settle_s", 5.0)
    if isinstance(settle_s, bool) or not isinstance(settle_s, (int, float)) or not 0 <= settle_s <= 120:
        raise UsageError(f"{where}.settle_s must be 0..120 seconds, got {settle_s!r}")
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise UsageError(f"{where}.overrides must be a table of profile figures")
    try:
        profile = make_profile(kind, overrides)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    link_id = raw.get("link_id") or default_link_id(own, nid, kind)
    if not isinstance(link_id, str) or len(link_id) > 128:
        raise UsageError(f"{where}.link_id must be a non-empty string of at most 128 characters")
    return TerminalSpec(nid, kind, device, peer, link_id, profile, baudrate, float(settle_s))


def terminal_specs(own: str, raw: Any, source: str) -> tuple[TerminalSpec, ...]:
    """All ``[[terminal]]`` tables of a node config, checked."""
    if not isinstance(raw, list):
        raise UsageError(f"{source}: terminal links are given as [[terminal]] tables")
    return tuple(terminal_spec(own, t, f"{source}: terminal[{i}]") for i, t in enumerate(raw))


def make_driver(spec: TerminalSpec) -> Any:
    """The sans-I/O driver for a spec: Beidou paced by the profile's interval and MTU."""
    if spec.kind is LinkKind.TIANTONG:
        return TiantongLink()
    return BeidouLink(BeidouConfig(max_message_bytes=spec.profile.mtu_bytes,
                                   interval_s=spec.profile.min_interval_s))


class _Terminal:
    """One terminal link: its port, driver, and what the core was last told."""

    def __init__(self, spec: TerminalSpec, port: TerminalPort):
        self.spec = spec
        self.port: TerminalPort | None = port
        self.driver = port.driver
        self.told_up = True                  # the core starts every link up
        self.reopen_at = math.inf
        self.profile = spec.profile
        self.counters: dict[str, int] = {}

    def count(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]


class TerminalLinks:
    """The node's terminal links, as the runtime drives them (empty when there are none)."""

    def __init__(self, terminals: Sequence[_Terminal] = (), clock: Callable[[], float] = time.time):
        self._t = {t.spec.link_id: t for t in terminals}
        self._clock = clock

    @classmethod
    def open(cls, specs: Sequence[TerminalSpec], clock: Callable[[], float] = time.time) -> "TerminalLinks":
        """Open every port, start its driver and wait up to ``settle_s`` for the terminal to
        answer, so the core can be told the driver's MTU and send interval.

        TerminalError names the port that cannot be opened (nothing stays open then).
        """
        opened: list[_Terminal] = []
        try:
            for spec in specs:
                port = TerminalPort(make_driver(spec), spec.device, baudrate=spec.baudrate, clock=clock)
                opened.append(_Terminal(spec, port))
                port.start()
            for t in opened:
                _settle(t, clock)
        except BaseException:
            for t in opened:
                if t.port is not None:
                    t.port.close()
            raise
        return cls(opened, clock)

    def core_links(self) -> dict[str, LinkConfig]:
        """Link id → LinkConfig for the core (profile with the driver's MTU and interval)."""
        return {lid: LinkConfig(t.spec.neighbour, t.profile) for lid, t in self._t.items()}

    def fds(self) -> list[int]:
        """File descriptors to wait on in the poll loop."""
        out = []
        for t in self._t.values():
            fd = _fileno(t.port)
            if fd is not None:
                out.append(fd)
        return out

    def deadlines(self) -> list[float]:
        """Times the loop must wake for the drivers' timers (send slot, answer timeout, reopen)."""
        out: list[float] = []
        for t in self._t.values():
            if t.port is None:
                out.append(t.reopen_at)
                continue
            d = self.driver_deadline(t)
            if d is not None:
                out.append(d)
        return out

    def driver_deadline(self, t: _Terminal) -> float | None:
        d = t.driver.next_deadline()
        if _fileno(t.port) is None:
            poll_at = self._clock() + NO_FD_POLL_S
            d = poll_at if d is None else min(d, poll_at)
        return d

    def transmit(self, action: Transmit, now: float) -> bool:
        """Queue a Transmit on its terminal; False when the link is not a terminal link."""
        t = self._t.get(action.link_id)
        if t is None:
            return False
        try:
            t.driver.send(t.spec.peer_address, action.data, int(action.priority), now)
            t.count("queued")
        except TerminalError as exc:       # bigger than the card takes: the core's hop-ack timer copes
            n = t.count("dropped.too_large")
            if n <= 10:
                log.warning("terminal link %s: frame not queued: %s", t.spec.link_id, exc)
        return True

    def pump(self, core: Any, now: float) -> list[Any]:
        """Read every port, run the drivers' timers and write what they want written; returns
        the core's actions for the frames received and the link changes seen."""
        actions: list[Any] = []
        for t in self._t.values():
            if t.port is None:
                if now >= t.reopen_at:
                    self._reopen(t, now)
                if t.port is None:
                    actions += self._tell(t, core, False, now, "serial port closed after an error")
                    continue
            try:
                events = t.port.pump(0.0)          # type: ignore[union-attr]
            except TerminalError as exc:
                log.error("terminal link %s: %s; reopening every %.0f s", t.spec.link_id, exc, REOPEN_EVERY_S)
                t.port.close()                     # type: ignore[union-attr]
                t.port, t.reopen_at = None, now + REOPEN_EVERY_S
                t.count("port_errors")
                actions += self._tell(t, core, False, now, str(exc))
                continue
            for ev in events:
                if isinstance(ev, Received):
                    if ev.sender == t.spec.peer_address:
                        t.count("frames_in")
                        actions += core.handle_frame(t.spec.link_id, ev.payload, now)
                    elif t.count("dropped.unknown_sender") <= 10:
                        log.warning("terminal link %s: message from %s dropped (only %s is configured on this link)",
                                    t.spec.link_id, ev.sender, t.spec.peer_address)
                elif isinstance(ev, Sent):
                    t.count("frames_out")
                elif isinstance(ev, Deferred):
                    t.count("deferred")
                    log.debug("terminal link %s: %s", t.spec.link_id, ev.reason)
                elif isinstance(ev, Problem):
                    if t.count(f"problem.{ev.reason}") <= 10:
                        log.warning("terminal link %s: %s (%s)", t.spec.link_id, ev.reason, ev.detail)
                elif isinstance(ev, LinkChanged):
                    log.info("terminal link %s %s: %s", t.spec.link_id, "up" if ev.up else "DOWN", ev.reason)
            st = t.driver.status()
            actions += self._tell(t, core, st.up, now, st.reason)
        return actions

    def _tell(self, t: _Terminal, core: Any, up: bool, now: float, reason: str) -> list[Any]:
        if up == t.told_up:
            return []
        t.told_up = up
        if not up:
            log.warning("terminal link %s is down: %s", t.spec.link_id, reason)
        return core.link_changed(t.spec.link_id, up, now)

    def _reopen(self, t: _Terminal, now: float) -> None:
        try:
            port = TerminalPort(t.driver, t.spec.device, baudrate=t.spec.baudrate, clock=self._clock)
            port.start()
        except TerminalError as exc:
            t.reopen_at = now + REOPEN_EVERY_S
            log.debug("terminal link %s: still cannot reopen: %s", t.spec.link_id, exc)
            return
        t.port, t.reopen_at = port, math.inf
        log.info("terminal link %s: port %s reopened", t.spec.link_id, t.spec.device)

    def status(self) -> dict[str, Any]:
        """Per terminal link: the driver's status, the port and this adapter's counters."""
        out: dict[str, Any] = {}
        for lid, t in self._t.items():
            st = t.driver.status()
            out[lid] = {"kind": t.spec.kind.value, "device": t.spec.device, "neighbour": t.spec.neighbour,
                        "peer_address": t.spec.peer_address, "port_open": t.port is not None,
                        **dataclasses.asdict(st), "counters": dict(t.counters)}
        return out

    def close(self) -> None:
        for t in self._t.values():
            if t.port is not None:
                t.port.close()
                t.port = None
        self._t.clear()


def _fileno(port: TerminalPort | None) -> int | None:
    if port is None:
        return None
    try:
        return port.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _settle(t: _Terminal, clock: Callable[[], float]) -> None:
    """Pump until the terminal has answered (card known / link up) or ``settle_s`` passed,
    then take the MTU and send interval from the driver's status."""
    assert t.port is not None
    end = clock() + t.spec.settle_s
    while True:
        st = t.driver.status()
        if st.up or clock() >= end:
            break
        t.port.pump(min(0.05, max(0.0, end - clock())))
    st = t.driver.status()
    if not st.up:
        log.warning("terminal link %s on %s is not up yet: %s", t.spec.link_id, t.spec.device, st.reason)
    t.profile = t.spec.profile.with_overrides(mtu_bytes=min(t.spec.profile.mtu_bytes, st.max_message_bytes),
                                              min_interval_s=max(t.spec.profile.min_interval_s, st.min_interval_s))
