"""Test-suite settings shared by every test module.

Property tests (Hypothesis) draw new random examples on every run on a developer's machine, so
they keep exploring; under CI (the ``CI`` environment variable, which ``.ci/run`` sets) they
are derandomised: the same examples every run, so a landing never depends on the luck of the
draw. A failing example found locally is fixed (or made an explicit example) like any other.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
