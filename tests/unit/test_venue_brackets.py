"""Brackets on the simulated venue: stop loss vs take profit inside one bar, OCO cancels, scaling out with
several take profits, trailing stops (distance and ATR multiple), and `close()` cancelling a position's exits.
Expected prices and P&L are worked out by hand with exact Decimal arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

from tests.sim_harness import HOUR, T0, Action, Row, Scripted, bars

from traderbot.core.messages import OrderCanceled, OrderFilled
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderStatus, OrderType
from traderbot.model.instrument import Instrument, generic_instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
X = generic_instrument("X", lot_size=D(1), precision=2)  # tick 0.01; integer prices are exact binary floats


@dataclass
class Sim:
    kernel: Kernel
    events: list[Any]
    fills: list[OrderFilled]

    def orders(self, tag: str | None = None) -> list[Order]:
        return [o for o in self.kernel.cache.orders.values() if tag is None or o.tag == tag]

    @property
    def balance(self) -> D:
        return self.kernel.portfolio.balance


def simulate(script: dict[int, Action], rows: list[Row], *, inst: Instrument = EURUSD) -> Sim:
    kernel = Kernel(account_currency=inst.quote, starting_cash=D(10_000))
    kernel.finite_replay = True
    kernel.add_data(inst, bars(inst.id, rows))
    kernel.add_strategy(
        type("Script", (Scripted,), {"script": script})(), inst.id, Sizing.parse("units:1000")
    )
    events: list[Any] = []
    fills: list[OrderFilled] = []
    kernel.bus.subscribe("orders", events.append)
    kernel.bus.subscribe("fills", fills.append)
    kernel.run()
    return Sim(kernel, events, fills)


QUIET: Row = (1.1000, 1.1010, 1.0990, 1.1000)


# ---- stop loss vs take profit ------------------------------------------------------------------------------
def test_stop_loss_wins_when_sl_and_tp_inside_one_bar_and_the_take_profit_is_canceled() -> None:
    rows = [QUIET, QUIET, QUIET, (1.1000, 1.1060, 1.0940, 1.1000), QUIET]
    sim = simulate({1: lambda s: s.buy(1000, sl=D("1.0950"), tp=D("1.1050"))}, rows)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [
        ("buy", D("1.1000"), T0 + 2 * HOUR),
        ("sell", D("1.0950"), T0 + 3 * HOUR),
    ]
    (tp,) = sim.orders("take_profit")
    (sl,) = sim.orders("stop_loss")
    assert sl.status is OrderStatus.FILLED
    assert tp.status is OrderStatus.CANCELED and tp.reason.startswith("OCO")
    assert tp.oco_group == sl.oco_group is not None
    (trade,) = sim.kernel.portfolio.trades
    assert (trade.side, trade.quantity, trade.exit_price) == ("long", D(1000), D("1.0950"))
    assert trade.pnl == D(1000) * (D("1.0950") - D("1.1000"))
    assert sim.balance == D(10_000) + D(1000) * (D("1.0950") - D("1.1000"))


def test_short_bracket_stop_loss_wins_when_sl_and_tp_inside_one_bar() -> None:
    rows = [QUIET, QUIET, QUIET, (1.1000, 1.1060, 1.0940, 1.1000), QUIET]
    sim = simulate({1: lambda s: s.sell(1000, sl=D("1.1050"), tp=D("1.0950"))}, rows)
    assert [(f.side, f.price) for f in sim.fills] == [("sell", D("1.1000")), ("buy", D("1.1050"))]
    (tp,) = sim.orders("take_profit")
    assert tp.status is OrderStatus.CANCELED
    assert sim.balance == D(10_000) - D(1000) * (D("1.1050") - D("1.1000"))


def test_take_profit_fill_cancels_the_stop_loss() -> None:
    rows = [QUIET, QUIET, QUIET, (1.1000, 1.1060, 1.0960, 1.1050), (1.1050, 1.1050, 1.0900, 1.0900)]
    sim = simulate({1: lambda s: s.buy(1000, sl=D("1.0950"), tp=D("1.1050"))}, rows)
    assert [(f.side, f.price) for f in sim.fills] == [("buy", D("1.1000")), ("sell", D("1.1050"))]
    (sl,) = sim.orders("stop_loss")
    assert sl.status is OrderStatus.CANCELED
    assert sim.kernel.portfolio.net_quantity("EURUSD") == 0  # the later drop through 1.0950 sold nothing
    assert sim.balance == D(10_000) + D(1000) * (D("1.1050") - D("1.1000"))


def test_bracket_exits_are_live_in_the_entry_bar_and_a_gap_through_the_stop_fills_at_the_open() -> None:
    # the market entry fills at bar 2's open 1.1000; the same bar falls to 1.0900, through the stop 1.0950;
    # the next bar opens at 1.0800, but the position is already out at the stop
    rows = [QUIET, QUIET, (1.1000, 1.1005, 1.0900, 1.0910), (1.0800, 1.0810, 1.0790, 1.0800)]
    sim = simulate({1: lambda s: s.buy(1000, sl=D("1.0950"))}, rows)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [
        ("buy", D("1.1000"), T0 + 2 * HOUR),
        ("sell", D("1.0950"), T0 + 2 * HOUR),
    ]


def test_stop_loss_gapped_through_fills_at_the_open() -> None:
    rows = [QUIET, QUIET, QUIET, (1.0900, 1.0920, 1.0880, 1.0910), QUIET]
    sim = simulate({1: lambda s: s.buy(1000, sl=D("1.0950"), tp=D("1.1050"))}, rows)
    assert [f.price for f in sim.fills] == [D("1.1000"), D("1.0900")]


# ---- scaling out -------------------------------------------------------------------------------------------
def test_two_take_profits_scale_out_in_halves_and_shrink_the_stop_loss() -> None:
    rows = [
        QUIET,
        QUIET,
        QUIET,  # entry at 1.1000
        (1.1000, 1.1060, 1.0990, 1.1050),  # first target 1.1050 hit: 500 closed
        (1.1050, 1.1060, 1.0890, 1.0900),  # stop 1.0900 hit: the other 500 closed
        QUIET,
    ]
    tps = [(D("1.1050"), D("0.5")), (D("1.1100"), D("0.5"))]
    sim = simulate({1: lambda s: s.buy(1000, sl=D("1.0900"), tp=tps)}, rows)
    assert [(f.side, f.quantity, f.price, f.ts) for f in sim.fills] == [
        ("buy", D(1000), D("1.1000"), T0 + 2 * HOUR),
        ("sell", D(500), D("1.1050"), T0 + 3 * HOUR),
        ("sell", D(500), D("1.0900"), T0 + 4 * HOUR),
    ]
    (sl,) = sim.orders("stop_loss")
    assert sl.quantity == D(500) and sl.status is OrderStatus.FILLED
    tp1, tp2 = sim.orders("take_profit")
    assert (tp1.quantity, tp1.status) == (D(500), OrderStatus.FILLED)
    assert (tp2.quantity, tp2.status) == (D(500), OrderStatus.CANCELED)
    trades = sim.kernel.portfolio.trades
    assert [(t.quantity, t.exit_price, t.pnl) for t in trades] == [
        (D(500), D("1.1050"), D(500) * (D("1.1050") - D("1.1000"))),
        (D(500), D("1.0900"), D(500) * (D("1.0900") - D("1.1000"))),
    ]
    assert sim.balance == D(10_000) + D("2.5") - D(5)


def test_all_take_profits_hit_closes_the_position_and_cancels_the_stop_loss() -> None:
    rows = [
        QUIET,
        QUIET,
        QUIET,
        (1.1000, 1.1060, 1.0990, 1.1050),
        (1.1050, 1.1110, 1.1040, 1.1100),
        (1.0800, 1.0810, 1.0790, 1.0800),  # far below the stop: nothing left to stop out
    ]
    tps = [(D("1.1050"), D("0.3")), (D("1.1100"), D("0.7"))]
    sim = simulate({1: lambda s: s.buy(1000, sl=D("1.0900"), tp=tps)}, rows)
    assert [(f.quantity, f.price) for f in sim.fills] == [
        (D(1000), D("1.1000")),
        (D(300), D("1.1050")),
        (D(700), D("1.1100")),
    ]
    (sl,) = sim.orders("stop_loss")
    assert sl.status is OrderStatus.CANCELED
    assert "take profits" in sl.reason
    assert len(sim.kernel.portfolio.trades) == 2
    assert sim.balance == D(10_000) + D(300) * D("0.0050") + D(700) * D("0.0100")


# ---- trailing stops ----------------------------------------------------------------------------------------
def test_trailing_stop_loss_follows_highs_but_never_moves_within_the_bar_being_checked() -> None:
    rows = [
        QUIET,
        QUIET,  # entry sent; trailing stop starts at close 1.1000 - 0.0020 = 1.0980
        (1.1000, 1.1030, 1.0990, 1.1020),  # entry at 1.1000; low 1.0990 > 1.0980; then stop -> 1.1030 - 0.002
        (1.1020, 1.1100, 1.1012, 1.1090),  # low 1.1012 > 1.1010 (a stop moved to 1.1080 first would fire)
        (1.1090, 1.1092, 1.1082, 1.1085),  # stop is 1.1080; high 1.1092 would lower it to 1.1072: it stays
        (1.1085, 1.1088, 1.1075, 1.1078),  # low 1.1075 <= 1.1080: out at 1.1080
        QUIET,
    ]
    sim = simulate({1: lambda s: s.buy(1000, trailing_sl=D("0.0020"))}, rows)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [
        ("buy", D("1.1000"), T0 + 2 * HOUR),
        ("sell", D("1.1080"), T0 + 5 * HOUR),
    ]
    (stop,) = sim.orders("stop_loss")
    assert stop.type is OrderType.TRAILING_STOP
    assert sim.balance == D(10_000) + D(1000) * (D("1.1080") - D("1.1000"))


def test_trailing_buy_stop_on_a_short_follows_lows() -> None:
    rows = [
        QUIET,  # short sent
        QUIET,  # short filled at 1.1000; trailing buy stop sent: starts at 1.1000 + 0.0020 = 1.1020
        (1.1000, 1.1010, 1.0950, 1.0960),  # high 1.1010 < 1.1020; then stop -> 1.0950 + 0.002 = 1.0970
        (1.0960, 1.0968, 1.0900, 1.0910),  # high 1.0968 < 1.0970; then stop -> 1.0920
        (1.0915, 1.0925, 1.0905, 1.0920),  # high 1.0925 >= 1.0920: covered at 1.0920
        QUIET,
    ]
    script: dict[int, Action] = {
        0: lambda s: s.sell(1000),
        1: lambda s: s.buy(1000, trailing=D("0.0020"), reduce_only=True),
    }
    sim = simulate(script, rows)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [
        ("sell", D("1.1000"), T0 + HOUR),
        ("buy", D("1.0920"), T0 + 4 * HOUR),
    ]
    assert sim.balance == D(10_000) + D(1000) * (D("1.1000") - D("1.0920"))


# integer prices: true ranges are exact
ATR_ROWS: list[Row] = [
    (100, 102, 98, 100),
    (100, 103, 99, 101),  # TR 4
    (101, 102, 100, 101),  # TR 2
    (101, 104, 101, 103),  # TR 3
]


def test_atr_trailing_stop_loss_sits_a_multiple_of_atr_below_the_highs() -> None:
    rows = [
        *ATR_ROWS,  # entry sent after bar 3: ATR seed = mean(4, 2, 3) = 3, stop = close 103 - 2 * 3 = 97
        (103, 105, 102, 104),  # entry at 103; TR 3 keeps ATR at 3; stop -> 105 - 6 = 99
        (104, 107, 104, 106),  # low 104 > 99; TR 3; stop -> 101
        (106, 108, 105, 107),  # low 105 > 101; TR 3; stop -> 102
        (107, 107, 101, 101),  # low 101 <= 102: out at 102
        (101, 101, 101, 101),
    ]
    sim = simulate({3: lambda s: s.buy(10, trailing_atr_sl=2)}, rows, inst=X)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [
        ("buy", D(103), T0 + 4 * HOUR),
        ("sell", D(102), T0 + 7 * HOUR),
    ]
    assert sim.balance == D(10_000) + D(10) * (D(102) - D(103))


ATR2_ROWS: list[Row] = [
    *ATR_ROWS,
    (103, 106, 102, 105),  # TR 4
    (105, 110, 104, 109),  # TR 6
    (109, 111, 107, 110),  # TR 4
    (110, 110, 100, 101),
    (101, 101, 101, 101),
]


def test_atr_trailing_stop_order_updates_atr_wilder_style_each_bar() -> None:
    # long 10 from bar 4's open 103; after bar 4 a reduce-only trailing sell at 2 x ATR(2):
    # seed ATR = mean(TR3, TR4) = (3 + 4) / 2 = 3.5, stop = close 105 - 7 = 98
    # bar 5: low 104 > 98; ATR = (3.5 + 6) / 2 = 4.75, stop = 110 - 9.5 = 100.5
    # bar 6: low 107 > 100.5; ATR = (4.75 + 4) / 2 = 4.375, stop = 111 - 8.75 = 102.25
    # bar 7: low 100 <= 102.25, opened at 110 above it: out at 102.25
    script: dict[int, Action] = {
        3: lambda s: s.buy(10),
        4: lambda s: s.sell(10, trailing_atr=2, atr_period=2, reduce_only=True),
    }
    sim = simulate(script, ATR2_ROWS, inst=X)
    assert [(f.side, f.price, f.ts) for f in sim.fills] == [
        ("buy", D(103), T0 + 4 * HOUR),
        ("sell", D("102.25"), T0 + 7 * HOUR),
    ]
    assert sim.balance == D(10_000) + D(10) * (D("102.25") - D(103))


def test_atr_period_option_applies_to_a_brackets_atr_trailing_stop_loss() -> None:
    # same path as the stand-alone order above, with the trailing stop attached to the entry as a bracket:
    # entry sent after bar 4, filled at bar 5's open 105; the stop ends at 102.25 as computed above
    sim = simulate({4: lambda s: s.buy(10, trailing_atr_sl=2, atr_period=2)}, ATR2_ROWS, inst=X)
    assert [(f.side, f.price) for f in sim.fills] == [("buy", D(105)), ("sell", D("102.25"))]


def test_atr_trailing_stop_on_fx_prices_fills_at_an_exact_tick_price() -> None:
    fx: Row = (1.1000, 1.1020, 1.0990, 1.1000)  # true range exactly 0.0030
    # entry sent after bar 2: ATR seed 0.0030, stop = 1.1000 - 2 * 0.0030 = 1.0940; bar 3 falls to 1.0930
    rows = [fx, fx, fx, (1.1000, 1.1005, 1.0930, 1.0935), QUIET]
    sim = simulate({2: lambda s: s.buy(1000, trailing_atr_sl=2)}, rows)
    assert [(f.side, f.price) for f in sim.fills] == [("buy", D("1.1000")), ("sell", D("1.0940"))]


# ---- close() and same-bar entry exits ----------------------------------------------------------------------
def test_close_cancels_the_positions_bracket_orders_and_flattens_at_the_next_open() -> None:
    rows = [
        QUIET,
        QUIET,
        (1.1000, 1.1010, 1.0990, 1.1005),  # entry at 1.1000, close() sent at this bar's close
        (1.1004, 1.1010, 1.0995, 1.1000),  # closed at the open 1.1004
        (1.1000, 1.1200, 1.0800, 1.1000),  # would hit both the old stop and the old target
        QUIET,
    ]
    script: dict[int, Action] = {
        1: lambda s: s.buy(1000, sl=D("1.0900"), tp=D("1.1100")),
        2: lambda s: s.close(),
    }
    sim = simulate(script, rows)
    assert [(f.side, f.quantity, f.price, f.ts) for f in sim.fills] == [
        ("buy", D(1000), D("1.1000"), T0 + 2 * HOUR),
        ("sell", D(1000), D("1.1004"), T0 + 3 * HOUR),
    ]
    exits = sim.orders("stop_loss") + sim.orders("take_profit")
    assert len(exits) == 2
    assert all(o.status is OrderStatus.CANCELED for o in exits)
    canceled = {e.client_order_id for e in sim.events if isinstance(e, OrderCanceled)}
    assert canceled == {o.client_order_id for o in exits}
    assert sim.kernel.portfolio.net_quantity("EURUSD") == 0
    assert sim.balance == D(10_000) + D(1000) * D("0.0004")


def test_take_profit_of_a_limit_entry_does_not_fill_on_the_same_bars_high() -> None:
    # buy limit 1.0950 fills when the bar dips to 1.0940; whether the 1.1100 high came before or after the
    # dip is unknown, so the 1.1050 target must not be assumed hit in this bar
    rows = [QUIET, QUIET, (1.1000, 1.1100, 1.0940, 1.1000), (1.1000, 1.1010, 1.0990, 1.1000), QUIET]
    sim = simulate({1: lambda s: s.buy(1000, limit=D("1.0950"), tp=D("1.1050"), sl=D("1.0900"))}, rows)
    assert [(f.side, f.price) for f in sim.fills] == [("buy", D("1.0950"))]
