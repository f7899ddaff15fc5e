"""Compact end-to-end message signatures: who originated an envelope, and that nobody changed it.

This module owns the signature block carried in an envelope's ``ext`` field 2 and the
check of it against the roster. It must not decide what happens to a message that fails
(``emcomm.node.security`` does) and never reads a clock (``now`` is an argument).

Block (76 bytes): ``key_id (8) | ttl0_s (4, big-endian seconds) | Ed25519 signature (64)``.
The signature covers the fields no relay may change: msg_id, src, dst, priority, content
type, flags, created_s, hop_limit, the original lifetime ``ttl0_s`` and the body. Relays
change ``ttl_s`` (remaining lifetime) and ``hop_count``, so those are outside it; a
remaining lifetime above ``ttl0_s`` is refused. With the ext map's own 4 bytes a signed
envelope is 80 bytes longer than an unsigned one.

Replay rule: a message is refused when it claims to be from the future (``created_s`` more
than ``skew_s`` ahead of ``now``) or when its original lifetime has run out
(``created_s + ttl0_s + skew_s < now``); within its lifetime a replayed id is caught by the
node's duplicate filter, which remembers ids until they expire.

Example
-------
>>> from emcomm.node.identity import Identity
>>> from emcomm.node.roster import Roster
>>> from emcomm.node import wire
>>> cc = Identity.generate("cc", name="Duty Officer", org="EOC", phone="", role="authority")
>>> t1 = Identity.generate("t1", name="Li Wei", org="Red Cross", phone="", role="responder")
>>> roster = Roster.empty(cc.public.verify_key).add(t1.public).sign(cc, 0.0)
>>> env = wire.make_envelope(b"\\x01" * 16, "t1", "cc", 1, wire.ContentType.POSITION, 50.0, 3600.0, b"31.1,103.2")
>>> signed = Signer(t1).sign(env)
>>> len(wire.encode_envelope(signed)) - len(wire.encode_envelope(env))
80
>>> Verifier().check(signed, roster, now=60.0) is None
True
>>> Verifier().check(dataclasses.replace(signed, body=b"0,0"), roster, now=60.0)[0]
'bad_signature'
"""

from __future__ import annotations

import dataclasses
import math
import struct

import nacl.exceptions
import nacl.signing

from emcomm.node import wire
from emcomm.node.identity import KEY_ID_BYTES, Identity
from emcomm.node.roster import Roster
from emcomm.node.wire import Envelope

DOMAIN = b"emcomm-msg-1"
SIG_BYTES = 64
BLOCK_BYTES = KEY_ID_BYTES + 4 + SIG_BYTES          # 76
DEFAULT_SKEW_S = 600.0                              # clocks of field laptops may be this far apart
_HEAD = struct.Struct(">BBBBdI")


def signed_bytes(env: Envelope, ttl0_s: int) -> bytes:
    """The bytes covered by the signature (the envelope's immutable fields).

    >>> e = wire.Envelope(b"\\x00" * 16, "a", "b", 0, 0, 1.0, 60.0, b"hi")
    >>> signed_bytes(e, 60)[:12]
    b'emcomm-msg-1'
    """
    src, dst = env.src.encode(), env.dst.encode()
    return b"".join((DOMAIN, env.msg_id, bytes((len(src),)), src, bytes((len(dst),)), dst,
                     _HEAD.pack(env.priority, env.content_type, env.flags, env.hop_limit,
                                float(env.created_s), ttl0_s), env.body))


class Signer:
    """Signs envelopes originated by one identity."""

    def __init__(self, identity: Identity):
        self._key = identity.signing_key()
        self.key_id = identity.key_id

    def sign(self, env: Envelope) -> Envelope:
        """The envelope with its signature block in ``ext``; its lifetime becomes ``ttl0_s``."""
        ttl0 = min(int(math.ceil(env.ttl_s)), 2**32 - 1)
        sig = self._key.sign(signed_bytes(env, ttl0)).signature
        ext = dict(env.ext)
        ext[wire.EXT_SIGNATURE] = self.key_id + ttl0.to_bytes(4, "big") + sig
        return dataclasses.replace(env, ext=ext)


class Verifier:
    """Checks signature blocks against a roster (verify keys are cached per key id)."""

    def __init__(self, skew_s: float = DEFAULT_SKEW_S):
        self.skew_s = float(skew_s)
        self._keys: dict[bytes, nacl.signing.VerifyKey] = {}

    def check(self, env: Envelope, roster: Roster, now: float) -> tuple[str, str] | None:
        """None when ``env`` is validly signed by its source's active key and fresh, else
        ``(reason, detail)`` with reason one of ``unsigned``, ``unknown_key``,
        ``revoked_key``, ``wrong_signer``, ``ttl_extended``, ``replay``, ``bad_signature``."""
        block = env.ext.get(wire.EXT_SIGNATURE)
        if not isinstance(block, bytes) or len(block) != BLOCK_BYTES:
            return "unsigned", f"{env.msg_id.hex()} from {env.src} carries no signature block"
        key_id = block[:KEY_ID_BYTES]
        entry = roster.by_key(key_id)
        if entry is None:
            return "unknown_key", f"{env.msg_id.hex()} signed by key {key_id.hex()}, which is not on roster v{roster.version}"
        if entry.revoked:
            return "revoked_key", f"{env.msg_id.hex()} signed by revoked key {key_id.hex()} of {entry.node_id}"
        if entry.node_id != env.src:
            return "wrong_signer", f"{env.msg_id.hex()} claims src {env.src!r} but is signed by {entry.node_id!r}"
        ttl0 = int.from_bytes(block[KEY_ID_BYTES:KEY_ID_BYTES + 4], "big")
        if env.ttl_s > ttl0 + 1.0:
            return "ttl_extended", f"{env.msg_id.hex()} has {env.ttl_s:.0f} s left of a {ttl0} s lifetime"
        if env.created_s > now + self.skew_s or env.created_s + ttl0 + self.skew_s < now:
            return "replay", (f"{env.msg_id.hex()} from {env.src} created at {env.created_s:.0f} with lifetime "
                              f"{ttl0} s is outside the window at {now:.0f} (skew {self.skew_s:.0f} s)")
        vk = self._keys.get(key_id)
        if vk is None:
            vk = self._keys[key_id] = nacl.signing.VerifyKey(entry.verify_key)
        try:
            vk.verify(signed_bytes(env, ttl0), block[KEY_ID_BYTES + 4:])
        except nacl.exceptions.BadSignatureError:
            return "bad_signature", f"{env.msg_id.hex()} from {env.src}: signature does not match the content"
        return None

    def signed_by(self, env: Envelope, key_id: bytes, verify_key: bytes) -> bool:
        """True when ``env``'s signature block is a valid signature by this key (whatever
        ``src`` the envelope claims): the proof that the key's holder made the envelope."""
        block = env.ext.get(wire.EXT_SIGNATURE)
        if not isinstance(block, bytes) or len(block) != BLOCK_BYTES or block[:KEY_ID_BYTES] != key_id:
            return False
        vk = self._keys.get(key_id)
        if vk is None:
            vk = self._keys[key_id] = nacl.signing.VerifyKey(verify_key)
        ttl0 = int.from_bytes(block[KEY_ID_BYTES:KEY_ID_BYTES + 4], "big")
        try:
            vk.verify(signed_bytes(env, ttl0), block[KEY_ID_BYTES + 4:])
        except nacl.exceptions.BadSignatureError:
            return False
        return True
