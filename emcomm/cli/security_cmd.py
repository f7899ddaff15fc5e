"""``emcomm keygen`` / ``roster add|revoke|sign|show|push`` / ``audit``: real-name management.

Commands parse arguments, call ``emcomm.node.identity`` / ``roster`` / ``audit`` and print
results; they hold no security logic.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from emcomm.errors import UsageError
from emcomm.node import audit as audit_mod
from emcomm.node.identity import Identity, load_identity, load_public
from emcomm.node.roster import Roster, load_roster
from emcomm.priority import Priority


def register(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("keygen", help="make a node identity (Ed25519 signing key + CURVE key pair)",
                       description="Make a node identity in DIR: identity.key (secret, mode 0600) and identity.pub "
                                   "(give this to the command centre to be put on the roster).")
    k.add_argument("--id", required=True, help="node id the key speaks for, e.g. team1")
    k.add_argument("--name", required=True, help="real name of the person responsible for the terminal")
    k.add_argument("--org", required=True, help="organisation")
    k.add_argument("--phone", default="", help="contact phone")
    k.add_argument("--role", required=True, help="commander, responder, relay-only, sensor, or authority")
    k.add_argument("--out", required=True, metavar="DIR", help="directory to write the key files to")
    k.set_defaults(func=run_keygen)

    r = sub.add_parser("roster", help="manage the signed roster of keys, real names and roles")
    rs = r.add_subparsers(dest="roster_command", metavar="ACTION")
    for name, help_text in (("add", "enrol a terminal's public identity"), ("revoke", "revoke a lost terminal's key"),
                            ("sign", "sign the roster with the authority key (version + 1)"),
                            ("show", "list the roster"), ("push", "send the signed roster through the mesh at FLASH")):
        q = rs.add_parser(name, help=help_text)
        q.add_argument("--roster", required=True, help="the roster file (JSON)")
        if name == "add":
            q.add_argument("public", nargs="+", help="identity.pub files (or directories holding one)")
            q.add_argument("--authority", help="the authority's identity.pub (needed to create a new roster)")
            q.add_argument("--group", action="append", default=[], help="'@group' the terminals belong to (repeat)")
        elif name == "revoke":
            q.add_argument("who", help="node id or key id (hex) to revoke")
            q.add_argument("--reason", default="", help="why (e.g. 'terminal lost')")
        elif name == "sign":
            q.add_argument("--key", required=True, metavar="DIR", help="the authority's identity directory")
        elif name == "show":
            q.add_argument("--json", action="store_true", help="print the roster document")
        else:
            q.add_argument("--data-dir", default=".", help="data directory of the (authority's) running node")
            q.add_argument("--api", help="the node's local API endpoint")
            q.add_argument("--timeout", type=float, default=5.0)
        q.set_defaults(func=run_roster)
    r.set_defaults(func=lambda a: (r.print_help(), 2)[1])

    a = sub.add_parser("audit", help="show or verify a node's hash-chained audit log")
    a.add_argument("--data-dir", default=".", help="the node's data directory (default: .)")
    a.add_argument("--file", help="an audit log file (instead of DATA_DIR/audit.log)")
    a.add_argument("--verify", action="store_true", help="check the hash chain; exit 1 if it is broken")
    a.add_argument("--tail", type=int, default=20, help="message events to show, newest last (0: all)")
    a.set_defaults(func=run_audit)


def run_keygen(args: argparse.Namespace) -> int:
    from emcomm.node.config import check_node_id

    check_node_id(args.id)
    ident = Identity.generate(args.id, name=args.name, org=args.org, phone=args.phone, role=args.role)
    secret, public = ident.save(args.out)
    print(f"identity of {args.id} ({args.name}, {args.org}, {args.role}): key id {ident.key_id.hex()}")
    print(f"  secret: {secret} (mode 0600 — keep it on this terminal only)")
    print(f"  public: {public} (give this file to the command centre: `emcomm roster add`)")
    return 0


def run_roster(args: argparse.Namespace) -> int:
    path = Path(args.roster)
    cmd = args.roster_command
    if cmd == "add":
        if path.exists():
            roster = load_roster(path)
        elif args.authority:
            roster = Roster.empty(load_public(args.authority).verify_key)
        else:
            raise UsageError(f"{path} does not exist; give --authority AUTHORITY/identity.pub to start a new roster")
        for p in args.public:
            pub = load_public(p)
            roster = roster.add(pub, args.group)
            print(f"added {pub.node_id}: {pub.name} ({pub.org}, {pub.role}), key {pub.key_id.hex()}")
        roster.save(path)
        print(f"{path}: unsigned changes; run `emcomm roster sign --roster {path} --key AUTHORITY_DIR`")
        return 0
    roster = load_roster(path)
    if cmd == "revoke":
        roster = roster.revoke(args.who, args.reason)
        roster.save(path)
        print(f"revoked {args.who}; sign and push the roster so every node refuses the key")
        return 0
    if cmd == "sign":
        authority = load_identity(args.key)
        roster = roster.sign(authority, issued_s=time.time())
        roster.save(path)
        print(f"{path}: version {roster.version} signed by authority key {authority.key_id.hex()}; "
              "install it on new terminals, or `emcomm roster push` it through the mesh")
        return 0
    if cmd == "push":
        return _push(args, roster)
    if args.json:
        print(roster.to_bytes().decode(), end="")
        return 0
    state = "signed" if roster.verified(roster.authority_key) else "NOT SIGNED (unsigned changes)"
    print(f"roster {path}: version {roster.version}, {state}, {len(roster.entries)} key(s)")
    for e in roster.entries:
        mark = f"REVOKED ({e.revoked_reason or 'no reason given'})" if e.revoked else "active"
        top = Priority(roster.max_priority(e.role)).name
        print(f"  {e.node_id:<16} {e.name:<20} {e.org:<20} {e.role:<11} up to {top:<9} {e.phone:<16} "
              f"key {e.key_id.hex()} {' '.join(e.groups)} {mark}")
    return 0


def _push(args: argparse.Namespace, roster: Roster) -> int:
    from emcomm.node.api import ApiClient
    from emcomm.node.runtime import RUNTIME_FILE

    if not roster.verified(roster.authority_key):
        raise UsageError("the roster has unsigned changes; run `emcomm roster sign` first")
    endpoint = args.api
    if not endpoint:
        info = Path(args.data_dir) / RUNTIME_FILE
        try:
            endpoint = json.loads(info.read_text())["api"]
        except (OSError, ValueError, KeyError):
            raise UsageError(f"no running node found in {args.data_dir}; pass --data-dir or --api") from None
    client = ApiClient(endpoint, timeout_s=args.timeout)
    try:
        reply = client.call("send", to="*", priority="flash", content_type="roster", body=roster.to_bytes())
    finally:
        client.close()
    print(f"roster v{roster.version} sent to every node at FLASH ({reply['status']}, message {reply['msg_id'].hex()})")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else Path(args.data_dir) / "audit.log"
    result = audit_mod.verify(path)
    if args.verify:
        if result.ok:
            print(f"{path}: {result.records} record(s), hash chain intact, head {result.head}")
            return 0
        print(f"{path}: TAMPERED or damaged at line {result.bad_line}: {result.problem} "
              f"({result.records} record(s) before it verify)")
        return 1
    records = list(audit_mod.read(path))
    events = [(r, msg_id) for r in records for msg_id in audit_mod.message_ids(r)]
    shown = events[-args.tail:] if args.tail else events
    for r, msg_id in shown:
        prio = Priority(r["prio"]).name if isinstance(r.get("prio"), int) and 0 <= r["prio"] <= 3 else r.get("prio")
        extra = f" reason={r['reason']}" if "reason" in r else ""
        print(f"#{r.get('seq')} t={r.get('t')} {r.get('ev'):<9} {prio:<9} {r.get('src')} → {r.get('dst')} "
              f"link={r.get('link') or '-'} via={r.get('via') or '-'} id={msg_id}{extra}")
    print(f"{len(shown)} of {len(events)} message event(s) in {len(records)} record(s); "
          f"chain {'intact' if result.ok else 'BROKEN at line %d' % result.bad_line}")
    return 0
