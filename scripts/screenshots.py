"""Regenerate the README's screenshots of the command-centre map.

Owns only the steps that make ``docs/img/*.png``: run the Zhengzhou drill (or take a given
recording), serve it with ``emcomm ui --replay`` on a free loopback port, and photograph it
before the flood and at the peak; start ``emcomm demo`` and photograph its live map mid-run.
It changes no project code and sends nothing off this machine: the headless Chromium it drives
(the system ``chromium``, never Playwright's own download) has every non-loopback request
aborted, and the script fails if the page tried one.

Usage (from the project root, with the test extra installed: ``pip install -e '.[test]'``)::

    .venv/bin/python scripts/screenshots.py zhengzhou            # runs a 36 h drill first (~2-4 min)
    .venv/bin/python scripts/screenshots.py zhengzhou --recording runs/zz/recording.emrec
    .venv/bin/python scripts/screenshots.py demo                 # starts emcomm demo (~2 min), Ctrl-C's it
    .venv/bin/python scripts/screenshots.py all

Every server and browser it starts is stopped again (the demo with SIGINT, as a user's Ctrl-C).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from emcomm.ui.offline_page import CHROMIUM_ARGS, OfflinePage, chromium_path

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
SCENARIO = ROOT / "drills" / "zhengzhou_2021.toml"
VIEWPORT = (1600, 1000)                      # the page is laid out at this size...
IMAGE_SIZE = (1280, 800)                     # ...and the picture scaled down to this
MAX_BYTES = 300_000          # README images stay small
WAIT_S = 120.0
# Zhengzhou drill (t = seconds from 20 July 2021 00:00 CST): "before" is the morning of 20 July,
# before the 16:00-17:00 cloudburst; the peak share of base stations off air comes on 21 July
# (summary.json: outage.base_stations_out_peak_s), when FLASH/IMMEDIATE routes ride Tiantong/HTS.
ZZ_DURATION_S = 129_600      # 36 h: long enough to pass the peak, short enough to run in minutes
ZZ_BEFORE_S = 8 * 3600


class Failure(Exception):
    """Something the screenshots need did not happen (the message says what)."""


def emcomm_cmd() -> list[str]:
    return [sys.executable, "-m", "emcomm"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"server exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise Failure(f"{url} did not answer within {timeout_s:g} s")


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, wait_s: float = 20.0) -> None:
    """Stop a child started with start_new_session=True and everything in its process group."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(5)


class Browser:
    """The system Chromium under Playwright, with a page whose outside requests are aborted."""

    def __init__(self) -> None:
        exe = chromium_path()
        if exe is None:
            raise Failure("no system chromium (Debian/Ubuntu: apt-get install -y chromium)")
        from playwright.sync_api import sync_playwright

        self.outside: list[str] = []       # over every page this browser has opened
        self.errors: list[str] = []
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        self._page: OfflinePage | None = None
        self.new_page()

    def new_page(self) -> None:
        """A fresh context and page: a new Streamlit session, nothing remembered in the browser
        (a folded sidebar would otherwise stay folded)."""
        if self._page is not None:
            self._page.close()
        self._page = OfflinePage(self._browser, VIEWPORT, outside=self.outside, errors=self.errors)
        self.page = self._page.page

    def close(self) -> None:
        if self._page is not None:
            self._page.close()
        self._browser.close()
        self._pw.stop()

    def map_frame(self, timeout_s: float = WAIT_S):
        """The frame holding the Leaflet map, once it shows node markers."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for f in self.page.frames:
                try:
                    if f.locator("path.emc-node").count() > 0:
                        return f
                except Exception:  # frame detached while looking
                    continue
            self.page.wait_for_timeout(500)
        raise Failure("no map with node markers appeared")

    def count(self, frame, cls: str) -> int:
        return frame.evaluate("c => window.emcCount ? window.emcCount(c) : -1", cls)

    def settle(self, frame, classes: tuple[str, ...] = ("emc-node", "emc-link", "emc-route"),
               quiet_s: float = 3.0, timeout_s: float = 60.0) -> dict[str, int]:
        """Wait until the feature counts on the map stop changing for ``quiet_s``."""
        last, since = None, time.monotonic()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = {c: self.count(frame, c) for c in classes}
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s and self.streamlit_idle():
                return now
            self.page.wait_for_timeout(500)
        return last or {}

    def focus_on_map(self, frame, hide_layers: tuple[str, ...] = ()) -> None:
        """Lay the page out for a picture: sidebar folded away, the situation heading at the top
        (headline figures, map and first panels in view), the named layers switched off in the
        map's layer control, as a user would."""
        fold = self.page.locator('[data-testid="stSidebarCollapseButton"]')
        if fold.count():
            fold.first.click()
            self.page.wait_for_timeout(1000)
        for label in hide_layers:
            box = frame.locator(".leaflet-control-layers label").filter(has_text=label).locator("input")
            if box.count() != 1:
                raise Failure(f"no layer {label!r} in the map's layer control")
            if box.is_checked():
                box.evaluate("e => e.click()")  # the control is folded; click the input itself
        heading = self.page.locator("h3").filter(has_text=re.compile(r"situation at|^Live"))
        if heading.count():
            heading.first.evaluate("e => e.scrollIntoView({block: 'start'})")
        frame.evaluate("() => window.emcMap && window.emcMap.invalidateSize()")
        self.page.wait_for_timeout(1500)

    def streamlit_idle(self) -> bool:
        return self.page.locator('[data-testid="stStatusWidget"]').count() == 0

    def shot(self, path: Path) -> Path:
        """Screenshot of the viewport scaled to IMAGE_SIZE, as PNG (in fewer colours if over MAX_BYTES)."""
        from PIL import Image

        raw = self.page.screenshot(full_page=False)
        img = Image.open(io.BytesIO(raw)).convert("RGB").resize(IMAGE_SIZE, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        for colours in (256, 128, 64):  # still too big: fewer colours (octree keeps thin coloured lines apart)
            if buf.tell() <= MAX_BYTES:
                break
            buf = io.BytesIO()
            img.quantize(colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
                buf, format="PNG", optimize=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
        print(f"wrote {path.relative_to(ROOT)} ({buf.tell() / 1000:.0f} kB)")
        return path


def run_zhengzhou_drill(out: Path) -> Path:
    cmd = emcomm_cmd() + ["drill", "run", str(SCENARIO), "--out", str(out), "--duration", str(ZZ_DURATION_S),
                          "--no-report"]
    print("running", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out / "recording.emrec"


def set_slider(b: Browser, t_s: float) -> float:
    """Move the replay's time slider to the step nearest ``t_s`` as a user would: a click on the
    track near the spot, then arrow keys to the exact step (one page update per move, not hundreds)."""
    box = b.page.locator('[data-testid="stSlider"]').filter(has_text="Time since start")
    thumb = box.locator('input[type="range"]')
    lo, hi, step = (float(thumb.get_attribute(a)) for a in ("min", "max", "step"))
    want = lo + round((min(max(t_s, lo), hi) - lo) / step) * step
    got = float(thumb.input_value())
    for _ in range(40):
        if abs(got - want) < step / 2:
            return got
        if abs(got - want) > 4 * step:  # far off (first move, or a click that landed while the page moved)
            track = box.locator('[data-orientation="horizontal"]').nth(1).bounding_box()
            if track is None:
                raise Failure("the time slider is not visible")
            b.page.mouse.click(track["x"] + track["width"] * (want - lo) / (hi - lo), track["y"] + track["height"] / 2)
        else:
            thumb.focus()
            thumb.press("ArrowRight" if got < want else "ArrowLeft")
        b.page.wait_for_timeout(700)
        got = float(thumb.input_value())
    raise Failure(f"time slider stuck at {got:g} s, wanted {want:g} s")


def zhengzhou(recording: Path | None) -> None:
    from emcomm.ui.replay import read_recording, situation_at

    tmp = Path(tempfile.mkdtemp(prefix="emcomm-shots-"))
    try:
        rec_path = recording or run_zhengzhou_drill(tmp / "zz")
        rec = read_recording(rec_path)
        peak_s = peak_time(rec, situation_at)
        port = free_port()
        log = tmp / "ui.log"
        with open(log, "wb") as logf:
            proc = subprocess.Popen(emcomm_cmd() + ["ui", "--replay", str(rec_path), "--port", str(port)],
                                    stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        b = None
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_http(url + "_stcore/health", proc, log)
            b = Browser()
            seen: dict[str, dict[str, int]] = {}
            for name, t in (("zhengzhou_before", ZZ_BEFORE_S), ("zhengzhou_peak", peak_s)):
                b.new_page()
                b.page.goto(url)
                frame = b.map_frame()
                set_slider(b, t)
                counts = b.settle(frame, ("emc-link-down", "emc-route-flash", "emc-route-immediate", "emc-node-offair",
                                          "emc-hazard"))
                print(f"{name}: t = {t:g} s, on the map {counts}")
                seen[name] = counts
                # the fibre backhaul lines of ~170 base stations radiate from the command centre and hide everything under
                # them; with that layer off, the teams' cellular, radio and satellite links show.
                b.focus_on_map(frame, hide_layers=("Links: Fibre",))
                b.shot(IMG / f"{name}.png")
            before, peak = seen["zhengzhou_before"], seen["zhengzhou_peak"]
            if not (peak["emc-link-down"] > before["emc-link-down"] and peak["emc-node-offair"] > 0
                    and peak["emc-hazard"] > 0):
                raise Failure(f"the peak picture does not show the collapse (before {before}, peak {peak})")
            if b.outside:
                raise Failure(f"the page tried to leave the machine: {b.outside}")
            if b.errors:
                raise Failure(f"page errors: {b.errors}")
        finally:
            if b is not None:
                b.close()
            stop_group(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


SATELLITE_KINDS = {"tiantong", "hts", "beidou", "beidou_global", "leo"}


def peak_time(rec, situation_at) -> float:
    """The recorded moment with the most terrestrial links down, the earliest such one at which
    FLASH/IMMEDIATE routes run over satellite links."""
    lo, hi = rec.t_range
    best, best_key = lo, (-1, -1)
    t = lo
    while t <= hi:
        s = situation_at(rec, t)
        kinds = {l.id: l.kind for l in s.links}
        down = sum(l.state == "down" and l.kind not in SATELLITE_KINDS for l in s.links)
        sat = sum(kinds.get(lid) in SATELLITE_KINDS for r in s.routes if r.priority <= 1 for lid in r.links)
        key = (down, sat)
        if key > best_key:
            best, best_key = t, key
        t += 1800.0
    return best


DEMO_URL = re.compile(r"https?://127\.0\.0\.1:\d+/?")


def demo(mid_run_s: float) -> None:
    """Start ``emcomm demo`` (map mode, no display: it prints the address), photograph the live
    map ``mid_run_s`` after the map answers, then stop the demo with SIGINT and check nothing is left."""
    tmp = Path(tempfile.mkdtemp(prefix="emcomm-demo-shots-"))
    log = tmp / "demo.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["BROWSER"] = "true"  # should a display exist after all, no browser window is opened by the demo
    env["PYTHONUNBUFFERED"] = "1"  # its narration reaches the log as it is said
    with open(log, "wb") as logf:
        proc = subprocess.Popen(emcomm_cmd() + ["demo", "--out", str(tmp / "out")], stdout=logf,
                                stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True)
    b = None
    try:
        deadline = time.monotonic() + WAIT_S
        url = None
        while url is None:
            if proc.poll() is not None:
                raise Failure(f"emcomm demo exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise Failure("emcomm demo printed no map address")
            m = DEMO_URL.search(log.read_text(errors="replace"))
            url = m.group(0) if m else None
            time.sleep(0.5)
        print("demo map at", url, flush=True)
        wait_http(url.rstrip("/") + "/_stcore/health", proc, log)
        b = Browser()
        b.page.goto(url)
        frame = b.map_frame()
        b.page.wait_for_timeout(int(mid_run_s * 1000))
        counts = b.settle(frame, ("emc-node", "emc-link", "emc-link-down", "emc-route"))
        print(f"demo mid-run: on the map {counts}")
        b.focus_on_map(frame)
        b.shot(IMG / "demo_map.png")
        if b.outside:
            raise Failure(f"the page tried to leave the machine: {b.outside}")
    finally:
        if b is not None:
            b.close()
        stop_group(proc, signal.SIGINT, wait_s=60.0)
        left = leftover(tmp)
        print(log.read_text(errors="replace")[-1500:])
        shutil.rmtree(tmp, ignore_errors=True)
    if left:
        raise Failure(f"processes left after Ctrl-C of the demo: {left}")


def leftover(tmp: Path) -> list[str]:
    """Processes whose command line mentions the demo's temporary directory."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if str(tmp) in line and "ps -eo" not in line]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["zhengzhou", "demo", "all"])
    ap.add_argument("--recording", type=Path, help="Zhengzhou drill recording to use instead of running the drill")
    ap.add_argument("--mid-run", type=float, default=60.0,
                    help="demo: seconds after the map appears to take the picture (default 60)")
    args = ap.parse_args(argv)
    try:
        if args.what in ("zhengzhou", "all"):
            zhengzhou(args.recording)
        if args.what in ("demo", "all"):
            demo(args.mid_run)
    except (Failure, subprocess.CalledProcessError) as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
