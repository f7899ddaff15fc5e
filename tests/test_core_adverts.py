"""Link-state adverts larger than a link's MTU still reach the neighbour (issue: command
centre adverts of ~27 links were dropped whole on 512–1,750-byte links and re-sent forever).

The in-memory mesh drops every frame longer than its link's MTU, as the link emulation and a
real terminal do, so an advert only arrives if the core cut it to fit.
"""

from __future__ import annotations

import dataclasses
import hashlib

from emcomm.node import wire
from emcomm.node.core import NodeConfig, NodeCore
from emcomm.node.fragment import control_frame_id, split, split_control
from emcomm.priority import Priority

from test_core_harness import Mesh, profile


def _hub_mesh(small: str, n_leaves: int = 30, **small_overrides: float) -> Mesh:
    """A hub with ``n_leaves`` fibre links plus one ``small``-kind link to b."""
    links = [(f"hub-l{i}/fibre", "hub", f"l{i}", profile("fibre", loss=0.0)) for i in range(n_leaves)]
    links.append(("hub-b", "hub", "b", profile(small, loss=0.0, **small_overrides)))
    mesh = Mesh(links)
    mesh.drop_filter = lambda link_id, to, data: len(data) > mesh.links[link_id].profile.mtu_bytes
    return mesh


def _held_links(core: NodeCore, origin: str, now: float) -> set[str]:
    return {l.link_id for a in core.lsdb.adverts(now) if a.origin == origin for l in a.links}


def test_an_advert_larger_than_the_radio_mtu_reaches_the_neighbour_with_every_link() -> None:
    """A 17-link advert (> 512-byte MTU of a 1 Mbps mesh radio) arrives in fragments; b learns
    every link and leaf, and the hub does not re-send it on every heartbeat."""
    mesh = _hub_mesh("radio", n_leaves=16, rate_up_bps=1e6, rate_down_bps=1e6)
    hub = mesh.core("hub")
    mesh.run(60.0)
    own = len(wire.encode_link_state(hub._own_lsa))
    assert own > profile("radio").mtu_bytes            # the case the fix is for
    b = mesh.core("b")
    assert _held_links(b, "hub", mesh.t) == set(hub.config.links)
    assert {f"l{i}" for i in range(16)} <= b.routes.reachable()
    assert all(len(d) <= profile("radio").mtu_bytes for _, lid, d in mesh.nodes["hub"].sent if lid == "hub-b")
    assert b.counters["rx_fragments"] >= 2 and not b.counters["dropped.bad_field"]
    # no re-send loop: before the fix every heartbeat (10 s) re-queued the lost advert
    mesh.run(600.0)
    assert hub.counters["advert_resends"] <= 2


def test_a_big_advert_crosses_beidou_one_fragment_per_send_slot() -> None:
    """Over Beidou global (70-byte MTU, 60 s slots) a 7-link advert arrives whole in
    fragments, and no two sends on the link are closer than the send interval."""
    mesh = _hub_mesh("beidou_global", n_leaves=6)
    mesh.run(1500.0)
    hub, b = mesh.core("hub"), mesh.core("b")
    assert _held_links(b, "hub", mesh.t) == set(hub.config.links)
    sent = [(t, d) for t, lid, d in mesh.nodes["hub"].sent if lid == "hub-b"]
    assert all(len(d) <= profile("beidou_global").mtu_bytes for _, d in sent)
    assert sum(isinstance(wire.decode(d), wire.Fragment) for _, d in sent) >= 5
    gaps = [y - x for (x, _), (y, _) in zip(sent, sent[1:])]
    assert min(gaps) >= profile("beidou_global").min_interval_s - 1e-9


def test_flash_cuts_in_between_the_fragments_of_an_advert_on_a_thin_link() -> None:
    """An advert being sent in fragments over Beidou never holds back a FLASH message."""
    mesh = _hub_mesh("beidou_global", n_leaves=6)
    mesh.run(200.0)                                   # the advert is part way across
    hub_sent = mesh.nodes["hub"].sent
    n_before = len(hub_sent)
    mid = mesh.submit("hub", "b", Priority.FLASH, b"SOS")
    mesh.run(2000.0)
    before = [wire.decode(d) for _, lid, d in hub_sent[:n_before] if lid == "hub-b"]
    after = [wire.decode(d) for _, lid, d in hub_sent[n_before:] if lid == "hub-b"]
    advert_parts = [f for f in before + after if isinstance(f, wire.Fragment) and f.msg_id != mid]
    assert advert_parts and any(f.index == 0 for f in before if isinstance(f, wire.Fragment))
    assert any(f.index == f.count - 1 for f in advert_parts if f in after)   # the advert ends later
    first_data = next(f for f in after if not isinstance(f, wire.HopAck))
    is_flash = (isinstance(first_data, wire.Envelope) and first_data.msg_id == mid) or (
        isinstance(first_data, wire.Fragment) and first_data.msg_id == mid)
    assert is_flash
    assert mesh.delivered_ids("b") == [mid]


def _advert(n_links: int) -> wire.LinkStateAdvert:
    return wire.LinkStateAdvert("hub", 7, 0.0, tuple(
        wire.LinkAdvert(f"hub-l{i}/fibre", f"l{i}", "fibre", True, 1e9, 0.005, 0.0, 1400, 0.0, 0.0)
        for i in range(n_links)))


def test_a_reassembled_advert_is_installed_and_a_tampered_one_is_refused() -> None:
    """Fragments that reassemble into a LINK_STATE frame are accepted when their id is the
    frame's digest; a different advert under that id is dropped as bad_field."""
    frame = wire.encode_link_state(_advert(20))
    parts = split_control(frame, mtu_bytes=200)
    assert len(parts) > 1 and all(len(p) <= 200 for p in parts)

    core = NodeCore("b", NodeConfig(links={"hub-b": ("hub", profile("radio"))}))
    for p in parts:
        core.handle_frame("hub-b", p, now=1.0)
    assert core.lsdb.seq_of("hub") == 7

    # a well-formed advert (seq 8, one link down) under the id of the seq-7 frame
    forged = dataclasses.replace(_advert(20), seq=8, links=(dataclasses.replace(_advert(20).links[0], up=False),)
                                 + _advert(20).links[1:])
    core2 = NodeCore("b", NodeConfig(links={"hub-b": ("hub", profile("radio"))}))
    for p in split(wire.encode_link_state(forged), control_frame_id(frame), mtu_bytes=200):
        core2.handle_frame("hub-b", p, now=1.0)
    assert core2.lsdb.seq_of("hub") == -1
    assert core2.counters["dropped.bad_field"] == 1


def test_fragments_of_a_heartbeat_or_ack_are_refused() -> None:
    """Only DATA, RECEIPT and LINK_STATE frames are ever fragmented; anything else is dropped."""
    frame = wire.encode_heartbeat(wire.Heartbeat("hub", 1, 0)) + b""
    fid = control_frame_id(frame)
    half = len(frame) // 2
    core = NodeCore("b", NodeConfig(links={"hub-b": ("hub", profile("radio"))}))
    for i, chunk in enumerate((frame[:half], frame[half:])):
        core.handle_frame("hub-b", wire.encode_fragment(wire.Fragment(fid, i, 2, chunk)), now=1.0)
    assert core.counters["dropped.bad_field"] == 1 and core.counters["rx_heartbeats"] == 0


def test_control_frame_id_is_the_frames_digest() -> None:
    """The id of a fragmented control frame is a 16-byte BLAKE2b digest of the whole frame."""
    frame = wire.encode_link_state(_advert(3))
    assert control_frame_id(frame) == hashlib.blake2b(frame, digest_size=wire.MSG_ID_BYTES).digest()
    assert control_frame_id(frame) != control_frame_id(frame + b"\x00")


def test_a_refresh_with_the_same_links_floods_on_but_leaves_the_routes_alone() -> None:
    """The periodic refresh (new seq, same links) reaches the far node without a route rebuild."""
    mesh = Mesh([("ab", "a", "b", profile("fibre", loss=0.0)), ("bc", "b", "c", profile("fibre", loss=0.0))])
    mesh.run(100.0)
    a = mesh.core("a")
    seq_c, routes_version = a.lsdb.seq_of("c"), a.routes.version
    mesh.run(100.0 + 2.5 * a.config.advert_refresh_s)
    assert a.lsdb.seq_of("c") >= seq_c + 2
    assert a.routes.version == routes_version
    mesh.set_link("bc", False)
    mesh.run(mesh.t + 10.0)
    assert a.routes.version > routes_version and "c" not in a.routes.reachable()


def test_an_old_advert_of_its_own_makes_a_node_advertise_a_higher_seq_even_if_nothing_changed() -> None:
    """After a restart a node may hear its own advert with a higher seq than its counter: it
    must re-advertise above it, or the mesh keeps the stale one."""
    core = NodeCore("a", NodeConfig(links={"ab": ("b", profile("fibre"))}))
    core.tick(now=0.0)
    stale = wire.LinkStateAdvert("a", 50, 10.0, core._own_lsa.links)
    core.handle_frame("ab", wire.encode_link_state(stale), now=5.0)
    sent = [wire.decode(t.data) for t in core.tick(now=5.0) + core.tick(now=8.0) if type(t).__name__ == "Transmit"]
    assert any(isinstance(f, wire.LinkStateAdvert) and f.origin == "a" and f.seq == 51 for f in sent)
