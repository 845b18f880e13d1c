"""Stochastic oscillators STOCH and STOCHRSI, numerically equivalent to TA-Lib's STOCH and STOCHRSI."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from traderbot.indicators._ma_kernels import FloatArray, ma_into, ma_lookback
from traderbot.indicators._segments import IntArray, runs_of
from traderbot.indicators._validation import as_float_array, check_matype, check_period, check_same_length
from traderbot.indicators.momentum import rsi_into

_SCALED_EPSILON = 1e-14  # TA-Lib's TA_IS_ZERO_SCALED band: |H - L| <= 1e-14 * (|H| + |L|) is a flat window.


@njit(cache=True)
def fastk_into(high: FloatArray, low: FloatArray, close: FloatArray, period: int, out: FloatArray) -> None:
    """Fast %K = 100 * (C - LL) / (HH - LL) over `period` bars, 0 on a flat window; monotonic deques, O(n)."""
    n = close.size
    if n < period:
        return
    max_queue = np.empty(n, np.int64)
    min_queue = np.empty(n, np.int64)
    max_head = 0
    max_tail = 0
    min_head = 0
    min_tail = 0
    for i in range(n):
        while max_tail > max_head and high[max_queue[max_tail - 1]] <= high[i]:
            max_tail -= 1
        max_queue[max_tail] = i
        max_tail += 1
        while min_tail > min_head and low[min_queue[min_tail - 1]] >= low[i]:
            min_tail -= 1
        min_queue[min_tail] = i
        min_tail += 1
        if max_queue[max_head] <= i - period:
            max_head += 1
        if min_queue[min_head] <= i - period:
            min_head += 1
        if i >= period - 1:
            highest = high[max_queue[max_head]]
            lowest = low[min_queue[min_head]]
            span = highest - lowest
            if abs(span) <= _SCALED_EPSILON * (abs(highest) + abs(lowest)):
                out[i] = 0.0
            else:
                out[i] = ((close[i] - lowest) / span) * 100.0


@njit(cache=True)
def _stoch_into(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    fastk_period: int,
    slowk_period: int,
    slowk_matype: int,
    slowd_period: int,
    slowd_matype: int,
    slowk: FloatArray,
    slowd: FloatArray,
) -> None:
    """Slow %K = MA(fast %K), slow %D = MA(slow %K); both published from the %D warm-up like TA-Lib."""
    n = close.size
    fastk = np.full(n, np.nan)
    fastk_into(high, low, close, fastk_period, fastk)
    start_k = fastk_period - 1
    if n <= start_k:
        return
    smooth_k = np.full(n, np.nan)
    ma_into(fastk[start_k:], slowk_period, slowk_matype, smooth_k[start_k:])
    start_d = start_k + ma_lookback(slowk_period, slowk_matype)
    if n <= start_d:
        return
    ma_into(smooth_k[start_d:], slowd_period, slowd_matype, slowd[start_d:])
    first = start_d + ma_lookback(slowd_period, slowd_matype)
    for i in range(first, n):
        slowk[i] = smooth_k[i]


@njit(cache=True)
def _stoch_runs(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    params: tuple[int, int, int, int, int],
    starts: IntArray,
    ends: IntArray,
) -> tuple[FloatArray, FloatArray]:
    slowk = np.full(close.size, np.nan)
    slowd = np.full(close.size, np.nan)
    fk, sk, skt, sd, sdt = params
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        _stoch_into(high[s:e], low[s:e], close[s:e], fk, sk, skt, sd, sdt, slowk[s:e], slowd[s:e])
    return slowk, slowd


@njit(cache=True)
def _stoch_rsi_into(
    x: FloatArray,
    timeperiod: int,
    fastk_period: int,
    fastd_period: int,
    fastd_matype: int,
    fastk: FloatArray,
    fastd: FloatArray,
) -> None:
    """Fast %K of RSI over itself (high = low = close = RSI) and %D = MA(%K), aligned like TA-Lib."""
    n = x.size
    if n <= timeperiod:
        return
    rsi_values = np.full(n, np.nan)
    rsi_into(x, timeperiod, rsi_values)
    r = rsi_values[timeperiod:]
    raw_k = np.full(r.size, np.nan)
    fastk_into(r, r, r, fastk_period, raw_k)
    start_d = fastk_period - 1
    if r.size <= start_d:
        return
    smooth = np.full(r.size, np.nan)
    ma_into(raw_k[start_d:], fastd_period, fastd_matype, smooth[start_d:])
    first = start_d + ma_lookback(fastd_period, fastd_matype)
    for j in range(first, r.size):
        fastk[timeperiod + j] = raw_k[j]
        fastd[timeperiod + j] = smooth[j]


@njit(cache=True)
def _stoch_rsi_runs(
    x: FloatArray, params: tuple[int, int, int, int], starts: IntArray, ends: IntArray
) -> tuple[FloatArray, FloatArray]:
    fastk = np.full(x.size, np.nan)
    fastd = np.full(x.size, np.nan)
    tp, fk, fd, fdt = params
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        _stoch_rsi_into(x[s:e], tp, fk, fd, fdt, fastk[s:e], fastd[s:e])
    return fastk, fastd


def stoch(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowk_matype: int = 0,
    slowd_period: int = 3,
    slowd_matype: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic (slowk, slowd): %K = 100(C-LL)/(HH-LL) smoothed twice; matches talib.STOCH.

    Warm-up is (fastk_period-1) + lookback(slowk MA) + lookback(slowd MA) for both outputs.
    """
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    c = as_float_array(close, "close")
    check_same_length(high=h, low=lo, close=c)
    params = (
        check_period(fastk_period, "fastk_period", 1),
        check_period(slowk_period, "slowk_period", 1),
        check_matype(slowk_matype, "slowk_matype"),
        check_period(slowd_period, "slowd_period", 1),
        check_matype(slowd_matype, "slowd_matype"),
    )
    starts, ends = runs_of(h, lo, c)
    result: tuple[FloatArray, FloatArray] = _stoch_runs(h, lo, c, params, starts, ends)
    return result


def stoch_rsi(
    real: ArrayLike,
    timeperiod: int = 14,
    fastk_period: int = 5,
    fastd_period: int = 3,
    fastd_matype: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """Stochastic RSI (fastk, fastd): fast stochastic of RSI(timeperiod); matches talib.STOCHRSI.

    Warm-up is timeperiod + (fastk_period-1) + lookback(fastd MA) for both outputs.
    """
    x = as_float_array(real, "real")
    params = (
        check_period(timeperiod, "timeperiod", 2),
        check_period(fastk_period, "fastk_period", 1),
        check_period(fastd_period, "fastd_period", 1),
        check_matype(fastd_matype, "fastd_matype"),
    )
    starts, ends = runs_of(x)
    result: tuple[FloatArray, FloatArray] = _stoch_rsi_runs(x, params, starts, ends)
    return result
