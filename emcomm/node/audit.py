"""The audit log: who sent what class, when, over which link — append-only and hash-chained.

This module owns the log file format (one JSON object per line), appending records in
batches, and verification. Each line carries ``h``, the BLAKE2b hash of the previous line's
``h`` and this line's other fields, so changing, removing or reordering any earlier line
breaks every hash after it. It must not decide what is audited (the node does) and it does
not read a clock (records carry the time the caller gives).

Tamper evidence, not tamper proofing: someone able to rewrite the whole file can recompute
the chain; note the head hash (``emcomm audit`` prints it) somewhere else to pin it.

Example
-------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "audit.log"
>>> log = AuditLog(p)
>>> log.append([{"t": 1.0, "ev": "rx", "src": "team1", "prio": 0, "link": "a-b/hts"}])
>>> log.close()
>>> verify(p).ok, verify(p).records
(True, 1)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from emcomm.errors import UsageError

GENESIS = "0" * 32
_HASH_BYTES = 16


def _digest(prev: str, body: str) -> str:
    return hashlib.blake2b((prev + body).encode(), digest_size=_HASH_BYTES).hexdigest()


# one encoder for every record: json.dumps with any non-default option builds a new encoder per
# call (a third of a record's cost on a busy relay, where every message leaves an audit record)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _body(record: Mapping[str, Any]) -> str:
    return _ENCODER.encode(record)


class AuditLog:
    """An append-only audit file; resumes the chain of an existing file."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.seq, self.head = 0, GENESIS
        if self.path.exists():
            result = verify(self.path)
            if not result.ok:
                raise UsageError(f"audit log {self.path} fails verification at line {result.bad_line}: "
                                 f"{result.problem}; keep it as evidence and start a new log file")
            self.seq, self.head = result.records, result.head
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._f = os.fdopen(fd, "a", encoding="utf-8")

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Chain and write records (flushed to the OS; fsync is the store's job)."""
        lines = []
        for rec in records:
            self.seq += 1
            rec = {**rec, "seq": self.seq}
            body = _body(rec)
            self.head = _digest(self.head, body)
            lines.append(body[:-1] + f',"h":"{self.head}"}}\n')
        if lines:
            self._f.write("".join(lines))
            self._f.flush()

    def close(self) -> None:
        self._f.close()


@dataclasses.dataclass(frozen=True)
class Verification:
    """Result of checking a log: ``ok``, how many records, the head hash, or where it broke."""

    ok: bool
    records: int
    head: str
    bad_line: int = 0
    problem: str = ""


def read(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The records of a log, in order (not verified; see ``verify``)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def message_ids(record: Mapping[str, Any]) -> list[Any]:
    """The message ids a record names, in order: its ``ids`` list (one record stands for the
    messages of one instant that share its other fields), or the single ``id`` of a record
    written one per message.

    >>> message_ids({"ev": "rx", "ids": ["0a", "0b"]}), message_ids({"ev": "rx", "id": "0c"})
    (['0a', '0b'], ['0c'])
    """
    ids = record.get("ids")
    if isinstance(ids, list):
        return ids
    return [record.get("id")]


def verify(path: str | os.PathLike[str]) -> Verification:
    """Re-compute the chain; the first line that does not match is reported."""
    head, n = GENESIS, 0
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"audit log {path} not found") from None
    with f:
        for lineno, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
                h = rec.pop("h")
            except (ValueError, KeyError, AttributeError, TypeError):
                return Verification(False, n, head, lineno, "not a complete audit record (cut short or edited)")
            if rec.get("seq") != n + 1:
                return Verification(False, n, head, lineno, f"sequence {rec.get('seq')} where {n + 1} was expected "
                                                            "(a record was removed or inserted)")
            expect = _digest(head, _body(rec))
            if h != expect:
                return Verification(False, n, head, lineno, "hash does not match: this or an earlier record was changed")
            head, n = h, n + 1
    return Verification(True, n, head)
