"""Streams: heartbeats, malformed lines, stalls and drops, OANDA's connection limit, transaction gap recovery."""

from __future__ import annotations

import asyncio
import itertools
import logging
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.contract.broker_contract import make_order
from tests.contract.oanda.support import eventually, run
from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerEvent,
    BrokerUnavailable,
    PriceTick,
    StreamInterrupted,
    StreamReconnected,
)
from traderbot.brokers.credentials import Secret
from traderbot.brokers.oanda import OandaBroker
from traderbot.core.messages import OrderAccepted, OrderCanceled, OrderFilled, OrderUpdated
from traderbot.model.enums import OrderType


def test_price_stream_consumes_heartbeats_skips_bad_lines_and_reconnects_after_stall_and_reset(
    fake: OandaFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="traderbot.brokers.oanda")
    ticks: list[PriceTick] = []

    async def body(broker: OandaBroker) -> None:
        async def consume() -> None:
            async for tick in broker.prices(["EURUSD", "USDJPY"]):
                ticks.append(tick)

        task = asyncio.create_task(consume())
        await eventually(lambda: len(ticks) == 2, what="the snapshot")
        assert {t.instrument_id for t in ticks} == {"EURUSD", "USDJPY"}
        await asyncio.sleep(1.0)  # > stall_timeout 0.6 s: only heartbeats (every 0.2 s) arrive meanwhile
        assert len(ticks) == 2 and fake.route_count("pricing.stream") == 1
        fake.stream_control("pricing", "line", '{"type": "PRICE", "instrument": "EUR_USD", "bids": [')
        fake.stream_control("pricing", "line", '{"type": "PRICE", "instrument": "EUR_USD", "time": "1.0"}')
        fake.set_price("EURUSD", "1.09001", "1.09015")
        await eventually(lambda: len(ticks) == 3, what="the new price")
        assert (ticks[2].instrument_id, ticks[2].bid, ticks[2].ask) == (
            "EURUSD",
            Decimal("1.09001"),
            Decimal("1.09015"),
        )

        fake.stream_control("pricing", "stall")  # the connection stays open but goes silent
        await eventually(lambda: fake.route_count("pricing.stream") == 2, what="a reconnect after the stall")
        await eventually(lambda: len(ticks) == 5, what="the snapshot after reconnecting")
        fake.stream_control("pricing", "reset")  # abort the TCP connection
        await eventually(lambda: fake.route_count("pricing.stream") == 3, what="a reconnect after the reset")
        await eventually(lambda: len(ticks) == 7, what="the second snapshot")
        fake.set_price("USDJPY", "151.000", "151.020")
        await eventually(lambda: ticks[-1].bid == Decimal("151.000"), what="a live price after reconnecting")
        task.cancel()

    run(fake, body)
    text = caplog.text
    assert text.count("malformed line, skipped") == 1 and "has no bids or asks" in text
    assert "stalled: no line for 0.6 s" in text


def test_stream_reconnects_respect_two_new_connections_per_second_then_give_up(fake: OandaFake) -> None:
    fake.stream_control("pricing", "block")  # every connection attempt gets a 503

    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerUnavailable, match="failed 3 times in a row"):
            async for _ in broker.prices(["EURUSD"]):
                pass

    run(fake, body, connect=False, reconnect_backoff=0.001, max_reconnects=2)
    times = [seen.at for seen in fake.seen("pricing.stream")]
    assert len(times) == 3
    assert all(b - a >= 0.45 for a, b in itertools.pairwise(times)), times


def test_stream_with_a_refused_token_raises_auth_error_at_once(fake: OandaFake) -> None:
    async def body(broker: OandaBroker) -> None:
        with pytest.raises(BrokerAuthError, match="401"):
            async for _ in broker.prices(["EURUSD"]):
                pass

    run(fake, body, connect=False, token=Secret("wrong-token"))
    assert fake.route_count("pricing.stream") == 1


def test_transaction_stream_replays_what_it_missed_once_then_says_it_reconnected(
    fake: OandaFake, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[BrokerEvent] = []

    async def body(broker: OandaBroker) -> None:
        async def consume() -> None:
            async for ev in broker.transactions():
                events.append(ev)

        task = asyncio.create_task(consume())
        await eventually(lambda: fake.open_streams("transactions") == 1, what="the stream")
        fake.stream_control("transactions", "line", "{not json")
        a = make_order("EURUSD", "buy", Decimal(10))
        await broker.submit(a)
        await eventually(lambda: any(isinstance(e, OrderFilled) for e in events), what="the first fill")
        handled = fake.book.last_id

        fake.stream_control("transactions", "block")  # reconnects fail until unblocked
        fake.stream_control("transactions", "drop")
        await eventually(lambda: any(isinstance(e, StreamInterrupted) for e in events), what="the outage")
        await eventually(lambda: fake.route_count("transactions.stream") >= 2, what="a reconnect attempt")
        b = make_order("EURUSD", "sell", Decimal(4))
        await broker.submit(b)  # both happen while the stream is down
        c = make_order("EURUSD", "buy", Decimal(3), type=OrderType.LIMIT, price=Decimal("0.9"))
        await broker.submit(c)
        await broker.cancel(c)
        fake.stream_control("transactions", "unblock")
        await eventually(lambda: any(isinstance(e, StreamReconnected) for e in events), what="the reconnect")
        d = make_order("EURUSD", "buy", Decimal(1))
        await broker.submit(d)
        await eventually(lambda: len([e for e in events if isinstance(e, OrderFilled)]) == 3, what="d's fill")
        task.cancel()

        kinds = [(type(e).__name__, getattr(e, "client_order_id", "")) for e in events]
        assert kinds == [
            ("OrderAccepted", a.client_order_id), ("OrderFilled", a.client_order_id),
            ("StreamInterrupted", ""),  # at the drop, before the (blocked) reconnect attempts
            ("OrderAccepted", b.client_order_id), ("OrderFilled", b.client_order_id),
            ("OrderAccepted", c.client_order_id), ("OrderCanceled", c.client_order_id),
            ("StreamReconnected", ""),
            ("OrderAccepted", d.client_order_id), ("OrderFilled", d.client_order_id),
        ]  # fmt: skip
        replay = [parse_qs(urlsplit(s.path).query)["id"] for s in fake.seen("transactions.sinceid")]
        assert [handled] in replay  # the replay asked for everything after the last transaction handled
        fill_b = next(
            e for e in events if isinstance(e, OrderFilled) and e.client_order_id == b.client_order_id
        )
        assert (fill_b.side, fill_b.quantity, fill_b.price, fill_b.instrument_id) == (
            "sell", Decimal(4), Decimal("1.08500"), "EURUSD",
        )  # fmt: skip
        assert fill_b.venue_order_id and fill_b.trade_id and fill_b.commission_currency == "USD"
        cancel_c = next(e for e in events if isinstance(e, OrderCanceled))
        assert (cancel_c.reason, cancel_c.instrument_id) == ("CLIENT_REQUEST", "EURUSD")
        accepted = [e for e in events if isinstance(e, OrderAccepted)]
        assert len({e.venue_order_id for e in accepted}) == 4

    run(fake, body)
    assert "malformed line, skipped" in caplog.text


def test_heartbeat_ahead_of_the_stream_triggers_a_replay_and_late_lines_are_not_repeated(
    fake: OandaFake, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[BrokerEvent] = []

    async def body(broker: OandaBroker) -> None:
        async def consume() -> None:
            async for ev in broker.transactions():
                events.append(ev)

        task = asyncio.create_task(consume())
        await eventually(lambda: fake.open_streams("transactions") == 1, what="the stream")
        fake.stream_control(
            "transactions", "hold"
        )  # lines are held back; heartbeats still report the last id
        a = make_order("EURUSD", "buy", Decimal(2))
        await broker.submit(a)
        await eventually(lambda: any(isinstance(e, OrderFilled) for e in events), what="the replayed fill")
        fake.stream_control("transactions", "release")  # the same transactions now arrive on the stream
        b = make_order("EURUSD", "sell", Decimal(2))
        await broker.submit(b)
        await eventually(lambda: len([e for e in events if isinstance(e, OrderFilled)]) == 2, what="b's fill")
        task.cancel()

    run(fake, body)
    names = [(type(e).__name__, getattr(e, "client_order_id", "")) for e in events]
    assert names == [("OrderAccepted", names[0][1]), ("OrderFilled", names[0][1]),
                     ("OrderAccepted", names[2][1]), ("OrderFilled", names[2][1])]  # fmt: skip
    assert names[0][1] != names[2][1]
    assert "heartbeat at transaction" in caplog.text
    assert fake.route_count("transactions.stream") == 1  # recovered without reconnecting


def test_a_replace_streams_as_one_update_and_a_client_cancel_as_canceled(fake: OandaFake) -> None:
    events: list[BrokerEvent] = []

    async def body(broker: OandaBroker) -> None:
        async def consume() -> None:
            async for ev in broker.transactions():
                events.append(ev)

        task = asyncio.create_task(consume())
        await eventually(lambda: fake.open_streams("transactions") == 1, what="the stream")
        order = make_order("EURUSD", "sell", Decimal(8), type=OrderType.LIMIT, price=Decimal("1.2"))
        order.venue_order_id = (await broker.submit(order)).venue_order_id
        new = await broker.replace(order, price=Decimal("1.25"))
        order.venue_order_id = new.venue_order_id
        await broker.cancel(order)
        await eventually(lambda: any(isinstance(e, OrderCanceled) for e in events), what="the cancel")
        task.cancel()

    run(fake, body)
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "OrderUpdated", "OrderCanceled"]
    update = events[1]
    assert isinstance(update, OrderUpdated) and update.price == Decimal("1.25000") and update.quantity == 8
    assert {getattr(e, "client_order_id", "") for e in events} == {events[0].client_order_id}
