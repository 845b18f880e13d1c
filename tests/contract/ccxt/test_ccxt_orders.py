"""Order placement: checks before sending, the exchange's refusals, unknown outcomes, stops, cancel/replace."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.contract.ccxt.harness import order, run
from tests.fakes.binance_fake import BinanceFake

from traderbot.brokers.base import (
    BrokerRateLimited,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
    MalformedMessage,
)
from traderbot.brokers.ccxt import CcxtBroker
from traderbot.model.enums import OrderStatus, OrderType

NEW_ORDER = "POST /api/v3/order"


@pytest.mark.parametrize(
    ("qty", "price", "code"),
    [
        ("0.000015", None, "INVALID_QUANTITY_PRECISION"),  # step 0.00001
        ("0.000001", None, "INVALID_QUANTITY_PRECISION"),  # truncates to zero
        ("0.001", "10000.005", "INVALID_PRICE_PRECISION"),  # tick 0.01
        ("0", None, "INVALID_QUANTITY"),
        ("0.0001", "10.00", "NOTIONAL_BELOW_MINIMUM"),  # 0.001 USDT < 5 USDT
    ],
)
def test_off_grid_orders_are_refused_before_any_request(qty: str, price: str | None, code: str) -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        sent = len(fake.requests)
        kind = OrderType.LIMIT if price else OrderType.MARKET
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order("buy", qty, type=kind, price=price))
        assert err.value.code == code, err.value
        assert len(fake.requests) == sent  # the fake saw nothing

    run(scenario)


def test_quantity_below_the_market_minimum_is_refused_before_any_request() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        fake.symbols["BTCUSDT"].min_qty = Decimal("0.001")
        await broker.connect()  # markets reloaded with minQty 0.001
        sent = len(fake.requests)
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order("buy", "0.0005"))
        assert err.value.code == "QUANTITY_BELOW_MINIMUM" and "0.001" in str(err.value)
        assert len(fake.requests) == sent

    run(scenario, connect=False)


def test_insufficient_funds_is_rejected_with_binance_code_2010() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order("buy", "5"))  # 250 000 USDT, the account holds 100 000
        assert err.value.code == "-2010" and "insufficient balance" in str(err.value)
        assert not err.value.outcome_unknown

    run(scenario)


def test_429_is_rate_limited_with_retry_after_and_not_retried() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        o = order("buy", "0.001")
        fake.fail_next(NEW_ORDER, 429, retry_after=7)
        with pytest.raises(BrokerRateLimited) as err:
            await broker.submit(o)
        assert err.value.retry_after == 7 and err.value.status == 429 and err.value.code == "RATE_LIMITED"
        assert fake.requests.count(("POST", "/api/v3/order")) == 1
        fake.fail_next("GET /api/v3/account", 418, retry_after=120)
        with pytest.raises(BrokerRateLimited) as ban:
            await broker.account()
        assert ban.value.status == 418 and ban.value.retry_after == 120

    run(scenario)


def test_timeout_on_create_is_outcome_unknown_and_the_order_is_then_found_by_client_id() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        o = order("buy", "0.001")
        fake.delay_next(NEW_ORDER, 1.0)  # processed, answer held beyond the 0.3 s timeout
        with pytest.raises(BrokerTimeout) as err:
            await broker.submit(o)
        assert err.value.outcome_unknown
        found = await broker.order(o.client_order_id)
        assert (
            found is not None and found.status is OrderStatus.FILLED and found.filled_qty == Decimal("0.001")
        )
        assert fake.submissions[o.client_order_id] == 1  # never sent again

    run(scenario, timeout_ms=300)


def test_server_error_on_create_is_unavailable_and_never_retried() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        o = order("buy", "0.001")
        fake.fail_next(NEW_ORDER, 503, body="<html>503 Service Unavailable</html>")
        with pytest.raises(BrokerUnavailable) as err:
            await broker.submit(o)
        assert err.value.outcome_unknown
        assert fake.requests.count(("POST", "/api/v3/order")) == 1
        assert await broker.order(o.client_order_id) is None  # the lookup proves it safe to send again

    run(scenario)


def test_stop_orders_use_the_unified_trigger_price_and_trigger_at_the_exchange() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        await broker.submit(order("buy", "0.002"))
        stop = order("sell", "0.002", type=OrderType.STOP, trigger="49000.00")
        ack = await broker.submit(stop)
        assert ack.type is OrderType.STOP and ack.trigger_price == Decimal("49000.00") and ack.is_open
        assert fake.orders[int(ack.venue_order_id)]["type"] == "STOP_LOSS"
        fake.set_quote("BTCUSDT", Decimal("48999.00"), Decimal("48999.50"))
        done = await broker.order(stop.client_order_id)
        assert (
            done is not None and done.status is OrderStatus.FILLED and done.avg_price == Decimal("48999.00")
        )
        limit = order("buy", "0.001", type=OrderType.STOP_LIMIT, price="51000.00", trigger="50500.00")
        ack = await broker.submit(limit)
        assert fake.orders[int(ack.venue_order_id)]["type"] == "STOP_LOSS_LIMIT"
        assert ack.price == Decimal("51000.00") and ack.trigger_price == Decimal("50500.00")

    run(scenario)


@pytest.mark.parametrize("mode", ["auto", "cancel_create"])
def test_replace_keeps_our_client_id_and_lookups_follow_the_replacement(mode: str) -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        o = order("buy", "0.001", type=OrderType.LIMIT, price="10000.00")
        o.venue_order_id = (await broker.submit(o)).venue_order_id
        new = await broker.replace(o, quantity=Decimal("0.002"), price=Decimal("10001.00"))
        assert (new.client_order_id, new.quantity, new.price) == (
            o.client_order_id,
            Decimal("0.002"),
            Decimal("10001.00"),
        )
        edits = fake.requests.count(("POST", "/api/v3/order/cancelReplace"))
        assert edits == (1 if mode == "auto" else 0)
        assert fake.submissions[f"{o.client_order_id}.r1"] == 1
        seen = await broker.order(o.client_order_id)
        assert (
            seen is not None
            and seen.status is OrderStatus.ACCEPTED
            and seen.venue_order_id == new.venue_order_id
        )
        assert [x.client_order_id for x in await broker.open_orders()] == [o.client_order_id]
        await broker.cancel(o)
        seen = await broker.order(o.client_order_id)
        assert seen is not None and seen.status is OrderStatus.CANCELED and seen.quantity == Decimal("0.002")

    run(scenario, replace_mode=mode)


def test_replace_of_a_partly_filled_order_sends_only_the_rest() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        o = order("buy", "0.004", type=OrderType.LIMIT, price="10000.00")
        venue = (await broker.submit(o)).venue_order_id
        fake.execute(fake.orders[int(venue)], Decimal("0.001"), Decimal("10000.00"), True)  # a maker fill
        new = await broker.replace(o, price=Decimal("10002.00"))
        assert new.quantity == Decimal("0.004") and new.filled_qty == Decimal("0.001")
        assert new.status is OrderStatus.PARTIALLY_FILLED and new.avg_price == Decimal("10000.00")
        replacement = fake.find(None, f"{o.client_order_id}.r1")
        assert replacement is not None and replacement["origQty"] == Decimal("0.003")
        with pytest.raises(BrokerRejected) as err:
            await broker.replace(o, quantity=Decimal("0.001"))
        assert err.value.code == "QUANTITY_NOT_ABOVE_FILLED"

    run(scenario, replace_mode="cancel_create")


def test_cancel_of_a_filled_order_is_rejected_and_unknown_instruments_are_named() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        o = order("buy", "0.001")
        o.venue_order_id = (await broker.submit(o)).venue_order_id
        with pytest.raises(BrokerRejected) as err:
            await broker.cancel(o)
        assert err.value.code == "ORDER_NOT_OPEN"
        with pytest.raises(BrokerRejected, match=r"DOGEUSDT.*CcxtConfig\.symbols"):
            await broker.submit(order("buy", "1", instrument="DOGEUSDT"))

    run(scenario)


def test_an_equity_fraction_order_is_sized_at_send_time_down_to_the_lot() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        o = order("buy", "0")
        o.equity_fraction = Decimal("0.001")  # 100 USDT of 100 000 at the ask 50000.10 -> 0.0019999.. BTC
        ack = await broker.submit(o)
        assert ack.quantity == Decimal("0.00199") and ack.status is OrderStatus.FILLED
        assert fake.trades[-1]["qty"] == Decimal("0.00199")

    run(scenario)


def test_unreadable_answers_are_malformed_or_outcome_unknown_never_a_fake_ack() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        fake.fail_next(NEW_ORDER, 200, body="{not json")
        with pytest.raises(BrokerUnavailable, match="outcome is unknown"):
            await broker.submit(order("buy", "0.001"))
        fake.fail_next("GET /api/v3/account", 200, body="<html>maintenance</html>")
        with pytest.raises(MalformedMessage):
            await broker.account()
        fake.fail_next("GET /api/v3/openOrders", 200, body='{"symbol": "BTCUSDT"}')
        with pytest.raises(MalformedMessage):
            await broker.open_orders()

    run(scenario)


def test_cancel_after_a_restart_finds_the_live_replacement_behind_an_old_venue_id() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        o = order("sell", "0.001", type=OrderType.LIMIT, price="90000.00")
        fake.free["BTC"] = Decimal("1")
        o.venue_order_id = (await broker.submit(o)).venue_order_id  # the OMS keeps the first venue id
        await broker.replace(o, price=Decimal("91000.00"))
        restarted = CcxtBroker(broker.config)  # a new process: no memory of the replacement
        await restarted.connect()
        try:
            await restarted.cancel(o)
            seen = await restarted.order(o.client_order_id)
            assert (
                seen is not None and seen.status is OrderStatus.CANCELED and seen.price == Decimal("91000.00")
            )
            assert not [x for x in fake.orders.values() if x["status"] == "NEW"]
        finally:
            await restarted.close()

    run(scenario)
