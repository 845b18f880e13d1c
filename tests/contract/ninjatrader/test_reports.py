"""Reading NinjaTrader's outgoing files, changes and closes through ATI, and what ATI cannot provide."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from tests.contract.broker_contract import make_order
from tests.contract.ninjatrader.conftest import make_config, until
from tests.fakes.ninjatrader_fake import NinjaTraderFake

from traderbot.brokers.base import BrokerError, BrokerEvent, MalformedMessage
from traderbot.brokers.ninjatrader import NinjaTraderBroker
from traderbot.brokers.ninjatrader.outgoing import (
    match_instrument,
    parse_order_state,
    parse_position,
    position_file_parts,
    read_settled,
)
from traderbot.core.messages import OrderCanceled, OrderUpdated
from traderbot.model.enums import OrderStatus, OrderType

D = Decimal


PARTIAL_OR_BAD = ["", "FILL", "FILLED;1", "FILLED;1;", "FILLED;;5000", "WORKING;x;0", "BOGUS;0;0", "FILLED;0;0",
                  "PARTFILLED;1;0", "FILLED;1.5;5000", "UNKNOWN;0;0", "A;1;2\nB;1;2"]  # fmt: skip


@pytest.mark.parametrize("text", PARTIAL_OR_BAD)
def test_empty_partial_or_unknown_order_state_content_is_malformed(text: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_order_state(text)


def test_order_state_lines_map_to_our_statuses() -> None:
    line = parse_order_state("\ufeffPARTFILLED;2;5000,375\r\n")  # BOM, CRLF and a decimal comma are tolerated
    assert (line.status, line.filled, line.avg_price) == (OrderStatus.PARTIALLY_FILLED, D(2), D("5000.375"))
    expected = {"WORKING": OrderStatus.ACCEPTED, "CANCELLED": OrderStatus.CANCELED, "REJECTED": OrderStatus.REJECTED,
                "CHANGEPENDING": OrderStatus.PENDING_UPDATE, "CANCELPENDING": OrderStatus.PENDING_CANCEL,
                "TRIGGERPENDING": OrderStatus.ACCEPTED, "SUBMITTED": OrderStatus.SUBMITTED}  # fmt: skip
    for state, status in expected.items():
        assert parse_order_state(f"{state};0;0").status is status


def test_position_files_are_named_and_read_as_documented() -> None:
    assert position_file_parts("ES 12-26 Globex_Sim101_Position.txt") == ("ES 12-26 Globex", "Sim101")
    assert position_file_parts("O-T1-S1-1.txt") is None
    assert match_instrument("ES 12-26 Globex", {"ES": "ES 12-26", "ESX": "ES"}) == "ES"
    assert match_instrument("NQ 12-26 Globex", {"ES": "ES 12-26"}) is None
    assert parse_position("SHORT; 2; 5000.25").quantity == D(-2)
    assert parse_position("FLAT;0;0").quantity == 0
    with pytest.raises(MalformedMessage):
        parse_position("LONG;0;5000")


def test_read_settled_waits_out_a_file_being_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "O-1.txt"

    async def run() -> None:
        path.write_text("FILLED;2;50")  # caught half written

        async def finish() -> None:
            await asyncio.sleep(0.015)
            path.write_text("FILLED;2;5001.75")

        writer = asyncio.create_task(finish())
        line = await read_settled(path, parse_order_state, 0.02)
        await writer
        assert line is not None and line.avg_price == D("5001.75")
        assert await read_settled(tmp_path / "absent.txt", parse_order_state, 0.01) is None
        path.write_text("")
        with pytest.raises(MalformedMessage, match="never settled"):
            await read_settled(path, parse_order_state, 0.001, attempts=3)

    asyncio.run(run())


def test_replace_and_cancel_are_confirmed_on_the_stream(
    fake: NinjaTraderFake, broker: NinjaTraderBroker
) -> None:
    order = make_order("ES", "sell", D(2), type=OrderType.LIMIT, price=D("9000"))
    events: list[BrokerEvent] = []

    async def run() -> None:
        stream = broker.transactions()
        await broker.submit(order)
        pending = await broker.replace(order, price=D("8999.75"), quantity=D(3))
        assert pending.status is OrderStatus.PENDING_UPDATE and pending.price == D("8999.75")
        async for ev in stream:
            events.append(ev)
            if isinstance(ev, OrderUpdated):
                break
        now = await broker.order(order.client_order_id)
        assert now is not None and (now.price, now.quantity, now.status) == (
            D("8999.75"),
            D(3),
            OrderStatus.ACCEPTED,
        )
        await broker.cancel(order)
        async for ev in stream:
            events.append(ev)
            if isinstance(ev, OrderCanceled):
                break
        await stream.aclose()  # type: ignore[attr-defined]
        assert await broker.open_orders() == []
        with pytest.raises(BrokerError) as closed:
            await broker.cancel(order)
        assert closed.value.code == "ORDER_CLOSED"

    asyncio.run(run())
    updated = [e for e in events if isinstance(e, OrderUpdated)]
    assert [(u.price, u.quantity) for u in updated] == [(D("8999.75"), D(3))]
    assert fake.orders[order.client_order_id].limit == D("8999.75")


def test_close_position_flattens_through_ninjatrader(
    fake: NinjaTraderFake, broker: NinjaTraderBroker
) -> None:
    async def run() -> None:
        await broker.submit(make_order("ES", "sell", D(2)))

        async def short() -> bool:
            return [(p.instrument_id, p.quantity) for p in await broker.positions()] == [("ES", D(-2))]

        await until(short, what="a short position")
        await broker.close_position("ES")

        async def flat() -> bool:
            return await broker.positions() == []

        await until(flat, what="a flat position")
        assert await broker.connection_states() == {"Simulated Data Feed": True}

    asyncio.run(run())
    assert "CLOSEPOSITION;Sim101;ES 12-26;;;;;;;;;;" in fake.lines


def test_what_ati_cannot_provide_is_said_plainly(fake: NinjaTraderFake, tmp_path: Path) -> None:
    broker = NinjaTraderBroker(make_config(tmp_path, declared_balance=None))

    async def run() -> None:
        with pytest.raises(BrokerError) as no_balance:
            await broker.account()
        assert no_balance.value.code == "UNSUPPORTED" and "declared_balance" in str(no_balance.value)
        with pytest.raises(BrokerError) as no_bars:
            await broker.candles("ES", "M1", 0, 1)
        assert no_bars.value.code == "UNSUPPORTED" and "history_dir" in str(no_bars.value)
        [es] = await broker.instruments()
        assert (es.id, es.tick_size, es.multiplier, es.price_precision) == ("ES", D("0.25"), D(50), 2)

    asyncio.run(run())
    with pytest.raises(BrokerError) as no_prices:
        broker.prices(["ES"])
    assert no_prices.value.code == "UNSUPPORTED"


def test_candles_come_from_ninjatrader_history_exports(fake: NinjaTraderFake, tmp_path: Path) -> None:
    history = tmp_path / "history"
    history.mkdir()
    rows = [
        f"20261201 1{m:03d}00;{5000 + m}.25;{5001 + m}.5;{4999 + m};{5000 + m}.75;{10 + m}"
        for m in range(1, 8)
    ]
    (history / "ES 12-26.Last.txt").write_text(
        "\n".join([*rows, "20261201 100800 0000000;5000;5000;5000;1"]) + "\n"
    )
    broker = NinjaTraderBroker(make_config(tmp_path, history_dir=history))
    start = 1_796_119_200 * 10**9  # 2026-12-01 10:00:00 UTC

    async def run() -> None:
        m1 = await broker.candles("ES", "M1", start, start + 3 * 60 * 10**9)
        assert [(b.ts - start) // 60_000_000_000 for b in m1] == [0, 1, 2]  # stamped at the bar's end
        assert (m1[0].open, m1[0].high, m1[0].low, m1[0].close, m1[0].volume) == (
            5001.25,
            5002.5,
            5000,
            5001.75,
            11,
        )
        m5 = await broker.candles("ES", "M5", start, start + 3600 * 10**9)
        assert len(m5) == 1  # 10:05-10:10 holds only two minutes: incomplete, not returned
        assert (m5[0].ts, m5[0].ts_close, m5[0].open, m5[0].close, m5[0].volume) == (
            start,
            start + 300 * 10**9,
            5001.25,
            5005.75,
            11 + 12 + 13 + 14 + 15,
        )

    asyncio.run(run())
