"""The simulated venue's fill rules: fill timing, spread, slippage, commission, limit/stop matching, margin,
all-in sizing. Bars are tiny hand-made series; every expected price and amount is worked out by hand below
with exact Decimal arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import pytest
from tests.sim_harness import HOUR, T0, Action, Row, bars, scripted

from traderbot.backtest.runner import BacktestSpec, run_backtest
from traderbot.brokers.sim.costs import (
    CommissionModel,
    FinancingModel,
    FixedSlippage,
    SpreadModel,
    VenueConfig,
)
from traderbot.core.messages import OrderFilled, OrderRejected, OrderTriggered
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderStatus
from traderbot.model.instrument import Instrument, generic_instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")


@dataclass
class Sim:
    kernel: Kernel
    events: list[Any]
    fills: list[OrderFilled]

    @property
    def orders(self) -> list[Order]:
        return list(self.kernel.cache.orders.values())

    @property
    def balance(self) -> D:
        return self.kernel.portfolio.balance


def simulate(
    script: dict[int, Action],
    rows: list[Row],
    *,
    inst: Instrument = EURUSD,
    venue: VenueConfig | None = None,
    cash: D = D(10_000),
    sizing: str = "units:1000",
    spread: list[float] | None = None,
) -> Sim:
    """The kernel exactly as a backtest wires it, with the order and fill events recorded."""
    kernel = Kernel(account_currency=inst.quote, starting_cash=cash, venue=venue)
    kernel.finite_replay = True
    kernel.add_data(inst, bars(inst.id, rows, spread=spread))
    kernel.add_strategy(scripted(script)(), inst.id, Sizing.parse(sizing))
    events: list[Any] = []
    fills: list[OrderFilled] = []
    kernel.bus.subscribe("orders", events.append)
    kernel.bus.subscribe("fills", fills.append)
    kernel.run()
    return Sim(kernel, events, fills)


FLAT: Row = (1.1000, 1.1010, 1.0990, 1.1000)
# open, high, low, close; opens and closes all differ so a fill at the wrong one shows
MOVING: list[Row] = [
    (1.1000, 1.1010, 1.0990, 1.1005),
    (1.1005, 1.1020, 1.1000, 1.1015),
    (1.1012, 1.1030, 1.1008, 1.1025),
    (1.1027, 1.1040, 1.1020, 1.1030),
]


# ---- fill timing -------------------------------------------------------------------------------------------
def test_market_order_sent_on_bar_t_fills_at_the_open_of_bar_t_plus_1() -> None:
    sim = simulate({1: lambda s: s.buy(1000), 2: lambda s: s.close()}, MOVING)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [
        ("buy", D("1.1012"), T0 + 2 * HOUR),
        ("sell", D("1.1027"), T0 + 3 * HOUR),
    ]
    assert sim.balance == D(10_000) + D(1000) * (D("1.1027") - D("1.1012"))


def test_market_order_with_fill_on_close_fills_at_the_close_of_the_signal_bar() -> None:
    sim = simulate(
        {1: lambda s: s.buy(1000), 2: lambda s: s.close()}, MOVING, venue=VenueConfig(fill_on="close")
    )
    # fill time is the close time of the signal bar (its open + 1h)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [
        ("buy", D("1.1015"), T0 + 2 * HOUR),
        ("sell", D("1.1025"), T0 + 3 * HOUR),
    ]
    assert sim.balance == D(10_000) + D(1000) * (D("1.1025") - D("1.1015"))


@pytest.mark.parametrize("fill_on", ["next_open", "close"])
def test_signal_on_the_pairs_last_bar_is_ignored_and_sends_no_order(fill_on: str) -> None:
    result = run_backtest(
        BacktestSpec(
            strategy=scripted({3: lambda s: s.buy(1000)}),
            pairs=[(EURUSD, bars("EURUSD", MOVING))],
            venue=VenueConfig(fill_on=fill_on),
            sizing=Sizing.parse("units:1000"),
        )
    )
    assert result.orders == 0
    assert result.trades.empty
    assert D(result.final_equity_exact) == D(10_000)
    assert any("last bar ignored" in line for line in result.logs)


# ---- spread and slippage -----------------------------------------------------------------------------------
def test_buys_pay_data_price_plus_spread_and_sells_get_data_price_when_data_is_bid() -> None:
    venue = VenueConfig(spread=SpreadModel(pips=D(2), price_side="bid"))
    sim = simulate({1: lambda s: s.buy(1000), 2: lambda s: s.close()}, MOVING, venue=venue)
    buy_px, sell_px = D("1.1012") + D("0.0002"), D("1.1027")
    assert [f.price for f in sim.fills] == [buy_px, sell_px]
    assert sim.balance == D(10_000) + D(1000) * (sell_px - buy_px)


def test_mid_prices_buy_half_a_spread_above_and_sell_half_a_spread_below() -> None:
    venue = VenueConfig(spread=SpreadModel(pips=D(2), price_side="mid"))
    sim = simulate({1: lambda s: s.buy(1000), 2: lambda s: s.close()}, MOVING, venue=venue)
    assert [f.price for f in sim.fills] == [D("1.1012") + D("0.0001"), D("1.1027") - D("0.0001")]


def test_short_sale_at_bid_data_receives_the_data_price_and_covers_at_the_ask() -> None:
    venue = VenueConfig(spread=SpreadModel(pips=D(2), price_side="bid"))
    sim = simulate({1: lambda s: s.sell(1000), 2: lambda s: s.close()}, MOVING, venue=venue)
    assert [(f.side, f.price) for f in sim.fills] == [
        ("sell", D("1.1012")),
        ("buy", D("1.1027") + D("0.0002")),
    ]
    assert sim.balance == D(10_000) - D(1000) * (D("1.1029") - D("1.1012"))


def test_per_bar_spread_column_is_used_instead_of_fixed_pips_at_the_fill_bar() -> None:
    venue = VenueConfig(spread=SpreadModel(pips=D(5)))
    sim = simulate({1: lambda s: s.buy(1000)}, MOVING, venue=venue, spread=[0.0001, 0.0002, 0.0003, 0.0004])
    # filled at the open of bar 2, with bar 2's own spread
    assert [f.price for f in sim.fills] == [D("1.1012") + D("0.0003")]


def test_fill_on_close_uses_the_spread_of_the_bar_it_fills_on_not_the_next_one() -> None:
    venue = VenueConfig(fill_on="close")
    sim = simulate({1: lambda s: s.buy(1000)}, MOVING, venue=venue, spread=[0.0001, 0.0002, 0.0003, 0.0004])
    assert [f.price for f in sim.fills] == [D("1.1015") + D("0.0002")]


def test_fixed_slippage_moves_market_fills_against_the_trader_on_both_sides() -> None:
    venue = VenueConfig(slippage=FixedSlippage(pips=D("0.5")))
    sim = simulate({1: lambda s: s.buy(1000), 2: lambda s: s.close()}, MOVING, venue=venue)
    buy_px, sell_px = D("1.1012") + D("0.00005"), D("1.1027") - D("0.00005")
    assert [f.price for f in sim.fills] == [buy_px, sell_px]
    assert sim.balance == D(10_000) + D(1000) * (sell_px - buy_px)


def test_fixed_slippage_does_not_touch_limit_fills() -> None:
    rows = [FLAT, FLAT, (1.1000, 1.1005, 1.0940, 1.0960), FLAT]
    sim = simulate(
        {1: lambda s: s.buy(1000, limit=D("1.0950"))},
        rows,
        venue=VenueConfig(slippage=FixedSlippage(pips=D(3))),
    )
    assert [f.price for f in sim.fills] == [D("1.0950")]


# ---- commission --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "entry_fee", "exit_fee"),
    [
        # per unit: 1000 units * 0.00002
        (CommissionModel(per_unit=D("0.00002")), D("0.02"), D("0.02")),
        # percent of notional: 0.01 % of 1000 * price
        (CommissionModel(pct_notional=D("0.0001")), D("0.11012"), D("0.11027")),
        # per order below the minimum: the minimum is charged
        (CommissionModel(per_order=D(1), minimum=D("2.5")), D("2.5"), D("2.5")),
        # per order above the minimum
        (CommissionModel(per_order=D(3), minimum=D("2.5")), D(3), D(3)),
    ],
    ids=["per_unit", "pct_notional", "per_order_minimum_applies", "per_order_above_minimum"],
)
def test_commission_is_charged_exactly_on_each_fill(
    model: CommissionModel, entry_fee: D, exit_fee: D
) -> None:
    venue = VenueConfig(commission=model)
    script: dict[int, Action] = {1: lambda s: s.buy(1000), 2: lambda s: s.close()}
    sim = simulate(script, MOVING, venue=venue)
    assert [f.commission for f in sim.fills] == [entry_fee, exit_fee]
    gross = D(1000) * (D("1.1027") - D("1.1012"))
    (trade,) = sim.kernel.portfolio.trades
    assert trade.commission == entry_fee + exit_fee
    assert trade.pnl == gross - entry_fee - exit_fee
    assert sim.balance == D(10_000) + gross - entry_fee - exit_fee
    result = run_backtest(
        BacktestSpec(
            strategy=scripted(script),
            pairs=[(EURUSD, bars("EURUSD", MOVING))],
            venue=venue,
            sizing=Sizing.parse("units:1000"),
        )
    )
    assert D(result.final_equity_exact) == D(10_000) + gross - entry_fee - exit_fee


def test_long_position_held_over_the_22utc_rollover_is_charged_one_day_of_financing() -> None:
    rows = [(1.1, 1.1, 1.1, 1.1)] * 7  # 20:00 .. 02:00 UTC, Monday night: one rollover at 22:00
    venue = VenueConfig(financing=FinancingModel(long_rate=D("0.0365")))
    kernel = Kernel(account_currency="USD", starting_cash=D(10_000), venue=venue)
    kernel.finite_replay = True
    kernel.add_data(EURUSD, bars("EURUSD", rows, start="2024-01-01 20:00"))
    kernel.add_strategy(
        scripted({0: lambda s: s.buy(1000), 4: lambda s: s.close()})(), "EURUSD", Sizing.parse("units:1000")
    )
    kernel.run()
    # 1000 units * 1.1 * 3.65 % / 365 days * 1 day
    charge = D(1000) * D("1.1") * D("0.0365") / D(365)
    assert charge == D("0.11")
    assert kernel.portfolio.balance == D(10_000) - charge


# ---- limit and stop orders ---------------------------------------------------------------------------------
def test_buy_limit_fills_at_its_limit_in_the_first_bar_whose_low_reaches_it() -> None:
    rows = [FLAT, FLAT, (1.1000, 1.1005, 1.0951, 1.0960), (1.0960, 1.0970, 1.0940, 1.0965), FLAT]
    sim = simulate({1: lambda s: s.buy(1000, limit=D("1.0950"))}, rows)
    assert [(f.price, f.ts) for f in sim.fills] == [(D("1.0950"), T0 + 3 * HOUR)]


def test_buy_limit_fills_at_a_better_open_when_the_bar_gaps_below_it() -> None:
    rows = [FLAT, FLAT, (1.0930, 1.0945, 1.0920, 1.0940), FLAT]
    sim = simulate({1: lambda s: s.buy(1000, limit=D("1.0950"))}, rows)
    assert [f.price for f in sim.fills] == [D("1.0930")]


def test_buy_limit_with_spread_needs_the_ask_low_to_reach_the_limit() -> None:
    # bid low 1.0949 + spread 0.0002 = ask low 1.0951 > 1.0950: no fill; next bar's ask low 1.0948 fills
    rows = [FLAT, FLAT, (1.1000, 1.1005, 1.0949, 1.0960), (1.0960, 1.0970, 1.0946, 1.0965), FLAT]
    sim = simulate(
        {1: lambda s: s.buy(1000, limit=D("1.0950"))}, rows, venue=VenueConfig(spread=SpreadModel(D(2)))
    )
    assert [(f.price, f.ts) for f in sim.fills] == [(D("1.0950"), T0 + 3 * HOUR)]


def test_sell_limit_fills_at_its_limit_when_the_high_reaches_it() -> None:
    rows = [FLAT, FLAT, (1.1000, 1.1060, 1.0995, 1.1040), FLAT]
    sim = simulate({1: lambda s: s.sell(1000, limit=D("1.1050"))}, rows)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [("sell", D("1.1050"), T0 + 2 * HOUR)]


def test_buy_stop_triggers_on_the_high_and_fills_at_the_trigger() -> None:
    rows = [FLAT, FLAT, (1.1000, 1.1049, 1.0995, 1.1040), (1.1040, 1.1060, 1.1030, 1.1055), FLAT]
    sim = simulate({1: lambda s: s.buy(1000, stop=D("1.1050"))}, rows)
    assert [(f.price, f.ts) for f in sim.fills] == [(D("1.1050"), T0 + 3 * HOUR)]


def test_sell_stop_triggers_on_the_low_and_fills_at_the_trigger() -> None:
    rows = [FLAT, FLAT, (1.1000, 1.1005, 1.0940, 1.0945), FLAT]
    sim = simulate({1: lambda s: s.sell(1000, stop=D("1.0950"))}, rows)
    assert [(f.side, f.price) for f in sim.fills] == [("sell", D("1.0950"))]


def test_sell_stop_gapped_through_fills_at_the_open_not_the_trigger() -> None:
    rows = [FLAT, FLAT, (1.0900, 1.0920, 1.0880, 1.0910), FLAT]
    sim = simulate({1: lambda s: s.sell(1000, stop=D("1.0950"))}, rows)
    assert [f.price for f in sim.fills] == [D("1.0900")]


def test_buy_stop_gapped_through_fills_at_the_open_plus_slippage() -> None:
    rows = [FLAT, FLAT, (1.1080, 1.1090, 1.1070, 1.1085), FLAT]
    venue = VenueConfig(slippage=FixedSlippage(pips=D(1)))
    sim = simulate({1: lambda s: s.buy(1000, stop=D("1.1050"))}, rows, venue=venue)
    assert [f.price for f in sim.fills] == [D("1.1080") + D("0.0001")]


def test_stop_limit_triggered_by_a_gap_beyond_its_limit_waits_and_fills_later_at_the_limit() -> None:
    rows = [
        FLAT,
        FLAT,
        (1.1030, 1.1050, 1.1020, 1.1040),  # gaps over the stop 1.1000 and stays above the limit 1.1010
        (1.1040, 1.1045, 1.1005, 1.1010),  # comes back down through the limit
        FLAT,
    ]
    sim = simulate({1: lambda s: s.buy(1000, stop=D("1.1000"), limit=D("1.1010"))}, rows)
    triggered = [e for e in sim.events if isinstance(e, OrderTriggered)]
    assert len(triggered) == 1 and triggered[0].ts == T0 + 3 * HOUR  # during bar 2 (clock at its close)
    assert [(f.price, f.ts) for f in sim.fills] == [(D("1.1010"), T0 + 3 * HOUR)]
    (order,) = sim.orders
    assert order.status is OrderStatus.FILLED


def test_stop_limit_not_triggered_does_not_fill_even_if_the_limit_is_reachable() -> None:
    # buy stop 1.1000 / limit 1.1010: the bar trades at 1.0950..1.0999, below the limit but never at the stop
    rows = [FLAT, FLAT, (1.0990, 1.0999, 1.0950, 1.0960), (1.0960, 1.0970, 1.0950, 1.0960)]
    sim = simulate({1: lambda s: s.buy(1000, stop=D("1.1000"), limit=D("1.1010"))}, rows)
    assert sim.fills == []
    assert not any(isinstance(e, OrderTriggered) for e in sim.events)


def test_buy_stop_limit_never_fills_below_its_stop_price() -> None:
    # open 1.0990 is below the stop 1.1000; the price crosses 1.1000 later in the bar, so the earliest
    # possible fill is at 1.1000 (the limit 1.1010 allows it)
    rows = [FLAT, FLAT, (1.0990, 1.1020, 1.0985, 1.1000), FLAT]
    sim = simulate({1: lambda s: s.buy(1000, stop=D("1.1000"), limit=D("1.1010"))}, rows)
    assert [f.price for f in sim.fills] == [D("1.1000")]


def test_immediate_or_cancel_limit_that_cannot_fill_at_once_is_not_filled_later() -> None:
    rows = [FLAT, FLAT, FLAT, (1.1000, 1.1005, 1.0900, 1.0960), FLAT]
    sim = simulate({1: lambda s: s.buy(1000, limit=D("1.0950"), tif="ioc")}, rows)
    assert sim.fills == []
    (order,) = sim.orders
    assert order.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED)


# ---- margin ------------------------------------------------------------------------------------------------
TEN: Row = (10.0, 10.0, 10.0, 10.0)
X = generic_instrument("X", lot_size=D(1), precision=2)  # margin rate 1: a cash account


def test_order_the_free_margin_cannot_carry_is_rejected_with_insufficient_margin() -> None:
    sim = simulate({1: lambda s: s.buy(101)}, [TEN] * 4, inst=X, cash=D(1000))
    rejected = [e for e in sim.events if isinstance(e, OrderRejected)]
    assert len(rejected) == 1
    # 101 units * 10 = 1010 needed, 1000 free
    assert rejected[0].reason.startswith("INSUFFICIENT_MARGIN")
    assert "required=1010.00" in rejected[0].reason and "free=1000.00" in rejected[0].reason
    (order,) = sim.orders
    assert order.status is OrderStatus.REJECTED
    assert sim.fills == []
    assert sim.balance == D(1000)
    result = run_backtest(
        BacktestSpec(
            strategy=scripted({1: lambda s: s.buy(101)}), pairs=[(X, bars("X", [TEN] * 4))], cash=D(1000)
        )
    )
    assert result.rejected == 1 and result.trades.empty


def test_order_using_exactly_all_free_margin_is_accepted() -> None:
    sim = simulate({1: lambda s: s.buy(100)}, [TEN] * 4, inst=X, cash=D(1000))
    assert [(f.quantity, f.price) for f in sim.fills] == [(D(100), D(10))]


def test_leveraged_fx_margin_limit_is_notional_times_margin_rate() -> None:
    one: Row = (1.0, 1.0, 1.0, 1.0)
    # EURUSD margin rate 0.0333: 30030 units at 1.0 need 999.999 USD, 30031 need 1000.0323 USD
    assert D(30030) * D("0.0333") <= D(1000) < D(30031) * D("0.0333")
    ok = simulate({1: lambda s: s.buy(30030)}, [one] * 4, cash=D(1000))
    assert [f.quantity for f in ok.fills] == [D(30030)]
    too_big = simulate({1: lambda s: s.buy(30031)}, [one] * 4, cash=D(1000))
    assert too_big.fills == []
    assert [e.reason.split(":")[0] for e in too_big.events if isinstance(e, OrderRejected)] == [
        "INSUFFICIENT_MARGIN"
    ]


def test_reversal_through_flat_is_allowed_when_the_margin_after_the_trade_fits() -> None:
    one: Row = (1.0, 1.0, 1.0, 1.0)
    # long 20000 (margin 666 of 1000 equity), then sell 40000: after the fill the account is short 20000,
    # needing 666 USD of margin again, which the 1000 USD equity carries
    sim = simulate({1: lambda s: s.buy(20000), 2: lambda s: s.sell(40000)}, [one] * 5, cash=D(1000))
    assert [(f.side, f.quantity) for f in sim.fills] == [("buy", D(20000)), ("sell", D(40000))]
    assert sim.kernel.portfolio.net_quantity("EURUSD") == D(-20000)


# ---- all-in sizing -----------------------------------------------------------------------------------------
SEVEN: Row = (7.0, 7.0, 7.0, 7.0)


@pytest.mark.parametrize(
    ("commission", "units", "fee"),
    [
        (CommissionModel(), D(142), D(0)),  # floor(1000 / 7) = 142, 994 invested
        (CommissionModel(pct_notional=D("0.01")), D(141), D("9.87")),  # floor(1000 / 7.07) = 141
        (CommissionModel(per_order=D(4)), D(142), D(4)),  # floor((1000 - 4) / 7) = 142
        (CommissionModel(per_unit=D("0.05")), D(141), D("7.05")),  # floor(1000 / 7.05) = 141
    ],
    ids=["no_commission", "pct_notional", "per_order", "per_unit"],
)
def test_all_in_buys_the_whole_lots_equity_pays_for_commission_included(
    commission: CommissionModel, units: D, fee: D
) -> None:
    sim = simulate(
        {1: lambda s: s.buy()},
        [SEVEN] * 4,
        inst=X,
        cash=D(1000),
        sizing="all_in",
        venue=VenueConfig(commission=commission),
    )
    assert [(f.quantity, f.price, f.commission) for f in sim.fills] == [(units, D(7), fee)]
    assert units * 7 + fee <= D(1000) < (units + 1) * 7 + commission.commission(units + 1, D(7), D(1))
    assert sim.balance == D(1000) - fee


def test_all_in_with_a_minimum_commission_buys_one_lot_less_instead_of_being_rejected() -> None:
    ten = [TEN] * 4
    sim = simulate(
        {1: lambda s: s.buy()},
        ten,
        inst=X,
        cash=D(1000),
        sizing="all_in",
        venue=VenueConfig(commission=CommissionModel(minimum=D(5))),
    )
    # 99 * 10 + 5 = 995 <= 1000 < 100 * 10 + 5
    assert [(f.quantity, f.commission) for f in sim.fills] == [(D(99), D(5))]
