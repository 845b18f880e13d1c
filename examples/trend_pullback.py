"""Example user strategy, one class in one file: trade 15m RSI pullbacks in the direction of the 1h trend.

Run it:  traderbot backtest --strategy examples/trend_pullback.py --pair EURUSD --pair GBPUSD --timeframe 15m
"""

from __future__ import annotations

from traderbot.indicators import atr, ema, rsi
from traderbot.model.data import Bar
from traderbot.strategies.base import Strategy
from traderbot.strategies.params import FloatParam, IntParam


class TrendPullback(Strategy):
    name = "trend_pullback"
    trend_period = IntParam(50, low=10, high=200, doc="EMA period on the 1h bars")
    rsi_period = IntParam(14, low=2, high=50, doc="RSI period on the strategy's bars")
    oversold = FloatParam(30.0, low=5.0, high=45.0, doc="buy pullbacks below this RSI")
    overbought = FloatParam(70.0, low=55.0, high=95.0, doc="sell rallies above this RSI")
    stop_atr = FloatParam(2.0, low=0.5, high=6.0, doc="stop loss distance in ATR(14)")
    target_atr = FloatParam(3.0, low=0.5, high=10.0, doc="take-profit distance in ATR(14)")

    def on_start(self) -> None:
        hourly = self.bars(timeframe="1h")  # resampled on the fly; only completed hours are visible
        self.trend = self.I(ema, hourly.close, self.trend_period)
        self.hourly = hourly
        self.rsi = self.I(rsi, self.data.close, self.rsi_period)
        self.atr = self.I(atr, self.data.high, self.data.low, self.data.close, 14)

    def on_bar(self, bar: Bar) -> None:
        if (
            len(self.hourly) < self.trend_period
            or self.position() != 0
            or self.ctx.open_order_ids(self.strategy_id, self.instrument_id)
        ):
            return
        up = self.hourly.close[-1] > self.trend[-1]
        dist = float(self.atr[-1])
        if dist != dist or dist <= 0:
            return
        if up and self.rsi[-1] < self.oversold:
            self.buy(sl=bar.close - self.stop_atr * dist, tp=bar.close + self.target_atr * dist)
        elif not up and self.rsi[-1] > self.overbought:
            self.sell(sl=bar.close + self.stop_atr * dist, tp=bar.close - self.target_atr * dist)
