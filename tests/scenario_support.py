"""What the calibrated-scenario tests share: the scenario loaded once per test module, its
timeline, and a moment as seconds into the scenario.

Each test module binds the fixtures to its own file::

    sc, rows = scenario_fixtures(DRILLS / "zhengzhou_2021.toml")
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from emcomm.drill.scenario import Scenario, load_scenario
from emcomm.drill.timeline import TimelineRow, timeline


def scenario_fixtures(path: Path) -> tuple[Any, Any]:
    """Module-scoped fixtures ``sc`` (the loaded scenario) and ``rows`` (its timeline)."""

    @pytest.fixture(scope="module")
    def sc() -> Scenario:
        return load_scenario(path)

    @pytest.fixture(scope="module")
    def rows(sc: Scenario) -> list[TimelineRow]:
        return timeline(sc)

    return sc, rows


def seconds_into(sc: Scenario, when: dt.datetime) -> float:
    """``when`` as scenario time (seconds after the scenario's start)."""
    return (when - sc.info.start).total_seconds()
