"""The link-state database: every node's latest advertisement, and the graph built from it.

This module owns which advertisement of each origin is current (higher sequence number
wins; equal or older ones are duplicates and are not flooded again), how advertisements
age out, and turning the database into the topology MultiGraph with the attribute names
of ``emcomm.router.attrs``. It must not send anything, choose routes or read a clock.

A link enters the graph only when its owner advertises it up and no advertiser of the
same link id says it is down (both ends must agree a link works).

``version`` changes only when what the graph is built from changes (an origin appears, its
links differ, or it ages out): a periodic refresh with the same links floods on but leaves
the topology, and so the routes, as they were.

Example
-------
>>> db = LinkStateDB("a")
>>> adv = wire.LinkStateAdvert("b", 1, 0.0, (wire.LinkAdvert("b-c/fibre", "c", "fibre", True,
...        1e9, 0.005, 0.0, 1400, 0.0, 0.0),))
>>> db.install(adv, now=10.0), db.install(adv, now=11.0), db.version
(True, False, 1)
>>> db.install(dataclasses.replace(adv, seq=2), now=300.0), db.version   # a refresh: same links
(True, 1)
>>> sorted(db.graph({}).edges(keys=True))
[('b', 'c', 'b-c/fibre')]
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Mapping

import msgpack
import networkx as nx

from emcomm.node import wire
from emcomm.router import attrs

MAX_AGE_S = 3600.0   # an advertisement not refreshed within an hour is dropped


@dataclasses.dataclass(frozen=True)
class _Entry:
    advert: wire.LinkStateAdvert
    installed_s: float       # core clock when installed

    def age_s(self, now: float) -> float:
        return self.advert.age_s + max(0.0, now - self.installed_s)


class LinkStateDB:
    """Latest advertisement per origin (the node's own links are passed to ``graph``)."""

    def __init__(self, self_id: str, max_age_s: float = MAX_AGE_S):
        self.self_id = self_id
        self.max_age_s = max_age_s
        self._entries: dict[str, _Entry] = {}
        self.version = 0
        self._expiry: float | None = None       # cached next_expiry()
        self._expiry_known = True
        self._digest: tuple[int, bytes] | None = None   # cached digest_bytes(): (own_seq, digest)

    def install(self, advert: wire.LinkStateAdvert, now: float) -> bool:
        """Keep ``advert`` if it is newer than what is held; True when it changed the database
        (and so must be flooded on). The node's own adverts coming back are refused."""
        if advert.origin == self.self_id or advert.age_s >= self.max_age_s:
            return False
        held = self._entries.get(advert.origin)
        if held is not None and held.advert.seq >= advert.seq:
            return False
        if held is None or held.advert.links != advert.links:
            self.version += 1
        self._entries[advert.origin] = _Entry(advert, now)
        self._expiry_known = False
        self._digest = None
        return True

    def expire(self, now: float) -> list[str]:
        """Drop adverts older than ``max_age_s``; returns their origins."""
        t = self.next_expiry()
        if t is None or now < t - 1e-6:      # nothing can have aged out yet (the common case)
            return []
        self._expiry_known = False
        old = [o for o, e in self._entries.items() if e.age_s(now) >= self.max_age_s]
        for o in old:
            del self._entries[o]
        if old:
            self.version += 1
            self._digest = None
        return old

    def next_expiry(self) -> float | None:
        """When the oldest advert ages out (for the core's wake-up)."""
        if not self._expiry_known:
            self._expiry = min((e.installed_s + self.max_age_s - e.advert.age_s for e in self._entries.values()),
                               default=None)
            self._expiry_known = True
        return self._expiry

    def adverts(self, now: float) -> list[wire.LinkStateAdvert]:
        """Every held advert with its age brought up to ``now`` (for flooding to a new neighbour)."""
        return [dataclasses.replace(e.advert, age_s=round(e.age_s(now), 3)) for e in self._entries.values()]

    def age_of(self, origin: str, now: float) -> float | None:
        """The age at ``now`` of the advert held for ``origin`` (None when none)."""
        e = self._entries.get(origin)
        return None if e is None else round(e.age_s(now), 3)

    def seq_of(self, origin: str) -> int:
        """The sequence number held for ``origin`` (-1 when none)."""
        e = self._entries.get(origin)
        return -1 if e is None else e.advert.seq

    def __len__(self) -> int:
        return len(self._entries)

    def digest(self, own_seq: int) -> str:
        """A short digest of the view: every origin's advert sequence number, this node's own
        included. Two nodes with the same view of the mesh have the same digest.

        >>> LinkStateDB("a").digest(3) == LinkStateDB("b").digest(3)
        False
        """
        return self.digest_bytes(own_seq).hex()

    def digest_bytes(self, own_seq: int) -> bytes:
        """``digest`` as the 8 bytes a heartbeat carries (cached until the database changes)."""
        if self._digest is None or self._digest[0] != own_seq:
            versions = sorted(self.summary(own_seq))
            self._digest = (own_seq, hashlib.blake2b(repr(versions).encode(), digest_size=8).digest())
        return self._digest[1]

    def summary(self, own_seq: int) -> list[tuple[str, int]]:
        """``(origin, seq)`` of every held advert and of this node's own (what a neighbour
        compares with its database to push what is newer).

        >>> LinkStateDB("a").summary(2)
        [('a', 2)]
        """
        return [(o, e.advert.seq) for o, e in self._entries.items()] + [(self.self_id, own_seq)]

    def advert_of(self, origin: str, now: float) -> wire.LinkStateAdvert | None:
        """The advert held for ``origin`` with its age brought up to ``now`` (None when none)."""
        e = self._entries.get(origin)
        return None if e is None else dataclasses.replace(e.advert, age_s=round(e.age_s(now), 3))

    def graph(self, own_links: Mapping[str, wire.LinkAdvert]) -> nx.MultiGraph:
        """The topology as a MultiGraph (edge key = link id) with ``attrs`` names.

        ``own_links`` are this node's links as it knows them now (authoritative for them).
        """
        g = nx.MultiGraph()
        g.add_node(self.self_id)
        per_origin: list[tuple[str, Any]] = [(self.self_id, l) for l in own_links.values()]
        for origin, e in self._entries.items():
            per_origin += [(origin, l) for l in e.advert.links if l.link_id not in own_links]
        down = {l.link_id for _, l in per_origin if not l.up}
        for origin, l in per_origin:
            if not l.up or l.link_id in down or l.neighbour == origin:
                continue
            g.add_edge(origin, l.neighbour, key=l.link_id, **{
                attrs.EDGE_KIND: l.kind, attrs.EDGE_UP: True, attrs.EDGE_REASON: "",
                attrs.EDGE_CAPACITY_FACTOR: 1.0, attrs.EDGE_LATENCY_S: l.latency_s,
                attrs.EDGE_RATE_BPS: l.rate_bps, attrs.EDGE_MTU_BYTES: l.mtu_bytes,
                attrs.EDGE_MIN_INTERVAL_S: l.min_interval_s, attrs.EDGE_LOSS: l.loss,
                attrs.EDGE_COST_PER_MB: l.cost_per_mb,
            })
        return g

    # persistence: the database goes into the store's kv table as msgpack
    def to_bytes(self, now: float) -> bytes:
        """Serialise (frames as on the wire, ages brought up to ``now``)."""
        return msgpack.packb([wire.encode_link_state(a) for a in self.adverts(now)], use_bin_type=True)

    def load_bytes(self, data: bytes, now: float) -> int:
        """Install adverts saved by ``to_bytes``; unreadable entries are skipped. Returns how many."""
        try:
            frames = msgpack.unpackb(data, raw=False)
        except Exception:  # a damaged kv value must not stop the node; it relearns the mesh
            return 0
        n = 0
        for f in frames if isinstance(frames, list) else []:
            try:
                adv = wire.decode(f)
            except Exception:
                continue
            if isinstance(adv, wire.LinkStateAdvert) and self.install(adv, now):
                n += 1
        return n
