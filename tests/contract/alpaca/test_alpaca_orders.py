"""Orders against the Alpaca fake: payloads, refusals with Alpaca's codes, retries, unknown outcomes."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from tests.contract.alpaca.harness import order, run, until
from tests.fakes.alpaca_fake import AlpacaFake

from traderbot.brokers.alpaca import AlpacaBroker
from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerRateLimited,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
)
from traderbot.model.enums import OrderStatus, OrderType, TimeInForce
from traderbot.model.order import Bracket, TakeProfit


def test_bracket_order_is_sent_as_alpaca_bracket_and_its_legs_work() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        entry = order(
            "buy",
            "10",
            OrderType.LIMIT,
            price="189.00",
            bracket=Bracket(stop_loss=Decimal("180.00"), take_profits=(TakeProfit(Decimal("200.00")),)),
        )
        ack = await broker.submit(entry)
        assert fake.order_bodies[-1] == {
            "symbol": "AAPL",
            "side": "buy",
            "type": "limit",
            "time_in_force": "gtc",
            "client_order_id": entry.client_order_id,
            "qty": "10",
            "limit_price": "189.00",
            "order_class": "bracket",
            "take_profit": {"limit_price": "200.00"},
            "stop_loss": {"stop_price": "180.00"},
        }
        assert ack.status is OrderStatus.ACCEPTED and ack.price == Decimal("189.00")
        fake.set_price("AAPL", Decimal("188.50"))  # entry fills, both exits go live
        assert (await broker.order(entry.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]
        assert len(await broker.open_orders()) == 2
        fake.set_price("AAPL", Decimal("200.00"))  # take profit fills; the stop loss is canceled
        assert await broker.open_orders() == []
        assert await broker.positions() == []

    run(scenario)


def test_stop_loss_only_bracket_is_an_oto_order() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        await broker.submit(order("buy", "2", bracket=Bracket(stop_loss=Decimal("150.00"))))
        body = fake.order_bodies[-1]
        assert body["order_class"] == "oto" and body["stop_loss"] == {"stop_price": "150.00"}
        assert "take_profit" not in body

    run(scenario)


def test_bracket_alpaca_cannot_express_is_refused_before_sending() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        scaled = Bracket(
            stop_loss=Decimal("180"),
            take_profits=(
                TakeProfit(Decimal("200"), Decimal("0.5")),
                TakeProfit(Decimal("210"), Decimal("0.5")),
            ),
        )
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order(bracket=scaled))
        assert err.value.code == "UNSUPPORTED" and "one take-profit" in str(err.value)
        assert not fake.submissions

    run(scenario)


def test_order_types_and_time_in_force_map_to_alpaca_fields() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        await broker.submit(
            order("sell", "3", OrderType.STOP, trigger="150.00", time_in_force=TimeInForce.DAY)
        )
        await broker.submit(order("buy", "1", OrderType.STOP_LIMIT, price="251.00", trigger="250.00"))
        await broker.submit(order("buy", "1", OrderType.LIMIT, price="100.00", time_in_force=TimeInForce.IOC))
        stop, stop_limit, ioc = fake.order_bodies
        assert (stop["type"], stop["stop_price"], stop["time_in_force"]) == ("stop", "150.00", "day")
        assert (stop_limit["limit_price"], stop_limit["stop_price"]) == ("251.00", "250.00")
        assert ioc["time_in_force"] == "ioc"
        ioc_order = await broker.order(ioc["client_order_id"])
        assert ioc_order is not None and ioc_order.status is OrderStatus.CANCELED  # not marketable

    run(scenario)


def test_insufficient_buying_power_403_is_a_rejection_with_alpacas_code() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order("buy", "100000"))
        assert err.value.code == "40310000" and err.value.status == 403
        assert "insufficient buying power" in str(err.value) and not err.value.outcome_unknown

    run(scenario)


def test_sub_penny_price_422_is_a_rejection_with_alpacas_code() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order("buy", "1", OrderType.LIMIT, price="190.123"))
        assert err.value.code == "42210000" and err.value.status == 422 and "sub-penny" in str(err.value)
        assert fake.book.orders == {}

    run(scenario)


def test_400_with_alpaca_error_body_is_a_rejection() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        fake.fail_next("POST", "/v2/orders", 400, code=40010001, message="invalid qty")
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order())
        assert (err.value.code, err.value.status) == ("40010001", 400) and "invalid qty" in str(err.value)

    run(scenario)


def test_429_is_waited_out_and_then_succeeds() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        fake.fail_next("GET", "/v2/account", 429, retry_after=0.3)
        started = time.monotonic()
        account = await broker.account()
        assert account.balance == Decimal("100000") and time.monotonic() - started >= 0.3
        assert len(fake.requests_to("GET", "/v2/account")) == 2
        fake.fail_next("POST", "/v2/orders", 429, retry_after=0.05)  # nothing executed: safe to send again
        buy = order()
        ack = await broker.submit(buy)
        assert ack.client_order_id == buy.client_order_id and fake.submissions[buy.client_order_id] == 2
        assert len(fake.book.orders) == 1

    run(scenario)


def test_429_that_persists_raises_rate_limited() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        fake.fail_next("GET", "/v2/positions", 429, times=5, retry_after=0.01)
        with pytest.raises(BrokerRateLimited) as err:
            await broker.positions()
        assert err.value.retry_after == pytest.approx(0.01) and "rate limit" in str(err.value)
        assert len(fake.requests_to("GET", "/v2/positions")) == 3  # first try + max_retries

    run(scenario, max_retries=2)


def test_timeout_on_submit_is_unknown_outcome_and_the_order_is_found_by_client_id() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        buy = order()
        fake.delay_next("POST", "/v2/orders", 1.5)
        with pytest.raises(BrokerTimeout) as err:
            await broker.submit(buy)
        assert err.value.outcome_unknown
        assert fake.submissions[buy.client_order_id] == 1  # never resent by us (nor by alpaca-py)
        found = await broker.order(buy.client_order_id)
        assert found is not None and found.status is OrderStatus.FILLED and found.filled_qty == 10

    run(scenario, timeout=0.4)


def test_504_on_submit_is_never_retried_and_the_order_is_found_afterwards() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        buy = order()
        fake.fail_next("POST", "/v2/orders", 504, execute=True)  # Alpaca did it, the gateway failed
        with pytest.raises(BrokerUnavailable) as err:
            await broker.submit(buy)
        assert err.value.outcome_unknown and err.value.status == 504
        assert fake.submissions[buy.client_order_id] == 1
        assert await broker.order(buy.client_order_id) is not None

    run(scenario)


def test_5xx_on_get_is_retried_with_backoff() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        fake.fail_next("GET", "/v2/positions", 500, times=2, code=50010000, message="internal server error")
        assert await broker.positions() == []
        assert len(fake.requests_to("GET", "/v2/positions")) == 3

    run(scenario)


def test_resending_an_order_alpaca_already_has_returns_that_order() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        buy = order()
        first = await broker.submit(buy)
        again = await broker.submit(buy)  # Alpaca answers 422 "client_order_id must be unique"
        assert again.venue_order_id == first.venue_order_id and len(fake.book.orders) == 1

    run(scenario)


def test_bad_key_is_401_and_bad_secret_is_403_both_auth_errors() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        with pytest.raises(BrokerAuthError) as err:
            await broker.connect()
        assert err.value.status == 403 and "APCA_API_SECRET_KEY" in str(err.value)
        fake.key_id = "OTHER"
        with pytest.raises(BrokerAuthError) as err:
            await broker.account()
        assert err.value.status == 401 and "40110000" in str(err.value)

    from traderbot.brokers.credentials import Secret

    run(scenario, secret_key=Secret("wrong"))


def test_replace_creates_the_next_order_and_lookups_follow_it() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        rest = order("buy", "4", OrderType.LIMIT, price="150.00")
        first = await broker.submit(rest)
        ack = await broker.replace(rest, price=Decimal("151.00"), quantity=Decimal("6"))
        assert ack.client_order_id == rest.client_order_id and ack.venue_order_id != first.venue_order_id
        assert fake.book.orders[ack.venue_order_id].client_order_id == f"{rest.client_order_id}~r1"
        ack2 = await broker.replace(rest, price=Decimal("152.00"))
        assert fake.book.orders[ack2.venue_order_id].client_order_id == f"{rest.client_order_id}~r2"
        now = await broker.order(rest.client_order_id)
        assert now is not None and (now.price, now.quantity, now.status) == (
            Decimal("152.00"),
            Decimal("6"),
            OrderStatus.ACCEPTED,
        )
        assert [o.client_order_id for o in await broker.open_orders()] == [rest.client_order_id]
        await broker.cancel(rest)  # cancels the live replacement, not the replaced original
        assert (await broker.order(rest.client_order_id)).status is OrderStatus.CANCELED  # type: ignore[union-attr]

    run(scenario)


def test_equity_fraction_is_sent_as_a_notional_day_order() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        buy = order("buy", "0", equity_fraction=Decimal("0.019"))
        await broker.submit(buy)
        body = fake.order_bodies[-1]
        assert body["notional"] == "1900.00" and body["time_in_force"] == "day" and "qty" not in body
        filled = await broker.order(buy.client_order_id)
        assert filled is not None and filled.filled_qty == Decimal("10.000000000")

    run(scenario)


def test_cancel_of_a_filled_order_is_refused_with_alpacas_code() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        buy = order()
        buy.venue_order_id = (await broker.submit(buy)).venue_order_id
        await until(lambda: fake.book.orders[buy.venue_order_id or ""].status == "filled", "the fill")
        with pytest.raises(BrokerRejected) as err:
            await broker.cancel(buy)
        assert err.value.code == "42210000" and "not cancelable" in str(err.value)

    run(scenario)
