"""ZAP handler: the ZeroMQ authentication hook that admits only rostered, unrevoked CURVE keys.

This module owns the ZAP protocol (RFC 27) on ``inproc://zeromq.zap.01`` of one ZeroMQ
context: each CURVE handshake on a socket of that context is answered 200 (with the key's
node id as User-Id, so every frame from the connection names who holds the key) or 400.
It must not make protocol decisions beyond "is this key allowed"; the runtime calls
``serve`` from its loop and replaces the allowlist when a roster update arrives.

The peer's routing id cannot be checked here: the request's identity frame carries the
*server* socket's own routing id (libzmq fills it from its own options; checked with
libzmq 4.3.5), and the peer's routing id only arrives after ZAP answers. So a peer is named
by the node id answered here as User-Id (``NetSecurity.peer_of``), never by its routing id.

Each server socket names a ZAP domain; a domain given its own allowlist (``set_domain``:
the local API admits only the node's own key, telemetry every rostered key) is answered
from it, every other domain from the peers' allowlist.

Example (in a program; the runtime does this)::

    zap = ZapHandler(ctx, {b"<40-char Z85 key>": "team1"})
    router.curve_server = True
    ...
    zap.serve()        # whenever zap.socket is readable
"""

from __future__ import annotations

import collections
import logging
from typing import Mapping

import zmq
import zmq.utils.z85

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
log = logging.getLogger("emcomm.node.zap")


class ZapHandler:
    """Answers ZAP requests from an allowlist of CURVE public keys (Z85) → node ids."""

    def __init__(self, context: zmq.Context, allowed: Mapping[bytes, str]):
        self.socket = context.socket(zmq.REP)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(ZAP_ENDPOINT)
        self.allowed: dict[bytes, str] = dict(allowed)
        self.domains: dict[bytes, dict[bytes, str]] = {}
        # rostered keys (allowed or not): a refused one is named in the log and counted apart
        # (zap.refused_rostered), so an operator sees *which* node keeps knocking
        self.known: dict[bytes, str] = dict(allowed)
        self.counters: collections.Counter[str] = collections.Counter()

    def set_allowed(self, allowed: Mapping[bytes, str]) -> None:
        """Replace the allowlist (new handshakes only; the runtime closes old connections)."""
        self.allowed = dict(allowed)

    def set_domain(self, domain: bytes, allowed: Mapping[bytes, str]) -> None:
        """Give the sockets of ZAP domain ``domain`` their own allowlist."""
        self.domains[domain] = dict(allowed)

    def serve(self) -> int:
        """Answer every pending request; returns how many."""
        n = 0
        while True:
            try:
                req = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return n
            n += 1
            self.socket.send_multipart(self._answer(req))

    def _answer(self, req: list[bytes]) -> list[bytes]:
        if len(req) < 6:
            self.counters["zap.malformed"] += 1
            return [b"1.0", req[1] if len(req) > 1 else b"", b"500", b"malformed ZAP request", b"", b""]
        version, request_id, domain, address, _identity, mechanism = req[:6]
        creds = req[6:]
        if mechanism != b"CURVE" or len(creds) != 1 or len(creds[0]) != 32:
            self.counters["zap.refused_mechanism"] += 1
            log.warning("refused a %s connection from %s: only CURVE with a rostered key is accepted",
                        mechanism.decode(errors="replace"), address.decode(errors="replace"))
            return [version, request_id, b"400", b"CURVE required", b"", b""]
        key = zmq.utils.z85.encode(creds[0])
        node = self.domains.get(domain, self.allowed).get(key)
        if node is None:
            self.counters["zap.refused_key"] += 1
            who = self.known.get(key)
            if who is not None:
                self.counters["zap.refused_rostered"] += 1
                n = self.counters["zap.refused_rostered"]
                if n <= 10 or n % 1000 == 0:
                    log.warning("refused a connection from %s to %s: the key of node %s is rostered but not allowed "
                                "there (cut off, or not this node's own key for its API) (%d so far)",
                                address.decode(errors="replace"), domain.decode(errors="replace"), who, n)
                return [version, request_id, b"400", b"key not allowed", b"", b""]
            n = self.counters["zap.refused_key"]
            if n <= 10 or n % 1000 == 0:
                log.warning("refused a connection from %s to %s: CURVE key %s is not allowed there (not on the "
                            "roster, revoked, or not this node's own key for its API) (%d so far)",
                            address.decode(errors="replace"), domain.decode(errors="replace"), key.decode(), n)
            return [version, request_id, b"400", b"key not on the roster", b"", b""]
        self.counters["zap.admitted"] += 1
        return [version, request_id, b"200", b"OK", node.encode(), b""]

    def close(self) -> None:
        self.socket.close(0)
