"""Monte-Carlo sweeps: many seeded runs of one scenario on Dask, with confidence intervals.

This module owns running N variations of a drill in parallel and aggregating them. Run
``i`` uses seed ``base_seed + i`` for both the engine (link loss, message ids, bodies)
and the hazard model (random failures: which sites fail, fragility draws), so each run
is a different, reproducible draw. Runs go to a Dask ``distributed`` cluster: a local one
on 127.0.0.1 with ``workers`` single-threaded worker processes by default, or an existing
scheduler (``scheduler="tcp://host:8786"``) when one machine is not enough. Results are
aggregated per figure as mean, sample standard deviation and a 95 % confidence interval
of the mean (Student's t). It writes no files and prints only through ``progress``.

Example
-------
>>> ci95([1.0, 2.0, 3.0])["mean"]
2.0
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from emcomm.drill.engine import Engine, EngineConfig
from emcomm.drill.scenario import Scenario, load_scenario, parse_scenario
from emcomm.drill.summary import summarise
from emcomm.errors import UsageError

# figures aggregated across runs: (label, path into the summary dict)
FIGURES: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (f"{p}.{k}", ("priorities", p, k))
    for p in ("flash", "immediate", "priority", "routine")
    for k in ("delivery_ratio", "latency_p50_s", "latency_p95_s")
) + (("outage.base_stations_out_peak_fraction", ("outage", "base_stations_out_peak_fraction")),)


def ci95(values: Sequence[float]) -> dict[str, float | int | None]:
    """Mean, sample std and the 95 % confidence interval of the mean (Student's t).

    >>> r = ci95([2.0, 4.0])
    >>> round(r["lo"], 2), round(r["hi"], 2)
    (-9.71, 15.71)
    """
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "lo": None, "hi": None}
    mean = sum(xs) / n
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "lo": None, "hi": None}
    from scipy import stats

    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "lo": mean - half, "hi": mean + half}


def one_run(scenario_text: str, scenario_path: str, config: EngineConfig, seed: int) -> dict[str, Any]:
    """One seeded run without recording (the Dask task); returns its summary dict.

    The scenario travels as text, so workers on other machines need no copy of the file.
    """
    sc = parse_scenario(scenario_text, scenario_path)
    cfg = EngineConfig(**{**config.__dict__, "seed": seed, "speed": None})
    return summarise(Engine(sc, cfg).run())


def _get(d: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for k in path:
        if not isinstance(d, Mapping) or k not in d:
            return None
        d = d[k]
    return d


def aggregate(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per figure: ``ci95`` over the runs where it is defined; ``lost`` summed by reason."""
    out: dict[str, Any] = {"runs": len(summaries), "figures": {}, "lost": {}}
    for label, path in FIGURES:
        vals = [v for s in summaries if isinstance(v := _get(s, path), (int, float))]
        out["figures"][label] = ci95(vals)
    lost: dict[str, int] = {}
    for s in summaries:
        for reason, n in s.get("lost", {}).items():
            lost[reason] = lost.get(reason, 0) + n
    out["lost"] = dict(sorted(lost.items()))
    return out


def sweep(scenario: str | Scenario, runs: int, config: EngineConfig = EngineConfig(), *, workers: int = 2,
          scheduler: str | None = None, base_seed: int | None = None,
          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run ``runs`` seeded drills on Dask and aggregate them.

    ``scheduler`` None starts a local cluster bound to 127.0.0.1 (closed afterwards);
    otherwise the address of a running Dask scheduler. ``progress(done, total)`` is called
    as runs finish. Returns ``aggregate(...)`` plus ``"seeds"`` and ``"summaries"`` in
    seed order.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise UsageError(f"--runs must be a whole number ≥ 1, got {runs!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--workers must be a whole number ≥ 1, got {workers!r}")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)   # fail before any cluster
    path = sc.path
    text = Path(path).read_text(encoding="utf-8")
    base = sc.info.seed if base_seed is None else int(base_seed)
    seeds = [base + i for i in range(runs)]
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}; "
                                 "start one with `dask scheduler` or leave out --scheduler for a local cluster") from None
        with client:
            futures = {client.submit(one_run, text, path, config, s, pure=False): s for s in seeds}
            results: dict[int, dict[str, Any]] = {}
            for done, fut in enumerate(as_completed(futures), start=1):
                results[futures[fut]] = fut.result()
                if progress is not None:
                    progress(done, runs)
    finally:
        if cluster is not None:
            cluster.close()
    summaries = [results[s] for s in seeds]
    out = aggregate(summaries)
    out["seeds"] = seeds
    out["summaries"] = summaries
    return out
