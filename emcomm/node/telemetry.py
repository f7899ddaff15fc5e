"""The telemetry event schema: what a node core reports about messages and links.

This module owns the event kinds and the one event record every consumer reads (the
ZeroMQ PUB socket, drill recordings, the command-centre map). It must not publish,
record or aggregate anything: it is data only.

Every event is a frozen ``TelemetryEvent``; ``as_dict`` gives a msgpack/JSON-able dict
with stable keys: ``kind, t_s, node, msg_id (hex or ""), priority (-1 if none), link_id,
reason, detail``.

Example
-------
>>> e = TelemetryEvent(SENT, 12.5, "team1", msg_id=b"\\x01" * 16, priority=0, link_id="t1-cc/beidou")
>>> e.as_dict()["msg_id"][:4], e.as_dict()["kind"]
('0101', 'sent')
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

# message events
SUBMITTED = "submitted"      # accepted from the local application (after it was stored)
SENT = "sent"                # first transmission of a message (or of its first fragment) on a link
FORWARDED = "forwarded"      # handed on: the next hop acknowledged custody
RETRANSMIT = "retransmit"    # sent again after the hop-ack timeout
DELIVERED = "delivered"      # reached its destination's application
RECEIPT = "receipt"          # the end-to-end receipt came back to the source
DROPPED = "dropped"          # given up with a reason (expired, hop_limit, malformed frame...)
REROUTED = "rerouted"        # moved from a link's queue to another (link down, better path)
# link events
LINK_UP = "link_up"
LINK_DOWN = "link_down"
ROUTES_CHANGED = "routes_changed"  # the link-state database changed the routes in use

EVENT_KINDS: frozenset[str] = frozenset({
    SUBMITTED, SENT, FORWARDED, RETRANSMIT, DELIVERED, RECEIPT, DROPPED, REROUTED,
    LINK_UP, LINK_DOWN, ROUTES_CHANGED,
})


@dataclasses.dataclass(frozen=True)
class TelemetryEvent:
    """One event at time ``t_s`` (the core's clock) on node ``node``."""

    kind: str
    t_s: float
    node: str
    msg_id: bytes | None = None
    priority: int = -1
    link_id: str = ""
    reason: str = ""
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A plain dict with stable keys (msg_id as hex), ready for msgpack or JSON."""
        return {
            "kind": self.kind,
            "t_s": self.t_s,
            "node": self.node,
            "msg_id": self.msg_id.hex() if self.msg_id else "",
            "priority": self.priority,
            "link_id": self.link_id,
            "reason": self.reason,
            "detail": dict(self.detail),
        }
