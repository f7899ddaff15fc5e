"""The Beidou RDSS link driver: a sans-I/O state machine over the terminal's sentences.

Owns what the computer says to a Beidou short-message terminal and when: the card query
at start, the signal-status subscription, one TXA at a time paced by the card's service
interval, highest priority first, and the link state derived from card, signal and
whether the terminal answers. It must not open ports, sleep or read a clock: bytes come
in through ``receive_data(data, now)``, bytes to write come out of ``poll(now)``, and
``now`` is monotonic seconds from the caller (``transport.py`` drives a real port).

Rules:
- A message larger than the card's limit is refused at ``send`` (TerminalError): the
  caller fragments (the node core does, from the link's MTU).
- A message leaves the queue only when the terminal confirms it ($BDFKI,TXA,Y). A refusal,
  or no answer within ``answer_timeout_s``, puts it back at the head of its class:
  queued messages stay queued.
- The next TXA waits for the card's service interval after the last accepted one (the
  card's own figure from $BDICI wins over the configured one when it is longer) or for
  the wait time the terminal gives in a refusal.
- The link is up when the card is known, the terminal answers and a beam has power
  of at least ``min_beam_power`` in a signal report no older than ``signal_stale_s``.

Example
-------
>>> from emcomm.links.drivers import beidou_sentences as bs
>>> link = BeidouLink(BeidouConfig(interval_s=60.0))
>>> out = link.start(0.0)          # card query + signal subscription
>>> b"$CCICA" in out and b"$CCRMO,BSI" in out
True
>>> ev = link.receive_data(bs.encode(bs.Ici("0100001", "1", "0", 0, 60, 3, False, 0))
...                        + bs.encode(bs.Bsi(1, 1, (4,) + (0,) * 9)), now=0.5)
>>> [type(e).__name__ for e in ev], link.status().up
(['LinkChanged'], True)
>>> ref = link.send("0100002", b"\\x01\\x02", priority=0, now=1.0)
>>> link.poll(1.0)[0].startswith(b"$CCTXA,0100002,0,1,0102*")
True
"""

from __future__ import annotations

import dataclasses
import math

from emcomm.errors import RemoteInputError, TerminalError, UsageError
from emcomm.links.drivers import beidou_sentences as bs
from emcomm.links.drivers.events import (Deferred, Event, LinkChanged, LinkStatus, Outgoing, Problem, Received,
                                         SendQueue, Sent)
from emcomm.links.drivers.nmea import BadSentence, SentenceReader


@dataclasses.dataclass(frozen=True)
class BeidouConfig:
    """Figures for one terminal and card.

    ``max_message_bytes``: BDS-3 regional short message, 14,000 bits per message (China
    Satellite Navigation Office, BDS Open Service Performance Standard; see
    emcomm.links.profiles); set it from the card's communication level for older cards.
    ``interval_s``: one message per card per interval, 60 s the common civil figure
    (DESIGN.md link table); the card's $BDICI figure wins when longer.
    ``min_beam_power``: beam power (0..4 scale of $BDBSI) needed to call the link up; 1 is
    this driver's default (any beam locked), raise it to keep off marginal sky views.
    """

    max_message_bytes: int = 14_000 // 8
    interval_s: float = 60.0
    min_beam_power: int = 1
    answer_timeout_s: float = 5.0
    signal_stale_s: float = 15.0
    signal_report_interval_s: int = 1
    express_priorities: tuple[int, ...] = (0,)     # FLASH goes as an express (category 0) message

    def __post_init__(self) -> None:
        checks = [
            (self.max_message_bytes >= 1, f"max_message_bytes must be >= 1, got {self.max_message_bytes}"),
            (math.isfinite(self.interval_s) and self.interval_s >= 0, f"interval_s must be >= 0, got {self.interval_s}"),
            (0 <= self.min_beam_power <= bs.MAX_BEAM_POWER, f"min_beam_power must be 0..{bs.MAX_BEAM_POWER}, got {self.min_beam_power}"),
            (self.answer_timeout_s > 0, f"answer_timeout_s must be > 0, got {self.answer_timeout_s}"),
            (self.signal_stale_s > 0, f"signal_stale_s must be > 0, got {self.signal_stale_s}"),
            (1 <= self.signal_report_interval_s <= 3600, "signal_report_interval_s must be 1..3600"),
        ]
        for ok, msg in checks:
            if not ok:
                raise UsageError(f"Beidou terminal configuration: {msg}")


class BeidouLink:
    """One Beidou terminal seen from the computer (see the module rules)."""

    def __init__(self, config: BeidouConfig | None = None):
        self.config = config or BeidouConfig()
        self._reader = SentenceReader()
        self._queue = SendQueue()
        self._out = bytearray()
        self.card: bs.Ici | None = None
        self.signal: bs.Bsi | None = None
        self._signal_t: float = -math.inf
        self._in_flight: Outgoing | None = None
        self._waiting_since: float | None = None       # when the current unanswered command went out
        self._waiting_for: str = ""                    # "ICI" or "FKI"
        self._answering = True
        self._next_send_s = -math.inf
        self._started = False
        self._up = False
        self._reason = "not started"
        self.problems: dict[str, int] = {}

    # ------------------------------------------------------------------ commands
    def start(self, now: float) -> bytes:
        """Bytes that ask for the card information and turn on signal reports."""
        self._started = True
        self._reason = "waiting for the terminal's card information"
        self._command(bs.encode(bs.Ica()), "ICI", now)
        self._out += bs.encode(bs.Rmo("BSI", 2, self.config.signal_report_interval_s))
        return self._take()

    def send(self, to_address: str, payload: bytes, priority: int, now: float) -> int:
        """Queue ``payload`` for card ``to_address``; returns a reference used in events.

        TerminalError when the payload exceeds the card's message length.
        """
        if len(payload) > self.max_message_bytes:
            raise TerminalError(f"message of {len(payload)} bytes exceeds the Beidou card's limit of "
                                f"{self.max_message_bytes} bytes; split it into fragments of at most that size")
        bs.encode_txa(bs.Txa(to_address, b""))          # validates the address now, not at send time
        return self._queue.push(to_address, bytes(payload), priority, now)

    @property
    def max_message_bytes(self) -> int:
        return self.config.max_message_bytes

    @property
    def interval_s(self) -> float:
        card = self.card.interval_s if self.card else 0.0
        return max(self.config.interval_s, card)

    # ------------------------------------------------------------------ bytes in
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the terminal; returns what happened."""
        events: list[Event] = []
        for item in self._reader.feed(data):
            if isinstance(item, BadSentence):
                events.append(self._problem(item.reason, item.detail))
                continue
            try:
                msg = bs.parse(item)
            except RemoteInputError as exc:
                events.append(self._problem(exc.reason, exc.detail))
                continue
            self._answering = True
            events += self._handle(msg, now)
        events += self._update_state(now)
        return events

    def _handle(self, msg: bs.Message, now: float) -> list[Event]:
        if isinstance(msg, bs.Ici):
            self.card = msg
            if self._waiting_for == "ICI":
                self._clear_wait()
            return []
        if isinstance(msg, bs.Bsi):
            self.signal, self._signal_t = msg, now
            return []
        if isinstance(msg, bs.Txr):
            return [Received(msg.from_address, msg.content, now)]
        if isinstance(msg, bs.Fki):
            if msg.command != "TXA" or self._in_flight is None:
                return []
            sent, self._in_flight = self._in_flight, None
            self._clear_wait()
            if msg.done:
                self._next_send_s = now + self.interval_s
                return [Sent(sent.ref, now)]
            self._queue.requeue(sent)
            wait = msg.wait_s if msg.wait_s > 0 else self.interval_s
            self._next_send_s = max(self._next_send_s, now + wait)
            why = "the send interval has not passed" if not msg.interval_ok else (
                f"transmission inhibited (code {msg.inhibit})" if msg.inhibit else "the terminal refused it")
            return [Deferred(sent.ref, f"Beidou terminal: {why}; retry in {wait:g} s", self._next_send_s)]
        return [self._problem("unexpected_sentence", f"{type(msg).__name__} is a computer-to-terminal sentence")]

    # ------------------------------------------------------------------ timers and bytes out
    def poll(self, now: float) -> tuple[bytes, list[Event]]:
        """Bytes to write now (a TXA when the queue, the link and the interval allow, a
        renewed card query when the terminal has gone quiet) and the events timers raised
        (a message put back after silence, the link going down)."""
        events = self._check_timeouts(now)
        events += self._update_state(now)
        if not self._started:
            return self._take(), events
        if self.card is None and self._waiting_since is None:
            self._command(bs.encode(bs.Ica()), "ICI", now)
        elif self._up and self._in_flight is None and self._waiting_since is None and now >= self._next_send_s:
            msg = self._queue.pop()
            if msg is not None:
                self._in_flight = msg
                express = msg.priority in self.config.express_priorities
                self._command(bs.encode_txa(bs.Txa(msg.to, msg.payload, express=express)), "FKI", now)
        return self._take(), events

    def next_deadline(self) -> float | None:
        """The next time ``poll`` has something to do without new bytes (None: nothing)."""
        times = []
        if self._waiting_since is not None:
            times.append(self._waiting_since + self.config.answer_timeout_s)
        if self._up and len(self._queue) and self._in_flight is None and self._waiting_since is None:
            times.append(self._next_send_s)
        if self._up:
            times.append(self._signal_t + self.config.signal_stale_s)
        return min(times) if times else None

    def _check_timeouts(self, now: float) -> list[Event]:
        events: list[Event] = []
        if self._waiting_since is not None and now - self._waiting_since >= self.config.answer_timeout_s:
            self._answering = False
            if self._in_flight is not None:
                msg, self._in_flight = self._in_flight, None
                self._queue.requeue(msg)
                events.append(Deferred(msg.ref, f"Beidou terminal did not answer within "
                                       f"{self.config.answer_timeout_s:g} s; message kept in the queue", now))
            self._clear_wait()
            # ask again; the answer brings the link back
            self._command(bs.encode(bs.Ica()), "ICI", now)
        return events

    def _command(self, raw: bytes, answer: str, now: float) -> None:
        self._out += raw
        self._waiting_since, self._waiting_for = now, answer

    def _clear_wait(self) -> None:
        self._waiting_since, self._waiting_for = None, ""

    def _take(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def _problem(self, reason: str, detail: str) -> Problem:
        self.problems[reason] = self.problems.get(reason, 0) + 1
        return Problem(reason, detail)

    # ------------------------------------------------------------------ state
    def _state(self, now: float) -> tuple[bool, str]:
        if not self._started:
            return False, "not started"
        if not self._answering:
            return False, "Beidou terminal not answering: check its power and serial cable"
        if self.card is None:
            return False, "waiting for the terminal's card information (is a card inserted?)"
        if self.signal is None or now - self._signal_t > self.config.signal_stale_s:
            return False, "no signal report from the terminal"
        if self.signal.best_power < self.config.min_beam_power:
            return False, (f"no Beidou signal (best beam power {self.signal.best_power} of "
                           f"{bs.MAX_BEAM_POWER}): move to open sky")
        return True, f"up (card {self.card.address}, beam power {self.signal.best_power})"

    def _update_state(self, now: float) -> list[Event]:
        up, reason = self._state(now)
        changed = up != self._up
        self._up, self._reason = up, reason
        return [LinkChanged(up, reason, now)] if changed else []

    def status(self) -> LinkStatus:
        """What a status display or a link-state advert needs."""
        return LinkStatus(up=self._up, reason=self._reason, queued=self._queue.depths(),
                          next_send_s=None if self._next_send_s == -math.inf else self._next_send_s,
                          max_message_bytes=self.max_message_bytes, min_interval_s=self.interval_s,
                          address=self.card.address if self.card else "",
                          signal=self.signal.best_power if self.signal else None, problems=dict(self.problems))
