"""Trend-strength indicator ADX (Wilder's directional movement), numerically equivalent to talib.ADX."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from traderbot.indicators._ma_kernels import FloatArray
from traderbot.indicators._segments import IntArray, runs_of
from traderbot.indicators._validation import as_float_array, check_period, check_same_length
from traderbot.indicators.volatility import true_range

_EPSILON = 1e-14  # TA-Lib's TA_IS_ZERO band, used for the +DI + -DI sum.


@njit(cache=True)
def _directional_moves(high: FloatArray, low: FloatArray, i: int) -> tuple[float, float]:
    """One-bar (+DM, -DM): the larger of the up move and down move if positive, else 0 (Wilder)."""
    diff_plus = high[i] - high[i - 1]
    diff_minus = low[i - 1] - low[i]
    if diff_minus > 0.0 and diff_plus < diff_minus:
        return 0.0, diff_minus
    if diff_plus > 0.0 and diff_plus > diff_minus:
        return diff_plus, 0.0
    return 0.0, 0.0


@njit(cache=True)
def _adx_into(high: FloatArray, low: FloatArray, close: FloatArray, period: int, out: FloatArray) -> None:
    """DX = 100|+DI - -DI|/(+DI + -DI) from Wilder-smoothed DM/TR; ADX = mean of first p DX, then Wilder."""
    n = close.size
    lookback = 2 * period - 1
    if n <= lookback:
        return
    plus_dm = 0.0
    minus_dm = 0.0
    tr = 0.0
    for i in range(1, period):
        up, down = _directional_moves(high, low, i)
        plus_dm += up
        minus_dm += down
        tr += true_range(high, low, close, i)
    sum_dx = 0.0
    prev_adx = 0.0
    for i in range(period, n):
        up, down = _directional_moves(high, low, i)
        minus_dm -= minus_dm / period
        plus_dm -= plus_dm / period
        minus_dm += down
        plus_dm += up
        tr = tr - tr / period + true_range(high, low, close, i)
        dx = -1.0
        if tr > 0.0:
            minus_di = 100.0 * (minus_dm / tr)
            plus_di = 100.0 * (plus_dm / tr)
            di_sum = minus_di + plus_di
            if not (-_EPSILON < di_sum < _EPSILON):
                dx = 100.0 * (abs(minus_di - plus_di) / di_sum)
        if i < lookback:
            if dx >= 0.0:
                sum_dx += dx
            continue
        if i == lookback:
            if dx >= 0.0:
                sum_dx += dx
            prev_adx = sum_dx / period
        elif dx >= 0.0:
            prev_adx = (prev_adx * (period - 1) + dx) / period
        out[i] = prev_adx


@njit(cache=True)
def _adx_runs(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int, starts: IntArray, ends: IntArray
) -> FloatArray:
    out = np.full(close.size, np.nan)
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        _adx_into(high[s:e], low[s:e], close[s:e], period, out[s:e])
    return out


def adx(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Average Directional Index in [0, 100] (Wilder); matches talib.ADX, warm-up 2p-1."""
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    c = as_float_array(close, "close")
    check_same_length(high=h, low=lo, close=c)
    period = check_period(timeperiod, "timeperiod", 2)
    starts, ends = runs_of(h, lo, c)
    result: FloatArray = _adx_runs(h, lo, c, period, starts, ends)
    return result
