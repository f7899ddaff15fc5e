"""Drill engine benchmark: Zhengzhou at full size, reproducibility, sweep scaling.

Measures, side by side in one run:
1. speed: simulated seconds per wall second for the Zhengzhou 2021 scenario (215 nodes,
   16 node cores) over ``--hours`` simulated hours with the traffic scaled (``--scale``,
   default: enough for ≥ 50,000 messages) — target ≥ 1,000× real time;
2. reproducibility: a second run with the same seed gives a byte-identical summary.json;
3. sweep scaling: runs/minute of a real 100-run sweep (``--sweep-runs``) — seeded runs of the
   first ``--sweep-hours`` of ``--sweep-scenario`` (default: Zhengzhou, 1 h, which makes 100
   runs take a few minutes) on a local Dask cluster with 1 and with 2 worker processes, and
   the ratio. The wall time includes starting and closing the cluster, as a trainer sees it.
The last line printed is one JSON object with every figure.

    python benchmarks/drill_bench.py                 # full size (long: see the report)
    python benchmarks/drill_bench.py --sweep-only    # just the 100-run sweep, 1 and 2 workers
    python benchmarks/drill_bench.py --hours 2 --scale 1 --sweep-runs 4 --sweep-hours 0.5
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time

from emcomm.drill.engine import Engine, EngineConfig, traffic_count
from emcomm.drill.scenario import load_scenario
from emcomm.drill.summary import dumps, summarise
from emcomm.drill.sweep import sweep

SCENARIO = "drills/zhengzhou_2021.toml"
MIN_MESSAGES = 50_000


def timed_run(sc, cfg: EngineConfig) -> tuple[float, str, int]:
    t0 = time.perf_counter()
    res = Engine(sc, cfg).run()
    wall = time.perf_counter() - t0
    return wall, dumps(summarise(res)), len(res.messages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--scale", type=int, default=None, help="traffic scale (default: enough for 50,000 messages)")
    ap.add_argument("--sweep-runs", type=int, default=100)
    ap.add_argument("--sweep-hours", type=float, default=1.0)
    ap.add_argument("--sweep-scenario", default=SCENARIO)
    ap.add_argument("--sweep-only", action="store_true", help="skip the speed and reproducibility runs")
    ap.add_argument("--profile", action="store_true", help="print the top functions of a profiled run")
    args = ap.parse_args()

    sc = load_scenario(SCENARIO)
    dur = args.hours * 3600.0
    base = traffic_count(sc, EngineConfig(duration_s=dur))
    scale = args.scale or max(1, -(-MIN_MESSAGES // max(base, 1)))
    cfg = EngineConfig(duration_s=dur, traffic_scale=scale)
    speed_fig: dict[str, object] = {}
    if not args.sweep_only:
        print(f"Zhengzhou: {len(sc.nodes)} nodes, {args.hours:g} h, traffic x{scale} = {base * scale} injections")
        wall1, sum1, n_msgs = timed_run(sc, cfg)
        wall2, sum2, _ = timed_run(sc, cfg)
        speed = dur / min(wall1, wall2)
        identical = sum1 == sum2
        print(f"  run 1 {wall1:.1f} s, run 2 {wall2:.1f} s -> {speed:,.0f}x real time; {n_msgs} messages; "
              f"summaries byte-identical: {identical}")
        speed_fig = {"scenario": SCENARIO, "nodes": len(sc.nodes), "simulated_h": args.hours, "traffic_scale": scale,
                     "messages": n_msgs, "wall_s": [round(wall1, 2), round(wall2, 2)],
                     "speed_x_real_time": round(speed, 1), "target_x": 1000,
                     "meets_target": speed >= 1000 and n_msgs >= MIN_MESSAGES, "byte_identical": identical}

    top: list[str] = []
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        Engine(sc, EngineConfig(duration_s=min(dur, 3600.0), traffic_scale=scale)).run()
        prof.disable()
        buf = io.StringIO()
        st = pstats.Stats(prof, stream=buf).sort_stats("tottime")
        st.print_stats(12)
        print(buf.getvalue())
        top = [f"{fn[0].split('/')[-1]}:{fn[2]} {st.stats[fn][2]:.2f}s" for fn in list(st.fcn_list or [])[:8]]  # type: ignore[attr-defined]

    sweep_sc = load_scenario(args.sweep_scenario)
    sweep_cfg = EngineConfig(duration_s=args.sweep_hours * 3600.0)
    print(f"sweep: {args.sweep_runs} seeded runs of the first {args.sweep_hours:g} h of {args.sweep_scenario} "
          f"({len(sweep_sc.nodes)} nodes), local Dask cluster, wall time incl. cluster start")
    rpm: dict[int, float] = {}
    sweep_wall: dict[int, float] = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        out = sweep(sweep_sc, args.sweep_runs, sweep_cfg, workers=workers)
        sweep_wall[workers] = time.perf_counter() - t0
        if out["runs"] != args.sweep_runs:
            raise SystemExit(f"sweep returned {out['runs']} runs, expected {args.sweep_runs}")
        rpm[workers] = 60.0 * args.sweep_runs / sweep_wall[workers]
        print(f"  {workers} worker(s): {sweep_wall[workers]:.1f} s -> {rpm[workers]:.1f} runs/minute")
    print(f"  2 workers / 1 worker: {rpm[2] / rpm[1]:.2f}x")

    print(json.dumps({
        **speed_fig,
        "sweep_scenario": args.sweep_scenario, "sweep_hours": args.sweep_hours, "sweep_runs": args.sweep_runs,
        "sweep_wall_s": {str(k): round(v, 1) for k, v in sweep_wall.items()},
        "sweep_runs_per_min": {str(k): round(v, 2) for k, v in rpm.items()},
        "sweep_scaling_2_over_1": round(rpm[2] / rpm[1], 2), "profile_top": top,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
