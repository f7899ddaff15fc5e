"""Operators shown on the map come from the signed roster, by node id."""

from __future__ import annotations

import subprocess
import sys

from emcomm.node.identity import Identity
from emcomm.node.roster import Roster
from emcomm.ui import mapview
from emcomm.ui.operators import with_roster_operators
from emcomm.ui.situation import Situation


def _roster() -> Roster:
    cc = Identity.generate("cc-authority", name="Duty Officer", org="Provincial EOC", phone="", role="authority")
    t1 = Identity.generate("t1", name="Li Wei", org="Red Cross", phone="+86 138", role="responder")
    t2 = Identity.generate("t2", name="Zhang Min", org="Fire Brigade", phone="", role="responder")
    return (Roster.empty(cc.public.verify_key).add(t1.public).add(t2.public)
            .revoke("t2", "terminal lost").sign(cc, issued_s=10.0))


SITUATION = Situation.from_dict({"t_s": 0.0, "nodes": [
    {"id": "t1", "lat_deg": 34.7, "lon_deg": 113.6, "operator": "from the recording"},
    {"id": "t2", "lat_deg": 34.8, "lon_deg": 113.7, "operator": "from the recording"},
    {"id": "t3", "lat_deg": 34.9, "lon_deg": 113.8, "operator": "from the recording"}]})


def test_rostered_node_shows_name_org_and_role_in_its_popup():
    s = with_roster_operators(SITUATION, _roster())
    assert s.node("t1").operator == "Li Wei — Red Cross (responder)"
    popup = mapview.node_popup(s.node("t1"), "mains")
    assert "Li Wei — Red Cross (responder)" in popup


def test_revoked_key_is_shown_as_revoked_and_unrostered_nodes_keep_their_text():
    s = with_roster_operators(SITUATION, _roster())
    assert s.node("t2").operator == "Zhang Min — key REVOKED: terminal lost"
    assert s.node("t3").operator == "from the recording"


def test_missing_roster_is_a_message_not_a_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "emcomm", "ui", "--replay", "x.emrec", "--roster",
                          str(tmp_path / "none.roster")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "not found" in out.stderr and "Traceback" not in out.stderr
