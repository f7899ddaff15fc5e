"""The command line answers --help and turns errors into messages, not tracebacks."""

from __future__ import annotations

import subprocess
import sys


def test_help_lists_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "emcomm", "--help"], capture_output=True, text=True, check=True)
    assert "scenario" in out.stdout and "demo" in out.stdout
