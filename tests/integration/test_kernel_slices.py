"""Dispatching a schedule in slices (a replay releasing bars as they come due) gives exactly the backtest's result,
with one series as with several."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from traderbot.data.loader import load_ohlcv_file
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.instrument import get_instrument
from traderbot.risk.sizing import Sizing
from traderbot.strategies.sma_cross import SmaCross

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "oanda_fx_m15"


def run(pairs: list[str], slice_size: int | None) -> list[tuple[int, str, str, str]]:
    k = Kernel(account_currency="USD", starting_cash=D(100_000))
    for p in pairs:
        df, _ = load_ohlcv_file(DATA / f"{p}_15m.parquet", instrument=p, timeframe="15m")
        k.add_data(get_instrument(p), BarSeries.from_frame(df, p, "15m"))
        k.add_strategy(SmaCross(fast=5, slow=20), p, Sizing.parse("units:1000"))
    ts, sid, row = k.schedule()
    k.start()
    step = slice_size or len(ts)
    for a in range(0, len(ts), step):
        k.run_events(ts[a : a + step], sid[a : a + step], row[a : a + step])
    k.stop()
    return [(t.exit_ts, t.instrument_id, t.side, str(t.pnl)) for t in k.portfolio.trades]


@pytest.mark.parametrize("pairs", [["EURUSD"], ["EURUSD", "GBPUSD"]])
def test_slices_give_the_whole_runs_fills(pairs: list[str]) -> None:
    whole = run(pairs, None)
    assert whole and run(pairs, 97) == whole
