"""The Zhengzhou drill tells the expected story on a shortened run (18:30–20:00 on 20 July 2021):
without satellites, terrestrial delivery collapses and teams are cut off; with them, FLASH
from a team whose terrestrial paths are gone still arrives, over Tiantong or Beidou, within minutes."""

from __future__ import annotations

import pytest

from emcomm.drill.engine import Engine, EngineConfig
from emcomm.drill.scenario import load_scenario
from emcomm.drill.summary import summarise

START_S, DURATION_S = 66600.0, 5400.0    # 20 July 18:30 → 20:00 local time


@pytest.fixture(scope="module")
def runs():
    sc = load_scenario("drills/zhengzhou_2021.toml")
    out = {}
    for policy in ("satellite-aware", "terrestrial-only"):
        eng = Engine(sc, EngineConfig(start_s=START_S, duration_s=DURATION_S, policy=policy), keep_log=True)
        res = eng.run()
        out[policy] = (eng, res, summarise(res))
    return out


def test_terrestrial_only_cuts_teams_off_and_loses_delivery(runs):
    """Without satellite terminals some teams have no path at all and less traffic arrives."""
    _, _, terr = runs["terrestrial-only"]
    _, _, sat = runs["satellite-aware"]
    cut = [t for t, c in terr["teams"].items() if c["cut_off_first_s"] is not None]
    assert len(cut) >= 2
    assert terr["messages"]["delivered"] < sat["messages"]["delivered"]
    assert terr["priorities"]["immediate"]["delivery_ratio"] < 0.8
    assert all(c["cut_off_first_s"] is None for c in sat["teams"].values())


def test_flash_from_a_cut_off_team_arrives_over_tiantong_or_beidou_within_minutes(runs):
    """Every FLASH is delivered within 5 minutes with satellites; a FLASH from a team that has
    no terrestrial path (cut off under terrestrial-only) leaves on a Tiantong or Beidou link."""
    eng, res, sat = runs["satellite-aware"]
    _, _, terr = runs["terrestrial-only"]
    assert sat["priorities"]["flash"]["sent"] >= 2
    assert sat["priorities"]["flash"]["delivery_ratio"] == 1.0
    assert sat["priorities"]["flash"]["latency_max_s"] < 300.0
    cut = {t for t, c in terr["teams"].items() if c["cut_off_first_s"] is not None}
    terr_eng = runs["terrestrial-only"][0]
    flashes = [m for m in res.messages if m.priority == 0 and m.src in cut
               and any(m.msg_id == f.msg_id and f.delivered_s is None for f in runs["terrestrial-only"][1].messages)]
    assert flashes, "the window holds a FLASH that terrestrial paths never delivered"
    tags = {f"#{m.msg_id[:8]}": m for m in flashes}
    kinds = {eng.links[e.split()[2]].spec.kind.value for _, e in eng.log
             if e.startswith("sent ") and e.split()[-1] in tags and e.split()[1] == tags[e.split()[-1]].src}
    assert kinds and kinds <= {"tiantong", "beidou"}
    assert terr_eng.policy.name == "terrestrial-only"
