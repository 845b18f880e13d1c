"""Errors and the retry policy: rejects with OANDA's code, 429, 5xx, timeouts, auth, local precision checks."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from tests.contract.broker_contract import make_order
from tests.contract.oanda.support import run
from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerRateLimited,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
    MalformedMessage,
)
from traderbot.brokers.credentials import Secret
from traderbot.brokers.oanda import OandaBroker
from traderbot.model.enums import OrderStatus


def test_a_400_reject_maps_to_broker_rejected_with_oandas_error_code(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        order = make_order("EURUSD", "buy", Decimal(10))
        await broker.submit(order)
        with pytest.raises(BrokerRejected, match="CLIENT_ORDER_ID_ALREADY_EXISTS") as err:
            await broker.submit(order)  # the same client id again: OANDA refuses it
        assert err.value.code == "CLIENT_ORDER_ID_ALREADY_EXISTS" and err.value.status == 400
        fake.fail_next(
            "orders.create", 400, error_code="INSUFFICIENT_MARGIN", error_message="Not enough margin"
        )
        with pytest.raises(BrokerRejected, match="Not enough margin") as err:
            await broker.submit(make_order("EURUSD", "buy", Decimal(10)))
        assert err.value.code == "INSUFFICIENT_MARGIN" and not err.value.outcome_unknown

    run(fake, body)


def test_a_real_margin_shortfall_is_a_canceled_order_with_the_reason(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        ack = await broker.submit(make_order("XAUUSD", "buy", Decimal(10_000)))  # 20m USD at 5 % margin
        assert ack.status is OrderStatus.CANCELED and ack.reason == "INSUFFICIENT_MARGIN"

    run(fake, body)


def test_quantity_off_the_units_precision_is_refused_before_any_request(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        for qty in (Decimal("10.5"), Decimal("0.05")):
            instrument = "EURUSD" if qty == Decimal("10.5") else "SPX500USD"  # precision 0 and 1
            with pytest.raises(BrokerRejected, match="tradeUnitsPrecision") as err:
                await broker.submit(make_order(instrument, "buy", qty))
            assert err.value.code == "INVALID_QUANTITY_PRECISION"
        assert (
            await broker.submit(make_order("SPX500USD", "buy", Decimal("0.3")))
        ).status is OrderStatus.FILLED

    run(fake, body)
    assert fake.route_count("orders.create") == 1  # only the valid SPX500 order went out


def test_an_instrument_oanda_does_not_offer_is_refused_with_a_clear_code(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerRejected, match="cannot trade AAPL") as err:
            await broker.submit(make_order("AAPL", "buy", Decimal(1)))
        assert err.value.code == "UNKNOWN_INSTRUMENT"

    run(fake, body)
    assert fake.route_count("orders.create") == 0


def test_429_waits_retry_after_and_retries_because_nothing_was_executed(fake: OandaFake) -> None:
    fake.fail_next("summary", 429, retry_after="1")

    async def body(broker: OandaBroker) -> float:
        start = time.monotonic()
        account = await broker.account()
        assert account.balance == Decimal("100000.0000")
        return time.monotonic() - start

    assert run(fake, body, connect=False) >= 0.95
    assert fake.route_count("summary") == 2


def test_429_on_an_order_post_is_retried_and_executes_exactly_once(fake: OandaFake) -> None:
    fake.fail_next("orders.create", 429, count=2)  # no Retry-After: the configured backoff
    order = make_order("EURUSD", "buy", Decimal(7))

    ack = run(fake, lambda b: b.submit(order))

    assert ack.status is OrderStatus.FILLED
    assert fake.submission_count(order.client_order_id) == 3
    assert len([t for t in fake.book.txs if t["type"] == "ORDER_FILL"]) == 1


def test_429_that_persists_or_asks_too_long_raises_rate_limited(fake: OandaFake) -> None:
    fake.fail_next("positions.open", 429, retry_after="120")

    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerRateLimited) as err:
            await broker.positions()
        assert err.value.retry_after == 120

    run(fake, body, connect=False)


def test_500_on_a_get_is_retried_with_backoff(fake: OandaFake) -> None:
    fake.fail_next("orders.pending", 500, count=2)

    assert run(fake, lambda b: b.open_orders(), connect=False) == []
    assert fake.route_count("orders.pending") == 3


def test_gets_give_up_after_the_configured_retries(fake: OandaFake) -> None:
    fake.fail_next("positions.open", 503, count=5)

    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerUnavailable, match="HTTP 503"):
            await broker.positions()

    run(fake, body, connect=False, get_retries=2)
    assert fake.route_count("positions.open") == 3


def test_500_on_an_order_post_is_outcome_unknown_and_never_resent(fake: OandaFake) -> None:
    fake.fail_next("orders.create", 500)
    order = make_order("EURUSD", "buy", Decimal(5))

    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerUnavailable) as err:
            await broker.submit(order)
        assert err.value.outcome_unknown
        assert await broker.order(order.client_order_id) is None  # the fake failed it before executing

    run(fake, body)
    assert fake.submission_count(order.client_order_id) == 1


def test_timeout_on_an_order_post_raises_timeout_and_the_order_is_then_found(fake: OandaFake) -> None:
    fake.delay_next("orders.create", 1.5)  # executed at once, answered after the client's 0.5 s timeout
    order = make_order("EURUSD", "buy", Decimal(12))

    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerTimeout, match="outcome is unknown") as err:
            await broker.submit(order)
        assert err.value.outcome_unknown
        found = await broker.order(order.client_order_id)
        assert found is not None and found.status is OrderStatus.FILLED
        assert (found.filled_qty, found.avg_price) == (Decimal(12), Decimal("1.08514"))

    run(fake, body, timeout=0.5)
    assert fake.submission_count(order.client_order_id) == 1


def test_a_wrong_token_or_account_is_an_auth_error_naming_what_to_fix(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerAuthError, match="OANDA_API_TOKEN"):
            await broker.connect()

    run(fake, body, connect=False, token=Secret("not-the-token"))

    async def other(broker: OandaBroker) -> None:
        with pytest.raises(BrokerAuthError, match="OANDA_ACCOUNT_ID=101-004-7654321-001"):
            await broker.connect()

    run(fake, other, connect=False, account_id="101-004-7654321-001")


def test_malformed_json_answer_is_a_malformed_message_error(fake: OandaFake) -> None:
    fake.fail_next("summary", 200, error_message="ok")  # a 200 without the documented account object

    async def body(broker: OandaBroker) -> None:
        with pytest.raises(MalformedMessage):
            await broker.account()

    run(fake, body, connect=False)
