"""The Router's rules seen from a caller: costs of messages, policy, errors that say what
is wrong, in-place changes."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.errors import (
    EmcommError, MessageTooLargeError, NoPathError, UnknownLinkError, UnknownNodeError, UsageError, WeightError,
)
from emcomm.links.profiles import LinkKind, default_profile
from emcomm.priority import Priority
from emcomm.router.compiled import CompiledTopology
from emcomm.router.cost import link_cost
from emcomm.router.kernels.weights import link_time_money
from emcomm.router.policy import KIND_CODE, RoutingPolicy, Use
from emcomm.router.router import Router

POLICY = RoutingPolicy.default()


def _profile_link(kind: LinkKind, **over) -> dict:
    p = default_profile(kind)
    d = dict(kind=kind.value, up=True, latency_s=p.latency_s, rate_bps=p.rate_bps, mtu_bytes=p.mtu_bytes,
             min_interval_s=p.min_interval_s, loss=p.loss, cost_per_mb=p.cost_per_mb_cny)
    d.update(over)
    return d


def _field_site() -> nx.MultiGraph:
    """A flooded village reaching the command post over Beidou, Tiantong, or radio→fibre."""
    G = nx.MultiGraph()
    G.add_edge("village", "command", key="bd", **_profile_link(LinkKind.BEIDOU_RDSS))
    G.add_edge("village", "command", key="tt", **_profile_link(LinkKind.TIANTONG))
    G.add_edge("village", "relay", key="vhf", **_profile_link(LinkKind.RADIO))
    G.add_edge("relay", "command", key="fib", **_profile_link(LinkKind.FIBRE))
    return G


# --- the cost formula ---------------------------------------------------------------------

def test_beidou_fragments_each_wait_for_the_next_send_slot() -> None:
    one = link_cost(1750, 0, KIND_CODE["beidou"], latency_s=1.0, rate_bps=14000 / 60, mtu_bytes=1750,
                    min_interval_s=60.0, loss=0.0, cost_per_mb=0.0, up=True, policy=POLICY)
    two = link_cost(1751, 0, KIND_CODE["beidou"], latency_s=1.0, rate_bps=14000 / 60, mtu_bytes=1750,
                    min_interval_s=60.0, loss=0.0, cost_per_mb=0.0, up=True, policy=POLICY)
    assert one.fragments == 1 and two.fragments == 2
    assert one.time_s == pytest.approx(1.0 + 1750 * 8 / (14000 / 60))
    assert two.time_s - one.time_s == pytest.approx(60.0 + 8 / (14000 / 60))


def test_loss_adds_expected_resends_after_a_round_trip() -> None:
    args = dict(latency_s=0.3, rate_bps=8000.0, mtu_bytes=1000, min_interval_s=0.0, cost_per_mb=10.0,
                up=True, policy=POLICY)
    clean = link_cost(1000, 0, 0, loss=0.0, **args)
    lossy = link_cost(1000, 0, 0, loss=0.5, **args)   # one resend expected
    assert lossy.time_s - clean.time_s == pytest.approx(1.0 + 0.6)
    assert lossy.money_cny == pytest.approx(2 * clean.money_cny) and clean.money_cny == pytest.approx(0.01)


def test_money_counts_less_for_flash_than_routine() -> None:
    args = dict(latency_s=0.3, rate_bps=8000.0, mtu_bytes=1000, min_interval_s=0.0, loss=0.0,
                cost_per_mb=10.0, up=True, policy=POLICY.with_use(Priority.ROUTINE, "tiantong", Use.ALLOW))
    flash = link_cost(1000, Priority.FLASH, KIND_CODE["tiantong"], **args)
    routine = link_cost(1000, Priority.ROUTINE, KIND_CODE["tiantong"], **args)
    assert flash.time_s == routine.time_s and flash.weight < routine.weight


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**7), st.sampled_from(list(LinkKind)), st.floats(0, 10), st.floats(0.1, 1e9),
       st.integers(1, 9000), st.floats(0, 120), st.floats(0, 0.99), st.floats(0, 50))
def test_kernel_cost_equals_reference_formula(size, kind, lat, rate, mtu, interval, loss, cost) -> None:
    _, _, mf = POLICY.arrays()
    ref = link_cost(size, 0, KIND_CODE[kind.value], latency_s=lat, rate_bps=rate, mtu_bytes=mtu,
                    min_interval_s=interval, loss=loss, cost_per_mb=cost, up=True, policy=POLICY)
    t, m = link_time_money(size, lat, rate, mtu, interval, loss, cost, mf[KIND_CODE[kind.value]])
    if ref is None:
        assert t == math.inf
    else:
        assert t == pytest.approx(ref.time_s, rel=1e-12) and m == pytest.approx(ref.money_cny, rel=1e-12)


# --- policy -------------------------------------------------------------------------------

def test_routine_never_uses_beidou_and_takes_tiantong_only_as_last_resort() -> None:
    G = _field_site()
    router = Router.from_graph(G)
    assert router.route("village", "command", 500, "routine").links == ("vhf", "fib")
    router.fail(["vhf"])
    assert router.route("village", "command", 500, "routine").links == ("tt",)
    router.fail(["tt"])
    with pytest.raises(NoPathError, match="keeps off ROUTINE.*beidou"):
        router.route("village", "command", 500, "routine")
    assert router.route("village", "command", 500, "flash").links == ("bd",)


def test_flash_takes_the_fastest_link_whatever_it_costs() -> None:
    router = Router.from_graph(_field_site())
    r = router.route("village", "command", 500, "flash")
    assert r.links == ("tt",) and r.money_cny > 0
    assert r.arrive_s == pytest.approx(0.275 + 500 * 8 / 384_000 + 0.01 / 0.99 * (500 * 8 / 384_000 + 0.55))


def test_policy_table_is_data_that_can_be_changed() -> None:
    p = POLICY.with_use("routine", "beidou", Use.ALLOW)
    assert p.use_of("routine", "beidou") == Use.ALLOW and POLICY.use_of("routine", "beidou") == Use.NEVER
    with pytest.raises(UsageError):
        RoutingPolicy(use=((Use.ALLOW,),), seconds_per_cny=(1.0,), max_fragments=(0,))


# --- errors -------------------------------------------------------------------------------

def test_unknown_node_is_named_with_suggestions() -> None:
    router = Router.from_graph(_field_site())
    with pytest.raises(UnknownNodeError, match="unknown node 'vilage'.*did you mean village"):
        router.route("vilage", "command")


def test_no_path_says_which_part_is_cut_off() -> None:
    G = _field_site()
    G.add_edge("hamlet", "village", key="h1", **_profile_link(LinkKind.RADIO))
    router = Router.from_graph(G)
    router.fail(["bd", "tt", "vhf"])
    with pytest.raises(NoPathError) as e:
        router.route("hamlet", "command", 100, "flash")
    msg = str(e.value)
    assert "'command' is cut off" in msg and "2 node(s) ('command', 'relay')" in msg and "3 link(s) down" in msg


def test_message_larger_than_any_path_can_carry() -> None:
    G = nx.MultiGraph()
    G.add_edge("team", "command", key="bd", **_profile_link(LinkKind.BEIDOU_RDSS))
    router = Router.from_graph(G)
    assert router.route("team", "command", 16 * 1750, "flash").hops[0].link_id == "bd"
    with pytest.raises(MessageTooLargeError, match="28001-byte.*beidou carries at most 28000 bytes"):
        router.route("team", "command", 16 * 1750 + 1, "flash")


def test_constraints_that_cannot_be_met_are_explained() -> None:
    router = Router.from_graph(_field_site())
    router.fail(["tt", "bd"])
    with pytest.raises(NoPathError, match="at most 1 hop.*best path has 2 hop"):
        router.route("village", "command", 500, "flash", max_hops=1)
    with pytest.raises(NoPathError, match="cost ≤ 0.01"):
        router.route("village", "command", 500, "flash", max_cost=0.01)
    with pytest.raises(NoPathError, match="at least 1e\\+08 bit/s"):
        router.route("village", "command", 500, "flash", min_rate_bps=1e8)


@pytest.mark.parametrize("field, value, expected", [
    ("latency_s", -1.0, "latency_s is -1.0; expected a finite number ≥ 0"),
    ("rate_bps", float("nan"), "rate_bps is nan"),
    ("loss", 1.0, "loss is 1.0; expected a probability"),
    ("mtu_bytes", 0, "mtu_bytes is 0.0; expected a whole number"),
    ("cost_per_mb", float("inf"), "cost_per_mb is inf"),
    ("latency_s", "slow", "latency_s is 'slow'; expected a number"),
    ("kind", "pigeon", "unknown kind 'pigeon'"),
])
def test_bad_link_metrics_are_refused_by_name(field, value, expected) -> None:
    G = _field_site()
    G.edges["relay", "command", "fib"][field] = value
    with pytest.raises(WeightError, match=expected.replace("+", "\\+")) as e:
        Router.from_graph(G)
    assert "'fib'" in str(e.value)


def test_missing_attribute_is_named() -> None:
    G = _field_site()
    del G.edges["relay", "command", "fib"]["loss"]
    with pytest.raises(WeightError, match="link 'fib' \\((relay–command|command–relay)\\) has no loss"):
        Router.from_graph(G)


def test_bad_arguments_are_usage_errors() -> None:
    router = Router.from_graph(_field_site())
    for call in (lambda: router.route("village", "command", 0),
                 lambda: router.route("village", "command", 10, "urgent"),
                 lambda: router.route("village", "command", 10, now=float("nan")),
                 lambda: router.route("village", "command", max_hops=0),
                 lambda: router.route("village", "command", min_rate_bps=float("nan")),
                 lambda: router.backups("village", "command", k=0),
                 lambda: router.backups("village", "command", disjoint="path")):
        with pytest.raises(UsageError):
            call()
    with pytest.raises(UnknownLinkError, match="unknown link 'fibre'"):
        router.fail(["fibre"])
    with pytest.raises(WeightError):
        router.set_rate("fib", -5)
    assert issubclass(NoPathError, EmcommError) and issubclass(MessageTooLargeError, EmcommError)


# --- in-place changes and forwarding ------------------------------------------------------

def test_rain_fade_rate_change_moves_traffic_without_recompiling() -> None:
    G = _field_site()
    router = Router.from_graph(G)
    arrays_before = router.topology.adj_node
    assert router.route("village", "command", 1400, "flash").links == ("tt",)
    router.set_rate("tt", 1000.0)
    assert router.route("village", "command", 1400, "flash").links == ("vhf", "fib")
    router.set_rate("tt", 0.0)
    router.fail(["vhf"])
    assert router.route("village", "command", 1400, "flash").links == ("bd",)
    assert router.topology.adj_node is arrays_before


def test_a_node_off_air_carries_nothing_until_restored() -> None:
    router = Router.from_graph(_field_site())
    router.fail(["tt", "bd"])
    router.fail_nodes(["relay"])
    with pytest.raises(NoPathError):
        router.route("village", "command", 100, "flash")
    router.restore_nodes(["relay"])
    assert router.route("village", "command", 100, "flash").nodes == ("village", "relay", "command")


def test_next_hops_is_a_forwarding_table() -> None:
    router = Router.from_graph(_field_site())
    table = router.next_hops("village", 500, "routine")
    assert table["command"].node == "relay" and table["command"].link_id == "vhf"
    assert table["relay"].kind == LinkKind.RADIO and "village" not in table


def test_compile_keeps_parallel_links_and_both_directions() -> None:
    G = _field_site()
    topo = CompiledTopology.from_graph(G)
    assert topo.n_links == 4 and topo.adj_node.size == 8
    v, c = topo.node("village"), topo.node("command")
    heads = topo.adj_node[topo.indptr[v]:topo.indptr[v + 1]]
    assert sorted(heads.tolist()).count(c) == 2
    for j in range(topo.n_links):
        a, b = topo.link_slots[j]
        assert topo.adj_link[a] == topo.adj_link[b] == j and topo.slot_tail[a] == topo.adj_node[b]
    back = topo.to_graph()
    assert sorted(back.edges(keys=True)) == sorted(G.edges(keys=True))
    assert topo.memory_bytes > 0


def test_compiled_kernels_are_cached_on_disk() -> None:
    from emcomm.router.kernels import allpairs, constrained, contacts, dijkstra, disjoint, weights

    for module in (allpairs, constrained, contacts, dijkstra, disjoint, weights):
        for obj in vars(module).values():
            if hasattr(obj, "py_func") and obj.__module__ == module.__name__:
                assert obj._cache.__class__.__name__ != "NullCache", f"{module.__name__}.{obj.__name__}"


def test_a_resolved_link_set_fails_and_restores_like_ids() -> None:
    router = Router.from_graph(_field_site())
    before = router.route("village", "command", 100, "flash").links
    zone = router.topology.resolve(["vhf", "bd"])
    router.fail(zone)
    assert router.route("village", "command", 100, "flash").links == ("tt",)
    router.restore(zone)
    assert router.route("village", "command", 100, "flash").links == before == ("vhf", "fib")
