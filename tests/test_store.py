"""The node store keeps every committed record across restarts, kill -9 included,
refuses corrupt or foreign files at open, and never half-stores a batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from emcomm.errors import StoreError
from emcomm.node.store import Batch, InboxEntry, MessageRecord, Store


def _rec(i: int, prio: int = 3, size: int = 64, state: str = "queued") -> MessageRecord:
    return MessageRecord(i.to_bytes(16, "big"), prio, bytes([i % 256]) * size, state, {"next_hop": f"n{i}", "tries": i}, float(i))


def test_committed_records_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    with Store.open(path) as s:
        s.put_many([_rec(i, prio=i % 4) for i in range(20)])
        s.forget_many([_rec(3).msg_id, _rec(4).msg_id])
        s.mark_seen([(b"a" * 16, 100.0, 2), (b"b" * 16, 5.0, 0), (b"c" * 16, 100.0, -1)])
        s.set_values({"lsdb/x": b"\x01\x02", "seq": b"7"})
    with Store.open(path) as s:
        state = s.load(now=10.0)
    ids = {r.msg_id for r in state.records}
    assert ids == {_rec(i).msg_id for i in range(20) if i not in (3, 4)}
    assert state.seen == {b"a" * 16: 100.0, b"c" * 16: 100.0}, "seen ids past their expiry are not restored"
    assert state.hops == {b"a" * 16: 2}, "the hop count an id arrived with (none for one originated here)"
    assert state.kv == {"lsdb/x": b"\x01\x02", "seq": b"7"}
    r5 = next(r for r in state.records if r.msg_id == _rec(5).msg_id)
    assert r5 == _rec(5, prio=1)


def test_load_returns_most_urgent_first_then_oldest(tmp_path: Path) -> None:
    with Store.open(tmp_path / "n.db") as s:
        s.put_many([_rec(i, prio=(7 * i) % 4) for i in range(12)])
        got = [(r.priority, r.updated_s) for r in s.load(0.0).records]
    assert got == sorted(got)


def test_put_replaces_a_record_with_the_same_id(tmp_path: Path) -> None:
    with Store.open(tmp_path / "n.db") as s:
        s.put_many([_rec(1, state="queued")])
        s.put_many([_rec(1, state="sent")])
        assert [r.state for r in s.load(0.0).records] == ["sent"]
        assert s.count() == 1


def test_a_failed_batch_stores_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "n.db") as s:
        bad = MessageRecord(b"", 0, b"x", "queued", {}, 0.0)
        with pytest.raises(StoreError, match="cannot be stored"):
            s.commit(Batch(puts=(_rec(1), bad)))
        assert s.count() == 0


def test_disk_full_is_a_store_error_and_the_batch_is_not_stored(tmp_path: Path) -> None:
    with Store.open(tmp_path / "n.db", max_size_bytes=64 * 1024) as s:
        s.put_many([_rec(1)])
        with pytest.raises(StoreError, match="full"):
            s.put_many([_rec(i, size=4096) for i in range(100, 140)])
        assert set(s.message_ids()) == {_rec(1).msg_id}
        s.put_many([_rec(2)])  # the store keeps working after the failure
        assert s.count() == 2


def test_a_file_that_is_not_a_database_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    path.write_bytes(b"this is a text file, not a database" * 200)
    with pytest.raises(StoreError, match=r"n\.db"):
        Store.open(path)


def test_a_corrupted_database_is_detected_at_open(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    with Store.open(path) as s:
        s.put_many([_rec(i, size=900) for i in range(200)])
    data = bytearray(path.read_bytes())
    page = 4096
    # scribble over pages in the middle of the file (a torn write by a failing disk)
    for off in range(3 * page, 6 * page, 7):
        data[off] = 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt"):
        Store.open(path)


def test_another_programs_sqlite_file_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE t(x)")
    c.commit()
    c.close()
    with pytest.raises(StoreError, match="not an emcomm node store"):
        Store.open(path)


def test_a_missing_data_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nope" / "n.db")


def test_expire_seen_drops_only_expired_ids(tmp_path: Path) -> None:
    with Store.open(tmp_path / "n.db") as s:
        s.mark_seen([(bytes([i]) * 16, float(i), 1) for i in range(10)])
        assert s.expire_seen(4.0) == 5
        assert sorted(s.load(0.0).seen.values()) == [5.0, 6.0, 7.0, 8.0, 9.0]


@settings(max_examples=30, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(0, 15)), max_size=40))
def test_store_matches_a_dict_model(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[bool, int]]) -> None:
    """Any sequence of puts and forgets leaves exactly the ids a dict model predicts."""
    path = tmp_path_factory.mktemp("m") / "n.db"
    model: dict[bytes, MessageRecord] = {}
    with Store.open(path) as s:
        for put, i in ops:
            r = _rec(i)
            if put:
                s.put_many([r])
                model[r.msg_id] = r
            else:
                s.forget_many([r.msg_id])
                model.pop(r.msg_id, None)
    with Store.open(path) as s:
        assert {r.msg_id: r for r in s.load(0.0).records} == model


_WRITER = textwrap.dedent("""
    import sys
    from emcomm.node.store import MessageRecord, Store
    s = Store.open(sys.argv[1])
    i = 0
    while True:
        batch = [MessageRecord(n.to_bytes(16, "big"), n % 4, b"x" * 700, "queued", {"n": n}, float(n))
                 for n in range(i, i + 8)]
        s.put_many(batch)
        # the commit returned: only now may the writer "acknowledge" these ids
        sys.stdout.write(f"{i + 7}\\n")
        sys.stdout.flush()
        i += 8
""")


def test_every_commit_that_returned_survives_kill_9_of_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    acked = -1
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked = int(line)
            if acked >= 8 * 40 - 1:
                break
        os.kill(proc.pid, signal.SIGKILL)
        # the writer may have committed a few more before it died; read what it printed
        rest = proc.stdout.read()
        for line in rest.split():
            acked = max(acked, int(line))
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert acked >= 8 * 40 - 1
    with Store.open(path) as s:
        held = {int.from_bytes(m, "big") for m in s.message_ids()}
    missing = set(range(acked + 1)) - held
    assert not missing, f"acknowledged but lost after kill -9: {sorted(missing)[:10]}"


def _inbox(i: int, t: float) -> InboxEntry:
    return InboxEntry(i.to_bytes(16, "big"), "a", "b", 0, 0, 1.0, f"m{i}".encode(), t)


def test_a_message_delivered_twice_is_in_the_inbox_once(tmp_path: Path) -> None:
    with Store.open(tmp_path / "n.db") as s:
        s.commit(Batch(inbox=(_inbox(1, 1.0), _inbox(2, 2.0))))
        s.commit(Batch(inbox=(_inbox(1, 3.0),)))  # re-delivered after a restart
        got = s.inbox()
        assert [(e.msg_id, e.delivered_s) for e in got] == [(_inbox(1, 0).msg_id, 1.0), (_inbox(2, 0).msg_id, 2.0)]
        assert s.inbox(after_seq=got[0].seq) == got[1:]
        assert s.inbox_count() == 2


def test_a_large_batch_of_inbox_entries_and_receipts_keeps_order_first_entry_and_last_receipt(tmp_path: Path) -> None:
    # written as multi-row statements (several chunks): same effect as one row at a time
    with Store.open(tmp_path / "n.db") as s:
        entries = [_inbox(i, float(i)) for i in range(300)]
        s.commit(Batch(inbox=(*entries, _inbox(5, 999.0)),
                       receipts=tuple((bytes([i % 200]) * 16, f"s{i}", "", float(i)) for i in range(250))))
        got = s.inbox(limit=1000)
        assert [e.msg_id for e in got] == [e.msg_id for e in entries], "delivery order, each once"
        assert got[5].delivered_s == 5.0, "a re-delivery keeps the first entry"
        assert s.receipt(bytes([7]) * 16) == ("s207", ""), "the latest receipt of an id wins"
