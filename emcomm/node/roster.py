"""The roster: which keys belong to which real person, organisation and role, signed by the
command centre's authority key.

This module owns the roster document (entries, version, revocations, the role → highest
priority table), its canonical signed bytes, and the rule for accepting an update (signed
by the pinned authority key and strictly newer). It must not read the network or a clock
(callers pass ``issued_s``), and it does not sign messages (``emcomm.node.signing`` does).

A key is never deleted from the roster: a lost terminal's entry is *revoked*, so the key is
refused everywhere the update reaches, and a new key may then be enrolled for the same node.

Example
-------
>>> from emcomm.node.identity import Identity
>>> cc = Identity.generate("cc-authority", name="Duty Officer", org="Provincial EOC", phone="", role="authority")
>>> t1 = Identity.generate("team1", name="Li Wei", org="Red Cross", phone="+86 138", role="responder")
>>> r = Roster.empty(cc.public.verify_key).add(t1.public).sign(cc, issued_s=100.0)
>>> r.version, r.verified(cc.public.verify_key), r.active("team1").name
(1, True, 'Li Wei')
>>> r.may_send("team1", 0), r.may_send("team1", 1)
(False, True)
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import nacl.exceptions
import nacl.signing

from emcomm.errors import UsageError
from emcomm.node.identity import Identity, PublicIdentity, key_id_of
from emcomm.priority import Priority

FORMAT = "emcomm-roster-1"
MAX_ROSTER_BYTES = 200_000     # fits one message body (256 KiB) with room to spare

# Highest class each role may originate (lower number = higher class). Data, not code: a
# roster may carry its own table under "roles", which replaces this one.
DEFAULT_ROLES: Mapping[str, int] = {
    "authority": int(Priority.FLASH),
    "commander": int(Priority.FLASH),
    "responder": int(Priority.IMMEDIATE),
    "sensor": int(Priority.PRIORITY),
    "relay-only": int(Priority.ROUTINE),
}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One key on the roster, bound to a real person."""

    node_id: str
    name: str
    org: str
    role: str
    phone: str
    verify_key: bytes
    curve_public: bytes
    groups: tuple[str, ...] = ()
    revoked: bool = False
    revoked_reason: str = ""

    @property
    def key_id(self) -> bytes:
        return key_id_of(self.verify_key)

    def to_dict(self) -> dict[str, Any]:
        d = {"node_id": self.node_id, "name": self.name, "org": self.org, "role": self.role, "phone": self.phone,
             "verify_key": self.verify_key.hex(), "curve_public": self.curve_public.decode("ascii"),
             "groups": list(self.groups), "revoked": self.revoked}
        if self.revoked_reason:
            d["revoked_reason"] = self.revoked_reason
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "Entry":
        if not isinstance(d, dict):
            raise UsageError(f"{where} must be an object")
        try:
            pub = PublicIdentity.from_dict(d, where)
            groups = tuple(str(g) for g in d.get("groups", []))
            revoked = d.get("revoked", False)
        except (TypeError, AttributeError):
            raise UsageError(f"{where}: groups must be a list of '@name' strings") from None
        if not isinstance(revoked, bool):
            raise UsageError(f"{where}: revoked must be true or false")
        if any(not g.startswith("@") for g in groups):
            raise UsageError(f"{where}: group names start with '@', got {list(groups)}")
        return cls(pub.node_id, pub.name, pub.org, pub.role, pub.phone, pub.verify_key, pub.curve_public,
                   groups, revoked, str(d.get("revoked_reason", "")))


@dataclasses.dataclass(frozen=True)
class Roster:
    """A versioned list of entries, signed by the authority whose verify key it names."""

    authority_key: bytes
    version: int = 0
    issued_s: float = 0.0
    entries: tuple[Entry, ...] = ()
    roles: Mapping[str, int] = dataclasses.field(default_factory=lambda: dict(DEFAULT_ROLES))
    signature: bytes = b""

    def __post_init__(self) -> None:
        by_key: dict[bytes, Entry] = {}
        by_node: dict[str, Entry] = {}
        for e in self.entries:
            by_key[e.key_id] = e
            if not e.revoked:
                by_node[e.node_id] = e
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_by_node", by_node)

    # -- building ---------------------------------------------------------------------
    @classmethod
    def empty(cls, authority_key: bytes) -> "Roster":
        """A new roster (version 0, unsigned) for the authority with this verify key."""
        if len(authority_key) != 32:
            raise UsageError("the authority key must be a 32-byte Ed25519 verify key")
        return cls(bytes(authority_key))

    def add(self, pub: PublicIdentity, groups: Iterable[str] = ()) -> "Roster":
        """Enrol a key (unsigned until ``sign``). A node may have one active key at a time;
        a revoked key cannot come back."""
        old = self.by_key(pub.key_id)
        if old is not None:
            state = "revoked" if old.revoked else "already on the roster"
            raise UsageError(f"key {pub.key_id.hex()} of {pub.node_id!r} is {state}; enrol a new key with `emcomm keygen`")
        if pub.node_id in self._by_node:          # type: ignore[attr-defined]
            raise UsageError(f"{pub.node_id!r} already has an active key; revoke it first "
                             f"(`emcomm roster revoke {pub.node_id}`)")
        groups = tuple(groups)
        if any(not g.startswith("@") for g in groups):
            raise UsageError(f"group names start with '@', got {list(groups)}")
        e = Entry(pub.node_id, pub.name, pub.org, pub.role, pub.phone, pub.verify_key, pub.curve_public, groups)
        return dataclasses.replace(self, entries=self.entries + (e,), signature=b"")

    def revoke(self, who: str, reason: str = "") -> "Roster":
        """Revoke the active key of node ``who`` (or the key with hex id ``who``)."""
        hit = False
        entries = []
        for e in self.entries:
            if not e.revoked and (e.node_id == who or e.key_id.hex() == who):
                e = dataclasses.replace(e, revoked=True, revoked_reason=reason)
                hit = True
            entries.append(e)
        if not hit:
            raise UsageError(f"no active key for {who!r} on the roster; `emcomm roster show` lists them")
        return dataclasses.replace(self, entries=tuple(entries), signature=b"")

    def sign(self, authority: Identity, issued_s: float) -> "Roster":
        """Sign as the authority: the version goes up by one."""
        if authority.public.verify_key != self.authority_key:
            raise UsageError(f"this roster is kept by authority key {key_id_of(self.authority_key).hex()}, "
                             f"not {authority.key_id.hex()}")
        new = dataclasses.replace(self, version=self.version + 1, issued_s=float(issued_s), signature=b"")
        sig = authority.signing_key().sign(new.signed_bytes()).signature
        return dataclasses.replace(new, signature=sig)

    # -- checking ---------------------------------------------------------------------
    def signed_bytes(self) -> bytes:
        """The canonical bytes the authority signs (everything but the signature)."""
        body = {"format": FORMAT, "authority_key": self.authority_key.hex(), "version": self.version,
                "issued_s": self.issued_s, "roles": dict(sorted(self.roles.items())),
                "entries": [e.to_dict() for e in self.entries]}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def verified(self, authority_key: bytes) -> bool:
        """True when signed by ``authority_key`` (and names it as its authority)."""
        if not self.signature or self.authority_key != authority_key:
            return False
        try:
            nacl.signing.VerifyKey(authority_key).verify(self.signed_bytes(), self.signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return False
        return True

    def accepts_update(self, new: "Roster") -> str | None:
        """None when ``new`` may replace this roster, else the reason it may not."""
        if not new.verified(self.authority_key):
            return "roster_bad_signature"
        if new.version <= self.version:
            return "roster_not_newer"
        return None

    # -- lookups ----------------------------------------------------------------------
    def by_key(self, key_id: bytes) -> Entry | None:
        return self._by_key.get(key_id)     # type: ignore[attr-defined]

    def active(self, node_id: str) -> Entry | None:
        """The unrevoked entry of ``node_id``, if any."""
        return self._by_node.get(node_id)   # type: ignore[attr-defined]

    def members(self, group: str) -> list[Entry]:
        """Active entries in ``group`` ("@name")."""
        return [e for e in self._by_node.values() if group in e.groups]  # type: ignore[attr-defined]

    def max_priority(self, role: str) -> int:
        return int(self.roles.get(role, int(Priority.ROUTINE)))

    def may_send(self, node_id: str, priority: int) -> bool:
        """True when ``node_id`` is active and its role allows class ``priority``."""
        e = self.active(node_id)
        return e is not None and int(priority) >= self.max_priority(e.role)

    def allowed_curve_keys(self) -> dict[bytes, str]:
        """CURVE public key (Z85) → node id, for every active entry (the ZAP allowlist)."""
        return {e.curve_public: e.node_id for e in self._by_node.values()}  # type: ignore[attr-defined]

    # -- files ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        d = json.loads(self.signed_bytes())
        d["signature"] = self.signature.hex()
        return (json.dumps(d, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "roster") -> "Roster":
        """Parse a roster document; UsageError naming the problem (signature not checked)."""
        if len(data) > MAX_ROSTER_BYTES:
            raise UsageError(f"{where}: {len(data)} bytes exceeds the roster limit of {MAX_ROSTER_BYTES}")
        try:
            d = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where} is not JSON: {exc}") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise UsageError(f"{where}: not an emcomm roster (format must be {FORMAT!r})")
        try:
            auth = bytes.fromhex(d["authority_key"])
            version = d["version"]
            issued = float(d["issued_s"])
            sig = bytes.fromhex(d.get("signature", ""))
            roles = {str(k): int(Priority.parse(v) if isinstance(v, str) else v) for k, v in d.get("roles", {}).items()}
            raw_entries = d["entries"]
        except KeyError as exc:
            raise UsageError(f"{where}: missing {exc.args[0]!r}") from None
        except (ValueError, TypeError, AttributeError, UsageError) as exc:
            raise UsageError(f"{where}: bad header field ({exc})") from None
        if isinstance(version, bool) or not isinstance(version, int) or version < 0 or len(auth) != 32:
            raise UsageError(f"{where}: version must be a non-negative integer and authority_key 32 bytes")
        if not isinstance(raw_entries, list):
            raise UsageError(f"{where}: entries must be a list")
        entries = tuple(Entry.from_dict(e, f"{where}: entries[{i}]") for i, e in enumerate(raw_entries))
        if any(not 0 <= v <= 3 for v in roles.values()):
            raise UsageError(f"{where}: roles map a role to flash, immediate, priority or routine")
        return cls(auth, version, issued, entries, roles or dict(DEFAULT_ROLES), sig)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (a reader never sees half a roster)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(self.to_bytes())
        os.replace(tmp, p)


def load_roster(path: str | os.PathLike[str]) -> Roster:
    """Read a roster file (signature not checked: see ``Roster.verified``)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"roster {p} not found; create it with `emcomm roster add`") from None
    except OSError as exc:
        raise UsageError(f"roster {p} cannot be read: {exc.strerror}") from None
    return Roster.from_bytes(data, str(p))
