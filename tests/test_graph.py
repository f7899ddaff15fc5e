"""Building the topology MultiGraph from specs (with hazard state) and from live link records."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.errors import UsageError
from emcomm.hazards.base import PowerState, Site
from emcomm.hazards.impact import Impact, LinkSpec, LinkState, NodeSpec, NodeState
from emcomm.links.profiles import LinkKind, make_profile
from emcomm.router import attrs as A
from emcomm.router.graph import LinkRecord, NodeRecord, build_graph, build_graph_from_records, up_subgraph

NODES = [
    NodeSpec(Site("cc", 34.75, 113.62), "command"),
    NodeSpec(Site("t1", 34.70, 113.50), "team"),
    NodeSpec(Site("bs1", 34.72, 113.55), "base_station"),
]
LINKS = [
    LinkSpec("tt", "cc", "t1", make_profile("tiantong")),
    LinkSpec("bd", "cc", "t1", make_profile("beidou")),
    LinkSpec("hts", "cc", "t1", make_profile("hts", {"rate_up_bps": 2_000_000})),
    LinkSpec("cell", "t1", "bs1", make_profile("cellular")),
    LinkSpec("fib", "bs1", "cc", make_profile("fibre")),
]
MAINS = NodeState(True, PowerState.MAINS, None)
FAIR = LinkState(True, 1.0, 0.0, 0.0)


def test_parallel_links_of_different_kinds_stay_separate_edges_keyed_by_link_id() -> None:
    g = build_graph(NODES, LINKS)
    assert set(g["cc"]["t1"]) == {"tt", "bd", "hts"}
    assert {g.edges["cc", "t1", k][A.EDGE_KIND] for k in ("tt", "bd", "hts")} == {"tiantong", "beidou", "hts"}
    assert g.number_of_edges() == len(LINKS)


def test_every_edge_carries_all_metrics_kind_and_up() -> None:
    g = build_graph(NODES, LINKS)
    for _, _, data in g.edges(data=True):
        for name in A.EDGE_METRICS + (A.EDGE_KIND, A.EDGE_UP, A.EDGE_REASON, A.EDGE_CAPACITY_FACTOR):
            assert name in data, name


def test_fair_edge_metrics_come_from_the_profile_with_overrides() -> None:
    g = build_graph(NODES, LINKS)
    e = g.edges["cc", "t1", "hts"]
    p = make_profile("hts", {"rate_up_bps": 2_000_000})
    assert e[A.EDGE_RATE_BPS] == min(p.rate_up_bps, p.rate_down_bps) == 2_000_000
    assert e[A.EDGE_LATENCY_S] == p.latency_s
    assert e[A.EDGE_MTU_BYTES] == p.mtu_bytes and e[A.EDGE_COST_PER_MB] == p.cost_per_mb_cny
    assert e[A.EDGE_UP] is True and e[A.EDGE_REASON] == ""


def test_node_attributes_come_from_site_role_and_names() -> None:
    g = build_graph(NODES, LINKS, names={"cc": "Zhengzhou command"})
    assert g.nodes["cc"][A.NODE_NAME] == "Zhengzhou command"
    assert g.nodes["t1"][A.NODE_NAME] == "t1"
    assert g.nodes["bs1"][A.NODE_ROLE] == "base_station"
    assert (g.nodes["cc"][A.NODE_LAT], g.nodes["cc"][A.NODE_LON]) == (34.75, 113.62)


def test_hazard_state_scales_rate_and_adds_loss_and_latency() -> None:
    impact = Impact(
        3600.0,
        {n.site.id: MAINS for n in NODES},
        {"tt": FAIR, "bd": FAIR, "cell": FAIR, "fib": FAIR,
         "hts": LinkState(True, 0.25, 0.05, 0.1, "rain fade 9 dB")},
    )
    g = build_graph(NODES, LINKS, impact)
    e = g.edges["cc", "t1", "hts"]
    p = make_profile("hts", {"rate_up_bps": 2_000_000})
    assert e[A.EDGE_RATE_BPS] == pytest.approx(p.rate_bps * 0.25)
    assert e[A.EDGE_LOSS] == pytest.approx(p.loss + 0.05)
    assert e[A.EDGE_LATENCY_S] == pytest.approx(p.latency_s + 0.1)
    assert e[A.EDGE_CAPACITY_FACTOR] == 0.25 and e[A.EDGE_REASON] == "rain fade 9 dB"


def test_a_node_off_air_takes_its_links_down_with_a_reason() -> None:
    impact = Impact(
        7200.0,
        {"cc": MAINS, "t1": MAINS, "bs1": NodeState(False, PowerState.OFF, None, "battery empty")},
        {k.id: FAIR for k in LINKS},
    )
    g = build_graph(NODES, LINKS, impact)
    assert g.edges["t1", "bs1", "cell"][A.EDGE_UP] is False
    assert "bs1" in g.edges["t1", "bs1", "cell"][A.EDGE_REASON]
    assert g.edges["cc", "t1", "tt"][A.EDGE_UP] is True
    assert g.nodes["bs1"][A.NODE_POWER] == "off" and g.nodes["bs1"][A.NODE_UP] is False
    sub = up_subgraph(g)
    assert "bs1" not in sub and sub.number_of_edges() == 3


def test_link_down_in_the_impact_is_down_on_the_edge() -> None:
    impact = Impact(0.0, {n.site.id: MAINS for n in NODES},
                    {**{k.id: FAIR for k in LINKS}, "fib": LinkState(False, 0.0, 0.0, 0.0, "fibre cut")})
    g = build_graph(NODES, LINKS, impact)
    assert g.edges["bs1", "cc", "fib"][A.EDGE_UP] is False
    assert g.edges["bs1", "cc", "fib"][A.EDGE_RATE_BPS] == 0.0


def test_link_to_unknown_node_is_refused_with_its_name() -> None:
    with pytest.raises(UsageError, match="unknown node 'ghost'"):
        build_graph(NODES, [LinkSpec("x", "cc", "ghost", make_profile("radio"))])


def test_duplicate_link_id_is_refused() -> None:
    with pytest.raises(UsageError, match="duplicate link id 'tt'"):
        build_graph(NODES, LINKS + [LinkSpec("tt", "cc", "bs1", make_profile("radio"))])


def test_records_build_the_same_edges_as_specs() -> None:
    g1 = build_graph(NODES, LINKS)
    records = [
        LinkRecord(k, u, v, d[A.EDGE_KIND], d[A.EDGE_UP], d[A.EDGE_RATE_BPS], d[A.EDGE_LATENCY_S],
                   d[A.EDGE_MTU_BYTES], d[A.EDGE_MIN_INTERVAL_S], d[A.EDGE_LOSS], d[A.EDGE_COST_PER_MB])
        for u, v, k, d in g1.edges(keys=True, data=True)
    ]
    g2 = build_graph_from_records(records)
    assert set(g2.edges(keys=True)) == set(g1.edges(keys=True))
    for u, v, k in g1.edges(keys=True):
        for m in A.EDGE_METRICS + (A.EDGE_KIND, A.EDGE_UP):
            assert g1.edges[u, v, k][m] == g2.edges[u, v, k][m]


def test_records_of_a_node_that_is_down_take_its_links_down() -> None:
    g = build_graph_from_records(
        [LinkRecord("x", "a", "b", "radio", True, 9600.0, 0.06, 512)],
        [NodeRecord("b", up=False, power="off")],
    )
    assert g.edges["a", "b", "x"][A.EDGE_UP] is False
    assert g.nodes["a"][A.NODE_UP] is True


@settings(max_examples=50, deadline=None)
@given(
    factor=st.floats(0.0, 1.0),
    extra_loss=st.floats(0.0, 1.0),
    kind=st.sampled_from(list(LinkKind)),
)
def test_degraded_edge_never_beats_the_fair_edge(factor: float, extra_loss: float, kind: LinkKind) -> None:
    nodes = NODES[:2]
    link = LinkSpec("l", "cc", "t1", make_profile(kind))
    fair = build_graph(nodes, [link]).edges["cc", "t1", "l"]
    imp = Impact(0.0, {"cc": MAINS, "t1": MAINS}, {"l": LinkState(True, factor, extra_loss, 0.0)})
    bad = build_graph(nodes, [link], imp).edges["cc", "t1", "l"]
    assert bad[A.EDGE_RATE_BPS] <= fair[A.EDGE_RATE_BPS]
    assert fair[A.EDGE_LOSS] <= bad[A.EDGE_LOSS] < 1.0
