"""The node's security gate: what the core asks before it accepts, sends or delivers a message.

This module owns the *decisions*: sign what this node originates (and seal group bodies),
refuse what an unrostered, revoked or unauthorised sender sent, verify signatures at the
destination always and at a relay for FLASH/IMMEDIATE, roster updates and anything from a
suspect neighbour, rate-limit each sender per class, identify and cut off a neighbour that
passes forged messages, and accept only newer authority-signed rosters. It is sans-I/O like
the core (``now`` is an argument); audit records are gathered in ``audit_pending`` for the
runtime to write. One record stands for the messages of one instant (to the millisecond)
with the same event, sender, destination, class, content type, link and neighbour: its
``ids`` and ``bytes`` list each of them, in order. A busy relay writes one record per burst,
not per message, and every message is still named.

Cut-off rule (who is cut off when). A neighbour is cut off -- refused on every link, its
connections closed, its key off this node's ZAP allowlist -- only when the evidence says it
forged, or it failed a check every honest relay makes:

1. *It claims to be the first hop of another node's message*: a frame with ``hop_count`` 0
   whose ``src`` is not the neighbour. Every honest relay counts itself as a hop, so the
   neighbour made the envelope itself. No signature check is needed (free at line rate).
2. *It is the message's source* (``src`` is the neighbour) and the signature is bad, missing
   or by someone else's key.
3. *It signed it*: the signature is valid under the neighbour's own rostered key but the
   envelope claims another ``src`` (proof that the neighbour's key holder made it).
4. *The message was FLASH or IMMEDIATE* (``verify_at_relay``): an honest relay verifies those
   before passing them on, so passing a forged one is the relay's own fault.

A relay that passed a forged ROUTINE or PRIORITY message of another source on (``hop_count``
of one or more) did not check it and was not asked to: it is not cut off. It gets a strike:
it is named in the log, and from then on everything it passes is verified here, so nothing
forged through it is ever accepted. The forger behind it is cut off by the node next to it
under rules 1-3 when that node sees the evidence; a forger that pretends to be a relay
(``hop_count`` above 0 on a lower class) cannot be told apart from the honest relays that
carried its messages, and its forgeries are dropped at every node that verifies them (the
destination always does).

Not a strike at all: a signature by a key this node's roster does not know or has revoked
(the neighbour's roster may simply be older), a replay outside the lifetime window, a role
or rate-limit refusal.

Example
-------
>>> from emcomm.node.identity import Identity
>>> from emcomm.node.roster import Roster
>>> from emcomm.node import wire
>>> cc = Identity.generate("cc", name="Duty Officer", org="EOC", phone="", role="authority")
>>> t1 = Identity.generate("t1", name="Li Wei", org="Red Cross", phone="", role="responder")
>>> roster = Roster.empty(cc.public.verify_key).add(cc.public).add(t1.public).sign(cc, 0.0)
>>> at_t1, at_cc = NodeSecurity(t1, roster), NodeSecurity(cc, roster)
>>> env = at_t1.seal(wire.make_envelope(b"\\x01" * 16, "t1", "cc", 1, 0, 10.0, 60.0, b"ok"), now=10.0)
>>> at_cc.admit("t1", "cc-t1/hts", env, now=11.0, mine=True) is None
True
>>> forged = dataclasses.replace(env, msg_id=b"\\x02" * 16, body=b"ko")
>>> at_cc.admit("t1", "cc-t1/hts", forged, now=11.0, mine=True)[0], "t1" in at_cc.blocked
('bad_signature', True)
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, Callable, Mapping

from emcomm.errors import RemoteInputError, UsageError
from emcomm.node import wire
from emcomm.node.groupcrypt import open_sealed, seal
from emcomm.node.identity import Identity
from emcomm.node.ratelimit import Limit, RateLimiter
from emcomm.node.roster import Roster
from emcomm.node.signing import DEFAULT_SKEW_S, Signer, Verifier
from emcomm.node.wire import ContentType, Envelope
from emcomm.priority import Priority

# Refusals that say something about the neighbour that passed the message on.
_STRIKING = frozenset({"bad_signature", "wrong_signer", "unsigned"})
MAX_AUDIT_PENDING = 200_000


class NodeSecurity:
    """One node's identity, roster and the security state about its neighbours."""

    def __init__(self, identity: Identity, roster: Roster, *, authority_key: bytes | None = None,
                 skew_s: float = DEFAULT_SKEW_S, limits: Mapping[int, Limit] | None = None,
                 verify_at_relay: frozenset[int] = frozenset({int(Priority.FLASH), int(Priority.IMMEDIATE)}),
                 audit: bool = True):
        """``authority_key`` is the pinned trust anchor (default: the roster's own, trusted
        because the operator installed that file); the roster must be signed by it."""
        self.identity = identity
        self.node_id = identity.node_id
        self.authority_key = authority_key or roster.authority_key
        if not roster.verified(self.authority_key):
            raise UsageError(f"roster v{roster.version} is not signed by the authority key; "
                             "sign it with `emcomm roster sign --key AUTHORITY_DIR`")
        mine = roster.active(identity.node_id)
        if mine is None or mine.key_id != identity.key_id:
            raise UsageError(f"this node's key {identity.key_id.hex()} ({identity.node_id}) is not active on roster "
                             f"v{roster.version}; enrol it with `emcomm roster add` and re-sign")
        self.roster = roster
        self._signer = Signer(identity)
        self._verifier = Verifier(skew_s)
        self._limiter = RateLimiter(limits)
        self.verify_at_relay = frozenset(verify_at_relay)
        self.blocked: set[str] = set()
        self.strikes: collections.Counter[str] = collections.Counter()
        self.counters: collections.Counter[str] = collections.Counter()
        self.audit_enabled = audit
        self._audit_open: dict[tuple[Any, ...], dict[str, Any]] = {}    # the pending records, by what they share
        self._audit_ids = 0
        self.on_roster: Callable[[Roster], None] | None = None    # the runtime updates ZAP and files

    # -- outgoing -----------------------------------------------------------------------
    def seal(self, env: Envelope, now: float) -> Envelope:
        """Sign an envelope this node originates (group bodies are sealed to members first).

        Raises UsageError when this node's role may not send the envelope's class."""
        if not env.is_receipt and not self.roster.may_send(self.node_id, env.priority):
            entry = self.roster.active(self.node_id)
            role = entry.role if entry else "?"
            raise UsageError(f"role {role!r} of {self.node_id} may send at most "
                             f"{Priority(self.roster.max_priority(role)).name}, not {Priority(env.priority).name}; "
                             "the command centre sets roles on the roster")
        if env.dst.startswith(wire.GROUP_PREFIX) and not env.flags & wire.Flags.ENCRYPTED:
            members = [(e.key_id, e.verify_key) for e in self.roster.members(env.dst)]
            if not members:
                raise UsageError(f"group {env.dst} has no members on roster v{self.roster.version}")
            body = seal(env.body, members)
            if len(body) > wire.MAX_BODY_BYTES:
                raise UsageError(f"sealed to {len(members)} members the body is {len(body)} bytes, over the limit")
            env = dataclasses.replace(env, body=body, flags=env.flags | int(wire.Flags.ENCRYPTED))
        env = self._signer.sign(env)
        self._audit(now, "orig", env, "", "")
        return env

    # -- incoming -----------------------------------------------------------------------
    def admit(self, neighbour: str, link_id: str, env: Envelope, now: float, mine: bool) -> tuple[str, str, bool] | None:
        """None when the envelope may be accepted, else ``(reason, detail, ack)``: ``ack``
        says whether the neighbour should still get a hop-ack (the message is worthless,
        not the neighbour's fault) so it stops resending it."""
        if neighbour in self.blocked:
            return self._refuse("peer_cut_off", f"{neighbour} was cut off", neighbour, link_id, env, now, False)
        if env.hop_count == 0 and env.src != neighbour:                      # rule 1
            return self._cut_off("spoofed_origin", f"{env.msg_id.hex()} claims src {env.src!r} with hop count 0: "
                                 f"{neighbour} made it", neighbour, link_id, env, now)
        entry = self.roster.active(env.src)
        if entry is None:
            return self._refuse("unknown_sender", f"{env.src!r} has no active key on roster v{self.roster.version}",
                                neighbour, link_id, env, now, True)
        verified = False
        if (mine or env.priority in self.verify_at_relay or self.strikes[neighbour]
                or env.content_type == ContentType.ROSTER):
            bad = self._verify(neighbour, link_id, env, now)
            if bad is not None:
                return bad
            verified = True
        if not env.is_receipt and env.priority < self.roster.max_priority(entry.role):
            return self._refuse("role_not_allowed", f"{env.src} ({entry.role}) may not send {Priority(env.priority).name}",
                                neighbour, link_id, env, now, True)
        if not self._limiter.allow(env.src, env.priority, now):
            if not verified:          # don't let a forger spend someone else's bucket unnoticed
                bad = self._verify(neighbour, link_id, env, now)
                if bad is not None:
                    return bad
            return self._refuse("rate_limited", f"{env.src} exceeds its {Priority(env.priority).name} rate",
                                neighbour, link_id, env, now, True)
        self._audit(now, "rx", env, link_id, neighbour)
        return None

    def _verify(self, neighbour: str, link_id: str, env: Envelope, now: float) -> tuple[str, str, bool] | None:
        self.counters["verified"] += 1
        bad = self._verifier.check(env, self.roster, now)
        if bad is None:
            return None
        reason, detail = bad
        if reason not in _STRIKING:
            return self._refuse(reason, detail, neighbour, link_id, env, now, True)
        if env.src == neighbour:                                                 # rule 2
            return self._cut_off(reason, detail + f"; {neighbour} is its source", neighbour, link_id, env, now)
        own = self.roster.active(neighbour)
        if (reason == "wrong_signer" and own is not None
                and self._verifier.signed_by(env, own.key_id, own.verify_key)):  # rule 3
            return self._cut_off(reason, detail + f"; signed by {neighbour}'s own key", neighbour, link_id, env, now)
        if env.priority in self.verify_at_relay:                                 # rule 4
            return self._cut_off(reason, detail + f"; {neighbour} should have checked "
                                 f"{Priority(env.priority).name}", neighbour, link_id, env, now)
        self.strikes[neighbour] += 1
        self.counters["strikes"] += 1
        return self._refuse(reason, detail + f"; relayed unchecked by {neighbour}: everything it passes is "
                            f"verified from now on (strike {self.strikes[neighbour]})", neighbour, link_id, env, now,
                            True)    # acked: not the relay's fault, so it stops resending a worthless message

    def _cut_off(self, reason: str, detail: str, neighbour: str, link_id: str, env: Envelope,
                 now: float) -> tuple[str, str, bool]:
        self.strikes[neighbour] += 1
        if neighbour not in self.blocked:
            self.blocked.add(neighbour)
            self.counters["peers_cut_off"] += 1
            detail += f"; neighbour {neighbour} cut off"
        return self._refuse(reason, detail, neighbour, link_id, env, now, False)

    def _refuse(self, reason: str, detail: str, neighbour: str, link_id: str, env: Envelope, now: float,
                ack: bool) -> tuple[str, str, bool]:
        self.counters[f"refused.{reason}"] += 1
        self._audit(now, "refused", env, link_id, neighbour, reason=reason)
        return reason, f"{detail} (via {neighbour} on {link_id})", ack

    # -- delivery -----------------------------------------------------------------------
    def payload(self, env: Envelope, now: float) -> bytes:
        """The application's body of an admitted envelope addressed here: group bodies are
        opened, roster updates installed. RemoteInputError when it cannot be delivered."""
        if env.flags & wire.Flags.ENCRYPTED:
            body = open_sealed(env.body, self.identity)
            if body is None:
                raise RemoteInputError("not_a_recipient", f"{env.msg_id.hex()} to {env.dst} is not sealed to "
                                                          f"{self.node_id}'s key")
            env = dataclasses.replace(env, body=body, flags=env.flags & ~int(wire.Flags.ENCRYPTED))
        data = env.payload()
        if env.content_type == ContentType.ROSTER:
            self.offer_roster(data)
        self._audit(now, "delivered", env, "", "")
        return data

    def offer_roster(self, data: bytes) -> Roster:
        """Install a roster update if it is authority-signed and newer (RemoteInputError if not)."""
        try:
            new = Roster.from_bytes(data, "roster update")
        except UsageError as exc:
            raise RemoteInputError("roster_malformed", str(exc)) from None
        why = self.roster.accepts_update(new) if new.authority_key == self.authority_key else "roster_bad_signature"
        if why is not None:
            self.counters[f"refused.{why}"] += 1
            raise RemoteInputError(why, f"roster v{new.version} refused (have v{self.roster.version})")
        mine = new.active(self.node_id)
        self.roster = new
        self.counters["roster_installed"] += 1
        if mine is None or mine.key_id != self.identity.key_id:
            self.counters["own_key_revoked"] += 1
        if self.on_roster is not None:
            self.on_roster(new)
        return new

    # -- audit --------------------------------------------------------------------------
    def _audit(self, now: float, ev: str, env: Envelope, link_id: str, via: str, **extra: Any) -> None:
        if not self.audit_enabled or self._audit_ids >= MAX_AUDIT_PENDING:
            return
        self._audit_ids += 1
        t = round(now, 3)
        key = (t, ev, env.src, env.dst, env.priority, env.content_type, link_id, via, *extra.items())
        rec = self._audit_open.get(key)
        if rec is not None:
            rec["ids"].append(env.msg_id.hex())
            rec["bytes"].append(len(env.body))
            return
        self._audit_open[key] = {"t": t, "ev": ev, "ids": [env.msg_id.hex()], "src": env.src, "dst": env.dst,
                                 "prio": env.priority, "ct": env.content_type, "bytes": [len(env.body)],
                                 "link": link_id, "via": via, **extra}

    @property
    def audit_pending(self) -> list[dict[str, Any]]:
        """Audit records gathered since the last ``take_audit``, in the order they were opened."""
        return list(self._audit_open.values())

    def take_audit(self) -> list[dict[str, Any]]:
        """Audit records gathered since the last call (the runtime writes them)."""
        out = self.audit_pending
        self._audit_open, self._audit_ids = {}, 0
        return out
