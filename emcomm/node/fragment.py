"""Fragmentation and reassembly of frames for links with a small MTU (Beidou, radio).

This module owns cutting one encoded DATA/RECEIPT or LINK_STATE frame into FRAGMENT frames
that each fit a link's MTU, and putting them back together on the far side with bounded
memory (a cap on buffers and bytes, and a deadline per buffer). It must not decide routes,
pace sends or decode the reassembled frame (the core does that with ``wire.decode``).

A DATA/RECEIPT frame's fragments carry its message id; a LINK_STATE frame has none, so its
fragments carry ``control_frame_id(frame)``, a digest the receiver checks after reassembly.

Example
-------
>>> frame = bytes(range(256)) * 20
>>> parts = split(frame, b"\\x01" * 16, mtu_bytes=1750)
>>> len(parts), all(len(p) <= 1750 for p in parts)
(3, True)
>>> r = Reassembler()
>>> out = [r.add("l1", wire.decode(p), now=0.0, deadline_s=600.0) for p in parts]
>>> out[-1] == frame
True
"""

from __future__ import annotations

import dataclasses
import hashlib

from emcomm.errors import UsageError
from emcomm.node import wire


def chunk_bytes(mtu_bytes: int) -> int:
    """Payload bytes per fragment on a link with this MTU."""
    return mtu_bytes - wire.FRAGMENT_OVERHEAD_BYTES


def fragment_count(frame_size_bytes: int, mtu_bytes: int) -> int:
    """How many link frames a frame of this size needs (1 = no fragmentation).

    >>> fragment_count(5000, 1750), fragment_count(1000, 1750)
    (3, 1)
    """
    if frame_size_bytes <= mtu_bytes:
        return 1
    per = chunk_bytes(mtu_bytes)
    return -(-frame_size_bytes // per)


def split(frame: bytes, msg_id: bytes, mtu_bytes: int) -> list[bytes]:
    """The link frames that carry ``frame``: itself when it fits, else FRAGMENT frames."""
    if len(frame) <= mtu_bytes:
        return [frame]
    per = chunk_bytes(mtu_bytes)
    if per < 16:
        raise UsageError(f"an MTU of {mtu_bytes} bytes is too small to carry fragments "
                         f"(needs at least {wire.FRAGMENT_OVERHEAD_BYTES + 16})")
    count = -(-len(frame) // per)
    if count > wire.MAX_FRAGMENTS:
        raise UsageError(f"a frame of {len(frame)} bytes needs {count} fragments on an MTU of "
                         f"{mtu_bytes}; the limit is {wire.MAX_FRAGMENTS}")
    return [wire.encode_fragment(wire.Fragment(msg_id, i, count, frame[i * per:(i + 1) * per]))
            for i in range(count)]


def control_frame_id(frame: bytes) -> bytes:
    """The 16-byte id of a fragmented frame that has no message id (a LINK_STATE advert):
    a BLAKE2b digest of the whole frame, so the receiver can check what it reassembled.

    >>> len(control_frame_id(b"advert")), control_frame_id(b"a") != control_frame_id(b"b")
    (16, True)
    """
    return hashlib.blake2b(frame, digest_size=wire.MSG_ID_BYTES).digest()


def split_control(frame: bytes, mtu_bytes: int) -> list[bytes]:
    """``split`` for a frame without a message id (an advert): fragments carry its digest.

    >>> adv = wire.LinkStateAdvert("cc", 1, 0.0, tuple(wire.LinkAdvert(f"cc-t{i}", f"t{i}", "radio",
    ...       True, 9600.0, 0.06, 0.02, 512, 0.0, 0.0) for i in range(30)))
    >>> parts = split_control(wire.encode_link_state(adv), mtu_bytes=512)
    >>> len(parts) > 1, max(len(p) for p in parts) <= 512
    (True, True)
    """
    if len(frame) <= mtu_bytes:
        return [frame]
    return split(frame, control_frame_id(frame), mtu_bytes)


@dataclasses.dataclass
class _Buffer:
    chunks: dict[int, bytes]
    size_bytes: int
    deadline_s: float


class Reassembler:
    """Collects fragments per (link, msg_id, count) until complete or past their deadline.

    ``dropped`` counts buffers given up (deadline passed, memory cap, too large).
    """

    def __init__(self, max_buffers: int = 256, max_total_bytes: int = 16 * 1024 * 1024):
        self.max_buffers = max_buffers
        self.max_total_bytes = max_total_bytes
        self._buffers: dict[tuple[str, bytes, int], _Buffer] = {}
        self._total = 0
        self.dropped = 0

    def add(self, link_id: str, frag: wire.Fragment, now: float, deadline_s: float) -> bytes | None:
        """Add one fragment; returns the whole frame when it completes, else None.

        A buffer not completed within ``deadline_s`` of its first fragment is dropped.
        """
        self.expire(now)
        key = (link_id, frag.msg_id, frag.count)
        buf = self._buffers.get(key)
        if buf is None:
            while self._buffers and (len(self._buffers) >= self.max_buffers
                                     or self._total + len(frag.chunk) > self.max_total_bytes):
                self._evict_oldest()
            buf = self._buffers[key] = _Buffer({}, 0, now + deadline_s)
        if frag.index in buf.chunks:
            return None                      # a resent fragment: the first copy stands
        if buf.size_bytes + len(frag.chunk) > wire.MAX_FRAME_BYTES:
            self._drop(key)
            return None
        buf.chunks[frag.index] = frag.chunk
        buf.size_bytes += len(frag.chunk)
        self._total += len(frag.chunk)
        if len(buf.chunks) < frag.count:
            return None
        del self._buffers[key]
        self._total -= buf.size_bytes
        return b"".join(buf.chunks[i] for i in range(frag.count))

    def expire(self, now: float) -> int:
        """Drop buffers past their deadline; returns how many."""
        late = [k for k, b in self._buffers.items() if b.deadline_s <= now]
        for k in late:
            self._drop(k)
        return len(late)

    def next_deadline(self) -> float | None:
        """The earliest buffer deadline (for the core's wake-up time)."""
        return min((b.deadline_s for b in self._buffers.values()), default=None)

    def pending(self) -> int:
        """Incomplete buffers held."""
        return len(self._buffers)

    def _evict_oldest(self) -> None:
        self._drop(min(self._buffers, key=lambda k: self._buffers[k].deadline_s))

    def _drop(self, key: tuple[str, bytes, int]) -> None:
        buf = self._buffers.pop(key)
        self._total -= buf.size_bytes
        self.dropped += 1
