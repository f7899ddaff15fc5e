"""The Streamlit command-centre page: `emcomm ui --replay FILE` or `emcomm ui --live ENDPOINT...`.

Owns page layout and the feeding loop only; every picture and table comes from the pure
functions in ``mapview``, ``layers`` and ``panels``, and the map is the ``mapcomponent``
(built once in the browser, fed only the layers that changed). Run through ``emcomm ui`` (which starts Streamlit
with static serving on, bound to loopback); arguments after ``--`` are read here.
It never sends anything into the mesh (see ``emcomm.ui.live``).
"""

from __future__ import annotations

import argparse
import sys
import time

import streamlit as st

from emcomm.errors import EmcommError
from emcomm.ui import mapview, panels
from emcomm.ui.layers import situation_payloads
from emcomm.ui.mapcomponent import base_spec, show_map
from emcomm.ui.operators import with_roster_operators
from emcomm.ui.live import LiveFold, TelemetryListener, live_sources
from emcomm.ui.replay import read_recording, situation_at
from emcomm.ui.situation import Situation

SPEEDS = {"1×": 1.0, "10×": 10.0, "60×": 60.0, "300×": 300.0}
TICK_S = 1.0


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="emcomm ui (page)")
    p.add_argument("--replay", default=None)
    p.add_argument("--live", nargs="*", default=[])
    p.add_argument("--base", default=None)
    p.add_argument("--stale-after", type=float, default=30.0)
    p.add_argument("--refresh", type=float, default=3.0)
    p.add_argument("--online-tiles", action="store_true")
    p.add_argument("--roster", default=None)
    p.add_argument("--identity", default=None)    # live: subscribe to secure nodes as this rostered key
    return p.parse_args(sys.argv[1:])


@st.cache_data(show_spinner=False, max_entries=4)
def _load(path: str, mtime_key: float):  # mtime_key: reload when the file changes
    return read_recording(path)


@st.cache_data(show_spinner=False, max_entries=2)
def _load_roster(path: str, mtime_key: float):  # mtime_key: reload when the file changes
    from emcomm.node.roster import load_roster

    return load_roster(path)


def _roster(path: str | None):
    """The roster named on the command line, or None (a bad file is reported, the page goes on)."""
    if not path:
        return None
    try:
        return _load_roster(path, _mtime(path))
    except EmcommError as exc:
        st.warning(f"Operators not taken from the roster: {exc}")
        return None


def _mtime(path: str) -> float:
    import os

    try:
        return os.path.getmtime(path)
    except OSError:
        return -1.0


def _base(s: Situation | None, online_tiles: bool, height_px: int = 620) -> dict:
    b = mapview.situation_bounds(s) if s else None
    center = ((b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2) if b else (34.75, 113.65)
    kinds = sorted({l.kind for l in s.links}) if s and s.links else None
    return base_spec(center=center, online_tiles=online_tiles, kinds=kinds, height_px=height_px,
                     bounds=b if b and b[0] != b[1] else None)


def _draw(s: Situation, base: Situation | None, online_tiles: bool, now_s: float | None = None,
          stale_after_s: float | None = None, roster=None) -> None:
    if roster is not None:
        s = with_roster_operators(s, roster)
    h = panels.headline(s, now_s, stale_after_s)
    cols = st.columns(len(h))
    for c, (k, v) in zip(cols, h.items()):
        c.metric(k, v)
    left, right = st.columns([3, 2])
    with left:
        # The map is built once in the browser and keeps the user's zoom; of the situation
        # layers only those whose content hash changed are sent again.
        show_map(_base(base, online_tiles), situation_payloads(s, now_s, stale_after_s), key="map")
    with right:
        st.subheader("Delivery by priority")
        st.table(panels.for_display(panels.priority_table(s)).set_index("priority"))
        st.subheader("Link usage and cost by kind")
        st.table(panels.for_display(panels.usage_table(s)).set_index("kind"))
        st.subheader("FLASH messages and alerts")
        st.table(panels.feed_table(s).set_index("time"))
        st.subheader("Cut off from the command centre")
        cut = panels.cut_off_table(s)
        if cut.empty:
            st.caption("No node is cut off.")
        else:
            st.table(panels.for_display(cut).set_index("node"))
        st.subheader("Deepest queues")
        st.table(panels.queue_table(s).set_index("node"))


def replay_page(path: str, online_tiles: bool, roster=None) -> None:
    try:
        rec = _load(path, _mtime(path))
    except EmcommError as exc:
        st.error(f"Cannot replay: {exc}")
        st.caption("The map below shows the offline basemap only.")
        show_map(_base(None, online_tiles, height_px=500), key="map")
        return
    lo, hi = rec.t_range
    st.caption(f"Replay of **{rec.header.scenario}** (started {rec.header.start}); "
               f"{len(rec.records)} records, {len(rec.keyframe_times)} keyframes"
               + (" — the file ends in an incomplete record, shown up to the last complete one." if rec.truncated else ""))
    ss = st.session_state
    ss.setdefault("playing", False)
    if "t_s" not in ss:
        ss["t_s"] = float(lo)
    with st.sidebar:
        st.header("Replay")
        st.button("⏸ Pause" if ss["playing"] else "▶ Play", key="play_btn",
                  on_click=lambda: ss.update(playing=not ss["playing"]))
        speed = SPEEDS[st.select_slider("Speed", options=list(SPEEDS), value="60×", key="speed")]
        st.slider("Time since start (s)", min_value=float(lo), max_value=float(hi), step=max((hi - lo) / 500.0, 1.0),
                  key="t_s")
    t = float(ss["t_s"])
    try:
        s = situation_at(rec, t)
        first = situation_at(rec, lo)
    except EmcommError as exc:
        st.error(f"Cannot show t = {t:g} s: {exc}")
        return
    st.markdown(f"### {mapview._fmt_t(s.t_s)} — situation at {s.t_s:,.0f} s")
    _draw(s, first, online_tiles, roster=roster)
    if ss["playing"]:
        time.sleep(TICK_S)
        nxt = min(hi, t + speed * TICK_S)
        ss["t_s"] = nxt
        if nxt >= hi:
            ss["playing"] = False
        st.rerun()


def live_page(endpoints: list[str], base_path: str | None, stale_after_s: float, refresh_s: float,
              online_tiles: bool, roster=None, identity: str | None = None, roster_path: str | None = None) -> None:
    base = None
    if base_path:
        try:
            rec = _load(base_path, _mtime(base_path))
            base = situation_at(rec, rec.t_range[1])
        except EmcommError as exc:
            st.error(f"Base picture not loaded (nodes are listed without positions): {exc}")
    try:
        listener, fold = _listener(tuple(endpoints), base, identity, roster_path)
    except EmcommError as exc:
        st.error(str(exc))
        return

    @st.fragment(run_every=refresh_s)
    def tick() -> None:
        listener.poll(fold)
        now = time.monotonic()       # after the poll: nothing folded is newer than "now"
        # Messages come and go inside one container that is always there, so the map below
        # keeps its place on the page (an element shifting position would rebuild the map).
        with st.container():
            for ep, age in listener.silent(now, max(2 * refresh_s, stale_after_s)):
                st.warning(f"No telemetry from {ep} for {age:.0f} s — is the node running and publishing there?")
            if fold.rejected:
                st.caption(f"{fold.rejected} malformed telemetry frame(s) ignored.")
        s = fold.situation(now_s=now)
        st.markdown(f"### Live — {len(endpoints)} endpoint(s), stale after {stale_after_s:g} s")
        _draw(s, base, online_tiles, now_s=s.t_s, stale_after_s=stale_after_s, roster=roster)
        unknown = fold.unknown_nodes()
        if unknown:
            st.caption("Heard but not on the map (no position known): " + ", ".join(unknown))

    tick()


@st.cache_resource
def _listener(endpoints: tuple[str, ...], base: Situation | None, identity: str | None = None,
              roster_path: str | None = None):
    sources, client = live_sources(list(endpoints), identity=identity, roster=roster_path)
    return TelemetryListener(sources, client), LiveFold(base)


def main() -> None:
    args = _args()
    st.set_page_config(page_title="emcomm command centre", layout="wide")
    st.title("emcomm command centre")
    roster = _roster(args.roster)
    if args.replay:
        replay_page(args.replay, args.online_tiles, roster)
    elif args.live:
        live_page(args.live, args.base, args.stale_after, args.refresh, args.online_tiles, roster,
                  identity=args.identity, roster_path=args.roster)
    else:
        st.error("Nothing to show: start with `emcomm ui --replay RECORDING` or `emcomm ui --live tcp://HOST:PORT`.")


main()
