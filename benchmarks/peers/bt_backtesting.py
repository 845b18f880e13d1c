"""backtesting.py peer: `backtesting.lib.FractionalBacktest` running the shared SMA-cross strategy.

Settings (all backtesting.py defaults except the fractional wrapper): cash=10_000, commission=0, spread=0,
margin=1, trade_on_close=False (market orders fill at the next bar's open), hedging=False,
exclusive_orders=False, finalize_trades=False (an open trade stays open; it is marked to market in
'Equity Final [$]'), fractional_unit=1e-8. `buy()` uses its default size (1 - 2**-52 of equity).

Note: FractionalBacktest scales Open/High/Low/Close by fractional_unit before the run, so the SMAs and the
crossover are computed on close * 1e-8; this can only matter for exact ties of the two SMAs.
"""

from __future__ import annotations

import time
import warnings

import backtesting.backtesting as _bt_core
import pandas as pd
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover
from backtesting.test import SMA

from . import CASH, FAST, FRACTIONAL_UNIT, SLOW, PeerResult

NAME = "backtesting.py"

# Backtest.run wraps its bar loop in tqdm when tqdm is importable (vectorbt pulls it in): no progress bars.
_bt_core._tqdm = lambda seq, **_: seq


class SmaCross(Strategy):
    fast = FAST
    slow = SLOW

    def init(self) -> None:
        close = self.data.Close
        self.sma_fast = self.I(SMA, close, self.fast)
        self.sma_slow = self.I(SMA, close, self.slow)

    def next(self) -> None:
        if crossover(self.sma_fast, self.sma_slow):
            if not self.position:
                self.buy()
        elif crossover(self.sma_slow, self.sma_fast) and self.position:
            self.position.close()


def make_backtest(df: pd.DataFrame) -> FractionalBacktest:
    return FractionalBacktest(
        df,
        SmaCross,
        cash=CASH,
        commission=0.0,
        spread=0.0,
        margin=1.0,
        trade_on_close=False,
        hedging=False,
        exclusive_orders=False,
        finalize_trades=False,
        fractional_unit=FRACTIONAL_UNIT,
    )


def _outcome(stats: pd.Series) -> tuple[int, float]:
    closed = int(stats["# Trades"])
    still_open = len(stats["_strategy"].trades)
    return closed + still_open, float(stats["Equity Final [$]"])


def run(df: pd.DataFrame) -> PeerResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Some trades remain open at the end of backtest"
        start = time.perf_counter()
        stats = make_backtest(df).run()
        trades, equity = _outcome(stats)
        seconds = time.perf_counter() - start
    return PeerResult(
        NAME,
        len(df),
        seconds,
        trades,
        equity,
        extra={"closed_trades": int(stats["# Trades"]), "open_trades": trades - int(stats["# Trades"])},
    )


def sweep(df: pd.DataFrame, combos: list[tuple[int, int]]) -> PeerResult:
    """Serial loop of `Backtest.run(fast=, slow=)` over combos on one Backtest object (single core).

    (`Backtest.optimize` would fork a process pool and only keep the best run's stats, so it is not used.)
    """
    per_combo: dict[tuple[int, int], tuple[int, float]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        bt = make_backtest(df)
        for fast, slow in combos:
            per_combo[(fast, slow)] = _outcome(bt.run(fast=fast, slow=slow))
        seconds = time.perf_counter() - start
    return PeerResult(
        NAME,
        len(df),
        seconds,
        sum(t for t, _ in per_combo.values()),
        sum(e for _, e in per_combo.values()),
        combos=len(combos),
        extra={"per_combo": per_combo},
    )
