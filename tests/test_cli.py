"""The command line answers --help and turns errors into messages, not tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_help_lists_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "emcomm", "--help"], capture_output=True, text=True, check=True)
    assert "scenario" in out.stdout and "demo" in out.stdout


def test_output_into_a_closed_pipe_ends_quietly_without_a_traceback() -> None:
    """`emcomm scenario timeline FILE | head -1`: the reader leaves before emcomm has written;
    emcomm stops without a traceback (exit 141, as a writer killed by SIGPIPE)."""
    scenario = Path(__file__).resolve().parent.parent / "drills" / "zhengzhou_2021.toml"
    proc = subprocess.Popen([sys.executable, "-m", "emcomm", "scenario", "timeline", str(scenario)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()                 # the reader goes away before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err
