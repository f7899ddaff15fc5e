"""An emulated Tiantong SMS service: handsets on ptys answering AT commands in text mode.

Owns the handset side of the AT dialogue the driver uses (ATE0, AT, +CMGF, +CNMI, +CSQ,
+CREG?, +CMGS with its "> " prompt and Ctrl-Z, +CMTI, +CMGR, +CMGD; 3GPP TS 27.005 /
27.007) and the knobs a test turns: signal, registration, a handset that stops
answering. A test and drill fixture: it reads the wall clock and speaks on local ptys.

Example
-------
>>> with TiantongEmulator() as emu:
...     emu.add_handset("+8617400000001").startswith("/dev/")
True
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import re
import time
from typing import Callable

from emcomm.errors import UsageError
from emcomm.links.emulators.pty import PtyDevice
from emcomm.links.emulators.service import PtyService

_CMGS = re.compile(rb'^AT\+CMGS="([+\d]+)"$')
_INDEX = re.compile(rb"^AT\+CMG([RD])=(\d+)$")


@dataclasses.dataclass
class Handset:
    number: str
    device: PtyDevice
    rssi: int = 20
    registered: bool = True
    answering: bool = True
    buf: bytearray = dataclasses.field(default_factory=bytearray)
    sending_to: str | None = None
    stored: dict[int, tuple[str, bytes]] = dataclasses.field(default_factory=dict)
    next_index: int = 1


class TiantongEmulator(PtyService):
    """Tiantong handsets on ptys sharing one emulated satellite network."""

    thread_name = "tiantong-emulator"

    def __init__(self, latency_s: float = 0.05, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.latency_s = latency_s
        self.handsets: dict[str, Handset] = {}
        self.sent: list[tuple[float, str, str, bytes]] = []          # (t, from, to, text)
        self._pending: list[tuple[float, int, str, str, bytes]] = []
        self._seq = itertools.count()

    def add_handset(self, number: str, rssi: int = 20) -> str:
        if not re.match(r"^\+?\d{3,20}$", number):
            raise UsageError(f"a phone number is 3..20 digits with an optional '+', got {number!r}")
        with self._lock:
            dev = PtyDevice()
            self.handsets[number] = Handset(number, dev, rssi)
            return dev.path

    def set_signal(self, number: str, rssi: int, registered: bool = True) -> None:
        with self._lock:
            h = self.handsets[number]
            h.rssi, h.registered = rssi, registered

    def set_answering(self, number: str, answering: bool) -> None:
        with self._lock:
            self.handsets[number].answering = answering

    def _reply(self, h: Handset, *lines: bytes) -> None:
        h.device.write(b"".join(b"\r\n" + l + b"\r\n" for l in lines))

    def step(self, now: float) -> None:
        with self._lock:
            for h in self.handsets.values():
                data = h.device.read()
                if not data or not h.answering:
                    continue
                h.buf += data
                self._serve(h, now)
            while self._pending and self._pending[0][0] <= now:
                _, _, sender, to, text = heapq.heappop(self._pending)
                dest = self.handsets[to]
                idx = dest.next_index
                dest.next_index += 1
                dest.stored[idx] = (sender, text)
                if dest.answering:
                    self._reply(dest, b'+CMTI: "SM",%d' % idx)

    def _serve(self, h: Handset, now: float) -> None:
        while True:
            if h.sending_to is not None:
                z = h.buf.find(b"\x1a")
                if z < 0:
                    return
                text, to = bytes(h.buf[:z]), h.sending_to
                del h.buf[:z + 1]
                h.sending_to = None
                if not h.registered or h.rssi in (0, 99) or len(text) > 160:
                    self._reply(h, b"+CMS ERROR: 331" if not h.registered else b"+CMS ERROR: 500")
                    continue
                self.sent.append((now, h.number, to, text))
                if to in self.handsets:
                    heapq.heappush(self._pending, (now + self.latency_s, next(self._seq), h.number, to, text))
                self._reply(h, b"+CMGS: %d" % (len(self.sent) % 256), b"OK")
                continue
            cr = h.buf.find(b"\r")
            if cr < 0:
                return
            cmd = bytes(h.buf[:cr]).strip()
            del h.buf[:cr + 1]
            if not cmd:
                continue
            self._command(h, cmd)

    def _command(self, h: Handset, cmd: bytes) -> None:
        if cmd in (b"AT", b"ATE0", b"AT+CMGF=1") or cmd.startswith(b"AT+CNMI="):
            self._reply(h, b"OK")
        elif cmd == b"AT+CSQ":
            self._reply(h, b"+CSQ: %d,99" % h.rssi, b"OK")
        elif cmd == b"AT+CREG?":
            self._reply(h, b"+CREG: 0,%d" % (1 if h.registered else 2), b"OK")
        elif m := _CMGS.match(cmd):
            h.sending_to = m.group(1).decode()
            h.device.write(b"\r\n> ")
        elif m := _INDEX.match(cmd):
            idx = int(m.group(2))
            if idx not in h.stored:
                self._reply(h, b"+CMS ERROR: 321")          # TS 27.005: invalid memory index
            elif m.group(1) == b"R":
                sender, text = h.stored[idx]
                self._reply(h, b'+CMGR: "REC UNREAD","%s",,"21/07/20,17:30:00+32"' % sender.encode(), text, b"OK")
            else:
                del h.stored[idx]
                self._reply(h, b"OK")
        else:
            self._reply(h, b"ERROR")

    def _devices(self) -> list[PtyDevice]:
        return [h.device for h in self.handsets.values()]

    def _poll_s(self, wait_s: float | None) -> float:
        return 0.02     # step keeps no timer of its own to report
