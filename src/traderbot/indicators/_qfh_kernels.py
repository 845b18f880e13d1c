"""Numba kernels of the QFH feature engine (docs/qfh.md); every loop is causal: bar t reads bars <= t only.

Each kernel is one linear pass over the bars; `traderbot.indicators.qfh` validates inputs and chains them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]

UNKNOWN_BIT = -1  # a bit that cannot be known: bar 0, a non-finite close, or a repeat_prev tie after one
LOG2_3 = math.log2(3.0)
STABILITY_BARS = 20  # stability reads the mean range of bars t-20..t-1
VOLATILITY_BARS = 100  # the threshold multiplier reads the mean range of bars t-99..t
TEMPORAL_SHORT = 5
TEMPORAL_LONG = 15


@njit(cache=True)
def direction_bits(close: F64, pip_size: float, min_move: float, repeat_prev: bool) -> I8:
    """Bit k = 1 (up), 0 (down) or the tie rule's value for the move close[k-1] -> close[k], in pips."""
    n = close.size
    bits = np.full(n, UNKNOWN_BIT, dtype=np.int8)
    for k in range(1, n):
        d = (close[k] - close[k - 1]) / pip_size
        if not np.isfinite(d):
            bits[k] = UNKNOWN_BIT
        elif d > min_move:
            bits[k] = 1
        elif d < -min_move:
            bits[k] = 0
        elif repeat_prev:
            bits[k] = bits[k - 1]  # an unknown previous bit keeps this tie unknown
        else:
            bits[k] = 0
    return bits


@njit(cache=True)
def transition_counts(bits: I8, start: int, length: int) -> tuple[int, int, int]:
    """Counts (null 00, flip 01/10, rupture 11) of the adjacent pairs in bits[start:start+length]."""
    z = 0
    f = 0
    r = 0
    for j in range(start + 1, start + length):
        a = bits[j - 1]
        b = bits[j]
        if a == 0 and b == 0:
            z += 1
        elif a == 1 and b == 1:
            r += 1
        else:
            f += 1
    return z, f, r


@njit(cache=True)
def _plogp(count: int, n: int) -> float:
    """One term rho*log2(rho) of the Shannon sum, with 0*log 0 = 0."""
    if count == 0:
        return 0.0
    p = count / n
    return p * np.log2(p)


@njit(cache=True)
def clamp(x: float, lo: float, hi: float) -> float:
    """Clamp x to [lo, hi]; NaN passes through unchanged (never silently becomes a bound)."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@njit(cache=True)
def transition_entropy(z: int, f: int, r: int) -> float:
    """Shannon entropy of the three transition ratios, normalised by log2(3) and clamped to [0.05, 1]."""
    n = z + f + r
    s = _plogp(z, n) + _plogp(f, n) + _plogp(r, n)
    return clamp(-s / LOG2_3, 0.05, 1.0)


@njit(cache=True)
def trajectory(
    bits: I8, start: int, w: int, lam: float, decay: F64, sine: F64, path: F64
) -> tuple[float, float]:
    """Damped path of the window bits[start:start+w]: returns (V = last path value, T = best cosine match)."""
    b0 = float(bits[start])
    path[0] = b0
    for j in range(1, w):
        path[j] = path[j - 1] + (bits[start + j] - b0) * np.exp(-lam * j)
    first = path[0]
    last = path[w - 1]
    mid = (first + last) / 2.0
    amp = (last - first) / 2.0
    pp = 0.0
    d_dot = 0.0
    d_nn = 0.0
    l_dot = 0.0
    l_nn = 0.0
    s_dot = 0.0
    s_nn = 0.0
    for i in range(w):
        p = path[i]
        pp += p * p
        d = b0 * decay[i]
        d_dot += p * d
        d_nn += d * d
        ln = first + (last - first) * i / (w - 1)
        l_dot += p * ln
        l_nn += ln * ln
        sn = mid + amp * sine[i]
        s_dot += p * sn
        s_nn += sn * sn
    best = max(0.0, _cosine(d_dot, pp, d_nn), _cosine(l_dot, pp, l_nn), _cosine(s_dot, pp, s_nn))
    return last, clamp(best, 0.0, 1.0)


@njit(cache=True)
def _cosine(dot: float, norm2_a: float, norm2_b: float) -> float:
    """Cosine similarity from a dot product and squared norms; 0 when either vector is all zeros."""
    if norm2_a == 0.0 or norm2_b == 0.0:
        return 0.0
    return dot / (np.sqrt(norm2_a) * np.sqrt(norm2_b))


@njit(cache=True)
def pattern_features(
    bits: I8,
    w: int,
    traj_window: int,
    k1: float,
    k2: float,
    gains: F64,
    mix: F64,
    squared_gain: float,
    blend: float,
) -> tuple[F64, F64, F64, F64, F64, F64]:
    """Per bar: (null, flip, rupture ratios, entropy H, coherence C', damped V) of the last w bits or NaN."""
    n_bars = bits.size
    out = np.full((6, n_bars), np.nan)
    decay = np.exp(-0.1 * np.arange(w))
    sine = np.empty(w)
    for i in range(w):
        sine[i] = np.sin(2.0 * np.pi * i / w)
    path = np.empty(w)
    n_pairs = w - 1
    h_bits = min(traj_window, w)
    last_unknown = 0  # bit 0 is always unknown
    for t in range(n_bars):
        if bits[t] == UNKNOWN_BIT:
            last_unknown = t
        start = t - w + 1
        if start <= last_unknown:
            continue
        z, f, r = transition_counts(bits, start, w)
        h = transition_entropy(z, f, r)
        rho_r = r / n_pairs
        rho_f = f / n_pairs
        g = (
            mix[0] * gains[0] * (1.0 - h)
            + mix[1] * gains[1] * (1.0 - rho_r)
            + mix[2] * gains[2] * (1.0 - rho_f)
        )
        c = clamp(squared_gain * (g * g), 0.0, 1.0)
        if w > 10:
            zh, fh, rh = transition_counts(bits, start, h_bits)
            hp = transition_entropy(zh, fh, rh)
            lam = clamp(k1 * hp + k2 * hp, 0.01, 1.0)
            v, traj = trajectory(bits, start, w, lam, decay, sine, path)
            c = clamp((1.0 - blend) * c + blend * traj, 0.0, 1.0)
            if abs(v) < 2.0:
                c = c / (1.0 + 0.1 * abs(v))
            out[5, t] = v
        out[0, t] = z / n_pairs
        out[1, t] = rho_f
        out[2, t] = rho_r
        out[3, t] = h
        out[4, t] = 0.7 * c + 0.15
    return out[0], out[1], out[2], out[3], out[4], out[5]


@njit(cache=True)
def range_means(high: F64, low: F64, pip_size: float) -> tuple[F64, F64]:
    """Mean bar range in pips over bars t-20..t-1 (NaN before t=20) and over max(0, t-99)..t (expanding)."""
    n = high.size
    rng = (high - low) / pip_size
    prior = np.full(n, np.nan)
    recent = np.full(n, np.nan)
    for t in range(n):
        if t >= STABILITY_BARS:
            s = 0.0
            for k in range(t - STABILITY_BARS, t):
                s += rng[k]
            prior[t] = s / STABILITY_BARS
        lo = max(0, t - VOLATILITY_BARS + 1)
        s = 0.0
        for k in range(lo, t + 1):
            s += rng[k]
        recent[t] = s / (t + 1 - lo)
    return prior, recent


@njit(cache=True)
def temporal_factors(coh: F64) -> F64:
    """Score multiplier from the previous 5 and 15 C' values only (NaN until 15 valid ones exist)."""
    n = coh.size
    out = np.full(n, np.nan)
    for t in range(TEMPORAL_LONG, n):
        s5 = 0.0
        for k in range(t - TEMPORAL_SHORT, t):
            s5 += coh[k]
        s15 = 0.0
        for k in range(t - TEMPORAL_LONG, t):
            s15 += coh[k]
        m5 = s5 / TEMPORAL_SHORT
        m15 = s15 / TEMPORAL_LONG
        x = coh[t]
        if not (np.isfinite(m15) and np.isfinite(x)):
            continue
        if abs(x - m5) < 0.1 and abs(m5 - m15) < 0.1:
            out[t] = 1.15
        elif abs(x - m5) < 0.2:
            out[t] = 1.08
        else:
            out[t] = 1.0
    return out


@njit(cache=True)
def stability(rupture: F64, prior_range: F64) -> F64:
    """S = min(1, (1 - rupture ratio) + 0.01 * mean range of bars t-20..t-1 in pips); NaN stays NaN."""
    n = rupture.size
    out = np.empty(n)
    for t in range(n):
        s = (1.0 - rupture[t]) + 0.01 * prior_range[t]
        out[t] = 1.0 if s > 1.0 else s
    return out


@njit(cache=True)
def threshold_multiplier(recent_range: F64, adapt: bool) -> F64:
    """m = clamp(1 + (mean range of bars t-99..t in pips - 10) * 0.02, 0.8, 1.5), or 1 without adaptation."""
    n = recent_range.size
    out = np.ones(n)
    if adapt:
        for t in range(n):
            out[t] = clamp(1.0 + (recent_range[t] - 10.0) * 0.02, 0.8, 1.5)
    return out


@njit(cache=True)
def scores(coh: F64, stab: F64, ent: F64, weights: F64, vol_f: F64, time_f: F64) -> tuple[F64, F64]:
    """buy = w_s(1-S) + w_c C' + w_e(1-E), sell = w_s S + w_c(1-C') + w_e E, each times the factors."""
    n = coh.size
    buy = np.empty(n)
    sell = np.empty(n)
    w_s = weights[0]
    w_c = weights[1]
    w_e = weights[2]
    for t in range(n):
        b = w_s * (1.0 - stab[t]) + w_c * coh[t] + w_e * (1.0 - ent[t])
        s = w_s * stab[t] + w_c * (1.0 - coh[t]) + w_e * ent[t]
        buy[t] = b * vol_f[t] * time_f[t]
        sell[t] = s * vol_f[t] * time_f[t]
    return buy, sell


@njit(cache=True)
def decide(
    buy: F64, sell: F64, coh: F64, stab: F64, mult: F64, thresholds: F64, filters: F64
) -> tuple[I8, F64]:
    """Signal (+1/0/-1) and confidence (NaN on HOLD): thresholds times m, then the conf/coh/stab filters."""
    n = buy.size
    signal = np.zeros(n, dtype=np.int8)
    conf = np.full(n, np.nan)
    for t in range(n):
        if not (np.isfinite(buy[t]) and np.isfinite(sell[t]) and np.isfinite(mult[t])):
            continue
        if buy[t] > thresholds[0] * mult[t]:
            side = 1
            c = buy[t]
        elif sell[t] > thresholds[1] * mult[t]:
            side = -1
            c = sell[t]
        else:
            continue
        if c >= filters[0] and coh[t] >= filters[1] and stab[t] >= filters[2]:
            signal[t] = side
            conf[t] = c
    return signal, conf
