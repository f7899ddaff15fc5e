"""Why a message is still held by a node when a chaos run ends: no link its class may use,
no route in the node's link-state view, queued behind a link, or awaiting a hop-ack.

Owns the explanation only, from the plan, the node's last ``status`` (links, queues per
link and priority, held per priority, in flight) and the message's class and destination.
It reads no store and no clock, and decides no invariant (a held message is in custody,
not lost; the checker counts it).

Example
-------
>>> from emcomm.chaos.plan import make_plan
>>> p = make_plan(8, ports=list(range(16)))
>>> st = {"links": {l.id: {"up": True, "in_flight": 0} for l in p.links_of("s1")},
...       "queues": {l.id: [0, 0, 0, 0] for l in p.links_of("s1")}, "held": [0, 0, 0, 1], "in_flight": 0}
>>> why_held(p, st, "s1", "cc", "routine")
'no link ROUTINE may use leads from s1 to cc (routing policy: never beidou, beidou_global)'
"""

from __future__ import annotations

from typing import Any

from emcomm.chaos.plan import ChaosPlan
from emcomm.priority import Priority


def _up(status: dict[str, Any], link_id: str) -> bool:
    link = status.get("links", {}).get(link_id, {})
    return bool(link.get("up")) and bool(link.get("alive", True))


def why_held(plan: ChaosPlan, status: dict[str, Any] | None, node: str, dst: str, priority: str | int) -> str:
    """One line saying why ``node`` still holds a message of class ``priority`` for ``dst``
    (``status``: the node's last status reply, None when it did not answer)."""
    prio = Priority.parse(priority)
    name = prio.name
    if node == dst:
        return f"addressed to {node}; delivery to its application pending"
    if plan.policy_path(node, dst, name.lower()) is None:
        from emcomm.router.policy import RoutingPolicy, Use
        policy = RoutingPolicy.default()
        never = sorted({l.kind for l in plan.links_of(node) if policy.use_of(prio, l.kind) == Use.NEVER})
        rule = f" (routing policy: never {', '.join(never)})" if never else ""
        return f"no link {name} may use leads from {node} to {dst}{rule}"
    if status is None or "links" not in status:
        return f"{node} did not answer at the end; its last state is unknown"
    path = plan.policy_path(node, dst, name.lower(), up=lambda l: _up(status, l.id) if node in (l.a, l.b) else True)
    if path is None:
        down = [lid for lid in status["links"] if not _up(status, lid)]
        return f"every link of {node} that {name} may use is down or silent ({', '.join(down) or 'none listed'})"
    if status.get("held", [0] * 4)[prio] > 0:
        return (f"no route to {dst} in {node}'s link-state view although {path[0].id} is up "
                f"(view not converged yet)")
    queued = [lid for lid, q in status.get("queues", {}).items() if q[prio] > 0]
    if queued:
        return "queued on " + ", ".join(f"{lid} ({'up' if _up(status, lid) else 'down'})" for lid in queued)
    flying = [lid for lid, l in status["links"].items() if l.get("in_flight", 0) > 0]
    if flying or status.get("in_flight", 0):
        return (f"sent on {', '.join(flying) or 'a link'}, awaiting the next hop's ack "
                "(retransmission backed off)")
    return f"held in {node}'s store but in none of its queues at its last status"
