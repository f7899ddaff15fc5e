"""Map drawing benchmark: one GeoJSON FeatureCollection per layer vs one folium object per item.

Builds the same situation (default 1,000 nodes, 5,000 links) both ways, side by side in one
run, and times (a) the server side: building the folium map and rendering its HTML, and
(b) the browser: headless system Chromium loading the page from a loopback HTTP server
(Leaflet served locally, no internet) until every node and link path is in the DOM.
Prints both, the ratio, and finally one JSON line.

    .venv/bin/python benchmarks/ui_bench.py [--nodes 1000] [--links 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import folium

from emcomm.ui import mapview
from emcomm.ui.assets import STATIC_DIR, use_local_assets
from emcomm.ui.situation import Situation
from emcomm.ui.synthetic import random_situation

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


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


def build(kind: str, s: Situation) -> tuple[str, float]:
    t0 = time.perf_counter()
    m = naive_map(s) if kind == "naive" else mapview.situation_map(s, basemap=None)
    html = m.get_root().render()
    return html, time.perf_counter() - t0


def browser_draw_s(browser, url: str, expected_paths: int) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith("http://127.0.0.1"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(f"document.querySelectorAll('path.leaflet-interactive').length >= {expected_paths}",
                           timeout=300_000, polling=50)
    dt = time.perf_counter() - t0
    page.close()
    if outside:
        raise SystemExit(f"the page tried to reach the internet: {outside[:3]}")
    return dt


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


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

    s = random_situation(args.nodes, args.links, seed=7)
    expected = args.nodes + args.links  # every node and link path (routes add more in ours)
    root = Path(tempfile.mkdtemp(prefix="emcomm-ui-bench-"))
    (root / "static").symlink_to(STATIC_DIR)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    use_local_assets(f"{base}/static")

    results: dict[str, dict[str, list[float]]] = {k: {"build_s": [], "browser_s": [], "bytes": []} for k in ("naive", "geojson")}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        for i in range(args.repeat):
            for kind in ("naive", "geojson"):  # interleaved, so both see the same machine load
                html, build_s = build(kind, s)
                (root / f"{kind}.html").write_text(html)
                draw_s = browser_draw_s(browser, f"{base}/{kind}.html?{i}", expected)
                results[kind]["build_s"].append(build_s)
                results[kind]["browser_s"].append(draw_s)
                results[kind]["bytes"].append(len(html.encode()))
                print(f"run {i + 1} {kind:8s} build {build_s:6.2f} s  browser {draw_s:6.2f} s  html {len(html) / 1e6:5.2f} MB", flush=True)
        browser.close()
    server.shutdown()
    shutil.rmtree(root, ignore_errors=True)

    med = {k: {m: statistics.median(v) for m, v in r.items()} for k, r in results.items()}
    total = {k: med[k]["build_s"] + med[k]["browser_s"] for k in med}
    ratio_total = total["naive"] / total["geojson"]
    ratio_browser = med["naive"]["browser_s"] / med["geojson"]["browser_s"]
    print(f"median naive   : build {med['naive']['build_s']:.2f} s + browser {med['naive']['browser_s']:.2f} s = {total['naive']:.2f} s")
    print(f"median geojson : build {med['geojson']['build_s']:.2f} s + browser {med['geojson']['browser_s']:.2f} s = {total['geojson']:.2f} s")
    print(f"speed-up: {ratio_total:.1f}x end to end, {ratio_browser:.1f}x in the browser alone (target >= 4x)")
    print(json.dumps({"bench": "ui_map_draw", "nodes": args.nodes, "links": args.links, "repeat": args.repeat,
                      "naive_build_s": round(med["naive"]["build_s"], 3), "naive_browser_s": round(med["naive"]["browser_s"], 3),
                      "geojson_build_s": round(med["geojson"]["build_s"], 3),
                      "geojson_browser_s": round(med["geojson"]["browser_s"], 3),
                      "naive_html_bytes": int(med["naive"]["bytes"]), "geojson_html_bytes": int(med["geojson"]["bytes"]),
                      "speedup_end_to_end": round(ratio_total, 2), "speedup_browser": round(ratio_browser, 2)}))


if __name__ == "__main__":
    main()
