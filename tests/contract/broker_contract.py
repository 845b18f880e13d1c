"""The behaviour every `Broker` adapter must show against its vendor's wire-protocol fake.

Each adapter's contract test connects the real adapter to its local fake (HTTP/streams on 127.0.0.1, or real
folders for NinjaTrader) and calls `check_broker_contract`. The fake must fill market orders at once and
leave a far-away limit order working.
"""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from traderbot.brokers.base import Broker, BrokerAccount, BrokerOrder
from traderbot.core.messages import OrderFilled
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.order import Order

_seq = itertools.count(1)


def make_order(
    instrument_id: str,
    side: str,
    qty: Decimal,
    *,
    type: OrderType = OrderType.MARKET,
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
    prefix: str = "O-T1-S1",
) -> Order:
    return Order(
        client_order_id=f"{prefix}-{next(_seq)}",
        instrument_id=instrument_id,
        strategy_id="S1",
        side=OrderSide(side),
        type=type,
        quantity=qty,
        ts_init=0,
        price=price,
        trigger_price=trigger_price,
    )


async def check_broker_contract(
    broker: Broker,
    *,
    instrument_id: str,
    quantity: Decimal,
    far_limit_price: Decimal,
    stream_timeout: float = 10.0,
) -> None:
    """Raise AssertionError at the first behaviour that breaks the protocol's promises."""
    assert isinstance(broker, Broker)
    account = await broker.account()
    assert isinstance(account, BrokerAccount) and isinstance(account.balance, Decimal)

    buy = make_order(instrument_id, "buy", quantity)
    ack = await broker.submit(buy)
    assert isinstance(ack, BrokerOrder) and ack.client_order_id == buy.client_order_id, ack
    assert ack.instrument_id == instrument_id and ack.quantity == quantity, ack

    seen = await _eventually(broker, buy.client_order_id, OrderStatus.FILLED)
    assert seen.filled_qty == quantity and seen.avg_price is not None and seen.avg_price > 0, seen
    assert await broker.order(f"{buy.client_order_id}-never-sent") is None

    positions = {p.instrument_id: p for p in await broker.positions()}
    assert instrument_id in positions and positions[instrument_id].quantity == quantity, positions

    fills = [f for f in await broker.fills() if f.client_order_id == buy.client_order_id]
    assert sum(f.quantity for f in fills) == quantity, fills

    rest = make_order(instrument_id, "buy", quantity, type=OrderType.LIMIT, price=far_limit_price)
    ack = await broker.submit(rest)
    assert ack.status in (OrderStatus.ACCEPTED, OrderStatus.SUBMITTED), ack
    assert rest.client_order_id in {o.client_order_id for o in await broker.open_orders()}
    rest.venue_order_id = ack.venue_order_id
    await broker.cancel(rest)
    await _eventually(broker, rest.client_order_id, OrderStatus.CANCELED)
    assert rest.client_order_id not in {o.client_order_id for o in await broker.open_orders()}

    # the transaction stream reports a fill of an order sent after subscribing
    sell = make_order(instrument_id, "sell", quantity)
    stream = broker.transactions()

    async def first_fill() -> OrderFilled:
        async for ev in stream:
            if isinstance(ev, OrderFilled) and ev.client_order_id == sell.client_order_id:
                return ev
        raise AssertionError("transaction stream ended without the fill")

    waiter = asyncio.create_task(first_fill())
    await asyncio.sleep(0.2)  # let the stream connect
    await broker.submit(sell)
    fill = await asyncio.wait_for(waiter, stream_timeout)
    assert fill.quantity == quantity and fill.side == "sell" and fill.trade_id, fill
    await stream.aclose()  # type: ignore[attr-defined]
    positions = {p.instrument_id: p for p in await broker.positions()}
    assert instrument_id not in positions or positions[instrument_id].quantity == 0, positions


async def _eventually(broker: Broker, client_order_id: str, status: OrderStatus) -> BrokerOrder:
    last = None
    for _ in range(100):
        last = await broker.order(client_order_id)
        if last is not None and last.status is status:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"{client_order_id} never reached {status.value}: {last}")
