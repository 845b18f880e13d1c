"""Rolling statistics without a TA-Lib equivalent: z-score and realised volatility of log returns."""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from traderbot.indicators._ma_kernels import FloatArray
from traderbot.indicators._moments_kernel import rolling_moments_into
from traderbot.indicators._segments import IntArray, finite_runs
from traderbot.indicators._validation import as_float_array, check_period, check_real


@njit(cache=True)
def _flat_run_lengths(x: FloatArray) -> IntArray:
    """Length of the run of identical values ending at each bar; a window inside one run has zero spread."""
    run = np.ones(x.size, np.int64)
    for i in range(1, x.size):
        if x[i] == x[i - 1]:
            run[i] = run[i - 1] + 1
    return run


_FLAT_RATIO_SQ = 1e-28  # a window is flat when std <= 1e-14 * RMS(window): spread at rounding level


@njit(cache=True)
def _zscore_into(x: FloatArray, period: int, out: FloatArray) -> None:
    """z_t = (x_t - mean_t) / std_t over the last p values (population std); NaN for a flat window."""
    n = x.size
    if n < period:
        return
    mean = np.empty(n)
    var = np.empty(n)
    rolling_moments_into(x, period, mean, var)
    for i in range(period - 1, n):
        if var[i] > _FLAT_RATIO_SQ * (mean[i] * mean[i] + var[i]):
            out[i] = (x[i] - mean[i]) / math.sqrt(var[i])


@njit(cache=True)
def _zscore_runs(x: FloatArray, period: int, starts: IntArray, ends: IntArray) -> FloatArray:
    out = np.full(x.size, np.nan)
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        _zscore_into(x[s:e], period, out[s:e])
    return out


@njit(cache=True)
def _volatility_into(close: FloatArray, period: int, scale: float, out: FloatArray) -> None:
    """vol_t = sample std of r_j = ln(C_j / C_{j-1}) for j in (t-p, t], times sqrt(annualization)."""
    n = close.size
    if n <= period:
        return
    returns = np.empty(n - 1)
    for j in range(1, n):
        returns[j - 1] = math.log(close[j] / close[j - 1])
    mean = np.empty(n - 1)
    var = np.empty(n - 1)
    rolling_moments_into(returns, period, mean, var)
    run = _flat_run_lengths(returns)
    bessel = period / (period - 1.0)
    for j in range(period - 1, n - 1):
        if run[j] >= period or var[j] <= 0.0:
            out[j + 1] = 0.0
        else:
            out[j + 1] = math.sqrt(var[j] * bessel) * scale


@njit(cache=True)
def _volatility_runs(
    close: FloatArray, period: int, scale: float, starts: IntArray, ends: IntArray
) -> FloatArray:
    out = np.full(close.size, np.nan)
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        _volatility_into(close[s:e], period, scale, out[s:e])
    return out


def zscore(real: ArrayLike, timeperiod: int = 20) -> FloatArray:
    """Rolling z-score (x_t - mean) / std over the last p values, population std (ddof=0).

    Warm-up p-1; NaN for a flat window (std <= 1e-14 * RMS, values equal up to rounding), where z is noise.
    """
    x = as_float_array(real, "real")
    period = check_period(timeperiod, "timeperiod", 2)
    starts, ends = finite_runs(np.isfinite(x))
    result: FloatArray = _zscore_runs(x, period, starts, ends)
    return result


def rolling_volatility(close: ArrayLike, timeperiod: int = 20, annualization: float = 1.0) -> FloatArray:
    """Realised volatility = std(ln(C_j/C_{j-1}) over the last p returns, ddof=1) * sqrt(annualization).

    Warm-up p (p returns need p+1 prices). Non-positive prices are treated as missing, like NaN.
    """
    c = as_float_array(close, "close")
    period = check_period(timeperiod, "timeperiod", 2)
    factor = check_real(annualization, "annualization", lower=0.0)
    if factor == 0.0:
        raise ValueError("annualization must be positive, got 0.0.")
    starts, ends = finite_runs(np.isfinite(c) & (c > 0.0))
    result: FloatArray = _volatility_runs(c, period, math.sqrt(factor), starts, ends)
    return result
