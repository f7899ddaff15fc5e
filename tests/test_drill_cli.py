"""`emcomm drill` commands: files written, clear errors before a run, Ctrl-C leaves a valid
partial recording, a small Dask sweep on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from emcomm.cli import main
from emcomm.drill.recording import read_recording
from emcomm.ui.replay import situation_at

TINY = "tests/data/tiny.toml"


def test_run_writes_summary_report_plots_and_a_replayable_recording(tmp_path, capsys):
    """`drill run` writes summary.json (schema 1), report.md with its three plots, and a
    recording the map can replay to a Situation at any time."""
    assert main(["drill", "run", TINY, "--out", str(tmp_path), "--duration", "3600"]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["schema"] == "emcomm-drill-summary/1"
    assert set(s["priorities"]) == {"flash", "immediate", "priority", "routine"}
    for name in ("report.md", "delivery.png", "availability.png", "latency.png", "events.emrec"):
        assert (tmp_path / name).stat().st_size > 0
    rec = read_recording(tmp_path / "recording.emrec")
    assert situation_at(rec, 1800.0).node("cc").role == "command"
    assert "flash" in capsys.readouterr().out


def test_broken_scenario_fails_before_the_run_with_the_validators_message(tmp_path, capsys):
    """A broken scenario gives exit status 2 and the validator's message; nothing is written."""
    out = tmp_path / "out"
    assert main(["drill", "run", "tests/data/broken/bad_priority.toml", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "traffic[0].priority" in err and "unknown priority 'urgent'" in err
    assert not out.exists()


def test_unknown_policy_in_compare_is_named(capsys):
    """`drill compare` refuses an unknown policy and lists the known ones."""
    assert main(["drill", "compare", TINY, "--policies", "satellite-aware,bogus"]) == 2
    assert "unknown drill policy 'bogus'" in capsys.readouterr().err


def test_compare_tabulates_each_policy_on_the_same_seed(capsys):
    """`drill compare` prints one column per policy and a difference column for two."""
    assert main(["drill", "compare", TINY, "--policies", "satellite-aware,terrestrial-only", "--duration", "1200"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "| figure | satellite-aware | terrestrial-only | Δ |"
    assert "| tiantong bytes |" in out


def test_ctrl_c_leaves_a_valid_partial_recording_and_summary(tmp_path):
    """SIGINT during a run: exit status 130, a recording that reads (up to its last record)
    and a summary marked interrupted, ending before the scenario does."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "emcomm", "drill", "run", "drills/zhengzhou_2021.toml",
                             "--out", str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rec_path = tmp_path / "recording.emrec"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not rec_path.exists() or rec_path.stat().st_size < 20_000):
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err.decode()
    rec = read_recording(rec_path)
    assert rec.keyframe_times[0] == 0.0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["interrupted"] is True and s["end_s"] < s["duration_s"]
    assert read_recording(tmp_path / "events.emrec").records


@pytest.mark.timeout(180)
def test_sweep_on_a_local_dask_cluster_aggregates_each_run(tmp_path, capsys):
    """`drill sweep --runs 3 --workers 2` runs three seeds on a loopback Dask cluster and
    reports the mean with a 95 % interval; the JSON holds each run's summary in seed order."""
    out = tmp_path / "sweep.json"
    assert main(["drill", "sweep", TINY, "--runs", "3", "--workers", "2", "--duration", "1200",
                 "--seed", "10", "--out", str(out)]) == 0
    agg = json.loads(out.read_text())
    assert agg["seeds"] == [10, 11, 12]
    assert [s["seed"] for s in agg["summaries"]] == [10, 11, 12]
    fl = agg["figures"]["flash.delivery_ratio"]
    assert fl["n"] == 3 and fl["lo"] <= fl["mean"] <= fl["hi"]
    assert "3/3 runs" in capsys.readouterr().err
