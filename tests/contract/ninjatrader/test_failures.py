"""NinjaTrader not processing, rejections, refused input and missing folders: the right error, one sentence."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from tests.contract.broker_contract import make_order
from tests.contract.ninjatrader.conftest import make_config, until
from tests.fakes.ninjatrader_fake import NinjaTraderFake

from traderbot.brokers.base import BrokerEvent, BrokerRejected, BrokerTimeout
from traderbot.brokers.ninjatrader import FolderMissing, NinjaTraderBroker, NinjaTraderConfig
from traderbot.core.messages import OrderRejected
from traderbot.model.enums import OrderStatus, OrderType, TimeInForce
from traderbot.model.order import Order

D = Decimal


def test_ninjatrader_not_processing_times_out_then_the_order_is_found_and_placed_once(
    fake: NinjaTraderFake, tmp_path: Path
) -> None:
    broker = NinjaTraderBroker(make_config(tmp_path, ack_timeout=0.3))
    order = make_order("ES", "buy", D(1))
    oid = order.client_order_id
    fake.pause()

    async def run() -> None:
        with pytest.raises(BrokerTimeout) as first:
            await broker.submit(order)
        assert first.value.outcome_unknown and "look the order up" in str(first.value)
        pending = await broker.order(oid)
        assert pending is not None and pending.status is OrderStatus.SUBMITTED, (
            pending
        )  # never None: no resend
        assert "incoming" in pending.reason
        with pytest.raises(BrokerTimeout):  # a blind retry waits again but writes nothing new
            await broker.submit(order)
        assert len(list(fake.incoming.glob("oif*.txt"))) == 1
        assert [o.client_order_id for o in await broker.open_orders()] == [oid]
        fake.resume()

        async def filled() -> bool:
            seen = await broker.order(oid)
            return seen is not None and seen.status is OrderStatus.FILLED

        await until(filled, what="the order to fill after NinjaTrader resumed")

    asyncio.run(run())
    assert fake.place_counts[oid] == 1
    assert fake.lines == [f"PLACE;Sim101;ES 12-26;BUY;1;MARKET;0;0;GTC;;{oid};;"]


def test_a_rejected_order_raises_broker_rejected_and_is_reported_on_the_stream(
    fake: NinjaTraderFake, broker: NinjaTraderBroker
) -> None:
    fake.reject_next()
    order = make_order("ES", "buy", D(1), type=OrderType.LIMIT, price=D("4999.75"))
    events: list[BrokerEvent] = []

    async def run() -> None:
        stream = broker.transactions()
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(order)
        assert err.value.code == "REJECTED" and "NinjaTrader rejected" in str(err.value)
        events.append(await asyncio.wait_for(stream.__anext__(), 2))
        await stream.aclose()  # type: ignore[attr-defined]
        seen = await broker.order(order.client_order_id)
        assert seen is not None and seen.status is OrderStatus.REJECTED and seen.reason.startswith("REJECTED")

    asyncio.run(run())
    assert isinstance(events[0], OrderRejected) and events[0].reason.startswith("REJECTED:")


def test_a_line_ninjatrader_cannot_take_gets_a_rejected_order_file(
    fake: NinjaTraderFake, tmp_path: Path
) -> None:
    """NQ is mapped in traderbot but NinjaTrader does not know that instrument: NinjaTrader rejects it."""
    broker = NinjaTraderBroker(make_config(tmp_path, instruments={"ES": "ES 12-26", "NQ": "NQ 12-26"}))

    async def run() -> None:
        with pytest.raises(BrokerRejected) as err:
            await broker.submit(make_order("NQ", "sell", D(1)))
        assert err.value.code == "REJECTED"

    asyncio.run(run())
    assert len(fake.malformed) == 1 and fake.malformed[0].startswith("PLACE;Sim101;NQ 12-26;SELL;1;MARKET")


def _order(**changes: object) -> Order:
    order = make_order("ES", "buy", D(1))
    for key, value in changes.items():
        setattr(order, key, value)
    return order


@pytest.mark.parametrize(
    ("order", "code"),
    [
        (_order(quantity=D("1.5")), "INVALID_QUANTITY"),
        (_order(quantity=D(0)), "INVALID_QUANTITY"),
        (_order(quantity=D(-2)), "INVALID_QUANTITY"),
        (_order(instrument_id="CL"), "UNKNOWN_INSTRUMENT"),
        (_order(type=OrderType.LIMIT, price=D("5000.30")), "PRICE_OFF_TICK"),
        (_order(type=OrderType.STOP, trigger_price=D("5000.1")), "PRICE_OFF_TICK"),
        (_order(type=OrderType.LIMIT), "MISSING_PRICE"),
        (_order(type=OrderType.STOP_LIMIT, price=D("5000")), "MISSING_PRICE"),
        (_order(type=OrderType.LIMIT, price=D(-1)), "INVALID_PRICE"),
        (_order(type=OrderType.TRAILING_STOP), "UNSUPPORTED_ORDER_TYPE"),
        (_order(time_in_force=TimeInForce.IOC), "UNSUPPORTED_TIME_IN_FORCE"),
        (_order(reduce_only=True), "UNSUPPORTED_REDUCE_ONLY"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(order: Order, code: str, tmp_path: Path) -> None:
    (tmp_path / "incoming").mkdir()
    (tmp_path / "outgoing").mkdir()
    broker = NinjaTraderBroker(make_config(tmp_path))
    with pytest.raises(BrokerRejected) as err:
        asyncio.run(broker.submit(order))
    assert err.value.code == code
    assert order.client_order_id in str(err.value) and "\n" not in str(err.value)
    assert list((tmp_path / "incoming").iterdir()) == []
    assert asyncio.run(broker.order(order.client_order_id)) is None


@pytest.mark.parametrize("missing", ["incoming", "outgoing"])
def test_a_missing_folder_is_one_clear_sentence(missing: str, tmp_path: Path) -> None:
    for name in {"incoming", "outgoing"} - {missing}:
        (tmp_path / name).mkdir()
    broker = NinjaTraderBroker(make_config(tmp_path))
    with pytest.raises(FolderMissing) as err:
        asyncio.run(broker.connect())
    message = str(err.value)
    assert str(tmp_path / missing) in message and f"NinjaTraderConfig.{missing}_dir" in message
    assert "NINJATRADER_DIR" in message and "\n" not in message
    assert err.value.code == "FOLDER_MISSING"


def test_config_reads_ninjatrader_dir_and_refuses_bad_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NINJATRADER_DIR", str(tmp_path))
    monkeypatch.setenv("NINJATRADER_INSTRUMENTS", "ES=ES 12-26, NQ=NQ 12-26")
    cfg = NinjaTraderConfig.from_env(account="Sim102")
    assert cfg.incoming_dir == tmp_path / "incoming" and cfg.outgoing_dir == tmp_path / "outgoing"
    assert dict(cfg.instruments) == {"ES": "ES 12-26", "NQ": "NQ 12-26"} and cfg.account == "Sim102"
    assert cfg.journal_dir == tmp_path / "traderbot-ati"
    monkeypatch.setenv("NINJATRADER_INSTRUMENTS", "ES")
    with pytest.raises(ValueError, match="NINJATRADER_INSTRUMENTS"):
        NinjaTraderConfig.from_env()
    with pytest.raises(ValueError, match="ack_timeout"):
        NinjaTraderConfig(ack_timeout=0)
    with pytest.raises(ValueError, match="account"):
        NinjaTraderConfig(account="Sim;101")
