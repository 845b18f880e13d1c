"""Fills derived from NinjaTrader's order state files: exact increments, once, across restarts and slow writes."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from tests.contract.broker_contract import make_order
from tests.contract.ninjatrader.conftest import ES, make_config, until
from tests.fakes.ninjatrader_fake import NinjaTraderFake

from traderbot.brokers.base import BrokerEvent, StreamReconnected
from traderbot.brokers.ninjatrader import NinjaTraderBroker
from traderbot.brokers.ninjatrader.tracker import fill_price
from traderbot.core.messages import OrderAccepted, OrderFilled
from traderbot.model.enums import OrderStatus, OrderType

D = Decimal


async def _filled(broker: NinjaTraderBroker, client_order_id: str, qty: int) -> None:
    async def check() -> bool:
        seen = await broker.order(client_order_id)
        return seen is not None and seen.filled_qty == qty

    await until(check, what=f"{client_order_id} filled {qty}")


def test_partial_fills_become_exact_incremental_fills(
    fake: NinjaTraderFake, broker: NinjaTraderBroker
) -> None:
    fake.partial_fill_qty = 1
    order = make_order("ES", "buy", D(3))
    events: list[BrokerEvent] = []

    async def run() -> None:
        stream = broker.transactions()
        ack = await broker.submit(order)
        assert ack.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED), ack
        await _filled(broker, order.client_order_id, 1)
        fake.fill_rest(order.client_order_id, D("5000.50"), qty=1)
        await _filled(broker, order.client_order_id, 2)
        fake.fill_rest(order.client_order_id, D("5001.00"))
        await _filled(broker, order.client_order_id, 3)
        async for ev in stream:
            events.append(ev)
            if isinstance(ev, OrderFilled) and ev.trade_id.endswith(":3"):
                break
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(run())
    oid = order.client_order_id
    assert fake.place_counts[oid] == 1
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert [(f.trade_id, f.quantity, f.price, f.side) for f in fills] == [
        (f"{oid}:1", 1, D("5000.25"), "buy"),
        (f"{oid}:2", 1, D("5000.50"), "buy"),
        (f"{oid}:3", 1, D("5001.00"), "buy"),
    ]
    assert isinstance(events[0], OrderAccepted) and events[0].venue_order_id == oid
    # the third average was printed as a double (5000.58333333333) and still gives the exact last price
    assert (fake.outgoing / f"{oid}.txt").read_text() == "FILLED;3;5000.58333333333"


def test_fill_price_is_exact_and_increments_spanning_two_executions_keep_their_average() -> None:
    assert fill_price(D(0), D(0), D(2), D("5000.25"), D("0.25")) == D("5000.25")
    assert fill_price(D(2), D("5000.375"), D(3), D("5000.58333333333"), D("0.25")) == D("5001.00")
    # two executions (5000.25 and 5000.50) seen as one increment: their average, not a tick
    assert fill_price(D(1), D("5000"), D(3), D("5000.25"), D("0.25")) == D("5000.375")


def test_rereading_the_outgoing_folder_after_a_restart_never_duplicates_fills(
    fake: NinjaTraderFake, tmp_path: Path
) -> None:
    fake.partial_fill_qty = 1
    order = make_order("ES", "sell", D(3))
    oid = order.client_order_id
    cfg = make_config(tmp_path)

    async def first_life() -> None:
        broker = NinjaTraderBroker(cfg)
        await broker.submit(order)
        await _filled(broker, oid, 1)
        await broker.close()

    async def second_life() -> list[BrokerEvent]:
        broker = NinjaTraderBroker(cfg)  # a restart: new objects, same folders and journal
        stream = broker.transactions()
        assert [f.trade_id for f in await broker.fills()] == [f"{oid}:1"]
        fake.fill_rest(oid, D("5000.75"))  # happens while traderbot watches again
        got: list[BrokerEvent] = []
        async for ev in stream:
            got.append(ev)
            if isinstance(ev, OrderFilled):
                break
        await stream.aclose()  # type: ignore[attr-defined]
        return got

    async def third_life() -> list[tuple[str, Decimal, Decimal]]:
        broker = NinjaTraderBroker(cfg)
        stream = broker.transactions()
        extra = await asyncio.wait_for(_drain(stream), 0.3)
        assert extra == [], extra
        before_close = await broker.fills()
        await broker.close()  # reconnecting replays the journal again: still no duplicates
        assert await broker.fills() == before_close
        return [(f.trade_id, f.quantity, f.price) for f in before_close]

    asyncio.run(first_life())
    got = asyncio.run(second_life())
    fills = [e for e in got if isinstance(e, OrderFilled)]
    assert [(f.trade_id, f.quantity, f.price) for f in fills] == [(f"{oid}:3", D(2), D("5000.75"))]
    assert not any(isinstance(e, OrderAccepted) for e in got)  # already reported in the first life
    assert asyncio.run(third_life()) == [(f"{oid}:1", D(1), D("5000.25")), (f"{oid}:3", D(2), D("5000.75"))]
    assert fake.place_counts[oid] == 1


async def _drain(stream: object) -> list[BrokerEvent]:
    got: list[BrokerEvent] = []
    try:
        while True:
            got.append(await asyncio.wait_for(stream.__anext__(), 0.25))  # type: ignore[attr-defined]
    except TimeoutError:
        return got


def test_fills_missed_while_traderbot_was_down_are_reported_once_on_restart(
    fake: NinjaTraderFake, tmp_path: Path
) -> None:
    fake.partial_fill_qty = 1
    order = make_order("ES", "buy", D(2))
    oid = order.client_order_id
    cfg = make_config(tmp_path)

    async def before() -> None:
        broker = NinjaTraderBroker(cfg)
        await broker.submit(order)
        await _filled(broker, oid, 1)

    async def after() -> list[BrokerEvent]:
        broker = NinjaTraderBroker(cfg)
        stream = broker.transactions()
        got = await _drain(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        return got

    asyncio.run(before())
    fake.fill_rest(oid, D("5002"))  # nobody watching
    got = asyncio.run(after())
    assert [(e.trade_id, e.quantity, e.price) for e in got if isinstance(e, OrderFilled)] == [
        (f"{oid}:2", D(1), D("5002"))
    ]


def test_files_written_in_two_slow_chunks_are_never_read_half_written(
    fake: NinjaTraderFake, tmp_path: Path
) -> None:
    fake.chunk_pause = 0.01  # shorter than the adapter's settle time (0.02 s in these tests)
    fake.partial_fill_qty = 1
    broker = NinjaTraderBroker(make_config(tmp_path, settle_time=0.03))
    order = make_order("ES", "buy", D(2))
    oid = order.client_order_id

    async def run() -> list[tuple[Decimal, Decimal]]:
        await broker.submit(order)
        await _filled(broker, oid, 1)
        fake.fill_rest(oid, D("5003.25"))
        await _filled(broker, oid, 2)
        positions = await broker.positions()
        assert [(p.instrument_id, p.quantity, p.avg_price) for p in positions] == [("ES", D(2), D("5001.75"))]
        return [(f.quantity, f.price) for f in await broker.fills()]

    assert asyncio.run(run()) == [(D(1), D("5000.25")), (D(1), D("5003.25"))]
    assert (fake.outgoing / f"{ES} Globex_Sim101_Position.txt").read_text() == "LONG;2;5001.75"


def test_a_ninjatrader_restart_that_empties_outgoing_is_reported_for_reconciliation(
    fake: NinjaTraderFake, broker: NinjaTraderBroker
) -> None:
    order = make_order("ES", "buy", D(1), type=OrderType.LIMIT, price=D("1000"))

    async def run() -> None:
        stream = broker.transactions()
        await broker.submit(order)
        for path in fake.outgoing.iterdir():  # NinjaTrader deletes the folder's contents when it restarts
            path.unlink()
        got = await _drain(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        assert [type(e) for e in got] == [OrderAccepted, StreamReconnected]
        assert "restarted" in got[1].reason
        last = await broker.order(order.client_order_id)
        assert last is not None and last.status is OrderStatus.ACCEPTED and "no longer" in last.reason

    asyncio.run(run())
