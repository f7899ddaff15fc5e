"""The router on a real drill's topology (Zhengzhou 2021 floods) as the drill builds it:
every route it gives is a real path of that graph, and the policy holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcomm.errors import RoutingError
from emcomm.priority import Priority
from emcomm.router.policy import RoutingPolicy, Use
from emcomm.router.router import Router
from test_router_reference import check_route, ref_costs

SCENARIO = Path(__file__).resolve().parent.parent / "drills" / "zhengzhou_2021.toml"


@pytest.fixture(scope="module")
def graphs():
    if not SCENARIO.exists():
        pytest.skip("the Zhengzhou drill is not in this checkout")
    from emcomm.drill.scenario import load_scenario
    from emcomm.drill.timeline import graph_at

    scenario = load_scenario(SCENARIO)
    model = scenario.impact_model()
    times = scenario.times_s()
    return [(t, graph_at(scenario, model, t)) for t in (times[0], times[len(times) // 2], times[-1])]


@pytest.mark.parametrize("priority", list(Priority))
def test_drill_routes_are_real_paths_and_keep_the_policy(graphs, priority) -> None:
    policy = RoutingPolicy.default()
    for t, G in graphs:
        router = Router.from_graph(G)
        command = next(n for n, d in G.nodes(data=True) if d.get("role") == "command")
        ref = ref_costs(G, command, 2000, int(priority), policy)
        for team in (n for n, d in G.nodes(data=True) if d.get("role") == "team"):
            try:
                r = router.route(team, command, 2000, priority, now=t)
            except RoutingError:
                assert team not in ref
                continue
            assert check_route(G, r, policy) == pytest.approx(ref[team], rel=1e-9)
            assert all(policy.use_of(priority, h.kind) != Use.NEVER for h in r.hops)
