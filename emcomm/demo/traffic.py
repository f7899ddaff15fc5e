"""The demo's messages: the scenario's [[traffic]] as one list of sends in time order.

Owns expanding traffic entries into single sends with a readable body (who, what, when),
padded to the entry's ``size_bytes``. It sends nothing and reads no clock.

Example
-------
>>> from emcomm.drill.scenario import Traffic
>>> from emcomm.priority import Priority
>>> sends = expand([Traffic("t1", "cc", Priority.FLASH, "alert", 64, (30.0,))], names={"t1": "Team 1"})
>>> sends[0].t_s, sends[0].priority.name, len(sends[0].body)
(30.0, 'FLASH', 64)
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from emcomm.drill.scenario import Traffic
from emcomm.priority import Priority

WHAT = {"position": "position report", "status": "situation report", "alert": "life-safety call",
        "text": "order", "file": "file"}


@dataclasses.dataclass(frozen=True)
class Send:
    t_s: float
    src: str
    dst: str
    priority: Priority
    content: str
    body: bytes


def body_for(src_name: str, content: str, priority: Priority, t_s: float, size_bytes: int) -> bytes:
    """A readable message text of exactly ``size_bytes`` (padded with dots, or cut)."""
    h, m = divmod(int(t_s // 60), 60)
    text = f"{priority.name} {WHAT.get(content, content)} from {src_name} at T+{h:02d}:{m:02d}"
    raw = text.encode("utf-8")
    return raw[:size_bytes] if len(raw) >= size_bytes else raw + b"." * (size_bytes - len(raw))


def expand(traffic: Sequence[Traffic], names: Mapping[str, str]) -> list[Send]:
    """Every send of every entry, in time order (FLASH first at equal times)."""
    out = [Send(t, tr.from_id, tr.to_id, tr.priority, tr.content,
                body_for(names.get(tr.from_id, tr.from_id), tr.content, tr.priority, t, tr.size_bytes))
           for tr in traffic for t in tr.times_s]
    return sorted(out, key=lambda s: (s.t_s, int(s.priority), s.src))
