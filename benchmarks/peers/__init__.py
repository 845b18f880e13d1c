"""Peer engines for `make bench`: backtesting.py, backtrader and vectorbt running one shared strategy.

The strategy (identical in every peer, and what traderbot must run for the parity check):

* SMA(FAST=10) and SMA(SLOW=30) of close (plain arithmetic mean of the last n closes; NaN before n bars).
* Signal at bar t (backtesting.py's `lib.crossover`): up-cross if fast[t-1] < slow[t-1] and fast[t] > slow[t],
  down-cross if slow[t-1] < fast[t-1] and slow[t] > fast[t]; any NaN -> no cross (first possible t = SLOW).
  Strict inequalities: a cross that passes through equality (below, equal, above) is NOT a cross.
* Long-only: an up-cross while flat buys, a down-cross while long sells everything; other crosses are ignored.
* Orders fill at the NEXT bar's open; a signal on the last bar never fills. No commission, spread, slippage.
* Sizing at fill time (backtesting.py `FractionalBacktest`, default `buy()` size):
      units = int((equity * FULL_EQUITY) // (open[t+1] * FRACTIONAL_UNIT));  shares = units * FRACTIONAL_UNIT
  where equity == cash (we are flat), FULL_EQUITY = 1 - 2**-52, FRACTIONAL_UNIT = 1e-8.
  (FractionalBacktest never debits cash on entry: cash changes only by a trade's P&L on exit,
  cash += units * (exit_open * 1e-8 - entry_open * 1e-8); `reference_run` repeats that float arithmetic.)
  Plain cash / open[t+1] sizing agrees to ~1e-11 relative after 19,585 trades (vectorbt does that).
* Open position at the end is NOT force-closed; final equity = cash + shares * (close[-1] - entry open).
* `trades` = number of filled entries (closed round trips + the one still open at the end, if any).

`reference_run` is a plain numpy/Python implementation of exactly these rules (no peer needed); its trades
and final equity equal backtesting.py's bit for bit on eurusd, goog, the GBM case and all 200 eurusd/goog
sweep combos.

Exact SMA ties: with 5-decimal prices SMA(f) and SMA(s) can be mathematically equal, and then float rounding
decides the strict comparisons. backtesting.py (FractionalBacktest) computes pandas rolling means of
close * 1e-8; vectorbt its own rolling mean of close. On the default 10/30 case no bar comes near a tie
(smallest |fast - slow| / slow: eurusd 2.8e-7, goog 7.6e-7, gbm 2.7e-9), so any correct SMA agrees. In the
EURUSD sweep, combos (5, 100), (15, 60), (30, 60), (45, 60) hit ties and vectorbt trades differ there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

FAST = 10
SLOW = 30
CASH = 10_000.0
FRACTIONAL_UNIT = 1 / 100e6  # backtesting.lib.FractionalBacktest default (1 satoshi = 1e-8)
FULL_EQUITY = 1 - sys.float_info.epsilon  # backtesting.py Strategy.buy() default size ("0.9999")

# 10 x 10 sweep grid, every combo has fast < slow.
SWEEP_FAST: tuple[int, ...] = tuple(range(5, 51, 5))  # 5, 10, ..., 50
SWEEP_SLOW: tuple[int, ...] = tuple(range(60, 241, 20))  # 60, 80, ..., 240
SWEEP_COMBOS: tuple[tuple[int, int], ...] = tuple((f, s) for f in SWEEP_FAST for s in SWEEP_SLOW)


@dataclass(frozen=True)
class PeerResult:
    """One timed backtest (combos == 1) or parameter sweep (combos > 1) of one engine on one frame.

    For a sweep, `trades` and `final_equity` are sums over combos (a checksum); per-combo values are in
    `extra["per_combo"]` as {(fast, slow): (trades, final_equity)}.
    """

    name: str
    bars: int
    seconds: float
    trades: int
    final_equity: float
    combos: int = 1
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def bar_evals(self) -> int:
        return self.bars * self.combos

    @property
    def bars_per_second(self) -> float:
        return self.bar_evals / self.seconds if self.seconds > 0 else float("inf")


Runner = Callable[[pd.DataFrame], PeerResult]
"""A single backtest of the shared strategy on a peer frame (Open/High/Low/Close/Volume + DatetimeIndex)."""
SweepRunner = Callable[[pd.DataFrame, "list[tuple[int, int]]"], PeerResult]


def sma(close: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average like backtesting.test.SMA (pandas rolling mean); NaN for the first n-1 bars."""
    return pd.Series(close).rolling(n).mean().to_numpy()


def cross_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vectorised backtesting.lib.crossover(a, b) at every bar (axis 0); False at bar 0 and on NaN."""
    out = np.zeros(a.shape, dtype=bool)
    out[1:] = (a[:-1] < b[:-1]) & (a[1:] > b[1:])
    return out


def reference_run(df: pd.DataFrame, fast: int = FAST, slow: int = SLOW, cash: float = CASH) -> PeerResult:
    """Plain-Python reference of the shared strategy (the executable spec the peers are checked against)."""
    start = time.perf_counter()
    open_ = df["Open"].to_numpy(dtype=np.float64)
    close = df["Close"].to_numpy(dtype=np.float64)
    # SMAs of close * 1e-8 like FractionalBacktest: only exact SMA ties can tell the difference (4 of the
    # 100 EURUSD sweep combos); this way trades and final equity equal backtesting.py's bit for bit.
    f, s = sma(close * FRACTIONAL_UNIT, fast), sma(close * FRACTIONAL_UNIT, slow)
    up, down = cross_above(f, s), cross_above(s, f)
    n = len(close)
    # Same float arithmetic as FractionalBacktest: prices scaled by FRACTIONAL_UNIT, integer units,
    # cash only changes by the trade's P&L when it closes, equity = cash + unrealised P&L.
    units = 0
    entry_px = 0.0
    entries = 0
    # A signal at t fills at open[t+1]; the position at signal time t reflects fills up to bar t.
    for t in np.flatnonzero(up | down):
        if t + 1 >= n:
            break
        px = open_[t + 1] * FRACTIONAL_UNIT
        if up[t] and units == 0:
            units = int((cash * FULL_EQUITY) // px)
            entry_px = px
            entries += units > 0  # backtesting.py cancels an order sized to 0 units
        elif down[t] and units > 0:
            cash += units * (px - entry_px)
            units = 0
    equity = cash + (close[-1] * FRACTIONAL_UNIT * units - units * entry_px)
    return PeerResult("reference", n, time.perf_counter() - start, entries, float(equity))
