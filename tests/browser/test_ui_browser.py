"""The command-centre page in a real browser: replay draws what the recording says, the time
slider changes it, bad input gives a message on the page, and nothing leaves the machine."""

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


def _wait_count(page, frame, selector: str, expected: int) -> int:
    n = -1
    for _ in range(WAIT_MS // 500):
        n = frame.locator(selector).count()
        if n == expected:
            return n
        page.wait_for_timeout(500)
    return n


def _metric(page, label: str) -> int:
    loc = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    text = loc.inner_text()
    return int(re.findall(r"\d+", text.split(label, 1)[1])[0])


@pytest.fixture(scope="module")
def replay_server(sample_recording: Path):
    srv = UiServer("--replay", str(sample_recording))
    yield srv
    srv.stop()


def test_replay_draws_every_node_and_link_with_legend_offline(guarded, replay_server, sample_recording):
    rec = read_recording(sample_recording)
    s0 = situation_at(rec, rec.t_range[0])
    page = guarded.page
    page.goto(replay_server.url)
    frame = _map_frame(page)
    assert _wait_count(page, frame, "path.emc-node", len(s0.nodes)) == len(s0.nodes)
    assert _wait_count(page, frame, "path.emc-link", len(s0.links)) == len(s0.links)
    assert frame.locator("#emc-legend").count() == 1
    legend = frame.locator("#emc-legend").inner_text()
    for word in ("on battery", "cut off", "Beidou RDSS", "Tiantong", "degraded", "carrying FLASH", "flood"):
        assert word in legend
    # the offline basemap is drawn from the local GeoJSON (country outlines)
    assert _wait_count(page, frame, "path.emc-basemap", 230) > 100
    assert _metric(page, "links down") == headline(s0)["links down"] == 0
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
    assert frame.locator("path.emc-link-down").count() == 0
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Time since start").get_by_role("slider")
    slider.focus()
    slider.press("End")
    assert _wait_count(page, _map_frame(page), "path.emc-link-down", down) == down
    frame = _map_frame(page)
    offair = sum(not n.up for n in end.nodes)
    assert frame.locator("path.emc-node-offair").count() == offair == 2
    flash_links = {l.id for l in end.links if 0 in l.carrying}
    assert frame.locator("path.emc-route-flash").count() == len(flash_links) > 0
    assert frame.locator("path.emc-node-cutoff").count() == len(end.cut_off()) == 1
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
