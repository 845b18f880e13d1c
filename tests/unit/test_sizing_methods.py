"""Sizing methods: the `--sizing` grammar and its errors, risk with ATR options, volatility targeting, Kelly with
confidence, the drawdown cut, lot rounding and the sizing note. Each expected quantity is worked out below from
the synthetic bars and trades, independently of the code under test; the classic methods (all_in, fraction,
units, risk) are checked against the formula they had before the new methods were added."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from traderbot.core.messages import OrderFilled, TradeClosed
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderStatus
from traderbot.model.instrument import Instrument, generic_instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import DrawdownCut, Sizing
from traderbot.risk.sizing_methods import bars_per_year
from traderbot.strategies.base import Strategy

XYZ = generic_instrument("XYZ", lot_size=D("0.01"), precision=2)  # 24/7 calendar, lots of 0.01
EURUSD = get_instrument("EURUSD")  # fx calendar, lots of 1
Row = tuple[float, float, float, float]


class Probe(Strategy):
    """Sends orders only when a test calls buy()."""

    name = "probe"


def series(instrument_id: str, rows: list[Row], freq: str = "1D") -> BarSeries:
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=len(rows), freq=freq, tz="UTC"),
            "open": [r[0] for r in rows],
            "high": [r[1] for r in rows],
            "low": [r[2] for r in rows],
            "close": [r[3] for r in rows],
            "volume": [1000.0] * len(rows),
        }
    )
    return BarSeries.from_frame(df, instrument_id, "1d" if freq == "1D" else freq)


def flat(closes: list[float]) -> list[Row]:
    return [(c, c, c, c) for c in closes]


@dataclass
class Desk:
    kernel: Kernel
    strategy: Probe

    def buy(self, **kw: object) -> Order:
        """Send a buy without a quantity and return the order as sized (submitted or denied)."""
        self.strategy.buy(**kw)
        return list(self.kernel.cache.orders.values())[-1]

    def set_equity(self, equity: D) -> None:
        self.kernel.portfolio.balance = equity  # flat account: equity is the balance

    def add_trades(self, pnls: list[D], strategy_id: str = "probe", instrument_id: str = "XYZ") -> None:
        for pnl in pnls:
            self.kernel.portfolio.trades.append(closed(pnl, strategy_id, instrument_id))


def desk(sizing: str, rows: list[Row], *, visible: int | None = None, inst: Instrument = XYZ) -> Desk:
    """A kernel with `visible` of the bars closed (all by default) and a Probe strategy sized by `sizing`."""
    kernel = Kernel(account_currency="USD", starting_cash=D(10_000))
    s = series(inst.id, rows, "1D" if inst is XYZ else "1h")
    idx = kernel.add_data(inst, s)
    n = len(rows) if visible is None else visible
    kernel.cache.visible[idx] = n
    kernel.cache.now_ns = int(s.ts_close[n - 1])
    strategy = Probe()
    kernel.add_strategy(strategy, inst.id, Sizing.parse(sizing))
    return Desk(kernel, strategy)


def closed(pnl: D, strategy_id: str = "probe", instrument_id: str = "XYZ") -> TradeClosed:
    return TradeClosed(instrument_id, strategy_id, "long", D(1), 0, 1, D(100), D(100), pnl, D(0), D(100), 1)


def lots(qty: D, lot: D = D("0.01")) -> D:
    """Round down to whole lots, as a broker would."""
    return (qty / lot).to_integral_value(ROUND_DOWN) * lot


def assert_denied_invalid_quantity(order: Order) -> None:
    assert order.status is OrderStatus.DENIED
    assert order.reason.startswith("INVALID_QUANTITY")


# ---- grammar -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("risk:1,atr=0", "option atr=0 must be a positive ATR multiple, e.g. atr=3"),
        ("risk:1,atr=x", "option atr=x must be a positive ATR multiple"),
        ("risk:1,period=1.5", "option period=1.5 must be bars >= 1"),
        ("risk:1,foo=2", "unknown option 'foo'; valid options for risk are atr, period"),
        ("risk:1,atr", "option 'atr' is not key=value; valid options for risk are atr, period"),
        ("risk:1,atr=3,atr=4", "option atr is given twice; give it once"),
        ("risk:150", "risk is a percent of equity in (0, 100]"),
        ("vol:0", "is not valid: use all_in"),
        ("vol:150", "vol is an annual volatility target in percent in (0, 100], e.g. vol:10"),
        ("vol:10,lookback=1", "option lookback=1 must be a number of returns >= 2"),
        ("vol:10,atr=2", "unknown option 'atr'; valid options for vol are lookback"),
        ("kelly:1.5", "the Kelly multiplier must be in (0, 1], e.g. kelly:0.5 for half Kelly"),
        ("kelly:0.5,cap=1.2", "option cap=1.2 must be a fraction of equity in (0, 1]"),
        ("kelly:0.5,min_trades=0", "option min_trades=0 must be a number of trades >= 1"),
        ("kelly:0.5,fallback=0.3", "option fallback=0.3 exceeds cap=0.25; lower fallback or raise cap"),
        ("kelly:0.5,window=10", "option window=10 is below min_trades=20"),
        ("fraction:0.5,atr=2", "unknown option 'atr'; fraction takes no options"),
        ("units:1000,x=1", "unknown option 'x'; units takes no options"),
        ("units:1000;dd=20:5:0.5", "dd=START:FULL:FLOOR needs 0 <= START < FULL <= 100 and 0 < FLOOR <= 1"),
        ("risk:1;dd=5:20:0", "dd=START:FULL:FLOOR needs"),
        ("risk:1;dd=5:120:0.5", "dd=START:FULL:FLOOR needs"),
        ("risk:1;dd=5:20:1.5", "dd=START:FULL:FLOOR needs"),
        ("risk:1;dd=5:20", "dd=START:FULL:FLOOR needs"),
        ("risk:1;dd=-1:20:0.5", "dd=START:FULL:FLOOR needs"),
        ("risk:1;stop=5", "unknown modifier 'stop=5'; dd=START:FULL:FLOOR"),
        ("risk:1;dd=1:2:0.5;dd=1:2:0.5", "give one ;dd= modifier at most"),
    ],
)
def test_invalid_sizing_string_raises_one_sentence_naming_the_option_and_the_fix(
    text: str, fragment: str
) -> None:
    with pytest.raises(UserError) as err:
        Sizing.parse(text)
    message = str(err.value)
    assert message.startswith(f"sizing {text!r} is not valid: ")
    assert fragment in message
    assert "\n" not in message


def test_options_parse_case_and_space_insensitive_into_typed_fields() -> None:
    s = Sizing.parse(" KELLY:0.5, cap=0.1, min_trades=5 ,window=50,fallback=0.02 ; dd=5:20:0.25 ")
    assert s == Sizing(
        "kelly",
        D("0.5"),
        cap=D("0.1"),
        min_trades=5,
        window=50,
        fallback=D("0.02"),
        drawdown=DrawdownCut(D(5), D(20), D("0.25")),
    )
    assert Sizing.parse("risk:1,atr=3,period=20") == Sizing("risk", D(1), atr=D(3), period=20)
    assert Sizing.parse("vol:10,lookback=30") == Sizing("vol", D(10), lookback=30)


def test_options_at_their_defaults_equal_the_plain_method() -> None:
    assert Sizing.parse("risk:1,atr=2,period=14") == Sizing.parse("risk:1")
    assert Sizing.parse("risk:1,atr=2,period=14").describe() == "risk:1"


@pytest.mark.parametrize(
    "text",
    [
        "risk:1,atr=3,period=20",
        "vol:10,lookback=30",
        "kelly:0.5,cap=0.1,min_trades=5",
        "units:1000;dd=5:20:0.25",
    ],
)
def test_describe_round_trips_through_parse(text: str) -> None:
    s = Sizing.parse(text)
    assert s.describe() == text
    assert Sizing.parse(s.describe()) == s


@pytest.mark.parametrize(
    ("text", "parsed", "described"),
    [
        ("all_in", Sizing("fraction", D(1)), "all_in"),
        ("all-in", Sizing("fraction", D(1)), "all_in"),
        ("fraction:0.5", Sizing("fraction", D("0.5")), "fraction:0.5"),
        ("fraction:1", Sizing("fraction", D(1)), "all_in"),
        ("units:1000", Sizing("units", D(1000)), "units:1000"),
        ("risk:1", Sizing("risk", D(1)), "risk:1"),
        ("risk:2.5", Sizing("risk", D("2.5")), "risk:2.5"),
    ],
)
def test_classic_sizing_strings_parse_and_describe_as_before(
    text: str, parsed: Sizing, described: str
) -> None:
    s = Sizing.parse(text)
    assert s == parsed
    assert (s.method, s.value, s.drawdown) == (parsed.method, parsed.value, None)
    assert s.describe() == described


# ---- the classic methods, against the formulas they always had ----------------------------------------------
def test_all_in_and_fraction_are_equity_fractions_resolved_at_fill() -> None:
    rows = flat([100.0] * 3)
    for text, fraction, note in [
        ("all_in", D(1), "all_in of equity at fill"),
        ("fraction:0.5", D("0.5"), "fraction:0.5 of equity at fill"),
    ]:
        order = desk(text, rows).buy()
        assert (order.quantity, order.equity_fraction, order.sizing_note) == (D(0), fraction, note)


def test_units_sizing_sends_the_fixed_quantity_rounded_to_lots() -> None:
    order = desk("units:1000", flat([1.1] * 3), inst=EURUSD).buy()
    assert (order.quantity, order.equity_fraction, order.sizing_note) == (D(1000), None, "units:1000")
    assert desk("units:2.555", flat([100.0] * 3)).buy().quantity == D("2.55")


def atr_rows() -> list[Row]:
    """15 wide bars (high - low = 10) then 5 narrow ones (2); closes stay at 100."""
    return [(100.0, 105.0, 95.0, 100.0)] * 15 + [(100.0, 101.0, 99.0, 100.0)] * 5


def true_range_mean(rows: list[Row], period: int) -> float:
    h, lo, c = (np.array([r[i] for r in rows]) for i in (1, 2, 3))
    tr = np.maximum(h[1:] - lo[1:], np.maximum(np.abs(h[1:] - c[:-1]), np.abs(lo[1:] - c[:-1])))
    return float(tr[-period:].mean())


def test_risk_sizing_without_stop_uses_two_atr14_exactly_as_before() -> None:
    rows = atr_rows()
    dist = D(repr(2 * true_range_mean(rows, 14)))  # (9 x 10 + 5 x 2) / 14 = 7.142857..., doubled
    order = desk("risk:1", rows).buy()
    assert order.quantity == lots(D(10_000) * 1 / 100 / dist) == D("6.99")  # 100 / 14.2857...14286 < 7
    assert order.sizing_note == f"risk:1% equity=10000.00 dist={dist} (2 x ATR(14))"


def test_risk_sizing_with_a_stop_loss_uses_its_distance_exactly_as_before() -> None:
    order = desk("risk:1", atr_rows()).buy(sl=D("97.00"))
    assert order.quantity == lots(D(100) / D(3)) == D("33.33")
    assert order.sizing_note == "risk:1% equity=10000.00 dist=3.00 (stop loss distance)"


# ---- risk with ATR options ---------------------------------------------------------------------------------
def test_risk_with_atr_and_period_options_sizes_to_that_multiple_of_that_atr() -> None:
    rows = atr_rows()
    assert true_range_mean(rows, 5) == 2.0
    order = desk("risk:1,atr=3,period=5", rows).buy()
    assert order.quantity == lots(D(100) / D(6)) == D("16.66")
    assert order.sizing_note == "risk:1% equity=10000.00 dist=6.0 (3 x ATR(5))"


def test_risk_with_atr_options_ignores_the_atr_when_the_order_has_a_stop_loss() -> None:
    order = desk("risk:1,atr=3,period=5", atr_rows()).buy(sl=D("98.00"))
    assert order.quantity == D(50)
    assert order.sizing_note.endswith("dist=2.00 (stop loss distance)")


# ---- volatility targeting ----------------------------------------------------------------------------------
ZIGZAG = flat([100.0, 101.0, 100.0, 101.0, 100.0])  # log returns +a, -a, +a, -a with a = ln 1.01


def zigzag_vol(per_year: float) -> float:
    """Sample stdev of (+a, -a, +a, -a) is sqrt(4 a^2 / 3) = 2a / sqrt(3); annualised by sqrt(bars per year)."""
    return 2 * math.log(1.01) / math.sqrt(3) * math.sqrt(per_year)


def test_vol_target_sizes_notional_to_target_over_realised_annual_vol() -> None:
    vol = zigzag_vol(365)  # daily bars, 24/7 calendar: 365 bars a year; about 21.95 %
    expected = lots(D(10_000) * D(10) / 100 / D(repr(vol)) / D(100))
    order = desk("vol:10,lookback=4", ZIGZAG).buy()
    assert abs(vol - 0.21951) < 1e-5
    assert order.quantity == expected == D("45.55")
    assert order.equity_fraction is None
    assert order.sizing_note == (
        f"vol:10% realised={vol * 100:.4f}% lookback=4 bars/yr=365 equity=10000.00 price=100.00 -> 45.55 units"
    )


def test_vol_target_uses_only_closed_bars() -> None:
    later = [*ZIGZAG, (100.0, 200.0, 50.0, 180.0), (180.0, 181.0, 179.0, 180.0)]
    assert desk("vol:10,lookback=4", later, visible=5).buy().quantity == D("45.55")


def test_vol_target_on_fx_hourly_bars_annualises_with_260_days_of_24_bars() -> None:
    rows = flat([1.1, 1.111, 1.1, 1.111, 1.1])  # +-ln(1.01) again, price 1.1
    vol = zigzag_vol(260 * 24)
    order = desk("vol:10,lookback=4", rows, inst=EURUSD).buy()
    assert order.quantity == lots(D(10_000) * D(10) / 100 / D(repr(vol)) / D("1.10000"), D(1))
    assert "bars/yr=6240 " in order.sizing_note


def test_vol_target_with_fewer_than_lookback_plus_one_bars_is_nan_and_denied() -> None:
    order = desk("vol:10,lookback=4", ZIGZAG[:4]).buy()
    assert order.quantity.is_nan()
    assert order.sizing_note == "vol:10% lookback=4: needs 5 closed bars, 4 so far"
    assert_denied_invalid_quantity(order)


def test_vol_target_with_zero_realised_vol_is_nan_and_denied() -> None:
    order = desk("vol:10,lookback=4", flat([100.0] * 6)).buy()
    assert order.quantity.is_nan()
    assert order.sizing_note == "vol:10% lookback=4: realised volatility is 0.0, so no size follows"
    assert_denied_invalid_quantity(order)


@pytest.mark.parametrize(
    ("calendar", "bar_seconds", "per_year"),
    [
        ("fx", 3600, 260 * 24),
        ("fx", 86_400, 260),
        ("24/7", 14_400, 365 * 6),
        ("24/7", 86_400, 365),
        ("XNYS", 3600, 252 * 7),  # 6.5 h session: 7 hourly bars, the last one short
        ("XNYS", 1800, 252 * 13),
        ("XNYS", 86_400, 252),
        ("CMES", 3600, 252 * 23),
    ],
)
def test_bars_per_year_follows_the_instruments_calendar(
    calendar: str, bar_seconds: int, per_year: int
) -> None:
    assert bars_per_year(calendar, bar_seconds) == per_year


# ---- Kelly -------------------------------------------------------------------------------------------------
WINS_55_PAYOFF_14 = [D(140)] * 11 + [D(-100)] * 9  # win rate 0.55, payoff 140 / 100 = 1.4


def kelly_fraction(win: D, payoff: D, multiplier: D, cap: D, confidence: D) -> D:
    return min(max(multiplier * (win - (1 - win) / payoff), D(0)), cap) * confidence


def test_kelly_sizes_from_the_strategys_own_trades_on_the_pair_scaled_by_confidence() -> None:
    d = desk("kelly:0.5", flat([100.0] * 3))
    d.add_trades(WINS_55_PAYOFF_14)
    d.add_trades([D(5000)] * 30, strategy_id="other")  # another strategy's trades do not count
    d.add_trades([D(5000)] * 30, instrument_id="ABC")  # nor this strategy's trades on another pair
    fraction = kelly_fraction(D("0.55"), D("1.4"), D("0.5"), D("0.25"), D("0.8"))  # 0.0914...
    order = d.buy(confidence=0.8)
    assert order.quantity == lots(D(10_000) * fraction / D(100)) == D("9.14")
    assert order.equity_fraction is None
    assert order.sizing_note == (
        "kelly:0.5 trades=20 win=0.5500 payoff=1.4000 f*=0.2286 x0.5 cap 0.25 x confidence 0.8 "
        "-> 0.0914 of equity=10000.00 price=100.00 -> 9.14 units"
    )


@pytest.mark.parametrize(
    ("confidence", "qty"), [(None, "11.42"), (1, "11.42"), (0.5, "5.71"), (D("0.25"), "2.85")]
)
def test_kelly_confidence_scales_the_fraction(confidence: object, qty: str) -> None:
    d = desk("kelly:0.5", flat([100.0] * 3))
    d.add_trades(WINS_55_PAYOFF_14)
    kw = {} if confidence is None else {"confidence": confidence}
    fraction = kelly_fraction(D("0.55"), D("1.4"), D("0.5"), D("0.25"), D(str(confidence or 1)))
    assert d.buy(**kw).quantity == lots(D(10_000) * fraction / D(100)) == D(qty)


def test_kelly_with_zero_confidence_sizes_zero_units_which_the_risk_engine_denies() -> None:
    d = desk("kelly:0.5", flat([100.0] * 3))
    d.add_trades(WINS_55_PAYOFF_14)
    order = d.buy(confidence=0)
    assert order.quantity == 0
    assert order.sizing_note.endswith(
        f"x confidence 0.0 -> 0.0000 of equity=10000.00 price=100.00 -> {order.quantity} units"
    )
    assert_denied_invalid_quantity(order)


@pytest.mark.parametrize("confidence", [1.5, -0.1, float("nan"), "high", True])
def test_confidence_outside_zero_to_one_is_a_user_error(confidence: object) -> None:
    d = desk("kelly:0.5", flat([100.0] * 3))
    with pytest.raises(
        UserError, match=r"order option confidence=.* is not valid: pass a number from 0 to 1"
    ):
        d.buy(confidence=confidence)


def test_confidence_leaves_other_methods_unchanged() -> None:
    assert desk("units:10", flat([100.0] * 3)).buy(confidence=0.5).quantity == D(10)


def test_kelly_with_fewer_than_min_trades_uses_the_fallback_fraction() -> None:
    d = desk("kelly:0.5", flat([100.0] * 3))
    d.add_trades(WINS_55_PAYOFF_14[:19])
    order = d.buy(confidence=0.5)
    assert order.quantity == lots(D(10_000) * D("0.01") * D("0.5") / D(100)) == D("0.50")
    assert order.sizing_note == (
        "kelly:0.5 trades=19 < min_trades=20: fallback 0.01 cap 0.25 x confidence 0.5 "
        "-> 0.0050 of equity=10000.00 price=100.00 -> 0.5 units"
    )


def test_kelly_reads_only_the_last_window_trades_and_clips_at_the_cap() -> None:
    d = desk("kelly:1,min_trades=4,window=4,cap=0.2", flat([100.0] * 3))
    d.add_trades([D(-100)] * 10 + [D(200), D(-100), D(200), D(200)])  # last 4: win 0.75, payoff 2, f* 0.625
    order = d.buy()
    assert order.quantity == lots(D(10_000) * D("0.2") / D(100)) == D(20)
    assert "trades=4 win=0.7500 payoff=2.0000 f*=0.6250 x1 cap 0.2" in order.sizing_note


def test_kelly_with_negative_edge_sizes_zero_units() -> None:
    d = desk("kelly:1,min_trades=4", flat([100.0] * 3))
    d.add_trades([D(100), D(-100), D(-100), D(-100)])  # f* = 0.25 - 0.75 / 1 < 0
    order = d.buy()
    assert order.quantity == 0
    assert_denied_invalid_quantity(order)


def test_kelly_without_a_losing_trade_bets_the_win_rate_up_to_the_cap() -> None:
    d = desk("kelly:1,min_trades=4,cap=1", flat([100.0] * 3))
    d.add_trades([D(100), D(100), D(100), D(0)])  # a flat trade is not a win: p = 0.75, R infinite
    order = d.buy()
    assert order.quantity == lots(D(10_000) * D("0.75") / D(100)) == D(75)
    assert "payoff=inf f*=0.7500" in order.sizing_note


# ---- drawdown cut ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("equity", "factor"),
    [
        (D(10_000), D(1)),  # no drawdown
        (D(9_500), D(1)),  # 5 %: START, no cut yet
        (D(9_250), D("0.875")),  # 7.5 %: 1 - 0.75 x 2.5 / 15
        (D(8_500), D("0.5")),  # 15 %: 1 - 0.75 x 10 / 15
        (D(8_000), D("0.25")),  # 20 %: FULL, FLOOR
        (D(7_000), D("0.25")),  # 30 %: beyond FULL, FLOOR
    ],
)
def test_drawdown_cut_scales_units_linearly_between_start_and_full(equity: D, factor: D) -> None:
    d = desk("units:1000;dd=5:20:0.25", flat([1.1] * 3), inst=EURUSD)
    assert d.buy().quantity == D(1000)  # first sized order: the peak is 10000
    d.set_equity(equity)
    order = d.buy()
    dd = (D(10_000) - equity) / D(10_000) * 100
    assert order.quantity == lots(D(1000) * factor, D(1))
    assert order.sizing_note == f"units:1000 dd {dd:.2f}% from peak 10000.00 -> x{factor:.4f}"


def test_drawdown_cut_result_is_rounded_down_to_lots() -> None:
    inst = generic_instrument("XYZ", lot_size=D("0.1"), precision=2)
    d = desk("units:1;dd=5:20:0.25", flat([100.0] * 3), inst=inst)
    d.buy()
    d.set_equity(D(9_250))
    assert d.buy().quantity == D("0.8")  # 1 x 0.875 rounded down to 0.1 lots


def test_drawdown_peak_rises_with_equity_seen_at_sizing_calls() -> None:
    d = desk("units:1000;dd=5:20:0.25", flat([1.1] * 3), inst=EURUSD)
    d.set_equity(D(11_000))
    d.buy()
    d.set_equity(D(9_350))  # 15 % below the 11000 peak
    assert d.buy().quantity == D(500)


def test_drawdown_peak_is_seen_when_the_strategys_trade_closes() -> None:
    d = desk("units:1000;dd=5:20:0.25", flat([1.1] * 3), inst=EURUSD)
    d.buy()  # starts the tracking at 10000
    portfolio = d.kernel.portfolio
    for i, (side, price) in enumerate([("buy", D("1.2")), ("sell", D("3.2"))]):  # +2000 on 1000 units
        fill = OrderFilled(
            f"F{i}", "EURUSD", "probe", 0, trade_id=f"T{i}", side=side, quantity=D(1000), price=price
        )
        portfolio.on_fill(fill, 0)
    assert portfolio.equity() == D(12_000)
    d.set_equity(D(10_200))  # 15 % below the 12000 seen at the close
    assert d.buy().quantity == D(500)


def test_drawdown_peak_ignores_trades_of_other_strategies() -> None:
    d = desk("units:1000;dd=5:20:0.25", flat([1.1] * 3), inst=EURUSD)
    d.buy()
    d.set_equity(D(12_000))
    d.kernel.bus.publish("trades", closed(D(2000), "other", "EURUSD"))
    d.set_equity(D(10_200))  # 15 % below 12000, had the other strategy's close counted; a new peak instead
    assert d.buy().quantity == D(1000)


def test_drawdown_cut_applies_to_risk_and_to_equity_fractions() -> None:
    rows = atr_rows()
    r = desk("risk:1;dd=5:20:0.25", rows)
    r.buy()
    r.set_equity(D(9_250))
    order = r.buy(sl=D("97.00"))
    assert order.quantity == lots(D("92.50") / D(3) * D("0.875")) == D("26.97")
    assert order.sizing_note == (
        "risk:1% equity=9250.00 dist=3.00 (stop loss distance) dd 7.50% from peak 10000.00 -> x0.8750"
    )
    f = desk("fraction:0.5;dd=5:20:0.25", rows)
    f.buy()
    f.set_equity(D(9_250))
    order = f.buy()
    assert order.equity_fraction == D("0.5") * D("0.875")
    assert (
        order.sizing_note
        == "fraction:0.5;dd=5:20:0.25 of equity at fill dd 7.50% from peak 10000.00 -> x0.8750"
    )


def test_drawdown_cut_on_vol_and_kelly_is_applied_before_lot_rounding_and_noted() -> None:
    d = desk("vol:10,lookback=4;dd=5:20:0.25", ZIGZAG)
    d.buy()
    d.set_equity(D(8_500))
    order = d.buy()
    raw = D(8_500) * D(10) / 100 / D(repr(zigzag_vol(365))) / D(100)
    assert order.quantity == lots(raw * D("0.5"))
    assert order.sizing_note.endswith(
        f"price=100.00 dd 15.00% from peak 10000.00 -> x0.5000 -> {order.quantity} units"
    )
