"""sma_cross: long when the fast SMA crosses above the slow one; exit (and, unless long-only, go short) on the
opposite cross. A cross at t means fast[t-1] < slow[t-1] and fast[t] > slow[t]."""

from __future__ import annotations

import numpy as np
from numba import njit

from traderbot.errors import UserError
from traderbot.indicators import sma
from traderbot.strategies.params import IntParam
from traderbot.strategies.signal_strategy import SignalStrategy


@njit(cache=True)
def cross_signals(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """+1 where fast crosses above slow at t, -1 where it crosses below, else 0 (NaN never crosses)."""
    n = len(fast)
    out = np.zeros(n, dtype=np.int8)
    for t in range(1, n):
        if fast[t - 1] < slow[t - 1] and fast[t] > slow[t]:
            out[t] = 1
        elif fast[t - 1] > slow[t - 1] and fast[t] < slow[t]:
            out[t] = -1
    return out


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
