"""Reading hazard parameters from plain mappings (scenario TOML tables) with exact error keys.

This module owns checking one parameter at a time and naming it in a HazardError
(``track[2].lat_deg``). It knows nothing about any particular hazard; it never
guesses a value that was given wrongly.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Mapping, Sequence

from emcomm.errors import HazardError


def _join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


class Params:
    """A checked view of one parameter table; every getter names the key on error.

    >>> p = Params({"lat_deg": 34.7}, "")
    >>> p.number("lat_deg", lo=-90, hi=90)
    34.7
    """

    def __init__(self, data: Any, prefix: str = "") -> None:
        if not isinstance(data, Mapping):
            raise HazardError(f"expected a table of parameters, got {_kind(data)}", prefix or None)
        self.data = data
        self.prefix = prefix
        self.used: set[str] = set()

    def path(self, key: str | int) -> str:
        return _join(self.prefix, key)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, default: Any, required: bool) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise HazardError("missing required parameter", self.path(key))
            return default
        return self.data[key]

    def number(self, key: str, default: float | None = None, *, lo: float | None = None,
               hi: float | None = None, lo_open: bool = False, required: bool | None = None) -> float:
        """A finite number within [lo, hi] (``lo_open``: strictly above lo)."""
        req = default is None if required is None else required
        value = self._get(key, default, req)
        return check_number(value, self.path(key), lo=lo, hi=hi, lo_open=lo_open)

    def optional_number(self, key: str, *, lo: float | None = None, hi: float | None = None,
                        lo_open: bool = False) -> float | None:
        value = self._get(key, None, False)
        if value is None:
            return None
        return check_number(value, self.path(key), lo=lo, hi=hi, lo_open=lo_open)

    def string(self, key: str, default: str | None = None) -> str:
        value = self._get(key, default, default is None)
        if not isinstance(value, str) or not value.strip():
            raise HazardError(f"expected a non-empty string, got {value!r}", self.path(key))
        return value

    def tables(self, key: str, *, min_len: int = 1, required: bool = True) -> list["Params"]:
        """A list of sub-tables (``[[...]]`` arrays in TOML)."""
        value = self._get(key, [], required)
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise HazardError(f"expected a list of tables, got {_kind(value)}", self.path(key))
        if len(value) < min_len:
            raise HazardError(f"needs at least {min_len} entr{'y' if min_len == 1 else 'ies'}, got {len(value)}",
                              self.path(key))
        return [Params(item, _join(self.path(key), i)) for i, item in enumerate(value)]

    def series(self, key: str, *, value_lo: float = 0.0, value_hi: float | None = None,
               required: bool = True) -> tuple[tuple[float, float], ...]:
        """A time series ``[[t_s, value], ...]`` with strictly increasing times."""
        raw = self._get(key, None, required)
        if raw is None:
            return ()
        where = self.path(key)
        if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)) or len(raw) == 0:
            raise HazardError("expected a non-empty list of [t_s, value] pairs", where)
        out: list[tuple[float, float]] = []
        for i, pair in enumerate(raw):
            at = _join(where, i)
            if not isinstance(pair, Sequence) or isinstance(pair, (str, bytes)) or len(pair) != 2:
                raise HazardError(f"expected a [t_s, value] pair, got {pair!r}", at)
            t = check_number(pair[0], at + "[0]", lo=0.0)
            v = check_number(pair[1], at + "[1]", lo=value_lo, hi=value_hi)
            if out and t <= out[-1][0]:
                raise HazardError(f"times must increase: t_s {t:g} is not after {out[-1][0]:g}", at + "[0]")
            out.append((t, v))
        return tuple(out)

    def fragility(self, defaults: Mapping[str, tuple[float, float]], median_key: str, median_lo: float,
                  median_hi: float, sigma_hi: float) -> tuple[tuple[str, float, float], ...]:
        """The optional ``fragility`` table: per equipment class (a key of ``defaults``) a
        lognormal median ``median_key`` in [median_lo, median_hi] and ``sigma`` in (0, sigma_hi];
        classes not given keep their default. Returns ``((class, median, sigma), ...)``.

        >>> Params({"fragility": {"site": {"i50": 8.0, "sigma": 0.5}}}).fragility(
        ...     {"site": (9.5, 1.0), "power": (8.0, 1.0)}, "i50", 1, 12, 5)
        (('site', 8.0, 0.5), ('power', 8.0, 1.0))
        """
        table = dict(defaults)
        if self.has("fragility"):
            f = Params(self.data["fragility"], self.path("fragility"))
            self.used.add("fragility")
            for key in f.data:
                if key not in defaults:
                    raise HazardError(f"unknown equipment class; expected one of: {', '.join(defaults)}",
                                      f.path(str(key)))
                e = Params(f.data[key], f.path(key))
                table[key] = (e.number(median_key, lo=median_lo, hi=median_hi),
                              e.number("sigma", lo=0, lo_open=True, hi=sigma_hi))
                e.finish()
        return tuple((k, *v) for k, v in table.items())

    def finish(self) -> None:
        """Reject keys nobody asked for (typos), suggesting the nearest valid key."""
        unknown = [k for k in self.data if k not in self.used]
        if unknown:
            key = str(unknown[0])
            near = difflib.get_close_matches(key, sorted(self.used), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(sorted(self.used))}"
            raise HazardError(f"unknown parameter{hint}", self.path(key))


def check_number(value: Any, where: str, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False) -> float:
    """``value`` as a float, or a HazardError naming ``where`` and the expected range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HazardError(f"expected a number, got {_kind(value)} {value!r}", where)
    x = float(value)
    if not math.isfinite(x):
        raise HazardError(f"expected a finite number, got {value!r}", where)
    if lo is not None and (x <= lo if lo_open else x < lo):
        raise HazardError(f"must be {'above' if lo_open else 'at least'} {lo:g}, got {x:g}", where)
    if hi is not None and x > hi:
        raise HazardError(f"must be at most {hi:g}, got {x:g}", where)
    return x


def _kind(value: Any) -> str:
    return type(value).__name__


def interp(series: Sequence[tuple[float, float]], t_s: float) -> float:
    """Piecewise-linear value of ``[(t_s, value), ...]`` at ``t_s``; 0 outside the series.

    >>> interp(((0.0, 0.0), (10.0, 100.0)), 5.0)
    50.0
    """
    if not series or t_s < series[0][0] or t_s > series[-1][0]:
        return 0.0
    for (t0, v0), (t1, v1) in zip(series, series[1:]):
        if t0 <= t_s <= t1:
            return v0 + (v1 - v0) * (t_s - t0) / (t1 - t0)
    return series[-1][1]


def first_crossing(series: Sequence[tuple[float, float]], scale: float, level: float) -> float | None:
    """Earliest time when ``scale × series(t)`` reaches ``level`` (> 0), or None if never.

    >>> first_crossing(((0.0, 0.0), (10.0, 2.0)), 1.0, 1.0)
    5.0
    """
    if scale <= 0:
        return None
    target = level / scale
    for i, (t, v) in enumerate(series):
        if v >= target:
            if i == 0:
                return t
            t0, v0 = series[i - 1]
            return t0 + (t - t0) * (target - v0) / (v - v0)
    return None
