"""backtrader peer: the shared SMA-cross strategy on `bt.feeds.PandasData`.

Settings: Cerebro(stdstats=False) (no observers), preload/runonce defaults, cheat_on_open=False,
broker cash 10_000, default zero-commission stock-like CommissionInfo, market orders fill at the next
bar's open (backtrader default), broker checksubmit=False (see below).

* The crossover is written out as backtesting.py's `crossover` (strict < at t-1, strict > at t), not
  `bt.ind.CrossOver`, which carries the last non-zero difference across ties and so also fires on
  below -> equal -> above.
* Sizing: backtesting.py sizes a market order when it fills, at the next bar's open. A backtrader sizer
  runs when the order is created, so `AllInNextOpen` reads that same fill price as `data.open[1]`
  (the preloaded next bar) and returns floor(cash * (1 - 2**-52) / (open * 1e-8)) * 1e-8 shares. Only
  the quantity uses it; signals and fill prices are unchanged. On the last bar it returns 0 (no order),
  matching backtesting.py where that order never fills.
* checksubmit=False: the default submit check prices the order at the creation bar's close and would
  reject an all-in order whenever the next open is below that close. The fill-time cash check remains.
* final equity = broker.getvalue() (cash + position * last close); trades = completed buy orders.
"""

from __future__ import annotations

import time

import backtrader as bt
import pandas as pd

from . import CASH, FAST, FRACTIONAL_UNIT, FULL_EQUITY, SLOW, PeerResult

NAME = "backtrader"


class AllInNextOpen(bt.Sizer):
    """All-in fractional buy sized at the next bar's open exactly like backtesting.py's FractionalBacktest."""

    def _getsizing(
        self, comminfo: bt.CommInfoBase, cash: float, data: bt.AbstractDataBase, isbuy: bool
    ) -> float:
        if not isbuy:
            return self.broker.getposition(data).size
        if len(data) >= data.buflen():  # last bar: the order could never fill
            return 0
        units = int((cash * FULL_EQUITY) // (data.open[1] * FRACTIONAL_UNIT))
        return units * FRACTIONAL_UNIT


class SmaCross(bt.Strategy):
    params = (("fast", FAST), ("slow", SLOW))

    def __init__(self) -> None:
        self.sma_fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
        self.sma_slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
        self.entries = 0

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed and order.isbuy():
            self.entries += 1

    def next(self) -> None:
        f0, f1 = self.sma_fast[0], self.sma_fast[-1]
        s0, s1 = self.sma_slow[0], self.sma_slow[-1]
        if f1 < s1 and f0 > s0:
            if not self.position:
                self.buy()
        elif s1 < f1 and s0 > f0 and self.position:
            self.close()


def run(df: pd.DataFrame) -> PeerResult:
    start = time.perf_counter()
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=df, openinterest=None))
    cerebro.addstrategy(SmaCross)
    cerebro.addsizer(AllInNextOpen)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=0.0)
    cerebro.broker.set_checksubmit(False)
    (strat,) = cerebro.run()
    equity = float(cerebro.broker.getvalue())
    seconds = time.perf_counter() - start
    pos = cerebro.broker.getposition(strat.data).size
    return PeerResult(NAME, len(df), seconds, strat.entries, equity, extra={"open_trades": int(pos != 0)})
