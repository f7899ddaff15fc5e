"""An emulated Beidou RDSS service: terminals on ptys and the satellite between them.

Owns the terminal side of the sentence protocol (answers $CCICA with $BDICI, streams
$BDBSI after $CCRMO, accepts or refuses $CCTXA with $BDFKI, delivers $BDTXR to the
addressed card after ``latency_s``) and the knobs a test or drill turns: signal per
terminal, a terminal that stops answering, raw bytes injected as if from the terminal.
It must not be imported by the node core; it is a test and drill fixture that reads the
wall clock (it plays a device), and it speaks only on local ptys.

Run as a command for manual tests with a real driver or a terminal program::

    python -m emcomm.links.emulators.beidou 0100001 0100002 --interval 5

Example
-------
>>> with BeidouEmulator(latency_s=0.01) as emu:
...     path = emu.add_terminal("0100001", interval_s=1.0)
...     path.startswith("/dev/")
True
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import itertools
import sys
import time
from typing import Callable

from emcomm.errors import RemoteInputError, UsageError
from emcomm.links.drivers import beidou_sentences as bs
from emcomm.links.drivers.nmea import BadSentence, SentenceReader
from emcomm.links.emulators.pty import PtyDevice
from emcomm.links.emulators.service import PtyService


@dataclasses.dataclass
class EmulatedTerminal:
    address: str
    device: PtyDevice
    interval_s: float
    max_message_bytes: int
    powers: tuple[int, ...]
    comm_level: int = 3
    answering: bool = True
    last_send_s: float = float("-inf")
    bsi_interval_s: float = 0.0
    next_bsi_s: float = float("inf")
    reader: SentenceReader = dataclasses.field(default_factory=SentenceReader)
    bad_input: int = 0


@dataclasses.dataclass(frozen=True)
class Transmission:
    """One message the emulated satellite carried (or could not deliver: ``to`` unknown)."""

    t_s: float
    sender: str
    to: str
    content: bytes
    express: bool
    delivered: bool


class BeidouEmulator(PtyService):
    """Beidou terminals on ptys sharing one emulated satellite; runs on its own thread."""

    thread_name = "beidou-emulator"

    def __init__(self, latency_s: float = 0.05, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.latency_s = latency_s
        self.terminals: dict[str, EmulatedTerminal] = {}
        self.transmissions: list[Transmission] = []
        self._pending: list[tuple[float, int, str, bytes]] = []   # (due, seq, to, sentence)
        self._seq = itertools.count()

    # ------------------------------------------------------------------ set-up and knobs
    def add_terminal(self, address: str, interval_s: float = 60.0, max_message_bytes: int = 14_000 // 8,
                     powers: tuple[int, ...] = (4, 3) + (0,) * 8, comm_level: int = 3) -> str:
        """Add a terminal with card ``address``; returns the pty path its driver opens."""
        if not (address.isdigit() and 1 <= len(address) <= 10):
            raise UsageError(f"a Beidou card address is 1..10 digits, got {address!r}")
        with self._lock:
            if address in self.terminals:
                raise UsageError(f"terminal {address} already exists in the emulator")
            dev = PtyDevice()
            self.terminals[address] = EmulatedTerminal(address, dev, interval_s, max_message_bytes,
                                                       tuple(powers), comm_level)
            return dev.path

    def set_signal(self, address: str, powers: tuple[int, ...]) -> None:
        """Beam powers (0..4) the terminal reports from now on."""
        with self._lock:
            self.terminals[address].powers = tuple(powers)

    def set_answering(self, address: str, answering: bool) -> None:
        """A terminal that does not answer ignores every command and reports nothing."""
        with self._lock:
            self.terminals[address].answering = answering

    def inject(self, address: str, raw: bytes) -> None:
        """Write raw bytes to the driver as if the terminal had sent them."""
        with self._lock:
            self.terminals[address].device.write(raw)

    # ------------------------------------------------------------------ the device loop
    def step(self, now: float) -> float:
        """Serve every terminal once; returns seconds until the next timer."""
        with self._lock:
            for term in self.terminals.values():
                data = term.device.read()
                if data and term.answering:
                    for item in term.reader.feed(data):
                        if isinstance(item, BadSentence):
                            term.bad_input += 1       # a real terminal ignores what it cannot parse
                            continue
                        try:
                            msg = bs.parse(item)
                        except RemoteInputError:
                            term.bad_input += 1
                            continue
                        self._serve(term, msg, now)
                if term.answering and now >= term.next_bsi_s:
                    term.device.write(bs.encode(bs.Bsi(1, 1, term.powers)))
                    term.next_bsi_s = now + term.bsi_interval_s
            while self._pending and self._pending[0][0] <= now:
                _, _, to, raw = heapq.heappop(self._pending)
                dest = self.terminals.get(to)
                if dest is not None and dest.answering:
                    dest.device.write(raw)
            timers = [t.next_bsi_s for t in self.terminals.values()] + [p[0] for p in self._pending[:1]]
            return max(0.0, min(timers, default=now + 1.0) - now)

    def _serve(self, term: EmulatedTerminal, msg: bs.Message, now: float) -> None:
        if isinstance(msg, bs.Ica):
            term.device.write(bs.encode(bs.Ici(term.address, f"{int(term.address):08d}", "0", 0,
                                               term.interval_s, term.comm_level, False, 0)))
        elif isinstance(msg, bs.Rmo) and msg.sentence == "BSI":
            if msg.mode == 2 and msg.interval_s > 0:
                term.bsi_interval_s, term.next_bsi_s = float(msg.interval_s), now
            else:
                term.bsi_interval_s, term.next_bsi_s = 0.0, float("inf")
        elif isinstance(msg, bs.Txa):
            self._transmit(term, msg, now)

    def _transmit(self, term: EmulatedTerminal, msg: bs.Txa, now: float) -> None:
        wait = term.last_send_s + term.interval_s - now
        if wait > 0:
            term.device.write(bs.encode(bs.Fki("TXA", False, False, 0, round(wait + 0.5))))
            return
        if max(term.powers, default=0) == 0:
            term.device.write(bs.encode(bs.Fki("TXA", False, True, 1, 0)))
            return
        if len(msg.content) > term.max_message_bytes:
            term.device.write(bs.encode(bs.Fki("TXA", False, True, 2, 0)))
            return
        term.last_send_s = now
        term.device.write(bs.encode(bs.Fki("TXA", True, True, 0, 0)))
        delivered = msg.to_address in self.terminals
        self.transmissions.append(Transmission(now, term.address, msg.to_address, msg.content, msg.express, delivered))
        if delivered:
            raw = bs.encode(bs.Txr(term.address, msg.content, 2 if msg.express else 1, msg.form,
                                   time.strftime("%H%M", time.gmtime())))
            heapq.heappush(self._pending, (now + self.latency_s, next(self._seq), msg.to_address, raw))

    def _devices(self) -> list[PtyDevice]:
        return [t.device for t in self.terminals.values()]

    def _poll_s(self, wait_s: float | None) -> float:
        return 0.05 if wait_s is None else min(wait_s, 0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emcomm.links.emulators.beidou",
                                     description="Emulated Beidou RDSS terminals on local pseudo-terminals.")
    parser.add_argument("addresses", nargs="+", help="card addresses (digits), one terminal each")
    parser.add_argument("--interval", type=float, default=60.0, help="card service interval, seconds (default 60)")
    parser.add_argument("--latency", type=float, default=0.5, help="delivery latency, seconds (default 0.5)")
    args = parser.parse_args(argv)
    try:
        emu = BeidouEmulator(latency_s=args.latency)
        for a in args.addresses:
            print(f"{a}\t{emu.add_terminal(a, interval_s=args.interval)}", flush=True)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with emu:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
