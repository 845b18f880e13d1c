"""stoch_rsi: StochRSI %K/%D crosses at the extremes. Long when %K crosses above %D with %K below the oversold
level; exit (and, unless long-only, go short) when %K crosses below %D with %K above the overbought level."""

from __future__ import annotations

import numpy as np
from numba import njit

from traderbot.errors import UserError
from traderbot.indicators import stoch_rsi
from traderbot.strategies.params import FloatParam, IntParam
from traderbot.strategies.signal_strategy import SignalStrategy


@njit(cache=True)
def extreme_cross_signals(k: np.ndarray, d: np.ndarray, oversold: float, overbought: float) -> np.ndarray:
    n = len(k)
    out = np.zeros(n, dtype=np.int8)
    for t in range(1, n):
        up = k[t - 1] < d[t - 1] and k[t] > d[t]
        down = k[t - 1] > d[t - 1] and k[t] < d[t]
        if up and k[t] < oversold:
            out[t] = 1
        elif down and k[t] > overbought:
            out[t] = -1
    return out


class StochRsi(SignalStrategy):
    name = "stoch_rsi"
    description = "StochRSI %K/%D crosses below oversold (buy) and above overbought (sell)"
    timeperiod = IntParam(14, low=2, high=200, doc="RSI period")
    fastk_period = IntParam(5, low=1, high=100, doc="stochastic %K window over RSI")
    fastd_period = IntParam(3, low=1, high=100, doc="%D smoothing (SMA)")
    oversold = FloatParam(20.0, low=0.0, high=50.0, step=5.0, doc="%K level for buys")
    overbought = FloatParam(80.0, low=50.0, high=100.0, step=5.0, doc="%K level for sells")

    def validate(self) -> None:
        if self.oversold >= self.overbought:
            raise UserError(
                f"stoch_rsi needs oversold < overbought, got {self.oversold} and {self.overbought}"
            )

    def signals(
        self, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, v: np.ndarray
    ) -> np.ndarray:
        k, d = stoch_rsi(c, self.timeperiod, self.fastk_period, self.fastd_period, 0)
        return extreme_cross_signals(k, d, self.oversold, self.overbought)
