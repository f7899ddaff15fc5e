"""Operators on the map from the signed roster: who runs each node, by real name.

Owns one step: replacing each node's ``operator`` text with the roster entry bound to that
node id (name, organisation, role; a revoked key says so). It reads no files (the caller
loads the roster with ``emcomm.node.roster.load_roster``), draws nothing and holds no key:
the UI can show the roster but never sign or send with it.

Example
-------
>>> from emcomm.node.identity import Identity
>>> from emcomm.node.roster import Roster
>>> from emcomm.ui.situation import Situation
>>> cc = Identity.generate("cc-authority", name="Duty Officer", org="Provincial EOC", phone="", role="authority")
>>> t1 = Identity.generate("t1", name="Li Wei", org="Red Cross", phone="+86 138", role="responder")
>>> r = Roster.empty(cc.public.verify_key).add(t1.public).sign(cc, issued_s=100.0)
>>> s = Situation.from_dict({"t_s": 0, "nodes": [{"id": "t1", "lat_deg": 34.7, "lon_deg": 113.6, "operator": "?"}]})
>>> with_roster_operators(s, r).node("t1").operator
'Li Wei — Red Cross (responder)'
"""

from __future__ import annotations

import dataclasses

from emcomm.node.roster import Roster
from emcomm.ui.situation import Situation


def operator_text(roster: Roster, node_id: str) -> str | None:
    """The roster's words for who runs ``node_id``, or None when the node is not on it."""
    e = roster.active(node_id)
    if e is not None:
        return f"{e.name} — {e.org} ({e.role})"
    revoked = [x for x in roster.entries if x.node_id == node_id and x.revoked]
    if revoked:
        x = revoked[-1]
        return f"{x.name} — key REVOKED" + (f": {x.revoked_reason}" if x.revoked_reason else "")
    return None


def with_roster_operators(s: Situation, roster: Roster) -> Situation:
    """``s`` with every rostered node's operator taken from the roster (others unchanged)."""
    nodes = []
    for n in s.nodes:
        text = operator_text(roster, n.id)
        nodes.append(dataclasses.replace(n, operator=text) if text is not None else n)
    return dataclasses.replace(s, nodes=tuple(nodes))
