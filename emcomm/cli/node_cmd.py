"""``emcomm node`` / ``send`` / ``status`` / ``inbox``: run a relay node and talk to it.

Commands parse arguments, call the runtime or the local API client, and print results;
they hold no protocol logic.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from emcomm.errors import UsageError
from emcomm.node.api import ApiClient
from emcomm.node.config import RunConfig, check_host_port, config_from_flags, load_config
from emcomm.node.runtime import RUNTIME_FILE, NodeRuntime, tune_gc
from emcomm.priority import Priority


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("node", help="run a relay node (Ctrl-C stops it cleanly)",
                       description="Run a relay node from a node.toml, or from flags.")
    p.add_argument("--config", help="node.toml (see emcomm/node/config.py for the keys)")
    p.add_argument("--id", help="node id (without --config)")
    p.add_argument("--listen", help="peer endpoint to bind, e.g. tcp://127.0.0.1:7001")
    p.add_argument("--neighbour", action="append", default=[], metavar="ID=ENDPOINT:KIND",
                   help="a neighbour and the kind of link to it (repeat), e.g. cc=tcp://127.0.0.1:7101:hts")
    p.add_argument("--data-dir", help="where the node keeps its store (default: ./<id>-data)")
    p.add_argument("--telemetry", help="PUB endpoint for telemetry, e.g. tcp://127.0.0.1:7002")
    p.add_argument("--api", help="local API endpoint (default: ipc:// socket in the data directory)")
    p.add_argument("--no-emulation", action="store_true", help="send frames at loopback speed, not shaped like the link kind")
    p.add_argument("--seed", type=int, default=0, help="seed of the emulated links' losses")
    p.add_argument("--status-every", type=float, default=10.0, metavar="S", help="print a status line every S seconds (0: never)")
    p.add_argument("--quiet", action="store_true", help="log warnings only")
    p.add_argument("--identity", help="this node's identity directory (from `emcomm keygen`)")
    p.add_argument("--roster", help="the signed roster: security is ON when given (CURVE links, signed messages)")
    p.add_argument("--insecure", action="store_true",
                   help="no CURVE, no signatures even with a roster: for drills and local tests only")
    p.add_argument("--tak", metavar="HOST:PORT",
                   help="stream positions and alerts delivered here as CoT to this TAK server's streaming input "
                        "(e.g. 127.0.0.1:8087; overrides tak in node.toml)")
    p.set_defaults(func=run_node)

    for name, help_text in (("send", "submit a message to a node of the mesh and wait for its delivery"),
                            ("status", "show a running node's queues and links"),
                            ("inbox", "show messages delivered to a running node")):
        q = sub.add_parser(name, help=help_text)
        q.add_argument("--api", help="the node's local API endpoint")
        q.add_argument("--data-dir", default=".", help="the node's data directory (to find its API; default: .)")
        q.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node to answer")
        q.add_argument("--identity", help="the node's own identity directory: a secure node's tcp:// API "
                                          "answers only its own key (not needed for the default ipc:// API)")
        if name == "send":
            q.add_argument("--to", required=True, help="destination node id")
            q.add_argument("--priority", default="routine", help="flash, immediate, priority or routine")
            q.add_argument("--content-type", default="text", help="text, position, status, alert...")
            q.add_argument("--ttl", type=float, default=None, help="seconds the message may live")
            q.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the delivery receipt (0: don't)")
            q.add_argument("text", help="the message text")
            q.set_defaults(func=run_send)
        elif name == "status":
            q.add_argument("--json", action="store_true", help="print the full status as JSON")
            q.set_defaults(func=run_status)
        else:
            q.add_argument("--after", type=int, default=0, help="only messages after this inbox sequence number")
            q.add_argument("--json", action="store_true", help="one JSON object per message")
            q.set_defaults(func=run_inbox)


def _run_config(args: argparse.Namespace) -> RunConfig:
    if args.config:
        if args.id or args.listen or args.neighbour:
            raise UsageError("give either --config or --id/--listen/--neighbour, not both")
        return load_config(args.config)
    if not args.id or not args.listen:
        raise UsageError("give --config node.toml, or at least --id and --listen")
    return config_from_flags(args.id, args.listen, args.neighbour, args.data_dir, telemetry=args.telemetry,
                             api=args.api, emulation=not args.no_emulation, seed=args.seed,
                             identity=args.identity, roster=args.roster, insecure=args.insecure)


def run_node(args: argparse.Namespace) -> int:
    cfg = _run_config(args)
    if args.tak:
        cfg = dataclasses.replace(cfg, tak=check_host_port(args.tak, "--tak"))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    rt = NodeRuntime(cfg)
    rt.install_signal_handlers()
    feed = None
    try:
        rt.start()
        tune_gc()       # this process is the node: collector settings for a long-running relay
        print(f"node {cfg.node_id} running: peers {cfg.listen}, api {cfg.api_endpoint}"
              + (f", telemetry {cfg.telemetry}" if cfg.telemetry else "")
              + f", data {cfg.data_dir}, emulation {'on' if cfg.emulation else 'off'}", flush=True)
        for n in cfg.neighbours:
            print(f"  link {n.link_id} → {n.id} at {n.endpoint}", flush=True)
        if args.status_every > 0:
            rt.on_status(args.status_every, lambda st: print(status_line(st), flush=True))
        if cfg.tak:
            from emcomm.interop.tak import TakFeed   # the node layer knows no interop: joined here

            feed = TakFeed(cfg.api_endpoint, cfg.tak, on_ready=lambda skipped: print(
                f"tak: streaming deliveries to {cfg.tak} as CoT ({skipped} earlier inbox message(s) not re-sent)",
                flush=True))
            feed.start()
        rt.run()
    finally:
        if feed is not None:
            print(f"tak: stopped ({json.dumps(feed.stop())})", flush=True)
        rt.close()
    print(f"node {cfg.node_id} stopped; store closed", flush=True)
    return 0


def status_line(st: dict[str, Any]) -> str:
    """One line: held messages per priority, links up/total, deliveries and drops."""
    rt = st.get("runtime", {})
    links = rt.get("links", {})
    up = sum(1 for l in links.values() if l["up"])
    counters = rt.get("counters", {})
    drops = sum(v for k, v in counters.items() if "drop" in k)
    held = st.get("held") or []
    return (f"[{time.strftime('%H:%M:%S')}] {st.get('node', '?')}: held {rt.get('held_in_store', '?')} "
            f"({'/'.join(str(h) for h in held)} by priority), links up {up}/{len(links)}, "
            f"delivered here {rt.get('inbox', 0)}, frames in {counters.get('frames_in', 0)} "
            f"out {counters.get('frames_out', 0)}, dropped {drops}")


def _client(args: argparse.Namespace) -> ApiClient:
    endpoint = args.api
    running: dict[str, Any] = {}
    if not endpoint:
        info = Path(args.data_dir) / RUNTIME_FILE
        try:
            running = json.loads(info.read_text())
            endpoint = running["api"]
        except FileNotFoundError:
            raise UsageError(f"no node is running with data directory {args.data_dir} ({info} not found); "
                             "start one with `emcomm node`, or pass --data-dir or --api") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{info} is unreadable ({exc}); pass --api") from None
    curve = None
    if str(endpoint).startswith("tcp://"):
        if getattr(args, "identity", None):
            from emcomm.node.identity import load_identity   # PyNaCl only when a key is used

            ident = load_identity(args.identity)
            server = str(running.get("curve_public") or "").encode("ascii") or ident.public.curve_public
            curve = (ident.public.curve_public, ident.curve_secret, server)
        elif running.get("curve_public"):
            raise UsageError(f"node {running.get('id', '?')} runs secure and its API {endpoint} answers only the "
                             "node's own key: pass --identity with the node's identity directory")
    return ApiClient(endpoint, timeout_s=args.timeout, curve=curve)


def run_send(args: argparse.Namespace) -> int:
    prio = Priority.parse(args.priority)
    client = _client(args)
    try:
        t0 = time.monotonic()
        reply = client.call("send", to=args.to, priority=prio.name.lower(), content_type=args.content_type,
                            body=args.text.encode("utf-8"), ttl_s=args.ttl)
        msg_id: bytes = reply["msg_id"]
        print(f"{reply['status']}: {prio.name} message {msg_id.hex()} to {args.to}", flush=True)
        status, detail = reply["status"], reply.get("detail", "")
        deadline = t0 + args.wait
        while status == "accepted" and time.monotonic() < deadline:
            time.sleep(0.05)
            r = client.call("receipt", msg_id=msg_id)
            status, detail = r["status"], r.get("detail", "")
        waited = time.monotonic() - t0
        if status == "delivered":
            print(f"delivered to {args.to} after {waited:.2f} s")
            return 0
        if status == "accepted":
            if args.wait > 0:
                print(f"not delivered yet after {waited:.1f} s: it is held in custody and will go when a path "
                      f"to {args.to} is up (check `emcomm status`)")
            return 0 if args.wait == 0 else 1
        print(f"{status}: {detail}" if detail else status)
        return 1
    finally:
        client.close()


def run_status(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        st = client.call("status")
    finally:
        client.close()
    st.pop("ok", None)
    if args.json:
        print(json.dumps(st, indent=1, default=_jsonable))
        return 0
    print(format_status(st))
    return 0


def format_status(st: dict[str, Any]) -> str:
    """A status snapshot as a few readable lines (queues per priority, links, counters)."""
    rt = st.get("runtime", {})
    names = [p.name.lower() for p in Priority]
    lines = [f"node {st.get('node', '?')}: {rt.get('held_in_store', '?')} message(s) held, "
             f"{rt.get('inbox', '?')} delivered here, emulation {'on' if rt.get('emulation') else 'off'}"]
    held = st.get("held")
    if held:
        lines.append("  held by priority: " + ", ".join(f"{n} {c}" for n, c in zip(names, held)))
    queues = st.get("queues", {})
    core_links = st.get("links", {})
    for lid, info in sorted(rt.get("links", {}).items()):
        q = queues.get(lid)
        core_up = core_links.get(lid, {}).get("up", info["up"]) if isinstance(core_links.get(lid), dict) else info["up"]
        up = "up" if (info["up"] and core_up) else "DOWN"
        qtxt = ", ".join(f"{n} {c}" for n, c in zip(names, q) if c) if q else ""
        lines.append(f"  link {lid} ({info['kind']}) → {info['neighbour']}: {up}, {info['rate_bps'] / 1e3:.1f} kbps, "
                     f"{info['latency_s'] * 1e3:.0f} ms, queued: {qtxt or 'none'}")
    counters = {**st.get("counters", {}), **rt.get("counters", {})}
    if "seen_ids" in st:
        evicted = counters.get("seen_evicted", 0)
        lines.append(f"  duplicate suppression: {st['seen_ids']:,} message ids in memory (at most "
                     f"{st.get('seen_ids_max', 0):,}" + (f"; {evicted:,} forgotten early" if evicted else "") + ")")
    drops = {k: v for k, v in counters.items() if "drop" in k and v}
    if drops:
        lines.append("  dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(drops.items())))
    return "\n".join(lines)


def run_inbox(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        msgs = client.call("inbox", after_seq=args.after)["messages"]
    finally:
        client.close()
    for m in msgs:
        if args.json:
            print(json.dumps(m, default=_jsonable))
        else:
            text = m["payload"].decode("utf-8", "replace")
            print(f"#{m['seq']} {Priority(m['priority']).name} from {m['src']}: {text}")
    if not msgs and not args.json:
        print("inbox empty")
    return 0


def _jsonable(o: Any) -> Any:
    if isinstance(o, (bytes, bytearray)):
        return o.hex()
    return str(o)
