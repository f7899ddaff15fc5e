"""``emcomm drill run|compare|sweep|replay``: run scenarios as drills and report on them.

Rule of this module: parse arguments, call ``emcomm.drill.runner`` / ``sweep`` / ``report``,
print short results. No modelling here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from emcomm.cli.ui_cmd import add_port_argument
from emcomm.drill.engine import EngineConfig
from emcomm.drill.policy import DEFAULT_POLICY, POLICIES, parse_policies
from emcomm.drill.report import compare_table
from emcomm.drill.runner import prepare_out_dir, run_to_dir
from emcomm.drill.scenario import load_scenario


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help="scenario .toml file (see drills/SCHEMA.md)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the scenario's)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="simulated seconds to run (default: the scenario's duration_s)")
    p.add_argument("--impact-step", type=float, default=300.0, metavar="S",
                   help="seconds between hazard steps (default 300)")
    p.add_argument("--traffic-scale", type=int, default=1, metavar="K",
                   help="send every traffic flow K times as often (load testing; default 1)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("drill", help="run a scenario as a drill, compare policies, sweep seeds, replay")
    dsub = p.add_subparsers(dest="drill_command", metavar="SUBCOMMAND", required=True)

    r = dsub.add_parser("run", help="run one drill; write summary.json, report.md, plots and the recording")
    _engine_args(r)
    r.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    r.add_argument("--policy", default=DEFAULT_POLICY, help=f"one of: {', '.join(POLICIES)}")
    r.add_argument("--speed", type=float, default=None, metavar="X",
                   help="pace to the wall clock at X times real time (default: as fast as possible)")
    r.add_argument("--realtime", action="store_true", help="pace to the wall clock in real time (--speed 1)")
    r.add_argument("--no-report", action="store_true", help="skip report.md and the plots")
    r.set_defaults(func=run_run)

    c = dsub.add_parser("compare", help="run several policies on the same seed and tabulate the differences")
    _engine_args(c)
    c.add_argument("--policies", required=True, help=f"comma-separated, e.g. {','.join(POLICIES)}")
    c.add_argument("--out", default=None, metavar="DIR", help="also write each run's files into DIR/<policy>")
    c.add_argument("--json", action="store_true", help="print the summaries as one JSON object")
    c.set_defaults(func=run_compare)

    s = dsub.add_parser("sweep", help="Monte-Carlo runs on Dask with 95 %% confidence intervals")
    _engine_args(s)
    s.add_argument("--runs", type=int, required=True, metavar="N", help="number of seeded runs")
    s.add_argument("--workers", type=int, default=2, metavar="W", help="local Dask worker processes (default 2)")
    s.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="use a running Dask scheduler instead of a local cluster")
    s.add_argument("--policy", default=DEFAULT_POLICY, help=f"one of: {', '.join(POLICIES)}")
    s.add_argument("--out", default=None, metavar="FILE", help="write the aggregate and every summary as JSON")
    s.add_argument("--json", action="store_true", help="print the aggregate as one JSON object")
    s.set_defaults(func=run_sweep)

    rp = dsub.add_parser("replay", help="open a drill recording in the command-centre map (emcomm ui --replay)")
    rp.add_argument("recording", metavar="RECORDING", help="recording.emrec written by `emcomm drill run`")
    add_port_argument(rp)
    rp.set_defaults(func=run_replay)


def _config(args: argparse.Namespace, policy: str, speed: float | None = None) -> EngineConfig:
    return EngineConfig(seed=args.seed, policy=policy, duration_s=args.duration, impact_step_s=args.impact_step,
                        traffic_scale=args.traffic_scale, speed=speed)


def _sim_progress(done_s: float, total_s: float) -> None:
    """One self-overwriting line on a terminal: how much of the drill has been simulated."""
    if not sys.stderr.isatty() or total_s <= 0:
        return
    width = 30
    fill = int(width * min(1.0, done_s / total_s))
    end = "\n" if done_s >= total_s else ""
    print(f"\r[{'#' * fill}{'.' * (width - fill)}] {done_s / 3600:.1f}/{total_s / 3600:.1f} h simulated",
          end=end, file=sys.stderr, flush=True)


def run_run(args: argparse.Namespace) -> int:
    speed = 1.0 if args.realtime else args.speed
    cfg = _config(args, args.policy, speed)
    sc = load_scenario(args.scenario)
    t0 = time.perf_counter()
    try:
        s = run_to_dir(sc, args.out, cfg, report=not args.no_report,
                       clock=time.monotonic if speed else None, sleep=time.sleep if speed else None,
                       progress=_sim_progress)
    except KeyboardInterrupt:
        print(f"emcomm: drill interrupted; partial summary and recording are in {args.out}", file=sys.stderr)
        return 130
    wall = time.perf_counter() - t0
    print(f"{s['scenario']}: {s['end_s'] / 3600:.1f} h simulated in {wall:.1f} s (policy {s['policy']}, seed {s['seed']})")
    for name, p in s["priorities"].items():
        if p["sent"]:
            p50 = "–" if p["latency_p50_s"] is None else f"{p['latency_p50_s']:.2f} s"
            print(f"  {name:<9} {p['delivered']:>6}/{p['sent']:<6} delivered, p50 latency {p50}")
    lost = sum(s["lost"].values())
    print(f"  lost {lost}, still in custody {s['messages']['pending_at_end']}; files in {args.out}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    policies = parse_policies(args.policies)
    sc = load_scenario(args.scenario)
    summaries = {}
    for pol in policies:
        cfg = _config(args, pol.name)
        if args.out:
            summaries[pol.name] = run_to_dir(sc, os.path.join(args.out, pol.name), cfg)
        else:
            from emcomm.drill.engine import Engine
            from emcomm.drill.summary import summarise
            summaries[pol.name] = summarise(Engine(sc, cfg).run())
    if args.json:
        print(json.dumps(summaries, sort_keys=True, indent=2))
    else:
        print(compare_table(summaries), end="")
    return 0


def _bar(done: int, total: int) -> None:
    width = 30
    fill = int(width * done / total)
    print(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total} runs", end="" if done < total else "\n",
          file=sys.stderr, flush=True)


def run_sweep(args: argparse.Namespace) -> int:
    from emcomm.drill.sweep import sweep

    cfg = _config(args, args.policy)
    if args.out:
        parent = os.path.dirname(os.path.abspath(args.out))
        prepare_out_dir(parent)
    t0 = time.perf_counter()
    agg = sweep(args.scenario, args.runs, cfg, workers=args.workers, scheduler=args.scheduler,
                base_seed=args.seed, progress=_bar)
    wall = time.perf_counter() - t0
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(agg, f, sort_keys=True, indent=2)
    if args.json:
        print(json.dumps({k: v for k, v in agg.items() if k != "summaries"}, sort_keys=True, indent=2))
        return 0
    print(f"{agg['runs']} runs in {wall:.1f} s ({60 * agg['runs'] / wall:.1f} runs/minute); mean [95 % CI]:")
    for label, c in agg["figures"].items():
        if c["mean"] is None:
            continue
        ci = "" if c["lo"] is None else f" [{c['lo']:.4g}, {c['hi']:.4g}]"
        print(f"  {label:<42} {c['mean']:.4g}{ci}")
    if agg["lost"]:
        print("  lost: " + ", ".join(f"{k} {v}" for k, v in agg["lost"].items()))
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from emcomm.drill.recording import read_recording

    read_recording(args.recording)          # a clear RecordingError before the UI starts
    from emcomm.cli import main as cli_main

    return cli_main(["ui", "--replay", args.recording] + ([] if args.port is None else ["--port", str(args.port)]))
