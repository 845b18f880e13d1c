"""Cost models of the simulated venue reached from configuration: the three slippage models by name
(`parse_slippage`, what a CLI flag maps to), the session/volatility spread, and the switches of VenueConfig.
Every expected price is worked out by hand with exact Decimal arithmetic."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.sim_harness import Action, Row, scripted

from traderbot.brokers.sim.costs import (
    FixedSlippage,
    NoSlippage,
    SpreadModel,
    VenueConfig,
    VolatilitySlippage,
    VolumeSlippage,
    parse_slippage,
)
from traderbot.brokers.sim.faults import FaultPlan
from traderbot.brokers.sim.latency import LatencyModel
from traderbot.brokers.sim.spreads import DynamicSpread, in_rollover_hour
from traderbot.core.messages import OrderFilled
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.instrument import get_instrument
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
# bar 1 (where the orders below fill): open 1.1005, high 1.1020, low 1.1000, range 0.0020
ROWS: list[Row] = [
    (1.1000, 1.1010, 1.0990, 1.1005),
    (1.1005, 1.1020, 1.1000, 1.1015),
    (1.1012, 1.1030, 1.1008, 1.1025),
    (1.1027, 1.1040, 1.1020, 1.1030),
]


def fills(
    script: dict[int, Action],
    venue: VenueConfig,
    *,
    start: str = "2024-01-02 10:00",
    volume: float = 4000.0,
    spread: list[float] | None = None,
    rows: list[Row] = ROWS,
) -> list[OrderFilled]:
    kernel = Kernel(account_currency="USD", starting_cash=D(100_000), venue=venue)
    kernel.finite_replay = True
    ts = pd.date_range(start, periods=len(rows), freq="1h", tz="UTC").as_unit("ns").asi8
    cols = [np.array([r[k] for r in rows]) for k in range(4)]
    sp = None if spread is None else np.array(spread)
    kernel.add_data(
        EURUSD,
        BarSeries.from_arrays(
            "EURUSD", "1h", ts, cols[0], cols[1], cols[2], cols[3], np.full(len(rows), volume), sp
        ),
    )
    kernel.add_strategy(scripted(script)(), "EURUSD", Sizing.parse("units:1000"))
    out: list[OrderFilled] = []
    kernel.bus.subscribe("fills", out.append)
    kernel.run()
    return out


def buy_at_bar_0(text: str, **kw: Any) -> D:
    (f,) = fills({0: lambda s: s.buy(1000)}, VenueConfig(slippage=parse_slippage(text)), **kw)
    return f.price


# ---- slippage ------------------------------------------------------------------------------------------------
def test_slippage_models_are_parsed_from_their_names() -> None:
    assert parse_slippage("none") == NoSlippage()
    assert parse_slippage("fixed:0.5") == FixedSlippage(D("0.5"))
    assert parse_slippage("volume") == VolumeSlippage()
    assert parse_slippage("Volume:0.2") == VolumeSlippage(D("0.2"))
    assert parse_slippage("volatility:0.25") == VolatilitySlippage(D("0.25"))


@pytest.mark.parametrize("text", ["fixed", "fixed:-1", "volume:abc", "random:1", "none:2", "volatility:inf"])
def test_a_bad_slippage_setting_is_refused_with_one_sentence(text: str) -> None:
    with pytest.raises(UserError, match="slippage"):
        parse_slippage(text)


def test_fixed_slippage_moves_a_market_buy_by_its_pips() -> None:
    assert buy_at_bar_0("fixed:2") == D("1.1007")  # 1.1005 + 2 * 0.0001


def test_volume_slippage_grows_with_the_square_root_of_the_share_of_bar_volume() -> None:
    # 0.1 * range 0.0020 * sqrt(1000 / 4000) = 0.0001
    assert buy_at_bar_0("volume:0.1") == D("1.1006")
    # the share is capped at one bar: 0.1 * 0.0020 * 1
    assert buy_at_bar_0("volume:0.1", volume=10.0) == D("1.1007")
    assert buy_at_bar_0("volume:0.1", volume=0.0) == D("1.1005")  # no volume: no estimate, no slippage


def test_volatility_slippage_is_a_fraction_of_the_bar_range() -> None:
    assert buy_at_bar_0("volatility:0.25") == D("1.1010")  # 1.1005 + 0.25 * 0.0020


def test_slippage_works_against_sells_and_applies_to_stops_not_limits() -> None:
    cfg = VenueConfig(slippage=parse_slippage("volatility:0.25"))
    (sell,) = fills({0: lambda s: s.sell(1000)}, cfg)
    assert sell.price == D("1.1000")  # 1.1005 - 0.0005
    (stop,) = fills({0: lambda s: s.buy(1000, stop=1.1015)}, cfg)
    assert stop.price == D("1.1020")  # trigger 1.1015 + 0.0005
    (limit,) = fills({0: lambda s: s.buy(1000, limit=1.1003)}, cfg)
    assert limit.price == D("1.1003")


# ---- spread --------------------------------------------------------------------------------------------------
def test_the_rollover_hour_follows_new_york_time() -> None:
    def at(t: str) -> bool:
        return in_rollover_hour(pd.Timestamp(t, tz="UTC").value)

    assert at("2024-01-02 22:00") and at("2024-01-02 22:59")  # 17:00 EST
    assert not at("2024-01-02 21:00") and not at("2024-01-02 23:00")
    assert at("2024-07-02 21:30") and not at("2024-07-02 22:30")  # 17:00 EDT


def test_the_spread_widens_in_the_rollover_hour() -> None:
    cfg = VenueConfig(spread=DynamicSpread(pips=D(1), rollover_multiplier=D(3)))
    script = {0: lambda s: s.buy(1000), 1: lambda s: s.buy(1000)}
    a, b = fills(script, cfg, start="2024-01-02 21:00")  # bar 1 opens 22:00 UTC = 17:00 New York
    assert a.price == D("1.1008")  # 1.1005 + 3 pips
    assert b.price == D("1.1013")  # 1.1012 + 1 pip at 23:00 UTC
    (summer,) = fills({1: lambda s: s.buy(1000)}, cfg, start="2024-07-02 19:00")  # bar 2 at 21:00 UTC
    assert summer.price == D("1.1015")


def test_the_spread_widens_with_the_bar_range_rounded_up_to_the_tick() -> None:
    cfg = VenueConfig(spread=DynamicSpread(pips=D(1), range_fraction=D("0.123")))
    (f,) = fills({0: lambda s: s.buy(1000)}, cfg)
    # 0.0001 + 0.123 * 0.0020 = 0.000346 -> 0.00035
    assert f.price == D("1.10085")
    (sell,) = fills({0: lambda s: s.sell(1000)}, cfg)
    assert sell.price == D("1.1005")  # bid data: sells trade at the data price


def test_a_spread_column_in_the_data_wins_over_the_model() -> None:
    cfg = VenueConfig(spread=DynamicSpread(pips=D(1), range_fraction=D(1)))
    (f,) = fills({0: lambda s: s.buy(1000)}, cfg, spread=[0.0002] * 4)
    assert f.price == D("1.1007")


def test_the_fixed_spread_model_is_unchanged() -> None:
    (f,) = fills({0: lambda s: s.buy(1000)}, VenueConfig(spread=SpreadModel(D(2))))
    assert f.price == D("1.1007")


def test_an_invalid_dynamic_spread_is_refused() -> None:
    with pytest.raises(UserError, match=r"rollover_multiplier=0\.5 is not valid"):
        DynamicSpread(pips=D(1), rollover_multiplier=D("0.5"))
    with pytest.raises(UserError, match="range_fraction=-1 is not valid"):
        DynamicSpread(pips=D(1), range_fraction=D(-1))


# ---- the switches --------------------------------------------------------------------------------------------
def test_everything_realistic_is_off_by_default_and_named_when_on() -> None:
    assert VenueConfig().realism() == []
    assert VenueConfig(slippage=FixedSlippage(D(1)), spread=SpreadModel(D(1))).realism() == []
    cfg = VenueConfig(
        latency=LatencyModel(submit_ms=D(5)),
        participation=D("0.1"),
        enforce_market_hours=True,
        faults=FaultPlan(),
        spread=DynamicSpread(pips=D(1)),
        slippage=VolumeSlippage(),
    )
    assert cfg.realism() == [
        "latency",
        "participation",
        "enforce_market_hours",
        "faults",
        "dynamic_spread",
        "slippage_model",
    ]
    assert VenueConfig(latency=LatencyModel()).realism() == []  # zero latency is no latency


def test_an_unknown_fill_rule_is_refused() -> None:
    with pytest.raises(UserError, match="fill_on='open' is not valid"):
        VenueConfig(fill_on="open")


def test_the_sweep_path_refuses_venue_features_it_does_not_model() -> None:
    import numpy as np
    import pandas as pd

    from traderbot.backtest.sweep import run_sweep
    from traderbot.brokers.sim.latency import LatencyModel
    from traderbot.data.series import BarSeries
    from traderbot.errors import UserError
    from traderbot.strategies.sma_cross import SmaCross

    n = 200
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC").as_unit("ns").asi8
    px = np.linspace(1.1, 1.2, n)
    series = BarSeries.from_arrays("EURUSD", "1h", ts, px, px + 0.001, px - 0.001, px)
    venue = VenueConfig(latency=LatencyModel(submit_ms=50), participation=D("0.1"))
    with pytest.raises(UserError, match="does not model latency, participation"):
        run_sweep(SmaCross, get_instrument("EURUSD"), series, [{"fast": 5, "slow": 20}], venue=venue)
