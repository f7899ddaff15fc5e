"""Disk full in the live runtime (threads and loopback sockets, no processes): a submission
whose commit failed is answered "not accepted" and is then never sent, stored or delivered,
even after the disk recovers; sending it again with the same id is a new submission."""

from __future__ import annotations

import time

import pytest
import zmq

from emcomm.errors import StoreError, UsageError
from emcomm.node import wire
from tests.test_runtime_commit import relay  # noqa: F401  (fixture: node "a", neighbour "b" played by the test)


def _data_frames(b_in: zmq.Socket, mid: bytes, wait_s: float) -> int:
    n = 0
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if b_in.poll(100):
            _, _, data = b_in.recv_multipart()
            frame = wire.decode(data)
            n += isinstance(frame, wire.Envelope) and frame.msg_id == mid
    return n


def test_a_submission_refused_for_a_full_disk_is_not_sent_when_the_disk_recovers(relay) -> None:  # noqa: F811
    rt, b_in, _, client = relay
    real = rt.store.commit
    full = [True]

    def commit(batch):
        if full[0] and batch.puts:
            raise StoreError("store test: commit failed: database or disk is full (test)")
        return real(batch)

    rt.store.commit = commit  # type: ignore[method-assign]
    mid = b"\x42" * 16
    with pytest.raises(UsageError, match="not accepted.*full"):
        client.call("send", to="b", priority="flash", body=b"bridge down", msg_id=mid)
    full[0] = False
    assert _data_frames(b_in, mid, wait_s=3.0) == 0, "a refused message must not be sent after the retry"
    st = client.call("status")
    assert st["messages"] == 0 and st["runtime"]["held_in_store"] == 0
    assert st["runtime"]["counters"]["store.refused_submissions"] == 1
    # the sender tries again with the same id: accepted now, and sent
    assert client.call("send", to="b", priority="flash", body=b"bridge down", msg_id=mid)["status"] == "accepted"
    assert _data_frames(b_in, mid, wait_s=1.5) >= 1     # (resent while the test, as b, acks nothing)
