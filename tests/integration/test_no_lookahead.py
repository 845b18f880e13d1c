"""No look-ahead: a decision at bar t sees only bars <= t. Appending future bars never changes the past."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from traderbot.backtest.runner import BacktestSpec, run_backtest
from traderbot.data.series import BarSeries
from traderbot.data.stores import sample_store
from traderbot.indicators import sma
from traderbot.kernel.strategy_context import LookAheadError
from traderbot.model.data import Bar
from traderbot.model.instrument import get_instrument
from traderbot.strategies.base import Strategy
from traderbot.strategies.registry import BUILTIN


def _orders_before(result_trades: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    done = result_trades[result_trades["exit_time"] < cutoff]
    return done.reset_index(drop=True)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_appending_future_bars_never_changes_earlier_trades(name: str) -> None:
    df = sample_store().read("EURUSD", "15m")
    inst = get_instrument("EURUSD")
    cut = 3000
    short = BarSeries.from_frame(df.iloc[:cut], "EURUSD", "15m")
    full = BarSeries.from_frame(df, "EURUSD", "15m")
    cls = BUILTIN[name]
    a = run_backtest(BacktestSpec(strategy=cls, pairs=[(inst, short)]))
    b = run_backtest(BacktestSpec(strategy=cls, pairs=[(inst, full)]))
    cutoff = pd.Timestamp(int(short.ts[-1]), tz="UTC")
    ta, tb = _orders_before(a.trades, cutoff), _orders_before(b.trades, cutoff)
    assert len(ta) > 5
    pd.testing.assert_frame_equal(ta, tb)
    eq_a = a.equity[a.equity.index < cutoff]
    eq_b = b.equity[b.equity.index < cutoff]
    np.testing.assert_array_equal(eq_a.to_numpy(), eq_b.to_numpy())


def _peek(close: np.ndarray) -> np.ndarray:
    """A broken indicator: tomorrow's close."""
    return np.append(close[1:], np.nan)


class Peeker(Strategy):
    name = "peeker"

    def on_start(self) -> None:
        self.future = self.I(_peek, self.data.close)

    def on_bar(self, bar: Bar) -> None:
        if self.future[-1] > bar.close:
            self.buy(Decimal(1))


class Counter(Strategy):
    """Records how many bars it could see at each call; the data must never run ahead of the clock."""

    name = "counter"

    def on_start(self) -> None:
        self.seen: list[tuple[int, int, int]] = []
        assert len(self.data) == 0 and len(self.data.close) == 0

    def on_bar(self, bar: Bar) -> None:
        d = self.data
        self.seen.append((len(d), int(d.ts[-1]), bar.ts))
        h4 = self.bars(timeframe="1h")
        if len(h4):
            assert int(h4.ts[-1]) + 3_600_000_000_000 <= self.now_ns


def test_an_indicator_that_reads_future_bars_is_refused() -> None:
    df = sample_store().read("EURUSD", "15m").iloc[:500]
    with pytest.raises(LookAheadError, match="uses future data"):
        run_backtest(
            BacktestSpec(
                strategy=Peeker, pairs=[(get_instrument("EURUSD"), BarSeries.from_frame(df, "EURUSD", "15m"))]
            )
        )


def test_strategy_sees_only_closed_bars_and_completed_higher_timeframe_bars() -> None:
    df = sample_store().read("EURUSD", "15m").iloc[:400]
    series = BarSeries.from_frame(df, "EURUSD", "15m")
    result_holder: list[Counter] = []

    class Probe(Counter):
        def on_start(self) -> None:
            super().on_start()
            result_holder.append(self)

    run_backtest(BacktestSpec(strategy=Probe, pairs=[(get_instrument("EURUSD"), series)]))
    seen = result_holder[0].seen
    assert [n for n, _, _ in seen] == list(range(1, len(series) + 1))
    assert all(last == bar_ts for _, last, bar_ts in seen)


def test_sma_is_causal_on_prefixes() -> None:
    close = sample_store().read("EURUSD", "15m")["close"].to_numpy()
    full = sma(close, 30)
    for cut in (50, 1000, 4000):
        np.testing.assert_array_equal(sma(close[:cut], 30), full[:cut])
