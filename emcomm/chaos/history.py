"""The history of a chaos run: every submit and its answer, every delivery to an application,
every fault, heal and clock change, as records appended in order (and to a JSON-lines file).

Owns the record shapes and their (thread-safe) log. It decides nothing: the checker reads
the history. Times ``t`` are the harness's wall clock (seconds since the epoch); times a node
reported (``created_s``, ``delivered_s``) are that node's clock.

Record ops: ``submit`` (msg_id, src, dst, priority, ttl_s, t, t_done, outcome =
accepted|refused|unknown, error), ``deliver`` (node, msg_id, src, dst, priority, created_s,
delivered_s, seq = the node's inbox sequence number, t = when the harness read it), ``fault`` (kind, targets, phase = start|end, t), ``converged`` (fault, t_heal,
after_s or None), ``clock`` (node, offset_s, t, inbox_seq = the
stopped node's highest inbox seq before it restarts with this offset), ``torn`` (node, bytes_appended, detected),
``receipt`` (msg_id, status, detail), ``sample`` (node, rss_bytes, store_bytes, t), ``end`` (t).

Example
-------
>>> h = History()
>>> h.add("fault", kind="pause", targets=["r1"], phase="start", t=1.0)
>>> h.of("fault")[0]["kind"]
'pause'
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Any, Iterable


class History:
    """Append-only, thread-safe list of records; optionally mirrored to a JSON-lines file."""

    def __init__(self, path: Path | None = None):
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self._file: IO[str] | None = open(path, "w") if path is not None else None

    def add(self, op: str, **fields: Any) -> None:
        rec = {"op": op, **fields}
        with self._lock:
            self.records.append(rec)
            if self._file is not None:
                self._file.write(json.dumps(rec, default=_jsonable) + "\n")

    def of(self, op: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.records if r["op"] == op]

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    @classmethod
    def load(cls, path: Path) -> "History":
        """Read a history written by a run (for re-checking it)."""
        h = cls()
        with open(path) as f:
            h.records = [json.loads(line) for line in f if line.strip()]
        return h

    @classmethod
    def of_records(cls, records: Iterable[dict[str, Any]]) -> "History":
        h = cls()
        h.records = list(records)
        return h


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).hex()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)
