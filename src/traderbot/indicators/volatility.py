"""Volatility indicators Bollinger Bands and ATR, numerically equivalent to TA-Lib's BBANDS and ATR."""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from traderbot.indicators._ma_kernels import FloatArray, ma_into
from traderbot.indicators._moments_kernel import rolling_moments_into
from traderbot.indicators._segments import IntArray, runs_of
from traderbot.indicators._validation import (
    as_float_array,
    check_matype,
    check_period,
    check_real,
    check_same_length,
)


@njit(cache=True)
def _bollinger_into(
    x: FloatArray,
    period: int,
    nbdevup: float,
    nbdevdn: float,
    matype: int,
    upper: FloatArray,
    middle: FloatArray,
    lower: FloatArray,
) -> None:
    """middle = MA(x); upper/lower = middle +/- nbdev * population std over the same window."""
    n = x.size
    if n < period:
        return
    scratch_mean = np.empty(n)
    variance = np.full(n, np.nan)
    rolling_moments_into(x, period, scratch_mean, variance)
    ma_into(x, period, matype, middle)
    for i in range(period - 1, n):
        std = math.sqrt(variance[i]) if variance[i] > 0.0 else 0.0
        mid = middle[i]
        if nbdevup == nbdevdn:
            width = std * nbdevup
            upper[i] = mid + width
            lower[i] = mid - width
        else:
            upper[i] = mid + std * nbdevup
            lower[i] = mid - std * nbdevdn


@njit(cache=True)
def _bollinger_runs(
    x: FloatArray, period: int, nbdevup: float, nbdevdn: float, matype: int, starts: IntArray, ends: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    upper = np.full(x.size, np.nan)
    middle = np.full(x.size, np.nan)
    lower = np.full(x.size, np.nan)
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        _bollinger_into(x[s:e], period, nbdevup, nbdevdn, matype, upper[s:e], middle[s:e], lower[s:e])
    return upper, middle, lower


@njit(cache=True)
def true_range(high: FloatArray, low: FloatArray, close: FloatArray, i: int) -> float:
    """TR_i = max(H_i - L_i, |C_{i-1} - H_i|, |C_{i-1} - L_i|), compared in TA-Lib's order."""
    greatest = high[i] - low[i]
    above = abs(close[i - 1] - high[i])
    if above > greatest:
        greatest = above
    below = abs(close[i - 1] - low[i])
    if below > greatest:
        greatest = below
    return greatest


@njit(cache=True)
def _atr_into(high: FloatArray, low: FloatArray, close: FloatArray, period: int, out: FloatArray) -> None:
    """ATR seeded with the mean of the first p true ranges, then Wilder: ((ATR*(p-1)) + TR) / p."""
    n = close.size
    if n <= period:
        return
    if period == 1:
        for i in range(1, n):
            out[i] = true_range(high, low, close, i)
        return
    total = 0.0
    for i in range(1, period + 1):
        total += true_range(high, low, close, i)
    prev = total / period
    out[period] = prev
    for i in range(period + 1, n):
        prev *= period - 1
        prev += true_range(high, low, close, i)
        prev /= period
        out[i] = prev


@njit(cache=True)
def _atr_runs(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int, starts: IntArray, ends: IntArray
) -> FloatArray:
    out = np.full(close.size, np.nan)
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        _atr_into(high[s:e], low[s:e], close[s:e], period, out[s:e])
    return out


def bollinger(
    real: ArrayLike, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0, matype: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands (upper, middle, lower) = MA +/- k * population std; matches talib.BBANDS.

    Warm-up p-1. The std uses TA-Lib 0.8's cancellation-free shifted sums, so tiny variances stay exact.
    """
    x = as_float_array(real, "real")
    period = check_period(timeperiod, "timeperiod", 2)
    up = check_real(nbdevup, "nbdevup")
    down = check_real(nbdevdn, "nbdevdn")
    ma_type = check_matype(matype, "matype")
    starts, ends = runs_of(x)
    result: tuple[FloatArray, FloatArray, FloatArray] = _bollinger_runs(
        x, period, up, down, ma_type, starts, ends
    )
    return result


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Average True Range with Wilder smoothing of the true range; matches talib.ATR (warm-up p)."""
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    c = as_float_array(close, "close")
    check_same_length(high=h, low=lo, close=c)
    period = check_period(timeperiod, "timeperiod", 1)
    starts, ends = runs_of(h, lo, c)
    result: FloatArray = _atr_runs(h, lo, c, period, starts, ends)
    return result
