"""The local API of a running node: request/reply messages and the client that sends them.

This module owns the protocol spoken on a node's local API socket (used by ``emcomm send``,
``emcomm status``, ``emcomm inbox`` and applications) and a small blocking client for it.
It must not touch a node's state: the runtime answers the requests.

A request is one msgpack map ``{"op": OP, ...}``; a reply is one msgpack map with
``"ok": true`` and the result, or ``"ok": false`` and ``"error"``. Ops:

- ``ping`` → ``{"node"}``
- ``send`` (to, priority, content_type, body, ttl_s?, msg_id?) → reply once the message is
  durably stored: ``{"msg_id", "status": "accepted"}``
- ``receipt`` (msg_id) → ``{"status", "detail"}``: ``accepted``, ``delivered``, ``expired``,
  ``undeliverable`` or ``unknown``
- ``status`` → the core's snapshot plus runtime counters
- ``inbox`` (after_seq?, limit?) → ``{"messages": [...]}`` delivered here, oldest first
- ``link`` (link_id, up?, capacity_factor?, extra_loss?, extra_latency_s?) → changes an
  emulated link's conditions (drills on a live mesh, tests)

Example
-------
>>> decode_request(encode({"op": "ping"}))
{'op': 'ping'}
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import msgpack
import zmq

from emcomm.errors import RemoteInputError, UsageError

OPS: frozenset[str] = frozenset({"ping", "send", "receipt", "status", "inbox", "link"})
MAX_REQUEST_BYTES = 512 * 1024


class NodeNotRunningError(UsageError):
    """No node answered on the local API endpoint within the timeout."""


def encode(obj: Mapping[str, Any]) -> bytes:
    """One request or reply as bytes."""
    return msgpack.packb(dict(obj), use_bin_type=True)


def decode_request(data: bytes) -> dict[str, Any]:
    """Check and decode a request; RemoteInputError (``malformed``/``oversize``/``bad_field``) when bad."""
    if len(data) > MAX_REQUEST_BYTES:
        raise RemoteInputError("oversize", f"API request of {len(data)} bytes > {MAX_REQUEST_BYTES}")
    try:
        obj = msgpack.unpackb(data, raw=False, max_bin_len=MAX_REQUEST_BYTES, max_str_len=65536,
                              max_array_len=1024, max_map_len=64)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise RemoteInputError("malformed", f"API request is not msgpack: {exc}") from None
    if not isinstance(obj, dict) or obj.get("op") not in OPS:
        raise RemoteInputError("bad_field", f"API request needs 'op', one of {', '.join(sorted(OPS))}")
    return obj


class ApiClient:
    """A blocking client for one node's local API.

    >>> c = ApiClient("tcp://127.0.0.1:1", timeout_s=0.05)
    >>> try:
    ...     c.call("ping")
    ... except NodeNotRunningError as e:
    ...     print("not running" in str(e))
    True
    >>> c.close()
    """

    def __init__(self, endpoint: str, timeout_s: float = 5.0, *, context: zmq.Context | None = None,
                 curve: tuple[bytes, bytes, bytes] | None = None):
        """``curve`` is ``(client_public, client_secret, server_public)`` (Z85) for a secure
        node's tcp:// API: the node admits only its own key (see emcomm.node.netsec)."""
        if endpoint.startswith("ipc://") and not os.path.exists(endpoint[len("ipc://"):]):
            raise NodeNotRunningError(f"no node is running at {endpoint} (the socket file does not exist); start it with `emcomm node`")
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._ctx = context or zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self._curve = curve

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            s = self._ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            if self._curve is not None:
                s.curve_publickey, s.curve_secretkey, s.curve_serverkey = self._curve
            s.connect(self.endpoint)
            self._sock = s
        return self._sock

    def call(self, op: str, timeout_s: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its reply; raises on error replies and timeouts."""
        sock = self._socket()
        sock.send_multipart([b"", encode({"op": op, **fields})])
        wait_ms = int(1000 * (self.timeout_s if timeout_s is None else timeout_s))
        if not sock.poll(wait_ms, zmq.POLLIN):
            # the reply may still come later: a fresh socket keeps the next call in step
            self.close()
            raise NodeNotRunningError(
                f"no reply from a node at {self.endpoint} within {wait_ms / 1000:.1f} s: the node is not running "
                "or is overloaded; start it with `emcomm node` or check `--api`"
                + ("" if self._curve is not None or not self.endpoint.startswith("tcp://") else
                   " (a secure node's tcp:// API answers only its own key: pass --identity NODE_KEY_DIR)"))
        parts = sock.recv_multipart()
        reply = msgpack.unpackb(parts[-1], raw=False)
        if not reply.get("ok"):
            raise UsageError(f"node at {self.endpoint}: {reply.get('error', 'request refused')}")
        return reply

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
