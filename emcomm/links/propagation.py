"""Propagation physics of satellite links: rain fade, GEO look angles, wind on dishes, LEO gaps.

Owns pure functions from physical inputs (frequency, rain rate, latitude, elevation,
wind speed, time) to attenuation, pointing loss and capacity. It knows nothing about
hazards, scenarios or nodes (``emcomm.hazards.impact`` combines them) and reads no clock.

Sources
-------
- Specific attenuation: ITU-R P.838-3 (03/2005), "Specific attenuation model for rain for
  use in prediction methods", Tables 1–4 and equations (1)–(5).
- Slant-path rain attenuation: ITU-R P.618-13 (12/2017) §2.2.1.1, steps 1–10.
- Rain height: ITU-R P.839-4 gives ``h_R = h_0 + 0.36 km`` from a digital map of the 0 °C
  isotherm height h_0. Without the map we use the latitude approximation of ITU-R P.839-2
  (1999) §2: ``h_R = 5 − 0.075 (φ − 23)`` km for φ > 23° N, 5 km for −21° ≤ φ ≤ 23°,
  ``5 + 0.1 (φ + 21)`` km for −71° ≤ φ < −21°, 0 below −71°. Callers holding a map value pass
  ``rain_height_km`` explicitly. (At Zhengzhou the approximation gives 4.1 km where the
  P.839-4 map gives ≈ 5 km, so fades come out ≈ 20 % lower; see tests/test_propagation.py.)
- ACM steps: DVB-S2, ETSI EN 302 307-1 V1.4.1 (2014) Table 13: ideal Es/N0 for quasi-error-free
  operation (AWGN, normal FECFRAME) and spectral efficiency of each MODCOD.

Example
-------
>>> round(specific_attenuation_db_km(20.0, 100.0, elevation_deg=45.0, tilt_deg=45.0), 2)
10.29
>>> el, az = geo_look_angles_deg(34.75, 113.62, 110.5)
>>> round(el, 1), round(az, 1)
(49.5, 185.5)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from emcomm.errors import UsageError

# --- ITU-R P.838-3 regression coefficients (Tables 1–4) ---------------------------------------
_KH = ((-5.33980, -0.10008, 1.13098), (-0.35351, 1.26970, 0.45400),
       (-0.23789, 0.86036, 0.15354), (-0.94158, 0.64552, 0.16817))
_KH_M, _KH_C = -0.18961, 0.71147
_KV = ((-3.80595, 0.56934, 0.81061), (-3.44965, -0.22911, 0.51059),
       (-0.39902, 0.73042, 0.11899), (0.50167, 1.07319, 0.27195))
_KV_M, _KV_C = -0.16398, 0.63297
_AH = ((-0.14318, 1.82442, -0.55187), (0.29591, 0.77564, 0.19822), (0.32177, 0.63773, 0.13164),
       (-5.37610, -0.96230, 1.47828), (16.1721, -3.29980, 3.43990))
_AH_M, _AH_C = 0.67849, -1.95537
_AV = ((-0.07771, 2.33840, -0.76284), (0.56727, 0.95545, 0.54039), (-0.20238, 1.14520, 0.26809),
       (-48.2991, 0.791669, 0.116226), (48.5833, 0.791459, 0.116479))
_AV_M, _AV_C = -0.053739, 0.83433

POLARISATION_TILT_DEG = {"horizontal": 0.0, "vertical": 90.0, "circular": 45.0}

GEO_RADIUS_KM = 42_164.17        # geostationary orbit radius (IERS / ITU-R S.1503 constant)
EARTH_EQ_RADIUS_KM = 6_378.137   # WGS-84 equatorial radius
EFFECTIVE_EARTH_RADIUS_KM = 8_500.0  # ITU-R P.618-13 eq. (2), low-elevation path length


def _curve(log_f: float, terms: Sequence[tuple[float, float, float]]) -> float:
    return sum(a * math.exp(-(((log_f - b) / c) ** 2)) for a, b, c in terms)


def _check_frequency(frequency_ghz: float) -> None:
    if not (1.0 <= frequency_ghz <= 1000.0) or not math.isfinite(frequency_ghz):
        raise UsageError(f"frequency_ghz must be within 1–1000 GHz (ITU-R P.838-3 range), got {frequency_ghz}")


def p838_coefficients(frequency_ghz: float) -> tuple[float, float, float, float]:
    """(k_H, α_H, k_V, α_V) of ITU-R P.838-3 at a frequency (1–1000 GHz).

    >>> [round(x, 4) for x in p838_coefficients(20.0)]
    [0.0916, 1.0568, 0.0961, 0.9847]
    """
    _check_frequency(frequency_ghz)
    lf = math.log10(frequency_ghz)
    k_h = 10 ** (_curve(lf, _KH) + _KH_M * lf + _KH_C)
    k_v = 10 ** (_curve(lf, _KV) + _KV_M * lf + _KV_C)
    a_h = _curve(lf, _AH) + _AH_M * lf + _AH_C
    a_v = _curve(lf, _AV) + _AV_M * lf + _AV_C
    return k_h, a_h, k_v, a_v


def tilt_deg(polarisation: str | float) -> float:
    """Polarisation tilt τ in degrees from a name (horizontal/vertical/circular) or a number."""
    if isinstance(polarisation, (int, float)) and not isinstance(polarisation, bool):
        return float(polarisation)
    try:
        return POLARISATION_TILT_DEG[str(polarisation).lower()]
    except KeyError:
        raise UsageError(f"unknown polarisation {polarisation!r}; expected horizontal, vertical, "
                         "circular or a tilt angle in degrees") from None


def k_alpha(frequency_ghz: float, elevation_deg: float, tilt: str | float = "circular") -> tuple[float, float]:
    """k and α for a path elevation and polarisation tilt (P.838-3 equations (4) and (5)).

    >>> [round(x, 4) for x in k_alpha(20.0, 90.0, "circular")]
    [0.0939, 1.0199]
    """
    k_h, a_h, k_v, a_v = p838_coefficients(frequency_ghz)
    tau = math.radians(tilt_deg(tilt))
    c = math.cos(math.radians(elevation_deg)) ** 2 * math.cos(2 * tau)
    k = (k_h + k_v + (k_h - k_v) * c) / 2
    alpha = (k_h * a_h + k_v * a_v + (k_h * a_h - k_v * a_v) * c) / (2 * k)
    return k, alpha


def specific_attenuation_db_km(frequency_ghz: float, rain_rate_mm_h: float, *,
                               elevation_deg: float = 90.0, tilt_deg: str | float = 45.0) -> float:
    """γ_R = k R^α in dB/km (ITU-R P.838-3 equation (1)).

    >>> specific_attenuation_db_km(20.0, 0.0)
    0.0
    """
    if rain_rate_mm_h < 0 or not math.isfinite(rain_rate_mm_h):
        raise UsageError(f"rain_rate_mm_h must be a finite number ≥ 0, got {rain_rate_mm_h}")
    if rain_rate_mm_h == 0:
        return 0.0
    k, alpha = k_alpha(frequency_ghz, elevation_deg, tilt_deg)
    return k * rain_rate_mm_h ** alpha


def rain_height_km(lat_deg: float) -> float:
    """Rain height h_R by latitude (ITU-R P.839-2 approximation; see module docstring).

    >>> rain_height_km(10.0), round(rain_height_km(34.75), 3)
    (5.0, 4.119)
    """
    if lat_deg > 23:
        return 5.0 - 0.075 * (lat_deg - 23)
    if lat_deg >= -21:
        return 5.0
    if lat_deg >= -71:
        return 5.0 + 0.1 * (lat_deg + 21)
    return 0.0


@dataclasses.dataclass(frozen=True)
class SlantPath:
    """Intermediate quantities of the P.618 path model (for inspection and tests)."""

    rain_height_km: float
    slant_length_km: float        # L_S
    horizontal_km: float          # L_G
    gamma_db_km: float            # γ_R
    horizontal_reduction: float   # r_0.01
    vertical_adjustment: float    # v_0.01
    effective_length_km: float    # L_E
    attenuation_db: float         # γ_R · L_E


def slant_path(frequency_ghz: float, rain_rate_mm_h: float, lat_deg: float, elevation_deg: float, *,
               station_height_km: float = 0.0, rain_height_km_: float | None = None,
               tilt: str | float = "circular") -> SlantPath:
    """ITU-R P.618-13 §2.2.1.1 steps 1–9 for a rain rate R (exceeded 0.01 % → A_0.01).

    Used with an instantaneous rain rate it gives the attenuation through that rain —
    the common "instantaneous P.618" use in link simulation, with the same path reduction.

    >>> round(slant_path(20.0, 0.0, 34.75, 49.6).attenuation_db, 3)
    0.0
    """
    if not (0.0 < elevation_deg <= 90.0):
        raise UsageError(f"elevation_deg must be in (0, 90], got {elevation_deg}")
    h_r = rain_height_km(lat_deg) if rain_height_km_ is None else rain_height_km_
    dh = h_r - station_height_km
    sin_el = math.sin(math.radians(elevation_deg))
    gamma = specific_attenuation_db_km(frequency_ghz, rain_rate_mm_h, elevation_deg=elevation_deg, tilt_deg=tilt)
    if dh <= 0:   # the station is above the rain
        return SlantPath(h_r, 0.0, 0.0, gamma, 1.0, 1.0, 0.0, 0.0)
    if elevation_deg >= 5:
        ls = dh / sin_el                                                         # eq. (1)
    else:
        ls = 2 * dh / (math.sqrt(sin_el ** 2 + 2 * dh / EFFECTIVE_EARTH_RADIUS_KM) + sin_el)  # eq. (2)
    lg = ls * math.cos(math.radians(elevation_deg))                              # eq. (3)
    f = frequency_ghz
    r001 = 1.0 / (1 + 0.78 * math.sqrt(lg * gamma / f) - 0.38 * (1 - math.exp(-2 * lg)))  # eq. (5)
    zeta = math.degrees(math.atan2(dh, lg * r001))
    lr = lg * r001 / math.cos(math.radians(elevation_deg)) if zeta > elevation_deg else dh / sin_el
    chi = 36 - abs(lat_deg) if abs(lat_deg) < 36 else 0.0
    v001 = 1.0 / (1 + math.sqrt(sin_el) * (31 * (1 - math.exp(-(elevation_deg / (1 + chi))))
                                         * math.sqrt(lr * gamma) / f ** 2 - 0.45))  # eq. (6)
    le = lr * v001
    return SlantPath(h_r, ls, lg, gamma, r001, v001, le, gamma * le)


def rain_attenuation_db(frequency_ghz: float, rain_rate_mm_h: float, lat_deg: float, elevation_deg: float,
                        **kwargs: float | str | None) -> float:
    """Attenuation (dB) of a slant path through rain of ``rain_rate_mm_h`` (P.618 path model).

    More rain, higher frequency or lower elevation never gives less attenuation.

    >>> a20 = rain_attenuation_db(20.0, 50.0, 34.75, 49.6)
    >>> a12 = rain_attenuation_db(12.0, 50.0, 34.75, 49.6)
    >>> a20 > a12 > 0
    True
    """
    return slant_path(frequency_ghz, rain_rate_mm_h, lat_deg, elevation_deg, **kwargs).attenuation_db  # type: ignore[arg-type]


def attenuation_exceeded_db(a001_db: float, p_percent: float, lat_deg: float, elevation_deg: float) -> float:
    """A_p from A_0.01 for 0.001 % ≤ p ≤ 5 % (ITU-R P.618-13 step 10, eq. (8)).

    >>> attenuation_exceeded_db(20.0, 0.01, 34.75, 49.6)
    20.0
    """
    if not (0.001 <= p_percent <= 5.0):
        raise UsageError(f"p_percent must be within 0.001–5 % (P.618 step 10 range), got {p_percent}")
    if a001_db <= 0:
        return 0.0
    alat = abs(lat_deg)
    sin_el = math.sin(math.radians(elevation_deg))
    if p_percent >= 1 or alat >= 36:
        beta = 0.0
    elif elevation_deg >= 25:
        beta = -0.005 * (alat - 36)
    else:
        beta = -0.005 * (alat - 36) + 1.8 - 4.25 * sin_el
    exponent = -(0.655 + 0.033 * math.log(p_percent) - 0.045 * math.log(a001_db)
                 - beta * (1 - p_percent) * sin_el)
    return a001_db * (p_percent / 0.01) ** exponent


# --- GEO look angles -------------------------------------------------------------------------

def geo_look_angles_deg(lat_deg: float, lon_deg: float, sat_lon_deg: float,
                        height_km: float = 0.0) -> tuple[float, float]:
    """(elevation, azimuth from true north) towards a geostationary satellite, spherical Earth.

    Elevation is negative when the satellite is below the horizon.

    >>> el, az = geo_look_angles_deg(0.0, 100.0, 100.0); round(el, 6)
    90.0
    """
    phi, lam = math.radians(lat_deg), math.radians(lon_deg)
    r = EARTH_EQ_RADIUS_KM + height_km
    site = (r * math.cos(phi) * math.cos(lam), r * math.cos(phi) * math.sin(lam), r * math.sin(phi))
    sl = math.radians(sat_lon_deg)
    sat = (GEO_RADIUS_KM * math.cos(sl), GEO_RADIUS_KM * math.sin(sl), 0.0)
    d = tuple(s - o for s, o in zip(sat, site))
    east = -math.sin(lam) * d[0] + math.cos(lam) * d[1]
    north = (-math.sin(phi) * math.cos(lam) * d[0] - math.sin(phi) * math.sin(lam) * d[1]
             + math.cos(phi) * d[2])
    up = math.cos(phi) * math.cos(lam) * d[0] + math.cos(phi) * math.sin(lam) * d[1] + math.sin(phi) * d[2]
    el = math.degrees(math.atan2(up, math.hypot(east, north)))
    az = math.degrees(math.atan2(east, north)) % 360.0
    return el, az


def best_geo_elevation_deg(lat_deg: float, lon_deg: float, sat_lons_deg: Sequence[float]) -> float:
    """Highest elevation over the given GEO satellite longitudes (−90 if none)."""
    return max((geo_look_angles_deg(lat_deg, lon_deg, s)[0] for s in sat_lons_deg), default=-90.0)


# --- Wind on dishes --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DishWind:
    """How wind acts on a terminal antenna.

    ``operational_wind_m_s``: wind up to which the data sheet promises service;
    above it the dish is stowed (link down). ``error_at_operational``: pointing error at that
    wind as a fraction of the 3 dB beamwidth; wind load grows with v², so does the error.
    """

    operational_wind_m_s: float
    error_at_operational: float = 0.3


# Operational wind limits (m/s). HTS: Ka VSAT data sheets give operational 72 km/h (20 m/s),
# survival ≈ 200 km/h (e.g. Gilat / Hughes Ka terminals, as in emcomm.links.profiles).
# LEO: Starlink Standard kit "wind rating: operational 96 km/h+" (Starlink specifications
# page) → 26.7 m/s. The 0.3-beamwidth error at the operational limit is an assumption
# (≈ 1 dB pointing loss where the data sheet still promises service).
DISH_WIND: dict[str, DishWind] = {
    "hts": DishWind(operational_wind_m_s=20.0),
    "leo": DishWind(operational_wind_m_s=26.7),
}


def pointing_loss_db(wind_m_s: float, dish: DishWind) -> float:
    """Pointing loss (dB) of a wind-deflected dish below its stow wind.

    Gaussian main beam: L = 12 (θ_e / θ_3dB)² dB (Maral & Bousquet, "Satellite Communications
    Systems", 5th ed., §5.2.3, eq. 5.13). Infinite at and above the stow wind.

    >>> round(pointing_loss_db(20.0, DISH_WIND["hts"]), 2) == float("inf")
    True
    >>> round(pointing_loss_db(10.0, DISH_WIND["hts"]), 3)
    0.067
    """
    if wind_m_s >= dish.operational_wind_m_s:
        return math.inf
    ratio = dish.error_at_operational * (max(wind_m_s, 0.0) / dish.operational_wind_m_s) ** 2
    return 12.0 * ratio * ratio


# --- LEO coverage and handovers ---------------------------------------------------------------

LEO_HANDOVER_PERIOD_S = 15.0
# Starlink reassigns user terminals to satellites on a global 15 s schedule, and latency
# spikes at those instants (Tanveer et al., "Making Sense of Constellations", IMC 2023;
# Mohan et al., "A Multifaceted Look at Starlink Performance", WWW 2024). The spike of
# ≈ 1 s and ≈ +30 ms is an approximation of the measured handover RTT bumps.
LEO_SPIKE_DURATION_S = 1.0
LEO_SPIKE_EXTRA_LATENCY_S = 0.030
# Coverage probability by |latitude| (a sky with a usable satellite in a 15 s slot): the
# Starlink shells are inclined 53°/43°/70°/97.6°, so service is densest near 40–55° and thinner
# at low latitude and above 60° (Starlink availability map; shell design in FCC filing
# SAT-MOD-20200417-00037). Values are assumptions in that shape.
LEO_COVERAGE_BY_ABS_LAT: tuple[tuple[float, float], ...] = (
    (0.0, 0.97), (25.0, 0.98), (40.0, 0.995), (55.0, 0.995), (65.0, 0.97), (90.0, 0.90))


def leo_coverage_probability(lat_deg: float) -> float:
    """Probability that a 15 s slot has a usable satellite at a latitude (piecewise linear).

    >>> leo_coverage_probability(45.0)
    0.995
    """
    alat = min(abs(lat_deg), 90.0)
    table = LEO_COVERAGE_BY_ABS_LAT
    for (l0, p0), (l1, p1) in zip(table, table[1:]):
        if l0 <= alat <= l1:
            return p0 + (p1 - p0) * (alat - l0) / (l1 - l0)
    return table[-1][1]


@dataclasses.dataclass(frozen=True)
class LeoSlot:
    slot: int                    # index of the 15 s slot containing t
    in_handover: bool            # within the spike at the start of the slot
    extra_latency_s: float


def leo_slot(t_s: float) -> LeoSlot:
    """Handover state of a LEO link at time ``t_s`` (a deterministic function of time).

    >>> leo_slot(30.5).in_handover, leo_slot(31.5).in_handover
    (True, False)
    """
    slot = int(math.floor(t_s / LEO_HANDOVER_PERIOD_S))
    in_spike = (t_s - slot * LEO_HANDOVER_PERIOD_S) < LEO_SPIKE_DURATION_S
    return LeoSlot(slot, in_spike, LEO_SPIKE_EXTRA_LATENCY_S if in_spike else 0.0)


# --- Attenuation → capacity (adaptive coding and modulation) --------------------------------

# (MODCOD, ideal Es/N0 dB, spectral efficiency bit/symbol): ETSI EN 302 307-1 V1.4.1 Table 13.
DVB_S2_MODCODS: tuple[tuple[str, float, float], ...] = (
    ("QPSK 1/4", -2.35, 0.490243), ("QPSK 1/3", -1.24, 0.656448), ("QPSK 2/5", -0.30, 0.789412),
    ("QPSK 1/2", 1.00, 0.988858), ("QPSK 3/5", 2.23, 1.188304), ("QPSK 2/3", 3.10, 1.322253),
    ("QPSK 3/4", 4.03, 1.487473), ("QPSK 4/5", 4.68, 1.587196), ("QPSK 5/6", 5.18, 1.654663),
    ("QPSK 8/9", 6.20, 1.766451), ("QPSK 9/10", 6.42, 1.788612),
    ("8PSK 3/5", 5.50, 1.779991), ("8PSK 2/3", 6.62, 1.980636), ("8PSK 3/4", 7.91, 2.228124),
    ("8PSK 5/6", 9.35, 2.478562), ("8PSK 8/9", 10.69, 2.646012), ("8PSK 9/10", 10.98, 2.679207),
    ("16APSK 2/3", 8.97, 2.637201), ("16APSK 3/4", 10.21, 2.966728), ("16APSK 4/5", 11.03, 3.165623),
    ("16APSK 5/6", 11.61, 3.300184), ("16APSK 8/9", 12.89, 3.523143), ("16APSK 9/10", 13.13, 3.567342),
    ("32APSK 3/4", 12.73, 3.703295), ("32APSK 4/5", 13.64, 3.951571), ("32APSK 5/6", 14.28, 4.119540),
    ("32APSK 8/9", 15.69, 4.397854), ("32APSK 9/10", 16.05, 4.453027),
)

# Clear-sky Es/N0 of a terminal (dB) by link kind. Operators do not publish these; the values
# are assumptions: a Ka HTS user terminal designed to 16APSK 3/4–4/5 in clear sky (12 dB)
# and a LEO Ku terminal likewise; L/S-band mobile links (Tiantong, Beidou) run robust low-order
# modes with ≈ 3 dB clear-sky margin. Each can be passed explicitly.
CLEAR_SKY_ESN0_DB: dict[str, float] = {"hts": 12.0, "leo": 12.0, "tiantong": 4.0, "beidou": 4.0}
DEFAULT_CLEAR_SKY_ESN0_DB = 12.0
IMPLEMENTATION_MARGIN_DB = 1.0   # assumed modem implementation loss above the ideal thresholds


def best_modcod(esn0_db: float, margin_db: float = IMPLEMENTATION_MARGIN_DB) -> tuple[str, float] | None:
    """The most efficient MODCOD whose threshold (+ margin) is met, or None (link down).

    >>> best_modcod(12.0)
    ('16APSK 3/4', 2.966728)
    >>> best_modcod(-5.0) is None
    True
    """
    usable = [(eff, name) for name, thr, eff in DVB_S2_MODCODS if thr + margin_db <= esn0_db]
    if not usable:
        return None
    eff, name = max(usable)
    return name, eff


def capacity_factor(attenuation_db: float, clear_sky_esn0_db: float = DEFAULT_CLEAR_SKY_ESN0_DB,
                    margin_db: float = IMPLEMENTATION_MARGIN_DB) -> float:
    """Fraction of the clear-sky rate left with ``attenuation_db`` of extra path loss.

    Assumption (documented): the link runs DVB-S2 adaptive coding and modulation; extra
    attenuation lowers Es/N0 dB for dB (the rise in sky noise temperature is neglected, which
    is optimistic by ≈ 1–2 dB in heavy rain at Ka band), the modem picks the best MODCOD still
    above threshold, and the rate scales with its spectral efficiency. Below the most robust
    MODCOD (QPSK 1/4) the link is down: factor 0.

    >>> capacity_factor(0.0)
    1.0
    >>> capacity_factor(30.0)
    0.0
    >>> 0 < capacity_factor(6.0) < 1
    True
    """
    clear = best_modcod(clear_sky_esn0_db, margin_db)
    if clear is None:
        raise UsageError(f"clear_sky_esn0_db {clear_sky_esn0_db} dB is below the most robust DVB-S2 "
                         f"MODCOD (QPSK 1/4 needs {DVB_S2_MODCODS[0][1] + margin_db:.2f} dB)")
    now = best_modcod(clear_sky_esn0_db - max(attenuation_db, 0.0), margin_db)
    return 0.0 if now is None else now[1] / clear[1]


def fade_margin_db(clear_sky_esn0_db: float = DEFAULT_CLEAR_SKY_ESN0_DB,
                   margin_db: float = IMPLEMENTATION_MARGIN_DB) -> float:
    """Attenuation (dB) a link survives before it goes down (at the most robust MODCOD).

    >>> fade_margin_db(12.0)
    13.35
    """
    return round(clear_sky_esn0_db - (DVB_S2_MODCODS[0][1] + margin_db), 6)
