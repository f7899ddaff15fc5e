"""The relay node's sans-I/O protocol core: bytes, timers and link events in; actions out.

This module owns the behaviour of one relay node: per-link priority queues, pacing, next
hop choice, hop-by-hop custody acks with retransmission, end-to-end receipts, duplicate
suppression, TTL expiry, fragmentation, link-state exchange and re-routing. It must not
touch a socket, a file or a clock: every call takes ``now`` (seconds on a clock that keeps
running across restarts, e.g. wall-clock seconds in the runtime, simulated seconds in a
drill) and returns a list of ``emcomm.node.actions`` for the runtime to execute in order.

Custody rule: a received DATA frame yields ``Persist``; only after the runtime calls
``stored([...])`` does the core send the hop-ack. A message submitted locally is acknowledged
to the application (``Receipt "accepted"``) only after ``stored``. A message is forgotten
only after the next hop has acknowledged custody, delivered, or expired.

Example
-------
>>> from emcomm.links.profiles import make_profile
>>> cfg = NodeConfig(links={"a-b/fibre": LinkConfig("b", make_profile("fibre"))})
>>> core = NodeCore("a", cfg)
>>> msg_id, actions = core.submit("b", Priority.FLASH, ContentType.TEXT, b"evacuate", now=0.0)
>>> [type(a).__name__ for a in actions]
['Persist']
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

from emcomm.errors import UsageError
from emcomm.links.profiles import LinkKind, LinkProfile
from emcomm.node.actions import Action, RestoredState
from emcomm.node.wire import ContentType
from emcomm.priority import Priority


@dataclasses.dataclass(frozen=True)
class LinkConfig:
    """One of the node's links: who is at the other end, and the link's profile."""

    neighbour: str
    profile: LinkProfile


# Lowest class (highest Priority value) allowed on a link kind: ROUTINE traffic is kept
# off the single Beidou send slot (DESIGN.md, "Priorities").
DEFAULT_LOWEST_CLASS: Mapping[str, int] = {
    LinkKind.BEIDOU_RDSS.value: int(Priority.PRIORITY),
    LinkKind.BEIDOU_GLOBAL.value: int(Priority.IMMEDIATE),
}

# Seconds of delay a class will accept to save one CNY: FLASH ignores money.
DEFAULT_MONEY_WEIGHT_S_PER_CNY: tuple[float, ...] = (0.0, 1.0, 30.0, 300.0)


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """A node's links (link_id → LinkConfig, or a ``(neighbour, profile)`` pair) and timers."""

    links: Mapping[str, LinkConfig]
    default_ttl_s: float = 86400.0
    hop_limit: int = 32
    heartbeat_interval_s: float = 10.0      # on links without a send interval
    dead_after_missed: int = 3              # heartbeats missed before a neighbour is down
    advert_refresh_s: float = 300.0         # re-advertise own links at least this often
    advert_min_gap_s: float = 5.0           # never advertise more often than this
    thin_link_advert_gap_s: float = 1800.0  # adverts on links with a send interval
    rto_min_s: float = 0.5                  # hop-ack timeout floor
    rto_max_s: float = 900.0                # backoff ceiling
    pacing_burst_s: float = 0.05            # how far ahead of the link rate frames may be handed out
    lowest_class: Mapping[str, int] = dataclasses.field(default_factory=lambda: dict(DEFAULT_LOWEST_CLASS))
    money_weight_s_per_cny: tuple[float, ...] = DEFAULT_MONEY_WEIGHT_S_PER_CNY

    def __post_init__(self) -> None:
        links: dict[str, LinkConfig] = {}
        for link_id, lc in dict(self.links).items():
            if isinstance(lc, tuple) and len(lc) == 2:
                lc = LinkConfig(*lc)
            if not isinstance(lc, LinkConfig) or not isinstance(lc.profile, LinkProfile):
                raise UsageError(f"link {link_id!r}: expected (neighbour id, LinkProfile), got {lc!r}")
            links[str(link_id)] = lc
        object.__setattr__(self, "links", links)


class NodeCore:
    """One relay node's protocol state machine (no I/O, no clock).

    Every public method returns the actions to execute, in order.
    """

    def __init__(self, node_id: str, config: NodeConfig, *, restored: RestoredState | None = None):
        """Create the core; ``restored`` is what the store gave back at start-up.

        Restored queued records go back into the queues, inbox records are delivered again
        on the first ``tick`` (same msg_id: the application deduplicates), seen ids keep
        suppressing duplicates, and the link-state database and advert sequence number
        resume from ``restored.kv``. All links start *up*; call ``link_changed`` for any
        the runtime knows to be down.
        """
        raise NotImplementedError

    def submit(self, dst: str, priority: Priority, content_type: ContentType, body: bytes,
               now: float, ttl_s: float | None = None, *, receipt: bool = True,
               msg_id: bytes | None = None) -> tuple[bytes, list[Action]]:
        """Accept a message from the local application: returns ``(msg_id, actions)``.

        The actions hold a ``Persist``; the message is queued and ``Receipt(msg_id,
        "accepted")`` emitted only when ``stored`` confirms it. Later ``Receipt`` actions
        report ``delivered`` (end-to-end receipt), ``expired`` or ``undeliverable``.
        ``msg_id`` may be given (16 bytes) for idempotent resubmission; otherwise it is
        random. Raises UsageError for a bad destination, size, TTL or priority.
        """
        raise NotImplementedError

    def handle_frame(self, link_id: str, data: bytes, now: float) -> list[Action]:
        """Process one frame received on ``link_id``. Never raises for bad input:
        a bad frame gives ``Dropped(reason, detail)`` and a counter increment."""
        raise NotImplementedError

    def stored(self, msg_ids: Iterable[bytes], now: float) -> list[Action]:
        """The runtime confirms that the records with these ids are durable.

        Received messages are then hop-acked (and delivered, if addressed here); submitted
        ones are accepted and queued. Unknown ids are ignored.
        """
        raise NotImplementedError

    def link_changed(self, link_id: str, up: bool, now: float, **measured: float) -> list[Action]:
        """A link went up or down, or its measured figures changed.

        ``measured`` may hold ``rate_bps``, ``latency_s``, ``loss`` (current values). Going
        down re-routes everything queued or awaiting a hop-ack on that link; any change is
        advertised to the mesh (rate-limited).
        """
        raise NotImplementedError

    def tick(self, now: float) -> list[Action]:
        """Run the timers due at ``now``: retransmissions with backoff, heartbeats, neighbour
        liveness, TTL expiry, link-state adverts, and paced sending of queued frames."""
        raise NotImplementedError

    def next_wakeup(self) -> float | None:
        """The earliest time ``tick`` must be called (None when nothing is pending).

        Calling ``tick`` earlier or more often is harmless."""
        raise NotImplementedError

    def snapshot(self, now: float) -> dict[str, Any]:
        """Telemetry: ``{"node", "t_s", "links": {id: {...}}, "queues": {link_id: [n per
        priority]}, "held": [n per priority], "counters": {...}, "in_flight": n}``."""
        raise NotImplementedError
