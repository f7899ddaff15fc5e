"""The message ledger: every message the demo had accepted, and what became of it.

Owns the bookkeeping the summary and the exit status rest on: accepted (the source node
stored it), delivered (it is in the destination's inbox, with the latency from creation
to delivery), the links it was first sent on (telemetry ``sent``), and the final fate of
anything not delivered (the source's receipt: expired, undeliverable, or still in custody).
It talks to no node and reads no clock: callers feed it replies and events.

Example
-------
>>> from emcomm.priority import Priority
>>> led = Ledger()
>>> led.accepted(b"\\x01" * 16, "t1", "cc", Priority.FLASH, t_s=100.0, wall_s=5.0)
>>> _ = led.delivered(b"\\x01" * 16, created_s=5.0, delivered_s=6.5)
>>> s = led.stats()[Priority.FLASH]
>>> (s.accepted, s.delivered, s.latency_p50_s)
(1, 1, 1.5)
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

from emcomm.priority import Priority

LOST_STATUSES = ("expired", "undeliverable")


@dataclasses.dataclass
class Entry:
    msg_id: bytes
    src: str
    dst: str
    priority: Priority
    t_s: float                       # scenario time it was sent at
    wall_s: float                    # wall time it was accepted
    delivered_after_s: float | None = None
    first_link: str = ""             # link it first left its source on
    fate: str = ""                   # final receipt status when not delivered
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class PriorityLine:
    priority: Priority
    accepted: int
    delivered: int
    in_custody: int
    lost: int
    latency_p50_s: float | None
    latency_max_s: float | None

    @property
    def delivered_pct(self) -> float:
        return 100.0 * self.delivered / self.accepted if self.accepted else 100.0


class Ledger:
    def __init__(self) -> None:
        self.entries: dict[bytes, Entry] = {}

    def accepted(self, msg_id: bytes, src: str, dst: str, priority: Priority, *, t_s: float, wall_s: float) -> None:
        self.entries[bytes(msg_id)] = Entry(bytes(msg_id), src, dst, Priority(priority), t_s, wall_s)

    def delivered(self, msg_id: bytes, *, created_s: float, delivered_s: float) -> Entry | None:
        """Mark delivered (latency = delivered - created, on the nodes' shared clock); None if unknown."""
        e = self.entries.get(bytes(msg_id))
        if e is not None and e.delivered_after_s is None:
            e.delivered_after_s = max(0.0, delivered_s - created_s)
        return e

    def sent(self, msg_hex: str, node: str, link_id: str) -> Entry | None:
        """A telemetry ``sent``: remember the first link the message left its source on."""
        try:
            e = self.entries.get(bytes.fromhex(msg_hex))
        except ValueError:
            return None
        if e is not None and node == e.src and not e.first_link:
            e.first_link = link_id
            return e
        return None

    def settle(self, msg_id: bytes, status: str, detail: str) -> None:
        """The final receipt of a message that was not delivered."""
        e = self.entries[bytes(msg_id)]
        if e.delivered_after_s is None:
            e.fate, e.detail = status, detail

    def undelivered(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.delivered_after_s is None]

    def lost(self) -> list[Entry]:
        return [e for e in self.undelivered() if e.fate in LOST_STATUSES]

    def stats(self) -> dict[Priority, PriorityLine]:
        out = {}
        for p in Priority:
            es = [e for e in self.entries.values() if e.priority == p]
            lat = sorted(e.delivered_after_s for e in es if e.delivered_after_s is not None)
            lost = sum(1 for e in es if e.delivered_after_s is None and e.fate in LOST_STATUSES)
            delivered = len(lat)
            out[p] = PriorityLine(p, len(es), delivered, len(es) - delivered - lost, lost,
                                  statistics.median(lat) if lat else None, lat[-1] if lat else None)
        return out

    def verdict(self) -> tuple[bool, list[str]]:
        """(passed, reasons): nothing accepted lost, and every FLASH delivered."""
        reasons = []
        lost = self.lost()
        if lost:
            reasons.append(f"{len(lost)} accepted message(s) lost")
        flash = self.stats()[Priority.FLASH]
        if flash.delivered < flash.accepted:
            reasons.append(f"FLASH delivery {flash.delivered}/{flash.accepted} ({flash.delivered_pct:.0f} %) < 100 %")
        return not reasons, reasons

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-able data (written next to the recording)."""
        ok, reasons = self.verdict()
        return {"passed": ok, "reasons": reasons,
                "priorities": {p.name.lower(): dataclasses.asdict(line) | {"priority": int(p)}
                               for p, line in self.stats().items()},
                "lost": [{"msg_id": e.msg_id.hex(), "src": e.src, "dst": e.dst, "priority": e.priority.name,
                          "fate": e.fate, "detail": e.detail} for e in self.lost()],
                "in_custody": [{"msg_id": e.msg_id.hex(), "src": e.src, "dst": e.dst, "priority": e.priority.name}
                               for e in self.undelivered() if e.fate not in LOST_STATUSES]}
