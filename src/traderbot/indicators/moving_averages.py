"""Moving averages SMA, EMA and WMA, numerically equivalent to TA-Lib's SMA, EMA and WMA."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from traderbot.indicators._ma_kernels import FloatArray, ma_into
from traderbot.indicators._segments import IntArray, runs_of
from traderbot.indicators._validation import as_float_array, check_period


@njit(cache=True)
def _ma_runs(x: FloatArray, period: int, matype: int, starts: IntArray, ends: IntArray) -> FloatArray:
    """Apply one moving-average kernel to every finite run, NaN elsewhere."""
    out = np.full(x.size, np.nan)
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        ma_into(x[s:e], period, matype, out[s:e])
    return out


def _moving_average(real: ArrayLike, timeperiod: int, matype: int) -> FloatArray:
    x = as_float_array(real, "real")
    period = check_period(timeperiod, "timeperiod", 1)
    starts, ends = runs_of(x)
    result: FloatArray = _ma_runs(x, period, matype, starts, ends)
    return result


def sma(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Simple moving average, mean of the last `timeperiod` values; matches talib.SMA (warm-up p-1)."""
    return _moving_average(real, timeperiod, 0)


def ema(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Exponential moving average, k = 2/(p+1), seeded by the SMA of the first p values; talib.EMA."""
    return _moving_average(real, timeperiod, 1)


def wma(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Linearly weighted moving average, weights 1..p over p(p+1)/2; matches talib.WMA (warm-up p-1)."""
    return _moving_average(real, timeperiod, 2)
