"""Replay: the Situation at any time of a drill recording (keyframe + events after it).

Owns only the step from recording records to a ``Situation``; the byte format is
``emcomm.drill.recording`` and the data shape is ``emcomm.ui.situation``. No clock, no drawing.

Example
-------
>>> import tempfile, os
>>> from emcomm.ui.synthetic import write_sample_recording
>>> path = os.path.join(tempfile.mkdtemp(), "s.emrec")
>>> write_sample_recording(path)
>>> situation_at(read_recording(path), 4300).node("bs1").up
False
"""

from __future__ import annotations

import dataclasses

from emcomm.drill.recording import Recording, read_recording
from emcomm.errors import RecordingError
from emcomm.ui.situation import Situation, SituationError, apply_event

__all__ = ["read_recording", "situation_at"]


def situation_at(rec: Recording, t_s: float) -> Situation:
    """The situation as it was at ``t_s`` (clamped to the recording's time range)."""
    key, events = rec.state_at(t_s)
    try:
        s = Situation.from_dict(key.data, where=f"keyframe at t={key.t_s:g}s")
        for e in events:
            s = apply_event(s, e.kind, e.data, t_s=e.t_s)
    except SituationError as exc:
        raise RecordingError(f"recording {rec.path}: {exc}") from None
    lo, hi = rec.t_range
    return dataclasses.replace(s, t_s=float(min(max(t_s, lo), hi)))
