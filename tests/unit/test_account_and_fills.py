"""The account snapshot and the fill records kept by the execution engine."""

from __future__ import annotations

from decimal import Decimal

from traderbot.backtest.runner import BacktestSpec, run_backtest
from traderbot.brokers.sim.costs import CommissionModel, VenueConfig
from traderbot.data.series import BarSeries
from traderbot.data.stores import sample_store
from traderbot.kernel.kernel import Kernel
from traderbot.model.instrument import get_instrument
from traderbot.risk.sizing import Sizing
from traderbot.strategies.sma_cross import SmaCross


def test_account_snapshot_adds_up_and_fills_are_recorded_once() -> None:
    df = sample_store().read("EURUSD", "15m").iloc[:1500]
    inst = get_instrument("EURUSD")
    k = Kernel(venue=VenueConfig(commission=CommissionModel(per_order=Decimal("1"))))
    k.finite_replay = True
    k.add_data(inst, BarSeries.from_frame(df, "EURUSD", "15m"))
    k.add_strategy(SmaCross(fast=5, slow=20), "EURUSD", Sizing.parse("units:1000"))
    k.run()
    acc = k.portfolio.account()
    assert acc.equity == acc.balance + acc.unrealized_pnl
    assert acc.free_margin == acc.equity - acc.margin_used
    assert len(k.cache.fills) == len({f.trade_id for f in k.cache.fills}) > 10
    assert acc.commissions == Decimal(len(k.cache.fills))  # 1 USD per fill
    assert acc.balance == Decimal(10_000) + sum((t.pnl for t in k.portfolio.trades), Decimal(0)) - (
        k.portfolio.position("sma_cross", "EURUSD").open_costs
    )


def test_result_counts_an_open_position_at_the_end() -> None:
    df = sample_store().read("EURUSD", "15m").iloc[:1500]
    r = run_backtest(
        BacktestSpec(
            strategy=SmaCross, pairs=[(get_instrument("EURUSD"), BarSeries.from_frame(df, "EURUSD", "15m"))]
        )
    )
    assert r.open_positions in (0, 1)
    assert (r.exposure.iloc[-1] == 1.0) == (r.open_positions == 1)
