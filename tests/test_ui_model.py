"""Situation data, replay, map layers and panels: pure functions, no browser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.errors import RecordingError
from emcomm.ui import mapview, panels
from emcomm.ui.assets import BASEMAP_PATH, STATIC_DIR, use_local_assets
from emcomm.ui.replay import read_recording, situation_at
from emcomm.ui.situation import Situation, SituationError, apply_event
from emcomm.ui.synthetic import random_situation, write_sample_recording

BASE = {"t_s": 100.0, "nodes": [
    {"id": "cc", "lat_deg": 34.7, "lon_deg": 113.6, "role": "command"},
    {"id": "a", "lat_deg": 34.8, "lon_deg": 113.7, "power": "battery", "battery_left_h": 2.5},
    {"id": "b", "lat_deg": 34.6, "lon_deg": 113.5, "up": False, "power": "off"},
    {"id": "c", "lat_deg": 34.9, "lon_deg": 113.4, "connected": False, "cut_off_since_s": 40.0}],
    "links": [{"id": "l1", "kind": "beidou", "a": "a", "b": "cc", "carrying": ["flash"]},
              {"id": "l2", "kind": "cellular", "a": "b", "b": "cc", "state": "down", "capacity_pct": 0},
              {"id": "l3", "kind": "hts", "a": "c", "b": "cc", "state": "degraded", "capacity_pct": 35,
               "carrying": [1, 3]}],
    "stats": [{"priority": 0, "sent": 8, "delivered": 6, "latency_p50_s": 3.2, "latency_p95_s": 40.0}],
    "usage": [{"kind": "beidou", "bytes": 7000, "cost_cny": 0.0}, {"kind": "tiantong", "bytes": 2_500_000, "cost_cny": 30}],
    "feed": [{"t_s": 50, "level": "flash", "text": "trapped", "node": "a"},
             {"t_s": 60, "level": "info", "text": "routine"}]}


@pytest.mark.parametrize("patch,where", [
    ({"nodes": [{"id": "x", "lat_deg": 95, "lon_deg": 0}]}, "nodes[0]"),
    ({"nodes": [{"id": "x", "lat_deg": 1}]}, "lon_deg"),
    ({"nodes": [{"id": "x", "lat_deg": 1, "lon_deg": 1, "power": "solar"}]}, "power"),
    ({"nodes": [{"id": "x", "lat_deg": 1, "lon_deg": 1, "queue_depths": [1, 2]}]}, "queue_depths"),
    ({"links": [{"id": "l", "kind": "hts", "a": "cc", "b": "ghost"}]}, "ghost"),
    ({"links": [{"id": "l", "kind": "hts", "a": "cc", "b": "a", "state": "flaky"}]}, "state"),
    ({"stats": [{"priority": 0, "sent": 1, "delivered": 2}]}, "more than sent"),
    ({"stats": [{"priority": "urgent"}]}, "priority"),
    ({"hazards": [{"hazard": "flood", "shapes": [{"shape": "polygon", "coords": [[0, 0], [1, 1]]}]}]}, "at least 3"),
    ({"colour": "red"}, "unknown key"),
])
def test_bad_situation_names_the_key_and_what_is_expected(patch, where):
    d = {**BASE, **patch}
    if "links" in patch or "nodes" in patch:
        d.setdefault("nodes", BASE["nodes"])
    with pytest.raises(SituationError, match=re.escape(where)):
        Situation.from_dict(d)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), m=st.integers(0, 80), seed=st.integers(0, 10_000))
def test_to_dict_round_trips(n, m, seed):
    s = random_situation(n, m, seed)
    assert Situation.from_dict(s.to_dict()) == s


def test_node_event_patches_only_the_named_fields():
    s = Situation.from_dict(BASE)
    s2 = apply_event(s, "node", {"id": "a", "power": "off", "up": False}, t_s=120)
    assert s2.t_s == 120 and s2.node("a").power == "off" and not s2.node("a").up
    assert s2.node("a").battery_left_h == 2.5 and s2.node("cc") == s.node("cc")


def test_event_for_a_new_node_adds_it_and_bad_events_are_refused():
    s = Situation.from_dict(BASE)
    assert apply_event(s, "node", {"id": "z", "lat_deg": 1.0, "lon_deg": 2.0}).node("z").lon_deg == 2.0
    with pytest.raises(SituationError, match="lon_deg"):
        apply_event(s, "node", {"id": "z", "lat_deg": 1.0})
    with pytest.raises(SituationError, match="unknown event kind"):
        apply_event(s, "weather", {})


def test_cut_off_lists_up_nodes_without_a_path_with_duration():
    s = Situation.from_dict(BASE)
    assert [(n.id, d) for n, d in s.cut_off()] == [("c", 60.0)]


def test_replay_matches_applying_every_event_by_hand(tmp_path):
    path = tmp_path / "s.emrec"
    write_sample_recording(path, keyframe_interval_s=1800)
    rec = read_recording(path)
    by_hand = Situation.from_dict(rec.records[0].data)
    for r in rec.records[1:]:
        if r.t_s > 5000:
            break
        if r.kind != "keyframe":
            by_hand = apply_event(by_hand, r.kind, r.data, t_s=r.t_s)
    seeked = situation_at(rec, 5000)
    assert seeked.links == by_hand.links and seeked.stats == by_hand.stats and seeked.feed == by_hand.feed
    assert [(n.id, n.up, n.power) for n in seeked.nodes] == [(n.id, n.up, n.power) for n in by_hand.nodes]


def test_replay_of_a_keyframe_with_bad_data_is_a_recording_error(tmp_path):
    from emcomm.drill.recording import RecordingWriter

    path = tmp_path / "bad.emrec"
    with RecordingWriter(path, scenario="x", start="y") as w:
        w.keyframe(0.0, {"t_s": 0.0, "nodes": [{"id": "a"}]})
    with pytest.raises(RecordingError, match=r"keyframe at t=0s.*lat_deg"):
        situation_at(read_recording(path), 0.0)


# ------------------------------------------------------------------ map


def test_each_layer_is_one_feature_collection_with_one_feature_per_item():
    s = random_situation(300, 900, seed=3)
    nodes, links = mapview.node_features(s), mapview.link_features(s)
    assert len(nodes["features"]) == 300 and len(links["features"]) == 900
    html = mapview.situation_map(s, basemap=None).get_root().render()
    assert html.count("L.geoJSON(") == 4  # hazards, links, routes, nodes: one call each
    assert "L.circleMarker([" not in html and "L.polyline([" not in html


def test_node_colours_follow_power_and_connectivity():
    s = Situation.from_dict(BASE)
    style = {f["properties"]["id"]: f["properties"]["style"] for f in mapview.node_features(s)["features"]}
    assert style["a"]["fillColor"] == mapview.POWER_FILL["battery"]
    assert style["b"]["fillColor"] == mapview.POWER_FILL["off"] and "emc-node-offair" in style["b"]["className"]
    assert style["c"]["color"] == mapview.CUT_OFF_OUTLINE and "emc-node-cutoff" in style["c"]["className"]
    assert style["cc"]["radius"] > style["a"]["radius"]


def test_stale_nodes_are_faded_only_past_the_threshold():
    s = Situation.from_dict({"t_s": 0, "nodes": [{"id": "a", "lat_deg": 0, "lon_deg": 0, "last_heard_s": 100.0}]})
    fresh = mapview.node_features(s, now_s=110, stale_after_s=30)["features"][0]["properties"]["style"]
    stale = mapview.node_features(s, now_s=140, stale_after_s=30)["features"][0]["properties"]["style"]
    assert "emc-node-stale" not in fresh["className"] and "emc-node-stale" in stale["className"]
    assert stale["fillOpacity"] < fresh["fillOpacity"]


def test_links_are_coloured_by_kind_and_dashed_by_state():
    s = Situation.from_dict(BASE)
    style = {f["properties"]["id"]: f["properties"]["style"] for f in mapview.link_features(s)["features"]}
    assert style["l1"]["color"] == mapview.KIND_COLOURS["beidou"] and "dashArray" not in style["l1"]
    assert style["l2"]["dashArray"] == mapview.LINK_STATE_STYLE["down"]["dashArray"]
    assert style["l3"]["dashArray"] == mapview.LINK_STATE_STYLE["degraded"]["dashArray"]
    tips = {f["properties"]["id"]: f["properties"]["tooltip"] for f in mapview.link_features(s)["features"]}
    assert "35 % capacity" in tips["l3"]


def test_only_flash_and_immediate_routes_are_highlighted():
    s = Situation.from_dict({**BASE, "routes": [{"priority": "routine", "src": "a", "dst": "cc", "links": ["l2"]}]})
    routes = {f["properties"]["id"]: f["properties"]["style"]["className"] for f in mapview.route_features(s)["features"]}
    assert routes == {"l1": "emc-route emc-route-flash", "l3": "emc-route emc-route-immediate"}


def test_popup_escapes_operator_text():
    s = Situation.from_dict({"t_s": 0, "nodes": [{"id": "a", "lat_deg": 0, "lon_deg": 0, "operator": "<script>x</script>"}]})
    popup = mapview.node_features(s)["features"][0]["properties"]["popup"]
    assert "<script>" not in popup and "&lt;script&gt;" in popup


def test_map_html_loads_nothing_from_the_internet_unless_tiles_are_asked_for():
    use_local_assets("/app/static")
    s = Situation.from_dict(BASE)
    offline = mapview.situation_map(s).get_root().render()
    urls = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", offline)
    assert urls == [] and "/app/static/vendor/leaflet/leaflet.js" in offline
    assert "tile.openstreetmap" not in offline
    online = mapview.situation_map(s, online_tiles=True).get_root().render()
    assert "tile.openstreetmap" in online


def test_hazard_shapes_become_circles_polygons_and_tracks():
    s = Situation.from_dict({"t_s": 0, "hazards": [
        {"hazard": "earthquake", "name": "M8.0", "shapes": [{"shape": "circle", "coords": [[31.0, 103.4]], "radius_m": 50000, "label": "IX"}]},
        {"hazard": "typhoon", "shapes": [{"shape": "line", "coords": [[20, 130], [25, 125]]}]},
        {"hazard": "fire", "shapes": [{"shape": "polygon", "coords": [[1, 1], [1, 2], [2, 2]]}]}]})
    feats = mapview.hazard_features(s.hazards)["features"]
    assert [f["geometry"]["type"] for f in feats] == ["Point", "LineString", "Polygon"]
    assert feats[0]["properties"]["radius_m"] == 50000
    assert feats[2]["geometry"]["coordinates"][0][0] == feats[2]["geometry"]["coordinates"][0][-1]  # ring closed


def test_vendored_assets_and_basemap_ship_with_licences():
    for rel in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "vendor/leaflet/LICENSE",
                "vendor/jquery/jquery.min.js", "vendor/jquery/LICENSE.txt", "basemap/README.md"):
        assert (STATIC_DIR / rel).is_file(), rel
    import json

    fc = json.loads(BASEMAP_PATH.read_text())
    names = {f["properties"]["name"] for f in fc["features"]}
    assert {"China", "Japan", "India"} <= names and "Natural Earth" in fc["attribution"]


# ------------------------------------------------------------------ panels


def test_priority_table_computes_ratio_and_queued_from_the_situation():
    s = Situation.from_dict({**BASE, "nodes": [dict(BASE["nodes"][0], queue_depths=[2, 0, 0, 5]),
                                               dict(BASE["nodes"][1], queue_depths=[1, 1, 0, 0])] + BASE["nodes"][2:]})
    t = panels.priority_table(s).set_index("priority")
    assert list(t.index) == ["FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"]
    assert t.loc["FLASH", "delivered %"] == 75.0 and t.loc["FLASH", "queued"] == 3
    assert t.loc["ROUTINE", "queued"] == 5 and t.loc["IMMEDIATE", "sent"] == 0


def test_usage_table_counts_link_states_and_money_by_kind():
    t = panels.usage_table(Situation.from_dict(BASE)).set_index("kind")
    assert t.loc["Cellular", "down"] == 1 and t.loc["HTS Ka/Ku (GEO)", "degraded"] == 1
    assert t.loc["Tiantong (GEO)", "cost CNY"] == 30.0 and t.loc["Tiantong (GEO)", "MB carried"] == 2.5


def test_feed_shows_flash_and_alerts_newest_first_not_info():
    t = panels.feed_table(Situation.from_dict(BASE))
    assert list(t["text"]) == ["trapped"] and t.loc[0, "level"] == "FLASH"


def test_headline_counts():
    h = panels.headline(Situation.from_dict(BASE))
    assert (h["nodes"], h["nodes off air"], h["nodes cut off"], h["links down"], h["links degraded"]) == (4, 1, 1, 1, 1)


def test_a_drill_latency_of_hundredths_of_a_second_is_not_shown_as_zero():
    """The Liangshan drill measured FLASH p50 0.035 s; the panel used to round it to 0.0."""
    s = Situation.from_dict({"t_s": 0, "stats": [{"priority": 0, "sent": 6, "delivered": 6,
                                                  "latency_p50_s": 0.03508679999981723, "latency_p95_s": 0.0366}]})
    t = panels.priority_table(s).set_index("priority")
    assert t.loc["FLASH", "p50 s"] == 0.0351 and t.loc["FLASH", "p95 s"] == 0.0366
    shown = panels.for_display(panels.priority_table(s)).set_index("priority")
    assert (shown.loc["FLASH", "delivered %"], shown.loc["FLASH", "p50 s"]) == ("100.0", "0.0351")
    assert shown.loc["ROUTINE", "p50 s"] == "—" and shown.loc["ROUTINE", "delivered %"] == "—"


@pytest.mark.parametrize("seconds,text", [(0.0351, "0.0351"), (0.5, "0.5"), (2.04, "2.04"), (12.345, "12.3"),
                                          (3600.4, "3,600"), (0.0004, "< 0.001")])
def test_seconds_read_with_three_significant_digits(seconds, text):
    assert panels.fmt_seconds(seconds) == text


def test_small_money_and_data_carried_keep_their_figures():
    s = Situation.from_dict({"t_s": 0, "usage": [{"kind": "tiantong", "bytes": 21114, "cost_cny": 0.2111},
                                                 {"kind": "cellular", "bytes": 900, "cost_cny": 0.0008}]})
    shown = panels.for_display(panels.usage_table(s)).set_index("kind")
    assert (shown.loc["Tiantong (GEO)", "MB carried"], shown.loc["Tiantong (GEO)", "cost CNY"]) == ("0.0211", "0.211")
    assert shown.loc["Cellular", "MB carried"] == "< 0.001" and shown.loc["Cellular", "cost CNY"] == "< 0.001"
