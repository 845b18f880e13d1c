"""OandaBroker against the v20 fake: the shared broker contract, order mapping, positions and trades."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.contract.broker_contract import check_broker_contract, make_order
from tests.contract.oanda.support import run
from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.base import Broker, BrokerRejected
from traderbot.brokers.oanda import OandaBroker
from traderbot.model.enums import OrderStatus, OrderType, TimeInForce
from traderbot.model.instrument import AssetClass
from traderbot.model.order import Bracket, TakeProfit


def test_oanda_broker_passes_the_shared_broker_contract(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        assert isinstance(broker, Broker)
        await check_broker_contract(
            broker, instrument_id="EURUSD", quantity=Decimal(1000), far_limit_price=Decimal("0.90000")
        )

    run(fake, body)


def test_account_and_instruments_map_oanda_fields_exactly(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        account = await broker.account()
        assert (account.account_id, account.currency) == (fake.account_id, "USD")
        assert account.balance == Decimal("100000.0000") == account.equity
        assert account.margin_available == Decimal("100000.0000")
        by_id = {i.id: i for i in await broker.instruments()}
        eur, xau, spx = by_id["EURUSD"], by_id["XAUUSD"], by_id["SPX500USD"]
        assert (eur.pip_size, eur.tick_size, eur.lot_size, eur.price_precision) == (
            Decimal("0.0001"), Decimal("0.00001"), Decimal(1), 5,
        )  # fmt: skip
        assert eur.margin_rate == Decimal("0.0333") and eur.asset_class is AssetClass.FX
        assert xau.asset_class is AssetClass.METAL and (xau.base, xau.quote) == ("XAU", "USD")
        assert spx.asset_class is AssetClass.INDEX and spx.lot_size == Decimal("0.1") == spx.min_quantity
        assert broker.symbols.oanda("SPX500USD") == "SPX500_USD"

    run(fake, body)


def test_a_short_position_is_a_negative_quantity_with_its_average_price(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        await broker.submit(make_order("USDJPY", "sell", Decimal(300)))
        await broker.submit(make_order("USDJPY", "buy", Decimal(100)))
        (pos,) = await broker.positions()
        assert pos.instrument_id == "USDJPY" and pos.quantity == Decimal(-200)
        assert pos.avg_price == Decimal("150.100")
        (trade,) = await broker.open_trades()
        assert trade.quantity == Decimal(-200) and trade.price == Decimal("150.100")

    run(fake, body)


def test_market_order_is_fok_and_a_halted_market_cancels_it_with_oandas_reason(fake: OandaFake) -> None:
    fake.halt("EUR_USD")

    async def body(broker: OandaBroker) -> None:
        order = make_order("EURUSD", "buy", Decimal(10))
        ack = await broker.submit(order)
        assert ack.status is OrderStatus.CANCELED and ack.reason == "MARKET_HALTED" and ack.filled_qty == 0
        assert ack.time_in_force is TimeInForce.FOK
        seen = await broker.order(order.client_order_id)
        assert seen is not None and seen.status is OrderStatus.CANCELED and seen.reason == "MARKET_HALTED"

    run(fake, body)
    (create,) = [t for t in fake.book.txs if t["type"] == "MARKET_ORDER"]
    assert create["timeInForce"] == "FOK" and create["units"] == "10"


def test_ioc_sell_sends_negative_units_and_ioc(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        order = make_order("EURUSD", "sell", Decimal(25))
        order.time_in_force = TimeInForce.IOC
        ack = await broker.submit(order)
        assert ack.status is OrderStatus.FILLED and ack.avg_price == Decimal("1.08500")

    run(fake, body)
    (create,) = [t for t in fake.book.txs if t["type"] == "MARKET_ORDER"]
    assert (create["units"], create["timeInForce"]) == ("-25", "IOC")


def test_bracket_order_sends_stop_loss_and_take_profit_on_fill(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        order = make_order("EURUSD", "buy", Decimal(100))
        order.bracket = Bracket(stop_loss=Decimal("1.08"), take_profits=(TakeProfit(Decimal("1.0900042")),))
        await broker.submit(order)
        exits = {o.type: o for o in await broker.open_orders()}  # OANDA's TAKE_PROFIT and STOP_LOSS orders
        tp, sl = exits[OrderType.LIMIT], exits[OrderType.STOP]
        assert (tp.instrument_id, tp.side.value, tp.quantity, tp.price) == (
            "EURUSD",
            "sell",
            100,
            Decimal("1.09000"),
        )
        assert (sl.instrument_id, sl.side.value, sl.quantity, sl.trigger_price) == (
            "EURUSD",
            "sell",
            100,
            Decimal("1.08"),
        )
        assert tp.client_order_id == sl.client_order_id == ""  # not ours: created by OANDA on fill
        fake.set_price("EURUSD", "1.07990", "1.08004")  # the stop loss triggers and closes the trade
        assert (
            await broker.positions() == [] and await broker.open_orders() == []
        )  # the take profit is canceled

    run(fake, body)
    (create,) = [t for t in fake.book.txs if t["type"] == "MARKET_ORDER"]
    assert create["stopLossOnFill"] == {"price": "1.08000", "timeInForce": "GTC"}
    assert create["takeProfitOnFill"] == {"price": "1.09000", "timeInForce": "GTC"}  # displayPrecision 5
    assert create["clientExtensions"]["id"] == create["tradeClientExtensions"]["id"]
    assert [t["reason"] for t in fake.book.txs if t["type"] == "ORDER_FILL"] == [
        "MARKET_ORDER",
        "STOP_LOSS_ORDER",
    ]


def test_limit_and_stop_limit_orders_carry_price_trigger_and_bound(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        limit = make_order("EURUSD", "buy", Decimal(5), type=OrderType.LIMIT, price=Decimal("1.05"))
        limit.time_in_force = TimeInForce.DAY
        stop = make_order("EURUSD", "sell", Decimal(5), type=OrderType.STOP_LIMIT, price=Decimal("1.0700"),
                          trigger_price=Decimal("1.0710"))  # fmt: skip
        for o in (limit, stop):
            ack = await broker.submit(o)
            assert ack.status is OrderStatus.ACCEPTED
        seen = {o.client_order_id: o for o in await broker.open_orders()}
        assert seen[limit.client_order_id].price == Decimal("1.05000")
        assert seen[limit.client_order_id].time_in_force is TimeInForce.DAY
        assert seen[stop.client_order_id].type is OrderType.STOP_LIMIT
        assert (seen[stop.client_order_id].trigger_price, seen[stop.client_order_id].price) == (
            Decimal("1.07100"), Decimal("1.07000"),
        )  # fmt: skip

    run(fake, body)
    kinds = {t["type"]: t for t in fake.book.txs if t["type"] in ("LIMIT_ORDER", "STOP_ORDER")}
    assert kinds["LIMIT_ORDER"]["timeInForce"] == "GFD" and kinds["STOP_ORDER"]["priceBound"] == "1.07000"


def test_replace_keeps_our_client_id_under_a_new_venue_id(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        order = make_order("EURUSD", "buy", Decimal(10), type=OrderType.LIMIT, price=Decimal("1.0"))
        first = await broker.submit(order)
        order.venue_order_id = first.venue_order_id
        new = await broker.replace(order, price=Decimal("1.01"), quantity=Decimal(20))
        assert new.client_order_id == order.client_order_id and new.venue_order_id != first.venue_order_id
        assert (new.price, new.quantity, new.status) == (
            Decimal("1.01000"),
            Decimal(20),
            OrderStatus.ACCEPTED,
        )
        looked_up = await broker.order(order.client_order_id)
        assert looked_up is not None and looked_up.venue_order_id == new.venue_order_id
        assert [o.venue_order_id for o in await broker.open_orders()] == [new.venue_order_id]

    run(fake, body)


def test_cancel_of_an_order_oanda_does_not_know_is_rejected_with_its_code(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerRejected) as err:
            await broker.cancel(make_order("EURUSD", "buy", Decimal(1), prefix="never-sent"))
        assert err.value.code == "ORDER_DOESNT_EXIST" and err.value.status == 404

    run(fake, body)


def test_partial_fill_then_the_rest_is_reported_by_order_lookup(fake: OandaFake) -> None:
    fake.set_partial_fill("0.4")

    async def body(broker: OandaBroker) -> None:
        order = make_order("EURUSD", "buy", Decimal(100))
        ack = await broker.submit(order)
        assert ack.status is OrderStatus.PARTIALLY_FILLED and ack.filled_qty == Decimal(40)
        seen = await broker.order(order.client_order_id)
        assert seen is not None and seen.status is OrderStatus.PARTIALLY_FILLED and seen.filled_qty == 40
        fake.set_price("EURUSD", "1.08600", "1.08620")
        assert fake.fill_remaining(order.client_order_id) is not None
        seen = await broker.order(order.client_order_id)
        assert seen is not None and seen.status is OrderStatus.FILLED and seen.filled_qty == 100
        assert seen.avg_price == (Decimal(40) * Decimal("1.08514") + Decimal(60) * Decimal("1.08620")) / 100

    run(fake, body)


def test_close_trade_and_close_position_flatten_the_account(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        await broker.submit(make_order("EURUSD", "buy", Decimal(100)))
        await broker.submit(make_order("GBPUSD", "sell", Decimal(50)))
        eur = next(t for t in await broker.open_trades() if t.instrument_id == "EURUSD")
        closed = await broker.close_trade(eur.trade_id)
        assert (
            closed.status is OrderStatus.FILLED and closed.side.value == "sell" and closed.filled_qty == 100
        )
        (gbp,) = await broker.close_position("GBPUSD")
        assert gbp.status is OrderStatus.FILLED and gbp.side.value == "buy" and gbp.filled_qty == 50
        assert await broker.positions() == [] and await broker.close_position("GBPUSD") == []

    run(fake, body)


def test_symbol_map_override_names_our_instrument_for_oanda(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        ids = {i.id for i in await broker.instruments()}
        assert "USA500IDXUSD" in ids and "SPX500USD" not in ids
        ack = await broker.submit(make_order("USA500IDXUSD", "buy", Decimal("0.5")))
        assert ack.instrument_id == "USA500IDXUSD" and ack.status is OrderStatus.FILLED
        (pos,) = await broker.positions()
        assert (pos.instrument_id, pos.quantity, pos.avg_price) == (
            "USA500IDXUSD",
            Decimal("0.5"),
            Decimal("5000.50"),
        )

    run(fake, body, symbol_map={"USA500IDXUSD": "SPX500_USD"})
    assert [t["instrument"] for t in fake.book.txs if t["type"] == "MARKET_ORDER"] == ["SPX500_USD"]
