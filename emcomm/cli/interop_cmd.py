"""``emcomm export cap|cot|geojson``, ``emcomm import cap`` and ``emcomm sensor``: standard
formats in and out, and sensor readings into the mesh.

Parses arguments and calls ``emcomm.interop``; a CAP file imported is checked (hardened
parse, and the CAP 1.2 schema when ``--schema`` is given) and handed to a running node
as an ALERT message whose body is the compact CAP form (small enough for Beidou).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emcomm.errors import InteropError, UsageError
from emcomm.interop import cap
from emcomm.interop.export import export
from emcomm.interop.picture import read_picture
from emcomm.interop.xmlsafe import MAX_DOCUMENT_BYTES, Schema


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a recording's alerts, nodes and tracks as CAP 1.2, CoT 2.0 or GeoJSON")
    p.add_argument("format", choices=("cap", "cot", "geojson"), help="cap: one alert per file; cot: one event per "
                   "file (nodes, track points, alerts); geojson: one FeatureCollection")
    p.add_argument("--recording", required=True, metavar="REC", help="a drill recording (.emrec)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.set_defaults(func=run_export)

    q = sub.add_parser("import", help="inject a CAP 1.2 alert into the mesh through a running node")
    q.add_argument("format", choices=("cap",), help="the document format")
    q.add_argument("file", help="the CAP 1.2 XML file")
    q.add_argument("--node", default=".", help="the node: its data directory, or its API endpoint (tcp://..., ipc://...)")
    q.add_argument("--to", default="*", help="destination node or @group (default: * = every node)")
    q.add_argument("--schema", help="also validate against this CAP 1.2 XSD (e.g. CAP-v1.2.xsd from OASIS)")
    q.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node to answer")
    q.add_argument("--dry-run", action="store_true", help="check and show the alert, send nothing")
    q.set_defaults(func=run_import)

    r = sub.add_parser("sensor", help="feed satellite-IoT sensor readings to a node: alerts above thresholds",
                       description="Read TIME,SENSOR,VALUE lines (a file or - for stdin) for the sensors of "
                       "--config; a reading that crosses a threshold is sent as a CAP ALERT (FLASH at danger, "
                       "IMMEDIATE at warning), other readings as small ROUTINE status reports.")
    r.add_argument("--config", required=True, help="sensors.toml: [[sensor]] tables (id, kind, lat_deg, lon_deg, "
                   "warning, danger, ...) and optionally to = \"cc\"")
    r.add_argument("--readings", default="-", help="file of TIME,SENSOR,VALUE lines, or - for stdin (default)")
    r.add_argument("--node", default=".", help="the node that carries them: data directory or API endpoint")
    r.add_argument("--to", help="destination node or @group (default: the config's 'to', else *)")
    r.add_argument("--recording", metavar="OUT", help="also write the sensors, alerts and hazard markers as a "
                   "recording (emcomm ui --replay OUT)")
    r.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node to answer")
    r.add_argument("--dry-run", action="store_true", help="print what would be sent (JSON lines), send nothing")
    r.set_defaults(func=run_sensor)

    g = sub.add_parser("gateway", help="bridge the mesh to SMS and e-mail for the contacts of an address book",
                       description="Run the Beidou/mesh <-> public network gateway next to a node (see "
                       "emcomm/interop/gateway.py for gateway.toml). Ctrl-C stops it.")
    g.add_argument("--config", required=True, help="gateway.toml: node, modem, smtp_relay, smtp_listen, "
                   "mail_domain, log and [[contact]] tables")
    g.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node to answer")
    g.set_defaults(func=run_gateway)

    t = sub.add_parser("tak", help="stream a node's positions and alerts to a TAK server as CoT; take CoT "
                       "positions from TAK clients into the mesh")
    t.add_argument("--node", default=".", help="the node: data directory or API endpoint")
    t.add_argument("--server", metavar="HOST:PORT", help="TAK server streaming input (CoT XML over TCP), "
                   "e.g. 127.0.0.1:8087")
    t.add_argument("--listen", metavar="HOST:PORT", help="accept CoT position reports from TAK clients here")
    t.add_argument("--to", default="cc", help="mesh node the positions go to (default: cc)")
    t.add_argument("--every", type=float, default=30.0, metavar="S",
                   help="at most one position per TAK uid every S seconds into the mesh (default 30)")
    t.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node to answer")
    t.set_defaults(func=run_tak)


def run_export(args: argparse.Namespace) -> int:
    pic = read_picture(args.recording)
    paths = export(args.format, pic, args.out)
    print(f"wrote {len(paths)} {args.format} file(s) to {args.out} "
          f"({len(pic.nodes)} nodes, {len(pic.tracks)} tracks, {len(pic.alerts)} alerts)")
    if pic.skipped:
        print(f"skipped {pic.skipped} unusable item(s) in the recording")
    return 0


def _node_client(node: str, timeout_s: float):  # -> emcomm.node.api.ApiClient
    """The API client of ``node``: an endpoint (``tcp://...``, ``ipc://...``) or a running node's data directory."""
    from emcomm.cli.node_cmd import _client

    return _client(argparse.Namespace(api=node if "://" in node else None, data_dir=node, timeout=timeout_s))


def _read_toml(path: str, what: str) -> dict:
    """A TOML file as a dict; UsageError naming ``what`` (e.g. "sensor config") when unreadable or invalid."""
    import tomllib

    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{what} {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{what} {path} is not valid TOML: {exc}") from None


def run_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise InteropError(f"cannot read CAP file {path}: {exc.strerror}") from None
    alert = cap.from_xml(data, str(path))
    if args.schema:
        Schema(args.schema).check(data, str(path))
    body = cap.encode_compact(alert)
    prio = cap.priority_of(alert)
    summary = {"identifier": alert.identifier, "event": alert.event, "priority": prio.name,
               "areas": len(alert.areas), "xml_bytes": len(data), "compact_bytes": len(body)}
    if args.dry_run:
        print(json.dumps(summary))
        return 0
    client = _node_client(args.node, args.timeout)
    try:
        reply = client.call("send", to=args.to, priority=prio.name.lower(), content_type="alert", body=body)
    finally:
        client.close()
    if not isinstance(reply, dict) or "msg_id" not in reply:
        raise UsageError(f"the node did not accept the alert: {reply!r}")
    print(f"{reply.get('status', 'accepted')}: CAP alert {alert.identifier} as {prio.name} ALERT "
          f"{reply['msg_id'].hex()} to {args.to} ({len(data)} bytes of XML -> {len(body)} bytes)")
    return 0


def run_sensor(args: argparse.Namespace) -> int:
    import sys

    from emcomm.interop import sensors

    raw = _read_toml(args.config, "sensor config")
    unknown = set(raw) - {"sensor", "to"}
    if unknown:
        raise UsageError(f"{args.config}: unknown key(s) {', '.join(sorted(unknown))}; expected [[sensor]] and to")
    specs = sensors.sensor_specs(raw.get("sensor"), args.config)
    monitor = sensors.SensorMonitor(specs)
    to = args.to or raw.get("to") or "*"
    client = None
    if not args.dry_run:
        client = _node_client(args.node, args.timeout)
    writer = None
    counts = {"readings": 0, "alerts": 0, "reports": 0}
    try:
        stream = sys.stdin if args.readings == "-" else open(args.readings, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"readings file {args.readings} cannot be read: {exc.strerror}") from None
    try:
        for reading in sensors.parse_readings(stream, "stdin" if args.readings == "-" else args.readings):
            counts["readings"] += 1
            if args.recording and writer is None:
                writer = _sensor_recording(args.recording, specs, reading.t_s)
            t_rel = reading.t_s - writer.t0 if writer is not None else 0.0
            for m in monitor.feed(reading):
                counts["alerts" if m.content_type == "alert" else "reports"] += 1
                if writer is not None and m.content_type == "alert":
                    writer.w.event(max(t_rel, writer.last), "hazards", {"items": monitor.overlays()})
                    writer.w.event(max(t_rel, writer.last), "feed", {"t_s": max(t_rel, writer.last), **(m.feed or {})})
                    writer.last = max(t_rel, writer.last)
                if client is None:
                    print(json.dumps({"sensor": m.sensor, "priority": m.priority.name, "content_type": m.content_type,
                                      "level": m.level, "bytes": len(m.body), "text": m.text}), flush=True)
                    continue
                reply = client.call("send", to=to, priority=m.priority.name.lower(), content_type=m.content_type,
                                    body=m.body)
                if not isinstance(reply, dict) or "msg_id" not in reply:
                    raise UsageError(f"the node did not accept the sensor message: {reply!r}")
                print(f"{reply.get('status', 'accepted')}: {m.priority.name} {m.content_type.upper()} "
                      f"{reply['msg_id'].hex()} to {to} ({len(m.body)} bytes): {m.text}", flush=True)
    finally:
        if stream is not sys.stdin:
            stream.close()
        if client is not None:
            client.close()
        if writer is not None:
            writer.w.close()
    print(f"{counts['readings']} reading(s): {counts['alerts']} alert(s), {counts['reports']} status report(s)"
          + (f"; recording {args.recording}" if writer is not None else ""), file=sys.stderr)
    return 0


class _SensorRecording:
    def __init__(self, w: object, t0: float):
        self.w, self.t0, self.last = w, t0, 0.0


def _sensor_recording(path: str, specs: list, t0: float) -> _SensorRecording:
    from emcomm.drill.recording import RecordingWriter
    from emcomm.interop.sensors import iso_utc

    w = RecordingWriter(path, scenario="sensors", start=iso_utc(t0))
    w.keyframe(0.0, {"t_s": 0.0, "nodes": [{"id": s.id, "name": s.label, "lat_deg": s.lat_deg, "lon_deg": s.lon_deg,
                                             "role": "sensor"} for s in specs]})
    return _SensorRecording(w, t0)


_GATEWAY_KEYS = {"node", "modem", "baudrate", "smtp_relay", "smtp_listen", "mail_domain", "mail_from", "log",
                 "inbound_priority", "contact"}


def build_gateway(path: str, timeout_s: float = 5.0):  # -> emcomm.interop.gateway.Gateway
    """Read gateway.toml and open everything it names (clear errors for each)."""
    from emcomm.interop import gateway as gw
    from emcomm.priority import Priority

    cfg_path = Path(path)
    raw = _read_toml(path, "gateway config")
    unknown = set(raw) - _GATEWAY_KEYS
    if unknown:
        raise UsageError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(_GATEWAY_KEYS))}")
    book = gw.AddressBook.from_tables(raw.get("contact"), path)
    rules = gw.GatewayRules(book, mail_domain=str(raw.get("mail_domain", "")),
                            inbound_priority=Priority.parse(raw.get("inbound_priority", "routine")),
                            sms="modem" in raw, mail="smtp_relay" in raw)
    if rules.inbound_priority == Priority.FLASH:
        raise UsageError(f"{path}: inbound_priority cannot be flash (the public cannot send FLASH)")
    relay = gw.host_port(raw["smtp_relay"], "smtp_relay") if "smtp_relay" in raw else None
    listen = gw.host_port(raw["smtp_listen"], "smtp_listen") if "smtp_listen" in raw else None
    node = str(raw.get("node", "."))
    if "://" not in node and not Path(node).is_absolute():
        node = str(cfg_path.resolve().parent / node)
    api = _node_client(node, timeout_s)
    log_path = Path(raw.get("log", "gateway.log"))
    traffic = gw.TrafficLog(log_path if log_path.is_absolute() else cfg_path.resolve().parent / log_path)
    modem = None
    try:
        if "modem" in raw:
            from emcomm.links.drivers.tiantong import TiantongConfig, TiantongLink
            from emcomm.links.drivers.transport import TerminalPort

            modem = TerminalPort(TiantongLink(TiantongConfig(text_mode=True)), str(raw["modem"]),
                                 baudrate=int(raw.get("baudrate", 115200)))
            modem.start()
        g = gw.Gateway(rules, api, traffic, modem=modem, smtp_relay=relay, smtp_listen=listen,
                       mail_from=str(raw.get("mail_from", "")))
    except BaseException:
        if modem is not None:
            modem.close()
        api.close()
        traffic.close()
        raise
    g.skip_existing_inbox()
    return g


def run_gateway(args: argparse.Namespace) -> int:
    import signal
    import threading

    g = build_gateway(args.config, args.timeout)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"gateway running: {len(g.rules.book.by_name)} contact(s), sms {'on' if g.modem else 'off'}, "
          f"mail out {'on' if g.smtp_relay else 'off'}, mail in {'on' if g._smtpd else 'off'}, "
          f"log {g.traffic.path}", flush=True)
    try:
        while not stop.is_set():
            if g.step() == 0:
                stop.wait(0.2)
    finally:
        g.api.close()
        g.close()
    print(f"gateway stopped: {json.dumps(g.counters)}", flush=True)
    return 0


def run_tak(args: argparse.Namespace) -> int:
    import signal
    import threading

    from emcomm.interop import gateway, tak

    if not args.server and not args.listen:
        raise UsageError("give --server HOST:PORT (stream CoT out), --listen HOST:PORT (take CoT in), or both")
    stream = tak.TakStream(*gateway.host_port(args.server, "--server")) if args.server else None
    listener = tak.CotListener(*gateway.host_port(args.listen, "--listen")) if args.listen else None
    api = _node_client(args.node, args.timeout)
    bridge = tak.TakBridge(api, stream, listener, to=args.to, min_interval_s=args.every)
    bridge.skip_existing_inbox()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"tak bridge running: server {args.server or 'none'}, listening {args.listen or 'no'}", flush=True)
    try:
        while not stop.is_set():
            if bridge.step() == 0:
                stop.wait(0.2)
    finally:
        api.close()
        if stream is not None:
            stream.close()
        if listener is not None:
            listener.close()
    print(f"tak bridge stopped: {json.dumps(bridge.counters)}", flush=True)
    return 0
