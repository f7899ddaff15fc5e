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
