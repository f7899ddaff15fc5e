"""The Tiantong short-message link driver: a sans-I/O state machine over AT commands.

Owns the AT dialogue with a Tiantong handset or terminal for SMS in text mode: set-up,
sending (``AT+CMGS``, prompt, Ctrl-Z), receiving (``+CMTI`` → ``AT+CMGR`` → ``AT+CMGD``),
and link state from registration (``AT+CREG?``) and signal (``AT+CSQ``). It must not
open ports, sleep or read a clock (``transport.TerminalPort`` drives it, as for Beidou).

Sources: 3GPP TS 27.005 (SMS AT commands: +CMGF text mode 3.2.3, +CMGS 3.5.1 with the
"> " prompt and Ctrl-Z (0x1A), +CNMI/+CMTI 3.4.1, +CMGR 3.4.3, +CMGD 3.5.4, +CMS ERROR
3.2.5); 3GPP TS 27.007 (+CSQ 8.5: rssi 0..31, 99 unknown; +CREG 7.2: stat 1 home,
5 roaming); 3GPP TS 23.038/23.040: one SMS carries 140 octets = 160 GSM 7-bit
characters. emcomm's binary frames travel base64-encoded in text mode, so one SMS
carries 160 / 4 * 3 = 120 bytes. Tiantong-1 handsets offer SMS through this standard
AT interface (their manuals); packet data is not driven here.

Example
-------
>>> link = TiantongLink()
>>> link.start(0.0)
b'ATE0\\r'
>>> _ = link.receive_data(b"\\r\\nOK\\r\\n", 0.1)
>>> link.poll(0.1)[0]
b'AT+CMGF=1\\r'
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import math
import re

from emcomm.errors import TerminalError, UsageError
from emcomm.links.drivers.events import (Deferred, Event, LinkChanged, LinkStatus, Outgoing, Problem, Received,
                                         SendQueue, Sent)

SMS_TEXT_CHARS = 160                       # TS 23.038: 160 GSM 7-bit characters per SMS
MAX_SMS_PAYLOAD_BYTES = SMS_TEXT_CHARS // 4 * 3   # base64 of 120 bytes is 160 characters
CTRL_Z = b"\x1a"
_PHONE = re.compile(r"^\+?\d{3,20}$")
_FINAL = re.compile(rb"^(OK|ERROR|\+CMS ERROR: ?\d+|\+CME ERROR: ?.+)$")


@dataclasses.dataclass(frozen=True)
class TiantongConfig:
    """``min_rssi``: +CSQ step (0..31) needed to call the link up; ``status_poll_s``: how
    often registration and signal are asked; ``answer_timeout_s``: a command unanswered
    that long means the terminal is not answering (send waits on a satellite hop, so
    it is generous)."""

    min_rssi: int = 1
    status_poll_s: float = 10.0
    answer_timeout_s: float = 30.0
    text_mode: bool = False      # SMS to and from people (a gateway modem): plain text, no base64

    def __post_init__(self) -> None:
        if not 0 <= self.min_rssi <= 31:
            raise UsageError(f"Tiantong configuration: min_rssi must be 0..31, got {self.min_rssi}")
        if self.status_poll_s <= 0 or self.answer_timeout_s <= 0:
            raise UsageError("Tiantong configuration: status_poll_s and answer_timeout_s must be > 0")


@dataclasses.dataclass
class _Cmd:
    line: bytes
    kind: str                    # setup, csq, creg, cmgs, cmgr, cmgd
    msg: Outgoing | None = None
    index: int = 0
    lines: list[bytes] = dataclasses.field(default_factory=list)
    sent_s: float = 0.0
    prompted: bool = False


class TiantongLink:
    """One Tiantong terminal seen from the computer (text-mode SMS)."""

    SETUP = (b"ATE0\r", b"AT+CMGF=1\r", b"AT+CNMI=2,1,0,0,0\r")

    def __init__(self, config: TiantongConfig | None = None):
        self.config = config or TiantongConfig()
        self._queue = SendQueue()
        self._cmds: collections.deque[_Cmd] = collections.deque()
        self._current: _Cmd | None = None
        self._buf = bytearray()
        self._out = bytearray()
        self._started = False
        self._answering = True
        self._registered: bool | None = None
        self._rssi: int | None = None
        self._next_status_s = math.inf
        self._up = False
        self._reason = "not started"
        self.problems: dict[str, int] = {}

    @property
    def max_message_bytes(self) -> int:
        return SMS_TEXT_CHARS if self.config.text_mode else MAX_SMS_PAYLOAD_BYTES

    def start(self, now: float) -> bytes:
        self._started = True
        for line in self.SETUP:
            self._cmds.append(_Cmd(line, "setup"))
        self._queue_status()
        self._next_status_s = now + self.config.status_poll_s
        self._issue(now)
        return self._take()

    def send(self, number: str, payload: bytes, priority: int, now: float) -> int:
        """Queue ``payload`` as one SMS to ``number``; TerminalError when it does not fit."""
        if not _PHONE.match(number):
            raise UsageError(f"a phone number is 3..20 digits with an optional '+', got {number!r}")
        if self.config.text_mode:
            if len(payload) > SMS_TEXT_CHARS or any(not 32 <= b < 127 for b in payload):
                raise TerminalError(f"a text-mode SMS is at most {SMS_TEXT_CHARS} printable ASCII characters "
                                    f"(TS 23.038 default alphabet subset), got {len(payload)} bytes")
            return self._queue.push(number, bytes(payload), priority, now)
        if len(payload) > MAX_SMS_PAYLOAD_BYTES:
            raise TerminalError(f"message of {len(payload)} bytes exceeds one Tiantong SMS ({MAX_SMS_PAYLOAD_BYTES} "
                                f"bytes base64-encoded in 160 characters); split it into fragments")
        return self._queue.push(number, bytes(payload), priority, now)

    # ------------------------------------------------------------------ bytes in
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        events: list[Event] = []
        self._buf += data
        while True:
            cur = self._current
            if cur is not None and cur.kind == "cmgs" and not cur.prompted and self._buf.lstrip(b"\r\n").startswith(b">"):
                del self._buf[:self._buf.index(b">") + 1]
                cur.prompted = True
                assert cur.msg is not None
                self._out += (cur.msg.payload if self.config.text_mode else base64.b64encode(cur.msg.payload)) + CTRL_Z
                continue
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > 4096:
                    self._buf.clear()
                    events.append(self._problem("oversize", "line longer than 4096 bytes from the terminal"))
                break
            line = bytes(self._buf[:nl]).strip()
            del self._buf[:nl + 1]
            if line:
                self._answering = True
                events += self._line(line, now)
        self._issue(now)
        return events + self._update_state(now)

    def _line(self, line: bytes, now: float) -> list[Event]:
        if line.startswith(b"+CMTI:"):                                # unsolicited: a message is stored
            try:
                index = int(line.split(b",")[-1])
            except ValueError:
                return [self._problem("malformed", f"bad +CMTI line {line[:40]!r}")]
            self._cmds.appendleft(_Cmd(b"AT+CMGR=%d\r" % index, "cmgr", index=index))
            return []
        cur = self._current
        if cur is None:
            return []                                                 # stray line (URC we do not use)
        if not _FINAL.match(line):
            cur.lines.append(line)
            return []
        self._current = None
        ok = line == b"OK"
        return self._finish(cur, ok, line.decode("latin-1"), now)

    def _finish(self, cmd: _Cmd, ok: bool, result: str, now: float) -> list[Event]:
        if cmd.kind == "csq" and ok:
            m = next((re.match(rb"\+CSQ: ?(\d+),", l) for l in cmd.lines if l.startswith(b"+CSQ")), None)
            self._rssi = int(m.group(1)) if m else None
        elif cmd.kind == "creg" and ok:
            m = next((re.match(rb"\+CREG: ?\d+,(\d+)", l) for l in cmd.lines if l.startswith(b"+CREG")), None)
            self._registered = bool(m) and int(m.group(1)) in (1, 5)   # type: ignore[union-attr]
        elif cmd.kind == "cmgs":
            assert cmd.msg is not None
            if ok:
                return [Sent(cmd.msg.ref, now)]
            self._queue.requeue(cmd.msg)
            return [Deferred(cmd.msg.ref, f"Tiantong terminal refused the SMS ({result}); kept in the queue", now)]
        elif cmd.kind == "cmgr" and ok:
            self._cmds.appendleft(_Cmd(b"AT+CMGD=%d\r" % cmd.index, "cmgd"))
            return self._read_sms(cmd, now)
        elif not ok:
            return [self._problem("command_failed", f"{cmd.line.strip().decode()} answered {result}")]
        return []

    def _read_sms(self, cmd: _Cmd, now: float) -> list[Event]:
        head = next((l for l in cmd.lines if l.startswith(b"+CMGR:")), None)
        body = [l for l in cmd.lines if not l.startswith(b"+CMGR:")]
        if head is None or not body:
            return [self._problem("malformed", f"+CMGR answer without header or text for index {cmd.index}")]
        fields = head.split(b",")
        sender = fields[1].strip(b'" ').decode("latin-1") if len(fields) > 1 else ""
        try:
            if self.config.text_mode:
                raise ValueError("text mode: never base64")
            payload = base64.b64decode(b"".join(body), validate=True)
        except (binascii.Error, ValueError):
            # a person typed it on a handset: deliver the text as UTF-8
            payload = b"\n".join(body).decode("latin-1").encode("utf-8")
        return [Received(sender, payload, now)]

    # ------------------------------------------------------------------ timers and bytes out
    def poll(self, now: float) -> tuple[bytes, list[Event]]:
        events: list[Event] = []
        cur = self._current
        if cur is not None and now - cur.sent_s >= self.config.answer_timeout_s:
            self._current = None
            self._answering = False
            if cur.msg is not None:
                self._queue.requeue(cur.msg)
                events.append(Deferred(cur.msg.ref, f"Tiantong terminal did not answer within "
                                       f"{self.config.answer_timeout_s:g} s; message kept in the queue", now))
            self._buf.clear()
            self._cmds.clear()
            self._cmds.extend([_Cmd(b"AT\r", "setup")])
            self._queue_status()
        if self._started and now >= self._next_status_s:
            self._next_status_s = now + self.config.status_poll_s
            if not any(c.kind in ("csq", "creg") for c in self._cmds):
                self._queue_status()
        events += self._update_state(now)
        if self._up and self._current is None and not self._cmds and len(self._queue):
            msg = self._queue.pop()
            assert msg is not None
            self._cmds.append(_Cmd(f'AT+CMGS="{msg.to}"\r'.encode(), "cmgs", msg=msg))
        self._issue(now)
        return self._take(), events

    def next_deadline(self) -> float | None:
        times = [self._next_status_s]
        if self._current is not None:
            times.append(self._current.sent_s + self.config.answer_timeout_s)
        if self._up and len(self._queue) and self._current is None:
            times.append(-math.inf)
        return max(min(times), -1e18) if self._started else None

    def _queue_status(self) -> None:
        self._cmds.append(_Cmd(b"AT+CREG?\r", "creg"))
        self._cmds.append(_Cmd(b"AT+CSQ\r", "csq"))

    def _issue(self, now: float) -> None:
        if self._current is None and self._cmds and self._started:
            self._current = self._cmds.popleft()
            self._current.sent_s = now
            self._out += self._current.line

    def _take(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def _problem(self, reason: str, detail: str) -> Problem:
        self.problems[reason] = self.problems.get(reason, 0) + 1
        return Problem(reason, detail)

    def _state(self) -> tuple[bool, str]:
        if not self._started:
            return False, "not started"
        if not self._answering:
            return False, "Tiantong terminal not answering: check its power and cable"
        if self._registered is None or self._rssi is None:
            return False, "waiting for registration and signal from the Tiantong terminal"
        if not self._registered:
            return False, "Tiantong terminal not registered on the network: move to open sky facing south"
        if self._rssi == 99 or self._rssi < self.config.min_rssi:
            return False, f"no usable Tiantong signal (CSQ {self._rssi})"
        return True, f"up (CSQ {self._rssi})"

    def _update_state(self, now: float) -> list[Event]:
        up, reason = self._state()
        changed = up != self._up
        self._up, self._reason = up, reason
        return [LinkChanged(up, reason, now)] if changed else []

    def status(self) -> LinkStatus:
        return LinkStatus(up=self._up, reason=self._reason, queued=self._queue.depths(), next_send_s=None,
                          max_message_bytes=self.max_message_bytes, min_interval_s=0.0,
                          signal=self._rssi, problems=dict(self.problems))
