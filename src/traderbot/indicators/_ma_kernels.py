"""Numba O(n) moving-average kernels (SMA, EMA, WMA) in TA-Lib's seeding and summation order.

Each `*_into(x, period, out)` reads one run of finite values and fills `out[lookback:]` (NaN pre-filled).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

MA_SMA = 0
MA_EMA = 1
MA_WMA = 2


@njit(cache=True)
def copy_into(x: FloatArray, out: FloatArray) -> None:
    """Period-1 moving average: TA-Lib returns the input unchanged."""
    for i in range(x.size):
        out[i] = x[i]


@njit(cache=True)
def sma_into(x: FloatArray, period: int, out: FloatArray) -> None:
    """SMA_t = sum(x[t-p+1..t]) / p with TA-Lib's running sum (add new, emit, subtract oldest)."""
    n = x.size
    if period == 1:
        copy_into(x, out)
        return
    if n < period:
        return
    total = 0.0
    for i in range(period - 1):
        total += x[i]
    for i in range(period - 1, n):
        total += x[i]
        current = total
        total -= x[i - period + 1]
        out[i] = current / period


@njit(cache=True)
def ema_into(x: FloatArray, period: int, out: FloatArray) -> None:
    """EMA_t = (x_t - EMA_{t-1}) * k + EMA_{t-1}, k = 2/(p+1), seeded with the SMA of the first p values."""
    n = x.size
    if period == 1:
        copy_into(x, out)
        return
    if n < period:
        return
    k = 2.0 / (period + 1)
    total = 0.0
    for i in range(period):
        total += x[i]
    prev = total / period
    out[period - 1] = prev
    for i in range(period, n):
        prev = (x[i] - prev) * k + prev
        out[i] = prev


@njit(cache=True)
def wma_into(x: FloatArray, period: int, out: FloatArray) -> None:
    """WMA_t = sum(j * x_{t-p+j}, j=1..p) / (p(p+1)/2) via TA-Lib's O(1) periodSum/periodSub update.

    The sums are rebuilt from the window every `period` bars so rounding cannot drift (amortised O(n)).
    """
    n = x.size
    if period == 1:
        copy_into(x, out)
        return
    if n < period:
        return
    divider = period * (period + 1) / 2.0
    period_sub = 0.0
    period_sum = 0.0
    for i in range(period - 1):
        period_sub += x[i]
        period_sum += x[i] * (i + 1)
    trailing_value = 0.0
    for i in range(period - 1, n):
        start = i - period + 1
        if start > 0 and start % period == 0:
            # Rebuild the sums of x[start-1 .. i-1], the state the recurrence would carry here.
            period_sub = 0.0
            period_sum = 0.0
            for j in range(start - 1, i):
                period_sub += x[j]
                period_sum += x[j] * (j - start + 1)
            trailing_value = x[start - 1]
        value = x[i]
        period_sub += value
        period_sub -= trailing_value
        period_sum += value * period
        trailing_value = x[start]
        out[i] = period_sum / divider
        period_sum -= period_sub


@njit(cache=True)
def ma_lookback(period: int, matype: int) -> int:
    """Leading bars TA_MA needs before its first output (0 for period 1, else period - 1)."""
    if period <= 1:
        return 0
    return period - 1


@njit(cache=True)
def ma_into(x: FloatArray, period: int, matype: int, out: FloatArray) -> None:
    """Dispatch to the TA_MAType kernel: 0 SMA, 1 EMA, 2 WMA (validated by the caller)."""
    if matype == MA_EMA:
        ema_into(x, period, out)
    elif matype == MA_WMA:
        wma_into(x, period, out)
    else:
        sma_into(x, period, out)
