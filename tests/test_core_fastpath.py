"""The relay's fast lane (``NodeCore._relay_fast`` for relayed DATA frames, the in-line loop of
``_pump_data``) against the full path, on random bursts: a core with the fast lane switched
off must produce the same actions in the same order (a run of relayed records may share one
Persist), the same counters and the same state, through the burst, the store's confirmation,
the next hop's acks, retransmissions and expiry."""

from __future__ import annotations

import dataclasses
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcomm.links.profiles import make_profile
from emcomm.node import wire
from emcomm.node.actions import Persist, Transmit
from emcomm.node.core import NodeConfig, NodeCore

from test_wire import frames as frames_strategy

# two fast links (the in-line loop), one paced Beidou link and one small-MTU link (fragments)
LINKS = {"ab": ("b", make_profile("fibre")), "ac": ("c", make_profile("cellular")),
         "ad": ("d", make_profile("beidou")),
         "ae": ("e", dataclasses.replace(make_profile("cellular"), mtu_bytes=300))}
DSTS = ["b", "c", "d", "e", "a", "*", "@g", "zz"]


def _slow_pump_data(self: NodeCore, link: Any, now: float, out: list) -> None:
    """The reference for the in-line loop: every copy through _take_data and _transmit."""
    while link.queue and self._can_send(link, now):
        self._send_next_data(link, now, out)


class SlowCore(NodeCore):
    """A core that never takes the fast lane."""

    def _relay_fast(self, *args: Any) -> bool:
        return False

    _pump_data = _slow_pump_data


def _cores(telemetry: bool) -> tuple[NodeCore, NodeCore]:
    cores = []
    for cls in (NodeCore, SlowCore):
        core = cls("a", NodeConfig(links=LINKS, groups=frozenset({"@g"}), telemetry=telemetry, rto_min_s=0.05), seed=5)
        core.tick(0.0)
        for link, (peer, _) in LINKS.items():
            core.handle_frames([(link, wire.encode_heartbeat(wire.Heartbeat(peer, 0)))], now=0.0)
        cores.append(core)
    return cores[0], cores[1]


def _flat(actions: list) -> list[Any]:
    """The actions in order, a run of Persists as one: its records, seen ids and kv in order."""
    out: list[Any] = []
    for a in actions:
        if isinstance(a, Persist):
            if not (out and isinstance(out[-1], tuple)):
                out.append(([], [], []))
            for part, items in zip(out[-1], (a.records, a.seen, a.kv)):
                part.extend(repr(x) for x in items)
        else:
            out.append(repr(a))
    return [tuple(x) if isinstance(x, tuple) else x for x in out]


def _state(core: NodeCore) -> Any:
    links = {lid: (len(l.queue), sorted(l.inflight), l.busy_until_s, l.last_sent_s, l.last_heard_s, list(l.acks))
             for lid, l in core._links.items()}
    msgs = {m: (x.stage, x.expires_s, x.early, x.handed_early, x.size_bytes, x.held, x.from_link,
                {k: (c.attempts, c.retransmit_s, c.next_frag, c.sent_once, c.live) for k, c in x.copies.items()})
            for m, x in core._msgs.items()}
    return (links, msgs, dict(core._seen), dict(core._handed), sorted(core._seen_heap), sorted(core._ttl_heap),
            sorted((t, c.msg.env.msg_id, c.link_id) for t, _, c in core._rtx_heap), dict(core.counters))


def _data(mid: int, dst: str, priority: int, ttl_s: float, hops: tuple[int, int], size: int, src: str,
          ext: dict[Any, Any] | None = None) -> bytes:
    return wire.encode_envelope(wire.Envelope(
        msg_id=mid.to_bytes(16, "big"), src=src, dst=dst, priority=priority, content_type=0, created_s=1.0,
        ttl_s=ttl_s, body=b"x" * size, hop_count=hops[0], hop_limit=hops[1], ext=ext or {}))


data_frames = st.builds(
    _data, st.integers(1, 12), st.sampled_from(DSTS), st.integers(0, 3), st.sampled_from([0.0, 0.5, 30.1234, 600.0]),
    st.sampled_from([(0, 32), (1, 32), (31, 32), (2, 2)]), st.sampled_from([10, 700, 2000]),
    st.sampled_from(["b", "c", "q"]))
# DATA frames with an ext map: mostly a signature block alone (the shape a secure relay sees),
# also blocks of the wrong size or type, keys of other types, unknown and critical fields
ext_maps = st.one_of(
    st.binary(max_size=120).map(lambda b: {wire.EXT_SIGNATURE: b}),
    st.binary(min_size=1, max_size=100).map(lambda b: {float(wire.EXT_SIGNATURE): b}),    # equal to the key, not an integer
    st.dictionaries(st.one_of(st.integers(0, 6), st.just(2.0), st.booleans(), st.text(max_size=2)),
                    st.one_of(st.binary(max_size=120), st.integers(-3, 3), st.text(max_size=5)), max_size=3),
)
ext_frames = st.builds(
    _data, st.integers(1, 12), st.sampled_from(DSTS), st.integers(0, 3), st.sampled_from([0.5, 600.0]),
    st.sampled_from([(0, 32), (31, 32)]), st.sampled_from([10, 700]), st.sampled_from(["b", "c"]), ext_maps)
bursts = st.lists(st.one_of(
    st.tuples(st.sampled_from(["ab", "ac", "ad", "ae"]), data_frames),
    st.tuples(st.sampled_from(["ab", "ac"]), st.binary(max_size=40)),
    st.tuples(st.just("zz"), data_frames),
), min_size=1, max_size=30)


def _step(fast: NodeCore, slow: NodeCore, what: str, call: Any) -> list:
    a, b = call(fast), call(slow)
    assert _flat(a) == _flat(b), what
    assert _state(fast) == _state(slow), what
    return a


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(bursts, min_size=1, max_size=3), st.booleans(), st.sampled_from([0, 1, 2]),
       st.floats(1.0, 2.0))
def test_the_fast_lane_matches_the_full_path(burst_list: list, telemetry: bool, ack_mode: int, now: float) -> None:
    fast, slow = _cores(telemetry)
    for burst in burst_list:
        actions = _step(fast, slow, "burst", lambda c: c.handle_frames(burst, now))
        ids = [r.msg_id for a in actions if isinstance(a, Persist) for r in a.records]
        sent = [(a.link_id, f.msg_id) for a in actions if isinstance(a, Transmit)
                for f in [wire.decode(a.data)] if isinstance(f, wire.Envelope)]
        if ack_mode == 1:       # the next hop acks before our commit (the record is never written)
            acks = [(lid, wire.encode_hop_ack([m for l, m in sent if l == lid])) for lid in {l for l, _ in sent}]
            _step(fast, slow, "early acks", lambda c: c.handle_frames(acks, now + 0.01))
        _step(fast, slow, "stored", lambda c: c.stored(ids, now + 0.02))
        if ack_mode == 2:
            acks = [(lid, wire.encode_hop_ack([m for l, m in sent if l == lid])) for lid in {l for l, _ in sent}]
            _step(fast, slow, "acks", lambda c: c.handle_frames(acks, now + 0.03))
        now += 0.5
    for t in (2.0, 5.0, 40.0, 700.0):      # retransmissions, paced sends, expiry
        _step(fast, slow, f"tick {t}", lambda c: c.tick(now + t))


def test_the_fast_lane_is_taken_for_a_plain_relayed_message() -> None:
    fast, slow = _cores(telemetry=False)
    frame = _data(7, "c", 3, 600.0, (0, 32), 700, "b")
    calls = []
    original = fast._relay_fast
    fast._relay_fast = lambda *a: calls.append(original(*a)) or calls[-1]      # type: ignore[method-assign]
    out = _step(fast, slow, "one frame", lambda c: c.handle_frames([("ab", frame)], 1.0))
    assert calls == [True]
    assert [a.link_id for a in out if isinstance(a, Transmit)] == ["ac"]


def test_a_message_cut_in_fragments_on_the_in_line_path_is_encoded_once() -> None:
    fast, slow = _cores(telemetry=False)
    _step(fast, slow, "a first message", lambda c: c.handle_frames([("ab", _data(9, "e", 3, 600.0, (0, 32), 10, "b"))], 1.0))
    # at 2.0 the fast core sends this 2 KB copy (over the 300-byte link "ae") from the in-line
    # loop of _pump_data, which encoded it twice before the change (the count was [2, 1])
    frame = _data(8, "e", 3, 600.0, (0, 32), 2000, "b")
    calls = []

    def counted(c: NodeCore) -> list:
        with mock.patch.object(wire, "encode_in_transit", wraps=wire.encode_in_transit) as enc:
            out = c.handle_frames([("ab", frame)], 2.0)
        calls.append(enc.call_count)
        return out

    out = _step(fast, slow, "the 2 KB one", counted)
    fragments = [a for a in out if isinstance(a, Transmit) and a.link_id == "ae"]
    assert len(fragments) > 1 and all(len(a.data) <= 300 for a in fragments)
    assert calls == [1, 1]          # the in-line loop cuts the frame it encoded, as the full path does


def _decoded(data: bytes) -> Any:
    """``wire.decode`` with its shortcut for flat DATA frames switched off: the field-by-field
    checks are the reference the shortcuts are held to."""
    try:
        with mock.patch.object(wire, "_flat_data", lambda f: None):
            return wire.decode(data)
    except Exception as exc:      # noqa: BLE001 - any refusal
        return exc


def _mutated(data: bytes, at: int, byte: int) -> bytes:
    at %= max(1, len(data))
    return data[:at] + bytes([byte]) + data[at + 1:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    data_frames,
    st.builds(_mutated, data_frames, st.integers(0, 4000), st.integers(0, 255)),
    ext_frames,
    st.builds(_mutated, ext_frames, st.integers(0, 4000), st.integers(0, 255)),
    frames_strategy.map(wire.encode),
    st.binary(max_size=80).map(lambda b: bytes([0x9D, 1, 1]) + b),
    st.binary(max_size=80).map(lambda b: bytes([0x9E, 1, 1]) + b),
))
def test_decode_data_is_decode_or_none(data: bytes) -> None:
    """The relay's shortcut decoder never accepts what ``decode`` refuses, and agrees with it."""
    got = wire.decode_data(data)
    if got is not None:
        assert _decoded(data) == got
        assert type(got) is wire.Envelope and not got.is_receipt
    else:   # a well-formed DATA frame without ext, or with a signature block only, is never left to the slow path
        env = _decoded(data)
        assert not (data[:3] == bytes([0x9D, 1, 1]) and isinstance(env, wire.Envelope))
        assert not (isinstance(env, wire.Envelope) and not env.is_receipt and list(env.ext) == [wire.EXT_SIGNATURE])


# -- with security on: the same comparison for signed traffic, forgeries, unknown senders and
# per-sender rate limits (the fast lane calls the same admission check, once per frame)
_SEC_IDS: dict[str, Any] = {}


def _secure_setup() -> tuple[Any, dict[str, Any]]:
    if not _SEC_IDS:
        from emcomm.node.identity import Identity
        from emcomm.node.roster import Roster

        auth = Identity.generate("auth", name="Duty Officer", org="EOC", phone="", role="authority")
        ids = {n: Identity.generate(n, name=f"Person {n}", org="EOC", phone="", role="commander")
               for n in ("a", "b", "c", "d", "e")}
        roster = Roster.empty(auth.public.verify_key)
        for ident in ids.values():
            roster = roster.add(ident.public)
        _SEC_IDS.update(roster=roster.sign(auth, issued_s=0.0), ids=ids,
                        stranger=Identity.generate("q", name="Q", org="none", phone="", role="commander"))
    return _SEC_IDS["roster"], _SEC_IDS["ids"]


def _secure_cores() -> tuple[NodeCore, NodeCore]:
    from emcomm.node.ratelimit import Limit
    from emcomm.node.security import NodeSecurity

    roster, ids = _secure_setup()
    cores = []
    for cls in (NodeCore, SlowCore):
        sec = NodeSecurity(ids["a"], roster, limits={3: Limit(5.0, 4.0), 2: Limit(5.0, 4.0)})
        core = cls("a", NodeConfig(links=LINKS, telemetry=False, rto_min_s=0.05), seed=5, security=sec)
        core.tick(0.0)
        for link, (peer, _) in LINKS.items():
            core.handle_frames([(link, wire.encode_heartbeat(wire.Heartbeat(peer, 0)))], now=0.0)
        cores.append(core)
    return cores[0], cores[1]


def _signed(mid: int, src: str, dst: str, priority: int, hops: int, tamper: bool) -> bytes:
    from emcomm.node.signing import Signer

    _, ids = _secure_setup()
    signer = Signer(ids[src] if src in ids else _SEC_IDS["stranger"])
    env = signer.sign(wire.Envelope(msg_id=mid.to_bytes(16, "big"), src=src, dst=dst, priority=priority,
                                    content_type=0, created_s=1.0, ttl_s=600.0, body=b"y" * 100, hop_count=hops))
    if tamper:
        env = dataclasses.replace(env, body=b"z" * 100)
    return wire.encode_envelope(env)


signed_frames = st.builds(_signed, st.integers(1, 10), st.sampled_from(["b", "c", "q"]),
                          st.sampled_from(["c", "d", "a", "*"]), st.integers(0, 3), st.sampled_from([0, 1, 2]),
                          st.booleans())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.sampled_from(["ab", "ac"]), signed_frames), min_size=1, max_size=25))
def test_the_fast_lane_matches_the_full_path_with_security_on(burst: list) -> None:
    _secure_setup()
    fast, slow = _secure_cores()
    actions = _step(fast, slow, "burst", lambda c: c.handle_frames(burst, 1.0))
    assert fast.security.blocked == slow.security.blocked
    assert fast.security.counters == slow.security.counters
    assert fast.security.audit_pending == slow.security.audit_pending
    ids = [r.msg_id for a in actions if isinstance(a, Persist) for r in a.records]
    _step(fast, slow, "stored", lambda c: c.stored(ids, 1.1))
    _step(fast, slow, "tick", lambda c: c.tick(30.0))
