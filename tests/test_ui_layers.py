"""Compact map layers and what a live update sends: pure functions, no browser."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.ui import mapview
from emcomm.ui.layers import layers_to_send, pack_features, situation_payloads
from emcomm.ui.mapcomponent import base_spec, plan_update
from emcomm.ui.situation import Situation
from emcomm.ui.synthetic import random_situation


def _sent_names(sent):
    return sorted(x["name"] for x in sent if x["d"] is not None)


def test_one_link_going_down_resends_only_the_layer_of_its_kind():
    s = random_situation(60, 300, seed=3)
    _, have = layers_to_send(situation_payloads(s), {})
    link = next(l for l in s.links if l.state == "up")
    s2 = dataclasses.replace(s, links=tuple(dataclasses.replace(l, state="down", capacity_pct=0.0) if l is link else l
                                            for l in s.links))
    sent, _ = layers_to_send(situation_payloads(s2), have)
    assert _sent_names(sent) == ["Links: " + mapview.KIND_LABELS[link.kind]]
    assert len(sent) == len(have)  # every layer is still named, with its hash


def test_nothing_changed_sends_no_layer_data():
    s = random_situation(30, 60, seed=1)
    _, have = layers_to_send(situation_payloads(s), {})
    sent, after = layers_to_send(situation_payloads(s), have)
    assert _sent_names(sent) == [] and after == have


def test_a_layer_no_longer_present_is_forgotten():
    s = random_situation(30, 60, seed=1)
    _, have = layers_to_send(situation_payloads(s), {})
    gone = next(n for n in have if n.startswith("Links: "))
    kind = next(k for k, label in mapview.KIND_LABELS.items() if "Links: " + label == gone)
    s2 = dataclasses.replace(s, links=tuple(l for l in s.links if l.kind != kind))
    sent, after = layers_to_send(situation_payloads(s2), have)
    assert gone not in after and gone not in [x["name"] for x in sent]


def test_browser_that_lost_its_layers_gets_them_again_once_per_request():
    s = random_situation(20, 40, seed=2)
    ls, state = situation_payloads(s), {}
    assert len(_sent_names(plan_update(ls, state, "map", None))) == len(ls)
    assert _sent_names(plan_update(ls, state, "map", None)) == []
    ask = {"need": ["Nodes", "Hazards"], "n": 17.5}
    assert _sent_names(plan_update(ls, state, "map", ask)) == ["Hazards", "Nodes"]
    # the same request seen again on a later run (the value stays) does not re-send
    assert _sent_names(plan_update(ls, state, "map", ask)) == []


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 40), m=st.integers(0, 80), seed=st.integers(0, 10_000))
def test_packed_rows_keep_every_feature_position_and_style(n, m, seed):
    s = random_situation(n, m, seed)
    for fc in (mapview.node_features(s), mapview.link_features(s), mapview.route_features(s)):
        packed = pack_features(fc)
        assert len(packed["rows"]) == len(fc["features"])
        for row, f in zip(packed["rows"], fc["features"]):
            assert packed["styles"][row[2]] == f["properties"]["style"]
            coords = f["geometry"]["coordinates"]
            coords = [coords] if f["geometry"]["type"] == "Point" else coords
            got = [row[1]] if row[0] == "p" else row[1]
            assert got == [[c[1], c[0]] for c in coords]
            assert row[3] == f["properties"]["tooltip"] and row[4] == f["properties"].get("popup")


def test_hazard_circles_keep_their_radius_in_metres():
    s = Situation.from_dict({"t_s": 0.0, "hazards": [{"hazard": "flood", "shapes": [
        {"shape": "circle", "coords": [[34.7, 113.6]], "radius_m": 4000.0},
        {"shape": "polygon", "coords": [[34, 113], [35, 113], [35, 114]]}]}]})
    rows = situation_payloads(s)[0].data["rows"]
    assert [r[0] for r in rows] == ["c", "a"] and rows[0][5] == 4000.0 and rows[0][1] == [34.7, 113.6]
    assert rows[1][1][0] == rows[1][1][-1]  # polygon ring closed


def test_content_hash_follows_content():
    s = random_situation(40, 100, seed=5)
    a, b = situation_payloads(s), situation_payloads(s)
    assert [x.hash for x in a] == [x.hash for x in b]
    moved = dataclasses.replace(s, nodes=(dataclasses.replace(s.nodes[0], lat_deg=s.nodes[0].lat_deg + 0.01),)
                                + s.nodes[1:])
    c = {x.name: x.hash for x in situation_payloads(moved)}
    assert c["Nodes"] != a[-1].hash  # the node moved, and so did the links ending at it
    assert any(c[x.name] != x.hash for x in a if x.name.startswith("Links: "))


def test_packed_layers_are_much_smaller_than_plain_geojson():
    s = random_situation(300, 1500, seed=7)
    packed = sum(len(x.text) for x in situation_payloads(s))
    plain = sum(len(json.dumps(fc)) for fc in (mapview.node_features(s), mapview.link_features(s),
                                                mapview.route_features(s), mapview.hazard_features(s.hazards)))
    assert packed < 0.6 * plain


def test_base_spec_is_offline_unless_tiles_are_asked_for():
    assert base_spec()["online_tiles"] is None
    assert base_spec(online_tiles=True)["online_tiles"].startswith("https://")
    assert base_spec(assets="/x/")["basemap_url"] == "/x/basemap/countries.geojson"
