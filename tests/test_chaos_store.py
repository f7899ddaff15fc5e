"""The store's fault hooks used by chaos runs: a full disk refuses every commit (nothing half
stored) and recovers when space returns; a torn last write in the WAL is detected at open and
every committed transaction survives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emcomm.errors import StoreError
from emcomm.node.store import FULL_FLAG_ENV, MessageRecord, Store


def _rec(i: int) -> MessageRecord:
    return MessageRecord(i.to_bytes(16, "big"), i % 4, b"envelope %d" % i, "queued", {"next_hop": "r1"}, float(i))


def test_full_disk_refuses_every_commit_then_recovers_when_space_returns(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    flag = tmp_path / "disk.full"
    monkeypatch.setenv(FULL_FLAG_ENV, str(flag))
    with Store.open(tmp_path / "node.db") as s:
        s.put_many([_rec(1)])
        flag.write_text("full")
        with pytest.raises(StoreError, match="full"):
            s.put_many([_rec(2), _rec(3)])
        assert s.count() == 1                  # nothing of the refused batch was stored
        flag.unlink()
        s.put_many([_rec(2), _rec(3)])
        assert s.count() == 3


def test_torn_last_write_is_detected_at_open_and_committed_records_survive(tmp_path: Path) -> None:
    live, copy = tmp_path / "live", tmp_path / "copy"
    live.mkdir()
    copy.mkdir()
    s = Store.open(live / "node.db")
    for i in range(20):                        # 20 transactions, each synced
        s.put_many([_rec(i)])
    # what a power cut leaves: the files as they are (no checkpoint), plus half a frame
    for name in ("node.db", "node.db-wal"):
        shutil.copy(live / name, copy / name)
    s.close()
    wal = copy / "node.db-wal"
    page = int.from_bytes(wal.read_bytes()[8:12], "big")
    with open(wal, "ab") as f:
        f.write(b"\x5a" * ((page + 24) // 2))
    with Store.open(copy / "node.db") as t:
        assert t.torn_tail_bytes == (page + 24) // 2
        assert sorted(r.msg_id for r in t.load(now=0.0).records) == sorted(_rec(i).msg_id for i in range(20))


def test_intact_log_reports_no_torn_write(tmp_path: Path) -> None:
    with Store.open(tmp_path / "node.db") as s:
        s.put_many([_rec(1)])
    with Store.open(tmp_path / "node.db") as s:
        assert s.torn_tail_bytes == 0


def _crash_copy(live: Path, dest: Path) -> Path:
    # what a kill -9 leaves: the database and its log as they are, not checkpointed or closed
    dest.mkdir()
    for name in ("node.db", "node.db-wal"):
        shutil.copy(live / name, dest / name)
    return dest / "node.db"


def _tear(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    page = int.from_bytes(wal.read_bytes()[8:12], "big")
    n = (page + 24) // 2
    with open(wal, "ab") as f:
        f.write(b"\x5a" * n)
    return n


def test_each_torn_write_is_reported_once_even_behind_stale_log_frames(tmp_path: Path) -> None:
    """After a checkpoint the log restarts at its first frame and the file keeps older frames
    behind the live ones; a torn tail appended there is not overwritten by later commits. It
    is cut off at open, so the next start reports nothing and a second torn write is seen
    (two half frames must not add up to one whole frame's length and hide)."""
    (tmp_path / "a").mkdir()
    s = Store.open(tmp_path / "a" / "node.db")
    for i in range(20):
        s.put_many([_rec(i)])
    s._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")   # what the node's background checkpointer does
    s.put_many([_rec(100)])                               # the log restarts; older frames stay behind it
    first = _crash_copy(tmp_path / "a", tmp_path / "b")
    s.close()
    n = _tear(first)
    with Store.open(first) as t:
        assert t.torn_tail_bytes == n
        second = _crash_copy(tmp_path / "b", tmp_path / "c")
    with Store.open(_crash_copy(tmp_path / "c", tmp_path / "d")) as u:
        assert u.torn_tail_bytes == 0                     # no torn write happened since
    n2 = _tear(second)
    with Store.open(second) as v:
        assert v.torn_tail_bytes == n2
        ids = sorted(r.msg_id for r in v.load(now=0.0).records)
        assert ids == sorted(_rec(i).msg_id for i in [*range(20), 100])
