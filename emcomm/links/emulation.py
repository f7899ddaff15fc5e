"""Link emulation: how one direction of a link treats the frames put on it, over time.

This module owns the timing and fate of frames on an emulated link: serialisation at the
link's rate, propagation latency, seeded random loss, the MTU, the minimum interval
between two sends (a Beidou card sends once a minute), a bounded transmit backlog, and
state changes over time (down, reduced capacity, extra loss, extra latency). Frames in
flight when the link goes down are lost. It is sans-I/O and never reads a clock: the
caller passes ``now`` and asks which frames have arrived. The live ZeroMQ runtime holds
each outgoing frame until its arrival time; the drill engine schedules it on its event
heap. Same seed, same calls → same results.

Example
-------
>>> from emcomm.links.profiles import make_profile
>>> link = EmulatedLink(make_profile("tiantong", {"loss": 0.0}), seed=1)
>>> out = link.send(b"x" * 1200, now=0.0)          # 9,600 bits at 384 kbps = 25 ms
>>> round(out.arrival_s, 3)                         # + 0.275 s propagation
0.3
>>> link.send(b"x" * 2000, now=0.0).reason          # larger than the 1,400-byte MTU
'mtu'
>>> [f.frame for f in link.arrivals(now=1.0)] == [b"x" * 1200]
True
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
from typing import Any, Generic, TypeVar

from emcomm.errors import UsageError
from emcomm.links.profiles import LinkProfile

F = TypeVar("F")

# Drop reasons (stable tokens, used as counter names)
DOWN = "down"
LOSS = "loss"
MTU = "mtu"
BACKLOG = "backlog"
WENT_DOWN = "went_down"   # was in flight when the link went down
DROP_REASONS: tuple[str, ...] = (DOWN, LOSS, MTU, BACKLOG, WENT_DOWN)

DIRECTIONS = ("up", "down", "min")


@dataclasses.dataclass(frozen=True)
class Sent:
    """The frame is on its way: it starts transmitting at ``start_s`` and arrives at ``arrival_s``."""

    ticket: int
    start_s: float
    arrival_s: float
    reason: None = None


@dataclasses.dataclass(frozen=True)
class Dropped:
    """The link did not (or will not) deliver the frame; ``reason`` is one of DROP_REASONS."""

    reason: str
    detail: str
    ticket: int = -1


@dataclasses.dataclass(frozen=True)
class Arrival(Generic[F]):
    """A frame that reached the far end at ``arrival_s``."""

    ticket: int
    arrival_s: float
    frame: F


@dataclasses.dataclass(frozen=True)
class LinkState:
    """Conditions applied on top of the profile (hazards, outages, manual tests)."""

    up: bool = True
    capacity_factor: float = 1.0       # share of the profile's rate still available, (0, 1]
    extra_loss: float = 0.0            # added to the profile's loss probability
    extra_latency_s: float = 0.0       # added to the profile's one-way latency


class EmulatedLink(Generic[F]):
    """One direction of a link with the behaviour of its profile.

    ``direction`` picks the rate: ``"up"`` (field terminal towards the network), ``"down"``,
    or ``"min"`` (the bottleneck, default). ``max_backlog_s`` bounds how long a frame may
    wait for the transmitter (like a terminal's buffer); a frame that would wait longer
    is dropped with reason ``backlog``. ``enabled=False`` makes the link transparent
    (arrival = now, nothing dropped except when down) — used for benchmarks.
    """

    def __init__(self, profile: LinkProfile, seed: int, *, direction: str = "min",
                 max_backlog_s: float = 600.0, enabled: bool = True):
        if direction not in DIRECTIONS:
            raise UsageError(f"link direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        if not (max_backlog_s >= 0):
            raise UsageError(f"max_backlog_s must be ≥ 0, got {max_backlog_s!r}")
        self.profile = profile
        self.direction = direction
        self.max_backlog_s = float(max_backlog_s)
        self.enabled = enabled
        self.state = LinkState()
        self._rng = random.Random(seed)
        self._tx_free_s = -math.inf        # when the transmitter finishes its current frame
        self._last_start_s = -math.inf     # when the last frame started (for min_interval_s)
        self._in_flight: list[tuple[float, int, Any]] = []   # heap of (arrival_s, ticket, frame)
        self._tickets = 0
        self.sent_frames = 0
        self.sent_bytes = 0
        self.drops: dict[str, int] = {r: 0 for r in DROP_REASONS}

    # -- figures ---------------------------------------------------------------------
    @property
    def rate_bps(self) -> float:
        """Current rate after the capacity factor."""
        p = self.profile
        base = {"up": p.rate_up_bps, "down": p.rate_down_bps, "min": p.rate_bps}[self.direction]
        return base * self.state.capacity_factor

    @property
    def loss(self) -> float:
        """Current frame loss probability."""
        return min(1.0, self.profile.loss + self.state.extra_loss)

    @property
    def latency_s(self) -> float:
        """Current one-way latency."""
        return self.profile.latency_s + self.state.extra_latency_s

    def serialisation_s(self, size_bytes: int) -> float:
        """Time to clock ``size_bytes`` onto the link at the current rate."""
        return size_bytes * 8.0 / self.rate_bps

    # -- sending ---------------------------------------------------------------------
    def send(self, frame: F | int, now: float) -> Sent | Dropped:
        """Put a frame (bytes, or any object with a given size) on the link at ``now``.

        ``frame`` may be an ``int`` (a size in bytes, for drills that only need timing),
        ``bytes``, or a sequence of byte chunks (a multipart message; sizes are summed).
        Returns ``Sent`` with the arrival time (collect it later with ``arrivals``) or
        ``Dropped`` with a reason. A frame lost at random still occupies the link.

        >>> from emcomm.links.profiles import make_profile
        >>> b = EmulatedLink(make_profile("beidou", {"loss": 0.0}), seed=0)
        >>> [round(b.send(100, now=0.0).start_s) for _ in range(3)]   # one send per 60 s
        [0, 60, 120]
        """
        size = _size(frame)
        self._tickets += 1
        ticket = self._tickets
        if not self.state.up:
            return self._drop(DOWN, "the link is down", ticket)
        if not self.enabled:
            self._count(size)
            heapq.heappush(self._in_flight, (now, ticket, frame))
            return Sent(ticket, now, now)
        if size > self.profile.mtu_bytes:
            return self._drop(MTU, f"{size} bytes over the {self.profile.mtu_bytes}-byte MTU of {self.profile.kind.value}", ticket)
        start = max(now, self._tx_free_s, self._last_start_s + self.profile.min_interval_s)
        if start - now > self.max_backlog_s:
            return self._drop(BACKLOG, f"transmitter busy for {start - now:.1f} s (limit {self.max_backlog_s:.0f} s)", ticket)
        done = start + self.serialisation_s(size)
        self._tx_free_s = done
        self._last_start_s = start
        self._count(size)
        if self._rng.random() < self.loss:
            return self._drop(LOSS, f"lost at random (p={self.loss:.3g})", ticket)
        arrival = done + self.latency_s
        heapq.heappush(self._in_flight, (arrival, ticket, frame))
        return Sent(ticket, start, arrival)

    def arrivals(self, now: float) -> list[Arrival[F]]:
        """Frames whose arrival time is ≤ ``now``, in arrival order (removed from the link)."""
        out: list[Arrival[F]] = []
        while self._in_flight and self._in_flight[0][0] <= now:
            t, ticket, frame = heapq.heappop(self._in_flight)
            out.append(Arrival(ticket, t, frame))
        return out

    def next_arrival_s(self) -> float | None:
        """When the next frame in flight arrives, or None."""
        return self._in_flight[0][0] if self._in_flight else None

    @property
    def in_flight(self) -> int:
        """How many frames are on their way."""
        return len(self._in_flight)

    # -- conditions over time ---------------------------------------------------------
    def set_state(self, now: float, *, up: bool | None = None, capacity_factor: float | None = None,
                  extra_loss: float | None = None, extra_latency_s: float | None = None) -> list[Dropped]:
        """Change the link's conditions at ``now``; returns the frames lost by it.

        Going down loses every frame in flight and frees the transmitter. A capacity
        factor of 0 is the same as down. Unspecified conditions keep their value.

        >>> from emcomm.links.profiles import make_profile
        >>> l = EmulatedLink(make_profile("hts", {"loss": 0.0}), seed=0)
        >>> _ = l.send(1000, now=0.0)
        >>> [d.reason for d in l.set_state(0.1, up=False)]
        ['went_down']
        """
        s = self.state
        cf = s.capacity_factor if capacity_factor is None else float(capacity_factor)
        el = s.extra_loss if extra_loss is None else float(extra_loss)
        ex = s.extra_latency_s if extra_latency_s is None else float(extra_latency_s)
        if not (0.0 <= cf <= 1.0):
            raise UsageError(f"capacity_factor must be within 0..1, got {cf!r}")
        if not (0.0 <= el <= 1.0):
            raise UsageError(f"extra_loss must be within 0..1, got {el!r}")
        if not (ex >= 0.0 and math.isfinite(ex)):
            raise UsageError(f"extra_latency_s must be ≥ 0, got {ex!r}")
        new_up = s.up if up is None else bool(up)
        if cf == 0.0:
            new_up, cf = False, s.capacity_factor or 1.0
        lost: list[Dropped] = []
        if s.up and not new_up:
            # frames arriving exactly now made it; the rest are lost with the link
            keep = [e for e in self._in_flight if e[0] <= now]
            for t, ticket, _frame in sorted(e for e in self._in_flight if e[0] > now):
                lost.append(self._drop(WENT_DOWN, f"in flight (due at {t:.3f} s) when the link went down", ticket))
            self._in_flight = keep
            heapq.heapify(self._in_flight)
            self._tx_free_s = min(self._tx_free_s, now)
        self.state = LinkState(new_up, cf, el, ex)
        return lost

    # -- internals -------------------------------------------------------------------
    def _count(self, size: int) -> None:
        self.sent_frames += 1
        self.sent_bytes += size

    def _drop(self, reason: str, detail: str, ticket: int) -> Dropped:
        self.drops[reason] += 1
        return Dropped(reason, detail, ticket)


def _size(frame: Any) -> int:
    if isinstance(frame, bool):
        raise UsageError("a frame is bytes, a list of byte chunks, or a size in bytes; got a bool")
    if isinstance(frame, int):
        if frame < 0:
            raise UsageError(f"a frame size must be ≥ 0 bytes, got {frame}")
        return frame
    if isinstance(frame, (bytes, bytearray, memoryview)):
        return len(frame)
    if isinstance(frame, (list, tuple)):
        return sum(_size(part) for part in frame)
    raise UsageError(f"a frame is bytes, a list of byte chunks, or a size in bytes; got {type(frame).__name__}")
