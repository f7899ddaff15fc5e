"""One drill run into an output directory: engine + recording + summary.json + report.

This module owns the sequence ``emcomm drill run`` performs, so scripts, the CLI, the
benchmark and tests run drills the same way: the scenario is loaded and validated before
anything starts (a broken file raises the validator's ScenarioError), the engine runs
with a recorder streaming into ``out_dir``, and the summary and report are written — also
after Ctrl-C, marked ``"interrupted": true``, before the KeyboardInterrupt goes on.
It parses no arguments and prints nothing.

Example
-------
>>> import tempfile
>>> s = run_to_dir("tests/data/tiny.toml", tempfile.mkdtemp(), EngineConfig(duration_s=900))  # doctest: +SKIP
>>> s["priorities"]["flash"]["sent"]                                                            # doctest: +SKIP
1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from emcomm.drill.engine import Engine, EngineConfig
from emcomm.drill.record import SituationRecorder
from emcomm.drill.report import write_report
from emcomm.drill.scenario import Scenario, load_scenario
from emcomm.drill.summary import write_summary
from emcomm.errors import UsageError

SUMMARY_NAME = "summary.json"


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create ``out_dir`` (and parents); a UsageError if it is a file or cannot be made."""
    p = Path(out_dir)
    if p.exists() and not p.is_dir():
        raise UsageError(f"--out {p} is a file; give a directory for summary.json, report.md and the recording")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {p}: {exc.strerror}") from None
    return p


def run_to_dir(scenario: str | os.PathLike[str] | Scenario, out_dir: str | os.PathLike[str],
               config: EngineConfig = EngineConfig(), *, record: bool = True, report: bool = True,
               clock: Callable[[], float] | None = None, sleep: Callable[[float], None] | None = None,
               progress: Callable[[float, float], None] | None = None) -> dict[str, Any]:
    """Run one drill and write its files into ``out_dir``; returns the summary dict."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    out = prepare_out_dir(out_dir)
    recorder = SituationRecorder(out, keyframe_interval_s=config.keyframe_interval_s) if record else None
    engine = Engine(sc, config, recorder=recorder, clock=clock, sleep=sleep, progress=progress)
    try:
        res = engine.run()
    except KeyboardInterrupt:
        write_summary(engine.result, out / SUMMARY_NAME)
        raise
    summary = write_summary(res, out / SUMMARY_NAME)
    if report:
        write_report(res, summary, str(out))
    return summary
