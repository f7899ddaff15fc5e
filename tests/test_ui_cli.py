"""`emcomm ui`: argument checks give messages, Streamlit is started offline on loopback."""

from __future__ import annotations

import subprocess
import sys

from emcomm.cli import build_parser
from emcomm.cli.ui_cmd import streamlit_command
from emcomm.drill.recording import read_recording


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
