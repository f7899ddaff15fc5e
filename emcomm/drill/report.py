"""The human drill report: Markdown with PNG plots, and the table comparing policies.

This module owns presentation only: ``report.md`` (what happened, per priority, per link
kind, outage beside the published figure, teams cut off) with three plots drawn by
matplotlib (delivery over time, link availability by kind, latency per priority), and
``compare_table`` for ``emcomm drill compare``. Every number comes from the summary dict
(``emcomm.drill.summary``) or the ``DrillResult``; nothing is recomputed differently here.

Example
-------
>>> compare_table({"a": {"priorities": {"flash": {"sent": 2, "delivered": 2, "delivery_ratio": 1.0,
...     "latency_p50_s": 1.0, "latency_p95_s": 2.0}}, "link_kinds": {}, "lost": {}}}).splitlines()[0]
'| figure | a |'
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from emcomm.drill.result import DrillResult
from emcomm.priority import Priority

PLOTS = ("delivery.png", "availability.png", "latency.png")


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if unit == "%":
            return f"{100 * x:.1f} %"
        return f"{x:.3g}{unit}" if abs(x) < 1000 else f"{x:,.0f}{unit}"
    return f"{x}{unit}"


def write_plots(res: DrillResult, out_dir: str) -> list[str]:
    """Draw the three PNG plots into ``out_dir``; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = 3600.0
    fig, ax = plt.subplots(figsize=(8, 4))
    for p in Priority:
        times = sorted(m.delivered_s for m in res.messages if m.priority == int(p) and m.delivered_s is not None)
        sent = sum(1 for m in res.messages if m.priority == int(p))
        if sent:
            ax.step([0.0] + [t / hours for t in times] + [res.end_s / hours],
                    [0.0] + [(i + 1) / sent for i in range(len(times))] + [len(times) / sent],
                    where="post", label=p.name.lower())
    ax.set_xlabel("hours from scenario start")
    ax.set_ylabel("share of all sent messages delivered")
    ax.set_title("Delivery over time by priority")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, PLOTS[0]), dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    xs = [t / hours for t in res.sample_times_s]
    for kind, ups in res.kind_up_fraction.items():
        ax.step(xs, ups, where="post", label=kind)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("hours from scenario start")
    ax.set_ylabel("share of links up")
    ax.set_title("Link availability by kind")
    ax.legend(ncol=3, fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, PLOTS[1]), dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    data, labels = [], []
    for p in Priority:
        lat = [m.latency_s for m in res.messages if m.priority == int(p) and m.latency_s is not None]
        if lat:
            data.append([max(x, 1e-3) for x in lat])  # type: ignore[type-var]
            labels.append(p.name.lower())
    if data:
        ax.boxplot(data, tick_labels=labels, whis=(5, 95), showfliers=True)
        ax.set_yscale("log")
    ax.set_ylabel("latency, s (log)")
    ax.set_title("Latency per priority (whiskers 5–95 %)")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, PLOTS[2]), dpi=90)
    plt.close(fig)
    return list(PLOTS)


def markdown(summary: Mapping[str, Any], plots: list[str] | None = None) -> str:
    """The report text for one run."""
    s = summary
    out = [f"# Drill report: {s['scenario']}", "",
           f"Policy **{s['policy']}**, seed {s['seed']}, {s['end_s'] / 3600:.1f} h simulated"
           + (" — **interrupted before the end**" if s["interrupted"] else "") + ".", ""]
    m = s["messages"]
    out += [f"{m['sent']} messages sent, {m['delivered']} delivered, {m['pending_at_end']} still in custody at the end"
            + (f", lost: {', '.join(f'{k} {v}' for k, v in s['lost'].items())}" if s["lost"] else ", none lost") + ".", ""]
    out += ["## Delivery per priority", "", "| priority | sent | delivered | ratio | p50 latency | p95 latency | max |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for name, p in s["priorities"].items():
        out.append(f"| {name} | {p['sent']} | {p['delivered']} | {_fmt(p['delivery_ratio'], '%')} | "
                   f"{_fmt(p['latency_p50_s'], ' s')} | {_fmt(p['latency_p95_s'], ' s')} | {_fmt(p['latency_max_s'], ' s')} |")
    out += ["", "## Link kinds", "", "| kind | bytes | cost, CNY | availability |", "|---|---:|---:|---:|"]
    for kind, k in s["link_kinds"].items():
        out.append(f"| {kind} | {k['bytes']:,} | {_fmt(k['cost_cny'])} | {_fmt(k['availability'], '%')} |")
    o = s["outage"]
    out += ["", "## Outage", "",
            f"Base stations off air at the peak: {_fmt(o['base_stations_out_peak_fraction'], '%')}"
            + (f" at {o['base_stations_out_peak_s'] / 3600:.1f} h" if o["base_stations_out_peak_s"] is not None else "")
            + (f"; published figure {_fmt(o['published_fraction'], '%')} (ratio {o['ratio_to_published']:.2f})."
               if o["published_fraction"] else "; the scenario gives no published figure."), ""]
    cut = {t: c for t, c in s["teams"].items() if c["cut_off_first_s"] is not None}
    out += ["## Teams cut off from the command centre", ""]
    if cut:
        out += ["| team | first cut off | total |", "|---|---:|---:|"]
        for t, c in cut.items():
            out.append(f"| {t} | {c['cut_off_first_s'] / 3600:.2f} h | {c['cut_off_total_s'] / 3600:.2f} h |")
    else:
        out.append("None: every team kept a usable path to the command centre.")
    if plots:
        out += ["", "## Plots", ""] + [f"![{p[:-4]}]({p})" for p in plots]
    return "\n".join(out) + "\n"


def write_report(res: DrillResult, summary: Mapping[str, Any], out_dir: str, *, plots: bool = True) -> str:
    """Write ``report.md`` (and the plots) into ``out_dir``; returns the report path."""
    names = write_plots(res, out_dir) if plots and res.sample_times_s else []
    path = os.path.join(out_dir, "report.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(markdown(summary, names))
    return path


def compare_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """A Markdown table: one column per policy, one row per figure, a Δ column for two.

    Rows: delivery ratio and p50/p95 latency per priority, lost messages, bytes and cost
    per link kind.
    """
    names = list(summaries)
    rows: list[tuple[str, list[Any], str]] = []
    first = summaries[names[0]]
    for prio in first["priorities"]:
        for key, unit in (("delivery_ratio", "%"), ("latency_p50_s", " s"), ("latency_p95_s", " s")):
            rows.append((f"{prio} {key}", [summaries[n]["priorities"][prio][key] for n in names], unit))
    rows.append(("lost", [sum(summaries[n]["lost"].values()) for n in names], ""))
    kinds = sorted({k for n in names for k in summaries[n]["link_kinds"]})
    for k in kinds:
        for key in ("bytes", "cost_cny"):
            rows.append((f"{k} {key}", [summaries[n]["link_kinds"].get(k, {}).get(key) for n in names], ""))
    two = len(names) == 2
    head = "| figure | " + " | ".join(names) + (" | Δ |" if two else " |")
    lines = [head, "|---|" + "---:|" * (len(names) + (1 if two else 0))]
    for label, vals, unit in rows:
        cells = [_fmt(v, unit) for v in vals]
        if two:
            a, b = vals
            if isinstance(a, (int, float)) and isinstance(b, (int, float)):
                d = b - a
                cells.append(f"{100 * d:+.1f} pts" if unit == "%" else f"{d:+.4g}")
            else:
                cells.append("–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
