"""An emulated link delays, serialises, loses and drops frames as its profile says,
deterministically for a seed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from emcomm.errors import UsageError
from emcomm.links.emulation import EmulatedLink, Sent
from emcomm.links.profiles import make_profile


def _link(kind: str, seed: int = 0, **over: float) -> EmulatedLink:
    return EmulatedLink(make_profile(kind, {"loss": 0.0, **over}), seed=seed)


def test_arrival_is_serialisation_plus_latency() -> None:
    link = _link("tiantong")
    p = link.profile
    out = link.send(1000, now=5.0)
    assert isinstance(out, Sent)
    assert out.arrival_s == pytest.approx(5.0 + 1000 * 8 / p.rate_bps + p.latency_s)


def test_back_to_back_frames_queue_behind_each_other_at_the_rate() -> None:
    link = _link("radio")  # 9,600 bps
    arrivals = [link.send(480, now=0.0).arrival_s for _ in range(4)]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert gaps == pytest.approx([0.4] * 3)  # 480 bytes = 3,840 bits = 0.4 s each


def test_beidou_sends_once_per_minimum_interval() -> None:
    link = _link("beidou")
    starts = [link.send(1750, now=t).start_s for t in (0.0, 1.0, 2.0)]
    assert starts == [0.0, 60.0, 120.0]


def test_frames_over_the_mtu_are_dropped_with_reason_mtu() -> None:
    link = _link("beidou")
    out = link.send(1751, now=0.0)
    assert out.reason == "mtu" and "1750" in out.detail
    assert link.drops["mtu"] == 1 and link.in_flight == 0


def test_a_down_link_drops_with_reason_down_and_loses_frames_in_flight() -> None:
    link = _link("hts")
    link.send(b"a" * 1000, now=0.0)
    link.send(b"b" * 1000, now=0.0)
    lost = link.set_state(0.1, up=False)
    assert [d.reason for d in lost] == ["went_down", "went_down"]
    assert link.send(10, now=0.2).reason == "down"
    link.set_state(1.0, up=True)
    assert link.arrivals(now=100.0) == []
    assert isinstance(link.send(10, now=1.0), Sent)


def test_frames_already_arrived_are_not_lost_when_the_link_goes_down() -> None:
    link = _link("fibre")
    t = link.send(b"x", now=0.0).arrival_s
    link.set_state(t + 1.0, up=False)
    assert [a.frame for a in link.arrivals(t + 1.0)] == [b"x"]


def test_capacity_factor_slows_serialisation_and_zero_means_down() -> None:
    link = _link("radio")
    link.set_state(0.0, capacity_factor=0.5)
    out = link.send(480, now=0.0)
    assert out.arrival_s - link.latency_s == pytest.approx(0.8)
    link.set_state(10.0, capacity_factor=0.0)
    assert not link.state.up and link.send(1, now=10.0).reason == "down"


def test_extra_latency_and_loss_apply_from_the_change_on() -> None:
    link = _link("leo")
    link.set_state(0.0, extra_latency_s=0.5)
    assert link.send(0, now=0.0).arrival_s == pytest.approx(link.profile.latency_s + 0.5)
    link.set_state(1.0, extra_loss=1.0)
    assert link.send(10, now=1.0).reason == "loss"


def test_loss_rate_matches_the_profile_and_is_seeded() -> None:
    prof = make_profile("radio", {"loss": 0.2})
    fates = []
    for seed in (1, 1, 2):
        link = EmulatedLink(prof, seed=seed, max_backlog_s=1e9)
        fates.append([link.send(1, now=0.0).reason for _ in range(4000)])
    assert fates[0] == fates[1], "same seed, same losses"
    assert fates[0] != fates[2], "another seed, other losses"
    share = fates[0].count("loss") / 4000
    assert 0.17 < share < 0.23


def test_a_full_backlog_drops_instead_of_queueing_forever() -> None:
    link = EmulatedLink(make_profile("beidou", {"loss": 0.0}), seed=0, max_backlog_s=150.0)
    reasons = [link.send(10, now=0.0).reason for _ in range(5)]
    assert reasons == [None, None, None, "backlog", "backlog"]  # starts 0, 60, 120; 180 > 150


def test_disabled_emulation_delivers_at_once_in_order() -> None:
    link = EmulatedLink(make_profile("beidou"), seed=0, enabled=False)
    for i in range(5):
        assert link.send(bytes([i]) * 5000, now=1.0).arrival_s == 1.0
    assert [a.frame[0] for a in link.arrivals(1.0)] == [0, 1, 2, 3, 4]


def test_multipart_frames_are_sized_by_their_parts() -> None:
    link = _link("radio")
    a = link.send([b"x" * 240, b"y" * 240], now=0.0).arrival_s
    assert a == pytest.approx(0.4 + link.latency_s)
    assert link.send([b"x" * 300, b"y" * 300], now=0.0).reason == "mtu"


@pytest.mark.parametrize("kw", [{"capacity_factor": 1.5}, {"extra_loss": -0.1}, {"extra_latency_s": float("nan")}])
def test_impossible_conditions_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        _link("hts").set_state(0.0, **kw)


def test_bad_frames_and_directions_are_refused() -> None:
    with pytest.raises(UsageError, match="direction"):
        EmulatedLink(make_profile("hts"), seed=0, direction="sideways")
    with pytest.raises(UsageError, match="frame"):
        _link("hts").send("text", now=0.0)  # type: ignore[arg-type]


def test_direction_picks_the_rate() -> None:
    up = EmulatedLink(make_profile("hts"), seed=0, direction="up")
    down = EmulatedLink(make_profile("hts"), seed=0, direction="down")
    assert up.rate_bps == 12_000_000 and down.rate_bps == 150_000_000


@settings(max_examples=60, deadline=None)
@given(sends=st.lists(st.tuples(st.floats(0, 100), st.integers(0, 1400)), max_size=30),
       seed=st.integers(0, 2**32))
def test_arrivals_come_out_in_time_order_never_before_sending(sends: list[tuple[float, int]], seed: int) -> None:
    link = EmulatedLink(make_profile("tiantong"), seed=seed)
    now = 0.0
    sent_at: dict[int, float] = {}
    for dt, size in sends:
        now += dt / 10
        out = link.send(size, now=now)
        if isinstance(out, Sent):
            sent_at[out.ticket] = now
    got = link.arrivals(now=1e9)
    times = [a.arrival_s for a in got]
    assert times == sorted(times)
    assert all(a.arrival_s >= sent_at[a.ticket] + link.latency_s for a in got)
    assert len(got) == len(sent_at)
