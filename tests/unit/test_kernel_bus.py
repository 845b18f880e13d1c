"""Bars reach bus subscribers (topic "bars") in schedule order, alongside strategies."""

from __future__ import annotations

from traderbot.data.series import BarSeries
from traderbot.data.stores import sample_store
from traderbot.kernel.kernel import Kernel
from traderbot.model.data import Bar
from traderbot.model.instrument import get_instrument
from traderbot.strategies.sma_cross import SmaCross


def test_bus_subscribers_get_every_bar_of_every_pair_in_close_time_order() -> None:
    k = Kernel()
    k.finite_replay = True
    for pair in ("EURUSD", "GBPUSD"):
        df = sample_store().read(pair, "15m").iloc[:300]
        k.add_data(get_instrument(pair), BarSeries.from_frame(df, pair, "15m"))
    k.add_strategy(SmaCross(fast=5, slow=20), "EURUSD")
    seen: list[Bar] = []
    k.bus.subscribe("bars", seen.append)
    k.run()
    assert len(seen) == 600
    assert [b.ts_close for b in seen] == sorted(b.ts_close for b in seen)
    assert {b.instrument_id for b in seen} == {"EURUSD", "GBPUSD"}
    assert all(b.ts_close - b.ts == 15 * 60 * 1_000_000_000 for b in seen)
