"""The polled transaction stream: every fill exactly once, order lifecycle events, recovery after failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

from tests.contract.ccxt.harness import order, run, until
from tests.fakes.binance_fake import BinanceFake

from traderbot.brokers.base import BrokerEvent, StreamInterrupted, StreamReconnected
from traderbot.brokers.ccxt import CcxtBroker
from traderbot.core.messages import OrderAccepted, OrderCanceled, OrderFilled, OrderUpdated
from traderbot.model.enums import OrderType


class Collector:
    """Drains a stream into a list in the background."""

    def __init__(self, stream: AsyncIterator[BrokerEvent]) -> None:
        self.stream, self.events = stream, []  # type: list[BrokerEvent]
        self.task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        async for event in self.stream:
            self.events.append(event)

    def of(self, kind: type) -> list[BrokerEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.stream.aclose()  # type: ignore[attr-defined]


def test_partial_fills_are_reported_once_each() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        seen = Collector(broker.transactions())
        await asyncio.sleep(0.15)
        o = order("buy", "0.004")
        fake.fill_partially_next(Decimal("0.25"))
        ack = await broker.submit(o)
        assert ack.filled_qty == Decimal("0.001") and ack.is_open
        await until(lambda: len(seen.of(OrderFilled)) == 1, "the first partial fill")
        fake.fill_rest(o.client_order_id)
        await until(lambda: len(seen.of(OrderFilled)) == 2, "the rest of the fill")
        await asyncio.sleep(0.3)  # several more polls: nothing is reported twice
        await seen.close()
        fills = seen.of(OrderFilled)
        assert [f.quantity for f in fills] == [Decimal("0.001"), Decimal("0.003")]  # type: ignore[union-attr]
        assert len({f.trade_id for f in fills}) == 2  # type: ignore[union-attr]
        assert all(f.client_order_id == o.client_order_id and f.side == "buy" for f in fills)  # type: ignore[union-attr]
        assert {f.trade_id for f in fills} == {str(t["id"]) for t in fake.trades}  # type: ignore[union-attr]
        assert fills[0].commission == Decimal("0.05000010") and fills[0].commission_currency == "USDT"  # type: ignore[union-attr]

    run(scenario)


def test_accepted_updated_and_canceled_orders_are_reported() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        seen = Collector(broker.transactions())
        await asyncio.sleep(0.15)
        o = order("buy", "0.001", type=OrderType.LIMIT, price="10000.00")
        o.venue_order_id = (await broker.submit(o)).venue_order_id
        await until(lambda: bool(seen.of(OrderAccepted)), "the accepted order")
        await broker.replace(o, price=Decimal("10001.00"))
        await until(lambda: bool(seen.of(OrderUpdated)), "the replacement")
        await broker.cancel(o)
        await until(lambda: bool(seen.of(OrderCanceled)), "the cancel")
        await asyncio.sleep(0.2)
        await seen.close()
        accepted, updated = seen.of(OrderAccepted), seen.of(OrderUpdated)
        assert [e.client_order_id for e in accepted] == [o.client_order_id]
        assert updated[0].client_order_id == o.client_order_id and updated[0].price == Decimal("10001.00")  # type: ignore[union-attr]
        assert len(seen.of(OrderCanceled)) == 1  # the replaced member's cancel is not reported as ours
        assert not seen.of(OrderFilled)

    run(scenario)


def test_a_failing_poll_backs_off_then_reports_reconnected_and_loses_no_fill() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        seen = Collector(broker.transactions())
        await asyncio.sleep(0.15)
        fake.fail_next("GET /api/v3/openOrders", 503, times=3)
        fake.fail_next("GET /api/v3/myTrades", 429, retry_after=0.1)
        fake.fail_next("GET /api/v3/myTrades", 200, body="{not json")  # a malformed answer: skipped, retried
        o = order("sell", "0.001")
        fake.free["BTC"] = Decimal("1")
        await broker.submit(o)
        await until(lambda: bool(seen.of(OrderFilled)), "the fill after the outage")
        await seen.close()
        kinds = [type(e) for e in seen.events]
        assert StreamReconnected in kinds and kinds.index(StreamReconnected) < kinds.index(OrderFilled)
        assert kinds.count(StreamInterrupted) == 1  # once, at the first failed poll of the outage
        assert kinds.index(StreamInterrupted) < kinds.index(StreamReconnected)
        assert len(seen.of(OrderFilled)) == 1

    run(scenario)


def test_a_trade_published_late_with_an_earlier_time_is_still_reported_once() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        seen = Collector(broker.transactions())
        await asyncio.sleep(0.15)
        resting = order("buy", "0.001", type=OrderType.LIMIT, price="10000.00")
        venue = int((await broker.submit(resting)).venue_order_id)
        await broker.submit(order("buy", "0.001"))
        await until(lambda: len(seen.of(OrderFilled)) == 1, "the market fill")
        fake.execute(fake.orders[venue], Decimal("0.001"), Decimal("10000.00"), True)  # no await in between:
        fake.trades[-1]["time"] -= 2_000  # the poller only ever sees the back-dated time
        await until(lambda: len(seen.of(OrderFilled)) == 2, "the late trade")
        await asyncio.sleep(0.3)
        await seen.close()
        late = seen.of(OrderFilled)[1]
        assert late.client_order_id == resting.client_order_id and len(seen.of(OrderFilled)) == 2  # type: ignore[union-attr]

    run(scenario)
