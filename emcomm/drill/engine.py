"""The drill engine: the live relay's node core, many times over, on a simulated clock.

This module owns the discrete-event loop of a drill. One heap keyed by ``(t_s, event
class, counter)`` orders everything, so equal times always run in the same order and a
run with a seed is exactly reproducible. Event classes, in the order they run at equal
times: hazard step (node power and link state from the impact model) → frame arrival →
store commit → traffic injection → node timer → keyframe.

- One ``NodeCore`` per node that runs emcomm (``emcomm.drill.topology.CORE_ROLES``),
  seeded; base stations are infrastructure whose state the impact model gives, and a
  path through one is a composite link (see ``emcomm.drill.topology``).
- Each link direction is an ``EmulatedLink`` (rate, latency, seeded loss, MTU, send
  interval); a frame's arrival is an event; a link going down loses its frames in flight.
- The hazard timeline is applied every ``impact_step_s``: link up/down and capacity go
  to the emulation and to both cores (``link_changed`` with the measured rate); a node
  whose power state is ``off`` crashes (its core is dropped, its store kept) and restarts
  from its store when power returns.
- Persistence: every ``Persist`` is applied to the node's in-memory store and confirmed
  with ``core.stored`` after ``commit_delay_s`` (at once by default).
- The scenario's traffic is injected with ``core.submit`` at its send times.

It never reads a clock unless asked to pace a run to the wall clock (``speed``), and then
only through the ``clock``/``sleep`` functions it is given. Figures go into a
``DrillResult`` (``emcomm.drill.result``); situation keyframes and changes go to a
``RecordingSink`` (``emcomm.drill.record``). It does not format reports.

Example
-------
>>> from emcomm.drill.scenario import load_scenario
>>> res = run_drill(load_scenario("tests/data/tiny.toml"), EngineConfig(duration_s=1200))  # doctest: +SKIP
>>> res.messages[0].delivered_s is not None                                                 # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import random
import zlib
from typing import Any, Callable, Protocol, Sequence

from emcomm.drill.policy import DEFAULT_POLICY, DrillPolicy, get_policy
from emcomm.drill.result import DrillResult, MessageFate, TeamCutOff
from emcomm.drill.scenario import Scenario, Traffic
from emcomm.drill.timeline import BASE_STATION_ROLE, COMMAND_ROLE, TEAM_ROLE, impact_at
from emcomm.drill.topology import DrillLink, core_nodes, drill_links
from emcomm.errors import UsageError
from emcomm.hazards.impact import Impact, ImpactModel, LinkState
from emcomm.links.emulation import EmulatedLink, Sent
from emcomm.node import telemetry as tm
from emcomm.node import wire
from emcomm.node.actions import Deliver, Dropped, Forget, Persist, Receipt, RestoredState, Telemetry, Transmit
from emcomm.node.core import LinkConfig, NodeConfig, NodeCore
from emcomm.node.store import MessageRecord
from emcomm.node.wire import ContentType
from emcomm.priority import Priority

# event classes: the order of events at the same simulated time
EV_IMPACT, EV_ARRIVE, EV_STORED, EV_SUBMIT, EV_TICK, EV_KEYFRAME = range(6)
EVENT_NAMES = ("impact", "arrive", "stored", "submit", "tick", "keyframe")

CONTENT_TYPES = {"text": ContentType.TEXT, "position": ContentType.POSITION, "status": ContentType.STATUS,
                 "alert": ContentType.ALERT, "file": ContentType.FILE_CHUNK}
FILE_CHUNK_BYTES = 64 * 1024      # a bulk file is sent as file_chunk messages of at most this size
TICK_GUARD_S = 1e-6               # a core asking to be woken again at the same instant waits this long
MIN_IMPACT_STEP_S = 1.0


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """How to run a drill. ``None`` means "take it from the scenario file".

    ``traffic_scale`` k sends every traffic flow k times as often (k sends spread evenly
    over each original gap) — used to load a scenario to benchmark size.
    ``speed``: None runs as fast as possible; X paces simulated time at X × wall time.
    """

    seed: int | None = None
    policy: str = DEFAULT_POLICY
    duration_s: float | None = None
    start_s: float = 0.0             # begin the run this far into the scenario (hazards as they are then)
    impact_step_s: float = 300.0
    traffic_scale: int = 1
    keyframe_interval_s: float = 900.0
    commit_delay_s: float = 0.0
    speed: float | None = None

    def __post_init__(self) -> None:
        get_policy(self.policy)
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise UsageError(f"start_s must be ≥ 0 seconds from the scenario start, got {self.start_s!r}")
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise UsageError(f"duration_s must be a positive number of seconds, got {self.duration_s!r}")
        if not (math.isfinite(self.impact_step_s) and self.impact_step_s >= MIN_IMPACT_STEP_S):
            raise UsageError(f"impact_step_s must be at least {MIN_IMPACT_STEP_S:g} s, got {self.impact_step_s!r}")
        if isinstance(self.traffic_scale, bool) or not isinstance(self.traffic_scale, int) or not 1 <= self.traffic_scale <= 10_000:
            raise UsageError(f"traffic_scale must be a whole number 1..10000, got {self.traffic_scale!r}")
        if not (math.isfinite(self.keyframe_interval_s) and self.keyframe_interval_s > 0):
            raise UsageError(f"keyframe_interval_s must be positive, got {self.keyframe_interval_s!r}")
        if not (math.isfinite(self.commit_delay_s) and self.commit_delay_s >= 0):
            raise UsageError(f"commit_delay_s must be ≥ 0, got {self.commit_delay_s!r}")
        if self.speed is not None and not (math.isfinite(self.speed) and self.speed > 0):
            raise UsageError(f"speed must be a positive factor (1 = real time), got {self.speed!r}")


class RecordingSink(Protocol):
    """Where the engine reports what happens (``emcomm.drill.record.SituationRecorder``)."""

    def start(self, engine: "Engine") -> None: ...
    def message_event(self, event: tm.TelemetryEvent) -> None: ...
    def node_changed(self, t_s: float, node_id: str) -> None: ...
    def link_changed(self, t_s: float, link_id: str) -> None: ...
    def hazard_step(self, t_s: float) -> None: ...
    def keyframe(self, t_s: float) -> None: ...
    def close(self) -> None: ...


@dataclasses.dataclass
class _Store:
    """What a node's SQLite store would hold (records by msg_id, seen ids and their hop counts, kv)."""

    records: dict[bytes, MessageRecord] = dataclasses.field(default_factory=dict)
    seen: dict[bytes, float] = dataclasses.field(default_factory=dict)
    kv: dict[str, bytes] = dataclasses.field(default_factory=dict)
    hops: dict[bytes, int] = dataclasses.field(default_factory=dict)

    def apply(self, p: Persist) -> None:
        for r in p.records:
            self.records[r.msg_id] = r
        for mid, until, hops in p.seen:
            self.seen[mid] = until
            self.hops[mid] = hops
        for k, v in p.kv:
            self.kv[k] = v

    def load(self) -> RestoredState:
        return RestoredState(records=list(self.records.values()), seen=dict(self.seen), kv=dict(self.kv),
                             hops=dict(self.hops))


@dataclasses.dataclass
class _Node:
    id: str
    index: int
    role: str
    config: NodeConfig
    core: NodeCore | None
    store: _Store = dataclasses.field(default_factory=_Store)
    tick_at: float = math.inf
    incarnation: int = 0


@dataclasses.dataclass
class _Link:
    spec: DrillLink
    index: int
    ends: dict[str, EmulatedLink]      # sender node id → its direction
    state: LinkState


def _link_seed(seed: int, link_id: str, sender: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(f"{link_id}>{sender}".encode())) & 0xFFFFFFFF


class Engine:
    """One drill run. Build it, then ``run()``; ``log`` holds ``(t_s, event)`` tuples
    when ``keep_log`` is set (tests assert on them)."""

    def __init__(self, scenario: Scenario, config: EngineConfig = EngineConfig(), *,
                 model: ImpactModel | None = None, recorder: RecordingSink | None = None,
                 keep_log: bool = False, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None,
                 progress: Callable[[float, float], None] | None = None):
        self.scenario = scenario
        self._progress = progress     # called with (simulated s done, total s) at each hazard step
        self.config = config
        self.policy: DrillPolicy = get_policy(config.policy)
        self.seed = scenario.info.seed if config.seed is None else int(config.seed)
        self.start_s = float(config.start_s)
        self.duration_s = float(config.duration_s if config.duration_s is not None
                                else max(0.0, scenario.info.duration_s - self.start_s))
        self.end_s = self.start_s + self.duration_s
        if self.duration_s <= 0:
            raise UsageError(f"start_s {self.start_s:g} is at or beyond the scenario's end ({scenario.info.duration_s:g} s)")
        self.model = model if model is not None else ImpactModel(
            scenario.node_specs(), scenario.link_specs(), [h.model for h in scenario.hazards],
            seed=self.seed, geo_longitudes_deg=scenario.geo_longitudes_deg)
        self.recorder = recorder
        self.keep_log = keep_log
        self.log: list[tuple[float, str]] = []
        if config.speed is not None and (clock is None or sleep is None):
            raise UsageError("pacing to the wall clock (speed) needs clock and sleep functions")
        self._clock, self._sleep = clock, sleep
        self.now = float(config.start_s)
        self._heap: list[tuple[float, int, int, Any, Any]] = []
        self._tie = itertools.count()
        self._rng = random.Random(self.seed)

        roles = {n.id: n.role for n in scenario.nodes}
        self.links: dict[str, _Link] = {}
        per_node: dict[str, dict[str, LinkConfig]] = {nid: {} for nid in core_nodes(scenario)}
        # a kind no class may use is not installed at all (e.g. terrestrial-only: no satellite terminals)
        installed = set().union(*(self.policy.usable_kinds(p) for p in Priority))
        for i, dl in enumerate(d for d in drill_links(scenario) if d.kind in installed):
            ends = {dl.a: EmulatedLink(dl.profile, _link_seed(self.seed, dl.id, dl.a), direction="up"),
                    dl.b: EmulatedLink(dl.profile, _link_seed(self.seed, dl.id, dl.b), direction="down")}
            self.links[dl.id] = _Link(dl, i, ends, LinkState(True, 1.0, 0.0, 0.0))
            per_node[dl.a][dl.id] = LinkConfig(dl.b, dl.profile)
            per_node[dl.b][dl.id] = LinkConfig(dl.a, dl.profile)
        self.nodes: dict[str, _Node] = {}
        for i, (nid, lcs) in enumerate(per_node.items()):
            cfg = NodeConfig(links=lcs, policy=self.policy.routing)
            self.nodes[nid] = _Node(nid, i, roles[nid], cfg, NodeCore(nid, cfg, seed=self._core_seed(i, 0)))
        self._by_index = list(self.nodes.values())
        self._link_by_index = list(self.links.values())
        self.node_state: dict[str, Any] = {}          # scenario node id → NodeState (all nodes)
        self.link_state: dict[str, LinkState] = {}    # scenario link id → LinkState (after policy)
        self.impact: Impact | None = None
        self._bs = [n.id for n in scenario.nodes if n.role == BASE_STATION_ROLE]
        self._commands = [nid for nid, n in self.nodes.items() if n.role == COMMAND_ROLE]
        self._teams = [nid for nid, n in self.nodes.items() if n.role == TEAM_ROLE]
        self._cut_since: dict[str, float] = {}
        self._last_sample_s = self.start_s
        self.cut_off: dict[str, float] = {}           # team → since when (now), for the recorder

        self.result = DrillResult(
            scenario=scenario.info.name, scenario_path=scenario.path, seed=self.seed, policy=self.policy.name,
            duration_s=self.duration_s, published_outage_fraction=getattr(scenario.info, "published_outage_fraction", None))
        self.result.teams = {t: TeamCutOff() for t in self._teams}
        kinds_present = sorted({l.kind.value for l in scenario.links} | {l.spec.kind.value for l in self.links.values()})
        self.result.kind_bytes = {k: 0 for k in kinds_present}
        self.result.kind_cost_cny = {k: 0.0 for k in kinds_present}
        self.result.kind_up_fraction = {k: [] for k in sorted({l.kind.value for l in scenario.links})}
        self._fates: dict[bytes, MessageFate] = {}
        self._frames = {"sent": 0, "arrived": 0, "lost_node_off": 0}
        self._drops: dict[str, int] = {}

    def _core_seed(self, index: int, incarnation: int) -> int:
        return (self.seed * 7919 + index * 104_729 + incarnation * 15_485_863) & 0xFFFFFFFF

    # ------------------------------------------------------------------ scheduling
    def _push(self, t: float, cls: int, a: Any = None, b: Any = None) -> None:
        heapq.heappush(self._heap, (t, cls, next(self._tie), a, b))

    def _schedule_traffic(self) -> None:
        k = self.config.traffic_scale
        for fi, tr in enumerate(self.scenario.traffic):
            times = [t for t in tr.times_s if self.start_s <= t < self.end_s]
            for j, t in enumerate(times):
                nxt = times[j + 1] if j + 1 < len(times) else min(self.end_s, t + 3600.0)
                gap = (nxt - t) / k
                for i in range(k):
                    if t + i * gap < self.end_s:
                        self._push(t + i * gap, EV_SUBMIT, fi)

    # ------------------------------------------------------------------ run
    def run(self) -> DrillResult:
        """Run to the end (or until interrupted: KeyboardInterrupt is re-raised after the
        result is marked ``interrupted`` and the recorder closed)."""
        if self.recorder is not None:
            self.recorder.start(self)
        step = self.config.impact_step_s
        n_steps = int(math.floor(self.duration_s / step + 1e-9))
        for i in range(n_steps + 1):
            self._push(self.start_s + i * step, EV_IMPACT)
        k = self.config.keyframe_interval_s
        for i in range(int(math.floor(self.duration_s / k + 1e-9)) + 1):
            self._push(self.start_s + i * k, EV_KEYFRAME)
        self._schedule_traffic()
        wall0 = self._clock() if self._clock is not None and self.config.speed else None
        try:
            while self._heap and self._heap[0][0] <= self.end_s:
                t, cls, _, a, b = heapq.heappop(self._heap)
                if wall0 is not None:
                    wait = wall0 + (t - self.start_s) / self.config.speed - self._clock()  # type: ignore[operator,misc]
                    if wait > 0:
                        self._sleep(wait)  # type: ignore[misc]
                self.now = t
                self._dispatch(cls, a, b)
            self.now = self.end_s
            self._finish()
        except KeyboardInterrupt:
            self.result.interrupted = True
            self._finish()
            raise
        return self.result

    def _dispatch(self, cls: int, a: Any, b: Any) -> None:
        if cls == EV_ARRIVE:
            self._on_arrive(a, b)
        elif cls == EV_TICK:
            node = self._by_index[a]
            if node.core is not None and node.tick_at == self.now:
                node.tick_at = math.inf
                self._execute(node, node.core.tick(self.now), ticked=True)
        elif cls == EV_STORED:
            node = self._by_index[a]
            inc, ids = b
            if node.core is not None and node.incarnation == inc:
                self._execute(node, node.core.stored(ids, self.now))
        elif cls == EV_SUBMIT:
            self._submit(self.scenario.traffic[a])
        elif cls == EV_IMPACT:
            self._hazard_step()
            if self._progress is not None:
                self._progress(self.now - self.start_s, self.duration_s)
        elif cls == EV_KEYFRAME:
            if self.recorder is not None:
                self.recorder.keyframe(self.now)

    # ------------------------------------------------------------------ actions
    def _execute(self, node: _Node, actions: list[Any], *, ticked: bool = False) -> None:
        core = node.core
        while actions and core is not None:
            stored_ids: list[bytes] = []
            for act in actions:
                kind = type(act)
                if kind is Transmit:
                    self._transmit(node, act)
                elif kind is Telemetry:
                    self._telemetry(act.event)
                elif kind is Persist:
                    node.store.apply(act)
                    if act.records:
                        stored_ids.extend(r.msg_id for r in act.records)
                elif kind is Forget:
                    for mid in act.msg_ids:
                        node.store.records.pop(mid, None)
                elif kind is Receipt:
                    fate = self._fates.get(act.msg_id)
                    if fate is not None and act.status == "accepted":
                        fate.accepted = True
                elif kind is Deliver or kind is Dropped:
                    pass                      # the matching Telemetry event carries what we count
            actions = []
            if stored_ids:
                if self.config.commit_delay_s > 0:
                    self._push(self.now + self.config.commit_delay_s, EV_STORED, node.index, (node.incarnation, stored_ids))
                else:
                    actions = core.stored(stored_ids, self.now)
        if core is None:
            return
        w = core.next_wakeup()
        if w is None:
            return
        if ticked:
            w = max(w, self.now + TICK_GUARD_S)
        w = max(w, self.now)
        if w < node.tick_at or node.tick_at < self.now:
            node.tick_at = w
            self._push(w, EV_TICK, node.index)

    def _transmit(self, node: _Node, act: Transmit) -> None:
        link = self.links[act.link_id]
        em = link.ends[node.id]
        res = em.send(act.data, self.now)
        kind = link.spec.kind.value
        self._frames["sent"] += 1
        if isinstance(res, Sent):
            size = len(act.data)
            self.result.kind_bytes[kind] += size
            self.result.kind_cost_cny[kind] += size / 1e6 * link.spec.profile.cost_per_mb_cny
            self._push(res.arrival_s, EV_ARRIVE, link.index, node.id)
        else:
            if res.reason == "loss":   # a frame lost at random still used the link
                size = len(act.data)
                self.result.kind_bytes[kind] += size
                self.result.kind_cost_cny[kind] += size / 1e6 * link.spec.profile.cost_per_mb_cny
            self._drops[res.reason] = self._drops.get(res.reason, 0) + 1

    def _on_arrive(self, link_index: int, sender: str) -> None:
        link = self._link_by_index[link_index]
        spec = link.spec
        to = spec.b if sender == spec.a else spec.a
        node = self.nodes[to]
        for arrival in link.ends[sender].arrivals(self.now):
            if node.core is None:
                self._frames["lost_node_off"] += 1
                continue
            self._frames["arrived"] += 1
            self._execute(node, node.core.handle_frame(spec.id, arrival.frame, self.now))

    def _telemetry(self, ev: tm.TelemetryEvent) -> None:
        if self.keep_log:
            mid = f" #{ev.msg_id.hex()[:8]}" if ev.msg_id else ""
            self.log.append((ev.t_s, f"{ev.kind} {ev.node} {ev.link_id} {ev.reason}".rstrip() + mid))
        if ev.msg_id is not None:
            fate = self._fates.get(ev.msg_id)
            if fate is not None:
                if ev.kind == tm.DELIVERED and ev.node == fate.dst and fate.delivered_s is None:
                    fate.delivered_s = ev.t_s
                elif ev.kind == tm.DROPPED and ev.reason != "duplicate":
                    fate.drop_reason = ev.reason
        if self.recorder is not None:
            self.recorder.message_event(ev)

    def _submit(self, tr: Traffic) -> None:
        node = self.nodes.get(tr.from_id)
        prio = Priority(tr.priority)
        sizes = [FILE_CHUNK_BYTES] * (tr.size_bytes // FILE_CHUNK_BYTES) if tr.content == "file" else []
        rest = tr.size_bytes - sum(sizes)
        if rest > 0 or not sizes:
            sizes.append(rest if sizes else tr.size_bytes)
        if node is None or node.core is None:
            reason = "source_off" if node is not None else "source_not_running_emcomm"
            self.result.not_submitted[reason] = self.result.not_submitted.get(reason, 0) + len(sizes)
            if self.keep_log:
                self.log.append((self.now, f"not_submitted {tr.from_id} {reason}"))
            return
        ctype = CONTENT_TYPES.get(tr.content, ContentType.TEXT)
        for size in sizes:
            body = self._rng.randbytes(min(size, wire.MAX_BODY_BYTES))
            mid, actions = node.core.submit(tr.to_id, prio, ctype, body, self.now)
            if self.keep_log:
                self.log.append((self.now, f"submit {tr.from_id} {tr.to_id} {prio.name.lower()} {size}"))
            self._fates[mid] = MessageFate(mid.hex(), int(prio), tr.from_id, tr.to_id, self.now)
            self._execute(node, actions)

    # ------------------------------------------------------------------ hazards
    def _effective(self, impact: Impact) -> dict[str, LinkState]:
        stow = self.policy.stow_on_fade
        out: dict[str, LinkState] = {}
        kinds = {l.id: l.kind for l in self.scenario.links}
        for lid, st in impact.links.items():
            if st.up and kinds.get(lid) in stow and (st.capacity_factor < 1.0 or st.attenuation_db > 0.5 or st.reason):
                st = LinkState(False, 0.0, st.extra_loss, st.extra_latency_s, f"stowed by policy ({st.reason or 'fade'})",
                               st.attenuation_db)
            out[lid] = st
        return out

    def _drill_link_state(self, link: _Link) -> LinkState:
        best: LinkState | None = None
        for alt in link.spec.via:
            parts = [self.link_state[x] for x in alt]
            if not all(p.up for p in parts):
                if best is None:
                    best = next(p for p in parts if not p.up)
                continue
            cf = min(p.capacity_factor for p in parts)
            st = LinkState(True, cf, min(0.99, sum(p.extra_loss for p in parts)),
                           sum(p.extra_latency_s for p in parts), "; ".join(p.reason for p in parts if p.reason))
            if best is None or not best.up or cf > best.capacity_factor:
                best = st
        assert best is not None
        return best

    def _hazard_step(self) -> None:
        t = self.now
        impact = impact_at(self.scenario, self.model, t)
        first = self.impact is None
        self.impact = impact
        self.link_state = self._effective(impact)
        changed_nodes = [nid for nid, st in impact.nodes.items()
                         if first or self.node_state[nid].power != st.power or self.node_state[nid].up != st.up]
        self.node_state = dict(impact.nodes)
        # nodes losing power crash first; links then follow; nodes regaining power restart last
        for nid in changed_nodes:
            node = self.nodes.get(nid)
            if node is not None and node.core is not None and not impact.nodes[nid].up:
                node.core = None
                node.incarnation += 1
                node.tick_at = math.inf
                if self.keep_log:
                    self.log.append((t, f"power_off {nid}"))
        for link in self._link_by_index:
            st = self._drill_link_state(link)
            old = link.state
            if not first and st.up == old.up and abs(st.capacity_factor - old.capacity_factor) < 1e-9 \
                    and abs(st.extra_loss - old.extra_loss) < 1e-9 and abs(st.extra_latency_s - old.extra_latency_s) < 1e-9:
                continue
            link.state = st
            for em in link.ends.values():
                for d in em.set_state(t, up=st.up, capacity_factor=st.capacity_factor if st.up else None,
                                      extra_loss=min(1.0, st.extra_loss), extra_latency_s=st.extra_latency_s):
                    self._drops[d.reason] = self._drops.get(d.reason, 0) + 1
            if self.keep_log and (not first or not st.up):
                self.log.append((t, f"link_{'up' if st.up else 'down'} {link.spec.id}"))
            for end in (link.spec.a, link.spec.b):
                node = self.nodes[end]
                if node.core is None or (first and st.up and st.capacity_factor == 1.0):
                    continue
                em = link.ends[end]
                measured = {"rate_bps": em.rate_bps, "latency_s": em.latency_s, "loss": min(em.loss, 0.99)} if st.up else {}
                self._execute(node, node.core.link_changed(link.spec.id, st.up, t, **measured))
        for nid in changed_nodes:
            node = self.nodes.get(nid)
            if node is not None and node.core is None and impact.nodes[nid].up:
                node.core = NodeCore(nid, node.config, restored=node.store.load(),
                                     seed=self._core_seed(node.index, node.incarnation))
                if self.keep_log:
                    self.log.append((t, f"power_on {nid}"))
                acts: list[Any] = []
                for lid in node.config.links:
                    ls = self.links[lid].state
                    if not ls.up:
                        acts.extend(node.core.link_changed(lid, False, t))
                self._execute(node, acts + node.core.tick(t))
        self._sample(t)
        if self.recorder is not None:
            for nid in changed_nodes:
                self.recorder.node_changed(t, nid)
            self.recorder.hazard_step(t)

    def _sample(self, t: float) -> None:
        res = self.result
        self._accumulate_cut(t)
        res.sample_times_s.append(t)
        by_kind: dict[str, list[int]] = {k: [0, 0] for k in res.kind_up_fraction}
        for link in self.scenario.links:
            c = by_kind[link.kind.value]
            c[1] += 1
            c[0] += self.link_state[link.id].up
        for k, (up, n) in by_kind.items():
            res.kind_up_fraction[k].append(up / n if n else 0.0)
        bs_out = sum(1 for b in self._bs if not self.node_state[b].up)
        res.base_stations_out_fraction.append(bs_out / len(self._bs) if self._bs else 0.0)
        # command centre reach: up links of kinds the policy lets FLASH use, both ends up
        usable = self.policy.usable_kinds(Priority.FLASH)
        adj: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for link in self._link_by_index:
            s = link.spec
            if link.state.up and s.kind in usable and self.nodes[s.a].core and self.nodes[s.b].core:
                adj[s.a].append(s.b)
                adj[s.b].append(s.a)
        seen = {c for c in self._commands if self.nodes[c].core is not None}
        todo = list(seen)
        while todo:
            u = todo.pop()
            for v in adj[u]:
                if v not in seen:
                    seen.add(v)
                    todo.append(v)
        for team in self._teams:
            if team in seen:
                self._cut_since.pop(team, None)
            elif team not in self._cut_since:
                self._cut_since[team] = t
                if res.teams[team].first_s is None:
                    res.teams[team].first_s = t
        self.cut_off = dict(self._cut_since)

    def _finish(self) -> None:
        res = self.result
        res.end_s = self.now
        self._accumulate_cut(self.now)
        holders: set[bytes] = set()
        for node in self.nodes.values():
            holders.update(node.store.records)
        res.messages = list(self._fates.values())
        for fate in res.messages:
            if fate.delivered_s is None and bytes.fromhex(fate.msg_id) in holders:
                fate.pending = True
        res.frames = dict(self._frames)
        res.link_drops = {k: self._drops[k] for k in sorted(self._drops)}
        if self.recorder is not None:
            self.recorder.keyframe(self.now)
            self.recorder.close()

    def _accumulate_cut(self, t: float) -> None:
        # a hazard sample's reach holds until the next sample (or the end of the run)
        for team in self._cut_since:
            self.result.teams[team].total_s += t - self._last_sample_s
        self._last_sample_s = t


def run_drill(scenario: Scenario, config: EngineConfig = EngineConfig(), **kw: Any) -> DrillResult:
    """Build an ``Engine`` and run it (keyword arguments go to ``Engine``).

    >>> from emcomm.drill.scenario import load_scenario
    >>> r = run_drill(load_scenario("tests/data/tiny.toml"), EngineConfig(duration_s=900))  # doctest: +SKIP
    >>> r.policy
    'satellite-aware'
    """
    return Engine(scenario, config, **kw).run()


def traffic_count(scenario: Scenario, config: EngineConfig = EngineConfig()) -> int:
    """How many traffic injections a run with ``config`` makes (before file chunking)."""
    end = config.start_s + (config.duration_s if config.duration_s is not None
                            else scenario.info.duration_s - config.start_s)
    return sum(sum(1 for t in tr.times_s if config.start_s <= t < end) for tr in scenario.traffic) * config.traffic_scale


__all__: Sequence[str] = ("Engine", "EngineConfig", "RecordingSink", "run_drill", "traffic_count", "EVENT_NAMES")
