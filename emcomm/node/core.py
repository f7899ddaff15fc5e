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

import collections
import dataclasses
import heapq
import itertools
import math
import os
import random
from typing import Any, Iterable, Mapping

from emcomm.errors import RemoteInputError, UsageError
from emcomm.links.profiles import LinkProfile
from emcomm.node import telemetry as tm
from emcomm.node import wire
from emcomm.node.actions import (
    STATE_INBOX, STATE_QUEUED, Action, Deliver, Dropped, Forget, MessageRecord, Persist, Receipt,
    RestoredState, Telemetry, Transmit, built,
)
from emcomm.node.fragment import Reassembler, control_frame_id, split, split_control
from emcomm.node.lsdb import LinkStateDB
from emcomm.node.queues import PriorityQueues
from emcomm.node.routing import THIN_RATE_BPS, RouteProvider
from emcomm.node.wire import ContentType, Envelope
from emcomm.priority import Priority
from emcomm.router.policy import RoutingPolicy

KV_LSDB = "lsdb"
KV_LSA_SEQ = "lsa_seq"
ACK_ID_BYTES = wire.MSG_ID_BYTES + 2        # one id inside a HOP_ACK frame
SEEN_MARGIN_S = 600.0                       # keep an id this long past its expiry
SEEN_BUCKET_S = 60.0                        # ids expire in buckets this wide (up to this much later)
SEEN_IDS_MAX = 100_000                      # ids held in memory for duplicate suppression (default)
RTX_COMPACT_MIN = 1024                      # retransmission-timer entries before dead ones are dropped
TTL_COMPACT_MIN = 4096                      # expiry-heap entries before those of finished messages are dropped
RECEIPT_MIN_TTL_S = 300.0                   # a receipt's way back: at least this, however late its message came

_NOT_UNICAST = (wire.BROADCAST, wire.GROUP_PREFIX)   # first character of a broadcast or group destination

def _persist_run(out: list[Action], records: list[MessageRecord], seen: list[tuple[bytes, float, int]]) -> None:
    """One Persist for a run of relayed records taken by the fast lane (the run is emptied)."""
    if records:
        out.append(built(Persist, records=tuple(records), seen=tuple(seen), kv=()))
        records.clear()
        seen.clear()


# Order of frame sources at equal class on a link: acks release custody upstream first.
_ACK, _DATA, _ADVERT, _HEARTBEAT = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class LinkConfig:
    """One of the node's links: who is at the other end, and the link's profile.

    Both ends of a link must use the same link id (it is the key in the topology graph).
    """

    neighbour: str
    profile: LinkProfile


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """A node's links (link_id → LinkConfig, or a ``(neighbour, profile)`` pair) and timers."""

    links: Mapping[str, LinkConfig]
    groups: frozenset[str] = frozenset()    # "@name" groups this node belongs to
    default_ttl_s: float = 86400.0
    hop_limit: int = 32
    heartbeat_interval_s: float = 10.0      # idle links send a heartbeat this often
    thin_heartbeat_intervals: float = 10.0  # ... or this many send intervals on interval-limited links
    dead_after_missed: int = 3              # heartbeats missed before a neighbour counts as gone
    advert_refresh_s: float = 300.0         # re-advertise own links at least this often
    advert_min_gap_s: float = 2.0           # adverts on a link at most this often
    thin_link_advert_gap_s: float = 1800.0  # ... and this often on thin links
    rto_min_s: float = 0.5                  # hop-ack timeout floor
    rto_max_s: float = 900.0                # backoff ceiling
    pacing_burst_s: float = 0.05            # how far ahead of the link rate frames may be handed out
    reassembly_slots: int = 4               # a fragmented frame may take this many × (count × interval) to arrive
    policy: RoutingPolicy = dataclasses.field(default_factory=RoutingPolicy.default)
    telemetry: bool = True                  # emit per-message Telemetry actions
    # duplicate suppression keeps each id seen until its TTL + SEEN_MARGIN_S, but at most this
    # many in memory (≈ 270 B each on a relay): past it those that would expire first go early
    seen_ids_max: int = SEEN_IDS_MAX

    def __post_init__(self) -> None:
        links: dict[str, LinkConfig] = {}
        for link_id, lc in dict(self.links).items():
            if isinstance(lc, tuple) and len(lc) == 2:
                lc = LinkConfig(*lc)
            if not isinstance(lc, LinkConfig) or not isinstance(lc.profile, LinkProfile):
                raise UsageError(f"link {link_id!r}: expected (neighbour id, LinkProfile), got {lc!r}")
            if not wire.valid_id(str(link_id)) or not wire.valid_id(lc.neighbour):
                raise UsageError(f"link {link_id!r} to {lc.neighbour!r}: ids must be printable, 1..{wire.MAX_ID_BYTES} bytes")
            links[str(link_id)] = lc
        object.__setattr__(self, "links", links)
        object.__setattr__(self, "groups", frozenset(self.groups))
        bad = [g for g in self.groups if not g.startswith(wire.GROUP_PREFIX)]
        if bad:
            raise UsageError(f"group names start with '{wire.GROUP_PREFIX}': {bad}")
        if not (isinstance(self.seen_ids_max, int) and self.seen_ids_max >= 1):
            raise UsageError(f"seen_ids_max must be a whole number of ids >= 1, got {self.seen_ids_max!r}")
        if not 1 <= self.hop_limit <= wire.MAX_HOPS:
            raise UsageError(f"hop_limit must be 1..{wire.MAX_HOPS}, got {self.hop_limit}")
        for name in ("default_ttl_s", "heartbeat_interval_s", "advert_refresh_s", "rto_min_s", "rto_max_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise UsageError(f"{name} must be a positive number of seconds, got {v!r}")


# ------------------------------------------------------------------------------ state
@dataclasses.dataclass(eq=False, slots=True)
class _Msg:
    env: Envelope
    expires_s: float
    local: bool                 # submitted on this node (by the application or as a receipt)
    app: bool                   # submitted by the application (gets Receipt actions)
    from_link: str | None
    mine: bool                  # addressed to this node (delivered here)
    stage: str = "storing"      # storing → custody → done
    copies: dict[str, "_Copy"] = dataclasses.field(default_factory=dict)
    held: bool = False
    size_bytes: int = 0         # encoded envelope size (route choice), set when first encoded
    early: bool = False         # forwarded while "storing" (cut-through; see _on_envelope)
    handed_early: bool = False  # ... and every copy was hop-acked before the store confirmed it

    @property
    def arrival_hops(self) -> int:
        """The hop count it came with (-1: originated here): what ``_handed`` keeps once it is
        handed on, and what its seen id is stored with, so that a restart keeps it too."""
        return -1 if self.local else self.env.hop_count


@dataclasses.dataclass(eq=False, slots=True)
class _Copy:
    msg: _Msg
    link_id: str
    frames: list[bytes] | None = None
    next_frag: int = 0
    attempts: int = 0
    retransmit_s: float = math.inf
    sent_once: bool = False
    live: bool = True


@dataclasses.dataclass(eq=False)
class _Link:
    link_id: str
    neighbour: str
    profile: LinkProfile
    rate_bps: float
    latency_s: float
    loss: float
    last_heard_s: float
    phys_up: bool = True
    alive: bool = True
    heard_once: bool = False
    busy_until_s: float = -math.inf
    next_send_s: float = -math.inf
    last_sent_s: float = -math.inf
    last_advert_s: float = -math.inf
    queue: PriorityQueues[_Copy] = dataclasses.field(default_factory=PriorityQueues)
    inflight: dict[bytes, _Copy] = dataclasses.field(default_factory=dict)
    acks: list[bytes] = dataclasses.field(default_factory=list)
    ack_priority: int = int(Priority.ROUTINE)
    adverts: dict[str, wire.LinkStateAdvert] = dataclasses.field(default_factory=dict)
    advert_frames: list[bytes] = dataclasses.field(default_factory=list)   # fragments of the advert being sent
    advert_sending: tuple[str, int] | None = None                           # its (origin, seq)
    index: int = 0                  # position in the node's links (order of liveness checks)
    heartbeat_s: float = 10.0       # send a heartbeat after this long without sending
    due_s: float = math.nan         # cached earliest time this link needs a tick (nan: not in the heap)
    hb_rx: tuple[bytes, Any] = (b"", None)                  # last heartbeat received: bytes, decoded
    hb_tx: tuple[tuple[int, int, bytes], bytes] = ((-1, -1, b""), b"")  # last heartbeat sent: seqs+digest, bytes
    summary: bytes = b""            # our LSDB summary waiting to go (link came up, the neighbour's digest differs)
    last_summary_s: float = -math.inf
    summary_last: bool = False      # the last control frame sent was a summary: an advert waiting goes next

    @property
    def usable(self) -> bool:
        return self.phys_up and self.alive

    @property
    def thin(self) -> bool:
        return self.profile.min_interval_s > 0 or self.rate_bps < THIN_RATE_BPS


class NodeCore:
    """One relay node's protocol state machine (no I/O, no clock).

    Every public method returns the actions to execute, in order. ``counters`` counts
    frames, drops by reason, duplicates, deliveries and retransmissions.
    """

    _batching = False       # inside handle_frames: links are pumped once, after the last frame
    _pump_due = False

    def __init__(self, node_id: str, config: NodeConfig, *, restored: RestoredState | None = None,
                 seed: int | None = None, security: Any = None):
        """Create the core; ``restored`` is what the store gave back at start-up.

        Restored queued records go back into the queues, inbox records are delivered again
        on the first ``tick`` (same msg_id: the application/inbox deduplicates), seen ids
        keep suppressing duplicates, and the link-state database and advert sequence
        number resume from ``restored.kv``. All links start *up*; call ``link_changed`` for
        any the runtime knows to be down. ``seed`` makes message ids reproducible (drills);
        without it ids come from ``os.urandom``. Liveness timers start at the first call.
        """
        if not wire.valid_id(node_id) or node_id == wire.BROADCAST or node_id.startswith(wire.GROUP_PREFIX):
            raise UsageError(f"node id {node_id!r} must be a printable id of 1..{wire.MAX_ID_BYTES} bytes, "
                             f"not '{wire.BROADCAST}' and not starting with '{wire.GROUP_PREFIX}'")
        self.node_id = node_id
        self.config = config
        # emcomm.node.security.NodeSecurity (or None: insecure mode): signs what this node
        # originates, admits/refuses envelopes, opens group bodies and installs rosters
        self.security = security
        self._rng = random.Random(seed) if seed is not None else None
        self.counters: collections.Counter[str] = collections.Counter()
        self._links: dict[str, _Link] = {
            lid: _Link(lid, lc.neighbour, lc.profile, lc.profile.rate_bps, lc.profile.latency_s,
                       lc.profile.loss, last_heard_s=0.0)
            for lid, lc in config.links.items()
        }
        for i, link in enumerate(self._links.values()):
            link.index = i
            link.heartbeat_s = max(config.heartbeat_interval_s, config.thin_heartbeat_intervals * link.profile.min_interval_s)
        # per-link wake-up times, recomputed only for links touched since the last look
        self._due_heap: list[tuple[float, int, _Link]] = []
        self._touched: dict[str, _Link] = dict(self._links)
        self._msgs: dict[bytes, _Msg] = {}
        # duplicate suppression: id -> expiry bucket (ids expire with their bucket: one list slot
        # per id instead of a heap entry); the heap holds the bucket numbers, oldest first
        self._seen: dict[bytes, int] = {}
        self._seen_buckets: dict[int, tuple[int, list[bytes]]] = {}
        self._seen_heap: list[int] = []
        self._seen_evict_at = config.seen_ids_max + max(64, config.seen_ids_max // 16)
        # unicast messages handed on to a next hop (hop-acked): the hop count they arrived with
        # (-1: originated here); a copy that comes back with more hops is looping (_on_envelope)
        self._handed: dict[bytes, int] = {}
        self._ttl_heap: list[tuple[float, bytes]] = []
        self._rtx_heap: list[tuple[float, int, _Copy]] = []
        self._rtx_compact_at = RTX_COMPACT_MIN
        self._ttl_compact_at = TTL_COMPACT_MIN
        self._tie = itertools.count()
        self._held: dict[bytes, _Msg] = {}
        self._redeliver: list[_Msg] = []
        self._reasm = Reassembler()
        self.lsdb = LinkStateDB(node_id)
        self.routes = RouteProvider(node_id, self._links, config.policy)
        self._lsa_seq = 0
        self._own_lsa = wire.LinkStateAdvert(node_id, 0, 0.0, ())
        self._own_dirty = True
        self._last_own_advert_s = -math.inf
        self._routes_dirty = True
        self._graph_key: tuple[int, tuple[wire.LinkAdvert, ...]] | None = None   # what routes were built from
        self._pending: list[Action] = []     # actions produced outside a call (restore), flushed by the next one
        self._started = False
        self._lsdb_bytes = b""
        if restored is not None:
            self._restore(restored)

    # ------------------------------------------------------------------ public API
    def submit(self, dst: str, priority: Priority, content_type: ContentType, body: bytes,
               now: float, ttl_s: float | None = None, *, receipt: bool = True,
               msg_id: bytes | None = None) -> tuple[bytes, list[Action]]:
        """Accept a message from the local application: returns ``(msg_id, actions)``.

        The actions hold a ``Persist``; the message is queued and ``Receipt(msg_id,
        "accepted")`` emitted only when ``stored`` confirms it. Later ``Receipt`` actions
        report ``delivered`` (end-to-end receipt), ``expired`` or ``undeliverable``.
        ``msg_id`` may be given (16 bytes) for idempotent resubmission; otherwise it is
        random. Raises UsageError for a bad destination, size, TTL or priority.

        >>> from emcomm.links.profiles import make_profile
        >>> core = NodeCore("a", NodeConfig(links={"ab": ("b", make_profile("radio"))}))
        >>> mid, acts = core.submit("b", Priority.ROUTINE, ContentType.TEXT, b"ok", now=0.0)
        >>> [type(a).__name__ for a in core.stored([mid], now=0.0)][:1]
        ['Receipt']
        """
        prio = Priority.parse(priority)
        ctype = ContentType.parse(content_type)
        if ctype == ContentType.ACK:
            raise UsageError("content type 'ack' is reserved for end-to-end receipts")
        if not isinstance(dst, str) or not wire.valid_id(dst):
            raise UsageError(f"destination {dst!r} must be a node id, '@group' or '*' (1..{wire.MAX_ID_BYTES} bytes)")
        if not isinstance(body, (bytes, bytearray)):
            raise UsageError(f"body must be bytes, got {type(body).__name__}")
        if len(body) > wire.MAX_BODY_BYTES:
            raise UsageError(f"body of {len(body)} bytes exceeds the limit of {wire.MAX_BODY_BYTES}; "
                             "send large files as several file_chunk messages")
        ttl = self.config.default_ttl_s if ttl_s is None else ttl_s
        if not isinstance(ttl, (int, float)) or not math.isfinite(ttl) or not 0 < ttl <= wire.MAX_TTL_S:
            raise UsageError(f"ttl_s must be in (0, {wire.MAX_TTL_S:.0f}] seconds, got {ttl!r}")
        if msg_id is None:
            msg_id = self._new_id()
        elif not isinstance(msg_id, bytes) or len(msg_id) != wire.MSG_ID_BYTES:
            raise UsageError(f"msg_id must be {wire.MSG_ID_BYTES} bytes")
        if msg_id in self._msgs or msg_id in self._seen:
            return msg_id, [Receipt(msg_id, "accepted", "already accepted (resubmission)")]
        env = wire.make_envelope(msg_id, self.node_id, dst, int(prio), int(ctype), now, float(ttl), bytes(body),
                                 hop_limit=self.config.hop_limit, receipt=receipt)
        if self.security is not None:
            env = self.security.seal(env, now)
        self._start(now)
        msg = _Msg(env, now + ttl, local=True, app=True, from_link=None, mine=self._is_mine(dst))
        return msg_id, self._accept(msg, now)

    def handle_frame(self, link_id: str, data: bytes, now: float) -> list[Action]:
        """Process one frame received on ``link_id``. Never raises for bad input:
        a bad frame gives ``Dropped(reason, detail)`` and a counter increment."""
        self._start(now)
        out: list[Action] = []
        self.counters["rx_frames"] += 1
        link = self._links.get(link_id)
        if link is None:
            return self._drop(out, "unknown_link", f"frame on link {link_id!r}, which is not configured here", now)
        if self.security is not None and link.neighbour in self.security.blocked:
            return self._drop(out, "peer_cut_off", f"on {link_id}: {link.neighbour} was cut off", now)
        if data == link.hb_rx[0]:
            frame = link.hb_rx[1]       # the neighbour's heartbeat, same bytes as last time: same frame
        else:
            try:
                frame = wire.decode(data)
            except RemoteInputError as exc:
                return self._drop(out, exc.reason, f"on {link_id}: {exc.detail}", now)
            if type(frame) is wire.Heartbeat:
                link.hb_rx = (bytes(data), frame)
        self._heard(link, now, out)
        if isinstance(frame, wire.Fragment):
            deadline = self.config.reassembly_slots * frame.count * max(link.profile.min_interval_s, 1.0) + 60.0
            frag_id = frame.msg_id
            whole = self._reasm.add(link_id, frame, now, deadline)
            self.counters["rx_fragments"] += 1
            if whole is None:
                return out
            data = whole        # the frame as if it had come in one piece
            try:
                frame = wire.decode(whole)
            except RemoteInputError as exc:
                return self._drop(out, exc.reason, f"reassembled on {link_id}: {exc.detail}", now)
            # a message's fragments carry its id; an advert's carry the digest of the whole frame
            if isinstance(frame, Envelope):
                if frame.msg_id != frag_id:
                    return self._drop(out, "bad_field", f"fragments on {link_id} did not make a message", now)
            elif (not isinstance(frame, (wire.LinkStateAdvert, wire.LinkStateSummary))
                  or control_frame_id(whole) != frag_id):
                return self._drop(out, "bad_field", f"fragments on {link_id} did not make a message "
                                                    "or a link-state advert with a matching digest", now)
        if isinstance(frame, Envelope):
            self._on_envelope(link, frame, now, out, data if type(data) is bytes else bytes(data))
        elif isinstance(frame, wire.HopAck):
            self._on_hop_ack(link, frame, now, out)
        elif isinstance(frame, wire.LinkStateAdvert):
            self._on_advert(link, frame, now, out)
        elif isinstance(frame, wire.Heartbeat):
            self.counters["rx_heartbeats"] += 1
            if frame.node_id != link.neighbour:
                self._drop(out, "wrong_peer", f"heartbeat from {frame.node_id!r} on {link_id}, "
                                              f"expected {link.neighbour!r}", now)
            elif (frame.known_seq < self._lsa_seq and self.node_id not in link.adverts
                  and link.advert_sending != (self.node_id, self._lsa_seq)):
                # the neighbour missed our latest advert (adverts are not acked): send it again
                link.adverts[self.node_id] = self._own_lsa
                self.counters["advert_resends"] += 1
            if (frame.digest and frame.digest != self.lsdb.digest_bytes(self._lsa_seq)
                    and now >= link.last_summary_s + link.heartbeat_s):
                # our link-state views differ: compare summaries, each side pushes what is newer
                self._want_summary(link)
        elif isinstance(frame, wire.LinkStateSummary):
            self._on_summary(link, frame, now, out)
        self._pump_all(now, out)
        return out

    def handle_frames(self, frames: Iterable[tuple[str, bytes]], now: float) -> list[Action]:
        """``handle_frame`` for a burst of ``(link_id, data)`` received by ``now``, in order.

        The same actions as one ``handle_frame`` call per frame, except that the links are
        pumped once after the last frame instead of after every frame (a burst costs one pass
        over the links, not one per frame), so frames to send come at the end of the list.

        >>> from emcomm.links.profiles import make_profile
        >>> core = NodeCore("a", NodeConfig(links={"ab": ("b", make_profile("fibre"))}))
        >>> hb = wire.encode_heartbeat(wire.Heartbeat("b", 0))
        >>> [type(x).__name__ for x in core.handle_frames([("ab", hb), ("ab", b"junk")], now=0.0)][:1]
        ['Dropped']
        """
        out: list[Action] = []
        self._batching, self._pump_due = True, False
        relay = self._relay_fast
        records: list[MessageRecord] = []
        seen: list[tuple[bytes, float, int]] = []
        try:
            for link_id, data in frames:
                if self._started and type(data) is bytes and relay(link_id, data, now, out, records, seen):
                    continue
                _persist_run(out, records, seen)     # the relayed run's records go before this frame's actions
                out.extend(self.handle_frame(link_id, data, now))
        finally:
            self._batching = False
            _persist_run(out, records, seen)
        if self._pump_due:          # some frame got as far as pumping (a dropped one does not)
            self._pump_all(now, out)
        return out

    def _relay_fast(self, link_id: str, data: bytes, now: float, out: list[Action],
                    records: list[MessageRecord], seen: list[tuple[bytes, float, int]]) -> bool:
        """``handle_frame`` for the frame a relay sees most: a new, well-formed unicast DATA frame
        for another node, from a live neighbour, with a usable next hop. Leaves exactly the
        state ``handle_frame`` would (the message taken in cut-through, its copy queued on the
        next hop's link) and appends the record and seen id to ``records``/``seen`` for one
        Persist per run of such frames; returns False, having changed nothing, for any other
        frame, which then takes the full path. A differential test holds the two together."""
        link = self._links.get(link_id)
        if link is None or not link.heard_once or not link.alive:
            return False
        sec = self.security
        if sec is not None and link.neighbour in sec.blocked:
            return False
        env = wire.decode_data(data)
        if env is None:
            return False
        mid, dst = env.msg_id, env.dst
        if (mid in self._msgs or mid in self._seen or mid in self._handed or dst == self.node_id
                or dst[0] in _NOT_UNICAST or env.ttl_s <= 0 or env.hop_count >= env.hop_limit):
            return False
        lid = self.routes.next_hop(dst, len(data), env.priority)
        if lid is None or lid == link_id:
            return False
        to = self._links[lid]
        if not (to.phys_up and to.alive):
            return False
        counters = self.counters
        counters["rx_frames"] += 1
        link.last_heard_s = now
        self._touched[link_id] = link
        counters["rx_messages"] += 1
        self._pump_due = True           # as handle_frame's _pump_all, whatever comes of the frame
        if sec is not None:
            refused = sec.admit(link.neighbour, link_id, env, now, False)
            if refused is not None:
                _persist_run(out, records, seen)     # the run's records go before the refusal, as frame by frame
                self._refused(link, env, refused, now, out)
                return True
        msg = _Msg(env, now + env.ttl_s, False, False, link_id, False)
        msg.early = True
        seen.append((mid, self._hold(msg), env.hop_count))
        records.append(self._record(msg, now, data))
        self._enqueue(msg, to, now, out)
        return True

    def _refused(self, link: _Link, env: Envelope, refused: tuple[str, str, bool], now: float,
                 out: list[Action]) -> None:
        reason, detail, ack = refused
        if ack:
            self._queue_ack(link, env.msg_id, env.priority)
        self._drop(out, reason, detail, now, env.msg_id, env.priority)

    def stored(self, msg_ids: Iterable[bytes], now: float) -> list[Action]:
        """The runtime confirms that the records with these ids are durable.

        Received messages are then hop-acked (and delivered, if addressed here); submitted
        ones are accepted and queued. Unknown ids are ignored.
        """
        self._start(now)
        out: list[Action] = []
        for mid in msg_ids:
            msg = self._msgs.get(mid)
            if msg is None or msg.stage != "storing":
                continue
            msg.stage = "custody"
            if msg.from_link is not None:
                self._queue_ack(self._links[msg.from_link], mid, msg.env.priority)
            elif msg.app:
                out.append(Receipt(mid, "accepted", ""))
                self._emit(out, tm.SUBMITTED, now, msg)
            if msg.mine:
                self._deliver(msg, now, out)
            if msg.stage != "custody":
                continue
            if not msg.early:
                self._route(msg, now, out)
            elif msg.handed_early:       # the next hop took custody before our commit ended
                self._handed[mid] = msg.env.hop_count
                self._finish(msg, out, forget=False)     # forgotten when the ack came
            msg.early = False            # otherwise its copies are in flight or it is held
        self._pump_all(now, out)
        return out

    def persist_failed(self, msg_ids: Iterable[bytes], now: float) -> tuple[list[bytes], list[Action]]:
        """The runtime could not store the records with these ids (e.g. the disk is full):
        returns ``(discarded ids, actions)``.

        A message the local application submitted is discarded: its sender is told "not
        accepted", so it must never be delivered; the id is forgotten (a resubmission with the
        same id is a new submission). The runtime must drop the discarded ids' records *and*
        seen ids from its retry. Anything else (a frame from a peer, which keeps custody
        without our hop-ack, or a receipt this node made) stays waiting for a retried commit
        and its ``stored``. Unknown or already stored ids are ignored.

        >>> from emcomm.links.profiles import make_profile
        >>> core = NodeCore("a", NodeConfig(links={"ab": ("b", make_profile("fibre"))}))
        >>> mid, _ = core.submit("b", Priority.FLASH, ContentType.TEXT, b"x", now=0.0)
        >>> core.persist_failed([mid], now=0.1)[0] == [mid]
        True
        >>> [a for a in core.stored([mid], now=1.0) if getattr(a, "status", "") == "accepted"]
        []
        """
        out: list[Action] = []
        discarded: list[bytes] = []
        for mid in msg_ids:
            msg = self._msgs.get(mid)
            if msg is None or msg.stage != "storing" or not msg.app:
                continue
            msg.stage = "done"
            del self._msgs[mid]
            self._seen.pop(mid, None)
            discarded.append(mid)
            self._drop(out, "not_stored", f"{mid.hex()} to {msg.env.dst}: the store commit failed; "
                                          "the sender was told it was not accepted", now, mid, msg.env.priority)
        return discarded, out

    def link_changed(self, link_id: str, up: bool, now: float, **measured: float) -> list[Action]:
        """A link went up or down, or its measured figures changed.

        ``measured`` may hold ``rate_bps``, ``latency_s``, ``loss`` (current values). Going
        down re-routes everything queued or awaiting a hop-ack on that link; any change is
        advertised to the mesh (rate-limited).
        """
        link = self._known_link(link_id)
        for name, value in measured.items():
            if name not in ("rate_bps", "latency_s", "loss"):
                raise UsageError(f"unknown measurement {name!r}; expected rate_bps, latency_s or loss")
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or (name == "loss" and value >= 1):
                raise UsageError(f"{name} must be a finite non-negative number (loss below 1), got {value!r}")
            if name == "rate_bps" and value == 0:
                up = False
            else:
                setattr(link, name, float(value))
        self._start(now)
        out: list[Action] = []
        self._touched[link_id] = link
        was = link.usable
        link.phys_up = bool(up)
        if up and not was:
            link.alive = True
            link.last_heard_s = now
        self._after_link_change(link, was, now, out)
        self._pump_all(now, out)
        return out

    def link_connected(self, link_id: str, now: float) -> list[Action]:
        """The transport under a link (re)connected: what was sent before may be lost.

        A runtime calls this when its connection to the neighbour completes a handshake
        (at start, when the neighbour's process came up later, after a reconnect): frames
        handed to a transport that was not connected are gone. Our adverts and a link-state
        summary go out at once (the neighbour answers with what we lack, so routes over a
        freshly started mesh exist within a round trip, not after a heartbeat interval),
        and every frame awaiting a hop-ack on the link is sent again now, its backoff reset.

        Example::

            actions = core.link_connected("a-b/fibre", now)
        """
        link = self._known_link(link_id)
        self._start(now)
        out: list[Action] = []
        self._touched[link_id] = link
        queued = dict(link.adverts)
        link.adverts = {self.node_id: self._own_lsa} if self._own_lsa.seq > 0 else {}   # ours first: the
        link.adverts.update(queued)                                                     # neighbour routes by it
        self._offer_held_adverts(link, now)
        link.advert_frames, link.advert_sending = [], None
        link.last_advert_s = -math.inf
        self._want_summary(link)
        for copy in list(link.inflight.values()):
            copy.attempts = 0
            self._resend(link, copy, now, out)
        self._pump_all(now, out)
        return out

    def tick(self, now: float) -> list[Action]:
        """Run the timers due at ``now``: retransmissions with backoff, heartbeats, neighbour
        liveness, TTL expiry, link-state adverts, and paced sending of queued frames."""
        out: list[Action] = []
        self._start(now)
        for msg in self._redeliver:
            if msg.stage == "custody":
                self._deliver(msg, now, out)
            if msg.stage == "custody":
                self._route(msg, now, out)
        self._redeliver.clear()
        self._expire_messages(now, out)
        self._expire_seen(now)
        self._reasm.expire(now)
        if self.lsdb.expire(now):
            self._routes_dirty = True
        for link in self._links_due(now):
            if link.usable and now >= link.last_heard_s + self._dead_after_s(link):
                link.alive = False
                self._after_link_change(link, True, now, out)
        while self._rtx_heap and self._rtx_heap[0][0] <= now:
            _, _, copy = heapq.heappop(self._rtx_heap)
            link = self._links[copy.link_id]
            if copy.live and link.inflight.get(copy.msg.env.msg_id) is copy and copy.retransmit_s <= now:
                self._resend(link, copy, now, out)
        if self._own_dirty or now >= self._last_own_advert_s + self.config.advert_refresh_s:
            self._advertise_own(now, out)
        if self._routes_dirty:
            self._rebuild_routes(now, out=out)
        self._pump_all(now, out)
        return out

    def next_wakeup(self) -> float | None:
        """The earliest time ``tick`` must be called (None when nothing is pending).

        Calling ``tick`` earlier or more often is harmless."""
        times: list[float] = []
        if self._redeliver or self._own_dirty or self._routes_dirty:
            return -math.inf
        if self._ttl_heap:
            times.append(self._ttl_heap[0][0])
        if self._rtx_heap:
            times.append(self._rtx_heap[0][0])
        times.append(self._last_own_advert_s + self.config.advert_refresh_s)
        for t in (self._reasm.next_deadline(), self.lsdb.next_expiry(),
                  self._seen_heap[0] * SEEN_BUCKET_S if self._seen_heap else None):
            if t is not None:
                times.append(t)
        self._refresh_dues()
        if self._due_heap:
            times.append(self._due_heap[0][0])
        return min(times) if times else None

    # per-link wake-ups: every change to a link's timers or queues puts it in ``_touched``;
    # only those are recomputed (a stale time can only be early, and tick re-checks it)
    def _link_due(self, link: _Link) -> float:
        if not link.phys_up:
            return math.inf
        send_at = max(link.next_send_s, link.busy_until_s - self.config.pacing_burst_s)
        due = max(send_at, link.last_sent_s + link.heartbeat_s)
        if link.acks or link.advert_frames or (link.usable and link.queue):
            due = send_at
        elif link.adverts or link.summary:
            gap = self.config.thin_link_advert_gap_s if link.thin else self.config.advert_min_gap_s
            due = min(due, max(send_at, link.last_advert_s + gap))
        if link.alive:
            due = min(due, link.last_heard_s + self._dead_after_s(link))
        return due

    def _refresh_dues(self) -> None:
        heap = self._due_heap
        if self._touched:
            for link in self._touched.values():
                due = self._link_due(link)
                if due != link.due_s:
                    link.due_s = due
                    if due < math.inf:
                        heapq.heappush(heap, (due, next(self._tie), link))
            self._touched.clear()
            if len(heap) > 64 + 4 * len(self._links):      # drop superseded entries
                heap[:] = [e for e in heap if e[0] == e[2].due_s]
                heapq.heapify(heap)
        while heap and heap[0][0] != heap[0][2].due_s:
            heapq.heappop(heap)

    def _links_due(self, now: float) -> list[_Link]:
        """Links whose wake-up time has come, in link order; they are recomputed next time."""
        self._refresh_dues()
        heap = self._due_heap
        due: list[_Link] = []
        while heap and heap[0][0] <= now:
            _, _, link = heapq.heappop(heap)
            if link.due_s == link.due_s:                 # not already taken (nan)
                link.due_s = math.nan
                self._touched[link.link_id] = link
                due.append(link)
        due.sort(key=lambda l: l.index)
        return due

    def snapshot(self, now: float) -> dict[str, Any]:
        """Telemetry: ``{"node", "t_s", "links": {id: {...}}, "queues": {link_id: [n per
        priority]}, "held": [n per priority], "in_flight", "messages", "seen_ids", ...,
        "counters"}``."""
        held = [0] * len(Priority)
        for m in self._held.values():
            held[m.env.priority] += 1
        return {
            "node": self.node_id,
            "t_s": now,
            "links": {lid: {"neighbour": l.neighbour, "kind": l.profile.kind.value, "up": l.usable,
                            "phys_up": l.phys_up, "alive": l.alive, "rate_bps": l.rate_bps,
                            "latency_s": l.latency_s, "loss": l.loss,
                            "last_heard_age_s": max(0.0, now - l.last_heard_s),
                            "in_flight": len(l.inflight)} for lid, l in self._links.items()},
            "queues": {lid: l.queue.counts() for lid, l in self._links.items()},
            "held": held,
            "in_flight": sum(len(l.inflight) for l in self._links.values()),
            "messages": len(self._msgs),
            "seen_ids": len(self._seen),        # ids kept against duplicates (at most seen_ids_max + slack)
            "seen_ids_max": self.config.seen_ids_max,
            "lsdb_origins": len(self.lsdb),
            "lsa_seq": self._lsa_seq,
            "lsdb_digest": self.lsdb.digest(self._lsa_seq),   # equal on nodes with the same link-state view
            "counters": dict(self.counters),
        }

    # ------------------------------------------------------------------ messages
    def _new_id(self) -> bytes:
        if self._rng is not None:
            return self._rng.getrandbits(128).to_bytes(16, "big")
        return os.urandom(16)

    def _is_mine(self, dst: str) -> bool:
        return dst == self.node_id or dst == wire.BROADCAST or dst in self.config.groups

    def _record(self, msg: _Msg, now: float, raw: bytes | None = None) -> MessageRecord:
        # ``raw``: the frame as received, which decodes to ``msg.env`` (no second encoding)
        meta = {"exp": msg.expires_s, "from": msg.from_link or "", "local": msg.local, "app": msg.app}
        state = STATE_INBOX if msg.mine and msg.stage == "storing" else STATE_QUEUED
        data = raw if raw is not None else wire.encode_envelope(msg.env)
        msg.size_bytes = len(data)
        return built(MessageRecord, msg_id=msg.env.msg_id, priority=msg.env.priority, envelope=data, state=state,
                     metadata=meta, updated_s=now)

    def _accept(self, msg: _Msg, now: float, raw: bytes | None = None) -> list[Action]:
        seen_until = self._hold(msg)
        return [built(Persist, records=(self._record(msg, now, raw),),
                      seen=((msg.env.msg_id, seen_until, msg.arrival_hops),), kv=())]

    def _hold(self, msg: _Msg) -> float:
        """Take ``msg`` into the message table, its id into duplicate suppression and its
        expiry timer; returns until when its id is remembered."""
        mid = msg.env.msg_id
        self._msgs[mid] = msg
        seen_until = msg.expires_s + SEEN_MARGIN_S
        self._remember(mid, seen_until)
        heapq.heappush(self._ttl_heap, (msg.expires_s, mid))
        if len(self._ttl_heap) > self._ttl_compact_at:
            self._compact_ttl()
        return seen_until

    def _remember(self, mid: bytes, until: float) -> None:
        """Suppress duplicates of ``mid`` until ``until`` (to the end of its bucket)."""
        b = int(until // SEEN_BUCKET_S) + 1
        bucket = self._seen_buckets.get(b)
        if bucket is None:
            bucket = self._seen_buckets[b] = (b, [])
            heapq.heappush(self._seen_heap, b)
        self._seen[mid] = bucket[0]         # one int object per bucket, not one per id
        bucket[1].append(mid)
        if len(self._seen) > self._seen_evict_at:
            self._evict_seen()

    def _on_envelope(self, link: _Link, env: Envelope, now: float, out: list[Action], raw: bytes | None = None) -> None:
        mid = env.msg_id
        self.counters["rx_messages"] += 1
        held = self._msgs.get(mid)
        handed = self._handed.get(mid) if held is None else None
        if (handed is not None and env.hop_count > handed and not self._is_mine(env.dst)
                and env.dst[0] not in _NOT_UNICAST):
            # a message we handed on came back further along: it is looping while views differ
            # (seen: cc > r1 > t3 > r3 > cc). Acking it as a duplicate would let the last holder
            # forget it while nobody holds it; take custody again and route it anew
            del self._handed[mid]
            self.counters["loops_recovered"] += 1
        elif (held is not None and held.stage == "custody" and held.copies and not self._is_mine(env.dst)
              and env.hop_count > held.arrival_hops):
            # it came back further along while our own copy still awaits its hop-ack (seen: cc > r3
            # > r2 > t2 > r3 before r2's ack reached r3). Acking it now lets the sender forget it,
            # and once our copy is acked nobody holds it. Leave it unacked: the sender keeps it and
            # retransmits, and by then we either still hold it or take it back as a loop (above)
            self.counters["loops_deferred"] += 1
            return
        elif held is not None or mid in self._seen:
            self.counters["duplicates"] += 1
            if held is None or held.stage != "storing":
                self._queue_ack(link, mid, env.priority)   # our earlier ack was lost: ack again
            self._drop(out, "duplicate", f"{mid.hex()} from {link.link_id}", now, mid, env.priority)
            return
        mine = self._is_mine(env.dst)
        if env.ttl_s <= 0:
            self._queue_ack(link, mid, env.priority)
            self._drop(out, "expired", f"{mid.hex()} arrived with no lifetime left", now, mid, env.priority)
            return
        if env.hop_count >= env.hop_limit and env.dst != self.node_id:
            self._queue_ack(link, mid, env.priority)
            self._drop(out, "hop_limit", f"{mid.hex()} reached its hop limit {env.hop_limit}", now, mid, env.priority)
            return
        if self.security is not None:
            refused = self.security.admit(link.neighbour, link.link_id, env, now, mine)
            if refused is not None:
                self._refused(link, env, refused, now, out)
                return
        msg = _Msg(env, now + env.ttl_s, local=False, app=False, from_link=link.link_id, mine=mine)
        out.extend(self._accept(msg, now, raw))
        if not mine and env.dst[0] not in _NOT_UNICAST:
            # Cut-through: hand a relayed message on while its record is still being stored.
            # Custody is unchanged: the previous hop is acked only once the record is durable
            # here (``stored``), so the message is always held durably by the previous hop or
            # by this one; a crash before the commit costs a retransmission upstream and a
            # duplicate downstream, which the next hop suppresses. The store's sync is then off
            # every hop's forwarding latency, and a record acked downstream before its commit
            # need never be written.
            msg.early = True
            self._route(msg, now, out)

    def _deliver(self, msg: _Msg, now: float, out: list[Action]) -> None:
        env = msg.env
        if env.is_receipt:
            try:
                orig, status, _ = wire.decode_receipt_body(env)
            except RemoteInputError as exc:
                self._drop(out, exc.reason, f"receipt {env.msg_id.hex()}: {exc.detail}", now)
            else:
                out.append(Receipt(orig, status, f"from {env.src}"))
                self._emit(out, tm.RECEIPT, now, msg, status=status, of=orig.hex())
        else:
            try:
                payload = env.payload() if self.security is None else self.security.payload(env, now)
            except RemoteInputError as exc:
                self._drop(out, exc.reason, f"message {env.msg_id.hex()}: {exc.detail}", now)
            else:
                out.append(Deliver(dataclasses.replace(
                    env, body=payload, flags=env.flags & ~int(wire.Flags.COMPRESSED | wire.Flags.ENCRYPTED))))
                self.counters["delivered"] += 1
                self._emit(out, tm.DELIVERED, now, msg, src=env.src, hops=env.hop_count,
                           latency_s=round(now - env.created_s, 6), content_type=int(env.content_type),
                           **({"body": payload} if env.content_type == ContentType.ALERT else {}))  # alert area for the map
                if env.wants_receipt and env.src != self.node_id:
                    self._send_receipt(env, "delivered", now, out)
        if env.dst == self.node_id or env.is_receipt:
            self._finish(msg, out)

    def _send_receipt(self, env: Envelope, status: str, now: float, out: list[Action]) -> None:
        body = wire.encode_receipt_body(env.msg_id, status, now)
        # a receipt lives as long as its message had left (never the 24 h default: every relay keeps
        # its id against duplicates until its TTL + SEEN_MARGIN_S, one per message delivered)
        ttl_s = min(self.config.default_ttl_s, max(RECEIPT_MIN_TTL_S, env.ttl_s))
        renv = wire.Envelope(self._new_id(), self.node_id, env.src, env.priority, int(ContentType.ACK), now,
                             ttl_s, body, hop_limit=self.config.hop_limit)
        if self.security is not None:
            renv = self.security.seal(renv, now)
        out.extend(self._accept(_Msg(renv, now + renv.ttl_s, local=True, app=False, from_link=None, mine=False), now))

    def _finish(self, msg: _Msg, out: list[Action], *, forget: bool = True) -> None:
        """The node no longer needs the message (handed on, delivered, expired)."""
        if msg.stage == "done":
            return
        msg.stage = "done"
        for copy in msg.copies.values():
            self._cancel_copy(copy)
        msg.copies.clear()
        self._held.pop(msg.env.msg_id, None)
        self._msgs.pop(msg.env.msg_id, None)
        if forget:
            out.append(built(Forget, msg_ids=(msg.env.msg_id,)))

    def _cancel_copy(self, copy: _Copy) -> None:
        copy.live = False
        link = self._links[copy.link_id]
        if link.inflight.get(copy.msg.env.msg_id) is copy:
            del link.inflight[copy.msg.env.msg_id]
        else:
            link.queue.remove(copy)

    def _route(self, msg: _Msg, now: float, out: list[Action]) -> None:
        env = msg.env
        if env.dst == self.node_id:
            return
        if env.dst == wire.BROADCAST or env.dst.startswith(wire.GROUP_PREFIX):
            targets = [l for l in self._links.values() if l.usable and l.link_id != msg.from_link
                       and l.link_id not in msg.copies]
            if not targets and not msg.copies:
                self._finish(msg, out)
            for l in targets:
                self._enqueue(msg, l, now, out)
            return
        size = msg.size_bytes or len(wire.encode_envelope(env))
        lid = self.routes.next_hop(env.dst, size, env.priority)
        if lid is not None and lid == msg.from_link:
            lid = self.routes.next_hop(env.dst, size, env.priority, avoid=(lid,)) or lid
        if lid is None:     # a stub node (thin links only) may not know the way: hand it on
            lid = self.routes.default_hop(size, env.priority, came_from=msg.from_link)
        if lid is None or not self._links[lid].usable:
            if not msg.held:
                msg.held = True
                self._held[env.msg_id] = msg
                self.counters["held"] += 1
                self._emit(out, tm.REROUTED, now, msg, reason="no_route", to="")
            return
        msg.held = False
        self._held.pop(env.msg_id, None)
        self._enqueue(msg, self._links[lid], now, out)

    def _enqueue(self, msg: _Msg, link: _Link, now: float, out: list[Action]) -> None:
        copy = _Copy(msg, link.link_id)
        msg.copies[link.link_id] = copy
        link.queue.push(copy, msg.env.priority)
        self._touched[link.link_id] = link

    def _frames_for(self, copy: _Copy, link: _Link, now: float, data: bytes | None = None) -> list[bytes] | None:
        """``copy``'s frames for ``link`` (``data``: its frame as ``_in_transit`` encodes it now,
        when the caller has it already); None when it cannot be cut to fit."""
        try:
            return split(self._in_transit(copy.msg, now) if data is None else data, copy.msg.env.msg_id,
                         link.profile.mtu_bytes)
        except UsageError:
            return None

    @staticmethod
    def _in_transit(msg: _Msg, now: float) -> bytes:
        """``msg``'s frame as this hop sends it: the lifetime it has left and its hop count."""
        env = msg.env
        # never more lifetime than the message carried when accepted here: after the clock moved
        # back (a restart with a corrected clock) expires_s - now grows, and a signed message
        # claiming more than its original lifetime is refused at its destination as forged
        ttl = max(0.0, min(msg.expires_s - now, env.ttl_s))
        hops = env.hop_count if msg.local else env.hop_count + 1
        return wire.encode_in_transit(env, round(ttl, 3), min(hops, env.hop_limit))

    def _on_hop_ack(self, link: _Link, ack: wire.HopAck, now: float, out: list[Action]) -> None:
        forgets: list[bytes] = []       # one Forget for the frame's ids (the runtime takes them in order)
        inflight, msgs, handed = link.inflight, self._msgs, self._handed
        lid, telemetry = link.link_id, self.config.telemetry
        forwarded = 0
        for mid in ack.msg_ids:
            copy = inflight.pop(mid, None)
            if copy is None:
                msg = msgs.get(mid)
                copy = msg.copies.get(lid) if msg else None
                if copy is None:
                    self.counters["stale_acks"] += 1
                    continue
                link.queue.remove(copy)        # acked while queued for a resend
            copy.live = False
            msg = copy.msg
            copies = msg.copies
            copies.pop(lid, None)
            forwarded += 1
            if telemetry:
                self._emit(out, tm.FORWARDED, now, msg, link=lid, attempts=copy.attempts)
            if copies:
                continue
            if msg.stage == "custody":
                dst = msg.env.dst
                if not msg.mine and not dst.startswith(wire.GROUP_PREFIX) and dst != wire.BROADCAST:
                    handed[mid] = msg.arrival_hops
                self._finish(msg, out, forget=False)
                forgets.append(mid)
            elif msg.early and not msg.handed_early:
                # the next hop has it durably: our record need never be written (the runtime drops
                # it from the pending commit); ``stored`` (of the seen id) acks the previous hop
                # and finishes the message
                msg.handed_early = True
                forgets.append(mid)
        if forwarded:
            self.counters["forwarded"] += forwarded
        if forgets:
            out.append(built(Forget, msg_ids=tuple(forgets)))

    def _expire_messages(self, now: float, out: list[Action]) -> None:
        while self._ttl_heap and self._ttl_heap[0][0] <= now:
            _, mid = heapq.heappop(self._ttl_heap)
            msg = self._msgs.get(mid)
            if msg is None or msg.stage == "done":
                continue
            if msg.stage == "storing":     # expired before the store confirmed it: wait for stored
                heapq.heappush(self._ttl_heap, (now + 1.0, mid))
                break
            self._drop(out, "expired", f"{mid.hex()} to {msg.env.dst}: TTL ran out here", now, mid, msg.env.priority)
            if msg.app:
                out.append(Receipt(mid, "expired", f"TTL ran out on {self.node_id} before delivery"))
            elif not msg.local and msg.env.wants_receipt and not msg.mine:
                self._send_receipt(msg.env, "expired", now, out)
            self._finish(msg, out)

    def _compact_ttl(self) -> None:
        # a message handed on or delivered leaves its expiry entry behind until its TTL (24 h by
        # default): a busy relay would keep one per message forwarded that day. Drop them in one
        # pass once they outnumber the live entries (amortised O(1) per message)
        msgs = self._msgs
        heap = self._ttl_heap
        heap[:] = [e for e in heap if e[1] in msgs]
        heapq.heapify(heap)
        self._ttl_compact_at = max(TTL_COMPACT_MIN, 2 * len(heap))

    def _expire_seen(self, now: float) -> None:
        heap = self._seen_heap
        while heap and heap[0] * SEEN_BUCKET_S <= now:
            for mid in self._forget_bucket(heapq.heappop(heap)):
                self._remember(mid, now + SEEN_BUCKET_S)     # still held here: looked at again later

    def _forget_bucket(self, b: int) -> list[bytes]:
        """Forget the ids of bucket ``b``; returns those of messages still held (kept)."""
        _, held = self._forget_ids(b, self._seen_buckets.pop(b)[1])
        return held

    def _forget_ids(self, b: int, ids: list[bytes], limit: float = math.inf) -> tuple[int, list[bytes]]:
        """Forget ids of bucket ``b`` from the front of ``ids`` (with their hand-on hop counts)
        until ``limit`` are gone, except those remembered again since for longer and those of
        messages still held here (never forgotten). Returns how many of ``ids`` were looked at
        and the held ones."""
        seen, msgs, handed = self._seen, self._msgs, self._handed
        held: list[bytes] = []
        gone = i = 0
        while i < len(ids) and gone < limit:
            mid = ids[i]
            i += 1
            if seen.get(mid) == b:
                if mid in msgs:
                    held.append(mid)
                else:
                    del seen[mid]
                    handed.pop(mid, None)
                    gone += 1
        return i, held

    def _evict_seen(self) -> None:
        """More ids than ``seen_ids_max``: forget early the ids that would expire first (oldest
        bucket first, and within a bucket the first remembered), down to the cap. A duplicate
        of one of them that arrives later is taken as new and sent on again (a destination still
        delivers it once: its inbox keeps every id far longer than any TTL); what a relay keeps
        in memory stays bounded however long it runs."""
        cap = self.config.seen_ids_max
        seen, heap, buckets = self._seen, self._seen_heap, self._seen_buckets
        before = len(seen)
        kept: list[tuple[int, list[bytes]]] = []
        while len(seen) > cap and heap:
            b = heap[0]
            ids = buckets[b][1]
            looked, held = self._forget_ids(b, ids, len(seen) - cap)
            if looked < len(ids):               # the cap is reached inside this bucket
                del ids[:looked]
                ids.extend(held)
                break
            heapq.heappop(heap)
            del buckets[b]
            if held:
                kept.append((b, held))
        for b, held in kept:
            buckets[b] = (b, held)
            heapq.heappush(heap, b)
        self.counters["seen_evicted"] += before - len(seen)
        self._seen_evict_at = max(cap, len(seen)) + max(64, cap // 16)

    # ------------------------------------------------------------------ links
    def _known_link(self, link_id: str) -> _Link:
        link = self._links.get(link_id)
        if link is None:
            raise UsageError(f"unknown link {link_id!r}; this node has: {', '.join(sorted(self._links)) or 'none'}")
        return link

    def _dead_after_s(self, link: _Link) -> float:
        # the neighbour may also wait up to one send slot before it can answer
        return self.config.dead_after_missed * link.heartbeat_s + link.profile.min_interval_s + 2 * link.latency_s

    def _heard(self, link: _Link, now: float, out: list[Action]) -> None:
        link.last_heard_s = now
        self._touched[link.link_id] = link
        if not link.heard_once:
            # first word from this neighbour since we started: it may have missed our adverts
            link.heard_once = True
            self._offer_held_adverts(link, now)
            self._want_summary(link)    # and we may have restarted with an old database: ask for newer
        if not link.alive:
            was = link.usable
            link.alive = True
            self._after_link_change(link, was, now, out)

    def _offer_held_adverts(self, link: _Link, now: float) -> None:
        # queue every advert we hold for the neighbour (not its own, not over one already queued)
        for adv in self.lsdb.adverts(now):
            if adv.origin != link.neighbour:
                link.adverts.setdefault(adv.origin, adv)

    def _after_link_change(self, link: _Link, was_usable: bool, now: float, out: list[Action]) -> None:
        # any change of a link's state or figures goes into our next advert
        self._touched[link.link_id] = link
        self._own_dirty = True
        if was_usable == link.usable:
            self._routes_dirty = True
            return
        if link.usable:
            self._emit(out, tm.LINK_UP, now, None, link=link.link_id)
            # a neighbour (re)appears: tell it everything we know, and what we hold (its end
            # may not have been up to hear our flood; our summary makes it push what we lack)
            for adv in self.lsdb.adverts(now):
                link.adverts[adv.origin] = adv
            link.last_advert_s = -math.inf
            self._want_summary(link)
        else:
            self._emit(out, tm.LINK_DOWN, now, None, link=link.link_id,
                       reason="down" if not link.phys_up else "neighbour_silent")
            link.busy_until_s = -math.inf
            link.advert_frames, link.advert_sending = [], None   # re-sent whole when it is back
        self._rebuild_routes(now, out=out)
        if not link.usable:
            moved = link.queue.drain() + list(link.inflight.values())
            link.inflight.clear()
            for copy in moved:
                copy.live = False
                msg = copy.msg
                msg.copies.pop(link.link_id, None)
                if msg.stage != "custody" and not (msg.early and msg.stage == "storing"):
                    continue
                if msg.env.dst == wire.BROADCAST or msg.env.dst.startswith(wire.GROUP_PREFIX):
                    if not msg.copies:
                        self._finish(msg, out)
                    continue
                self._route(msg, now, out)
                if msg.copies:
                    self.counters["rerouted"] += 1
                    self._emit(out, tm.REROUTED, now, msg, reason="link_down", to=next(iter(msg.copies)),
                               **{"from": link.link_id})

    def _own_adverts(self) -> dict[str, wire.LinkAdvert]:
        return {l.link_id: wire.LinkAdvert(l.link_id, l.neighbour, l.profile.kind.value, l.usable,
                                           float(l.rate_bps), float(l.latency_s), float(l.loss),
                                           int(l.profile.mtu_bytes), float(l.profile.min_interval_s),
                                           float(l.profile.cost_per_mb_cny))
                for l in self._links.values()}

    def _rebuild_routes(self, now: float, *, quiet: bool = False, out: list[Action] | None = None) -> None:
        self._routes_dirty = False
        own = self._own_adverts()
        key = (self.lsdb.version, tuple(own.values()))
        if key == self._graph_key:
            return          # same adverts' links and own links: same graph, same routes, held stay held
        self._graph_key = key
        self.routes.update(self.lsdb.graph(own))
        sink: list[Action] = out if out is not None else []
        if not quiet:
            self._emit(sink, tm.ROUTES_CHANGED, now, None, nodes=len(self.routes.reachable()))
        for msg in list(self._held.values()):
            self._route(msg, now, sink)
            if msg.copies:
                self._emit(sink, tm.REROUTED, now, msg, reason="route_found", to=next(iter(msg.copies)))
        if out is None:
            self._pending.extend(sink)

    def _advertise_own(self, now: float, out: list[Action]) -> None:
        self._own_dirty = False
        links = tuple(self._own_adverts().values())
        if (links == self._own_lsa.links and self._own_lsa.seq == self._lsa_seq
                and now < self._last_own_advert_s + self.config.advert_refresh_s):
            return          # nothing changed since the last advert (nor an older one of ours seen), no refresh due
        self._last_own_advert_s = now
        self._lsa_seq += 1
        adv = self._own_lsa = wire.LinkStateAdvert(self.node_id, self._lsa_seq, 0.0, links)
        for link in self._links.values():
            link.adverts[self.node_id] = adv
        self._touched.update(self._links)
        self._routes_dirty = True
        out.append(Persist(kv=((KV_LSA_SEQ, str(self._lsa_seq).encode()), (KV_LSDB, self.lsdb.to_bytes(now)))))

    def _on_advert(self, link: _Link, adv: wire.LinkStateAdvert, now: float, out: list[Action]) -> None:
        self.counters["rx_adverts"] += 1
        if adv.origin == self.node_id:
            if adv.seq > self._lsa_seq:        # our own advert from before a restart outlived our counter
                self._lsa_seq = adv.seq
                self._own_dirty = True
            return
        if not self.lsdb.install(adv, now):
            return
        for other in self._links.values():
            if other is not link:
                other.adverts[adv.origin] = adv
                self._touched[other.link_id] = other
        self._rebuild_routes(now, out=out)

    def _on_summary(self, link: _Link, summary: wire.LinkStateSummary, now: float, out: list[Action]) -> None:
        """A neighbour's (origin, seq) list: push every advert we hold newer than its, and
        send our summary back when it holds newer ones than we do (it pushes them then)."""
        self.counters["rx_summaries"] += 1
        if summary.node_id != link.neighbour:
            self._drop(out, "wrong_peer", f"summary from {summary.node_id!r} on {link.link_id}, "
                                          f"expected {link.neighbour!r}", now)
            return
        theirs = dict(summary.entries)
        for origin, seq in self.lsdb.summary(self._lsa_seq):
            if theirs.get(origin, -1) >= seq or origin == link.neighbour:
                continue
            adv = self._own_lsa if origin == self.node_id else self.lsdb.advert_of(origin, now)
            if adv is not None and adv.seq > theirs.get(origin, -1) and link.advert_sending != (origin, adv.seq):
                link.adverts[origin] = adv
                self.counters["summary_pushes"] += 1
        if theirs.get(self.node_id, -1) > self._lsa_seq:    # our own advert from before a restart
            self._lsa_seq = theirs[self.node_id]
            self._own_dirty = True
        if any(seq > self.lsdb.seq_of(o) for o, seq in theirs.items() if o != self.node_id):
            self._want_summary(link)
        self._touched[link.link_id] = link

    def _want_summary(self, link: _Link) -> None:
        # the summary is taken now (like a queued advert): what we held when the need arose
        if not link.summary:
            link.summary = wire.encode_summary(wire.LinkStateSummary(self.node_id, tuple(self.lsdb.summary(self._lsa_seq))))
            self._touched[link.link_id] = link

    def _queue_ack(self, link: _Link, mid: bytes, priority: int) -> None:
        self._touched[link.link_id] = link
        if not link.acks:
            link.ack_priority = priority
        link.acks.append(mid)
        link.ack_priority = min(link.ack_priority, priority)

    # ------------------------------------------------------------------ sending
    def _pump_all(self, now: float, out: list[Action]) -> None:
        if self._batching:
            self._pump_due = True
            return      # handle_frames pumps once at the end of the burst
        if self._pending:
            out.extend(self._pending)
            self._pending.clear()
        for link in self._links_due(now):   # a link with something to send now is due (_link_due)
            if link.phys_up:
                self._pump(link, now, out)

    def _can_send(self, link: _Link, now: float) -> bool:
        return now >= link.next_send_s and link.busy_until_s <= now + self.config.pacing_burst_s

    def _pump(self, link: _Link, now: float, out: list[Action]) -> None:
        if (not (link.acks or link.adverts or link.queue or link.advert_frames or link.summary)
                and now < link.last_sent_s + link.heartbeat_s):
            return      # nothing to send and no heartbeat due (the common case for most links)
        cfg = self.config
        while self._can_send(link, now):
            if link.queue and link.usable and not (link.acks or link.adverts or link.advert_frames or link.summary):
                self._pump_data(link, now, out)     # only data to send: no choosing per frame
                continue
            choices: list[tuple[float, int]] = []
            if link.acks:
                choices.append((link.ack_priority, _ACK))
            head = link.queue.head_priority() if link.usable else None
            if head is not None:
                choices.append((head, _DATA))
            if link.advert_frames:          # the rest of an advert cut to fit the MTU
                choices.append((0.5 if link.thin else -1.0, _ADVERT))
            elif link.adverts or link.summary:
                gap = cfg.thin_link_advert_gap_s if link.thin else cfg.advert_min_gap_s
                if now >= link.last_advert_s + gap:
                    # on a thin link adverts never go ahead of FLASH; elsewhere they go first
                    choices.append((0.5 if link.thin else -1.0, _ADVERT))
            if not choices:
                if now >= link.last_sent_s + link.heartbeat_s:
                    choices.append((99.0, _HEARTBEAT))
                else:
                    return
            _, what = min(choices)
            prio = int(Priority.FLASH)
            if what == _ACK:
                n = max(1, min(wire.MAX_ACKS_PER_FRAME, (link.profile.mtu_bytes - 8) // ACK_ID_BYTES))
                ids, link.acks = link.acks[:n], link.acks[n:]
                data, prio = wire.encode_hop_ack(ids), link.ack_priority
                self.counters["tx_acks"] += 1
            elif what == _DATA:
                got = self._take_data(link, now, out)
                if got is None:
                    continue
                data, prio = got
            elif what == _ADVERT:
                if not link.advert_frames and link.summary and not (link.summary_last and link.adverts):
                    # the summary goes first (it is small), but never twice while adverts wait
                    summary, link.summary = link.summary, b""
                    link.summary_last = True
                    link.last_summary_s = now
                    if link.thin:   # elsewhere a summary (small) does not hold the next advert back a gap
                        link.last_advert_s = now
                    try:
                        link.advert_frames = split_control(summary, link.profile.mtu_bytes)
                    except UsageError as exc:
                        self._drop(out, "too_large", f"link-state summary on {link.link_id}: {exc}", now)
                        continue
                    self.counters["tx_summaries"] += 1
                elif not link.advert_frames:
                    link.summary_last = False
                    origin = next(iter(link.adverts))
                    adv = link.adverts.pop(origin)
                    if origin != self.node_id:
                        entry_age = self.lsdb.age_of(origin, now)
                        adv = dataclasses.replace(adv, age_s=adv.age_s if entry_age is None else entry_age)
                    link.last_advert_s = now
                    try:    # larger than the MTU (many links, Beidou, radio): sent as fragments
                        link.advert_frames = split_control(wire.encode_link_state(adv), link.profile.mtu_bytes)
                    except UsageError as exc:
                        self._drop(out, "too_large", f"advert of {origin} on {link.link_id}: {exc}", now)
                        continue
                    link.advert_sending = (adv.origin, adv.seq)
                    self.counters["tx_adverts"] += 1
                data = link.advert_frames.pop(0)
                if not link.advert_frames:
                    link.advert_sending = None
            else:
                seqs = (self._lsa_seq, max(0, self.lsdb.seq_of(link.neighbour)), self.lsdb.digest_bytes(self._lsa_seq))
                if link.hb_tx[0] != seqs:       # encoded once per change of either seq or the digest
                    link.hb_tx = (seqs, wire.encode_heartbeat(wire.Heartbeat(self.node_id, *seqs)))
                data = link.hb_tx[1]
                prio = int(Priority.ROUTINE)
                self.counters["tx_heartbeats"] += 1
            self._transmit(link, data, prio, now, out)

    def _pump_data(self, link: _Link, now: float, out: list[Action]) -> None:
        """``_pump`` while the link has only data queued: send until the queue is empty or
        the link must wait (sending data queues nothing else, so nothing else can cut in).

        The common copy (a message that goes in one frame, on a link without a send interval,
        telemetry off) is handled here in line: the same steps as ``_take_data``,
        ``_await_ack`` and ``_transmit``, which every other copy still goes through."""
        queue, cfg = link.queue, self.config
        burst_s = cfg.pacing_burst_s
        if link.profile.min_interval_s > 0 or cfg.telemetry:
            while queue and self._can_send(link, now):
                self._send_next_data(link, now, out)
            return
        mtu, lid, inflight = link.profile.mtu_bytes, link.link_id, link.inflight
        bits_per_s = max(link.rate_bps, 1e-9)
        rto_min_s, rto_max_s, rtt_s = cfg.rto_min_s, cfg.rto_max_s, 2 * link.latency_s
        heap, tie, push, append = self._rtx_heap, self._tie, heapq.heappush, out.append
        in_transit, counters = self._in_transit, self.counters
        sent = 0
        while queue and now >= link.next_send_s and link.busy_until_s <= now + burst_s:
            copy = queue.pop()
            if not copy.live:
                continue
            env = copy.msg.env
            data = in_transit(copy.msg, now) if copy.frames is None else None
            if data is None or len(data) > mtu:                 # cut (or to be cut) in fragments: the full path
                if data is not None:        # cut from the frame just encoded, not from a second encoding
                    copy.frames, copy.next_frag = self._frames_for(copy, link, now, data), 0
                queue.push(copy, env.priority, front=True)
                self._send_next_data(link, now, out)
                continue
            size = len(data)
            copy.frames, copy.next_frag, copy.sent_once = [data], 1, True
            # _await_ack
            base_s = rtt_s + (size + 64) * 8 / bits_per_s
            rto_s = 1.5 * base_s + 0.2
            rto_s = (rto_s if rto_s > rto_min_s else rto_min_s) * (2 ** copy.attempts)
            copy.attempts += 1
            copy.retransmit_s = retransmit_s = now + (rto_s if rto_s < rto_max_s else rto_max_s)
            inflight[env.msg_id] = copy
            push(heap, (retransmit_s, next(tie), copy))
            # _transmit
            append(built(Transmit, link_id=lid, data=data, priority=env.priority))
            start_s = link.busy_until_s if link.busy_until_s > now else now
            link.busy_until_s = start_s + size * 8 / bits_per_s
            sent += 1
        if sent:
            link.last_sent_s = now
            self._touched[lid] = link
            counters["tx_data_frames"] += sent
            counters["tx_frames"] += sent
            if len(heap) > self._rtx_compact_at:
                self._compact_rtx()

    def _send_next_data(self, link: _Link, now: float, out: list[Action]) -> None:
        """Transmit the next data frame of ``link``'s queue (if its copy is still wanted)."""
        got = self._take_data(link, now, out)
        if got is not None:
            self._transmit(link, got[0], got[1], now, out)

    def _take_data(self, link: _Link, now: float, out: list[Action]) -> tuple[bytes, int] | None:
        """Pop the head of ``link``'s queue: its next frame and class to transmit, or None
        when that copy is dead or cannot be cut to fit the link (dropped, with a reason)."""
        copy = link.queue.pop()
        if not copy.live:
            return None
        frames = copy.frames
        if frames is None:
            frames = copy.frames = self._frames_for(copy, link, now)
            copy.next_frag = 0
            if frames is None:
                msg = copy.msg
                msg.copies.pop(link.link_id, None)
                self._drop(out, "too_large", f"{msg.env.msg_id.hex()} cannot be cut to fit {link.link_id}",
                           now, msg.env.msg_id, msg.env.priority)
                if msg.app:
                    out.append(Receipt(msg.env.msg_id, "undeliverable", f"too large for link {link.link_id}"))
                if not msg.copies:
                    self._finish(msg, out)
                return None
        data = frames[copy.next_frag]
        copy.next_frag += 1
        prio = copy.msg.env.priority
        if not copy.sent_once:
            copy.sent_once = True
            if self.config.telemetry:
                self._emit(out, tm.SENT, now, copy.msg, link=link.link_id, fragments=len(frames),
                           size_bytes=sum(map(len, frames)))   # bytes on the link: data carried, cost
        if copy.next_frag < len(frames):
            link.queue.push(copy, prio, front=True)   # later fragments; a higher class may cut in
        else:
            self._await_ack(copy, link, now)
        self.counters["tx_data_frames"] += 1
        return data, prio

    def _await_ack(self, copy: _Copy, link: _Link, now: float) -> None:
        size = sum(len(f) for f in copy.frames or ())
        base = (2 * link.latency_s + (size + 64) * 8 / max(link.rate_bps, 1e-9)
                + link.profile.min_interval_s)            # the far end may wait a send slot to answer
        rto = min(self.config.rto_max_s, max(self.config.rto_min_s, 1.5 * base + 0.2) * (2 ** copy.attempts))
        copy.attempts += 1
        copy.retransmit_s = now + rto
        link.inflight[copy.msg.env.msg_id] = copy
        heap = self._rtx_heap
        heapq.heappush(heap, (copy.retransmit_s, next(self._tie), copy))
        if len(heap) > self._rtx_compact_at:
            self._compact_rtx()

    def _compact_rtx(self) -> None:
        # an acked copy leaves its entry behind (popped when due); a busy relay acks most
        # copies long before that, so drop the dead entries in one pass now and then instead
        # of popping each one (and waking for it) later
        heap = self._rtx_heap
        heap[:] = [e for e in heap if e[2].live and e[0] == e[2].retransmit_s]
        heapq.heapify(heap)
        self._rtx_compact_at = max(RTX_COMPACT_MIN, 2 * len(heap))

    def _resend(self, link: _Link, copy: _Copy, now: float, out: list[Action]) -> None:
        # a copy awaiting its hop-ack goes back to the front of its class, encoded afresh
        del link.inflight[copy.msg.env.msg_id]
        copy.frames, copy.next_frag, copy.retransmit_s = None, 0, math.inf
        self.counters["retransmits"] += 1
        self._emit(out, tm.RETRANSMIT, now, copy.msg, link=link.link_id, attempt=copy.attempts)
        link.queue.push(copy, copy.msg.env.priority, front=True)
        self._touched[link.link_id] = link

    def _transmit(self, link: _Link, data: bytes, prio: int, now: float, out: list[Action]) -> None:
        out.append(built(Transmit, link_id=link.link_id, data=data, priority=prio))
        self._touched[link.link_id] = link
        self.counters["tx_frames"] += 1
        start = max(now, link.busy_until_s)
        link.busy_until_s = start + len(data) * 8 / max(link.rate_bps, 1e-9)
        if link.profile.min_interval_s > 0:
            link.next_send_s = now + link.profile.min_interval_s
        link.last_sent_s = now

    # ------------------------------------------------------------------ misc
    def _start(self, now: float) -> None:
        # liveness timers start at the first call, on the runtime's clock
        if not self._started:
            self._started = True
            self._touched.update(self._links)
            for link in self._links.values():
                link.last_heard_s = now
            if self._lsdb_bytes:
                self.lsdb.load_bytes(self._lsdb_bytes, now)
            for mid, msg in self._msgs.items():
                # restored expiry was on the clock before the restart; if that clock ran ahead,
                # the message would outlive its lifetime here: cap it at what it carried on arrival
                if msg.expires_s > now + msg.env.ttl_s:
                    msg.expires_s = now + msg.env.ttl_s
                    heapq.heappush(self._ttl_heap, (msg.expires_s, mid))
            self._rebuild_routes(now, quiet=True, out=self._pending)

    def _drop(self, out: list[Action], reason: str, detail: str, now: float,
              mid: bytes | None = None, priority: int = -1) -> list[Action]:
        self.counters[f"dropped.{reason}"] += 1
        out.append(Dropped(reason, detail, mid))
        if self.config.telemetry:
            out.append(Telemetry(tm.TelemetryEvent(tm.DROPPED, now, self.node_id, msg_id=mid, priority=priority,
                                                   reason=reason, detail={"detail": detail[:200]})))
        return out

    def _emit(self, out: list[Action], kind: str, now: float, msg: _Msg | None, *, link: str = "",
              reason: str = "", **detail: Any) -> None:
        if not self.config.telemetry:
            return
        out.append(Telemetry(tm.TelemetryEvent(
            kind, now, self.node_id, msg_id=msg.env.msg_id if msg else None,
            priority=msg.env.priority if msg else -1, link_id=link, reason=reason, detail=detail)))

    def _restore(self, restored: RestoredState) -> None:
        kv = dict(restored.kv)
        try:
            self._lsa_seq = int(kv.get(KV_LSA_SEQ, b"0").decode())
        except ValueError:
            self._lsa_seq = 0
        if KV_LSDB in kv:
            self._lsdb_bytes = kv[KV_LSDB]
        for mid, until in dict(restored.seen).items():
            self._remember(bytes(mid), float(until))
        for rec in restored.records:
            try:
                env = wire.decode(rec.envelope)
                meta = dict(rec.metadata)
                expires = float(meta["exp"])
                from_link = str(meta.get("from") or "") or None
                local, app = bool(meta.get("local")), bool(meta.get("app"))
            except (RemoteInputError, KeyError, TypeError, ValueError):
                self.counters["restore_unreadable"] += 1
                continue
            if not isinstance(env, Envelope) or env.msg_id != rec.msg_id:
                self.counters["restore_unreadable"] += 1
                continue
            if from_link is not None and from_link not in self._links:
                from_link = None
            msg = _Msg(env, expires, local=local, app=app, from_link=from_link,
                       mine=self._is_mine(env.dst), stage="custody")
            self._msgs[rec.msg_id] = msg
            self._remember(rec.msg_id, expires + SEEN_MARGIN_S)
            heapq.heappush(self._ttl_heap, (expires, rec.msg_id))
            self.counters["restored"] += 1
            if rec.state == STATE_INBOX:
                self._redeliver.append(msg)
            elif env.dst != self.node_id:
                msg.held = True                   # routed on the first rebuild of routes
                self._held[rec.msg_id] = msg
        # the other ids' messages were handed on (or delivered here, or given up): each with
        # the hop count it arrived with, so that a copy coming back further along is taken into
        # custody again (_on_envelope) and a retransmission our lost ack caused is a duplicate.
        # An id stored without its hop count (by an older version) counts as originated here:
        # any copy of it that comes back is taken into custody again, never acked away while
        # perhaps nobody else holds it (a retransmission then costs one extra hop)
        hops = restored.hops
        for mid in self._seen:
            if mid not in self._msgs:
                self._handed[mid] = hops.get(mid, -1)
