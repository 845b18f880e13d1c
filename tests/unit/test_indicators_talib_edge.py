"""TA-Lib equivalence on synthetic corner cases: flat and stepped prices, tiny/huge scales, zeros, NaN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import talib as _talib

import traderbot.indicators as ti

# TA-Lib's stubs type MA types as an Enum, but its functions take the plain int codes used here.
talib: Any = _talib

Bars = tuple[np.ndarray, np.ndarray, np.ndarray]
Outputs = tuple[np.ndarray, ...]


def _tuple(out: Any) -> Outputs:
    return out if isinstance(out, tuple) else (out,)


def assert_matches_talib(ours: Outputs, theirs: Outputs) -> None:
    """Identical NaN warm-up positions, then equal within 1e-9 relative (1e-12 absolute near zero)."""
    assert len(ours) == len(theirs)
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        valid = ~np.isnan(want)
        np.testing.assert_allclose(got[valid], want[valid], rtol=1e-9, atol=1e-12)


def _case(ours: Callable[..., object], theirs: Callable[..., object], hlc: bool = False) -> tuple:
    return (ours, theirs, hlc)


# (ours, talib) pairs over a parameter sweep; TA-Lib's own kwargs are always explicit because the
# installed TA-Lib's BBANDS default period differs from ours.
CASES: dict[str, tuple[Callable[..., object], Callable[..., object], bool]] = {}
for p in (1, 2, 3, 14):
    CASES[f"sma-{p}"] = _case(lambda c, p=p: ti.sma(c, p), lambda c, p=p: talib.SMA(c, p))
    CASES[f"ema-{p}"] = _case(lambda c, p=p: ti.ema(c, p), lambda c, p=p: talib.EMA(c, p))
    CASES[f"wma-{p}"] = _case(lambda c, p=p: ti.wma(c, p), lambda c, p=p: talib.WMA(c, p))
    CASES[f"roc-{p}"] = _case(lambda c, p=p: ti.roc(c, p), lambda c, p=p: talib.ROC(c, p))
    CASES[f"atr-{p}"] = _case(
        lambda h, lo, c, p=p: ti.atr(h, lo, c, p), lambda h, lo, c, p=p: talib.ATR(h, lo, c, p), True
    )
for p in (2, 3, 14):
    CASES[f"rsi-{p}"] = _case(lambda c, p=p: ti.rsi(c, p), lambda c, p=p: talib.RSI(c, p))
    CASES[f"adx-{p}"] = _case(
        lambda h, lo, c, p=p: ti.adx(h, lo, c, p), lambda h, lo, c, p=p: talib.ADX(h, lo, c, p), True
    )
for mt in (0, 1, 2):
    CASES[f"bollinger-{mt}"] = _case(
        lambda c, mt=mt: ti.bollinger(c, 5, 2.0, 2.0, mt), lambda c, mt=mt: talib.BBANDS(c, 5, 2.0, 2.0, mt)
    )
    CASES[f"bollinger-asym-{mt}"] = _case(
        lambda c, mt=mt: ti.bollinger(c, 3, 1.0, 2.5, mt), lambda c, mt=mt: talib.BBANDS(c, 3, 1.0, 2.5, mt)
    )
    CASES[f"stoch-{mt}"] = _case(
        lambda h, lo, c, mt=mt: ti.stoch(h, lo, c, 5, 3, mt, 3, mt),
        lambda h, lo, c, mt=mt: talib.STOCH(h, lo, c, 5, 3, mt, 3, mt),
        True,
    )
    CASES[f"stoch-period1-{mt}"] = _case(
        lambda h, lo, c, mt=mt: ti.stoch(h, lo, c, 1, 1, mt, 2, mt),
        lambda h, lo, c, mt=mt: talib.STOCH(h, lo, c, 1, 1, mt, 2, mt),
        True,
    )
    CASES[f"stoch_rsi-{mt}"] = _case(
        lambda c, mt=mt: ti.stoch_rsi(c, 14, 5, 3, mt), lambda c, mt=mt: talib.STOCHRSI(c, 14, 5, 3, mt)
    )
    CASES[f"stoch_rsi-short-{mt}"] = _case(
        lambda c, mt=mt: ti.stoch_rsi(c, 2, 1, 1, mt), lambda c, mt=mt: talib.STOCHRSI(c, 2, 1, 1, mt)
    )
CASES["macd"] = _case(lambda c: ti.macd(c), lambda c: talib.MACD(c, 12, 26, 9))
CASES["macd-signal1"] = _case(lambda c: ti.macd(c, 2, 3, 1), lambda c: talib.MACD(c, 2, 3, 1))
CASES["macd-swapped"] = _case(lambda c: ti.macd(c, 9, 4, 3), lambda c: talib.MACD(c, 9, 4, 3))
CASES["macd-equal"] = _case(lambda c: ti.macd(c, 5, 5, 2), lambda c: talib.MACD(c, 5, 5, 2))


def _series() -> dict[str, Bars]:
    rng = np.random.default_rng(7)
    n = 400
    flat = np.full(n, 1.2345)
    steps = np.repeat(1.0 + rng.integers(0, 3, 40) * 1e-4, 10)
    tiny = 1e-9 * (1.0 + rng.normal(0.0, 0.01, n).cumsum())
    huge = 1e12 * (1.0 + rng.normal(0.0, 0.01, n).cumsum())
    around_zero = np.round(rng.normal(0.0, 1.0, n), 1)
    ramp = np.arange(n, dtype=np.float64)
    return {
        "flat-no-range": (flat.copy(), flat.copy(), flat),
        "flat-with-range": (flat + 1e-3, flat - 1e-3, flat),
        "stepped": (steps + 1e-4 * (rng.random(n) > 0.5), steps - 1e-4 * (rng.random(n) > 0.5), steps),
        "tiny-scale": (tiny * 1.001, tiny * 0.999, tiny),
        "huge-scale": (huge * 1.001, huge * 0.999, huge),
        "around-zero": (around_zero + 0.5, around_zero - 0.5, around_zero),
        "ramp": (ramp + 1.0, ramp - 1.0, ramp),
        "shorter-than-warmup": (np.arange(5.0) + 1.0, np.arange(5.0) - 1.0, np.arange(5.0)),
    }


SERIES = _series()


def _run(case: str, bars: Bars) -> tuple[Outputs, Outputs]:
    ours, theirs, hlc = CASES[case]
    args = bars if hlc else (bars[2],)
    return _tuple(ours(*args)), _tuple(theirs(*args))


@pytest.mark.parametrize("series", sorted(SERIES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_talib_on_corner_cases(case: str, series: str) -> None:
    assert_matches_talib(*_run(case, SERIES[series]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_leading_nans_are_skipped_like_talib(case: str) -> None:
    high, low, close = (a.copy() for a in SERIES["stepped"])
    close[:7] = np.nan
    high[:3] = np.nan
    assert_matches_talib(*_run(case, (high, low, close)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_interior_nan_equals_talib_on_each_finite_run(case: str) -> None:
    """TA-Lib turns everything after an interior NaN into NaN; we restart, matching TA-Lib per run."""
    rng = np.random.default_rng(3)
    close = 100.0 + rng.normal(0.0, 1.0, 400).cumsum()
    high, low = close + rng.random(400), close - rng.random(400)
    close[[60, 61, 200]] = np.nan
    high[130] = np.nan
    ours, theirs, hlc = CASES[case]
    args = (high, low, close) if hlc else (close,)
    valid = np.all([np.isfinite(a) for a in args], axis=0)
    got = _tuple(ours(*args))
    want = [np.full(close.size, np.nan) for _ in got]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], valid.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        for target, values in zip(want, _tuple(theirs(*(a[start:stop] for a in args))), strict=True):
            target[start:stop] = values
    assert_matches_talib(got, tuple(want))
