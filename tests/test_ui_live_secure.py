"""The live map subscribes to a secure node's tcp:// telemetry (a CURVE server admitting
rostered keys) as the command centre's identity, the node's server key taken from its
node.json or the roster; a key not on the roster hears nothing. One in-process secure node
on 127.0.0.1, every wait bounded."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from emcomm.cli import main as cli
from emcomm.errors import UsageError
from emcomm.node.config import config_from_mapping
from emcomm.node.identity import Identity
from emcomm.node.roster import Roster
from emcomm.node.runtime import NodeRuntime
from emcomm.ui.live import LiveFold, TelemetryListener, live_sources

HEAR_WITHIN_S = 10.0        # the node publishes its status every second
REFUSED_WAIT_S = 2.5        # a refused CURVE handshake never answers: how long we listen to see that


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def secure_node(tmp_path: Path) -> Iterator[dict[str, Path | str]]:
    """Node a (secure, tcp:// telemetry) running; keys of a, the command centre cc
    (rostered) and a stranger (not rostered); the signed roster."""
    auth = Identity.generate("authority", name="Duty Officer", org="EOC", phone="", role="authority")
    ids = {n: Identity.generate(n, name=f"Person {n}", org="Red Cross", phone="", role=role)
           for n, role in (("a", "responder"), ("cc", "commander"), ("stranger", "commander"))}
    roster = Roster.empty(auth.public.verify_key).add(ids["a"].public).add(ids["cc"].public).sign(auth, 0.0)
    out: dict[str, Path | str] = {n: tmp_path / f"{n}-key" for n in ids}
    for n, ident in ids.items():
        ident.save(out[n])  # type: ignore[arg-type]
    out["roster"] = tmp_path / "roster.json"
    roster.save(out["roster"])
    out["telemetry"] = f"tcp://127.0.0.1:{_port()}"
    out["data"] = tmp_path / "a-data"
    raw = {"id": "a", "listen": f"tcp://127.0.0.1:{_port()}", "api": f"ipc://{tmp_path}/a-api.sock",
           "telemetry": out["telemetry"], "data_dir": "a-data", "identity": str(out["a"]),
           "roster": str(out["roster"]), "emulation": False}
    rt = NodeRuntime(config_from_mapping(raw, base_dir=tmp_path))
    rt.start()
    th = threading.Thread(target=lambda: (rt.run(), rt.close()))
    th.start()
    try:
        yield out
    finally:
        rt.stop()
        th.join(10)
    assert not th.is_alive()


def _hear(listener: TelemetryListener, within_s: float) -> LiveFold:
    fold = LiveFold()
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and not listener.poll(fold):
        time.sleep(0.05)
    return fold


@pytest.mark.parametrize("how", ["data_dir", "node_json", "roster"])
def test_the_live_map_hears_a_secure_node_as_the_rostered_command_centre(secure_node, how: str) -> None:
    item = {"data_dir": str(secure_node["data"]), "node_json": str(Path(secure_node["data"]) / "node.json"),
            "roster": f"a@{secure_node['telemetry']}"}[how]
    sources, client = live_sources([item], identity=str(secure_node["cc"]), roster=str(secure_node["roster"]))
    assert sources[0].endpoint == secure_node["telemetry"] and sources[0].server_key is not None
    listener = TelemetryListener(sources, client)
    try:
        fold = _hear(listener, HEAR_WITHIN_S)
    finally:
        listener.close()
    assert "a" in {n.node_id for n in fold.situation(now_s=time.monotonic()).nodes} | set(fold.unknown_nodes())


def test_a_key_not_on_the_roster_hears_nothing_from_a_secure_node(secure_node) -> None:
    sources, client = live_sources([str(secure_node["data"])], identity=str(secure_node["stranger"]))
    listener = TelemetryListener(sources, client)
    try:
        fold = _hear(listener, REFUSED_WAIT_S)
    finally:
        listener.close()
    assert not fold.unknown_nodes() and not fold.situation(now_s=time.monotonic()).nodes


def test_secure_sources_without_the_keys_they_need_are_clear_messages(secure_node, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is secure .*give --identity DIR"):
        live_sources([str(secure_node["data"])])
    with pytest.raises(UsageError, match="server key of tcp://127.0.0.1:5601 is unknown.*NODE@tcp"):
        live_sources(["tcp://127.0.0.1:5601"], identity=str(secure_node["cc"]))
    with pytest.raises(UsageError, match="names node 'a': give --roster"):
        live_sources([f"a@{secure_node['telemetry']}"], identity=str(secure_node["cc"]))
    with pytest.raises(UsageError, match="node 'zz' has no active key on roster"):
        live_sources([f"zz@{secure_node['telemetry']}"], identity=str(secure_node["cc"]), roster=str(secure_node["roster"]))
    with pytest.raises(UsageError, match="cannot read .*nowhere .*No such file"):
        live_sources([str(tmp_path / "nowhere")], identity=str(secure_node["cc"]))


def test_emcomm_ui_checks_live_sources_and_identity_before_starting_the_page(secure_node, capsys) -> None:
    assert cli(["ui", "--live", str(secure_node["data"])]) != 0
    assert "give --identity DIR" in capsys.readouterr().err
    assert cli(["ui", "--replay", "x.emrec", "--identity", str(secure_node["cc"])]) != 0
    assert "--identity is for --live" in capsys.readouterr().err
