"""sma_cross: long when the fast SMA crosses above the slow one; exit (and, unless long-only, go short) on the
opposite cross. A cross at t means fast[t-1] < slow[t-1] and fast[t] > slow[t]."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from traderbot.errors import UserError
from traderbot.indicators import sma
from traderbot.indicators._ma_kernels import sma_into
from traderbot.strategies.params import IntParam
from traderbot.strategies.signal_strategy import SignalStrategy


@njit(cache=True)
def _cross_into(fast: np.ndarray, slow: np.ndarray, out: np.ndarray) -> None:
    """+1 where fast crosses above slow at t, -1 where it crosses below, else 0 (NaN never crosses)."""
    for t in range(1, len(fast)):
        if fast[t - 1] < slow[t - 1] and fast[t] > slow[t]:
            out[t] = 1
        elif fast[t - 1] > slow[t - 1] and fast[t] < slow[t]:
            out[t] = -1


@njit(cache=True)
def cross_signals(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    out = np.zeros(len(fast), dtype=np.int8)
    _cross_into(fast, slow, out)
    return out


def _cross_signal_matrix(
    close: np.ndarray, periods: np.ndarray, fast_idx: np.ndarray, slow_idx: np.ndarray
) -> np.ndarray:
    """Signals of many (fast, slow) pairs: each distinct SMA is computed once with the indicator's own kernel
    (bit-identical to `indicators.sma` on gap-free data), then every pair's crosses, in parallel."""
    n = len(close)
    smas = np.full((len(periods), n), np.nan)
    for j in prange(len(periods)):
        sma_into(close, periods[j], smas[j])
    out = np.zeros((len(fast_idx), n), dtype=np.int8)
    for j in prange(len(fast_idx)):
        _cross_into(smas[fast_idx[j]], smas[slow_idx[j]], out[j])
    return out


# one body, two compilations: threads only pay off on large grids (thread start-up costs ~ms on 2 cores)
_matrix_serial = njit(cache=True)(_cross_signal_matrix)
_matrix_parallel = njit(cache=True, parallel=True)(_cross_signal_matrix)
PARALLEL_MIN_WORK = 2_000_000  # bars x parameter sets


def cross_signal_matrix(
    close: np.ndarray, periods: np.ndarray, fast_idx: np.ndarray, slow_idx: np.ndarray
) -> np.ndarray:
    """Signals of many (fast, slow) pairs, one row each (see `_cross_signal_matrix`)."""
    fn = _matrix_parallel if len(close) * len(fast_idx) >= PARALLEL_MIN_WORK else _matrix_serial
    return fn(close, periods, fast_idx, slow_idx)


class SmaCross(SignalStrategy):
    name = "sma_cross"
    description = "SMA crossover: fast above slow goes long, below exits (or goes short)"
    fast = IntParam(10, low=2, high=500, step=1, doc="fast SMA period")
    slow = IntParam(30, low=3, high=1000, step=1, doc="slow SMA period")

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise UserError(f"sma_cross needs fast < slow, got fast={self.fast}, slow={self.slow}")

    def signals(
        self, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, v: np.ndarray
    ) -> np.ndarray:
        return cross_signals(sma(c, self.fast), sma(c, self.slow))

    @classmethod
    def batch_signals(cls, param_sets: list[dict[str, Any]], close: np.ndarray) -> np.ndarray:
        """Signal matrix (one row per parameter set) for the sweep path, without per-set Python work."""
        if not np.all(np.isfinite(close)):  # the indicator restarts at gaps; keep its exact semantics
            return np.vstack(
                [cross_signals(sma(close, p["fast"]), sma(close, p["slow"])) for p in param_sets]
            )
        periods = np.array(
            sorted({p["fast"] for p in param_sets} | {p["slow"] for p in param_sets}), np.int64
        )
        pos = {int(v): k for k, v in enumerate(periods)}
        fast_idx = np.array([pos[p["fast"]] for p in param_sets], np.int64)
        slow_idx = np.array([pos[p["slow"]] for p in param_sets], np.int64)
        return cross_signal_matrix(close, periods, fast_idx, slow_idx)
