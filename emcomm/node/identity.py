"""A node's long-term identity: an Ed25519 signing key and a CurveZMQ key pair, on disk.

This module owns making, saving and loading identities (``identity.key``, secret, file mode
0600; ``identity.pub``, public, shareable) and the short key id that names a signing key on
the wire. It must not decide who is trusted (that is ``emcomm.node.roster``) and it never
sends anything.

The secret file holds the Ed25519 seed (32 bytes) and the CURVE secret key; the public file
holds the verify key, the CURVE public key (Z85, as ZeroMQ wants it) and the real-name
details the command centre needs to put the key on the roster.

Example
-------
>>> import tempfile, pathlib
>>> ident = Identity.generate("team1", name="Li Wei", org="Red Cross", phone="+86 138 0000 0000", role="responder")
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = ident.save(d)
>>> oct((d / SECRET_FILE).stat().st_mode & 0o777), load_identity(d).key_id == ident.key_id
('0o600', True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import nacl.exceptions
import nacl.signing
import zmq

from emcomm.errors import UsageError

SECRET_FILE = "identity.key"
PUBLIC_FILE = "identity.pub"
KEY_ID_BYTES = 8               # 64-bit key id: enough to pick a roster entry, short enough for Beidou
FORMAT = "emcomm-identity-1"


def key_id_of(verify_key: bytes) -> bytes:
    """The short id of an Ed25519 verify key (first 8 bytes of its BLAKE2b hash).

    >>> len(key_id_of(bytes(32)))
    8
    """
    return hashlib.blake2b(bytes(verify_key), digest_size=KEY_ID_BYTES).digest()


@dataclasses.dataclass(frozen=True)
class PublicIdentity:
    """The shareable part: what goes on the roster."""

    node_id: str
    name: str
    org: str
    phone: str
    role: str
    verify_key: bytes          # Ed25519, 32 bytes
    curve_public: bytes        # Z85 text of the CURVE public key, 40 bytes

    @property
    def key_id(self) -> bytes:
        return key_id_of(self.verify_key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (keys hex / Z85 text)."""
        return {"format": FORMAT, "node_id": self.node_id, "name": self.name, "org": self.org,
                "phone": self.phone, "role": self.role, "verify_key": self.verify_key.hex(),
                "curve_public": self.curve_public.decode("ascii"), "key_id": self.key_id.hex()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "public identity") -> "PublicIdentity":
        """Parse ``to_dict`` output; UsageError naming the bad field."""
        try:
            vk = bytes.fromhex(str(d["verify_key"]))
            cp = str(d["curve_public"]).encode("ascii")
            fields = {k: str(d[k]) for k in ("node_id", "name", "org", "phone", "role")}
        except KeyError as exc:
            raise UsageError(f"{where}: missing field {exc.args[0]!r}") from None
        except (ValueError, UnicodeEncodeError):
            raise UsageError(f"{where}: verify_key must be 64 hex digits and curve_public 40 Z85 characters") from None
        if len(vk) != 32 or len(cp) != 40:
            raise UsageError(f"{where}: verify_key must be 32 bytes and curve_public 40 Z85 characters")
        return cls(verify_key=vk, curve_public=cp, **fields)


@dataclasses.dataclass(frozen=True)
class Identity:
    """A node's secret identity (signing seed and CURVE secret) plus its public part."""

    public: PublicIdentity
    seed: bytes = dataclasses.field(repr=False)            # Ed25519 seed, 32 bytes
    curve_secret: bytes = dataclasses.field(repr=False)    # Z85, 40 bytes

    @classmethod
    def generate(cls, node_id: str, *, name: str, org: str, phone: str, role: str) -> "Identity":
        """A fresh identity from the operating system's random source."""
        for label, value in (("node id", node_id), ("name", name), ("org", org), ("role", role)):
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{label} must be given (real-name registration needs it)")
        sk = nacl.signing.SigningKey.generate()
        curve_pub, curve_sec = zmq.curve_keypair()
        pub = PublicIdentity(node_id, name.strip(), org.strip(), phone.strip(), role.strip(),
                             bytes(sk.verify_key), curve_pub)
        return cls(pub, bytes(sk), curve_sec)

    @property
    def node_id(self) -> str:
        return self.public.node_id

    @property
    def key_id(self) -> bytes:
        return self.public.key_id

    def signing_key(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.seed)

    def save(self, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``identity.key`` (mode 0600, never overwritten) and ``identity.pub``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        secret = d / SECRET_FILE
        data = json.dumps({"format": FORMAT, "seed": self.seed.hex(),
                           "curve_secret": self.curve_secret.decode("ascii"), "public": self.public.to_dict()},
                          indent=1).encode()
        try:
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise UsageError(f"{secret} exists; an identity is never overwritten (move it away first)") from None
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(secret, 0o600)          # whatever the umask said
        public = d / PUBLIC_FILE
        public.write_text(json.dumps(self.public.to_dict(), indent=1) + "\n")
        return secret, public


def load_identity(path: str | os.PathLike[str]) -> Identity:
    """Load an identity from a directory (or its ``identity.key`` file).

    Refuses a secret file readable by group or others, as ssh does.
    """
    p = Path(path)
    if p.is_dir():
        p = p / SECRET_FILE
    try:
        mode = p.stat().st_mode & 0o777
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"identity {p} not found; make one with `emcomm keygen --out DIR`") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"identity {p} is unreadable: {exc}") from None
    if mode & 0o077:
        raise UsageError(f"identity {p} is readable by others (mode {mode:o}); run `chmod 600 {p}`")
    try:
        if raw.get("format") != FORMAT:
            raise UsageError(f"identity {p}: format {raw.get('format')!r} is not {FORMAT!r}")
        seed = bytes.fromhex(raw["seed"])
        curve_secret = str(raw["curve_secret"]).encode("ascii")
        public = PublicIdentity.from_dict(raw["public"], str(p))
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise UsageError(f"identity {p} is damaged ({exc}); restore it from a backup or enrol a new key") from None
    if len(seed) != 32 or bytes(nacl.signing.SigningKey(seed).verify_key) != public.verify_key:
        raise UsageError(f"identity {p}: the secret key does not match its public key")
    if zmq.curve_public(curve_secret) != public.curve_public:
        raise UsageError(f"identity {p}: the CURVE secret key does not match its public key")
    return Identity(public, seed, curve_secret)


def load_public(path: str | os.PathLike[str]) -> PublicIdentity:
    """Load an exported public identity (``identity.pub`` or a directory holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / PUBLIC_FILE
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"public identity {p} not found") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"public identity {p} is unreadable: {exc}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"public identity {p} must be a JSON object")
    return PublicIdentity.from_dict(raw, str(p))
