"""Map drawing benchmark, in the Streamlit page: the app's map component vs one folium object per item.

Serves one Streamlit page (this file's ``page``) on loopback that draws the same synthetic
situation (default 1,000 nodes, 5,000 links) one of two ways, chosen by a query parameter:

* ``naive``: one folium CircleMarker (with popup) per node and one PolyLine per link,
  shown with ``st_folium``;
* ``app``: what ``emcomm ui`` does: the ``emcomm_map`` component fed by
  ``layers.situation_payloads`` (compact payloads, links on a canvas).

Headless system Chromium opens each page (interleaved, same server, same run) and the time
is taken from the request until every node and link is drawn in the page: for ``naive``
until the map frame holds that many Leaflet paths, for ``app`` until the component marks
the animation frame after Leaflet drew them. Server work (building the map) is inside
that time. It also prints how many bytes a live update sends when one link changes.
Prints both times and the ratio, and last one JSON line.

    .venv/bin/python benchmarks/ui_bench.py [--nodes 1000] [--links 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import folium

from emcomm.ui import mapview
from emcomm.ui.assets import STATIC_DIR
from emcomm.ui.layers import layers_to_send, situation_payloads
from emcomm.ui.situation import Situation
from emcomm.ui.synthetic import random_situation

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SEED = 7


def naive_map(s: Situation) -> folium.Map:
    """The naive way: one folium CircleMarker (with popup) per node, one PolyLine per link."""
    pos = {n.id: (n.lat_deg, n.lon_deg) for n in s.nodes}
    m = folium.Map(location=[s.nodes[0].lat_deg, s.nodes[0].lon_deg], zoom_start=8, tiles=None)
    for l in s.links:
        st = mapview.LINK_STATE_STYLE[l.state]
        folium.PolyLine([pos[l.a], pos[l.b]], color=mapview.KIND_COLOURS.get(l.kind, "#333"), weight=st["weight"],
                        opacity=st["opacity"], dash_array=st["dashArray"], tooltip=f"{l.kind} {l.id}: {l.state}").add_to(m)
    for n in s.nodes:
        st = mapview.node_state(n)
        folium.CircleMarker([n.lat_deg, n.lon_deg], radius=6, color="#111827", weight=1, fill=True,
                            fill_color=mapview.POWER_FILL.get(n.power, "#16a34a"), fill_opacity=0.9,
                            popup=folium.Popup(mapview.node_popup(n, st), max_width=340),
                            tooltip=f"{n.label}: {st}").add_to(m)
    return m


# ------------------------------------------------------------------ the page (runs inside Streamlit)


def page() -> None:
    """The benchmark page: ``?mode=naive|app&nodes=N&links=M``. The situation itself is
    cached (it is the input, not drawing work); each mode builds its map from it on every load."""
    import streamlit as st
    from streamlit_folium import st_folium

    from emcomm.ui.assets import use_local_assets
    from emcomm.ui.mapcomponent import base_spec, show_map

    @st.cache_resource
    def situation(n: int, m: int) -> Situation:
        return random_situation(n, m, seed=SEED)

    q = st.query_params
    s = situation(int(q.get("nodes", 1000)), int(q.get("links", 5000)))
    st.set_page_config(layout="wide")
    if q.get("mode") == "naive":
        use_local_assets()
        st_folium(naive_map(s), key="map", height=620, use_container_width=True, returned_objects=[])
    else:
        b = mapview.situation_bounds(s)
        show_map(base_spec(center=((b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2), bounds=b,
                           kinds=sorted({l.kind for l in s.links})), situation_payloads(s), key="map")


# ------------------------------------------------------------------ the driver


_DRAWN_JS = """
([mode, expected]) => Array.from(document.querySelectorAll('iframe')).some(f => {
  const d = f.contentDocument;
  if (!d || !d.body) return false;
  if (mode === 'naive') return d.querySelectorAll('path.leaflet-interactive').length >= expected;
  return Number(d.body.getAttribute('data-emc-drawn') || 0) >= expected;
})
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(root: Path, port: int) -> subprocess.Popen:
    stub = root / "bench_page.py"
    stub.write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
                    "import ui_bench\nui_bench.page()\n")
    (root / "static").symlink_to(STATIC_DIR)  # Streamlit serves <page folder>/static
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(stub), "--server.address", "127.0.0.1",
                             "--server.port", str(port), "--server.headless", "true",
                             "--server.enableStaticServing", "true", "--browser.gatherUsageStats", "false",
                             "--server.fileWatcherType", "none", "--global.developmentMode", "false"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit(f"Streamlit did not start: {(root / 'server.log').read_text(errors='replace')[-2000:]}")


def _page_draw_s(browser, url: str, mode: str, expected: int) -> float:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(_DRAWN_JS, arg=[mode, expected], timeout=600_000, polling=50)
    dt = time.perf_counter() - t0
    ctx.close()
    if outside:
        raise SystemExit(f"the page tried to reach the internet: {outside[:3]}")
    return dt


def _update_bytes(s: Situation) -> tuple[int, int]:
    """Bytes of layer data sent for the first picture, and for an update where one link went down."""
    first = situation_payloads(s)
    sent, have = layers_to_send(first, {})
    full = sum(len(x["d"].encode()) for x in sent if x["d"])
    changed = dataclasses.replace(s, links=(dataclasses.replace(s.links[0], state="down", capacity_pct=0.0),) + s.links[1:])
    sent2, _ = layers_to_send(situation_payloads(changed), have)
    return full, sum(len(x["d"].encode()) for x in sent2 if x["d"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--links", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise SystemExit("system chromium not found (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    expected = args.nodes + args.links
    root = Path(tempfile.mkdtemp(prefix="emcomm-ui-bench-"))
    port = _free_port()
    server = _start_server(root, port)
    times: dict[str, list[float]] = {"naive": [], "app": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            warm = f"http://127.0.0.1:{port}/?mode=app&nodes={args.nodes}&links={args.links}"
            _page_draw_s(browser, warm, "app", expected)  # first load: imports, situation cache; not timed
            for i in range(args.repeat):
                for mode in ("naive", "app"):  # interleaved, so both see the same machine load
                    url = f"http://127.0.0.1:{port}/?mode={mode}&nodes={args.nodes}&links={args.links}&run={i}"
                    dt = _page_draw_s(browser, url, mode, expected)
                    times[mode].append(dt)
                    print(f"run {i + 1} {mode:6s} request -> fully drawn in the Streamlit page: {dt:6.2f} s", flush=True)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)

    full_b, update_b = _update_bytes(random_situation(args.nodes, args.links, seed=SEED))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["naive"] / med["app"]
    print(f"median naive (st_folium, one object per item): {med['naive']:.2f} s")
    print(f"median app   (emcomm_map component)          : {med['app']:.2f} s")
    print(f"speed-up in the page: {ratio:.1f}x (target >= 4x)")
    print(f"live update, one link down: {update_b / 1e3:.0f} kB of layer data sent instead of {full_b / 1e3:.0f} kB")
    print(json.dumps({"bench": "ui_map_draw_streamlit", "nodes": args.nodes, "links": args.links, "repeat": args.repeat,
                      "naive_page_s": round(med["naive"], 3), "app_page_s": round(med["app"], 3),
                      "naive_runs_s": [round(x, 3) for x in times["naive"]], "app_runs_s": [round(x, 3) for x in times["app"]],
                      "speedup_page": round(ratio, 2), "full_layers_bytes": full_b, "one_link_update_bytes": update_b}))


if __name__ == "__main__":
    main()
