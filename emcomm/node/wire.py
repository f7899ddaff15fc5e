"""The wire format: versioned, size-limited msgpack frames between relay nodes.

This module owns the byte layout of every frame and the strict decoder that turns
untrusted bytes into typed frames. It must not keep state, read a clock, route, or
decide what to do with a frame (that is ``emcomm.node.core``). Every problem with
input from the network raises ``RemoteInputError(reason, detail)`` with one of the
stable ``REASONS`` tokens, and nothing else escapes ``decode``.

Layout (one msgpack array per frame, positional fields for compactness)::

    DATA / RECEIPT  [ver, type, msg_id, src, dst, priority, content_type, flags,
                     created_s, ttl_s, hop_count, hop_limit, body, (ext)]
    HOP_ACK         [ver, 2, [msg_id, ...]]
    LINK_STATE      [ver, 4, origin, seq, age_s, [[link_id, neighbour, kind, up, rate_bps,
                     latency_s, loss, mtu_bytes, min_interval_s, cost_per_mb], ...]]
    HEARTBEAT       [ver, 5, node_id, lsa_seq, known_seq]
    FRAGMENT        [ver, 6, msg_id, index, count, chunk]

Rules for the unknown: a frame whose ``ver`` is not ``WIRE_VERSION`` is refused
(``bad_version``); new optional data goes into the trailing ``ext`` map of DATA
(integer keys): an unknown *even* key is ignored (and counted on the envelope), an
unknown *odd* key is critical and the frame is refused (``unknown_critical_field``).
Extra positional fields are refused (``unknown_field``). A RECEIPT is a DATA-shaped
envelope whose content type is ACK and whose body is ``[msg_id, status, t_s]``.

Example
-------
>>> env = Envelope(msg_id=b"\\x07" * 16, src="team1", dst="cc", priority=0,
...                content_type=ContentType.POSITION, created_s=0, ttl_s=3600, body=b"31.0,103.3")
>>> frame = encode_envelope(env)
>>> len(frame) < 80, decode(frame) == env
(True, True)
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import zlib
from typing import Any, Mapping, Union

import msgpack

from emcomm.errors import RemoteInputError
from emcomm.links.profiles import LinkKind

WIRE_VERSION = 1

# Hard limits. A body is at most 256 KiB (bulk imagery goes as FILE_CHUNK messages);
# a frame adds at most 2 KiB of header. Fragments number at most 4,096.
MAX_BODY_BYTES = 256 * 1024
MAX_FRAME_BYTES = MAX_BODY_BYTES + 2048
MAX_FRAGMENTS = 4096
MAX_ID_BYTES = 64              # node / link / group ids, UTF-8
MAX_TTL_S = 30 * 86400.0       # a message lives at most 30 days
MAX_HOPS = 255
MAX_LINKS_PER_ADVERT = 256
MAX_SUMMARY_ENTRIES = 4096     # origins listed in one LSDB_SUMMARY
LSDB_DIGEST_BYTES = 8          # link-state view digest carried in heartbeats
MAX_ACKS_PER_FRAME = 1024
MAX_EXT_FIELDS = 16
MAX_EXT_VALUE_BYTES = 1024
MAX_DEPTH = 4                  # deepest legal nesting: LINK_STATE frame -> links -> link
MSG_ID_BYTES = 16              # random 128-bit message id
# Room kept in every frame for a future end-to-end signature (Ed25519 = 64 bytes + key id).
SIGNATURE_RESERVE_BYTES = 100

BROADCAST = "*"
GROUP_PREFIX = "@"

EXT_SIGNATURE = 2              # reserved: end-to-end signature (bytes), ignored until verified


class FrameType(enum.IntEnum):
    DATA = 1
    HOP_ACK = 2
    RECEIPT = 3
    LINK_STATE = 4
    HEARTBEAT = 5
    FRAGMENT = 6
    LSDB_SUMMARY = 7


class ContentType(enum.IntEnum):
    TEXT = 0
    POSITION = 1
    STATUS = 2
    ALERT = 3
    FILE_CHUNK = 4
    LINK_STATE = 5
    ACK = 6
    ROSTER = 7          # an authority-signed roster update (flooded at FLASH)

    @classmethod
    def parse(cls, text: "str | int | ContentType") -> "ContentType":
        """Parse ``"position"``, ``1`` or a ContentType (UsageError when unknown).

        >>> ContentType.parse("status")
        <ContentType.STATUS: 2>
        """
        from emcomm.errors import UsageError

        if isinstance(text, ContentType):
            return text
        if isinstance(text, int) and not isinstance(text, bool) and text in cls._value2member_map_:
            return cls(text)
        if isinstance(text, str) and text.upper() in cls.__members__:
            return cls[text.upper()]
        names = ", ".join(m.name.lower() for m in cls)
        raise UsageError(f"unknown content type {text!r}; expected one of: {names}")


class Flags(enum.IntFlag):
    COMPRESSED = 1       # body is zlib-compressed (end to end)
    NO_RECEIPT = 2       # the source wants no end-to-end receipt
    ENCRYPTED = 4        # body sealed to a group's members (emcomm.node.groupcrypt)


_KNOWN_FLAGS = int(Flags.COMPRESSED | Flags.NO_RECEIPT | Flags.ENCRYPTED)

# Stable reason tokens (counter names) raised by decode.
REASONS: frozenset[str] = frozenset({
    "oversize", "malformed", "too_deep", "bad_version", "unknown_type", "unknown_field",
    "unknown_critical_field", "bad_field", "unknown_content_type", "bad_compression",
})


@dataclasses.dataclass(frozen=True)
class Envelope:
    """One end-to-end message (DATA frame, or RECEIPT when content_type is ACK).

    ``created_s`` is on the source's clock (informational); ``ttl_s`` is the lifetime
    *remaining* when the frame left the previous hop, so no clock sync is needed.
    ``body`` is as on the wire (compressed when ``flags`` says so; see ``payload``).
    """

    msg_id: bytes
    src: str
    dst: str
    priority: int
    content_type: int
    created_s: float
    ttl_s: float
    body: bytes
    hop_count: int = 0
    hop_limit: int = 32
    flags: int = 0
    ext: Mapping[int, Any] = dataclasses.field(default_factory=dict)
    ignored_ext: int = 0

    @property
    def is_receipt(self) -> bool:
        return self.content_type == ContentType.ACK

    @property
    def wants_receipt(self) -> bool:
        return not self.is_receipt and not (self.flags & Flags.NO_RECEIPT) and self.dst == _node_dst(self.dst)

    def payload(self) -> bytes:
        """The body as the application sent it (decompressed, bounded by MAX_BODY_BYTES).

        >>> e = make_envelope(b"\\x01" * 16, "a", "b", 3, ContentType.TEXT, 0.0, 60.0, b"x" * 500)
        >>> e.flags & Flags.COMPRESSED != 0, e.payload() == b"x" * 500
        (True, True)
        """
        if not self.flags & Flags.COMPRESSED:
            return self.body
        return _inflate(self.body)


@dataclasses.dataclass(frozen=True)
class HopAck:
    """Custody acknowledgement of one or more messages to the previous hop."""

    msg_ids: tuple[bytes, ...]


@dataclasses.dataclass(frozen=True)
class LinkAdvert:
    """One link as its owner advertises it (measured figures where known)."""

    link_id: str
    neighbour: str
    kind: str
    up: bool
    rate_bps: float
    latency_s: float
    loss: float
    mtu_bytes: int
    min_interval_s: float
    cost_per_mb: float


@dataclasses.dataclass(frozen=True)
class LinkStateAdvert:
    """A node's links at sequence number ``seq``; ``age_s`` grows as it is flooded."""

    origin: str
    seq: int
    age_s: float
    links: tuple[LinkAdvert, ...]


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """Neighbour liveness; carries the sender's advert sequence number and the sequence
    number it holds for the receiver's adverts (0 = none), so a lost advert is re-sent."""

    node_id: str
    lsa_seq: int
    known_seq: int = 0
    digest: bytes = b""     # the sender's link-state view (LinkStateDB.digest_bytes); b"" = not sent


@dataclasses.dataclass(frozen=True)
class LinkStateSummary:
    """Which advert (origin, seq) the sender holds for every origin, its own included: the
    neighbour pushes what is newer on its side (link-state database resynchronisation)."""

    node_id: str
    entries: tuple[tuple[str, int], ...]


@dataclasses.dataclass(frozen=True)
class Fragment:
    """Piece ``index`` of ``count`` of an encoded DATA/RECEIPT frame ``msg_id``."""

    msg_id: bytes
    index: int
    count: int
    chunk: bytes


Frame = Union[Envelope, HopAck, LinkStateAdvert, Heartbeat, Fragment, LinkStateSummary]


# ----------------------------------------------------------------------------- encoding
def _num(x: float) -> float | int:
    # integral floats go out as ints: 1-3 bytes instead of 9
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def make_envelope(msg_id: bytes, src: str, dst: str, priority: int, content_type: int,
                  created_s: float, ttl_s: float, body: bytes, *, hop_limit: int = 32,
                  receipt: bool = True, compress_min_bytes: int = 64) -> Envelope:
    """Build an envelope, compressing the body with zlib when that makes it smaller.

    >>> e = make_envelope(b"\\x02" * 16, "a", "b", 0, ContentType.TEXT, 0.0, 60.0, b"hi")
    >>> e.flags, e.body
    (0, b'hi')
    """
    flags = 0 if receipt else int(Flags.NO_RECEIPT)
    if len(body) >= compress_min_bytes:
        packed = zlib.compress(body, 9)
        if len(packed) < len(body):
            body, flags = packed, flags | int(Flags.COMPRESSED)
    return Envelope(msg_id=msg_id, src=src, dst=dst, priority=int(priority),
                    content_type=int(content_type), created_s=created_s, ttl_s=ttl_s,
                    body=body, hop_limit=hop_limit, flags=flags)


def encode_envelope(env: Envelope) -> bytes:
    """Encode a DATA frame (or RECEIPT frame when ``env.is_receipt``)."""
    return encode_in_transit(env, env.ttl_s, env.hop_count)


def encode_in_transit(env: Envelope, ttl_s: float, hop_count: int) -> bytes:
    """``encode_envelope`` of ``env`` with the two fields a hop rewrites replaced, without
    building the new envelope (a relay does this for every frame it hands on).

    >>> e = Envelope(b"\\x03" * 16, "a", "b", 3, ContentType.TEXT, 5.0, 60.0, b"hi")
    >>> encode_in_transit(e, 59.5, 1) == encode_envelope(dataclasses.replace(e, ttl_s=59.5, hop_count=1))
    True
    """
    fields: list[Any] = [
        WIRE_VERSION, _RECEIPT if env.content_type == _ACK else _DATA,
        env.msg_id, env.src, env.dst, env.priority, env.content_type, env.flags, _num(env.created_s),
        _num(ttl_s), hop_count, env.hop_limit, env.body,
    ]
    if env.ext:
        fields.append(dict(env.ext))
    return _pack(fields)


_DATA, _RECEIPT, _ACK = int(FrameType.DATA), int(FrameType.RECEIPT), int(ContentType.ACK)
_unpackb = msgpack.unpackb
_unpackb_int_keys = functools.partial(msgpack.unpackb, strict_map_key=False)   # an ext map's keys are integers


def encode_hop_ack(msg_ids: "tuple[bytes, ...] | list[bytes]") -> bytes:
    """Encode a HOP_ACK for up to MAX_ACKS_PER_FRAME message ids."""
    return _pack([WIRE_VERSION, int(FrameType.HOP_ACK), list(msg_ids)])


def encode_link_state(lsa: LinkStateAdvert) -> bytes:
    """Encode a LINK_STATE advertisement."""
    links = [[l.link_id, l.neighbour, l.kind, l.up, _num(float(l.rate_bps)), _num(float(l.latency_s)),
              _num(float(l.loss)), l.mtu_bytes, _num(float(l.min_interval_s)), _num(float(l.cost_per_mb))]
             for l in lsa.links]
    return _pack([WIRE_VERSION, int(FrameType.LINK_STATE), lsa.origin, lsa.seq, _num(float(lsa.age_s)), links])


def encode_heartbeat(hb: Heartbeat) -> bytes:
    """Encode a HEARTBEAT."""
    fields = [WIRE_VERSION, int(FrameType.HEARTBEAT), hb.node_id, hb.lsa_seq, hb.known_seq]
    if hb.digest:
        fields.append(hb.digest)
    return _pack(fields)


def encode_summary(summary: LinkStateSummary) -> bytes:
    """Encode an LSDB_SUMMARY."""
    return _pack([WIRE_VERSION, int(FrameType.LSDB_SUMMARY), summary.node_id,
                  [[o, seq] for o, seq in summary.entries]])


def encode_fragment(frag: Fragment) -> bytes:
    """Encode one FRAGMENT."""
    return _pack([WIRE_VERSION, int(FrameType.FRAGMENT), frag.msg_id, frag.index, frag.count, frag.chunk])


def encode(frame: Frame) -> bytes:
    """Encode any frame.

    >>> decode(encode(Heartbeat("n1", 3)))
    Heartbeat(node_id='n1', lsa_seq=3, known_seq=0, digest=b'')
    """
    if isinstance(frame, Envelope):
        return encode_envelope(frame)
    if isinstance(frame, HopAck):
        return encode_hop_ack(frame.msg_ids)
    if isinstance(frame, LinkStateAdvert):
        return encode_link_state(frame)
    if isinstance(frame, Heartbeat):
        return encode_heartbeat(frame)
    if isinstance(frame, Fragment):
        return encode_fragment(frame)
    if isinstance(frame, LinkStateSummary):
        return encode_summary(frame)
    raise TypeError(f"not a frame: {frame!r}")


# Largest header a FRAGMENT can have (bin32 header for the chunk, 2-byte index/count).
FRAGMENT_OVERHEAD_BYTES = len(encode_fragment(Fragment(b"\x00" * MSG_ID_BYTES, 65535, 65535, b""))) + 4


# ----------------------------------------------------------------------------- decoding
def _bad(reason: str, detail: str) -> RemoteInputError:
    return RemoteInputError(reason, detail)


def _depth_ok(obj: Any) -> bool:
    if type(obj) is list:
        for c in obj:
            if type(c) is list or type(c) is dict:
                break
        else:
            return True     # a flat frame (every DATA frame without ext): nothing to walk
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > MAX_DEPTH:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (list, dict)))
    return True


def _refuse_ext(code: int, data: bytes) -> Any:
    raise _bad("malformed", f"msgpack extension type {code} is not used by emcomm")


def _unpack(data: bytes) -> Any:
    try:
        return msgpack.unpackb(
            data, raw=False, use_list=True, strict_map_key=False, ext_hook=_refuse_ext,
            max_bin_len=MAX_FRAME_BYTES, max_str_len=4096,
            max_array_len=max(MAX_ACKS_PER_FRAME, MAX_LINKS_PER_ADVERT, 32), max_map_len=MAX_EXT_FIELDS,
            max_ext_len=0,
        )
    except RemoteInputError:
        raise
    except msgpack.StackError as exc:
        raise _bad("too_deep", f"nesting deeper than the decoder allows ({exc})") from None
    except msgpack.ExtraData:
        raise _bad("malformed", "extra bytes after the frame") from None
    except UnicodeDecodeError:
        raise _bad("malformed", "a string is not valid UTF-8") from None
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        # ValueError covers truncated input, limits exceeded and msgpack FormatError
        raise _bad("malformed", f"not a msgpack frame ({type(exc).__name__}: {exc})") from None


def _int(v: Any, name: str, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _bad("bad_field", f"{name} must be an integer in [{lo}, {hi}], got {_show(v)}")
    return v


def _float(v: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _bad("bad_field", f"{name} must be a number, got {_show(v)}")
    f = float(v)
    if not math.isfinite(f) or not lo <= f <= hi:
        raise _bad("bad_field", f"{name} must be a finite number in [{lo}, {hi}], got {_show(v)}")
    return f


def _bytes(v: Any, name: str, lo: int, hi: int) -> bytes:
    if not isinstance(v, bytes) or not lo <= len(v) <= hi:
        raise _bad("bad_field", f"{name} must be {lo}..{hi} bytes, got {_show(v)}")
    return v


def _ident(v: Any, name: str) -> str:
    if not isinstance(v, str) or not v or len(v.encode()) > MAX_ID_BYTES or not v.isprintable() or v != v.strip():
        raise _bad("bad_field", f"{name} must be a printable id of 1..{MAX_ID_BYTES} bytes, got {_show(v)}")
    return v


def _node_dst(v: str) -> str:
    return v if v != BROADCAST and not v.startswith(GROUP_PREFIX) else ""


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def valid_id(text: str) -> bool:
    """True when ``text`` is usable as a node, link or group id on the wire.

    >>> valid_id("team-1"), valid_id(""), valid_id("a\\nb")
    (True, False, False)
    """
    try:
        _ident(text, "id")
    except RemoteInputError:
        return False
    return True


def _inflate(body: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise _bad("bad_compression", f"compressed body is not valid zlib ({exc})") from None
    if len(out) > MAX_BODY_BYTES or d.unconsumed_tail:
        raise _bad("oversize", f"compressed body expands beyond {MAX_BODY_BYTES} bytes")
    if not d.eof:
        raise _bad("bad_compression", "compressed body is truncated")
    return out


# Ids that passed ``_ident`` recently: a relay sees the same few sources and destinations in
# almost every frame, and a set lookup is ~30x cheaper than the check. Bounded: cleared when full.
_KNOWN_IDS: set[str] = set()
_KNOWN_IDS_MAX = 4096
_DATA_HEAD = bytes([0x9D, WIRE_VERSION, 1])        # fixarray of 13, version, DATA (FrameType.DATA)
_DATA_EXT_HEAD = bytes([0x9E, WIRE_VERSION, 1])    # ... of 14: with the ext map
_DATA_CONTENT_TYPES = frozenset(int(c) for c in ContentType if c != ContentType.ACK)   # ACK: RECEIPT frames only


def _envelope_fast(msg_id: bytes, src: str, dst: str, priority: int, content_type: int, created_s: float,
                   ttl_s: float, body: bytes, hop_count: int, hop_limit: int, flags: int,
                   ext: dict[int, Any]) -> Envelope:
    """An ``Envelope`` from fields already validated, without the frozen dataclass's per-field
    ``object.__setattr__`` (≈ 4 µs of a relay's per-frame budget). Equal to the normal
    constructor's result.

    >>> a = _envelope_fast(b"\\x01" * 16, "a", "b", 3, 0, 1.0, 60.0, b"x", 0, 32, 0, {})
    >>> a == Envelope(b"\\x01" * 16, "a", "b", 3, 0, 1.0, 60.0, b"x")
    True
    """
    env = object.__new__(Envelope)
    env.__dict__.update(msg_id=msg_id, src=src, dst=dst, priority=priority, content_type=content_type,
                        created_s=created_s, ttl_s=ttl_s, body=body, hop_count=hop_count, hop_limit=hop_limit,
                        flags=flags, ext=ext, ignored_ext=0)
    return env


def _id_ok(v: Any) -> bool:
    if v in _KNOWN_IDS:
        return True
    try:
        _ident(v, "id")
    except RemoteInputError:
        return False
    if len(_KNOWN_IDS) >= _KNOWN_IDS_MAX:
        _KNOWN_IDS.clear()
    _KNOWN_IDS.add(v)
    return True


def _fast_data(f: list[Any], ext: dict[int, Any]) -> Envelope | None:
    """The common DATA frame (its 13 fields, every one well-formed: hence flat, and ``ext``
    already checked by the caller), checked in one pass and built directly; None for anything
    else, which ``_decode_envelope`` then checks field by field, naming the first bad one.
    Both accept exactly the same frames."""
    _, _, msg_id, src, dst, priority, ctype, flags, created_s, ttl_s, hop_count, hop_limit, body = f[:13]
    if (type(msg_id) is bytes and len(msg_id) == MSG_ID_BYTES and type(src) is str and type(dst) is str
            and type(priority) is int and 0 <= priority <= 3
            and type(ctype) is int and ctype in _DATA_CONTENT_TYPES
            and type(flags) is int and 0 <= flags <= 0xFF and not flags & ~_KNOWN_FLAGS
            and (type(created_s) is float or type(created_s) is int) and -1e12 <= created_s <= 1e12
            and (type(ttl_s) is float or type(ttl_s) is int) and 0.0 <= ttl_s <= MAX_TTL_S
            and type(hop_limit) is int and 1 <= hop_limit <= MAX_HOPS
            and type(hop_count) is int and 0 <= hop_count <= hop_limit
            and type(body) is bytes and len(body) <= MAX_BODY_BYTES
            and _id_ok(src) and _id_ok(dst)):
        return _envelope_fast(msg_id, src, dst, priority, ctype, float(created_s), float(ttl_s), body,
                              hop_count, hop_limit, flags, ext)
    return None


def _flat_data(f: list[Any]) -> Envelope | None:
    """``_fast_data`` of a DATA frame's fields when it has no ext map or a signature block
    alone (a signed message): the two shapes a relay sees. None for any other."""
    if len(f) == 13:
        return _fast_data(f, {})
    if len(f) == 14:
        ext = f[13]
        if type(ext) is dict and len(ext) == 1:
            sig = ext.get(EXT_SIGNATURE)
            if type(sig) is bytes and 1 <= len(sig) <= SIGNATURE_RESERVE_BYTES and type(next(iter(ext))) is int:
                return _fast_data(f, ext)
    return None


def decode_data(data: bytes) -> Envelope | None:
    """``decode(data)`` when that is a DATA frame (a RECEIPT or any other frame type, or a
    frame ``decode`` refuses: None, without saying why; the caller then calls ``decode``, which
    names the problem). A relay's per-frame shortcut: the common shape (13 fields, no ext map)
    is checked in one pass; a frame with an ext map (a signed message) takes the full check.

    >>> env = Envelope(b"\\x05" * 16, "a", "b", 3, ContentType.TEXT, 1.0, 60.0, b"hi")
    >>> decode_data(encode_envelope(env)) == env, decode_data(encode_hop_ack([b"\\x05" * 16]))
    (True, None)
    """
    head = data[:3]
    if len(data) > MAX_FRAME_BYTES:
        return None
    if head == _DATA_HEAD:
        try:    # msgpack's own limits (every length bounded by the frame's) suffice for this shape
            f = _unpackb(data)
        except Exception:
            return None
        return _fast_data(f, {}) if type(f) is list and len(f) == 13 else None
    if head != _DATA_EXT_HEAD:
        return None
    try:
        f = _unpackb_int_keys(data)
    except Exception:
        return None
    if type(f) is list and len(f) == 14:
        env = _flat_data(f)
        if env is not None:
            return env
    try:                # any other ext map: the full check
        env = decode(data)
    except RemoteInputError:
        return None
    return env if type(env) is Envelope else None


def _decode_envelope(f: list[Any], ftype: FrameType) -> Envelope:
    if len(f) < 13:
        raise _bad("malformed", f"{ftype.name} frame has {len(f)} fields, expected 13 or 14")
    if len(f) > 14:
        raise _bad("unknown_field", f"{ftype.name} frame has {len(f)} fields; version {WIRE_VERSION} has 13 and an ext map")
    msg_id = _bytes(f[2], "msg_id", MSG_ID_BYTES, MSG_ID_BYTES)
    src = _ident(f[3], "src")
    dst = _ident(f[4], "dst")
    priority = _int(f[5], "priority", 0, 3)
    ctype = f[6]
    if not isinstance(ctype, int) or isinstance(ctype, bool) or ctype not in ContentType._value2member_map_:
        raise _bad("unknown_content_type", f"content type {_show(ctype)} is not one of {[int(c) for c in ContentType]}")
    flags = _int(f[7], "flags", 0, 0xFF)
    if flags & ~_KNOWN_FLAGS:
        raise _bad("bad_field", f"unknown flag bits {flags & ~_KNOWN_FLAGS:#x}")
    created_s = _float(f[8], "created_s", -1e12, 1e12)
    ttl_s = _float(f[9], "ttl_s", 0.0, MAX_TTL_S)
    hop_limit = _int(f[11], "hop_limit", 1, MAX_HOPS)
    hop_count = _int(f[10], "hop_count", 0, hop_limit)
    body = _bytes(f[12], "body", 0, MAX_BODY_BYTES)
    is_ack = ctype == ContentType.ACK
    if is_ack != (ftype == FrameType.RECEIPT):
        raise _bad("bad_field", "content type ACK is carried by RECEIPT frames only, and RECEIPT frames carry only ACK")
    ext: dict[int, Any] = {}
    ignored = 0
    if len(f) == 14:
        raw = f[13]
        if not isinstance(raw, dict):
            raise _bad("bad_field", f"ext must be a map, got {_show(raw)}")
        for k, v in raw.items():
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= 0xFFFF:
                raise _bad("bad_field", f"ext keys must be integers 0..65535, got {_show(k)}")
            if isinstance(v, (list, dict)) or (isinstance(v, (bytes, str)) and len(v) > MAX_EXT_VALUE_BYTES):
                raise _bad("bad_field", f"ext value {k} must be a scalar of at most {MAX_EXT_VALUE_BYTES} bytes")
            if k == EXT_SIGNATURE:
                ext[k] = _bytes(v, "signature", 1, SIGNATURE_RESERVE_BYTES)
            elif k % 2 == 1:
                raise _bad("unknown_critical_field", f"ext field {k} is critical (odd) and not understood by version {WIRE_VERSION}")
            else:
                ignored += 1
    if is_ack:
        _decode_receipt_body(body)
    return Envelope(msg_id=msg_id, src=src, dst=dst, priority=priority, content_type=ctype,
                    created_s=created_s, ttl_s=ttl_s, body=body, hop_count=hop_count,
                    hop_limit=hop_limit, flags=flags, ext=ext, ignored_ext=ignored)


RECEIPT_STATUSES = ("delivered", "expired", "undeliverable")


def encode_receipt_body(msg_id: bytes, status: str, t_s: float) -> bytes:
    """The body of a RECEIPT envelope: which message, what became of it, when."""
    return _pack([msg_id, status, _num(t_s)])


def _decode_receipt_body(body: bytes) -> tuple[bytes, str, float]:
    try:
        f = _unpack(body)
    except RemoteInputError as exc:
        raise _bad("bad_field", f"receipt body is not msgpack ({exc.detail})") from None
    if not isinstance(f, list) or len(f) != 3:
        raise _bad("bad_field", "receipt body must be [msg_id, status, t_s]")
    mid = _bytes(f[0], "receipt msg_id", MSG_ID_BYTES, MSG_ID_BYTES)
    if f[1] not in RECEIPT_STATUSES:
        raise _bad("bad_field", f"receipt status must be one of {RECEIPT_STATUSES}, got {_show(f[1])}")
    return mid, f[1], _float(f[2], "receipt t_s", -1e12, 1e12)


def decode_receipt_body(env: Envelope) -> tuple[bytes, str, float]:
    """``(msg_id, status, t_s)`` of a receipt envelope (RemoteInputError when malformed)."""
    return _decode_receipt_body(env.body)


def _decode_link(v: Any, i: int) -> LinkAdvert:
    if not isinstance(v, list) or len(v) != 10:
        raise _bad("bad_field", f"links[{i}] must be a list of 10 fields")
    kind = v[2]
    if not isinstance(kind, str) or kind not in LinkKind._value2member_map_:
        raise _bad("bad_field", f"links[{i}].kind {_show(kind)} is not a known link kind")
    if not isinstance(v[3], bool):
        raise _bad("bad_field", f"links[{i}].up must be true or false")
    return LinkAdvert(
        link_id=_ident(v[0], f"links[{i}].link_id"), neighbour=_ident(v[1], f"links[{i}].neighbour"),
        kind=kind, up=v[3], rate_bps=_float(v[4], f"links[{i}].rate_bps", 0.0, 1e12),
        latency_s=_float(v[5], f"links[{i}].latency_s", 0.0, 3600.0),
        loss=_float(v[6], f"links[{i}].loss", 0.0, 1.0),
        mtu_bytes=_int(v[7], f"links[{i}].mtu_bytes", 1, MAX_FRAME_BYTES),
        min_interval_s=_float(v[8], f"links[{i}].min_interval_s", 0.0, 86400.0),
        cost_per_mb=_float(v[9], f"links[{i}].cost_per_mb", 0.0, 1e9),
    )


def decode(data: bytes) -> Frame:
    """Decode one frame from untrusted bytes, or raise RemoteInputError(reason, detail).

    >>> decode(encode_hop_ack([b"\\x01" * 16]))
    HopAck(msg_ids=(b'\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01',))
    >>> try:
    ...     decode(b"\\x93\\x02\\x05\\x00")
    ... except RemoteInputError as e:
    ...     e.reason
    'bad_version'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _bad("malformed", f"a frame is bytes, got {type(data).__name__}")
    if len(data) > MAX_FRAME_BYTES:
        raise _bad("oversize", f"frame of {len(data)} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    if not data:
        raise _bad("malformed", "empty frame")
    f = _unpack(data if type(data) is bytes else bytes(data))
    if not isinstance(f, list) or len(f) < 2:
        raise _bad("malformed", "a frame is an array [version, type, ...]")
    if f[0] != WIRE_VERSION or isinstance(f[0], bool):
        raise _bad("bad_version", f"wire version {_show(f[0])} is not supported (this node speaks {WIRE_VERSION})")
    if f[1] == FrameType.DATA and type(f[1]) is int:
        env = _flat_data(f)
        if env is not None:
            return env
    if not _depth_ok(f):
        raise _bad("too_deep", f"frame nests deeper than {MAX_DEPTH} levels")
    t = f[1]
    if not isinstance(t, int) or isinstance(t, bool) or t not in FrameType._value2member_map_:
        raise _bad("unknown_type", f"frame type {_show(t)} is not one of {[int(x) for x in FrameType]}")
    ftype = FrameType._value2member_map_[t]   # FrameType(t) without the enum call machinery
    if ftype in (FrameType.DATA, FrameType.RECEIPT):
        return _decode_envelope(f, ftype)
    expected = {FrameType.HOP_ACK: 3, FrameType.LINK_STATE: 6, FrameType.HEARTBEAT: 5, FrameType.FRAGMENT: 6,
                FrameType.LSDB_SUMMARY: 4}[ftype]
    if (ftype == FrameType.HEARTBEAT and len(f) == 6 and isinstance(f[5], bytes)
            and len(f[5]) == LSDB_DIGEST_BYTES):     # with the optional link-state digest
        return Heartbeat(_ident(f[2], "node_id"), _int(f[3], "lsa_seq", 0, 2**63 - 1),
                         _int(f[4], "known_seq", 0, 2**63 - 1), bytes(f[5]))
    if len(f) != expected:
        reason = "unknown_field" if len(f) > expected else "malformed"
        raise _bad(reason, f"{ftype.name} frame has {len(f)} fields, expected {expected}")
    if ftype == FrameType.HOP_ACK:
        ids = f[2]
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_ACKS_PER_FRAME:
            raise _bad("bad_field", f"HOP_ACK carries a list of 1..{MAX_ACKS_PER_FRAME} ids")
        return HopAck(tuple(_bytes(m, "acked msg_id", MSG_ID_BYTES, MSG_ID_BYTES) for m in ids))
    if ftype == FrameType.HEARTBEAT:
        return Heartbeat(_ident(f[2], "node_id"), _int(f[3], "lsa_seq", 0, 2**63 - 1),
                         _int(f[4], "known_seq", 0, 2**63 - 1))
    if ftype == FrameType.LSDB_SUMMARY:
        entries = f[3]
        if not isinstance(entries, list) or len(entries) > MAX_SUMMARY_ENTRIES:
            raise _bad("bad_field", f"LSDB_SUMMARY entries must be a list of at most {MAX_SUMMARY_ENTRIES}")
        pairs = []
        for e in entries:
            if not isinstance(e, list) or len(e) != 2:
                raise _bad("bad_field", "an LSDB_SUMMARY entry is [origin, seq]")
            pairs.append((_ident(e[0], "origin"), _int(e[1], "seq", 0, 2**63 - 1)))
        return LinkStateSummary(_ident(f[2], "node_id"), tuple(pairs))
    if ftype == FrameType.FRAGMENT:
        count = _int(f[4], "count", 2, MAX_FRAGMENTS)
        return Fragment(_bytes(f[2], "msg_id", MSG_ID_BYTES, MSG_ID_BYTES), _int(f[3], "index", 0, count - 1),
                        count, _bytes(f[5], "chunk", 1, MAX_FRAME_BYTES))
    links = f[5]
    if not isinstance(links, list) or len(links) > MAX_LINKS_PER_ADVERT:
        raise _bad("bad_field", f"links must be a list of at most {MAX_LINKS_PER_ADVERT}")
    return LinkStateAdvert(_ident(f[2], "origin"), _int(f[3], "seq", 0, 2**63 - 1),
                           _float(f[4], "age_s", 0.0, MAX_TTL_S),
                           tuple(_decode_link(v, i) for i, v in enumerate(links)))
