"""Group commits on a writer thread: the node keeps reading frames while SQLite writes and syncs.

This module owns running ``Store.commit`` for one batch at a time on its own thread and
handing the outcome back to the loop that owns the node. It must not decide what goes into
a batch or what to do once it is durable (the runtime and the core do): custody is kept by
the caller, which acknowledges nothing of a batch before ``result`` reports it committed.

While a commit runs, the Python sqlite3 module releases the GIL for SQLite's own work
(writing pages, fsync), so the owner thread decodes and queues the next frames at the same
time; the next batch simply grows until the writer is free (larger group commits under load).
A small batch can instead be committed on the owner's thread (``commit_here``): under light
load that saves two thread wake-ups per hop. The writer thread also checkpoints the store's
write-ahead log from a connection of its own (after 256 commits or 16 MB, or when commits
pause), so no commit waits for megabytes of log to be copied and synced.
Everything else that touches the store from the owner thread goes through ``access()``, which
waits for a running commit, so the connection is never used by two threads at once.

Example
-------
>>> import os, tempfile
>>> from emcomm.node.store import Batch, MessageRecord, Store
>>> store = Store.open(os.path.join(tempfile.mkdtemp(), "n.db"))
>>> gc = GroupCommitter(store)
>>> gc.submit(Batch(puts=(MessageRecord(b"\\x01" * 16, 0, b"e", "queued", {}, 0.0),)), token="batch-1")
>>> gc.result(block=True)
('batch-1', None)
>>> with gc.access():
...     store.count()
1
>>> gc.close(); store.close()
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Callable, Iterator

from emcomm.errors import StoreError, UsageError
from emcomm.node.store import Batch, Store

log = logging.getLogger("emcomm.node")

CHECKPOINT_AFTER_COMMITS = 256          # a small commit still adds a few pages to the log
CHECKPOINT_AFTER_BYTES = 16 << 20       # of envelopes committed since the last checkpoint
CHECKPOINT_IDLE_S = 0.2                 # ... or as soon as commits pause this long


class GroupCommitter:
    """One writer thread committing one ``Batch`` at a time to ``store``.

    ``on_done`` is called on the writer thread after each commit (success or failure); the
    runtime uses it to wake its poll. It must be quick and must not touch the store.
    """

    def __init__(self, store: Store, on_done: Callable[[], None] | None = None, *,
                 background_checkpoints: bool = True):
        self._store = store
        self._ckpt = store.checkpoint_in_background() if background_checkpoints else None
        self._ckpt_commits = 0
        self._ckpt_bytes = 0
        self._last_commit_s = time.monotonic()
        self._on_done = on_done
        self._lock = threading.Lock()             # held while the connection is in use
        self._cv = threading.Condition()
        self._job: tuple[Batch, Any] | None = None
        self._done: tuple[Any, StoreError | None] | None = None
        self._busy = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="emcomm-commit", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """True from ``submit`` until its outcome has been taken with ``result``."""
        return self._busy

    def submit(self, batch: Batch, token: Any) -> None:
        """Start committing ``batch``; ``token`` comes back with the outcome."""
        with self._cv:
            if self._busy:
                raise UsageError("a group commit is still running; take its result first")
            if self._closing:
                raise UsageError("the group committer is closed")
            self._busy = True
            self._job = (batch, token)
            self._cv.notify()

    def commit_here(self, batch: Batch, token: Any) -> None:
        """Commit ``batch`` on the calling thread, for a small batch under light load (no hand-off
        to the writer and back, which costs two thread wake-ups on a busy machine). The outcome
        is read with ``result`` as for ``submit``; ``on_done`` is not called."""
        with self._cv:
            if self._busy:
                raise UsageError("a group commit is still running; take its result first")
            self._busy = True
        err = self._commit(batch)
        with self._cv:
            self._done = (token, err)

    def result(self, block: bool = False, timeout_s: float | None = None) -> tuple[Any, StoreError | None] | None:
        """``(token, None)`` once the batch is durable, ``(token, StoreError)`` when none of it
        was stored, or None while it is still running (or nothing was submitted)."""
        with self._cv:
            if block and self._busy:
                self._cv.wait_for(lambda: self._done is not None, timeout_s)
            done, self._done = self._done, None
            if done is not None:
                self._busy = False
            return done

    @contextlib.contextmanager
    def access(self) -> Iterator[Store]:
        """Use the store from the owner thread (waits for a running commit to finish)."""
        with self._lock:
            yield self._store

    def close(self) -> None:
        """Let a running commit finish, then stop the thread (its outcome stays readable)."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join()
        if self._ckpt is not None:
            self._ckpt.close()

    def _commit(self, batch: Batch) -> StoreError | None:
        try:
            with self._lock:
                self._store.commit(batch)
        except StoreError as exc:
            return exc
        except Exception as exc:  # anything else must not kill the writer: nothing is acked
            return StoreError(f"store {self._store.path}: commit failed: {type(exc).__name__}: {exc}")
        with self._cv:
            self._ckpt_commits += 1
            self._ckpt_bytes += sum(len(r.envelope) for r in batch.puts)
            self._last_commit_s = time.monotonic()
        return None

    def _checkpoint_due(self) -> bool:
        # called with self._cv held
        if self._ckpt is None or not self._ckpt_commits:
            return False
        return (self._ckpt_commits >= CHECKPOINT_AFTER_COMMITS or self._ckpt_bytes >= CHECKPOINT_AFTER_BYTES
                or time.monotonic() - self._last_commit_s >= CHECKPOINT_IDLE_S)

    def _checkpoint(self) -> None:
        assert self._ckpt is not None
        with self._cv:
            self._ckpt_commits = self._ckpt_bytes = 0
        problem = self._ckpt.run()
        if problem is not None:
            log.warning("%s (commits are unaffected; SQLite checkpoints inside a commit if this persists)", problem)

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._job is None and not self._closing and not self._checkpoint_due():
                    self._cv.wait(CHECKPOINT_IDLE_S)
                if self._job is None:
                    if self._closing:
                        return
                    job = None
                else:
                    job, self._job = self._job, None
            if job is None:
                self._checkpoint()      # commits paused or the log has grown: copy it over now
                continue
            batch, token = job
            err = self._commit(batch)
            with self._cv:
                self._done = (token, err)
                self._cv.notify_all()
            if self._on_done is not None:
                self._on_done()
