"""The command-centre page in a real browser: replay draws what the recording says, the time
slider changes it, bad input gives a message on the page, and nothing leaves the machine.

Links and routes are drawn on a canvas (no DOM paths), so features are counted with the
map component's ``emcCount(className)`` hook, which walks the Leaflet layers on the map;
one test also reads the canvas pixels under a link to prove it was really painted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emcomm.ui.panels import headline
from emcomm.ui.replay import read_recording, situation_at

from .conftest import UiServer

WAIT_MS = 90_000


def _map_frame(page):
    """The frame holding the Leaflet map (the streamlit-folium component)."""
    for _ in range(WAIT_MS // 500):
        for f in page.frames:
            try:
                if f.locator("path.emc-node").count() > 0:
                    return f
            except Exception:  # frame detached while looking
                continue
        page.wait_for_timeout(500)
    raise AssertionError("no map frame with node markers appeared")


def _count(frame, cls: str) -> int:
    """Features on the map whose class list has ``cls`` (canvas and SVG layers alike)."""
    return frame.evaluate("c => window.emcCount ? window.emcCount(c) : -1", cls)


def _wait_count(page, frame, cls: str, expected: int) -> int:
    n = -1
    for _ in range(WAIT_MS // 500):
        n = _count(frame, cls)
        if n == expected:
            return n
        page.wait_for_timeout(500)
    return n


# Reads the Links canvas under the middle of link ``id`` (drawn with a tooltip naming it):
# the alpha of that pixel, > 0 when the link was painted there.
_CANVAS_ALPHA_JS = """
(id) => {
  const map = window.emcMap;
  let line = null;
  map.eachLayer(l => { if (l.options && l.options.emcTip && l.options.emcTip.includes(' ' + id + ':')
                               && l.getLatLngs) line = l; });
  if (!line) return -1;
  const [a, b] = line.getLatLngs();
  const mid = map.latLngToContainerPoint([(a.lat + b.lat) / 2, (a.lng + b.lng) / 2]);
  const canvas = map.getPane('emcLinks').querySelector('canvas');
  const cr = canvas.getBoundingClientRect(), mr = map.getContainer().getBoundingClientRect();
  const k = canvas.width / cr.width;
  const x = Math.round((mid.x + mr.left - cr.left) * k), y = Math.round((mid.y + mr.top - cr.top) * k);
  let best = 0;
  const px = canvas.getContext('2d').getImageData(x - 2, y - 2, 5, 5).data;
  for (let i = 3; i < px.length; i += 4) best = Math.max(best, px[i]);
  return best;
}
"""


def _metric(page, label: str) -> int:
    loc = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    text = loc.inner_text()
    return int(re.findall(r"\d+", text.split(label, 1)[1])[0])


CC_OPERATOR = "Wang Fang — Henan EOC (authority)"


@pytest.fixture(scope="module")
def roster_path(tmp_path_factory) -> Path:
    """A signed roster naming the command-centre node's operator."""
    from emcomm.node.identity import Identity
    from emcomm.node.roster import Roster

    auth = Identity.generate("cc-authority", name="Duty Officer", org="Henan EOC", phone="", role="authority")
    cc = Identity.generate("cc", name="Wang Fang", org="Henan EOC", phone="", role="authority")
    path = tmp_path_factory.mktemp("roster") / "cc.roster"
    Roster.empty(auth.public.verify_key).add(cc.public).sign(auth, issued_s=1.0).save(path)
    return path


@pytest.fixture(scope="module")
def replay_server(sample_recording: Path, roster_path: Path):
    srv = UiServer("--replay", str(sample_recording), "--roster", str(roster_path))
    yield srv
    srv.stop()


def test_replay_draws_every_node_and_link_with_legend_offline(guarded, replay_server, sample_recording):
    rec = read_recording(sample_recording)
    s0 = situation_at(rec, rec.t_range[0])
    page = guarded.page
    page.goto(replay_server.url)
    frame = _map_frame(page)
    assert _wait_count(page, frame, "emc-node", len(s0.nodes)) == len(s0.nodes)
    assert frame.locator("path.emc-node").count() == len(s0.nodes)  # nodes stay SVG paths
    assert _wait_count(page, frame, "emc-link", len(s0.links)) == len(s0.links)
    # the canvas really holds the links: pixels painted under a link's middle
    assert frame.evaluate(_CANVAS_ALPHA_JS, "t5-leo") > 0
    assert frame.locator("#emc-legend").count() == 1
    legend = frame.locator("#emc-legend").inner_text()
    for word in ("on battery", "cut off", "Beidou RDSS", "Tiantong", "degraded", "carrying FLASH", "flood"):
        assert word in legend
    # the offline basemap is drawn from the local GeoJSON (country outlines)
    for _ in range(WAIT_MS // 500):
        if frame.locator("path.emc-basemap").count() > 100:
            break
        page.wait_for_timeout(500)
    assert frame.locator("path.emc-basemap").count() > 100
    assert _metric(page, "links down") == headline(s0)["links down"] == 0
    # a command-centre screen, not a developer's: no Deploy button or developer menu
    assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0
    # a node's popup names its operator from the roster (not the recording's text)
    frame.locator("path.emc-node-command").click()
    popup = frame.locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    assert CC_OPERATOR in popup.inner_text() and s0.node("cc").operator not in popup.inner_text()
    guarded.shot("ui_replay_start")
    assert not guarded.errors, guarded.errors


def test_time_slider_shows_the_collapse_of_terrestrial_links(guarded, replay_server, sample_recording):
    rec = read_recording(sample_recording)
    end = situation_at(rec, rec.t_range[1])
    down = sum(l.state == "down" for l in end.links)
    assert down > 0 and any(l.kind == "cellular" and l.state == "down" for l in end.links)
    page = guarded.page
    page.goto(replay_server.url)
    frame = _map_frame(page)
    assert _wait_count(page, frame, "emc-link", len(end.links)) == len(end.links)
    assert _count(frame, "emc-link-down") == 0
    zoom = frame.evaluate("window.emcMap.getZoom()")
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Time since start").get_by_role("slider")
    slider.focus()
    slider.press("End")
    assert _wait_count(page, frame, "emc-link-down", down) == down
    assert _map_frame(page) == frame and frame.evaluate("window.emcMap.getZoom()") == zoom  # same map, updated in place
    offair = sum(not n.up for n in end.nodes)
    assert _wait_count(page, frame, "emc-node-offair", offair) == offair == 2
    assert frame.locator("path.emc-node-offair").count() == offair
    flash_links = {l.id for l in end.links if 0 in l.carrying}
    assert _count(frame, "emc-route-flash") == len(flash_links) > 0
    assert _count(frame, "emc-node-cutoff") == len(end.cut_off()) == 1
    assert _metric(page, "links down") == down
    assert _metric(page, "nodes off air") == offair
    # panels: the FLASH row of the delivery table and the feed show the recorded numbers
    flash = next(st for st in end.stats if st.priority == 0)
    row = page.locator('[data-testid="stTable"] tr').filter(has_text="FLASH").first
    cells = row.locator("td, th").all_inner_texts()
    assert cells[:3] == ["FLASH", str(flash.sent), str(flash.delivered)]
    feed = page.locator('[data-testid="stTable"]').filter(has_text="Hospital power failing")
    assert feed.count() == 1
    guarded.shot("ui_replay_end")
    assert not guarded.errors, guarded.errors


@pytest.mark.parametrize("content,expect", [
    (None, "does not exist"),
    (b"\x91\x00garbage", "not an emcomm recording"),
    (b"", "empty"),
])
def test_bad_recording_gives_a_message_and_the_basemap_still_draws(guarded, tmp_path, content, expect):
    path = tmp_path / "bad.emrec"
    if content is not None:
        path.write_bytes(content)
    srv = UiServer("--replay", str(path))
    try:
        page = guarded.page
        page.goto(srv.url)
        alert = page.locator('[data-testid="stAlert"]').first
        alert.wait_for(timeout=WAIT_MS)
        assert expect in alert.inner_text()
        found = False
        for _ in range(WAIT_MS // 500):
            if any(f.locator("path.emc-basemap").count() > 0 for f in page.frames):
                found = True
                break
            page.wait_for_timeout(500)
        assert found, "the basemap did not draw under the error message"
        guarded.shot(f"ui_bad_recording_{expect.split()[0]}")
    finally:
        srv.stop()
