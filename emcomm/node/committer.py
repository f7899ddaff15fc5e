"""Group commits on a writer thread: the node keeps reading frames while SQLite writes and syncs.

This module owns running ``Store.commit`` for one batch at a time on its own thread and
handing the outcome back to the loop that owns the node. It must not decide what goes into
a batch or what to do once it is durable (the runtime and the core do): custody is kept by
the caller, which acknowledges nothing of a batch before ``result`` reports it committed.

While a commit runs, the Python sqlite3 module releases the GIL for SQLite's own work
(writing pages, fsync), so the owner thread decodes and queues the next frames at the same
time; the next batch simply grows until the writer is free (larger group commits under load).
A small batch can instead be committed on the owner's thread (``commit_here``): under light
load that saves two thread wake-ups per hop.
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
import threading
from typing import Any, Callable, Iterator

from emcomm.errors import StoreError, UsageError
from emcomm.node.store import Batch, Store


class GroupCommitter:
    """One writer thread committing one ``Batch`` at a time to ``store``.

    ``on_done`` is called on the writer thread after each commit (success or failure); the
    runtime uses it to wake its poll. It must be quick and must not touch the store.
    """

    def __init__(self, store: Store, on_done: Callable[[], None] | None = None):
        self._store = store
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

    def _commit(self, batch: Batch) -> StoreError | None:
        try:
            with self._lock:
                self._store.commit(batch)
        except StoreError as exc:
            return exc
        except Exception as exc:  # anything else must not kill the writer: nothing is acked
            return StoreError(f"store {self._store.path}: commit failed: {type(exc).__name__}: {exc}")
        return None

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._job is not None or self._closing)
                if self._job is None:
                    return
                batch, token = self._job
                self._job = None
            err = self._commit(batch)
            with self._cv:
                self._done = (token, err)
                self._cv.notify_all()
            if self._on_done is not None:
                self._on_done()
