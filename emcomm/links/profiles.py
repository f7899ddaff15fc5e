"""Link kinds and their default profiles.

This module owns the *facts* about each kind of link: rates, latency, MTU, send
interval, loss, money cost, terminal power and which hazards can affect it. Every
default figure carries its public source in a comment. It does no modelling over
time (see ``propagation`` and ``power``) and no I/O.

Example
-------
>>> p = default_profile(LinkKind.BEIDOU_RDSS)
>>> p.mtu_bytes, p.min_interval_s
(1750, 60.0)
>>> p.with_overrides(min_interval_s=30.0).min_interval_s
30.0
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any, Mapping

from emcomm.errors import UsageError


class LinkKind(str, enum.Enum):
    TIANTONG = "tiantong"          # GEO S-band mobile satellite (Tiantong-1)
    HTS = "hts"                    # GEO Ka/Ku high-throughput satellite VSAT
    BEIDOU_RDSS = "beidou"         # Beidou-3 regional short message (RSMC)
    BEIDOU_GLOBAL = "beidou_global"  # Beidou-3 global short message (GSMC)
    LEO = "leo"                    # LEO broadband constellation terminal
    CELLULAR = "cellular"          # terrestrial 4G/5G through a base station
    FIBRE = "fibre"                # terrestrial fibre backhaul
    RADIO = "radio"                # VHF/UHF digital trunked / mesh radio
    UAV = "uav"                    # UAV-borne temporary base station / relay

    @classmethod
    def parse(cls, text: str) -> "LinkKind":
        try:
            return cls(text.lower())
        except ValueError:
            names = ", ".join(k.value for k in cls)
            raise UsageError(f"unknown link kind {text!r}; expected one of: {names}") from None


class Exposure(str, enum.Enum):
    """A way a hazard can act on a link (used by the hazard impact model)."""

    RAIN_FADE = "rain_fade"        # attenuation grows with rain rate (Ka worst, Ku less, S/L slight)
    WIND_STOW = "wind_stow"        # dish mis-points then must be stowed above a wind speed
    SITE_POWER = "site_power"      # needs mains (or battery/generator) at a fixed site
    GROUND_DAMAGE = "ground_damage"  # towers, cabinets, cables damaged by shaking or collapse
    FLOOD_WATER = "flood_water"    # equipment at ground level fails under water
    FIRE = "fire"                  # burnt inside a fire perimeter
    LEO_GAPS = "leo_gaps"          # coverage gaps and handover spikes
    SKY_VIEW = "sky_view"          # needs a clear view to a GEO satellite (elevation)


@dataclasses.dataclass(frozen=True)
class LinkProfile:
    """Static figures of one link kind (or one link with overrides).

    Rates are bits per second; ``rate_up_bps`` is from the terminal/field side
    towards the network, ``rate_down_bps`` the other way.
    """

    kind: LinkKind
    rate_up_bps: float
    rate_down_bps: float
    latency_s: float          # one-way propagation + processing latency
    mtu_bytes: int            # largest payload in one link frame
    min_interval_s: float     # minimum time between two sends on this link (0 = none)
    loss: float               # frame loss probability in fair conditions
    cost_per_mb_cny: float    # money cost per megabyte carried
    power_w: float            # terminal power draw while active
    frequency_ghz: float      # carrier frequency used for rain fade (0 = not a radio path to space)
    exposures: frozenset[Exposure]
    orbit: str = "none"       # "geo", "leo", or "none" for terrestrial

    @property
    def rate_bps(self) -> float:
        """The conservative (bottleneck) rate used when direction is not known."""
        return min(self.rate_up_bps, self.rate_down_bps)

    def with_overrides(self, **overrides: Any) -> "LinkProfile":
        """Return a copy with some figures replaced (e.g. a slower Tiantong terminal)."""
        unknown = set(overrides) - set(OVERRIDABLE_FIELDS)
        if unknown:
            raise UsageError(
                f"cannot override {', '.join(sorted(unknown))} of a {self.kind.value} link; "
                f"overridable: {', '.join(OVERRIDABLE_FIELDS)}"
            )
        clean: dict[str, Any] = {}
        for name, value in overrides.items():
            if name == "mtu_bytes":
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    raise UsageError(f"mtu_bytes must be a positive integer, got {value!r}")
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise UsageError(f"{name} must be a finite number, got {value!r}")
                value = float(value)
                if value < 0:
                    raise UsageError(f"{name} must not be negative, got {value}")
                if name == "loss" and value >= 1:
                    raise UsageError(f"loss must be below 1 (a probability), got {value}")
                if name in ("rate_up_bps", "rate_down_bps") and value == 0:
                    raise UsageError(f"{name} must be above 0")
            clean[name] = value
        return dataclasses.replace(self, **clean)


OVERRIDABLE_FIELDS: tuple[str, ...] = (
    "rate_up_bps", "rate_down_bps", "latency_s", "mtu_bytes", "min_interval_s",
    "loss", "cost_per_mb_cny", "power_w", "frequency_ghz",
)

_E = Exposure

DEFAULT_PROFILES: Mapping[LinkKind, LinkProfile] = {
    # Tiantong-1 (GEO, S-band). Data up to 384 kbps: China Satellite Communications /
    # China Telecom Tiantong service description ("数据业务最高384kbps"); handheld
    # terminals often far less: the default is the published ceiling and scenarios
    # override it per terminal.
    # RTT ≈ 0.55 s for a GEO hop (2 × 35,786 km up and down ≈ 0.48 s + processing).
    # Tariff: China Telecom Tiantong data is sold per MB; ≈ 10 CNY/MB is the order of
    # the published pay-as-you-go price (China Telecom Tiantong tariff sheet, 2023).
    # Handheld transmit power ≈ 2–5 W (Tiantong handset specifications, e.g. Huawei Mate 60
    # satellite-calling handsets and dedicated SC310-class terminals).
    LinkKind.TIANTONG: LinkProfile(
        kind=LinkKind.TIANTONG, rate_up_bps=384_000, rate_down_bps=384_000,
        latency_s=0.275, mtu_bytes=1400, min_interval_s=0.0, loss=0.01,
        cost_per_mb_cny=10.0, power_w=5.0, frequency_ghz=2.0,
        exposures=frozenset({_E.RAIN_FADE, _E.SKY_VIEW}), orbit="geo",
    ),
    # HTS, ChinaSat-16 (Zhongxing-16, Ka band, 2017) class: user terminal up to 150 Mbps
    # forward / 12 Mbps return (China Satcom ChinaSat-16 service figures, as in DESIGN.md).
    # GEO RTT 0.6–0.75 s → one-way ≈ 0.32 s. Ka downlink ≈ 20 GHz (ITU Ka allocation
    # 17.7–21.2 GHz). Rain fade per ITU-R P.618/P.838; VSAT dishes are stowed in storm winds
    # (typical 0.75–1.2 m Ka VSAT: operational to ≈ 72 km/h (20 m/s), survival ≈ 200 km/h, e.g. Gilat/Hughes
    # Ka terminal data sheets). Terminal power 60–100 W (same data sheets). ≈ 1 CNY/MB is
    # the order of Chinese Ka broadband bulk tariffs (China Satcom "中星16号" packages).
    LinkKind.HTS: LinkProfile(
        kind=LinkKind.HTS, rate_up_bps=12_000_000, rate_down_bps=150_000_000,
        latency_s=0.32, mtu_bytes=1400, min_interval_s=0.0, loss=0.001,
        cost_per_mb_cny=1.0, power_w=80.0, frequency_ghz=20.0,
        exposures=frozenset({_E.RAIN_FADE, _E.WIND_STOW, _E.SITE_POWER, _E.SKY_VIEW}), orbit="geo",
    ),
    # Beidou-3 regional short message communication (RSMC): ≤ 14,000 bits (1,000 Chinese
    # characters) per message, success rate ≥ 99.6 % (China Satellite Navigation Office,
    # "BeiDou Navigation Satellite System Open Service Performance Standard" and the
    # 2020 BDS-3 short-message service announcement). Civil cards: one message per 60 s
    # is the common service-frequency figure. Delivery latency ≤ 1 s (same announcement).
    # Civil RDSS terminals transmit at ≈ 5–10 W (L-band). Rate: 14,000 bits per 60 s.
    LinkKind.BEIDOU_RDSS: LinkProfile(
        kind=LinkKind.BEIDOU_RDSS, rate_up_bps=14_000 / 60.0, rate_down_bps=14_000 / 60.0,
        latency_s=1.0, mtu_bytes=14_000 // 8, min_interval_s=60.0, loss=0.004,
        cost_per_mb_cny=0.0, power_w=10.0, frequency_ghz=1.6,
        exposures=frozenset({_E.SKY_VIEW}), orbit="geo",
    ),
    # Beidou-3 global short message (GSMC): 560 bits (40 Chinese characters) per message
    # (same CSNO documents); MEO satellites, so no GEO elevation limit in China.
    LinkKind.BEIDOU_GLOBAL: LinkProfile(
        kind=LinkKind.BEIDOU_GLOBAL, rate_up_bps=560 / 60.0, rate_down_bps=560 / 60.0,
        latency_s=1.0, mtu_bytes=560 // 8, min_interval_s=60.0, loss=0.01,
        cost_per_mb_cny=0.0, power_w=10.0, frequency_ghz=1.6,
        exposures=frozenset(), orbit="none",
    ),
    # LEO broadband: ≈ 87 Mbps down / 13.5 Mbps up and ≈ 44 ms latency are median
    # fixed-terminal figures (Ookla Speedtest Intelligence, Starlink, 2023 reports);
    # satellites hand over every 15 s with latency spikes (Starlink's 15 s reconfiguration
    # interval, Tanveer et al., "Making Sense of Constellations", IMC 2023);
    # terminal power 50–100 W (Starlink standard kit data sheet). ≈ 0.05 CNY/MB: flat-rate
    # plans spread over a typical monthly volume. Ku/Ka user links ≈ 12 GHz.
    LinkKind.LEO: LinkProfile(
        kind=LinkKind.LEO, rate_up_bps=13_500_000, rate_down_bps=87_000_000,
        latency_s=0.044, mtu_bytes=1400, min_interval_s=0.0, loss=0.005,
        cost_per_mb_cny=0.05, power_w=75.0, frequency_ghz=12.0,
        exposures=frozenset({_E.RAIN_FADE, _E.LEO_GAPS, _E.SITE_POWER, _E.WIND_STOW}), orbit="leo",
    ),
    # Terrestrial 4G through a base station: ≈ 30 Mbps down / 10 Mbps up and ≈ 30 ms
    # one-way (MIIT / Ookla China mobile medians, 2022). Base stations hold up on battery
    # 2–4 h after mains loss (DESIGN.md; MIIT reports on the 2021 Henan floods). Handset ≈ 2 W.
    LinkKind.CELLULAR: LinkProfile(
        kind=LinkKind.CELLULAR, rate_up_bps=10_000_000, rate_down_bps=30_000_000,
        latency_s=0.03, mtu_bytes=1400, min_interval_s=0.0, loss=0.002,
        cost_per_mb_cny=0.005, power_w=2.0, frequency_ghz=0.0,
        exposures=frozenset({_E.SITE_POWER, _E.GROUND_DAMAGE, _E.FLOOD_WATER, _E.FIRE, _E.WIND_STOW}),
    ),
    # Fibre backhaul: 1 Gbps access, ≈ 5 µs/km → ≈ 5 ms one-way regional. Cut by
    # landslides, collapse and flooding (Luding 2022: 780 km of fibre out, MIIT).
    LinkKind.FIBRE: LinkProfile(
        kind=LinkKind.FIBRE, rate_up_bps=1_000_000_000, rate_down_bps=1_000_000_000,
        latency_s=0.005, mtu_bytes=1400, min_interval_s=0.0, loss=0.0001,
        cost_per_mb_cny=0.0, power_w=10.0, frequency_ghz=0.0,
        exposures=frozenset({_E.SITE_POWER, _E.GROUND_DAMAGE, _E.FLOOD_WATER, _E.FIRE}),
    ),
    # VHF/UHF digital radio (PDT / DMR): 9.6 kbps gross data channel (ETSI TS 102 361 DMR,
    # GA/T 1056 PDT); line of sight; portable radios 4–5 W transmit.
    LinkKind.RADIO: LinkProfile(
        kind=LinkKind.RADIO, rate_up_bps=9_600, rate_down_bps=9_600,
        latency_s=0.06, mtu_bytes=512, min_interval_s=0.0, loss=0.02,
        cost_per_mb_cny=0.0, power_w=5.0, frequency_ghz=0.0,
        exposures=frozenset({_E.FLOOD_WATER, _E.FIRE}),
    ),
    # UAV relay: a Wing Loong-2H carrying a base station restored service over ≈ 50 km²
    # for ≈ 5 h to ≈ 3,500 users in Mihe, Gongyi during the Zhengzhou floods, 21 July 2021
    # (Xinhua / AVIC reports). Shared LTE cell ≈ 20/5 Mbps, backhauled over satellite
    # (≈ 0.3 s GEO hop). It needs no ground power.
    LinkKind.UAV: LinkProfile(
        kind=LinkKind.UAV, rate_up_bps=5_000_000, rate_down_bps=20_000_000,
        latency_s=0.3, mtu_bytes=1400, min_interval_s=0.0, loss=0.01,
        cost_per_mb_cny=0.5, power_w=2.0, frequency_ghz=0.0,
        exposures=frozenset({_E.WIND_STOW}),
    ),
}


def default_profile(kind: LinkKind | str) -> LinkProfile:
    """The default profile of a link kind (accepts the kind's name)."""
    if isinstance(kind, str) and not isinstance(kind, LinkKind):
        kind = LinkKind.parse(kind)
    return DEFAULT_PROFILES[kind]


def make_profile(kind: LinkKind | str, overrides: Mapping[str, Any] | None = None) -> LinkProfile:
    """A link's profile: the kind's defaults with per-link overrides applied."""
    base = default_profile(kind)
    return base.with_overrides(**dict(overrides)) if overrides else base
