"""Momentum indicators RSI, ROC and MACD, numerically equivalent to TA-Lib's RSI, ROC and MACD."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from traderbot.indicators._ma_kernels import FloatArray
from traderbot.indicators._segments import IntArray, runs_of
from traderbot.indicators._validation import as_float_array, check_period


@njit(cache=True)
def rsi_into(x: FloatArray, period: int, out: FloatArray) -> None:
    """Wilder RSI = 100 * G / (G + L); G, L start as the mean of the first p moves, then (G*(p-1)+gain)/p.

    Multiplying by 1/p rather than dividing by p reproduces TA-Lib 0.8's RSI bit for bit.
    """
    n = x.size
    if n <= period:
        return
    prev_value = x[0]
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        delta = x[i] - prev_value
        prev_value = x[i]
        if delta < 0.0:
            loss -= delta
        else:
            gain += delta
    inv_period = 1.0 / period
    loss *= inv_period
    gain *= inv_period
    total = gain + loss
    out[period] = 100.0 * (gain / total) if total > 0.0 else 0.0
    for i in range(period + 1, n):
        delta = x[i] - prev_value
        prev_value = x[i]
        loss *= period - 1
        gain *= period - 1
        if delta < 0.0:
            loss -= delta
        else:
            gain += delta
        loss *= inv_period
        gain *= inv_period
        total = gain + loss
        out[i] = 100.0 * (gain / total) if total > 0.0 else 0.0


@njit(cache=True)
def _rsi_runs(x: FloatArray, period: int, starts: IntArray, ends: IntArray) -> FloatArray:
    out = np.full(x.size, np.nan)
    for k in range(starts.size):
        rsi_into(x[starts[k] : ends[k]], period, out[starts[k] : ends[k]])
    return out


@njit(cache=True)
def _roc_runs(x: FloatArray, period: int, starts: IntArray, ends: IntArray) -> FloatArray:
    """ROC_t = (x_t / x_{t-p} - 1) * 100, and 0 when x_{t-p} == 0 (TA-Lib's guard)."""
    out = np.full(x.size, np.nan)
    for k in range(starts.size):
        for i in range(starts[k] + period, ends[k]):
            previous = x[i - period]
            out[i] = (x[i] / previous - 1.0) * 100.0 if previous != 0.0 else 0.0
    return out


@njit(cache=True)
def _macd_into(
    x: FloatArray, fast: int, slow: int, signal: int, macd: FloatArray, sig: FloatArray, hist: FloatArray
) -> None:
    """TA-Lib MACD: both price EMAs are SMA-seeded on windows ending at bar slow-1, signal EMA on MACD."""
    n = x.size
    lookback = (slow - 1) + (signal - 1)
    if n <= lookback:
        return
    fast_k = 2.0 / (fast + 1)
    slow_k = 2.0 / (slow + 1)
    signal_k = 2.0 / (signal + 1)
    today = 0
    slow_total = 0.0
    for _ in range(slow - fast):
        slow_total += x[today]
        today += 1
    prev_fast = 0.0
    for _ in range(fast):
        prev_fast += x[today]
        slow_total += x[today]
        today += 1
    prev_slow = slow_total / slow
    prev_fast = prev_fast / fast
    value = prev_fast - prev_slow
    prev_signal = value
    for _ in range(signal - 1):
        price = x[today]
        today += 1
        prev_fast = (price - prev_fast) * fast_k + prev_fast
        prev_slow = (price - prev_slow) * slow_k + prev_slow
        value = prev_fast - prev_slow
        prev_signal += value
    prev_signal = prev_signal / signal
    macd[lookback] = value
    sig[lookback] = prev_signal
    hist[lookback] = value - prev_signal
    for i in range(lookback + 1, n):
        price = x[i]
        prev_fast = (price - prev_fast) * fast_k + prev_fast
        prev_slow = (price - prev_slow) * slow_k + prev_slow
        value = prev_fast - prev_slow
        prev_signal = value if signal == 1 else (value - prev_signal) * signal_k + prev_signal
        macd[i] = value
        sig[i] = prev_signal
        hist[i] = value - prev_signal


@njit(cache=True)
def _macd_runs(
    x: FloatArray, fast: int, slow: int, signal: int, starts: IntArray, ends: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    macd = np.full(x.size, np.nan)
    sig = np.full(x.size, np.nan)
    hist = np.full(x.size, np.nan)
    for k in range(starts.size):
        s, e = starts[k], ends[k]
        _macd_into(x[s:e], fast, slow, signal, macd[s:e], sig[s:e], hist[s:e])
    return macd, sig, hist


def rsi(real: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Wilder's Relative Strength Index in [0, 100] (0 on a dead-flat window); talib.RSI, warm-up p."""
    x = as_float_array(real, "real")
    period = check_period(timeperiod, "timeperiod", 2)
    starts, ends = runs_of(x)
    result: FloatArray = _rsi_runs(x, period, starts, ends)
    return result


def roc(real: ArrayLike, timeperiod: int = 10) -> FloatArray:
    """Rate of change in percent, (x_t / x_{t-p} - 1) * 100; matches talib.ROC (warm-up p)."""
    x = as_float_array(real, "real")
    period = check_period(timeperiod, "timeperiod", 1)
    starts, ends = runs_of(x)
    result: FloatArray = _roc_runs(x, period, starts, ends)
    return result


def macd(
    real: ArrayLike, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD = EMA_fast - EMA_slow, signal = EMA(MACD), hist = MACD - signal; talib.MACD order and warm-up.

    As in TA-Lib the periods are swapped if slow < fast, and all three outputs start at bar slow+signal-2.
    """
    x = as_float_array(real, "real")
    fast = check_period(fastperiod, "fastperiod", 2)
    slow = check_period(slowperiod, "slowperiod", 2)
    signal = check_period(signalperiod, "signalperiod", 1)
    if slow < fast:
        fast, slow = slow, fast
    starts, ends = runs_of(x)
    result: tuple[FloatArray, FloatArray, FloatArray] = _macd_runs(x, fast, slow, signal, starts, ends)
    return result
