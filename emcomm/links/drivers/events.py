"""What a terminal driver tells its user, and the priority send queue drivers share.

Owns the event dataclasses every sans-I/O terminal driver returns (``Received``, ``Sent``,
``Deferred``, ``LinkChanged``, ``Problem``), the ``LinkStatus`` snapshot, and
``SendQueue``: messages waiting for the terminal, highest priority first, FIFO within a
priority, with a failed send put back at the head of its class. It must not do I/O or
read a clock.

Example
-------
>>> q = SendQueue()
>>> a = q.push("0200002", b"routine", 3, t_s=0.0)
>>> b = q.push("0200002", b"flash", 0, t_s=1.0)
>>> q.pop().payload
b'flash'
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from typing import Union

PRIORITY_CLASSES = 4          # FLASH=0 .. ROUTINE=3 (emcomm.priority)


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """One message waiting to be sent: ``ref`` identifies it in later events."""

    ref: int
    to: str
    payload: bytes
    priority: int
    queued_s: float
    attempts: int = 0


@dataclasses.dataclass(frozen=True)
class Received:
    """A message arrived from ``sender`` (card address or phone number)."""

    sender: str
    payload: bytes
    t_s: float


@dataclasses.dataclass(frozen=True)
class Sent:
    """The terminal accepted message ``ref`` for transmission."""

    ref: int
    t_s: float


@dataclasses.dataclass(frozen=True)
class Deferred:
    """Message ``ref`` could not go now and is back at the head of its queue."""

    ref: int
    reason: str
    retry_at_s: float


@dataclasses.dataclass(frozen=True)
class LinkChanged:
    """The link went up or down; ``reason`` says why in words a responder understands."""

    up: bool
    reason: str
    t_s: float


@dataclasses.dataclass(frozen=True)
class Problem:
    """The terminal sent something unusable (dropped and counted); ``reason`` is a counter name."""

    reason: str
    detail: str


Event = Union[Received, Sent, Deferred, LinkChanged, Problem]


@dataclasses.dataclass(frozen=True)
class LinkStatus:
    """A snapshot for status displays and link-state adverts."""

    up: bool
    reason: str
    queued: tuple[int, ...]               # messages waiting per priority class
    next_send_s: float | None             # earliest time the terminal may send again
    max_message_bytes: int
    min_interval_s: float
    address: str = ""                     # own card address / phone number once known
    signal: int | None = None             # best beam power 0..4 (Beidou) or RSSI step (Tiantong)
    problems: dict[str, int] = dataclasses.field(default_factory=dict)


class SendQueue:
    """Priority classes of FIFO queues; ``requeue`` puts a message back at its head."""

    def __init__(self) -> None:
        self._q: list[collections.deque[Outgoing]] = [collections.deque() for _ in range(PRIORITY_CLASSES)]
        self._refs = itertools.count(1)

    def push(self, to: str, payload: bytes, priority: int, t_s: float) -> int:
        if not isinstance(priority, int) or not 0 <= priority < PRIORITY_CLASSES:
            from emcomm.errors import UsageError
            raise UsageError(f"priority must be 0 (FLASH) .. 3 (ROUTINE), got {priority!r}")
        ref = next(self._refs)
        self._q[priority].append(Outgoing(ref, to, payload, priority, t_s))
        return ref

    def pop(self) -> Outgoing | None:
        for q in self._q:
            if q:
                return q.popleft()
        return None

    def requeue(self, msg: Outgoing) -> None:
        self._q[msg.priority].appendleft(dataclasses.replace(msg, attempts=msg.attempts + 1))

    def depths(self) -> tuple[int, ...]:
        return tuple(len(q) for q in self._q)

    def __len__(self) -> int:
        return sum(len(q) for q in self._q)
