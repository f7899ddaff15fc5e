"""Receipts for `emcomm send` polling: the latest news of each submitted message is stored with
the node's data, so it is still answered after a restart, and only the most recent ones are kept
in memory (a node that submits for months does not grow). In-process node, loopback only."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import zmq

from emcomm.node import runtime
from emcomm.node.api import ApiClient
from emcomm.node.config import config_from_flags
from emcomm.node.runtime import NodeRuntime
from emcomm.node.store import Store


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(data_dir: Path, api: str, peer: str) -> tuple[NodeRuntime, threading.Thread]:
    cfg = config_from_flags("a", f"tcp://127.0.0.1:{_port()}", [f"b={peer}:fibre"], str(data_dir), api=api)
    rt = NodeRuntime(cfg, context=zmq.Context())
    rt.start()
    th = threading.Thread(target=lambda: (rt.run(), rt.close()))
    th.start()
    return rt, th


def _stop(rt: NodeRuntime, th: threading.Thread) -> None:
    rt.stop()
    th.join(10)
    assert not th.is_alive()
    # ZeroMQ closes a socket's listener on its I/O thread, later: ending the context waits for
    # that, so the restart below can bind the same API port at once (seen failing on a busy machine)
    rt._ctx.term()


def test_receipts_survive_a_restart_and_only_the_recent_ones_stay_in_memory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(runtime, "RECENT_RECEIPTS", 2)
    api, peer = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"    # b never comes up
    rt, th = _run(tmp_path / "a", api, peer)
    client = ApiClient(api, timeout_s=5.0)
    try:
        ids = [client.call("send", to="b", priority="immediate", body=f"report {i}".encode())["msg_id"]
               for i in range(5)]
        assert len(rt.receipts) <= 2
        assert [client.call("receipt", msg_id=m)["status"] for m in ids] == ["accepted"] * 5
        assert client.call("receipt", msg_id=b"\x00" * 16)["status"] == "unknown"
    finally:
        client.close()
        _stop(rt, th)
    with Store.open(rt.cfg.store_path) as st:          # the node is stopped: read its file
        assert all(st.receipt(m) == ("accepted", "") for m in ids)
    rt, th = _run(tmp_path / "a", api, peer)
    client = ApiClient(api, timeout_s=5.0)
    try:
        assert not rt.receipts
        assert [client.call("receipt", msg_id=m)["status"] for m in ids] == ["accepted"] * 5
    finally:
        client.close()
        _stop(rt, th)


def test_receipts_older_than_the_keep_time_are_pruned(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as st:
        from emcomm.node.store import Batch
        st.commit(Batch(receipts=((b"\x01" * 16, "delivered", "from cc", 100.0),
                                  (b"\x02" * 16, "accepted", "", 900.0))))
        assert st.expire_receipts(500.0) == 1
        assert st.receipt(b"\x01" * 16) is None and st.receipt(b"\x02" * 16) == ("accepted", "")


def test_old_inbox_entries_are_pruned_and_sequence_numbers_are_not_reused(tmp_path: Path) -> None:
    """A long-running node's store levels off: delivered messages older than INBOX_KEEP_S go;
    an application's cursor stays valid (new entries still get higher sequence numbers)."""
    from emcomm.node.store import Batch, InboxEntry

    def entry(i: int, t_s: float) -> InboxEntry:
        return InboxEntry(i.to_bytes(16, "big"), "cc", "a", 3, 0, t_s, b"report", t_s)

    with Store.open(tmp_path / "s.db") as st:
        st.commit(Batch(inbox=(entry(1, 100.0), entry(2, 200.0), entry(3, 5000.0))))
        assert st.expire_inbox(1000.0) == 2
        st.commit(Batch(inbox=(entry(4, 6000.0),)))
        seqs = [(e.msg_id[-1], e.seq) for e in st.inbox(0)]
    assert [m for m, _ in seqs] == [3, 4] and seqs[1][1] > seqs[0][1] == 3
    assert runtime.INBOX_KEEP_S > 30 * 86400      # longer than any message can live
