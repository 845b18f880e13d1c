"""The trade-updates and quote websockets against the fake: partial fills, drops, stalls, bad frames."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from tests.contract.alpaca.harness import order, run, until
from tests.fakes.alpaca_fake import AlpacaFake

from traderbot.brokers.alpaca import AlpacaBroker
from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerEvent,
    BrokerUnavailable,
    PriceTick,
    StreamInterrupted,
    StreamReconnected,
)
from traderbot.brokers.credentials import Secret
from traderbot.core.messages import OrderAccepted, OrderCanceled, OrderFilled, OrderUpdated
from traderbot.model.enums import OrderType


class Collector:
    """Consumes an async iterator in a task and keeps what it yields (or the error that ended it)."""

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self.source = source
        self.items: list[Any] = []
        self.error: Exception | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for item in self.source:
                self.items.append(item)
        except Exception as exc:
            self.error = exc

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.items if isinstance(e, kind)]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.source.aclose()  # type: ignore[attr-defined]


async def listening(fake: AlpacaFake, broker: AlpacaBroker) -> Collector:
    events = Collector(broker.transactions())
    await until(lambda: fake.stream_connections == 1, "the stream to listen")
    return events


def test_partial_fills_arrive_as_partial_fill_events_with_their_increments() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        events = await listening(fake, broker)
        fake.partial_fill_next(Decimal("3"))
        buy = order("buy", "10")
        ack = await broker.submit(buy)
        await until(lambda: len(events.of(OrderFilled)) == 1, "the partial fill")
        fake.fill_rest(buy.client_order_id, Decimal("190.50"))
        await until(lambda: len(events.of(OrderFilled)) == 2, "the rest")
        accepted, (first, rest) = events.of(OrderAccepted), events.of(OrderFilled)
        assert [a.venue_order_id for a in accepted] == [ack.venue_order_id]
        assert (first.quantity, first.price, rest.quantity, rest.price) == (
            Decimal("3"),
            Decimal("190.00"),
            Decimal("7"),
            Decimal("190.50"),
        )
        assert first.client_order_id == rest.client_order_id == buy.client_order_id and first.side == "buy"
        assert first.trade_id != rest.trade_id and first.strategy_id == ""
        sent = fake.hub.sent
        assert [u["event"] for u in sent] == ["new", "partial_fill", "fill"]
        assert [u["qty"] for u in sent[1:]] == ["3", "7"] and sent[2]["position_qty"] == "10"
        # the same executions, from account activities, carry the same trade ids (no double counting)
        fills = await broker.fills()
        assert [(f.trade_id, f.quantity) for f in fills] == [(first.trade_id, 3), (rest.trade_id, 7)]
        done = await broker.order(buy.client_order_id)
        assert done is not None and done.filled_qty == 10 and done.avg_price == Decimal("190.35")
        await events.close()

    run(scenario)


def test_dropped_stream_reconnects_and_says_so_then_events_flow_again() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        events = await listening(fake, broker)
        fake.drop_stream()
        await until(lambda: bool(events.of(StreamReconnected)), "StreamReconnected")
        (note,) = events.of(StreamReconnected)
        assert note.broker == "alpaca" and "no close frame" in note.reason
        (lost,) = events.of(StreamInterrupted)  # said first, when the connection went
        assert events.items.index(lost) < events.items.index(note) and "no close frame" in lost.reason
        await until(lambda: fake.stream_connections == 1, "the new connection")
        buy = order()
        await broker.submit(buy)
        await until(lambda: bool(events.of(OrderFilled)), "a fill after the reconnect")
        assert events.items.index(note) < events.items.index(events.of(OrderFilled)[0])
        await events.close()

    run(scenario)


def test_stalled_stream_is_found_by_ping_and_reconnected() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        events = await listening(fake, broker)
        fake.stall_stream()  # no pongs, no messages: a hung server
        await until(lambda: bool(events.of(StreamReconnected)), "StreamReconnected after the stall", 4)
        assert "keepalive ping timeout" in events.of(StreamReconnected)[0].reason
        await until(lambda: fake.stream_connections == 1, "the new connection")
        await broker.submit(order("sell", "1"))
        await until(lambda: bool(events.of(OrderFilled)), "a fill on the new connection")
        await events.close()

    run(scenario)


def test_malformed_messages_are_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "traderbot.brokers.alpaca")

    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        events = await listening(fake, broker)
        fake.send_stream_raw(b"{not json")
        fake.send_stream_raw('{"stream": "trade_updates", "data": {"event": "fill"}}')  # no order
        fake.send_stream_raw(b'{"stream": "trade_updates", "data": {"event": "fill", "order": {"id": "x"}}}')
        buy = order()
        await broker.submit(buy)
        await until(lambda: bool(events.of(OrderFilled)), "the good fill after the bad frames")
        assert events.error is None and not events.of(StreamReconnected)
        assert [type(e) for e in events.items] == [OrderAccepted, OrderFilled]
        assert caplog.text.count("malformed") >= 3
        await events.close()

    run(scenario)


def test_text_frames_are_read_as_well_as_binary_ones() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        fake.hub.binary = False
        events = await listening(fake, broker)
        rest = order("buy", "1", OrderType.LIMIT, price="100.00")
        await broker.submit(rest)
        await broker.replace(rest, price=Decimal("101.00"))
        await broker.cancel(rest)
        await until(lambda: bool(events.of(OrderCanceled)), "the cancel")
        updated = [e for e in events.of(OrderUpdated) if e.price is not None]
        assert (
            updated
            and updated[0].price == Decimal("101.00")
            and updated[0].client_order_id == rest.client_order_id
        )
        assert len(events.of(OrderAccepted)) == 1  # the replacement going live is an update, not a new order
        await events.close()

    run(scenario)


def test_stream_login_refused_ends_the_stream_with_auth_error() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        stream: AsyncIterator[BrokerEvent] = broker.transactions()
        with pytest.raises(BrokerAuthError) as err:
            await anext(stream)
        assert "APCA_API_KEY_ID" in str(err.value)

    run(scenario, secret_key=Secret("wrong"))


def test_unreachable_stream_gives_up_after_max_reconnects() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        with pytest.raises(BrokerUnavailable) as err:
            await anext(broker.transactions())
        assert "gave up after 3" in str(err.value)

    run(scenario, stream_url="ws://127.0.0.1:9/stream", max_reconnects=2)


def test_quote_stream_gives_exact_top_of_book() -> None:
    async def scenario(fake: AlpacaFake, broker: AlpacaBroker) -> None:
        ticks = Collector(broker.prices(["AAPL"]))
        await until(
            lambda: any(c.kind == "quote" and c.listening for c in fake.hub.conns), "the subscription"
        )
        fake.set_price("AAPL", Decimal("191.37"))
        fake.set_price("MSFT", Decimal("400.00"))  # not subscribed
        await until(lambda: bool(ticks.items), "a quote")
        (tick,) = ticks.items
        assert isinstance(tick, PriceTick) and tick.instrument_id == "AAPL"
        assert (tick.bid, tick.ask) == (Decimal("191.36"), Decimal("191.38")) and tick.ts > 0
        await ticks.close()

    run(scenario)
