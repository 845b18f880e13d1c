"""Numba rolling mean/population variance with TA-Lib 0.8's cancellation-free shifted sums (VAR, #118).

Sums of (x - shift)^k stay at variance scale; the shift is re-anchored to the window mean when needed.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@njit(cache=True)
def rolling_moments_into(x: FloatArray, period: int, mean_out: FloatArray, var_out: FloatArray) -> None:
    """Write mean_t = shift + S1/p and var_t = S2/p - (S1/p)^2 over x[t-p+1..t] for t >= p-1."""
    n = x.size
    if n < period:
        return
    inv_period = 1.0 / period
    lookback = period - 1
    shift = x[0]
    total1 = 0.0
    total2 = 0.0
    for j in range(lookback):
        dev = x[j] - shift
        total1 += dev
        total2 += dev * dev
    bars_until_reseed = 32 * period
    for i in range(lookback, n):
        dev = x[i] - shift
        total1 += dev
        total2 += dev * dev
        mean1 = total1 * inv_period
        variance = total2 * inv_period - mean1 * mean1
        mean = shift + mean1
        dev = x[i - lookback] - shift
        total1 -= dev
        dev_sq = dev * dev
        total2 -= dev_sq
        bars_until_reseed -= 1
        if variance < 1e-6 * (total2 * inv_period) or dev_sq > 1e6 * total2 or bars_until_reseed <= 0:
            bars_until_reseed = 32 * period
            start = i - lookback
            acc = 0.0
            for j in range(start, i + 1):
                acc += x[j]
            shift = acc * inv_period
            total1 = 0.0
            total2 = 0.0
            for j in range(start, i + 1):
                dev = x[j] - shift
                total1 += dev
                total2 += dev * dev
            mean1 = total1 * inv_period
            variance = total2 * inv_period - mean1 * mean1
            mean = shift + mean1
            dev = x[start] - shift
            total1 -= dev
            total2 -= dev * dev
        mean_out[i] = mean
        var_out[i] = variance
