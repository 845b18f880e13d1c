"""An in-memory broker account speaking our `Broker` protocol, for tests of the OMS and reconciliation logic.

It is a test double for the *broker* (the thing on the other side of the wire), not for any traderbot code:
the wire-protocol fakes (OANDA, Alpaca, Binance, NinjaTrader folders) test the adapters themselves. Market
orders fill at `price`; limit orders rest. Faults: `timeout_next` (executes, then raises BrokerTimeout),
`lose_next` (raises BrokerTimeout without executing), `reject_next`, `fail_queries`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from decimal import Decimal

from traderbot.brokers.base import (
    BrokerAccount,
    BrokerEvent,
    BrokerFill,
    BrokerOrder,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
    PriceTick,
)
from traderbot.core.messages import OrderAccepted, OrderCanceled, OrderFilled
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order


class MemoryBroker:
    name = "memory"

    def __init__(self, price: Decimal = Decimal("1.10000")) -> None:
        self.price = price
        self.orders: dict[str, BrokerOrder] = {}
        self.fill_log: list[BrokerFill] = []
        self.position: dict[str, Decimal] = {}
        self.avg: dict[str, Decimal] = {}
        self.submissions: dict[str, int] = {}
        self.timeout_next = 0
        self.lose_next = 0
        self.reject_next = 0
        self.fail_queries = 0
        self.partial: Decimal | None = None  # fill only this much of the next market order
        self.quiet = False  # True: the transaction stream says nothing (only lookups tell)
        self.events: asyncio.Queue[BrokerEvent] = asyncio.Queue()
        self._ids = itertools.count(1)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def account(self) -> BrokerAccount:
        return BrokerAccount("MEM-1", "USD", Decimal(100_000), Decimal(100_000))

    async def instruments(self) -> list[Instrument]:
        return []

    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        return []

    async def prices(self, instrument_ids: Sequence[str]) -> AsyncIterator[PriceTick]:  # pragma: no cover
        if False:
            yield PriceTick("", 0, Decimal(0), Decimal(0))

    # ---- orders ----------------------------------------------------------------------------------------------
    async def submit(self, order: Order) -> BrokerOrder:
        if self.lose_next:
            self.lose_next -= 1
            raise BrokerTimeout("no answer in time (request lost)")
        if self.reject_next:
            self.reject_next -= 1
            raise BrokerRejected("insufficient margin for this order", code="INSUFFICIENT_MARGIN")
        self.submissions[order.client_order_id] = self.submissions.get(order.client_order_id, 0) + 1
        ack = self.place(order)
        if self.timeout_next:
            self.timeout_next -= 1
            raise BrokerTimeout("no answer in time (executed at the broker)")
        return ack

    def place(self, order: Order, *, client_id: str | None = None) -> BrokerOrder:
        vid = f"V{next(self._ids)}"
        coid = order.client_order_id if client_id is None else client_id
        bo = BrokerOrder(coid, vid, order.instrument_id, order.side, order.type, order.quantity,
                         OrderStatus.ACCEPTED, price=order.price, trigger_price=order.trigger_price)  # fmt: skip
        self.orders[coid or vid] = bo
        self._push(OrderAccepted(coid, order.instrument_id, "", time.time_ns(), venue_order_id=vid))
        if order.type is OrderType.MARKET:
            qty = self.partial if self.partial is not None else order.quantity
            self.partial = None
            self.fill(coid or vid, qty)
        return self.orders[coid or vid]

    def fill(self, key: str, qty: Decimal, price: Decimal | None = None) -> None:
        bo = self.orders[key]
        px = self.price if price is None else price
        filled = bo.filled_qty + qty
        avg = ((bo.avg_price or Decimal(0)) * bo.filled_qty + px * qty) / filled
        status = OrderStatus.FILLED if filled == bo.quantity else OrderStatus.PARTIALLY_FILLED
        self.orders[key] = replace(bo, filled_qty=filled, avg_price=avg, status=status)
        tid = f"T{next(self._ids)}"
        f = BrokerFill(
            tid, bo.client_order_id, bo.venue_order_id, bo.instrument_id, bo.side, qty, px, time.time_ns()
        )
        self.fill_log.append(f)
        signed = qty if bo.side is OrderSide.BUY else -qty
        self.position[bo.instrument_id] = self.position.get(bo.instrument_id, Decimal(0)) + signed
        self.avg[bo.instrument_id] = px
        self._push(
            OrderFilled(
                bo.client_order_id,
                bo.instrument_id,
                "",
                f.ts,
                trade_id=tid,
                side=bo.side.value,
                quantity=qty,
                price=px,
                venue_order_id=bo.venue_order_id,
            )
        )

    def _push(self, event: BrokerEvent) -> None:
        if not self.quiet:
            self.events.put_nowait(event)

    async def cancel(self, order: Order) -> None:
        bo = self.orders.get(order.client_order_id)
        if bo is None or not bo.is_open:
            raise BrokerRejected("order is not working", code="ORDER_NOT_CANCELABLE")
        self.orders[order.client_order_id] = replace(bo, status=OrderStatus.CANCELED)
        self._push(OrderCanceled(order.client_order_id, order.instrument_id, "", time.time_ns()))

    async def replace(self, order: Order, **changes: Decimal | None) -> BrokerOrder:  # pragma: no cover
        raise BrokerRejected("replace is not supported here", code="UNSUPPORTED")

    async def order(self, client_order_id: str) -> BrokerOrder | None:
        if self.fail_queries:
            self.fail_queries -= 1
            raise BrokerUnavailable("service unavailable (503)")
        return self.orders.get(client_order_id)

    async def open_orders(self) -> list[BrokerOrder]:
        if self.fail_queries:
            self.fail_queries -= 1
            raise BrokerUnavailable("service unavailable (503)")
        return [o for o in self.orders.values() if o.is_open]

    async def fills(self, since_ns: int = 0) -> list[BrokerFill]:
        return [f for f in self.fill_log if f.ts >= since_ns]

    async def positions(self) -> list:  # type: ignore[type-arg]
        from traderbot.brokers.base import BrokerPosition

        return [BrokerPosition(i, q, self.avg[i]) for i, q in self.position.items() if q]

    async def transactions(self) -> AsyncIterator[BrokerEvent]:
        while True:
            yield await self.events.get()
