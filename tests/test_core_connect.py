"""A transport that connects late loses what the core handed it before (ZeroMQ queues nothing
for a peer that is not connected). ``NodeCore.link_connected`` resends the link-state and
the unacked frames at once, so a freshly started mesh routes within a round trip instead
of waiting for a heartbeat interval (a 2-hop FLASH took ≈ 12 s in a secure loopback mesh)."""

from __future__ import annotations

import pytest

from emcomm.errors import UsageError
from emcomm.priority import Priority

from test_core_harness import Mesh, profile

CONNECT_AT_S = 0.3


def _fresh_mesh() -> tuple[Mesh, dict[str, bool]]:
    """a — r — b over fibre; every frame is lost until the transports connect at 0.3 s."""
    mesh = Mesh([("a-r", "a", "r", profile("fibre", loss=0.0)), ("r-b", "r", "b", profile("fibre", loss=0.0))])
    state = {"connected": False}
    mesh.drop_filter = lambda link_id, to, data: not state["connected"]
    for nid in mesh.nodes:
        mesh._execute(nid, mesh.core(nid).tick(0.0))     # start: the first adverts go nowhere
    return mesh, state


def _connect_all(mesh: Mesh) -> None:
    for link in mesh.links.values():
        for nid in (link.a, link.b):
            mesh._execute(nid, mesh.core(nid).link_connected(link.link_id, mesh.t))


def _delivered_at(mesh: Mesh, nid: str, mid: bytes) -> float | None:
    return next((t for t, e in mesh.nodes[nid].deliveries if e.msg_id == mid), None)


@pytest.mark.parametrize("told", [True, False])
def test_a_flash_crosses_a_fresh_mesh_within_a_second_once_the_transports_connect(told: bool) -> None:
    """Told of the connections, the routes exist within a round trip; not told (the cause of
    the slow start), the mesh waits for heartbeats to find out its views differ."""
    mesh, state = _fresh_mesh()
    mesh.run(CONNECT_AT_S)
    state["connected"] = True
    if told:
        _connect_all(mesh)
    mid = mesh.submit("a", "b", Priority.FLASH, b"evacuate")
    mesh.run(30.0)
    at = _delivered_at(mesh, "b", mid)
    assert at is not None
    if told:
        assert at - CONNECT_AT_S < 1.0, at
    else:
        assert at - CONNECT_AT_S > 5.0, at


def test_frames_awaiting_a_hop_ack_are_resent_at_once_when_the_transport_reconnects() -> None:
    """A message sent into a dead connection backs off (0.5, 1, 2, 4 ... s); the reconnect
    sends it again now, not at the next backed-off retransmission."""
    mesh, state = _fresh_mesh()
    state["connected"] = True
    _connect_all(mesh)
    mesh.run(2.0)
    assert "b" in mesh.core("a").routes.reachable()
    state["connected"] = False                        # the connection drops silently
    mid = mesh.submit("a", "b", Priority.IMMEDIATE, b"status")
    mesh.run(9.0)                                    # several retransmissions lost; the next is seconds away
    assert _delivered_at(mesh, "b", mid) is None
    state["connected"] = True
    _connect_all(mesh)
    mesh.run(9.2)
    at = _delivered_at(mesh, "b", mid)
    assert at is not None and at < 9.1, at
    assert [e.msg_id for _, e in mesh.nodes["b"].deliveries].count(mid) == 1


def test_link_connected_on_an_unknown_link_names_the_links() -> None:
    mesh, _ = _fresh_mesh()
    with pytest.raises(UsageError, match="unknown link 'x-y'.*a-r"):
        mesh.core("a").link_connected("x-y", 1.0)
