"""Portfolio accounting through the kernel: realised P&L, balance and equity as exact Decimals; commissions
split over partial closes and reversals; short positions; P&L in a foreign quote currency converted to the
account currency at the latest close of the conversion pair. Expected amounts are computed by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from tests.sim_harness import HOUR, T0, Action, Row, bars, scripted

from traderbot.backtest.runner import BacktestSpec, run_backtest
from traderbot.brokers.sim.costs import CommissionModel, VenueConfig
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.instrument import Instrument, generic_instrument, get_instrument
from traderbot.model.position import Position
from traderbot.risk.sizing import Sizing

EURUSD = get_instrument("EURUSD")
USDJPY = get_instrument("USDJPY")
EURGBP = get_instrument("EURGBP")
GBPUSD = get_instrument("GBPUSD")
X = generic_instrument("X", lot_size=D(1), precision=2)


def flat(price: float) -> Row:
    return (price, price, price, price)


def simulate(
    script: dict[int, Action],
    rows: list[Row],
    *,
    inst: Instrument = EURUSD,
    account: str | None = None,
    commission: CommissionModel | None = None,
    extra: list[tuple[Instrument, BarSeries]] | None = None,
) -> Kernel:
    kernel = Kernel(
        account_currency=account or inst.quote,
        starting_cash=D(10_000),
        venue=VenueConfig(commission=commission or CommissionModel()),
    )
    kernel.finite_replay = True
    kernel.add_data(inst, bars(inst.id, rows))
    for other, series in extra or []:
        kernel.add_data(other, series)
    kernel.add_strategy(scripted(script)(), inst.id, Sizing.parse("units:1000"))
    kernel.run()
    return kernel


# ---- single currency ---------------------------------------------------------------------------------------
ROUND_TRIP: list[Row] = [
    flat(1.1),
    flat(1.1),
    (1.10003, 1.1001, 1.1, 1.1),
    (1.10517, 1.106, 1.105, 1.105),
    flat(1.1),
]


def test_long_round_trip_realised_pnl_balance_and_equity_are_exact() -> None:
    fee = CommissionModel(per_order=D("0.5"))
    script: dict[int, Action] = {1: lambda s: s.buy(1000), 2: lambda s: s.close()}
    k = simulate(script, ROUND_TRIP, commission=fee)
    gross = D(1000) * (D("1.10517") - D("1.10003"))
    assert gross == D("5.14")
    pf = k.portfolio
    assert pf.balance == D("10004.14")
    assert pf.equity() == D("10004.14")
    assert pf.commissions == D(1)
    (trade,) = pf.trades
    assert (trade.side, trade.quantity, trade.entry_price, trade.exit_price) == (
        "long",
        D(1000),
        D("1.10003"),
        D("1.10517"),
    )
    assert (trade.entry_ts, trade.exit_ts) == (T0 + 2 * HOUR, T0 + 3 * HOUR)
    assert trade.commission == D(1)
    assert trade.pnl == D("4.14")
    assert pf.position("scripted", "EURUSD").realized_pnl_quote == D("5.14")
    result = run_backtest(
        BacktestSpec(
            strategy=scripted(script),
            pairs=[(EURUSD, bars("EURUSD", ROUND_TRIP))],
            venue=VenueConfig(commission=fee),
            sizing=Sizing.parse("units:1000"),
        )
    )
    assert D(result.final_equity_exact) == D("10004.14")
    assert result.trades["pnl"].tolist() == [4.14]


def test_short_position_profits_when_the_price_falls() -> None:
    rows = [flat(1.1), flat(1.1), (1.10517, 1.106, 1.105, 1.105), (1.10003, 1.1001, 1.1, 1.1), flat(1.1)]
    k = simulate({1: lambda s: s.sell(1000), 2: lambda s: s.close()}, rows)
    (trade,) = k.portfolio.trades
    assert (trade.side, trade.entry_price, trade.exit_price) == ("short", D("1.10517"), D("1.10003"))
    assert trade.pnl == D("5.14")
    assert k.portfolio.balance == D("10005.14")


def test_short_position_loses_when_the_price_rises() -> None:
    k = simulate({1: lambda s: s.sell(1000), 2: lambda s: s.close()}, ROUND_TRIP)
    (trade,) = k.portfolio.trades
    assert trade.pnl == D("-5.14")
    assert k.portfolio.balance == D("9994.86")


def test_open_position_at_the_end_is_valued_at_the_last_close() -> None:
    rows = [flat(1.1), flat(1.1), flat(1.1), (1.1010, 1.1040, 1.1005, 1.1037)]
    k = simulate({1: lambda s: s.buy(1000)}, rows, commission=CommissionModel(per_order=D("0.25")))
    # bought 1000 at 1.1000, last close 1.1037
    assert k.portfolio.balance == D("9999.75")
    assert k.portfolio.unrealized() == D("3.7")
    assert k.portfolio.equity() == D("10003.45")
    assert k.portfolio.trades == []


def test_partial_close_books_a_proportional_share_of_the_entry_commission() -> None:
    rows = [flat(1.1), flat(1.1), flat(1.1), flat(1.105), flat(1.09), flat(1.09)]
    script: dict[int, Action] = {1: lambda s: s.buy(1000), 2: lambda s: s.sell(400), 3: lambda s: s.sell(600)}
    k = simulate(script, rows, commission=CommissionModel(per_order=D(1)))
    first, second = k.portfolio.trades
    # 400 of 1000: 0.4 of the entry fee plus the whole exit fee
    assert (first.quantity, first.commission) == (D(400), D("1.4"))
    assert first.pnl == D(400) * D("0.005") - D("1.4")
    assert (second.quantity, second.commission) == (D(600), D("1.6"))
    assert second.pnl == D(600) * D("-0.01") - D("1.6")
    assert k.portfolio.balance == D(10_000) - D(3) + D(2) - D(6)
    assert first.pnl + second.pnl == k.portfolio.balance - D(10_000)


def test_reversal_through_flat_closes_the_long_and_opens_a_short_at_the_same_price() -> None:
    rows = [flat(100), flat(100), flat(100), flat(110), flat(105), flat(105)]
    # long 10 at 100; sell 40 at 110 (10 close the long, 30 open a short); buy 30 at 105
    script: dict[int, Action] = {1: lambda s: s.buy(10), 2: lambda s: s.sell(40), 3: lambda s: s.buy(30)}
    k = simulate(script, rows, inst=X, commission=CommissionModel(per_order=D(2)))
    long_leg, short_leg = k.portfolio.trades
    # the reversal fee (2) is split 10/40 to the closed long and 30/40 to the new short
    assert (long_leg.side, long_leg.quantity, long_leg.entry_price, long_leg.exit_price) == (
        "long",
        D(10),
        D(100),
        D(110),
    )
    assert long_leg.commission == D(2) + D("0.5")
    assert long_leg.pnl == D(10) * D(10) - D("2.5")
    assert (short_leg.side, short_leg.quantity, short_leg.entry_price, short_leg.exit_price) == (
        "short",
        D(30),
        D(110),
        D(105),
    )
    assert short_leg.entry_ts == T0 + 3 * HOUR
    assert short_leg.commission == D("1.5") + D(2)
    assert short_leg.pnl == D(30) * D(5) - D("3.5")
    assert k.portfolio.balance == D(10_000) + D(100) + D(150) - D(6)
    assert k.portfolio.position("scripted", "X").is_flat


def test_adding_to_a_position_averages_the_entry_price() -> None:
    rows = [flat(100), flat(100), flat(100), flat(103), flat(110), flat(110)]
    script: dict[int, Action] = {1: lambda s: s.buy(10), 2: lambda s: s.buy(30), 3: lambda s: s.close()}
    k = simulate(script, rows, inst=X)
    (trade,) = k.portfolio.trades
    # (10 * 100 + 30 * 103) / 40 = 102.25
    assert (trade.quantity, trade.entry_price) == (D(40), D("102.25"))
    assert trade.pnl == D(40) * (D(110) - D("102.25"))
    assert k.portfolio.balance == D(10_000) + D(10) * D(10) + D(30) * D(7)


def test_realised_pnl_after_scaling_in_at_unequal_prices_is_exact() -> None:
    rows = [flat(1.00001), flat(1.00001), flat(1.00001), flat(1.00002), flat(1.1), flat(1.1)]
    script: dict[int, Action] = {1: lambda s: s.buy(1), 2: lambda s: s.buy(2), 3: lambda s: s.sell(3)}
    k = simulate(script, rows, inst=generic_instrument("Y", lot_size=D(1), precision=5))
    (trade,) = k.portfolio.trades
    # proceeds 3 * 1.1 minus cost 1.00001 + 2 * 1.00002
    assert trade.pnl == D(3) * D("1.1") - (D("1.00001") + D(2) * D("1.00002"))


def test_position_reversal_in_one_fill_returns_the_closed_lot_and_reopens_at_the_fill_price() -> None:
    pos = Position("X", "s")
    assert pos.apply_fill(D(5), D(100), ts=1, bar=1, cost=D(1)) == []
    (lot,) = pos.apply_fill(D(-8), D(90), ts=2, bar=3, cost=D(4))
    assert (lot.side, lot.quantity, lot.entry_price, lot.exit_price) == ("long", D(5), D(100), D(90))
    assert lot.gross_pnl_quote == D(5) * D(-10)
    assert lot.open_costs == D(1) + D(4) * D(5) / D(8)
    assert (pos.quantity, pos.avg_price, pos.opened_ts, pos.opened_bar) == (D(-3), D(90), 2, 3)
    assert pos.open_costs == D(4) * D(3) / D(8)
    assert pos.unrealized_quote(D(80)) == D(-3) * D(-10)


# ---- foreign quote currency --------------------------------------------------------------------------------
def test_usdjpy_pnl_in_yen_is_converted_to_a_usd_account_at_the_latest_usdjpy_close() -> None:
    rows = [
        flat(125),
        flat(125),  # buy sent; entry fee converted at this close: 1 / 125
        (125, 130, 124, 128),  # bought 1000 at 125; exit sent
        (130, 131, 129, 130),  # sold at 130; latest close then is 128: 1 / 128 = 0.0078125
        flat(130),
    ]
    fee = CommissionModel(per_order=D(64))  # 64 JPY per order
    script: dict[int, Action] = {1: lambda s: s.buy(1000), 2: lambda s: s.close()}
    k = simulate(script, rows, inst=USDJPY, account="USD", commission=fee)
    entry_fee, exit_fee = D(64) / D(125), D(64) / D(128)
    assert (entry_fee, exit_fee) == (D("0.512"), D("0.5"))
    gross_usd = D(1000) * (D(130) - D(125)) / D(128)
    assert gross_usd == D("39.0625")
    (trade,) = k.portfolio.trades
    assert trade.commission == entry_fee + exit_fee
    assert trade.pnl == gross_usd - entry_fee - exit_fee
    assert k.portfolio.balance == D(10_000) + gross_usd - entry_fee - exit_fee
    result = run_backtest(
        BacktestSpec(
            strategy=scripted(script),
            pairs=[(USDJPY, bars("USDJPY", rows))],
            account_currency="USD",
            venue=VenueConfig(commission=fee),
            sizing=Sizing.parse("units:1000"),
        )
    )
    assert D(result.final_equity_exact) == D("10038.0505")


EURGBP_ROWS: list[Row] = [flat(0.85), flat(0.85), flat(0.85), (0.86, 0.861, 0.859, 0.86), flat(0.86)]
GBPUSD_ROWS: list[Row] = [flat(1.25), flat(1.26), flat(1.28), flat(1.30), flat(1.30)]


def test_eurgbp_pnl_is_converted_with_a_gbpusd_series_loaded_alongside() -> None:
    script: dict[int, Action] = {1: lambda s: s.buy(1000), 2: lambda s: s.close()}
    spec = BacktestSpec(
        strategy=scripted(script),
        pairs=[(EURGBP, bars("EURGBP", EURGBP_ROWS))],
        extra=[(GBPUSD, bars("GBPUSD", GBPUSD_ROWS))],
        account_currency="USD",
        sizing=Sizing.parse("units:1000"),
    )
    result = run_backtest(spec)
    # 1000 * (0.86 - 0.85) = 10 GBP, realised during bar 3 when the latest GBPUSD close is bar 2's 1.28
    gross_usd = D(1000) * (D("0.86") - D("0.85")) * D("1.28")
    assert gross_usd == D("12.8")
    assert D(result.final_equity_exact) == D(10_000) + gross_usd
    assert result.trades["pnl"].tolist() == [12.8]
    k = simulate(
        script, EURGBP_ROWS, inst=EURGBP, account="USD", extra=[(GBPUSD, bars("GBPUSD", GBPUSD_ROWS))]
    )
    (trade,) = k.portfolio.trades
    assert trade.pnl == gross_usd


def test_missing_conversion_pair_raises_a_user_error_naming_the_pair_to_load() -> None:
    spec = BacktestSpec(
        strategy=scripted({1: lambda s: s.buy(1000)}),
        pairs=[(EURGBP, bars("EURGBP", EURGBP_ROWS))],
        account_currency="USD",
        sizing=Sizing.parse("units:1000"),
    )
    with pytest.raises(UserError, match=r"no GBP/USD rate: load a pair such as GBPUSD or USDGBP alongside"):
        run_backtest(spec)


def test_account_in_the_quote_currency_needs_no_conversion_pair() -> None:
    spec = BacktestSpec(
        strategy=scripted({1: lambda s: s.buy(1000), 2: lambda s: s.close()}),
        pairs=[(EURGBP, bars("EURGBP", EURGBP_ROWS))],
        sizing=Sizing.parse("units:1000"),
    )
    result = run_backtest(spec)
    assert result.settings["account_currency"] == "GBP"
    assert D(result.final_equity_exact) == D(10_000) + D(10)
