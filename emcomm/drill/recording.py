"""The drill recording file: a compact, versioned msgpack stream, its writer and its reader.

Owns the byte format only. It does not know what a situation contains (the UI's
``emcomm.ui.situation`` documents the keyframe/event data shape) and never reads a clock:
every record carries the simulated ``t_s`` it was given.

Format (version 1): a sequence of msgpack objects, nothing else.

1. header map: ``{"format": "emcomm-recording", "version": 1, "scenario": str,
   "start": str (ISO 8601 wall time the scenario starts at, e.g. "2021-07-20T08:00:00+08:00"),
   "meta": map}``
2. records, each a 3-array ``[t_s: float, kind: str, data: map]`` with ``t_s`` never
   decreasing. ``kind == "keyframe"`` carries a full situation; any other kind is an event
   that changes the situation after the latest keyframe.

The writer flushes after every record, so a writer killed mid-record leaves a file that
reads up to its last complete record (``Recording.truncated`` tells). A reader refuses,
with a RecordingError naming file and byte offset: a missing file, a file cut inside its
header, bytes that are not msgpack, records of the wrong shape, and a newer version.

Example
-------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "r.emrec")
>>> with RecordingWriter(path, scenario="demo", start="2021-07-20T08:00:00+08:00") as w:
...     w.keyframe(0.0, {"t_s": 0.0})
...     w.event(30.0, "feed", {"t_s": 30.0, "text": "levee breach"})
>>> rec = read_recording(path)
>>> key, events = rec.state_at(45.0)
>>> key.t_s, [e.kind for e in events]
(0.0, ['feed'])
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import msgpack

from emcomm.errors import RecordingError

FORMAT = "emcomm-recording"
VERSION = 1
KEYFRAME = "keyframe"
SUFFIX = ".emrec"


@dataclasses.dataclass(frozen=True)
class Header:
    scenario: str
    start: str
    version: int = VERSION
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Record:
    t_s: float
    kind: str
    data: Mapping[str, Any]


class RecordingWriter:
    """Append records to a new recording file; use as a context manager.

    ``keyframe_interval_s`` is advice to the producer (``due_keyframe``), stored in the header.
    """

    def __init__(self, path: str | os.PathLike[str], scenario: str, start: str,
                 keyframe_interval_s: float = 60.0, meta: Mapping[str, Any] | None = None):
        if not isinstance(scenario, str) or not isinstance(start, str):
            raise RecordingError("recording header: scenario and start must be text")
        self.path = Path(path)
        self.keyframe_interval_s = float(keyframe_interval_s)
        self._last_t = -math.inf
        self._last_key_t = -math.inf
        self._packer = msgpack.Packer(use_bin_type=True)
        try:
            self._f: BinaryIO = open(self.path, "wb")
        except OSError as exc:
            raise RecordingError(f"cannot create recording {self.path}: {exc.strerror}") from None
        header = {"format": FORMAT, "version": VERSION, "scenario": scenario, "start": start,
                  "meta": {"keyframe_interval_s": self.keyframe_interval_s, **dict(meta or {})}}
        self._write(header)

    def _write(self, obj: Any) -> None:
        self._f.write(self._packer.pack(obj))
        self._f.flush()

    def due_keyframe(self, t_s: float) -> bool:
        """True when the producer should write a keyframe at ``t_s``."""
        return t_s - self._last_key_t >= self.keyframe_interval_s

    def record(self, t_s: float, kind: str, data: Mapping[str, Any]) -> None:
        t = float(t_s)
        if not math.isfinite(t) or t < self._last_t:
            raise RecordingError(f"record time {t_s!r} must be finite and not before the previous record ({self._last_t:g} s)")
        if not isinstance(kind, str) or not kind:
            raise RecordingError(f"record kind must be non-empty text, got {kind!r}")
        if not isinstance(data, Mapping):
            raise RecordingError(f"record data must be a map, got {type(data).__name__}")
        if self._f.closed:
            raise RecordingError(f"recording {self.path} is already closed")
        self._write([t, kind, dict(data)])
        self._last_t = t
        if kind == KEYFRAME:
            self._last_key_t = t

    def keyframe(self, t_s: float, situation: Mapping[str, Any]) -> None:
        """A full situation snapshot (the dict shape of ``emcomm.ui.situation``)."""
        self.record(t_s, KEYFRAME, situation)

    def event(self, t_s: float, kind: str, data: Mapping[str, Any]) -> None:
        """A change since the last keyframe (kinds: see ``emcomm.ui.situation.EVENT_KINDS``)."""
        if kind == KEYFRAME:
            raise RecordingError("use keyframe() for full snapshots")
        self.record(t_s, kind, data)

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclasses.dataclass(frozen=True)
class Recording:
    """A recording read into memory: header, records in time order, keyframe index."""

    path: str
    header: Header
    records: tuple[Record, ...]
    truncated: bool = False          # the file ended inside a record (writer stopped mid-write)
    truncated_at_byte: int | None = None

    @property
    def keyframe_times(self) -> tuple[float, ...]:
        return tuple(r.t_s for r in self.records if r.kind == KEYFRAME)

    @property
    def t_range(self) -> tuple[float, float]:
        """First keyframe time and last record time, in seconds since scenario start."""
        keys = self.keyframe_times
        return keys[0], self.records[-1].t_s

    def state_at(self, t_s: float) -> tuple[Record, list[Record]]:
        """The latest keyframe at or before ``t_s`` and the events after it up to ``t_s``.

        A time before the first keyframe gives the first keyframe alone; a time after
        the end gives the state at the end.
        """
        key_idx = [i for i, r in enumerate(self.records) if r.kind == KEYFRAME]
        times = [self.records[i].t_s for i in key_idx]
        k = bisect.bisect_right(times, t_s) - 1
        start = key_idx[max(k, 0)]
        key = self.records[start]
        events = []
        for r in self.records[start + 1:]:
            if r.t_s > t_s:
                break
            if r.kind != KEYFRAME:
                events.append(r)
        return key, events


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read and validate a recording; raise RecordingError saying what is wrong and where."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"recording {p} does not exist; `emcomm drill run SCENARIO --out DIR` writes one as DIR/recording.emrec") from None
    except IsADirectoryError:
        raise RecordingError(f"recording {p} is a directory, expected a {SUFFIX} file") from None
    except OSError as exc:
        raise RecordingError(f"cannot read recording {p}: {exc.strerror}") from None
    if not raw:
        raise RecordingError(f"recording {p} is empty (0 bytes): the writer never wrote its header")

    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=max(len(raw), 1024))
    unpacker.feed(raw)
    objs: list[tuple[int, Any]] = []
    offset = 0
    try:
        for obj in unpacker:
            objs.append((offset, obj))
            offset = unpacker.tell()
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        raise RecordingError(f"recording {p} is corrupt at byte {offset}: not valid msgpack ({exc})") from None
    truncated = offset < len(raw)
    if not objs:
        raise RecordingError(f"recording {p} is cut off inside its header ({len(raw)} bytes): not a complete recording")

    head = objs[0][1]
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise RecordingError(f"{p} is not an emcomm recording (its first object is not a '{FORMAT}' header)")
    version = head.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordingError(f"recording {p}: header has no whole-number version")
    if version > VERSION:
        raise RecordingError(f"recording {p} is format version {version}, newer than this emcomm reads "
                             f"(up to {VERSION}); upgrade emcomm to replay it")
    if version < 1:
        raise RecordingError(f"recording {p}: version {version} is not a valid format version")
    scenario, start, meta = head.get("scenario"), head.get("start"), head.get("meta", {})
    if not isinstance(scenario, str) or not isinstance(start, str) or not isinstance(meta, dict):
        raise RecordingError(f"recording {p}: header needs text 'scenario' and 'start' and a map 'meta'")

    records = []
    last_t = -math.inf
    for off, obj in objs[1:]:
        if (not isinstance(obj, (list, tuple)) or len(obj) != 3 or isinstance(obj[0], bool)
                or not isinstance(obj[0], (int, float)) or not isinstance(obj[1], str) or not isinstance(obj[2], dict)):
            raise RecordingError(f"recording {p} is corrupt at byte {off}: expected a [t_s, kind, data] record")
        t = float(obj[0])
        if not math.isfinite(t) or t < last_t:
            raise RecordingError(f"recording {p} is corrupt at byte {off}: record time {obj[0]!r} goes back before {last_t:g} s")
        last_t = t
        records.append(Record(t, obj[1], obj[2]))
    if not any(r.kind == KEYFRAME for r in records):
        where = f" (file cut off at byte {offset})" if truncated else ""
        raise RecordingError(f"recording {p} has no keyframe yet{where}: nothing to show")
    return Recording(path=str(p), header=Header(scenario, start, version, meta), records=tuple(records),
                     truncated=truncated, truncated_at_byte=offset if truncated else None)
