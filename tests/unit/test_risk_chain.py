"""The pre-trade risk chain in the kernel: each denial reason with its context, trading states, reduce-only
rules, the OrderDenied event on the bus, and that the chain stops at the first failing check."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from itertools import count
from typing import Any, ClassVar

import pandas as pd
import pytest

from traderbot.backtest.runner import BacktestSpec, run_backtest
from traderbot.core.messages import OrderAccepted, OrderDenied, OrderFilled, OrderSubmitted
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import AssetClass, Instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.engine import RiskLimits, TradingState
from traderbot.strategies.base import Strategy

EURUSD = get_instrument("EURUSD")
USDJPY = get_instrument("USDJPY")
_ids = count(1)


def bars(instrument_id: str, price: float, n: int = 5) -> BarSeries:
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC"),
            "open": [price] * n,
            "high": [price] * n,
            "low": [price] * n,
            "close": [price] * n,
        }
    )
    return BarSeries.from_frame(df, instrument_id, "1h")


@dataclass
class Desk:
    kernel: Kernel
    events: list[Any]

    def send(self, order: Order) -> str | None:
        return self.kernel.send(order)

    def denials(self) -> list[OrderDenied]:
        return [e for e in self.events if isinstance(e, OrderDenied)]

    def submitted(self) -> list[str]:
        return [e.client_order_id for e in self.events if isinstance(e, OrderSubmitted)]

    def hold(self, signed_qty: D, instrument_id: str = "EURUSD", price: D = D("1.2")) -> None:
        """Book a fill straight into the portfolio (as the execution engine does) to hold a position."""
        side = "buy" if signed_qty > 0 else "sell"
        fill = OrderFilled(
            f"F-{next(_ids)}",
            instrument_id,
            "other",
            0,
            trade_id=f"T-{next(_ids)}",
            side=side,
            quantity=abs(signed_qty),
            price=price,
            commission_currency="USD",
        )
        self.kernel.portfolio.on_fill(fill, 0)


def desk(limits: RiskLimits | None = None, inst: Instrument = EURUSD, price: float = 1.2) -> Desk:
    """A kernel with three closed bars of `inst` at `price` (so the risk engine can see a last price)."""
    kernel = Kernel(account_currency="USD", starting_cash=D(10_000), risk_limits=limits)
    idx = kernel.add_data(inst, bars(inst.id, price))
    kernel.cache.visible[idx] = 3
    kernel.cache.now_ns = 123
    events: list[Any] = []
    kernel.bus.subscribe("orders", events.append)
    return Desk(kernel, events)


def order(
    side: str = "buy",
    qty: D = D(1000),
    *,
    otype: OrderType = OrderType.MARKET,
    price: D | None = None,
    trigger: D | None = None,
    reduce_only: bool = False,
    instrument_id: str = "EURUSD",
    oid: str | None = None,
) -> Order:
    return Order(
        oid or f"O-TB-risk-{next(_ids):06d}",
        instrument_id,
        "risk",
        OrderSide(side),
        otype,
        qty,
        0,
        price=price,
        trigger_price=trigger,
        reduce_only=reduce_only,
    )


def assert_denied(d: Desk, o: Order, code: str) -> str:
    """The order was denied with `code`: one OrderDenied on the bus, DENIED status, nothing sent to the venue."""
    assert d.send(o) is None
    (denied,) = [e for e in d.denials() if e.client_order_id == o.client_order_id]
    assert denied.reason.split(":")[0] == code
    assert (denied.instrument_id, denied.strategy_id, denied.ts) == (o.instrument_id, "risk", 123)
    assert o.status is OrderStatus.DENIED and o.reason == denied.reason
    assert o.client_order_id not in d.submitted()
    assert o not in d.kernel.venue.working.get(o.instrument_id, [])
    return denied.reason


def assert_passed(d: Desk, o: Order) -> None:
    assert d.send(o) == o.client_order_id
    assert o.client_order_id in d.submitted()
    assert not [e for e in d.denials() if e.client_order_id == o.client_order_id]


# ---- quantity and price ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "qty",
    [D("NaN"), D("Infinity"), D("-Infinity"), D(0), D(-1000)],
    ids=["nan", "inf", "minus_inf", "zero", "negative"],
)
def test_invalid_quantity_is_denied_with_invalid_quantity(qty: D) -> None:
    d = desk()
    reason = assert_denied(d, order(qty=qty), "INVALID_QUANTITY")
    assert reason == f"INVALID_QUANTITY: quantity={qty}"


def test_quantity_that_is_not_a_whole_number_of_lots_is_denied_with_quantity_precision() -> None:
    d = desk()
    reason = assert_denied(d, order(qty=D("1000.5")), "QUANTITY_PRECISION")
    assert reason == "QUANTITY_PRECISION: lot_size=1, quantity=1000.5"


def test_quantity_below_the_instrument_minimum_is_denied() -> None:
    inst = Instrument(
        "LOTS",
        AssetClass.GENERIC,
        "LOTS",
        "USD",
        D("0.01"),
        D("0.01"),
        lot_size=D("0.1"),
        min_quantity=D(1),
        price_precision=2,
    )
    d = desk(inst=inst, price=10.0)
    reason = assert_denied(d, order(qty=D("0.5"), instrument_id="LOTS"), "BELOW_MIN_QUANTITY")
    assert reason == "BELOW_MIN_QUANTITY: min=1, quantity=0.5"
    assert_passed(d, order(qty=D("1.1"), instrument_id="LOTS"))


def test_limit_price_off_the_tick_is_denied_with_price_precision() -> None:
    d = desk()
    reason = assert_denied(d, order(otype=OrderType.LIMIT, price=D("1.100005")), "PRICE_PRECISION")
    assert reason == "PRICE_PRECISION: tick_size=0.00001, price=1.100005"


def test_stop_trigger_off_the_tick_is_denied_with_price_precision() -> None:
    d = desk()
    reason = assert_denied(d, order(otype=OrderType.STOP, trigger=D("1.2500001")), "PRICE_PRECISION")
    assert reason == "PRICE_PRECISION: tick_size=0.00001, trigger_price=1.2500001"


@pytest.mark.parametrize("price", [D(0), D("-1.1"), D("NaN")], ids=["zero", "negative", "nan"])
def test_non_positive_or_nan_limit_price_is_denied_with_invalid_price(price: D) -> None:
    d = desk()
    assert_denied(d, order(otype=OrderType.LIMIT, price=price), "INVALID_PRICE")


def test_order_on_a_tick_with_whole_lots_passes_and_reaches_the_venue() -> None:
    d = desk()
    o = order(otype=OrderType.LIMIT, price=D("1.19995"))
    assert_passed(d, o)
    assert o in d.kernel.venue.working["EURUSD"]
    assert any(isinstance(e, OrderAccepted) and e.client_order_id == o.client_order_id for e in d.events)


def test_order_on_an_instrument_that_is_not_loaded_is_denied() -> None:
    d = desk()
    reason = assert_denied(d, order(instrument_id="GBPUSD"), "UNKNOWN_INSTRUMENT")
    assert reason == "UNKNOWN_INSTRUMENT: instrument=GBPUSD"


# ---- limits ------------------------------------------------------------------------------------------------
def test_market_order_notional_above_the_maximum_is_denied_with_its_context() -> None:
    d = desk(RiskLimits(max_order_notional=D(100_000)))
    # 100000 units at the last close 1.2 = 120000 USD
    reason = assert_denied(d, order(qty=D(100_000)), "NOTIONAL_EXCEEDS_MAX")
    assert reason == "NOTIONAL_EXCEEDS_MAX: max=100000 USD, order=120000.00 USD"


def test_notional_at_or_just_below_the_maximum_passes() -> None:
    d = desk(RiskLimits(max_order_notional=D(120_000)))
    assert_passed(d, order(qty=D(100_000)))  # exactly 120000
    assert_denied(d, order(qty=D(100_001)), "NOTIONAL_EXCEEDS_MAX")  # 120001.2


def test_limit_order_notional_uses_the_limit_price() -> None:
    d = desk(RiskLimits(max_order_notional=D(100_000)))
    # 100000 units at a 0.9 limit = 90000 USD although the last close is 1.2
    assert_passed(d, order(qty=D(100_000), otype=OrderType.LIMIT, price=D("0.9")))
    reason = assert_denied(
        d, order(qty=D(90_000), otype=OrderType.LIMIT, price=D("1.2")), "NOTIONAL_EXCEEDS_MAX"
    )
    assert reason.endswith("order=108000.00 USD")


def test_notional_in_a_foreign_quote_currency_is_converted_to_the_account_currency() -> None:
    d = desk(RiskLimits(max_order_notional=D(999)), inst=USDJPY, price=125.0)
    # 1000 USDJPY at 125 = 125000 JPY = 1000 USD
    reason = assert_denied(d, order(qty=D(1000), instrument_id="USDJPY"), "NOTIONAL_EXCEEDS_MAX")
    assert reason == "NOTIONAL_EXCEEDS_MAX: max=999 USD, order=1000.00 USD"


def test_quantity_above_the_maximum_per_order_is_denied() -> None:
    d = desk(RiskLimits(max_order_quantity=D(5000)))
    assert_passed(d, order(qty=D(5000)))
    reason = assert_denied(d, order(qty=D(5001)), "QUANTITY_EXCEEDS_MAX")
    assert reason == "QUANTITY_EXCEEDS_MAX: max=5000, order=5001"


# ---- trading states and reduce-only ------------------------------------------------------------------------
def test_halted_state_denies_new_orders_including_reducing_ones() -> None:
    d = desk()
    d.hold(D(1000))
    d.kernel.risk.state = TradingState.HALTED
    assert assert_denied(d, order("buy"), "TRADING_HALTED") == "TRADING_HALTED: state=halted, scope=system"
    assert_denied(d, order("sell", reduce_only=True), "TRADING_HALTED")
    d.kernel.risk.state = TradingState.ACTIVE
    assert_passed(d, order("buy"))


def test_reducing_state_lets_only_reducing_orders_through() -> None:
    d = desk()
    d.hold(D(1000))
    d.kernel.risk.state = TradingState.REDUCING
    reason = assert_denied(d, order("buy", D(100)), "REDUCE_ONLY_STATE")
    assert reason == "REDUCE_ONLY_STATE: state=reducing, scope=system"
    assert_passed(d, order("sell", D(400)))
    assert_passed(d, order("sell", D(600), reduce_only=True))


def test_reducing_state_denies_everything_when_flat() -> None:
    d = desk()
    d.kernel.risk.state = TradingState.REDUCING
    assert_denied(d, order("buy"), "REDUCE_ONLY_STATE")
    assert_denied(d, order("sell"), "REDUCE_ONLY_STATE")


def test_reducing_state_lets_a_buy_cover_a_short() -> None:
    d = desk()
    d.hold(D(-1000))
    d.kernel.risk.state = TradingState.REDUCING
    assert_passed(d, order("buy", D(1000)))
    assert_denied(d, order("sell", D(1)), "REDUCE_ONLY_STATE")


def test_reducing_state_denies_an_order_that_would_reverse_the_position() -> None:
    d = desk()
    d.hold(D(1000))
    d.kernel.risk.state = TradingState.REDUCING
    assert_denied(d, order("sell", D(3000)), "REDUCE_ONLY_STATE")


def test_reduce_only_order_that_would_open_or_increase_a_position_is_denied() -> None:
    d = desk()
    reason = assert_denied(d, order("sell", D(1000), reduce_only=True), "REDUCE_ONLY_VIOLATION")
    assert reason == "REDUCE_ONLY_VIOLATION: position=0, order=sell 1000"
    d.hold(D(1000))
    assert_denied(d, order("buy", D(10), reduce_only=True), "REDUCE_ONLY_VIOLATION")
    reason = assert_denied(d, order("sell", D(1500), reduce_only=True), "REDUCE_ONLY_VIOLATION")
    assert reason == "REDUCE_ONLY_VIOLATION: position=1000, order=sell 1500"
    assert_passed(d, order("sell", D(1000), reduce_only=True))


# ---- the chain ---------------------------------------------------------------------------------------------
def test_chain_stops_at_the_first_failure_state_before_quantity_before_price() -> None:
    d = desk(RiskLimits(max_order_notional=D(1)))
    d.kernel.risk.state = TradingState.HALTED
    bad_everything = order(qty=D("NaN"), otype=OrderType.LIMIT, price=D("1.100005"))
    assert_denied(d, bad_everything, "TRADING_HALTED")
    d.kernel.risk.state = TradingState.ACTIVE
    assert_denied(d, order(qty=D("NaN"), otype=OrderType.LIMIT, price=D("1.100005")), "INVALID_QUANTITY")
    assert_denied(d, order(otype=OrderType.LIMIT, price=D("1.100005")), "PRICE_PRECISION")
    assert_denied(d, order(otype=OrderType.LIMIT, price=D("1.1")), "NOTIONAL_EXCEEDS_MAX")
    assert len(d.denials()) == 4
    assert d.kernel.risk.denied == 4


def test_a_denial_before_the_duplicate_id_check_does_not_burn_the_client_order_id() -> None:
    d = desk()
    d.kernel.risk.state = TradingState.HALTED
    assert d.send(order(oid="O-TB-risk-reuse")) is None
    d.kernel.risk.state = TradingState.ACTIVE
    assert d.send(order(oid="O-TB-risk-reuse")) == "O-TB-risk-reuse"
    assert d.send(order(oid="O-TB-risk-reuse")) is None
    assert d.submitted() == ["O-TB-risk-reuse"]
    assert [e.reason for e in d.denials()] == [
        "TRADING_HALTED: state=halted, scope=system",
        "DUPLICATE_CLIENT_ORDER_ID: client_order_id=O-TB-risk-reuse",
    ]


def test_denied_duplicate_id_does_not_replace_the_working_order_with_that_id() -> None:
    d = desk()
    live = order(oid="O-TB-risk-dup")
    assert d.send(live) == "O-TB-risk-dup"
    duplicate = order(oid="O-TB-risk-dup")
    assert d.send(duplicate) is None
    assert d.kernel.cache.orders["O-TB-risk-dup"] is live
    d.kernel.venue.on_bar(0, 3)  # the next bar: the live market order fills at its open
    assert live.status is OrderStatus.FILLED
    assert d.kernel.portfolio.net_quantity("EURUSD") == D(1000)


# ---- through the Strategy API ------------------------------------------------------------------------------
class BuysOnce(Strategy):
    name = "buys_once"
    quantity: ClassVar[Any] = None
    options: ClassVar[dict[str, Any]] = {}

    def on_bar(self, bar: Bar) -> None:
        if len(self.data) == 2:
            self.buy(self.quantity, **self.options)


def buys_once(quantity: Any, **options: Any) -> type[BuysOnce]:
    return type("Buys", (BuysOnce,), {"quantity": quantity, "options": options})


@pytest.mark.parametrize(
    ("quantity", "code"),
    [
        (float("nan"), "INVALID_QUANTITY"),
        (float("inf"), "INVALID_QUANTITY"),
        (0, "INVALID_QUANTITY"),
        (-5, "INVALID_QUANTITY"),
        ("lots", "INVALID_QUANTITY"),
        (2.5, "QUANTITY_PRECISION"),
    ],
    ids=["nan", "inf", "zero", "negative", "text", "fractional"],
)
def test_strategy_order_with_a_bad_quantity_is_denied_on_the_bus(quantity: Any, code: str) -> None:
    kernel = Kernel(account_currency="USD", starting_cash=D(10_000))
    kernel.finite_replay = True
    kernel.add_data(EURUSD, bars("EURUSD", 1.2))
    kernel.add_strategy(buys_once(quantity)(), "EURUSD")
    events: list[Any] = []
    kernel.bus.subscribe("orders", events.append)
    kernel.run()
    assert [type(e) for e in events] == [OrderDenied]
    assert events[0].reason.split(":")[0] == code
    assert kernel.portfolio.net_quantity("EURUSD") == 0


def test_backtest_counts_denied_orders_and_trades_nothing() -> None:
    result = run_backtest(
        BacktestSpec(
            strategy=buys_once(100_000),
            pairs=[(EURUSD, bars("EURUSD", 1.2))],
            risk=RiskLimits(max_order_notional=D(50_000)),
        )
    )
    assert result.denied == 1
    assert result.orders == 1
    assert result.trades.empty
    assert D(result.final_equity_exact) == D(10_000)


def test_strategy_limit_price_off_the_tick_is_denied() -> None:
    result = run_backtest(
        BacktestSpec(strategy=buys_once(1000, limit=D("1.199995")), pairs=[(EURUSD, bars("EURUSD", 1.2))])
    )
    assert (result.denied, result.rejected) == (1, 0)


def test_reconciling_denies_new_orders_but_not_protective_exits() -> None:
    from decimal import Decimal as _D

    from traderbot.core.messages import OrderFilled
    from traderbot.kernel.kernel import Kernel
    from traderbot.model.enums import OrderSide, OrderType
    from traderbot.model.instrument import get_instrument
    from traderbot.model.order import Order

    k = Kernel()
    k.cache.instruments["EURUSD"] = get_instrument("EURUSD")
    k.portfolio.track_marks = False
    k.portfolio.on_fill(
        OrderFilled("E", "EURUSD", "S", 1, trade_id="T1", side="buy", quantity=_D(1000), price=_D("1.1")), 0
    )
    k.risk.reconciling = "reconciling with oanda (start)"
    entry = Order("O-1", "EURUSD", "S", OrderSide.BUY, OrderType.MARKET, _D(1000), 0)
    assert k.risk.check(entry) == "RECONCILING: reconciling with oanda (start)"
    stop = Order("O-2", "EURUSD", "S", OrderSide.SELL, OrderType.STOP, _D(1000), 0, trigger_price=_D("1.09"))
    stop.parent_id, stop.reduce_only = "E", True
    assert k.risk.check(stop) is None
