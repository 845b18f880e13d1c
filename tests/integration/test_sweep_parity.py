"""The fast sweep path and the event engine give the same trades and final equity on real data."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from traderbot.backtest import _sweep_kernel as K
from traderbot.backtest.runner import BacktestSpec, run_backtest
from traderbot.backtest.sweep import run_sweep, sweep_trades
from traderbot.brokers.sim.costs import CommissionModel, FixedSlippage, SpreadModel, VenueConfig
from traderbot.data.series import BarSeries
from traderbot.data.stores import sample_store
from traderbot.model.instrument import Instrument, get_instrument
from traderbot.risk.sizing import Sizing
from traderbot.strategies.registry import get_strategy

COSTLY = VenueConfig(
    spread=SpreadModel(Decimal("0.8"), "mid"),
    slippage=FixedSlippage(Decimal("0.1")),
    commission=CommissionModel(pct_notional=Decimal("0.00002"), minimum=Decimal("0.5")),
)


def _sample(pair: str, tf: str) -> tuple[Instrument, BarSeries]:
    df = sample_store().read(pair, tf)
    return get_instrument(pair), BarSeries.from_frame(df, pair, tf)


def _compare(
    name: str, params: dict[str, Any], inst: Instrument, series: BarSeries, venue: VenueConfig, sizing: Sizing
) -> None:
    cls = get_strategy(name)
    ev = run_backtest(
        BacktestSpec(strategy=cls, pairs=[(inst, series)], params=params, venue=venue, sizing=sizing)
    )
    stats, sw = sweep_trades(cls, inst, series, params, venue=venue, sizing=sizing)
    assert len(ev.trades) > 20, "the case must actually trade"
    assert int(stats[K.S_TRADES]) == len(ev.trades)
    et = ev.trades
    assert list(et["side"]) == list(sw["side"])
    assert (et["entry_time"].to_numpy() == sw["entry_time"].to_numpy()).all()
    assert (et["exit_time"].to_numpy() == sw["exit_time"].to_numpy()).all()
    np.testing.assert_allclose(et["quantity"], sw["quantity"], rtol=1e-9)
    np.testing.assert_allclose(et["entry_price"], sw["entry_price"], rtol=1e-12)
    np.testing.assert_allclose(et["exit_price"], sw["exit_price"], rtol=1e-12)
    np.testing.assert_allclose(et["pnl"], sw["pnl"], rtol=1e-7, atol=1e-7)
    final = float(Decimal(ev.final_equity_exact))
    assert stats[K.S_FINAL] == pytest.approx(final, rel=1e-9)
    assert stats[K.S_SHARPE] == pytest.approx(ev.metrics["sharpe"], rel=1e-7)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("sma_cross", {"fast": 10, "slow": 30}),
        ("sma_cross", {"fast": 5, "slow": 50, "long_only": True}),
        ("stoch_rsi", {}),
        ("qfh", {}),
        ("qfh", {"spec_exits": True, "conf_min": 0.6}),
    ],
)
def test_sweep_matches_event_engine_on_oanda_sample(name: str, params: dict[str, Any]) -> None:
    inst, series = _sample("EURUSD", "15m")
    _compare(name, params, inst, series, COSTLY, Sizing.parse("all_in"))


@pytest.mark.parametrize("sizing", ["units:10000", "risk:1", "fraction:0.5"])
def test_sweep_matches_event_engine_for_each_sizing_method(sizing: str) -> None:
    inst, series = _sample("GBPUSD", "15m")
    _compare("sma_cross", {"fast": 8, "slow": 40}, inst, series, COSTLY, Sizing.parse(sizing))


def test_sweep_matches_event_engine_with_fills_at_the_close() -> None:
    inst, series = _sample("AUDUSD", "15m")
    _compare(
        "stoch_rsi",
        {},
        inst,
        series,
        VenueConfig(fill_on="close", spread=SpreadModel(Decimal(1))),
        Sizing.parse("all_in"),
    )


@pytest.mark.shared_data
def test_sweep_matches_event_engine_on_histdata_minutes(shared_data_dir: Path) -> None:
    df = pd.read_parquet(shared_data_dir / "histdata_fx_m1" / "USDJPY_1m.parquet").iloc[-60_000:]
    inst = get_instrument("USDJPY")
    series = BarSeries.from_frame(df, "USDJPY", "1m")
    for name, params in [
        ("sma_cross", {"fast": 20, "slow": 90}),
        ("qfh", {"conf_min": 0.65, "coh_min": 0.3}),
    ]:
        _compare(
            name,
            params,
            inst,
            series,
            VenueConfig(spread=SpreadModel(Decimal("0.5"))),
            Sizing.parse("all_in"),
        )


def test_run_sweep_rows_equal_single_runs() -> None:
    inst, series = _sample("EURUSD", "15m")
    cls = get_strategy("sma_cross")
    sets = [{"fast": f, "slow": s} for f in (5, 10) for s in (30, 60)]
    res = run_sweep(cls, inst, series, sets, venue=COSTLY)
    for j, p in enumerate(sets):
        single, _ = sweep_trades(cls, inst, series, p, venue=COSTLY)
        assert res.stats[j, K.S_FINAL] == single[K.S_FINAL]
        assert res.stats[j, K.S_TRADES] == single[K.S_TRADES]


def test_long_only_inside_a_grid_is_simulated_per_value() -> None:
    inst, series = _sample("EURUSD", "15m")
    cls = get_strategy("sma_cross")
    sets = [{"fast": 10, "slow": 40, "long_only": flag} for flag in (False, True)]
    res = run_sweep(cls, inst, series, sets)
    for j, p in enumerate(sets):
        single, _ = sweep_trades(cls, inst, series, p)
        assert res.stats[j, K.S_FINAL] == single[K.S_FINAL]
    assert res.stats[0, K.S_TRADES] > res.stats[1, K.S_TRADES]
