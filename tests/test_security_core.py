"""Security in the node core: signatures end to end, replays, roles, rate limits, cut-off of a
forging neighbour, sealed group bodies and roster updates flooded at FLASH (in memory, on a
simulated clock, with the core harness)."""

from __future__ import annotations

import dataclasses

import pytest

from emcomm.errors import UsageError
from emcomm.node import wire
from emcomm.node.core import NodeCore
from emcomm.node.identity import Identity
from emcomm.node.ratelimit import Limit
from emcomm.node.roster import Roster
from emcomm.node.security import NodeSecurity
from emcomm.node.signing import Signer
from emcomm.priority import Priority
from tests.test_core_harness import Mesh, profile

ROLES = {"cc": "commander", "r": "relay-only", "a": "responder", "b": "responder", "m": "sensor"}


def _ids(roles: dict[str, str]) -> tuple[Identity, dict[str, Identity]]:
    auth = Identity.generate("cc-authority", name="Duty Officer", org="Provincial EOC", phone="", role="authority")
    return auth, {n: Identity.generate(n, name=f"Person {n}", org="Red Cross", phone="+86 1", role=role)
                  for n, role in roles.items()}


def _roster(auth: Identity, ids: dict[str, Identity], groups: dict[str, tuple[str, ...]] | None = None) -> Roster:
    r = Roster.empty(auth.public.verify_key)
    for n, ident in ids.items():
        r = r.add(ident.public, (groups or {}).get(n, ()))
    return r.sign(auth, issued_s=0.0)


def secure_mesh(links: list[tuple[str, str, str, str]], roster: Roster, ids: dict[str, Identity],
                **sec_kw: object) -> Mesh:
    """The core harness, with every core given its identity and the roster."""
    mesh = Mesh([(lid, a, b, profile(kind, loss=0.0)) for lid, a, b, kind in links])
    for nid, node in mesh.nodes.items():
        node.core = NodeCore(nid, node.config, seed=hash(nid) & 0xFFFF,
                             security=NodeSecurity(ids[nid], roster, **sec_kw))  # type: ignore[arg-type]
    return mesh


LINE = [("a-r/fibre", "a", "r", "fibre"), ("b-r/fibre", "b", "r", "fibre"), ("cc-r/fibre", "cc", "r", "fibre")]


@pytest.fixture
def line() -> tuple[Mesh, Identity, dict[str, Identity], Roster]:
    auth, ids = _ids({k: ROLES[k] for k in ("a", "b", "r", "cc")})
    roster = _roster(auth, ids, {"a": ("@medics",), "b": ("@medics",)})
    mesh = secure_mesh(LINE, roster, ids)
    mesh.run(5.0)
    return mesh, auth, ids, roster


def _dropped(mesh: Mesh, nid: str, reason: str) -> int:
    return sum(1 for _, d in mesh.nodes[nid].dropped if d.reason == reason)


def _inject(mesh: Mesh, to: str, link_id: str, env: wire.Envelope) -> None:
    mesh._execute(to, mesh.core(to).handle_frame(link_id, wire.encode_envelope(env), mesh.t))


def test_signed_message_through_a_relay_is_delivered_and_carries_80_bytes_of_signature(line) -> None:
    mesh, _, _, _ = line
    mid = mesh.submit("a", "b", Priority.IMMEDIATE, b"need water at the school")
    mesh.run(10.0)
    assert mid in mesh.delivered_ids("b")
    sent = [f for _, f in mesh.data_sends("a", "a-r/fibre") if isinstance(f, wire.Envelope) and f.msg_id == mid]
    assert wire.EXT_SIGNATURE in sent[0].ext
    bare = dataclasses.replace(sent[0], ext={})
    assert len(wire.encode_envelope(sent[0])) - len(wire.encode_envelope(bare)) == 80
    assert mesh.core("r").security.counters["verified"] >= 1     # IMMEDIATE is checked at the relay


def test_altered_body_is_never_delivered_and_the_passing_neighbour_is_cut_off(line) -> None:
    mesh, _, ids, _ = line
    env = Signer(ids["a"]).sign(wire.make_envelope(b"\x05" * 16, "a", "b", 1, 0, mesh.t, 600.0, b"meet at 5"))
    forged = dataclasses.replace(env, body=b"meet at 9")
    _inject(mesh, "r", "a-r/fibre", forged)          # IMMEDIATE: checked at the relay; a is its own source
    mesh.run(mesh.t + 5.0)
    assert b"\x05" * 16 not in mesh.delivered_ids("b")
    assert _dropped(mesh, "r", "bad_signature") == 1
    assert "a" in mesh.core("r").security.blocked
    # everything later from the cut-off neighbour is refused before decoding
    mid = mesh.submit("a", "b", Priority.ROUTINE, b"hello")
    mesh.run(mesh.t + 5.0)
    assert mid not in mesh.delivered_ids("b") and _dropped(mesh, "r", "peer_cut_off") >= 1


def test_relay_passing_an_unchecked_routine_forgery_gets_a_strike_not_a_cut(line) -> None:
    mesh, _, ids, _ = line
    env = Signer(ids["a"]).sign(wire.make_envelope(b"\x06" * 16, "a", "b", 3, 0, mesh.t, 600.0, b"x"))
    relayed = dataclasses.replace(env, body=b"y", hop_count=1)       # r relayed ROUTINE without checking
    _inject(mesh, "b", "b-r/fibre", relayed)
    sec = mesh.core("b").security
    assert sec.strikes["r"] == 1 and "r" not in sec.blocked
    assert b"\x06" * 16 not in mesh.delivered_ids("b")
    # from then on everything r passes is verified at b, and r's honest traffic still flows
    checked = sec.counters["verified"]
    mid = mesh.submit("cc", "b", Priority.ROUTINE, b"sitrep")
    mesh.run(mesh.t + 5.0)
    assert mid in mesh.delivered_ids("b") and sec.counters["verified"] > checked


def test_neighbour_claiming_first_hop_of_another_nodes_message_is_cut_off_without_crypto(line) -> None:
    mesh, _, ids, _ = line
    # a ROUTINE "from b" that a hands to r as if it had made the first hop: a made it
    env = Signer(ids["b"]).sign(wire.make_envelope(b"\x0d" * 16, "b", "cc", 3, 0, mesh.t, 600.0, b"x"))
    sec = mesh.core("r").security
    checked = sec.counters["verified"]
    _inject(mesh, "r", "a-r/fibre", dataclasses.replace(env, body=b"y"))
    assert _dropped(mesh, "r", "spoofed_origin") == 1 and "a" in sec.blocked
    assert sec.counters["verified"] == checked                   # told apart without a signature check


def test_neighbour_that_signed_a_message_claiming_another_source_is_cut_off(line) -> None:
    mesh, _, ids, _ = line
    # a signs a ROUTINE that claims to come from b, and poses as a relay (hop count 1) to b
    env = Signer(ids["a"]).sign(wire.make_envelope(b"\x0e" * 16, "b", "cc", 3, 0, mesh.t, 600.0, b"x"))
    sec = mesh.core("r").security
    sec.strikes["a"] += 1                                          # r checks everything a passes
    _inject(mesh, "r", "a-r/fibre", dataclasses.replace(env, hop_count=1))
    assert _dropped(mesh, "r", "wrong_signer") == 1 and "a" in sec.blocked


def test_forger_behind_an_honest_relay_is_the_one_cut_off() -> None:
    auth, ids = _ids({"h": "responder", "r": "relay-only", "b": "responder", "cc": "commander"})
    roster = _roster(auth, ids)
    mesh = secure_mesh([("h-r/fibre", "h", "r", "fibre"), ("b-r/fibre", "b", "r", "fibre"),
                        ("cc-r/fibre", "cc", "r", "fibre")], roster, ids)
    mesh.run(5.0)
    honest = Signer(ids["cc"]).sign(wire.make_envelope(b"\x0f" * 16, "cc", "b", 3, 0, mesh.t, 600.0, b"at 5"))
    for i, prio in enumerate((3, 2, 1)):      # ROUTINE and PRIORITY as first hop, IMMEDIATE posing as a relay
        forged = dataclasses.replace(honest, msg_id=bytes([0x10 + i]) * 16, priority=prio, body=b"at 9",
                                     hop_count=0 if prio > 1 else 1)
        _inject(mesh, "r", "h-r/fibre", forged)
        mesh.core("r").security.blocked.discard("h")   # look at each rule on its own
    mesh.run(mesh.t + 5.0)
    r_sec, b_sec = mesh.core("r").security, mesh.core("b").security
    assert _dropped(mesh, "r", "spoofed_origin") == 2 and _dropped(mesh, "r", "bad_signature") == 1
    assert r_sec.counters["peers_cut_off"] == 3 and b_sec.counters["peers_cut_off"] == 0
    assert not set(mesh.delivered_ids("b")) & {bytes([0x10 + i]) * 16 for i in range(3)}


def test_replay_outside_the_lifetime_window_is_dropped(line) -> None:
    mesh, _, ids, _ = line
    mesh.run(5000.0)
    old = Signer(ids["a"]).sign(wire.make_envelope(b"\x07" * 16, "a", "b", 1, 0, 10.0, 600.0, b"old news"))
    _inject(mesh, "r", "a-r/fibre", dataclasses.replace(old, ttl_s=100.0))
    assert _dropped(mesh, "r", "replay") == 1
    future = Signer(ids["a"]).sign(wire.make_envelope(b"\x08" * 16, "a", "b", 1, 0, mesh.t + 5000, 600.0, b"x"))
    _inject(mesh, "r", "a-r/fibre", future)
    assert _dropped(mesh, "r", "replay") == 2


def test_replayed_id_within_its_lifetime_is_a_duplicate(line) -> None:
    mesh, _, _, _ = line
    mid = mesh.submit("a", "b", Priority.IMMEDIATE, b"once")
    mesh.run(10.0)
    frame = next(f for _, f in mesh.data_sends("a", "a-r/fibre") if isinstance(f, wire.Envelope) and f.msg_id == mid)
    _inject(mesh, "r", "a-r/fibre", frame)
    mesh.run(20.0)
    assert mesh.delivered_ids("b").count(mid) == 1 and _dropped(mesh, "r", "duplicate") >= 1


def test_only_roles_allowed_may_send_flash(line) -> None:
    mesh, _, ids, _ = line
    with pytest.raises(UsageError, match="may send at most IMMEDIATE"):
        mesh.submit("a", "b", Priority.FLASH, b"not mine to send")
    mid = mesh.submit("cc", "b", Priority.FLASH, b"evacuate now")
    # a responder's correctly signed FLASH, made without the core's check, is refused at the relay
    env = Signer(ids["a"]).sign(wire.make_envelope(b"\x09" * 16, "a", "b", 0, 0, mesh.t, 600.0, b"fake flash"))
    _inject(mesh, "r", "a-r/fibre", env)
    mesh.run(10.0)
    assert mid in mesh.delivered_ids("b") and b"\x09" * 16 not in mesh.delivered_ids("b")
    assert _dropped(mesh, "r", "role_not_allowed") == 1


def test_one_flooding_sender_is_limited_while_another_gets_through() -> None:
    auth, ids = _ids({k: ROLES[k] for k in ("a", "b", "r", "cc")})
    roster = _roster(auth, ids)
    mesh = secure_mesh(LINE, roster, ids, limits={3: Limit(1.0, 5)})
    mesh.run(5.0)
    flood = [mesh.submit("a", "b", Priority.ROUTINE, b"spam %d" % i) for i in range(40)]
    other = mesh.submit("cc", "b", Priority.ROUTINE, b"situation report")
    mesh.run(10.0)
    got = mesh.delivered_ids("b")
    assert other in got
    assert 5 <= sum(m in got for m in flood) <= 12
    assert _dropped(mesh, "r", "rate_limited") >= 28


def test_group_body_is_sealed_to_members_only(line) -> None:
    mesh, _, _, _ = line
    mesh.core("a").config.groups  # a and b are @medics on the roster
    for nid in ("a", "b"):
        node = mesh.nodes[nid]
        object.__setattr__(node.core.config, "groups", frozenset({"@medics"}))
    mid = mesh.submit("cc", "@medics", Priority.PRIORITY, b"casualty list: 3 critical")
    mesh.run(10.0)
    sent = [f for _, f in mesh.data_sends("r", "b-r/fibre") if isinstance(f, wire.Envelope) and f.msg_id == mid]
    assert sent and b"casualty" not in sent[0].body and sent[0].flags & wire.Flags.ENCRYPTED
    got = {env.msg_id: env for _, env in mesh.nodes["b"].deliveries}
    assert got[mid].body == b"casualty list: 3 critical"
    assert mid in mesh.delivered_ids("a")


def test_roster_update_spreads_as_flash_and_revoked_sender_is_refused_everywhere(line) -> None:
    mesh, auth, ids, roster = line
    v2 = roster.revoke("b", "terminal lost").sign(auth, issued_s=100.0)
    mid = mesh.submit("cc", "*", Priority.FLASH, v2.to_bytes(), content_type=wire.ContentType.ROSTER)
    mesh.run(10.0)
    for nid in ("a", "r"):
        assert mesh.core(nid).security.roster.version == 2, nid
    assert mid in mesh.delivered_ids("a")
    # b still has v1 (it was revoked, but it installed the update too) — its messages are refused at r
    env = Signer(ids["b"]).sign(wire.make_envelope(b"\x0a" * 16, "b", "a", 3, 0, mesh.t, 600.0, b"still here"))
    _inject(mesh, "r", "b-r/fibre", env)
    assert _dropped(mesh, "r", "unknown_sender") == 1
    # an older roster, or one not signed by the authority, is refused
    with pytest.raises(Exception, match="roster_not_newer"):
        mesh.core("a").security.offer_roster(roster.to_bytes())
    rogue = Identity.generate("x", name="X", org="?", phone="", role="authority")
    fake = dataclasses.replace(v2, version=9, signature=b"")
    fake = dataclasses.replace(fake, signature=rogue.signing_key().sign(fake.signed_bytes()).signature)
    with pytest.raises(Exception, match="roster_bad_signature"):
        mesh.core("a").security.offer_roster(fake.to_bytes())


def test_signed_position_report_fits_one_regional_beidou_message() -> None:
    auth, ids = _ids({"a": "responder", "cc": "commander"})
    roster = _roster(auth, ids)
    mesh = secure_mesh([("a-cc/beidou", "a", "cc", "beidou")], roster, ids)
    mesh.run(1.0)
    report = b"31.2304,121.4737,12.5,2024-07-20T08:15:00Z,team a: 4 rescued, road blocked at km 12"
    mid = mesh.submit("a", "cc", Priority.IMMEDIATE, report, content_type=wire.ContentType.POSITION)
    mesh.run(200.0)
    assert mid in mesh.delivered_ids("cc")
    frames = [f for _, f in mesh.data_sends("a", "a-cc/beidou")]
    assert frames and all(isinstance(f, wire.Envelope) for f in frames)       # never fragmented
    assert max(len(wire.encode(f)) for f in frames) <= profile("beidou").mtu_bytes


def test_unsigned_or_unknown_key_messages_are_not_delivered(line) -> None:
    mesh, _, _, _ = line
    plain = wire.make_envelope(b"\x0b" * 16, "a", "b", 3, 0, mesh.t, 600.0, b"no signature")
    _inject(mesh, "b", "b-r/fibre", dataclasses.replace(plain, hop_count=1))
    stranger = Identity.generate("a", name="Impostor", org="?", phone="", role="commander")
    env = Signer(stranger).sign(wire.make_envelope(b"\x0c" * 16, "a", "b", 0, 0, mesh.t, 600.0, b"x"))
    _inject(mesh, "b", "b-r/fibre", dataclasses.replace(env, hop_count=1))
    mesh.run(mesh.t + 2)
    assert _dropped(mesh, "b", "unsigned") == 1 and _dropped(mesh, "b", "unknown_key") == 1
    assert not {b"\x0b" * 16, b"\x0c" * 16} & set(mesh.delivered_ids("b"))


def test_audit_names_every_relayed_message_in_one_record_per_instant_sender_and_link(line, tmp_path, capsys) -> None:
    """A burst from two senders leaves one record per sender (ids and sizes in arrival order);
    the next instant starts new records; ``emcomm audit`` shows one line per message."""
    from emcomm.cli import main as cli
    from emcomm.node import audit

    mesh, _, ids, _ = line
    relay = mesh.core("r")
    relay.security.take_audit()

    def frame(src: str, n: int, size: int, hops: int = 0) -> bytes:
        env = wire.Envelope(msg_id=bytes([n]) * 16, src=src, dst="cc", priority=int(Priority.ROUTINE),
                            content_type=0, created_s=mesh.t, ttl_s=600.0, body=b"x" * size, hop_count=hops)
        return wire.encode_envelope(Signer(ids[src]).sign(env))

    burst = [("a-r/fibre", frame("a", 1, 10)), ("b-r/fibre", frame("b", 2, 20)), ("a-r/fibre", frame("a", 3, 30)),
             ("a-r/fibre", frame("b", 5, 50, hops=1))]       # b's message, handed on by a
    mesh._execute("r", relay.handle_frames(burst, mesh.t))
    mesh._execute("r", relay.handle_frame("a-r/fibre", frame("a", 4, 40), mesh.t + 0.5))
    records = relay.security.take_audit()
    rx = [(r["src"], r["link"], r["via"], r["ids"], r["bytes"]) for r in records if r["ev"] == "rx"]
    assert rx == [("a", "a-r/fibre", "a", [bytes([1]).hex() * 16, bytes([3]).hex() * 16], [10, 30]),
                  ("b", "b-r/fibre", "b", [bytes([2]).hex() * 16], [20]),
                  ("b", "a-r/fibre", "a", [bytes([5]).hex() * 16], [50]),
                  ("a", "a-r/fibre", "a", [bytes([4]).hex() * 16], [40])]
    assert relay.security.take_audit() == []

    log = audit.AuditLog(tmp_path / "audit.log")
    log.append(records)
    log.close()
    capsys.readouterr()
    assert cli(["audit", "--file", str(tmp_path / "audit.log"), "--tail", "0"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if " rx " in x]
    assert [x.split("id=")[1] for x in lines] == [bytes([n]).hex() * 16 for n in (1, 3, 2, 5, 4)]
    assert all("ROUTINE" in x and "→ cc" in x for x in lines)
