"""TAK interop for a live node: CoT events streamed to a TAK server, CoT position reports
from TAK clients carried into the mesh.

Owns the position body emcomm carries (``lat,lon,uid,callsign`` text, small enough for a
Beidou message), the CoT event for a message in the node's inbox (a POSITION as a
friendly unit, an ALERT as an alarm at its area's centre), ``TakStream`` (TCP client to a
TAK server's streaming port, reconnecting, bounded queue while down), ``CotListener`` (a
TCP server that reads ``<event>`` documents from TAK clients, each through the hardened
CoT parser), ``TakBridge`` that joins them to the node's local API, and ``TakFeed`` that
runs a bridge beside a node in the same process (``emcomm node --tak``). It must not
decide routes (the node does).

TAK servers and clients take CoT events as XML documents one after the other on a TCP
stream (the TAK "streaming" input, port 8087 by default on TAK Server).

Example
-------
>>> from emcomm.interop.cot import Position
>>> body = position_body(Position("ANDROID-1", 34.75, 113.65, "2021-07-20T09:00:00+08:00", "Team 1"))
>>> body, parse_position_body(body)
(b'34.75000,113.65000,ANDROID-1,Team 1', (34.75, 113.65, 'ANDROID-1', 'Team 1'))
"""

from __future__ import annotations

import collections
import logging
import math
import queue
import socket
import socketserver
import threading
import time
from typing import Any, Callable, Mapping

from emcomm.errors import EmcommError, InteropError, UsageError
from emcomm.interop import cap, cot
from emcomm.interop.sensors import iso_utc
from emcomm.node.api import ApiClient
from emcomm.node.config import check_host_port

log = logging.getLogger("emcomm.tak")

CONTENT_POSITION, CONTENT_ALERT = 1, 3        # emcomm.node.wire.ContentType values
MAX_QUEUE = 10_000                            # events kept for a TAK server that is down
RECONNECT_S = 2.0


def position_body(p: cot.Position) -> bytes:
    """A CoT position as the mesh's POSITION body (commas in names become spaces)."""
    clean = [s.replace(",", " ")[:64] for s in (p.uid, p.callsign)]
    return f"{p.lat_deg:.5f},{p.lon_deg:.5f},{clean[0]},{clean[1]}".encode("utf-8")


def parse_position_body(data: bytes) -> tuple[float, float, str, str]:
    """``lat,lon[,uid[,callsign]]`` → values (InteropError when malformed: untrusted input)."""
    try:
        parts = data.decode("utf-8").split(",")
        lat, lon = float(parts[0]), float(parts[1])
    except (UnicodeDecodeError, ValueError, IndexError):
        raise InteropError("position body must be 'lat,lon[,uid[,callsign]]'") from None
    if len(parts) > 4 or not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InteropError("position body: lat/lon outside -90..90 / -180..180 or too many fields")
    return lat, lon, (parts[2] if len(parts) > 2 else ""), (parts[3] if len(parts) > 3 else "")


def cot_of_message(m: Mapping[str, Any]) -> bytes | None:
    """The CoT event for one inbox message (the ``inbox`` API's dict), or None when it has
    no place on a map. Bad bodies raise InteropError."""
    time_iso = iso_utc(float(m.get("created_s", 0.0)))
    src = str(m.get("src", ""))
    if m.get("content_type") == CONTENT_POSITION:
        lat, lon, uid, callsign = parse_position_body(bytes(m["payload"]))
        return cot.event_xml(uid or f"emcomm-{src}", cot.TYPE_NODE, time_iso, lat, lon, callsign=callsign or src)
    if m.get("content_type") == CONTENT_ALERT:
        alert = cap.decode_compact(bytes(m["payload"]))
        pts = [(la, lo) for a in alert.areas for la, lo, _ in a.circles] + \
              [p for a in alert.areas for ring in a.polygons for p in ring[:-1]]
        if not pts:
            return None
        lat, lon = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
        flash = cap.priority_of(alert) == 0
        return cot.event_xml(f"emcomm-alert-{alert.identifier}", cot.TYPE_FLASH if flash else cot.TYPE_ALERT,
                             time_iso, lat, lon, how="h-e", callsign=src,
                             remarks=alert.headline or alert.event)
    return None


class TakStream:
    """A TCP connection to a TAK server's streaming input; events queue while it is down."""

    def __init__(self, host: str, port: int, clock: Callable[[], float] = time.monotonic):
        self.host, self.port, self.clock = host, port, clock
        self._sock: socket.socket | None = None
        self._queue: collections.deque[bytes] = collections.deque(maxlen=MAX_QUEUE)
        self._retry_at = 0.0
        self.sent = 0
        self.connected = False
        self._warned = False                  # one warning per outage, not one per retry

    def send(self, event: bytes) -> None:
        self._queue.append(event)
        self.flush()

    def flush(self) -> None:
        """Send what is queued; on failure keep it and retry after RECONNECT_S."""
        while self._queue:
            if self._sock is None:
                if self.clock() < self._retry_at:
                    return
                try:
                    self._sock = socket.create_connection((self.host, self.port), timeout=5.0)
                    self.connected, self._warned = True, False
                    log.info("connected to TAK server %s:%d", self.host, self.port)
                except OSError as exc:
                    self._retry_at = self.clock() + RECONNECT_S
                    log.log(logging.DEBUG if self._warned else logging.WARNING,
                            "TAK server %s:%d unreachable (%s); %d event(s) kept, retrying every %g s",
                            self.host, self.port, exc.strerror or exc, len(self._queue), RECONNECT_S)
                    self._warned = True
                    return
            try:
                self._sock.sendall(self._queue[0])
                self._queue.popleft()
                self.sent += 1
            except OSError:
                self._sock.close()
                self._sock, self.connected = None, False
                self._retry_at = self.clock() + RECONNECT_S

    @property
    def queued(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class _CotHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: Any = self.server
        buf = b""
        self.request.settimeout(60.0)
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"</event>" in buf:
                end = buf.index(b"</event>") + len(b"</event>")
                doc, buf = buf[:end].strip(), buf[end:]
                server.on_event(doc)
            if len(buf) > cot.MAX_EVENT_BYTES:
                server.on_error("oversize", f"more than {cot.MAX_EVENT_BYTES} bytes without </event>")
                return


class CotListener:
    """A TCP server for CoT from TAK clients; parsed positions wait in ``positions``."""

    def __init__(self, host: str, port: int):
        self.positions: "queue.Queue[cot.Position]" = queue.Queue(maxsize=MAX_QUEUE)
        self.errors: dict[str, int] = {}
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        try:
            self._server = socketserver.ThreadingTCPServer((host, port), _CotHandler)
        except OSError as exc:
            raise UsageError(f"cannot listen for CoT on {host}:{port}: {exc.strerror}") from None
        self._server.daemon_threads = True
        self._server.on_event = self._on_event          # type: ignore[attr-defined]
        self._server.on_error = self._on_error          # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="cot-listener", daemon=True)
        self._thread.start()

    def _on_error(self, reason: str, detail: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1
        log.warning("CoT input refused (%s): %s", reason, detail)

    def _on_event(self, doc: bytes) -> None:
        try:
            p = cot.parse_position(doc, "CoT from a TAK client")
        except InteropError as exc:
            self._on_error("bad_event", str(exc))
            return
        try:
            self.positions.put_nowait(p)
        except queue.Full:
            self._on_error("queue_full", "positions arrive faster than the mesh takes them")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class TakBridge:
    """Node inbox → CoT to a TAK server; CoT positions from TAK clients → POSITION messages."""

    def __init__(self, api: Any, stream: TakStream | None, listener: CotListener | None, *, to: str = "cc",
                 min_interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.api, self.stream, self.listener, self.to = api, stream, listener, to
        self.min_interval_s, self.clock = min_interval_s, clock
        self._after_seq = 0
        self._last_sent: dict[str, float] = {}
        self.counters: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def skip_existing_inbox(self) -> int:
        """Stream only what is delivered from now on; returns how many messages were skipped."""
        skipped = 0
        while msgs := self.api.call("inbox", after_seq=self._after_seq, limit=10_000)["messages"]:
            skipped += len(msgs)
            self._after_seq = max(m["seq"] for m in msgs)
        return skipped

    def step(self) -> int:
        n = 0
        if self.stream is not None:
            for m in self.api.call("inbox", after_seq=self._after_seq)["messages"]:
                self._after_seq = max(self._after_seq, m["seq"])
                try:
                    ev = cot_of_message(m)
                except InteropError as exc:
                    self._count("bad_message")
                    log.warning("inbox message %s not streamed: %s", bytes(m["msg_id"]).hex(), exc)
                    continue
                if ev is not None:
                    self.stream.send(ev)
                    self._count("streamed")
                    n += 1
            self.stream.flush()
        if self.listener is not None:
            while True:
                try:
                    p = self.listener.positions.get_nowait()
                except queue.Empty:
                    break
                n += 1
                now = self.clock()
                if now - self._last_sent.get(p.uid, -math.inf) < self.min_interval_s:
                    self._count("position_rate_limited")     # spare the thin links: one per uid per interval
                    continue
                self._last_sent[p.uid] = now
                self.api.call("send", to=self.to, priority="immediate", content_type="position",
                              body=position_body(p))
                self._count("positions_in")
        return n


class TakFeed:
    """Streams a running node's deliveries (positions, alerts) to a TAK server as CoT, from a
    thread of the node's own process: ``emcomm node --tak HOST:PORT``.

    The thread talks to the node through its local API, like ``emcomm tak`` does from
    another process, so the node loop stays free of any interop code. Messages already in
    the inbox when the feed starts are not re-sent (``on_ready`` gets their count); events
    for a TAK server that is down wait in a bounded queue (``MAX_QUEUE``). ``stop`` ends
    the thread: call it before closing the node, while its API socket is still bound.

    >>> feed = TakFeed("tcp://127.0.0.1:1", "127.0.0.1:8087")
    >>> (feed.host, feed.port, feed.running)
    ('127.0.0.1', 8087, False)
    >>> TakFeed("tcp://127.0.0.1:1", "8087")
    Traceback (most recent call last):
    ...
    emcomm.errors.UsageError: tak must be HOST:PORT like 127.0.0.1:8087, got '8087'
    """

    def __init__(self, api_endpoint: str, server: str, *, poll_s: float = 0.25, api_timeout_s: float = 2.0,
                 on_ready: Callable[[int], None] | None = None):
        host, _, port = check_host_port(server, "tak").rpartition(":")
        self.host, self.port = host, int(port)
        self.api_endpoint, self.poll_s, self.api_timeout_s = api_endpoint, poll_s, api_timeout_s
        self.on_ready = on_ready
        self.counters: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise UsageError("this TAK feed was already started")
        self._thread = threading.Thread(target=self._run, name="tak-feed", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, int]:
        """Ask the thread to end and wait for it (at most one API timeout and a connect
        timeout); returns the bridge's counters."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.api_timeout_s + 6.0)
        return dict(self.counters)

    def _run(self) -> None:
        stream = TakStream(self.host, self.port)
        api: ApiClient | None = None
        try:
            api = ApiClient(self.api_endpoint, timeout_s=self.api_timeout_s)
            bridge = TakBridge(api, stream, None)
            self.counters = bridge.counters
            while not self._stop.is_set():       # the node's loop may not serve its API yet
                try:
                    skipped = bridge.skip_existing_inbox()
                    break
                except EmcommError as exc:
                    log.debug("TAK feed waits for the node's API: %s", exc)
                    self._stop.wait(self.poll_s)
            else:
                return
            if self.on_ready is not None:
                self.on_ready(skipped)
            while not self._stop.is_set():
                try:
                    busy = bridge.step()
                except EmcommError as exc:       # node busy or stopping: try again next turn
                    log.warning("TAK feed: %s", exc)
                    busy = 0
                if not busy:
                    self._stop.wait(self.poll_s)
        except Exception:                        # never take the node down with the feed
            log.exception("TAK feed to %s:%d stopped by an unexpected error", self.host, self.port)
        finally:
            if api is not None:
                api.close()
            stream.close()
