"""Enrol a whole mesh at once: an authority key, one identity per member, the signed roster.

This module owns writing the key directories and the roster of a mesh that one program
starts on this machine (the demo, chaos runs). It must not start nodes or decide who the
members are; a field deployment enrols terminals one by one with ``emcomm keygen`` and
``emcomm roster add/sign`` instead.

Layout of ``keys_dir``: ``authority/`` (the authority's identity), ``NODE/`` for each member
(``identity.key`` mode 0600, ``identity.pub``), and ``roster.json`` signed by the authority.

Example
-------
>>> import tempfile, pathlib
>>> keys = pathlib.Path(tempfile.mkdtemp()) / "keys"
>>> roster = enrol_mesh(keys, [Member("cc", "commander", "Duty Officer")], org="EOC")
>>> [e.node_id for e in roster.entries], (keys / "cc" / "identity.key").exists()
(['cc'], True)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, Mapping

from emcomm.errors import UsageError
from emcomm.node.identity import Identity
from emcomm.node.roster import Roster

ROSTER_FILE = "roster.json"
AUTHORITY_DIR = "authority"
# node.toml ``rate_limits`` (messages/s, burst per sender and class) for a mesh a program drives
# (demo, chaos): far above any scripted load, so no scripted message is taken for a flood
SCRIPTED_RATE_LIMITS = "{flash = [50, 500], immediate = [100, 1000], priority = [200, 2000], routine = [400, 4000]}"


@dataclasses.dataclass(frozen=True)
class Member:
    node_id: str
    role: str           # a role of the roster's table (who may send which class)
    name: str           # the real name the terminal is registered to
    phone: str = ""


def enrol_mesh(keys_dir: Path, members: Iterable[Member], *, org: str, authority_name: str = "Duty Officer",
               roles: Mapping[str, int] | None = None) -> Roster:
    """Write an authority, every member's identity and the roster binding them (signed).

    ``roles`` replaces the roster's role table (role → highest class it may originate).
    Identities are never overwritten: a ``keys_dir`` that already holds a roster is refused.
    """
    keys_dir.mkdir(parents=True, exist_ok=True)
    if (keys_dir / ROSTER_FILE).exists():
        raise UsageError(f"{keys_dir} already holds a roster (identities are never overwritten); use a new directory")
    authority = Identity.generate("authority", name=authority_name, org=org, phone="", role="authority")
    authority.save(keys_dir / AUTHORITY_DIR)
    roster = Roster.empty(authority.public.verify_key)
    if roles is not None:
        roster = dataclasses.replace(roster, roles=dict(roles))
    for m in members:
        ident = Identity.generate(m.node_id, name=m.name, org=org, phone=m.phone, role=m.role)
        ident.save(keys_dir / m.node_id)
        roster = roster.add(ident.public)
    roster = roster.sign(authority, 0.0)
    roster.save(keys_dir / ROSTER_FILE)
    return roster
