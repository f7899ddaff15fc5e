"""Duplicate suppression in bounded memory: a relay keeps at most ``seen_ids_max`` ids (plus a
small slack), forgetting early the ids that would expire first, never those of messages it
still holds; a restart reads back only as many as it keeps."""

from __future__ import annotations

import os
from pathlib import Path

from emcomm.links.profiles import make_profile
from emcomm.node import wire
from emcomm.node.actions import Transmit
from emcomm.node.core import NodeConfig, NodeCore
from emcomm.node.store import Batch, Store
from emcomm.node.wire import Envelope, Flags, encode_envelope, encode_hop_ack

CAP = 500
SLACK = 64          # max(64, CAP // 16): eviction runs once the table is this far over the cap
IN, OUT = "r-src", "r-sink"


def _relay(cap: int = CAP) -> NodeCore:
    core = NodeCore("r", NodeConfig(links={IN: ("src", make_profile("fibre")), OUT: ("sink", make_profile("fibre"))},
                                    telemetry=False, seen_ids_max=cap))
    for lid, nb in ((IN, "src"), (OUT, "sink")):
        core.handle_frames([(lid, wire.encode_heartbeat(wire.Heartbeat(nb, 0, 0)))], 0.0)
        core.link_connected(lid, 0.0)
    return core


def _frame(mid: bytes, now: float, ttl_s: float = 3600.0) -> bytes:
    return encode_envelope(Envelope(msg_id=mid, src="src", dst="sink", priority=3, content_type=0, created_s=now,
                                    ttl_s=ttl_s, body=b"x" * 100, flags=int(Flags.NO_RECEIPT)))


def _sent(actions: list, link_id: str) -> list[bytes]:
    return [wire.decode(a.data).msg_id for a in actions if isinstance(a, Transmit) and a.link_id == link_id
            and isinstance(wire.decode(a.data), Envelope)]


def _relay_burst(core: NodeCore, mids: list[bytes], now: float, ttl_s: float = 3600.0) -> list:
    """Relay ``mids`` (one burst), store them, and let the next hop ack them: all handed on."""
    out = core.handle_frames([(IN, _frame(m, now, ttl_s)) for m in mids], now)
    out += core.stored(mids, now)
    out += core.handle_frames([(OUT, encode_hop_ack(mids))], now)
    return out


def test_a_relay_keeps_at_most_its_cap_of_ids_however_many_it_relays() -> None:
    core = _relay()
    total, bursts = 0, []
    for burst in range(30):
        mids = [os.urandom(16) for _ in range(100)]
        bursts.append(mids)
        # TTLs spread over an hour: the ids that would expire first are the ones forgotten
        out = _relay_burst(core, mids, now=float(burst), ttl_s=600.0 + 100.0 * (burst % 30))
        total += len(mids)
        assert sorted(_sent(out, OUT)) == sorted(mids)
        assert len(core._seen) <= CAP + SLACK, burst
        assert set(core._handed) <= set(core._seen)
        assert sum(len(ids) for _, ids in core._seen_buckets.values()) <= 2 * (CAP + SLACK)
    assert core.counters["seen_evicted"] == total - len(core._seen) > 0
    assert not core._msgs, "every message was handed on"
    # the ids kept are those that expire last: the last five bursts (TTLs rise burst by burst)
    assert all(m in core._seen for mids in bursts[-5:] for m in mids)
    assert not any(m in core._seen for mids in bursts[:20] for m in mids)


def test_a_recent_duplicate_is_still_suppressed_and_an_evicted_one_goes_on_again() -> None:
    core = _relay()
    first = [os.urandom(16) for _ in range(100)]
    _relay_burst(core, first, now=0.0, ttl_s=600.0)          # expire first: forgotten first
    later = [os.urandom(16) for _ in range(100)]
    for i in range(1, 8):
        later = [os.urandom(16) for _ in range(100)]
        _relay_burst(core, later, now=float(i), ttl_s=3600.0)
    assert not any(m in core._seen for m in first) and all(m in core._seen for m in later)
    dups = core.counters["duplicates"]
    out = core.handle_frames([(IN, _frame(later[0], 9.0))], 9.0)
    assert core.counters["duplicates"] == dups + 1 and not _sent(out, OUT)
    assert any(isinstance(a, Transmit) and a.link_id == IN for a in out), "the duplicate is acked again"
    # a very late copy of an id forgotten early is taken as new: sent on again (the
    # destination's inbox delivers it once); nothing is lost either way
    out = core.handle_frames([(IN, _frame(first[0], 9.0))], 9.0)
    assert _sent(out, OUT) == [first[0]] and core.counters["duplicates"] == dups + 1


def test_ids_of_messages_held_here_are_never_forgotten_early() -> None:
    core = _relay()
    core.link_changed(OUT, False, 0.0)          # no way on: every message is held
    held = [os.urandom(16) for _ in range(3 * CAP)]
    for i in range(0, len(held), 100):
        core.handle_frames([(IN, _frame(m, 1.0)) for m in held[i:i + 100]], 1.0)
        core.stored(held[i:i + 100], 1.0)
    assert len(core._msgs) == len(held) and all(m in core._seen for m in held)
    assert core.counters["seen_evicted"] == 0
    dups = core.counters["duplicates"]
    core.handle_frames([(IN, _frame(held[0], 2.0))], 2.0)
    assert core.counters["duplicates"] == dups + 1
    # handed on at last: now they may go, down to the cap
    out = core.link_changed(OUT, True, 3.0)
    out += core.tick(3.0)
    sent = _sent(out, OUT)
    assert sorted(sent) == sorted(held)
    core.handle_frames([(OUT, encode_hop_ack(sent[i:i + 200]))for i in range(0, len(sent), 200)], 3.0)
    fresh = [os.urandom(16) for _ in range(100)]
    _relay_burst(core, fresh, now=4.0)
    assert not core._msgs and len(core._seen) <= CAP + SLACK and all(m in core._seen for m in fresh)


def test_a_restart_reads_back_the_ids_that_expire_last_up_to_the_cap(tmp_path: Path) -> None:
    with Store.open(tmp_path / "n.db") as s:
        ids = [os.urandom(16) for _ in range(2000)]
        s.commit(Batch(seen=tuple((m, 100.0 + i, 1) for i, m in enumerate(ids))))
        s.commit(Batch(seen=((ids[0], 5000.0, 3),)))   # remembered again, for longer: its latest row counts
        state = s.load(50.0, seen_max=CAP)
        everything = s.load(50.0)
    assert len(everything.seen) == 2000 and everything.seen[ids[0]] == 5000.0 and everything.hops[ids[0]] == 3
    assert set(state.seen) == {ids[0], *ids[-(CAP - 1):]} and state.seen[ids[0]] == 5000.0
    core = NodeCore("r", NodeConfig(links={IN: ("src", make_profile("fibre"))}, seen_ids_max=CAP), restored=state)
    assert set(core._seen) == set(state.seen)
    assert core._handed[ids[0]] == 3 and core._handed[ids[-1]] == 1, "each with the hop count it arrived with"


def test_a_bad_cap_is_refused_with_a_clear_error() -> None:
    import pytest

    from emcomm.errors import UsageError
    for bad in (0, -5, 1.5, "many"):
        with pytest.raises(UsageError, match="seen_ids_max"):
            NodeConfig(links={}, seen_ids_max=bad)


def test_within_one_bucket_the_ids_remembered_first_are_forgotten_first() -> None:
    """A burst far larger than the cap inside one minute (one expiry bucket): the newest ids
    stay, so a duplicate of a message just relayed is still suppressed."""
    core = _relay()
    mids = [os.urandom(16) for _ in range(3 * CAP)]
    for i in range(0, len(mids), 70):
        _relay_burst(core, mids[i:i + 70], now=1.0)
        assert min(i + 70, CAP) <= len(core._seen) <= CAP + SLACK, "forgotten down to the cap, not below"
    assert len(core._seen_buckets) == 1
    assert all(m in core._seen for m in mids[-CAP:]), "the newest ids are kept"
    assert not any(m in core._seen for m in mids[:CAP])
    dups = core.counters["duplicates"]
    core.handle_frames([(IN, _frame(mids[-1], 2.0))], 2.0)
    assert core.counters["duplicates"] == dups + 1
