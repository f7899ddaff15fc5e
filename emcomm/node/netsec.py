"""The runtime's side of security: CURVE on the peer sockets, the ZAP allowlist, the sender
check on every frame, closing connections of revoked or cut-off peers, and the audit file.

This module owns the I/O that security needs (key files, the roster copy in the data
directory, the audit log, ZeroMQ socket options and the ZAP socket). It must not make the
message-level decisions: those are ``emcomm.node.security``'s, inside the core.

Local sockets: the local API acts *as this node* (``send`` originates messages signed with
its key), so a tcp:// API is a CURVE server that admits only this node's own key (whoever
holds ``identity.key``: ``emcomm send --identity DIR``). A tcp:// telemetry PUB socket is a
CURVE server that admits every active rostered key (the command centre's map reads it) and
never a cut-off one. An ipc:// API or telemetry socket relies on file permissions instead:
the data directory is made 0700 and the socket file 0600 after binding, so only the node's
own user can connect. inproc:// endpoints are in-process only.

Trust: the roster named in the node's configuration is trusted because the operator put
it there; its authority key (or the one named by ``authority``) is pinned. A newer
authority-signed roster received over the mesh is saved as ``roster.json`` in the data
directory and preferred at the next start when it is newer than the configured file.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import zmq

from emcomm.errors import UsageError
from emcomm.node.audit import AuditLog
from emcomm.node.config import RunConfig
from emcomm.node.identity import load_identity, load_public
from emcomm.node.ratelimit import limits_from_mapping
from emcomm.node.roster import Roster, load_roster
from emcomm.node.security import NodeSecurity
from emcomm.node.zap import ZapHandler

log = logging.getLogger("emcomm.node.security")

ROSTER_COPY = "roster.json"
AUDIT_FILE = "audit.log"
ZAP_DOMAIN = b"emcomm"
API_DOMAIN = b"emcomm-api"
TELEMETRY_DOMAIN = b"emcomm-telemetry"
_LOCAL_DOMAINS = {"api": API_DOMAIN, "telemetry": TELEMETRY_DOMAIN}


class NetSecurity:
    """Everything security needs in one node process; ``context`` is this node's own."""

    def __init__(self, cfg: RunConfig):
        assert cfg.identity is not None and cfg.roster is not None
        self.cfg = cfg
        self.identity = load_identity(cfg.identity)
        if self.identity.node_id != cfg.node_id:
            raise UsageError(f"identity {cfg.identity} belongs to {self.identity.node_id!r}, not to node {cfg.node_id!r}")
        roster = load_roster(cfg.roster)
        authority = load_public(cfg.authority).verify_key if cfg.authority else roster.authority_key
        copy = cfg.data_dir / ROSTER_COPY
        if copy.exists():
            try:
                newer = load_roster(copy)
                if newer.verified(authority) and newer.version > roster.version:
                    roster = newer
            except UsageError as exc:
                log.warning("ignoring the saved roster %s: %s", copy, exc)
        limits = limits_from_mapping(cfg.rate_limits, "rate_limits") if cfg.rate_limits else None
        self.security = NodeSecurity(self.identity, roster, authority_key=authority, limits=limits)
        self.security.on_roster = self._roster_changed
        self.context = zmq.Context()
        self.zap = ZapHandler(self.context, roster.allowed_curve_keys())
        self.zap.set_domain(API_DOMAIN, {self.identity.public.curve_public: self.identity.node_id})
        self.zap.set_domain(TELEMETRY_DOMAIN, roster.allowed_curve_keys())
        try:
            os.chmod(cfg.data_dir, 0o700)     # store, audit log and ipc sockets: this user only
        except OSError as exc:
            raise UsageError(f"cannot make the data directory {cfg.data_dir} private (mode 0700): {exc.strerror}; "
                             "a secure node keeps its store and local API socket there") from None
        self.audit = AuditLog(cfg.data_dir / AUDIT_FILE)
        self._reconnect = False
        self._blocked_seen: set[str] = set()
        self.counters: dict[str, int] = {}

    # -- sockets ----------------------------------------------------------------------
    def server_socket(self, s: zmq.Socket) -> None:
        """CURVE server with ZAP: only rostered keys complete the handshake."""
        s.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
        s.curve_secretkey = self.identity.curve_secret
        s.curve_publickey = self.identity.public.curve_public
        s.curve_server = True

    def local_server_socket(self, s: zmq.Socket, what: str, endpoint: str) -> None:
        """Before binding the ``api`` or ``telemetry`` socket: CURVE with ZAP on tcp:// (see
        the module's docstring for who is admitted); nothing on ipc:// or inproc://."""
        if endpoint.startswith("tcp://"):
            s.setsockopt(zmq.ZAP_DOMAIN, _LOCAL_DOMAINS[what])
            s.curve_secretkey = self.identity.curve_secret
            s.curve_publickey = self.identity.public.curve_public
            s.curve_server = True

    @staticmethod
    def bound(endpoint: str) -> None:
        """After binding a local socket: an ipc:// socket file is made 0600 (owner only)."""
        if endpoint.startswith("ipc://"):
            path = endpoint[len("ipc://"):]
            try:
                os.chmod(path, 0o600)
            except OSError as exc:
                raise UsageError(f"cannot restrict the socket {path} to this user (mode 0600): {exc.strerror}") from None

    def client_socket(self, s: zmq.Socket, neighbour: str) -> None:
        """CURVE client towards ``neighbour``'s rostered server key."""
        entry = self.security.roster.active(neighbour)
        if entry is None:
            raise UsageError(f"neighbour {neighbour!r} has no active key on roster v{self.security.roster.version}; "
                             "enrol it with `emcomm roster add` (or remove the neighbour)")
        s.curve_secretkey = self.identity.curve_secret
        s.curve_publickey = self.identity.public.curve_public
        s.curve_serverkey = entry.curve_public

    def peer_of(self, routing_id: bytes, user_id: str | None) -> str | None:
        """The node a frame on the peer ROUTER comes from, or None to drop it.

        The sender is the node whose rostered CURVE key its connection holds (``user_id``,
        set by our ZAP handler), never a routing id the peer chose: a secure node's
        DEALERs send none (ZeroMQ then makes one, starting with a zero byte, unique per
        connection), so no connection can take over another's routing id. A chosen routing
        id must name the key's own node (an older node's DEALER sends its node id); one
        naming another node is an impersonation attempt. A cut-off node gets None.

        >>> ns = object.__new__(NetSecurity); ns.security = type("S", (), {"blocked": {"x"}})()
        >>> ns.peer_of(b"\\x00\\x01\\x02\\x03\\x04", "team"), ns.peer_of(b"team", "h"), ns.peer_of(b"x", "x")
        ('team', None, None)
        """
        if not user_id or user_id in self.security.blocked:
            return None
        if routing_id[:1] != b"\x00" and routing_id != user_id.encode():
            return None
        return user_id

    # -- changes ----------------------------------------------------------------------
    def _roster_changed(self, roster: Roster) -> None:
        try:
            roster.save(self.cfg.data_dir / ROSTER_COPY)
        except OSError as exc:
            log.error("cannot save roster v%d: %s", roster.version, exc)
        log.warning("roster v%d installed (%d active keys)", roster.version, len(roster.allowed_curve_keys()))
        self._reconnect = True

    def after_step(self, runtime: Any) -> None:
        """Write audit records; apply roster changes and cut-offs to the ZAP allowlist and
        close every peer connection so each must handshake again against it."""
        sec = self.security
        for k, v in self.zap.counters.items():
            runtime.counters[k] = v
        records = sec.take_audit()
        if records:
            self.audit.append(records)
        new_blocked = sec.blocked - self._blocked_seen
        if new_blocked:
            self._blocked_seen |= new_blocked
            for peer in sorted(new_blocked):
                log.error("neighbour %s passed a forged message and is cut off (counters: %s)", peer,
                          dict(sec.counters))
            self._reconnect = True
        if self._reconnect:
            self._reconnect = False
            allowed = {k: n for k, n in sec.roster.allowed_curve_keys().items() if n not in sec.blocked}
            self.zap.set_allowed(allowed)
            self.zap.known = sec.roster.allowed_curve_keys()
            self.zap.set_domain(TELEMETRY_DOMAIN, allowed)
            runtime.reconnect_peers()

    def close(self) -> None:
        self.audit.close()
        self.zap.close()
        self.context.destroy(0)
