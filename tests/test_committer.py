"""Group commits on the writer thread: an outcome is reported only once the commit returned,
a failed commit reports that nothing was stored, and one commit runs at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from emcomm.errors import StoreError, UsageError
from emcomm.node.committer import GroupCommitter
from emcomm.node.store import Batch, MessageRecord, Store


def _batch(*ids: int, size: int = 10) -> Batch:
    return Batch(puts=tuple(MessageRecord(bytes([i]) * 16, 3, b"x" * size, "queued", {"exp": 1.0}, 0.0) for i in ids))


class _GatedStore:
    """A store whose commit waits until the test opens the gate."""

    path = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.committed: list[Batch] = []

    def commit(self, batch: Batch) -> None:
        self.started.set()
        assert self.gate.wait(5)
        self.committed.append(batch)


def test_outcome_is_reported_only_after_the_commit_returned() -> None:
    store = _GatedStore()
    woken = threading.Event()
    gc = GroupCommitter(store, woken.set, background_checkpoints=False)  # type: ignore[arg-type]
    gc.submit(_batch(1), token="t1")
    assert store.started.wait(5)
    assert gc.busy and gc.result() is None and not woken.is_set()
    store.gate.set()
    assert gc.result(block=True, timeout_s=5) == ("t1", None)
    assert woken.is_set() and len(store.committed) == 1 and not gc.busy
    gc.close()


def test_a_second_batch_waits_for_the_first_to_be_taken() -> None:
    store = _GatedStore()
    gc = GroupCommitter(store, background_checkpoints=False)  # type: ignore[arg-type]
    gc.submit(_batch(1), token="a")
    with pytest.raises(UsageError, match="still running"):
        gc.submit(_batch(2), token="b")
    store.gate.set()
    assert gc.result(block=True, timeout_s=5) == ("a", None)
    gc.submit(_batch(2), token="b")
    assert gc.result(block=True, timeout_s=5) == ("b", None)
    gc.close()


def test_store_access_waits_for_a_running_commit() -> None:
    store = _GatedStore()
    gc = GroupCommitter(store, background_checkpoints=False)  # type: ignore[arg-type]
    gc.submit(_batch(1), token="a")
    assert store.started.wait(5)
    entered = threading.Event()

    def reader() -> None:
        with gc.access():
            entered.set()

    th = threading.Thread(target=reader)
    th.start()
    assert not entered.wait(0.2), "the store is not used while a commit holds it"
    store.gate.set()
    assert entered.wait(5)
    th.join(5)
    gc.close()


def test_a_failed_commit_reports_that_nothing_was_stored(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "n.db", max_size_bytes=64 * 1024)
    gc = GroupCommitter(store)
    gc.submit(_batch(*range(40), size=8192), token="big")   # far beyond the size limit
    token, err = gc.result(block=True, timeout_s=10)
    assert token == "big" and isinstance(err, StoreError) and "full" in str(err)
    gc.submit(_batch(1), token="small")
    assert gc.result(block=True, timeout_s=10) == ("small", None)
    gc.close()
    assert [r.msg_id for r in store.load(now=0.0).records] == [bytes([1]) * 16]
    store.close()


def test_close_lets_a_submitted_commit_finish(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "n.db")
    gc = GroupCommitter(store)
    gc.submit(_batch(7), token="last")
    gc.close()
    assert gc.result() == ("last", None)
    assert store.count() == 1
    store.close()


def test_a_batch_committed_on_the_calling_thread_is_durable_when_its_result_is_read(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "n.db")
    woken = threading.Event()
    gc = GroupCommitter(store, woken.set)
    gc.commit_here(_batch(3), token="inline")
    assert gc.busy, "the outcome waits to be taken like a threaded one"
    with pytest.raises(UsageError, match="still running"):
        gc.submit(_batch(4), token="next")
    assert gc.result() == ("inline", None) and not woken.is_set()
    with gc.access() as s:
        assert s.count() == 1
    gc.close()
    store.close()


def test_the_log_is_copied_into_the_database_file_in_the_background_when_commits_pause(tmp_path: Path) -> None:
    import os
    import time

    path = tmp_path / "n.db"
    store = Store.open(path)
    gc = GroupCommitter(store)
    size0 = os.path.getsize(path)
    for i in range(3):
        gc.commit_here(_batch(*range(i * 20, i * 20 + 20), size=4000), token=i)
        assert gc.result() == (i, None)
    assert os.path.getsize(path) == size0, "committed records sit in the write-ahead log first"
    deadline = time.monotonic() + 5
    while os.path.getsize(path) == size0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.getsize(path) > size0 + 60 * 4000
    gc.close()
    assert store.count() == 60
    store.close()
