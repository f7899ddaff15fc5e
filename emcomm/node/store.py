"""The relay node's persistent store: SQLite in WAL mode, group commit, restore on restart.

This module owns the on-disk state of one node: message records (the messages it holds in
custody), the ids it has already seen (duplicate suppression, with expiry), a small
key/value table (link-state database, sequence numbers), and the inbox: messages delivered
to this node's application, kept once per msg_id (a re-delivery after a restart is absorbed
here, so the application sees every message exactly once). It must not decide anything about
messages (that is the core's job) and never reads a clock: every time is passed in.

Durability rule (custody): a message may be acknowledged to the previous hop only after
``commit`` / ``put_many`` has *returned*. The database runs in WAL mode with
``synchronous=FULL``: SQLite fsyncs the write-ahead log at the end of every transaction, so
every transaction whose commit returned survives a process kill *and* a power loss (with
``NORMAL`` a power loss may roll back the last transactions, which would break custody).
WAL frames carry checksums, so a torn tail of the log left by a power cut is discarded on
the next open and the database stays at its last committed transaction. Group commit
(``commit`` with many records) pays the one fsync for a whole batch.

Example
-------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> with Store.open(os.path.join(d, "node.db")) as s:
...     s.put_many([MessageRecord(b"\\x01" * 16, 0, b"env", "queued", {"next_hop": "b"}, 1.0)])
...     [r.state for r in s.load(now=2.0).records]
['queued']
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
from typing import Any, Iterable, Iterator, Mapping

import msgpack

from emcomm.errors import StoreError

log = logging.getLogger("emcomm.node")
FULL_FLAG_ENV = "EMCOMM_STORE_FULL_FLAG"
SCHEMA_VERSION = 5   # 2: messages is a rowid table (version 1 stores are migrated at open); 3: receipts;
                     # 4: seen is an append-only rowid table (older stores are migrated at open);
                     # 5: seen rows keep the hop count the message arrived with (older rows: -1)
PAGE_SIZE_BYTES = 16384   # for new stores; an existing file keeps the page size it was made with
# "EMCM" as a 32-bit SQLite application id: a file from another program is refused at open.
APPLICATION_ID = 0x454D434D

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    msg_id   BLOB PRIMARY KEY,
    priority INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    state    TEXT NOT NULL,
    metadata BLOB NOT NULL,
    updated  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    msg_id     BLOB NOT NULL,
    expires_s  REAL NOT NULL,
    hops       INTEGER NOT NULL DEFAULT -1
);              -- append-only: an id remembered twice has two rows, the later expiry wins at load
CREATE INDEX IF NOT EXISTS seen_by_expiry ON seen(expires_s);
CREATE TABLE IF NOT EXISTS inbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id       BLOB NOT NULL UNIQUE,
    src          TEXT NOT NULL,
    dst          TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    content_type INTEGER NOT NULL,
    created_s    REAL NOT NULL,
    payload      BLOB NOT NULL,
    delivered_s  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (
    msg_id  BLOB PRIMARY KEY,
    status  TEXT NOT NULL,
    detail  TEXT NOT NULL,
    t_s     REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS receipts_by_time ON receipts(t_s);
CREATE INDEX IF NOT EXISTS inbox_by_time ON inbox(delivered_s);
"""


@dataclasses.dataclass(frozen=True)
class MessageRecord:
    """One message held in custody: its envelope bytes and the core's bookkeeping.

    ``metadata`` is any msgpack-able mapping the core wants back after a restart (next hop,
    attempts, fragments sent...). ``updated_s`` is the core's clock when it was written.
    """

    msg_id: bytes
    priority: int
    envelope: bytes
    state: str
    metadata: Mapping[str, Any]
    updated_s: float


@dataclasses.dataclass(frozen=True)
class InboxEntry:
    """A message delivered to this node's application. ``seq`` orders the inbox (0 = not yet stored)."""

    msg_id: bytes
    src: str
    dst: str
    priority: int
    content_type: int
    created_s: float
    payload: bytes
    delivered_s: float
    seq: int = 0


@dataclasses.dataclass(frozen=True)
class StoredState:
    """Everything a node had committed, as read back at start-up (see ``Store.load``)."""

    records: list[MessageRecord]       # most urgent first, then oldest first
    seen: dict[bytes, float]           # msg_id -> expiry time (core clock, seconds)
    kv: dict[str, bytes]               # link-state database, sequence numbers...
    # msg_id -> the hop count the message arrived with, for the seen ids that have one (not
    # those originated at the node, nor those stored before schema 5); the node tells a
    # returning copy that looped from a retransmission by it
    hops: dict[bytes, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Batch:
    """One group commit: everything in it becomes durable together, or nothing does."""

    puts: tuple[MessageRecord, ...] = ()
    forgets: tuple[bytes, ...] = ()
    seen: tuple[tuple[bytes, float, int], ...] = ()     # (msg_id, expires_s, hops it arrived with; -1: originated)
    kv: tuple[tuple[str, bytes], ...] = ()
    inbox: tuple[InboxEntry, ...] = ()
    receipts: tuple[tuple[bytes, str, str, float], ...] = ()   # (msg_id, status, detail, t_s): latest news

    def __bool__(self) -> bool:
        return bool(self.puts or self.forgets or self.seen or self.kv or self.inbox or self.receipts)


def _translate(exc: sqlite3.Error, path: str, doing: str) -> StoreError:
    """Turn an sqlite3 error into a StoreError that says what to do about it."""
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "full" in text:
        hint = "the disk (or the store's size limit) is full; free space or raise --store-max-mb"
    elif "not a database" in text or "malformed" in text or code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        hint = "the file is corrupt; move it aside and restart (queued messages in it are lost)"
    elif code == sqlite3.SQLITE_READONLY or "readonly" in text:
        hint = "the data directory is read-only; give the node a writable --data-dir"
    elif "locked" in text or code == sqlite3.SQLITE_BUSY:
        hint = "another process holds the store; is a second node running on the same data directory?"
    else:
        hint = "I/O error; check the disk"
    return StoreError(f"store {path}: {doing} failed: {text} ({hint})")


class Store:
    """A node's durable state in one SQLite file. Not thread-safe: one owner, one thread."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self._conn = conn
        self.path = path
        self.commits = 0          # transactions committed (each one fsync)
        self.torn_tail_bytes = 0  # bytes of a torn last write found in the log at open (discarded)
        # fault injection (chaos runs): while the file named by $EMCOMM_STORE_FULL_FLAG exists,
        # every commit fails exactly as on a full disk
        self._full_flag = os.environ.get(FULL_FLAG_ENV) or None

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, max_size_bytes: int | None = None) -> "Store":
        """Open (or create) the store at ``path``, checking it is intact.

        ``max_size_bytes`` caps the file: a write beyond it fails with StoreError exactly
        like a full disk (nothing is acknowledged that was not stored).

        >>> import tempfile, os
        >>> Store.open(os.path.join(tempfile.mkdtemp(), "n.db")).close()
        """
        spath = os.fspath(path)
        parent = os.path.dirname(os.path.abspath(spath))
        if not os.path.isdir(parent):
            raise StoreError(f"store {spath}: directory {parent} does not exist; create it or choose another --data-dir")
        fresh = not os.path.exists(spath) or os.path.getsize(spath) == 0
        torn = _torn_wal_tail_bytes(spath + "-wal")
        if torn:
            _cut_torn_tail(spath + "-wal", torn)
        try:
            conn = sqlite3.connect(spath, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _translate(exc, spath, "open") from exc
        try:
            if not fresh:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                if app_id != APPLICATION_ID:
                    raise StoreError(
                        f"store {spath}: not an emcomm node store (application id {app_id:#x}); "
                        "point --data-dir at the node's own directory")
                problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
                if problems != ["ok"]:
                    raise StoreError(
                        f"store {spath}: the file is corrupt ({'; '.join(problems)}); move it aside "
                        "and restart (queued messages in it are lost)")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"store {spath}: written by a newer emcomm (schema {version} > {SCHEMA_VERSION}); upgrade emcomm")
            if fresh:
                # before the first table: 16 KiB pages instead of 4 KiB halve the pages (and WAL
                # frames) a batch of 1-64 KiB envelopes writes; 1,000-record commits of 1 KiB
                # records took 33 instead of 50 µs per record on a 2-core test machine, with the
                # same light-load commit latency (one fsync either way)
                conn.execute(f"PRAGMA page_size={PAGE_SIZE_BYTES}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"store {spath}: the file system does not support WAL mode (got {mode}); use a local disk")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=2000")
            if fresh:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            _migrate_messages(conn)
            _migrate_seen(conn)
            _add_seen_hops(conn)
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            if max_size_bytes is not None:
                page = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count={max(1, int(max_size_bytes) // page)}")
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise _translate(exc, spath, "open") from exc
        store = cls(conn, spath)
        if torn:
            store.torn_tail_bytes = torn
            log.warning("store %s: a torn last write (%d bytes of an unfinished log frame) was found and "
                        "cut off; every committed transaction is intact", spath, torn)
        return store

    def checkpoint_in_background(self) -> "WalCheckpointer":
        """Stop checkpointing inside commits and return a checkpointer for another thread.

        SQLite normally copies the write-ahead log into the database file inside the commit
        that pushes the log past 1,000 pages, so that one commit (and every acknowledgement
        waiting on it) takes as long as writing and syncing megabytes. Afterwards only a far
        larger safety limit (``AUTOCHECKPOINT_SAFETY_PAGES``) is checkpointed inline; the
        caller runs ``WalCheckpointer.run`` from its own thread, concurrently with commits.
        """
        conn = self._live()
        conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_SAFETY_PAGES}")
        return WalCheckpointer(self.path)

    def close(self) -> None:
        """Checkpoint the log into the main file and close. Safe to call twice."""
        if self._conn is None:
            return
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # the WAL stays; it is replayed at the next open
        self._conn.close()
        self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------
    def commit(self, batch: Batch) -> None:
        """Make a whole batch durable in one synced transaction (group commit).

        When this returns, every record in the batch survives a kill -9 or a power loss;
        when it raises StoreError, none of it was stored and nothing may be acknowledged.
        """
        if not batch:
            return
        conn = self._live()
        if self._full_flag is not None and os.path.exists(self._full_flag):
            raise StoreError(f"store {self.path}: commit of {len(batch.puts)} message(s) failed: database or disk is "
                             "full (injected: the disk-full flag file exists; free space or raise --store-max-mb)")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if batch.puts:
                    _rows(conn, "INSERT OR REPLACE INTO messages(msg_id, priority, envelope, state, metadata, updated)",
                          6, [(_id(r.msg_id), int(r.priority), bytes(r.envelope), str(r.state),
                               msgpack.packb(dict(r.metadata), use_bin_type=True), float(r.updated_s))
                              for r in batch.puts])
                if batch.forgets:
                    _rows(conn, "DELETE FROM messages WHERE msg_id IN", 1, [(_id(m),) for m in batch.forgets])
                if batch.seen:
                    _rows(conn, "INSERT INTO seen(msg_id, expires_s, hops)", 3,
                          [(_id(m), float(t), int(h)) for m, t, h in batch.seen])
                if batch.kv:
                    conn.executemany("INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)",
                                     [(str(k), bytes(v)) for k, v in batch.kv])
                if batch.inbox:
                    # a message delivered again after a restart keeps its first entry
                    _rows(conn, "INSERT OR IGNORE INTO inbox(msg_id, src, dst, priority, content_type, created_s, "
                          "payload, delivered_s)", 8,
                          [(_id(e.msg_id), str(e.src), str(e.dst), int(e.priority), int(e.content_type),
                            float(e.created_s), bytes(e.payload), float(e.delivered_s)) for e in batch.inbox])
                if batch.receipts:
                    _rows(conn, "INSERT OR REPLACE INTO receipts(msg_id, status, detail, t_s)", 4,
                          [(_id(m), str(st), str(d), float(t)) for m, st, d, t in batch.receipts])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, f"commit of {len(batch.puts)} message(s)") from exc
        except (TypeError, ValueError) as exc:
            raise StoreError(f"store {self.path}: a record cannot be stored: {exc}") from exc
        self.commits += 1

    def put_many(self, records: Iterable[MessageRecord]) -> None:
        """Store (or replace) message records in one synced transaction."""
        self.commit(Batch(puts=tuple(records)))

    def forget_many(self, msg_ids: Iterable[bytes]) -> None:
        """Remove message records (delivered, handed on, expired) in one transaction."""
        self.commit(Batch(forgets=tuple(msg_ids)))

    def mark_seen(self, entries: Iterable[tuple[bytes, float, int]]) -> None:
        """Remember message ids until their expiry time (duplicate suppression), each with the
        hop count its message arrived with (-1: originated here)."""
        self.commit(Batch(seen=tuple(entries)))

    def set_values(self, items: Mapping[str, bytes]) -> None:
        """Store key/value entries (link-state database, sequence numbers)."""
        self.commit(Batch(kv=tuple(items.items())))

    def expire_seen(self, now: float) -> int:
        """Drop seen ids whose expiry is at or before ``now``; returns how many."""
        return self._delete("DELETE FROM seen WHERE expires_s <= ?", now, "expiry of seen ids")

    def _delete(self, sql: str, bound_s: float, doing: str) -> int:
        """Run one time-bounded DELETE (autocommitted); returns how many rows went."""
        try:
            cur = self._live().execute(sql, (float(bound_s),))
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, doing) from exc
        return cur.rowcount

    # -- reading ---------------------------------------------------------------------
    def load(self, now: float, *, seen_max: int | None = None) -> StoredState:
        """Read back everything committed: the state a restarted node resumes from.

        Seen ids already expired at ``now`` are left out; with ``seen_max``, only the ``seen_max``
        rows that expire last (what the node keeps in memory, ``NodeConfig.seen_ids_max``): at
        most that many ids, fewer when some of them were remembered twice.
        """
        conn = self._live()
        try:
            records = [
                MessageRecord(bytes(mid), prio, bytes(env), state,
                              msgpack.unpackb(meta, raw=False), updated)
                for mid, prio, env, state, meta, updated in conn.execute(
                    "SELECT msg_id, priority, envelope, state, metadata, updated FROM messages "
                    "ORDER BY priority, updated")
            ]
            seen: dict[bytes, float] = {}
            hops: dict[bytes, int] = {}
            for m, t, h in conn.execute("SELECT msg_id, expires_s, hops FROM seen WHERE expires_s > ? "
                                        "ORDER BY expires_s DESC LIMIT ?",
                                        (float(now), -1 if seen_max is None else int(seen_max))):
                m = bytes(m)
                if m not in seen:                 # an id remembered twice: its latest row
                    seen[m] = t
                    if h >= 0:
                        hops[m] = h
            kv = {k: bytes(v) for k, v in conn.execute("SELECT key, value FROM kv")}
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, "load") from exc
        except (ValueError, msgpack.UnpackException) as exc:
            raise StoreError(f"store {self.path}: a record's metadata is unreadable ({exc}); the file is corrupt") from exc
        return StoredState(records, seen, kv, hops)

    def inbox(self, after_seq: int = 0, limit: int = 1000) -> list[InboxEntry]:
        """Delivered messages with ``seq`` above ``after_seq``, oldest first (for the application).

        An application reads the inbox with the last ``seq`` it has seen as a cursor.
        """
        try:
            rows = self._live().execute(
                "SELECT msg_id, src, dst, priority, content_type, created_s, payload, delivered_s, seq FROM inbox "
                "WHERE seq > ? ORDER BY seq LIMIT ?", (int(after_seq), int(limit))).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, "inbox read") from exc
        return [InboxEntry(bytes(r[0]), r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7], r[8]) for r in rows]

    def receipt(self, msg_id: bytes) -> tuple[str, str] | None:
        """The latest (status, detail) recorded for a message submitted here, or None."""
        try:
            row = self._live().execute("SELECT status, detail FROM receipts WHERE msg_id = ?",
                                       (_id(msg_id),)).fetchone()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path, "receipt read") from exc
        return None if row is None else (row[0], row[1])

    def expire_receipts(self, before_s: float) -> int:
        """Drop receipts recorded before ``before_s``; returns how many."""
        return self._delete("DELETE FROM receipts WHERE t_s < ?", before_s, "expiry of receipts")

    def expire_inbox(self, before_s: float) -> int:
        """Drop inbox entries delivered before ``before_s``; returns how many. Sequence numbers
        are never reused, so an application's cursor stays valid."""
        return self._delete("DELETE FROM inbox WHERE delivered_s < ?", before_s, "expiry of inbox entries")

    def inbox_count(self) -> int:
        """How many messages the application has received here."""
        return int(self._live().execute("SELECT COUNT(*) FROM inbox").fetchone()[0])

    def message_ids(self) -> Iterator[bytes]:
        """Ids of every message held (for checks and status)."""
        for (mid,) in self._live().execute("SELECT msg_id FROM messages"):
            yield bytes(mid)

    def count(self) -> int:
        """How many messages are held in custody."""
        return int(self._live().execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path}: already closed")
        return self._conn


# Message rows hold whole envelopes (1 KiB and more) under random 128-bit ids. Version 1 kept
# them in a WITHOUT ROWID table with an index by priority: every insert landed at a random
# place in a B-tree of big rows and wrote a second index; SQLite's own advice is WITHOUT ROWID
# only for rows well under 1/20 of a page (https://www.sqlite.org/withoutrowid.html, section
# 4). A rowid table appends the row and indexes only the 16-byte id: group commits of 1,000
# 1 KiB records with random ids (insert, seen, delete) took 160-180 µs per message before and
# 45-65 µs after on a 2-core test machine. ``load`` still returns records by priority (ORDER BY).
_MESSAGES_V2 = """
CREATE TABLE messages_v2 (
    msg_id   BLOB PRIMARY KEY,
    priority INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    state    TEXT NOT NULL,
    metadata BLOB NOT NULL,
    updated  REAL NOT NULL
);
INSERT INTO messages_v2(msg_id, priority, envelope, state, metadata, updated)
    SELECT msg_id, priority, envelope, state, metadata, updated FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
"""


AUTOCHECKPOINT_SAFETY_PAGES = 16384   # 256 MiB of log at 16 KiB pages: inline only if the background lags


class WalCheckpointer:
    """Copies committed log frames into the database file from a connection of its own.

    PASSIVE checkpoints never wait for and never block a writer, so commits on the store's
    connection go on while this runs (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html).
    Use it from one thread; a failure is reported, never raised (commits stay durable in
    the log either way).
    """

    def __init__(self, path: str):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self.runs = 0

    def run(self) -> str | None:
        """One PASSIVE checkpoint; returns None, or what went wrong."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            return f"store {self.path}: background checkpoint failed: {exc}"
        self.runs += 1
        return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# Seen ids (16 random bytes and an expiry) up to version 3 were a WITHOUT ROWID table keyed by
# the id: every group commit inserted its ids at random places in a B-tree that holds every id
# of the last TTL + margin, dirtying a page per id once the table outgrows a few pages. Only
# ``load`` (all of them) and ``expire_seen`` (by expiry) read the table, so from version 4 it is
# a plain rowid table that commits append to, indexed by expiry only (which grows with time).
_SEEN_V4 = """
CREATE TABLE seen_v4 (msg_id BLOB NOT NULL, expires_s REAL NOT NULL);
INSERT INTO seen_v4(msg_id, expires_s) SELECT msg_id, expires_s FROM seen ORDER BY expires_s;
DROP TABLE seen;
ALTER TABLE seen_v4 RENAME TO seen;
"""


def _migrate_messages(conn: sqlite3.Connection) -> None:
    """Turn a version 1 messages table (WITHOUT ROWID + priority index) into a rowid table,
    keeping every record, in one transaction (a crash midway leaves version 1 intact)."""
    _migrate_table(conn, "messages", _MESSAGES_V2)


def _migrate_seen(conn: sqlite3.Connection) -> None:
    """Turn a seen table keyed by id (versions 1-3) into the append-only table of version 4,
    keeping every id, in one transaction (its expiry index is made again by the schema)."""
    _migrate_table(conn, "seen", _SEEN_V4)


def _add_seen_hops(conn: sqlite3.Connection) -> None:
    """Give a seen table of versions 1-4 its hops column (-1 in every existing row: not known,
    which the node treats as originated here; see ``NodeCore._restore``)."""
    cols = [row[1] for row in conn.execute("PRAGMA table_info(seen)")]
    if cols and "hops" not in cols:
        conn.execute("ALTER TABLE seen ADD COLUMN hops INTEGER NOT NULL DEFAULT -1")


def _migrate_table(conn: sqlite3.Connection, table: str, script: str) -> None:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if row is None or "WITHOUT ROWID" not in row[0].upper():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for stmt in script.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _torn_wal_tail_bytes(wal_path: str) -> int:
    """Bytes after the last whole frame of a write-ahead log: a write cut short by a crash.
    SQLite ignores them (frames carry checksums); this only lets the node say so.
    Layout: a 32-byte header (page size at offset 8), then frames of 24 + page size bytes
    (https://www.sqlite.org/fileformat.html, section 4.1)."""
    try:
        size = os.path.getsize(wal_path)
        with open(wal_path, "rb") as f:
            header = f.read(32)
    except OSError:
        return 0
    if len(header) < 32:
        return size
    page = int.from_bytes(header[8:12], "big")
    page = 65536 if page == 1 else page
    if page < 512:
        return 0
    return (size - 32) % (page + 24)


def _cut_torn_tail(wal_path: str, torn_bytes: int) -> None:
    """Cut a torn tail off the log before SQLite opens it. SQLite never reads a partial
    frame, but it does not remove one either: once the log restarts from its beginning
    (after a checkpoint) the stale tail stays at the end of the file, is reported again at
    every later start, and a second torn write appended to it can complete a frame's length
    and go unnoticed. Cutting it makes each torn write reported once."""
    try:
        with open(wal_path, "r+b") as f:
            f.truncate(os.path.getsize(wal_path) - torn_bytes)
            os.fsync(f.fileno())
    except OSError as exc:
        raise StoreError(f"store {wal_path}: cannot cut the torn last write off the log ({exc}); "
                         "check the data directory's permissions") from exc


# Bound parameters per statement: SQLite before 3.32 allowed at most 999.
_MAX_PARAMS = 999
_ROW_SQL: dict[tuple[str, int, int], str] = {}


def _rows(conn: sqlite3.Connection, head: str, width: int, rows: list[tuple[Any, ...]]) -> None:
    """``executemany`` of ``head`` over ``rows`` (each ``width`` values) as a few multi-row
    statements: ``INSERT ... VALUES (?, ?), (?, ?), ...`` or, for a ``head`` ending in ``IN``,
    ``DELETE ... IN (?, ?, ...)``. Same effect, row order kept. ``executemany`` steps SQLite once
    per row and takes the GIL back after each step; a relay's group commit holds thousands of
    rows, and each hand-over can hold up the node's loop thread (which forwards frames
    meanwhile). Chunk sizes come from a short ladder, so few statements are cached.

    >>> conn = sqlite3.connect(":memory:")
    >>> _ = conn.execute("CREATE TABLE t(a, b)")
    >>> _rows(conn, "INSERT INTO t(a, b)", 2, [(i, -i) for i in range(1200)])
    >>> _rows(conn, "DELETE FROM t WHERE a IN", 1, [(i,) for i in range(0, 1200, 2)])
    >>> conn.execute("SELECT count(*), sum(a) FROM t").fetchone()
    (600, 360000)
    """
    per = _MAX_PARAMS // width
    i, n = 0, len(rows)
    for size in (per, 64, 16, 4, 1):
        while n - i >= size:
            sql = _ROW_SQL.get((head, width, size))
            if sql is None:
                group = "(" + ", ".join("?" * width) + ")"
                sql = (f"{head} ({', '.join('?' * size)})" if head.endswith(" IN")
                       else f"{head} VALUES {', '.join([group] * size)}")
                _ROW_SQL[(head, width, size)] = sql
            conn.execute(sql, [v for row in rows[i:i + size] for v in row])
            i += size


def _id(msg_id: bytes) -> bytes:
    if not isinstance(msg_id, (bytes, bytearray, memoryview)) or len(msg_id) == 0:
        raise TypeError(f"message id must be non-empty bytes, got {msg_id!r}")
    return bytes(msg_id)
