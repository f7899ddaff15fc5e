"""`emcomm ui`: argument checks give messages, Streamlit is started offline on loopback."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

from emcomm.cli import build_parser, ui_cmd
from emcomm.cli.ui_cmd import streamlit_command
from emcomm.drill.recording import read_recording
from emcomm.ui.synthetic import write_sample_recording


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emcomm", "ui", *args], capture_output=True, text=True, timeout=60)


def test_streamlit_is_started_on_loopback_with_static_serving_and_no_usage_stats(tmp_path):
    args = build_parser().parse_args(["ui", "--replay", str(tmp_path / "r.emrec"), "--port", "9001"])
    cmd = streamlit_command(args)
    pairs = dict(zip(cmd, cmd[1:]))
    assert pairs["--server.address"] == "127.0.0.1" and pairs["--server.port"] == "9001"
    assert pairs["--server.enableStaticServing"] == "true" and pairs["--browser.gatherUsageStats"] == "false"
    assert cmd[cmd.index("--") + 1:][:2] == ["--replay", str((tmp_path / "r.emrec").resolve())]


def test_bad_live_endpoint_is_a_message_not_a_traceback():
    out = _run("--live", "localhost:5601")
    assert out.returncode == 2 and "tcp://HOST:PORT" in out.stderr and "Traceback" not in out.stderr


def test_bad_port_is_a_message():
    out = _run("--replay", "x.emrec", "--port", "0")
    assert out.returncode == 2 and "--port 0" in out.stderr


def test_write_sample_writes_a_readable_recording(tmp_path):
    path = tmp_path / "s.emrec"
    out = _run("--write-sample", str(path))
    assert out.returncode == 0, out.stderr
    rec = read_recording(path)
    assert rec.header.scenario == "sample_flood" and len(rec.keyframe_times) >= 2


def test_the_deploy_button_and_developer_toolbar_are_hidden(tmp_path):
    args = build_parser().parse_args(["ui", "--replay", str(tmp_path / "r.emrec")])
    pairs = dict(zip(streamlit_command(args), streamlit_command(args)[1:]))
    assert pairs["--client.toolbarMode"] == "minimal"


def _listening() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def test_a_port_in_use_is_a_clear_message_with_a_free_one_suggested(tmp_path):
    rec = tmp_path / "r.emrec"
    write_sample_recording(rec)
    with _listening() as busy:
        port = busy.getsockname()[1]
        out = _run("--replay", str(rec), "--port", str(port))
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert f"port {port} on 127.0.0.1 is already in use" in out.stderr and "--port" in out.stderr
        suggested = int(re.search(r"--port (\d+) \(free now\)", out.stderr).group(1))
        assert suggested != port and ui_cmd.port_free("127.0.0.1", suggested)


def test_drill_replay_takes_port_and_says_the_same(tmp_path):
    rec = tmp_path / "r.emrec"
    write_sample_recording(rec)
    with _listening() as busy:
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "emcomm", "drill", "replay", str(rec), "--port", str(port)],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and f"port {port} on 127.0.0.1 is already in use" in out.stderr


def test_without_port_8501_is_taken_when_free_else_a_free_one_and_it_says_which(monkeypatch):
    monkeypatch.setattr(ui_cmd, "port_free", lambda host, port: True)
    assert ui_cmd.pick_port("127.0.0.1", None) == (8501, "")
    monkeypatch.setattr(ui_cmd, "port_free", lambda host, port: port != 8501)
    port, note = ui_cmd.pick_port("127.0.0.1", None)
    assert port != 8501 and 0 < port < 65536 and f"port 8501 is in use, so the page is on port {port}" in note


def test_port_free_tells_a_listening_port_from_a_free_one():
    with _listening() as s:
        port = s.getsockname()[1]
        assert not ui_cmd.port_free("127.0.0.1", port)
    assert ui_cmd.port_free("127.0.0.1", port)
