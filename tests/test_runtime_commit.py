"""Group commit in the live runtime: a burst of messages is acked once each, only after it is
stored; a failed commit acknowledges nothing and is retried until it succeeds."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import zmq

from emcomm.errors import StoreError
from emcomm.node import wire
from emcomm.node.api import ApiClient
from emcomm.node.config import config_from_flags
from emcomm.node.runtime import NodeRuntime
from emcomm.node.store import Store


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[NodeRuntime, zmq.Socket, zmq.Socket, ApiClient]]:
    """Node "a" (emulation off) with neighbour "b" played by this test: b_in receives what a
    sends to b, b_out speaks to a as b."""
    ctx = zmq.Context()
    listen, api, b_ep = (f"tcp://127.0.0.1:{_port()}" for _ in range(3))
    b_in = ctx.socket(zmq.ROUTER)
    b_in.setsockopt(zmq.LINGER, 0)
    b_in.bind(b_ep)
    cfg = config_from_flags("a", listen, [f"b={b_ep}:fibre"], str(tmp_path / "a"), api=api, emulation=False)
    rt = NodeRuntime(cfg, context=ctx)
    rt.start()
    th = threading.Thread(target=lambda: (rt.run(), rt.close()))
    th.start()
    b_out = ctx.socket(zmq.DEALER)
    b_out.setsockopt(zmq.ROUTING_ID, b"b")
    b_out.setsockopt(zmq.LINGER, 0)
    b_out.setsockopt(zmq.SNDHWM, 100_000)
    b_out.connect(listen)
    client = ApiClient(api, timeout_s=10.0)
    try:
        yield rt, b_in, b_out, client
    finally:
        client.close()
        rt.stop()
        th.join(15)
        b_in.close(0)
        b_out.close(0)
        ctx.term()
    assert not th.is_alive()


def _data(msg_id: bytes) -> bytes:
    return wire.encode_envelope(wire.Envelope(msg_id=msg_id, src="b", dst="a", priority=3, content_type=0,
                                              created_s=0.0, ttl_s=600.0, body=os.urandom(200),
                                              flags=int(wire.Flags.NO_RECEIPT)))


def _acked(b_in: zmq.Socket, want: int, timeout_s: float) -> list[bytes]:
    ids: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(ids) < want and time.monotonic() < deadline:
        if b_in.poll(200):
            _, link, data = b_in.recv_multipart()
            frame = wire.decode(data)
            if isinstance(frame, wire.HopAck):
                ids += frame.msg_ids
    return ids


def test_a_burst_is_stored_and_acked_once_per_message(relay) -> None:
    rt, b_in, b_out, client = relay
    sent = [os.urandom(16) for _ in range(3000)]
    for mid in sent:
        b_out.send_multipart([b"a-b/fibre", _data(mid)])
    acked = _acked(b_in, len(sent), timeout_s=60)
    assert sorted(acked) == sorted(sent), "every message acked, none twice"
    status = client.call("status")["runtime"]
    assert status["inbox"] == len(sent)
    assert status["counters"]["store.records"] >= len(sent)
    assert 1 <= status["counters"]["store.commits"] < len(sent), "messages shared commits"


def test_a_failed_commit_acks_nothing_until_its_retry_succeeds(relay) -> None:
    rt, b_in, b_out, client = relay
    real = rt.store.commit
    failures: list[int] = []

    def flaky(batch):      # the disk is full once, then recovers
        if not failures and batch.puts:
            failures.append(len(batch.puts))
            raise StoreError("store test: commit failed: disk is full (test)")
        return real(batch)

    rt.store.commit = flaky  # type: ignore[method-assign]
    mid = os.urandom(16)
    t0 = time.monotonic()
    b_out.send_multipart([b"a-b/fibre", _data(mid)])
    acked = _acked(b_in, 1, timeout_s=10)
    assert acked == [mid] and failures == [1]
    assert time.monotonic() - t0 >= 0.9, "the ack waited for the retry, about a second later"
    counters = client.call("status")["runtime"]["counters"]
    assert counters["store.errors"] == 1 and counters["store.commits"] >= 1


def test_a_node_process_freezes_start_up_objects_and_collects_less_often() -> None:
    import subprocess
    import sys

    code = ("import gc; from emcomm.node.runtime import GC_THRESHOLDS, tune_gc; before = gc.get_threshold(); "
            "tune_gc(); print(before != GC_THRESHOLDS, gc.get_threshold() == GC_THRESHOLDS, gc.get_freeze_count() > 1000)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split() == ["True", "True", "True"]


NOW_S = 1_000_000.0


@contextlib.contextmanager
def _node_over_seen_ids(tmp_path: Path, seen: list[tuple[bytes, float, int]], **cfg_changes: Any) -> Iterator[NodeRuntime]:
    """Node "a" (emulation off, clock fixed at NOW_S), started over a store already holding
    ``seen``; closed on leaving. Its store is at ``tmp_path / "a" / "node.db"``."""
    cfg = config_from_flags("a", f"tcp://127.0.0.1:{_port()}", [f"b=tcp://127.0.0.1:{_port()}:fibre"],
                            str(tmp_path / "a"), api=f"tcp://127.0.0.1:{_port()}", emulation=False)
    cfg = dataclasses.replace(cfg, **cfg_changes)
    cfg.data_dir.mkdir(parents=True)
    with Store.open(cfg.store_path) as s:
        s.mark_seen(seen)
    ctx = zmq.Context()
    rt = NodeRuntime(cfg, context=ctx, clock=lambda: NOW_S)
    try:
        rt.start()
        yield rt
    finally:
        rt.close()
        ctx.term()


def test_expired_seen_ids_are_pruned_from_the_store(tmp_path: Path) -> None:
    with _node_over_seen_ids(tmp_path, [(bytes([i]) * 16, NOW_S - 10 if i < 30 else NOW_S + 3600, 1)
                                        for i in range(50)]) as rt:
        rt.step(NOW_S)
        assert rt.counters["store.seen_expired"] == 30
    with Store.open(tmp_path / "a" / "node.db") as s:
        assert len(s.load(now=0.0).seen) == 20, "ids still within their lifetime are kept"


def test_a_record_forgotten_before_its_commit_is_neither_written_nor_deleted() -> None:
    """A relayed message the next hop acked before the commit: no row to write, none to delete;
    but once an id was forgotten and taken again within a batch (a message that looped back),
    an earlier commit may hold its row, so the delete goes."""
    from emcomm.node.actions import Persist
    from emcomm.node.runtime import _Pending
    from emcomm.node.store import MessageRecord

    def rec(m: bytes) -> MessageRecord:
        return MessageRecord(m, 3, b"env" + m, "queued", {}, 1.0)

    p = _Pending()
    a, b = b"a" * 16, b"b" * 16
    p.persist(Persist(records=(rec(a), rec(b)), seen=((a, 9.0, 1), (b, 9.0, 2)), kv=()))
    p.forget((a,))
    batch = p.batch()
    assert [r.msg_id for r in batch.puts] == [b] and batch.forgets == () and sorted(batch.seen) == [(a, 9.0, 1), (b, 9.0, 2)]
    assert p.stored_ids == [a, b] and p.size_bytes == len(rec(b).envelope)
    q = _Pending()
    q.forget((a,))                              # forgotten: the row an earlier commit wrote goes
    q.persist(Persist(records=(rec(a),), seen=(), kv=()))     # ... and it comes back
    assert q.batch().forgets == () and [r.msg_id for r in q.batch().puts] == [a]
    q.forget((a,))
    assert q.batch().forgets == (a,) and q.batch().puts == ()


def test_a_node_reads_back_only_as_many_seen_ids_as_it_keeps(tmp_path: Path) -> None:
    with _node_over_seen_ids(tmp_path, [(bytes([i]) * 16, NOW_S + 60 * (i + 1), 1) for i in range(50)],
                             seen_ids_max=20) as rt:
        assert rt.core is not None and rt.core.config.seen_ids_max == 20
        assert set(rt.core._seen) == {bytes([i]) * 16 for i in range(30, 50)}, "those that expire last"
    with Store.open(tmp_path / "a" / "node.db") as s:
        assert len(s.load(NOW_S).seen) == 50, "the store keeps them all until they expire"


def test_after_a_busy_spell_the_heap_is_given_back_once_frames_stop(relay, monkeypatch) -> None:
    from emcomm.node import heap, runtime

    assert heap.trim() is True, "glibc has malloc_trim"
    monkeypatch.setattr(runtime, "HEAP_TRIM_AFTER_FRAMES", 500)
    monkeypatch.setattr(runtime, "HEAP_TRIM_QUIET_S", 3.0)
    rt, b_in, b_out, client = relay
    sent = [os.urandom(16) for _ in range(600)]
    for mid in sent:
        b_out.send_multipart([b"a-b/fibre", _data(mid)])
    assert len(_acked(b_in, len(sent), timeout_s=30)) == len(sent)
    assert client.call("status")["runtime"]["counters"].get("heap_trims", 0) == 0, "not while busy"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not client.call("status")["runtime"]["counters"].get("heap_trims"):
        time.sleep(0.2)
    assert client.call("status")["runtime"]["counters"]["heap_trims"] == 1, "once, after the spell"
