"""The chaos runner reads each node's inbox from one cursor: the inbox thread and the drain
may both read at once, and a delivery must still be recorded once (the checker counts every
record as a delivery, so a double read looked like a duplicate delivery by the mesh)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from emcomm.chaos.runner import ChaosRun, RunSettings


def test_two_readers_at_once_record_each_delivery_once(tmp_path: Path) -> None:
    run = ChaosRun(RunSettings(out_dir=tmp_path / "run", duration_s=60.0, secure=False))
    inbox = {n.id: [{"msg_id": bytes([i]) * 16, "src": "x", "dst": n.id, "priority": 3, "created_s": 0.0,
                     "delivered_s": 1.0, "seq": i + 1} for i in range(5)] for n in run.plan.nodes}

    def call(node: str, op: str, timeout_s: float, after_seq: int, limit: int) -> dict[str, Any]:
        assert op == "inbox"
        time.sleep(0.005)            # a node answering over its API: the other reader gets in meanwhile
        return {"messages": [e for e in inbox[node] if e["seq"] > after_seq][:limit]}

    run.procs.call = call            # type: ignore[method-assign]
    readers = [threading.Thread(target=run._read_inboxes) for _ in range(2)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    got = [(d["node"], d["seq"]) for d in run.history.of("deliver")]
    assert len(got) == len(set(got)) == 5 * len(run.plan.nodes)
