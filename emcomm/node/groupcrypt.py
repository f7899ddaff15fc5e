"""Group message bodies readable only by the group's members.

This module owns the sealed-body format: a fresh 32-byte key encrypts the body once
(XSalsa20-Poly1305, PyNaCl ``SecretBox``) and is sealed to each member's Curve25519 key
(derived from their Ed25519 roster key, ``SealedBox``). It must not choose the members (the
roster does) and does not sign (the signature covers the sealed body).

Layout: msgpack ``[[[key_id, sealed_key], ...], ciphertext]``; 88 bytes per member plus 40.

Example
-------
>>> from emcomm.node.identity import Identity
>>> a = Identity.generate("a", name="A", org="O", phone="", role="responder")
>>> b = Identity.generate("b", name="B", org="O", phone="", role="responder")
>>> sealed = seal(b"rendezvous at the school", [(a.key_id, a.public.verify_key)])
>>> open_sealed(sealed, a), open_sealed(sealed, b)
(b'rendezvous at the school', None)
"""

from __future__ import annotations

from typing import Iterable

import msgpack
import nacl.exceptions
import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils

from emcomm.errors import RemoteInputError
from emcomm.node.identity import Identity

MAX_MEMBERS = 512


def seal(body: bytes, members: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Encrypt ``body`` to ``(key_id, ed25519_verify_key)`` members."""
    key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    slots = []
    for key_id, vk in members:
        pub = nacl.signing.VerifyKey(vk).to_curve25519_public_key()
        slots.append([key_id, nacl.public.SealedBox(pub).encrypt(key)])
    return msgpack.packb([slots, bytes(nacl.secret.SecretBox(key).encrypt(body))], use_bin_type=True)


def open_sealed(data: bytes, identity: Identity) -> bytes | None:
    """The plain body, or None when ``identity`` is not among the recipients.

    Raises RemoteInputError(``bad_sealed_body``) when the data is not a sealed body or
    fails authentication.
    """
    try:
        slots, ct = msgpack.unpackb(data, raw=False, max_array_len=MAX_MEMBERS, max_map_len=0, max_ext_len=0)
        mine = [s for s in slots if isinstance(s, list) and len(s) == 2 and s[0] == identity.key_id]
        if not mine:
            return None
        priv = identity.signing_key().to_curve25519_private_key()
        key = nacl.public.SealedBox(priv).decrypt(bytes(mine[0][1]))
        return nacl.secret.SecretBox(key).decrypt(bytes(ct))
    except (ValueError, TypeError, msgpack.UnpackException, nacl.exceptions.CryptoError) as exc:
        raise RemoteInputError("bad_sealed_body", f"sealed group body cannot be opened ({type(exc).__name__})") from None

