"""``emcomm export cap|cot|geojson`` and ``emcomm import cap``: standard formats in and out.

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


def run_export(args: argparse.Namespace) -> int:
    pic = read_picture(args.recording)
    paths = export(args.format, pic, args.out)
    print(f"wrote {len(paths)} {args.format} file(s) to {args.out} "
          f"({len(pic.nodes)} nodes, {len(pic.tracks)} tracks, {len(pic.alerts)} alerts)")
    if pic.skipped:
        print(f"skipped {pic.skipped} unusable item(s) in the recording")
    return 0


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
    from emcomm.cli.node_cmd import _client

    node = args.node
    ns = argparse.Namespace(api=node if "://" in node else None, data_dir=node, timeout=args.timeout)
    client = _client(ns)
    try:
        reply = client.call("send", to=args.to, priority=prio.name.lower(), content_type="alert", body=body)
    finally:
        client.close()
    if not isinstance(reply, dict) or "msg_id" not in reply:
        raise UsageError(f"the node did not accept the alert: {reply!r}")
    print(f"{reply.get('status', 'accepted')}: CAP alert {alert.identifier} as {prio.name} ALERT "
          f"{reply['msg_id'].hex()} to {args.to} ({len(data)} bytes of XML -> {len(body)} bytes)")
    return 0
