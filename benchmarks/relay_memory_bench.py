"""Relay memory over a long run: a relay node's RSS after it has relayed many messages that
carry the default TTL of 24 hours, with the default cap on the ids it keeps against
duplicates (``seen_ids_max``) and, side by side in the same run, with no effective cap.

Without the cap a relay keeps every id until its TTL + 10 minutes: a hub relaying 10
messages/s would hold 864,000 of them after a day. The two relays here are real
``emcomm node`` processes (emulation off) driven by the harness of ``relay_bench.py``; each
relays the same number of 1 KiB messages, then idles while its RSS is read. Target (issue 5):
a node stays under 150 MB RSS. The last line printed is one JSON object.

Run: ``.venv/bin/python benchmarks/relay_memory_bench.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relay_bench import Relay  # noqa: E402  (the same harness and node set-up)

from emcomm.node.api import ApiClient  # noqa: E402
from emcomm.node.core import SEEN_IDS_MAX  # noqa: E402

DAY_S = 86400.0
CHUNK = 20_000          # messages per burst of the source (its frames are made per burst)
UNCAPPED = 100_000_000


class DayRelay(Relay):
    """The benchmark relay, sent messages with the default TTL of a day."""

    ttl_s = DAY_S

    def __init__(self, ctx: zmq.Context, data_dir: Path, seen_ids_max: int):
        super().__init__(ctx, data_dir, extra_toml=f"seen_ids_max = {seen_ids_max}\n")
        cfg = (data_dir.parent / f"{data_dir.name}.toml").read_text()
        self.api = ApiClient(next(line.split('"')[1] for line in cfg.splitlines() if line.startswith("api =")))

    def seen_ids(self) -> int:
        return int(self.api.call("status")["seen_ids"])


def run(ctx: zmq.Context, tmp: Path, name: str, cap: int, n: int) -> dict[str, float]:
    relay = DayRelay(ctx, tmp / name, cap)
    try:
        _, rss_fresh_mb = relay.idle(2.0)
        t0 = time.perf_counter()
        for i in range(0, n, CHUNK):
            relay.rate(min(CHUNK, n - i), 1024)
        rate = n / (time.perf_counter() - t0)
        _, rss_mb = relay.idle(3.0)
        return {"rss_fresh_mb": rss_fresh_mb, "rss_mb": rss_mb, "seen_ids": relay.seen_ids(), "msgs_per_s": rate}
    finally:
        relay.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer messages and a smaller cap (a smoke run)")
    args = ap.parse_args()
    n, cap = (100_000, 20_000) if args.quick else (5 * SEEN_IDS_MAX, SEEN_IDS_MAX)
    ctx = zmq.Context()
    with tempfile.TemporaryDirectory() as tmp:
        capped = run(ctx, Path(tmp), "capped", cap, n)
        uncapped = run(ctx, Path(tmp), "uncapped", UNCAPPED, n)
    ctx.term()
    print(f"{n:,} × 1 KiB relayed, 24 h TTL{'':6}{'capped':>12}{'no cap':>12}  note")
    rows = [
        ("ids kept in memory", f"{capped['seen_ids']:,}", f"{uncapped['seen_ids']:,}", f"cap {cap:,} (+ 1/16 slack)"),
        ("RSS MB, fresh node", f"{capped['rss_fresh_mb']:.1f}", f"{uncapped['rss_fresh_mb']:.1f}", ""),
        ("RSS MB after the load", f"{capped['rss_mb']:.1f}", f"{uncapped['rss_mb']:.1f}", "target < 150"),
        ("msgs/s during the load", f"{capped['msgs_per_s']:,.0f}", f"{uncapped['msgs_per_s']:,.0f}", ""),
    ]
    for name, a, b, note in rows:
        print(f"{name:40}{a:>12}{b:>12}  {note}")
    print(json.dumps({
        "messages": n, "seen_ids_max": cap, "seen_ids_capped": capped["seen_ids"],
        "seen_ids_uncapped": uncapped["seen_ids"], "rss_mb_capped": round(capped["rss_mb"], 1),
        "rss_mb_uncapped": round(uncapped["rss_mb"], 1), "rss_mb_fresh": round(capped["rss_fresh_mb"], 1),
        "rss_capped_vs_uncapped": round(capped["rss_mb"] / uncapped["rss_mb"], 3),
    }))


if __name__ == "__main__":
    main()
