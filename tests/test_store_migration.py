"""Store schema migration: a version 1 store (messages and seen ids WITHOUT ROWID) opens with every
record and seen id kept; a version 4 store's seen ids gain an unknown hop count."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgpack

from emcomm.node.store import APPLICATION_ID, SCHEMA_VERSION, Batch, MessageRecord, Store

_V1 = """
CREATE TABLE messages (msg_id BLOB PRIMARY KEY, priority INTEGER NOT NULL, envelope BLOB NOT NULL,
    state TEXT NOT NULL, metadata BLOB NOT NULL, updated REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX messages_by_priority ON messages(priority, updated);
CREATE TABLE seen (msg_id BLOB PRIMARY KEY, expires_s REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX seen_by_expiry ON seen(expires_s);
CREATE TABLE inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, msg_id BLOB NOT NULL UNIQUE, src TEXT NOT NULL,
    dst TEXT NOT NULL, priority INTEGER NOT NULL, content_type INTEGER NOT NULL, created_s REAL NOT NULL,
    payload BLOB NOT NULL, delivered_s REAL NOT NULL);
CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
"""


def _v1_store(path: Path, n: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.executescript(_V1)
    conn.execute("PRAGMA user_version=1")
    conn.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
                     [(bytes([i]) * 16, 3 - i % 4, b"env%d" % i, "queued", msgpack.packb({"exp": float(i)}), float(i))
                      for i in range(n)])
    conn.executemany("INSERT INTO seen VALUES (?, ?)", [(bytes([i]) * 16, 100.0) for i in range(n)])
    conn.execute("INSERT INTO kv VALUES ('lsa_seq', x'07')")
    conn.close()


def test_version_1_store_keeps_every_record_after_migration(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    _v1_store(path, 12)
    with Store.open(path) as s:
        state = s.load(now=0.0)
        assert sorted(r.msg_id for r in state.records) == sorted(bytes([i]) * 16 for i in range(12))
        assert [r.priority for r in state.records] == sorted(r.priority for r in state.records)
        assert {r.envelope for r in state.records} == {b"env%d" % i for i in range(12)}
        assert len(state.seen) == 12 and state.kv == {"lsa_seq": b"\x07"}
        s.commit(Batch(forgets=(bytes([0]) * 16,),
                       puts=(MessageRecord(b"\xee" * 16, 0, b"new", "queued", {"exp": 1.0}, 50.0),)))
    conn = sqlite3.connect(path)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert "WITHOUT ROWID" not in sql.upper() and version == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    seen_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'seen'").fetchone()[0]
    indexed = conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'seen' AND type = 'index'").fetchall()
    conn.close()
    assert "WITHOUT ROWID" not in seen_sql.upper() and indexed == [("seen_by_expiry",)]
    with Store.open(path) as s:   # a second open does not migrate again and loses nothing
        ids = {r.msg_id for r in s.load(now=0.0).records}
    assert b"\xee" * 16 in ids and bytes([0]) * 16 not in ids and len(ids) == 12


def test_version_4_seen_ids_are_kept_with_an_unknown_hop_count(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    with Store.open(path):
        pass
    conn = sqlite3.connect(path, isolation_level=None)      # the seen table as version 4 made it
    conn.executescript("DROP TABLE seen; CREATE TABLE seen (msg_id BLOB NOT NULL, expires_s REAL NOT NULL); "
                       "CREATE INDEX seen_by_expiry ON seen(expires_s); PRAGMA user_version=4;")
    conn.executemany("INSERT INTO seen VALUES (?, ?)", [(bytes([i]) * 16, 100.0) for i in range(5)])
    conn.close()
    with Store.open(path) as s:
        s.mark_seen([(b"\xee" * 16, 100.0, 2)])
        state = s.load(now=0.0)
    assert len(state.seen) == 6 and state.hops == {b"\xee" * 16: 2}, "old rows: hop count not known"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_records_load_most_urgent_first_then_oldest(tmp_path: Path) -> None:
    with Store.open(tmp_path / "n.db") as s:
        s.put_many([MessageRecord(bytes([i]) * 16, p, b"e", "queued", {}, t)
                    for i, (p, t) in enumerate([(3, 1.0), (0, 5.0), (3, 0.5), (0, 2.0), (1, 9.0)])])
        got = [(r.priority, r.updated_s) for r in s.load(now=0.0).records]
    assert got == [(0, 2.0), (0, 5.0), (1, 9.0), (3, 0.5), (3, 1.0)]


def test_a_new_store_is_made_with_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    from emcomm.node.store import PAGE_SIZE_BYTES

    with Store.open(tmp_path / "new.db"):
        pass
    _v1_store(tmp_path / "old.db", 3)     # made with SQLite's default page size
    with Store.open(tmp_path / "old.db") as s:
        assert len(s.load(now=0.0).records) == 3
    sizes = {}
    for name in ("new.db", "old.db"):
        conn = sqlite3.connect(tmp_path / name)
        sizes[name] = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.close()
    assert sizes["new.db"] == PAGE_SIZE_BYTES != sizes["old.db"]
